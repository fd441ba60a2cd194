/**
 * CORS only for configured origins (API8, ASVS 14.5.3): exact matches, never `*` or `null`, no
 * credentials mode (Rampart credentials are bearer tokens a browser does not attach by itself).
 * Preflights for a declared operation are answered here (and recorded); anything else falls
 * through to the pipeline, which refuses undeclared methods.
 */
import type { RequestContext } from '../core/context.js';
import { channels } from '../core/diagnostics.js';
import type { Ledger } from '../ledger/writer.js';
import { canonicalizeTarget } from './canonical-path.js';
import { decisionInput } from './records.js';
import { sendProblem, applySecurityHeaders } from './respond.js';
import type { GatewayRuntime } from './runtime.js';

export function handleCors(ctx: RequestContext, rt: GatewayRuntime, tls: boolean, ledger: Ledger): boolean {
  const origin = ctx.req.headers.origin;
  if (origin === undefined) return false;
  const allowed = rt.config.cors.origins.includes(origin);
  const res = ctx.res;
  if (allowed) {
    res.setHeader('access-control-allow-origin', origin);
    res.setHeader('access-control-expose-headers', 'x-request-id, retry-after, www-authenticate');
  }
  res.setHeader('vary', 'Origin');
  const reqMethod = ctx.req.headers['access-control-request-method'];
  if (ctx.method !== 'OPTIONS' || reqMethod === undefined) return false;

  // A preflight (Fetch standard §3.2.2).
  const record = (outcome: 'allow' | 'deny', status: number, reason: string) =>
    ledger.append(decisionInput(ctx, { outcome, status, stage: 'cors', reason })).catch((err: unknown) => channels.ledgerAlert.publish({ kind: 'append-failed', error: err }));
  if (!allowed) {
    void record('deny', 403, 'RAMPART_ORIGIN_NOT_ALLOWED').then(() =>
      sendProblem(res, { code: 'RAMPART_ORIGIN_NOT_ALLOWED' }, { requestId: ctx.requestId, headersCfg: rt.config.headers, tls, head: false, close: false }),
    );
    return true;
  }
  const c = canonicalizeTarget(ctx.req.url ?? '');
  if (!c.ok) return false;
  const hit = rt.matchApi(ctx.req.headers.host, c.path);
  if (!hit) return false;
  const m = hit.api.model.match(String(reqMethod).toUpperCase(), hit.apiPath);
  if (m.kind !== 'found') return false;
  ctx.api = hit.api;
  ctx.operation = m.operation;
  void record('allow', 204, 'RAMPART_CORS_PREFLIGHT').then(() => {
    applySecurityHeaders(res, rt.config.headers, tls, 'no-store');
    res.setHeader('access-control-allow-methods', m.operation.method);
    res.setHeader('access-control-allow-headers', rt.config.cors.allowHeaders.join(', '));
    res.setHeader('access-control-max-age', String(rt.config.cors.maxAgeSeconds));
    res.writeHead(204);
    res.end();
  });
  return true;
}
