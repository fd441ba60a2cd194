/**
 * Stage `route`: only operations in the OpenAPI inventory exist (API9). Unknown path: 404;
 * known path with another method: 405 with Allow. Nothing unknown reaches the upstream.
 */
import { deny, type Stage } from '../core/stage.js';
import type { GatewayRuntime } from '../gateway/runtime.js';

export function createRouteStage(rt: Pick<GatewayRuntime, 'matchApi'>): Stage {
  return {
    name: 'route',
    run(ctx) {
      const hit = rt.matchApi(ctx.req.headers.host, ctx.path);
      if (!hit) return deny('RAMPART_ROUTE_NOT_FOUND');
      ctx.api = hit.api;
      ctx.apiPath = hit.apiPath;
      const m = hit.api.model.match(ctx.method, hit.apiPath);
      if (m.kind === 'not-found') return deny('RAMPART_ROUTE_NOT_FOUND');
      if (m.kind === 'method-not-allowed') return deny('RAMPART_METHOD_NOT_ALLOWED', { headers: { allow: m.allowed.join(', ') } });
      ctx.operation = m.operation;
      ctx.pathParams = m.pathParams;
      return undefined;
    },
  };
}
