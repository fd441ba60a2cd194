/**
 * Stage `scope`: function-level authorization (API5) before validation, so that a caller
 * without the scope learns nothing about the schema. The operation's `security` alternatives
 * are OR-ed; the scopes within one alternative are AND-ed (OpenAPI 3.x Security Requirement
 * Object). Config can replace or add scopes per operationId. Default deny: a secured operation
 * whose requirement names no scope still needs a valid credential (checked by authenticate).
 */
import type { ApiConfig } from '../config/types.js';
import { deny, type Stage } from '../core/stage.js';
import type { OperationModel } from '../openapi/types.js';

export function requiredScopes(op: OperationModel, api: Pick<ApiConfig, 'operations' | 'name'>, qualify: boolean): string[][] {
  const o = api.operations[op.id];
  const q = (s: string) => (qualify && !s.startsWith(`${api.name}:`) ? `${api.name}:${s}` : s);
  if (o?.scopes) return [o.scopes.map(q)];
  const add = (o?.addScopes ?? []).map(q);
  if (op.security.length === 0) return add.length > 0 ? [add] : [];
  return op.security.map((alt) => [...new Set([...alt.scopes, ...add])]);
}

export function createScopeStage(qualify: boolean): Stage {
  const cache = new WeakMap<OperationModel, string[][]>();
  return {
    name: 'scope',
    run(ctx) {
      const op = ctx.operation!;
      let alts = cache.get(op);
      if (!alts) {
        alts = requiredScopes(op, ctx.api!.config, qualify);
        cache.set(op, alts);
      }
      if (alts.length === 0) return undefined;
      const held = ctx.principal!.scopes;
      for (const alt of alts) {
        let ok = true;
        for (const s of alt) {
          if (!held.has(s)) {
            ok = false;
            break;
          }
        }
        if (ok) return undefined;
      }
      // RFC 6750 §3.1: insufficient_scope names the scope needed (the first alternative).
      return deny('RAMPART_SCOPE_MISSING', {
        headers: { 'www-authenticate': `Bearer realm="rampart", error="insufficient_scope", scope="${alts[0]!.join(' ')}"` },
      });
    },
  };
}
