/**
 * Stage `authorize`: object-level authorization (API1 BOLA, ASVS 4.2.1), after validation so that
 * ids are read from the parsed, validated request. Every id of a kind declared under
 * `apis[].authorization.objects`, wherever the operation can carry it (path, query, JSON body),
 * must belong to the subject the caller's credential acts for. Default deny:
 *
 * - a caller that acts for no subject (an anonymous call, a key without subject) touching an
 *   owned object is denied, unless it holds one of `anyObjectScopes` (a support desk), which is
 *   then recorded on the decision record;
 * - an id whose owner is another subject, or that has no owner (no such object), is denied:
 *   403 RAMPART_OBJECT_FORBIDDEN, or 404 RAMPART_OBJECT_NOT_FOUND under `denyAs: not-found`, the
 *   same answer in both cases so that the status is no oracle for existence;
 * - a lookup that fails is 503 RAMPART_AUTHZ_UNAVAILABLE (fail closed).
 *
 * The denial's record names the object and the owner that was resolved (personal: the private
 * part, see ../gateway/records.ts). Warm requests run synchronously from the owner cache.
 */
import type { AuthorizationConfig } from '../config/types.js';
import type { Denial, RequestContext } from '../core/context.js';
import { ConfigError, type ConfigIssue } from '../core/errors.js';
import { deny, type Stage } from '../core/stage.js';
import type { ApiRuntime, GatewayRuntime } from '../gateway/runtime.js';
import type { OperationModel } from '../openapi/types.js';
import { appliesTo, collectIds, parseLocation, type IdLocation } from '../authz/locations.js';
import { tableOwners, upstreamOwners, type OwnerResolver } from '../authz/owners.js';
import type { UpstreamIdentity } from '../identity/upstream-identity.js';

interface Kind {
  name: string;
  locations: IdLocation[];
  owners: OwnerResolver;
}

interface ApiPlan {
  cfg: AuthorizationConfig;
  /** anyObjectScopes, qualified by the API's name when several APIs are configured (as all scopes are). */
  anyObjectScopes: string[];
  kinds: Kind[];
  /** Per operation: the kinds and locations that apply to it (empty: nothing to check). */
  byOp: Map<OperationModel, { kind: Kind; locations: IdLocation[] }[]>;
}

/**
 * Builds the stage for a configuration version. Throws ConfigError when a location names a
 * parameter that no operation of the API declares (a typo would protect nothing, silently).
 */
export function createAuthorizeStage(rt: Pick<GatewayRuntime, 'apis'>, identity?: UpstreamIdentity): Stage {
  const plans = new Map<ApiRuntime, ApiPlan>();
  const issues: ConfigIssue[] = [];
  for (const api of rt.apis) {
    const cfg = api.config.authorization;
    if (!cfg) continue;
    const kinds: Kind[] = [];
    for (const [name, k] of Object.entries(cfg.objects)) {
      const at = `/apis/${api.name}/authorization/objects/${name}`;
      const locations: IdLocation[] = [];
      for (const text of k.in) {
        let loc: IdLocation;
        try {
          loc = parseLocation(text);
        } catch (err) {
          issues.push({ file: 'rampart.yaml', pointer: `${at}/in`, message: (err as Error).message });
          continue;
        }
        if (loc.where !== 'body' && !api.model.operations.some((op) => appliesTo(loc, op))) {
          issues.push({ file: 'rampart.yaml', pointer: `${at}/in`, message: `no operation of API '${api.name}' declares a ${loc.where} parameter '${loc.name}'` });
          continue;
        }
        locations.push(loc);
      }
      let owners: OwnerResolver;
      try {
        owners =
          'table' in k.owner
            ? tableOwners(k.owner.table)
            : upstreamOwners(api.upstream, {
                ...k.owner.lookup,
                cacheSeconds: k.cacheSeconds,
                timeoutMs: api.config.upstream.timeoutMs,
                ...(identity ? { identify: () => ({ [identity.header]: identity.forService(api.name) }) } : {}),
              });
      } catch (err) {
        issues.push({ file: 'rampart.yaml', pointer: `${at}/owner`, message: (err as Error).message });
        continue;
      }
      kinds.push({ name, locations, owners });
    }
    const qualify = rt.apis.length > 1;
    const anyObjectScopes = cfg.anyObjectScopes.map((x) => (qualify && !x.startsWith(`${api.name}:`) ? `${api.name}:${x}` : x));
    plans.set(api, { cfg, anyObjectScopes, kinds, byOp: new Map() });
  }
  if (issues.length > 0) throw new ConfigError(issues);

  function planFor(api: ApiRuntime, op: OperationModel): { plan: ApiPlan; checks: { kind: Kind; locations: IdLocation[] }[] } | undefined {
    const plan = plans.get(api);
    if (!plan) return undefined;
    let checks = plan.byOp.get(op);
    if (!checks) {
      checks = [];
      for (const kind of plan.kinds) {
        const locations = kind.locations.filter((l) => appliesTo(l, op));
        if (locations.length > 0) checks.push({ kind, locations });
      }
      plan.byOp.set(op, checks);
    }
    return checks.length > 0 ? { plan, checks } : undefined;
  }

  return {
    name: 'authorize',
    run(ctx) {
      const p = planFor(ctx.api!, ctx.operation!);
      if (!p) return undefined;
      const { plan, checks } = p;
      // Every (kind, id) the request names, once each.
      const found: { kind: Kind; id: string }[] = [];
      const seen = new Set<string>();
      const ids: string[] = [];
      for (const { kind, locations } of checks) {
        ids.length = 0;
        for (const loc of locations) collectIds(loc, ctx, ids);
        for (const id of ids) {
          const key = `${kind.name}\u0000${id}`;
          if (seen.has(key)) continue;
          seen.add(key);
          found.push({ kind, id });
        }
      }
      if (found.length === 0) return undefined;
      // For the anomaly model (enumeration sweeps, API1); bounded like everything per request.
      ctx.objectIds = found.slice(0, 64).map((f) => `${f.kind.name}:${f.id}`);

      if (found.length > plan.cfg.maxObjects) return deny('RAMPART_AUTHZ_TOO_MANY_OBJECTS');
      const principal = ctx.principal!;
      for (const s of plan.anyObjectScopes) {
        if (principal.scopes.has(s)) {
          ctx.authz = { anyObjectScope: s };
          return undefined;
        }
      }
      const subject = principal.authMethod === 'none' ? undefined : principal.subject;
      const now = Date.now();
      const misses: { kind: Kind; id: string }[] = [];
      for (const f of found) {
        const owner = f.kind.owners.cached(f.id, now);
        if (owner === undefined) {
          misses.push(f);
          continue;
        }
        const d = decide(ctx, plan.cfg, f.kind.name, f.id, owner, subject);
        if (d) return d;
      }
      if (misses.length === 0) return undefined;
      return (async (): Promise<Denial | undefined> => {
        let owners: (string | null)[];
        try {
          owners = await Promise.all(misses.map((m) => m.kind.owners.resolve(m.id)));
        } catch (err) {
          return deny('RAMPART_AUTHZ_UNAVAILABLE', { headers: { 'retry-after': '5' }, cause: err });
        }
        for (let i = 0; i < misses.length; i++) {
          const d = decide(ctx, plan.cfg, misses[i]!.kind.name, misses[i]!.id, owners[i]!, subject);
          if (d) return d;
        }
        return undefined;
      })();
    },
  };
}

function decide(ctx: RequestContext, cfg: AuthorizationConfig, kind: string, objectId: string, owner: string | null, subject: string | undefined): Denial | undefined {
  if (subject !== undefined && owner === subject) return undefined;
  ctx.authz = owner === null ? { kind, objectId } : { kind, objectId, owner };
  // A non-personal sub-reason for the record; the id and the owner go to the private part.
  const cause = `${subject === undefined ? 'no-subject' : owner === null ? 'no-such-object' : 'other-owner'}:${kind}`;
  return deny(cfg.denyAs === 'not-found' ? 'RAMPART_OBJECT_NOT_FOUND' : 'RAMPART_OBJECT_FORBIDDEN', { cause });
}
