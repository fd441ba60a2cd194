/**
 * Rampart's own endpoints under the reserved prefix (default `/.rampart`), which no API document
 * may use: `health` (liveness), `ready` (readiness: ledger, keys, upstreams), `metrics`
 * (Prometheus text, only to loopback peers and trusted proxies so the data plane does not
 * publish operational detail, API8), `jwks.json` (the public keys of Rampart's signing keys, for
 * upstreams that verify the identity assertion), and `oauth/token` and `oauth/revoke` (POST;
 * ../identity/token-endpoint.ts).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { requestId } from '../core/request-id.js';
import type { Metrics } from './metrics.js';
import type { Readiness } from './readiness.js';
import type { GatewayRuntime } from './runtime.js';
import { sendJson, sendProblem } from './respond.js';
import { normalizeAddress } from './client-address.js';

export function createReservedHandler(deps: {
  metrics: Metrics;
  readiness: Readiness;
  tls: boolean;
  jwks: () => { keys: object[] };
  /** The OAuth token and revocation endpoints (../identity/token-endpoint.ts). */
  oauth: (req: IncomingMessage, res: ServerResponse, rt: GatewayRuntime, which: 'token' | 'revoke') => void;
}) {
  return function reserved(req: IncomingMessage, res: ServerResponse, rt: GatewayRuntime): void {
    const url = req.url ?? '';
    const q = url.indexOf('?');
    const path = (q === -1 ? url : url.slice(0, q)).slice(rt.config.reservedPrefix.length);
    const o = { headersCfg: rt.config.headers, tls: deps.tls };
    const notFound = (): void => void sendProblem(res, { code: 'RAMPART_ROUTE_NOT_FOUND' }, { requestId: requestId(), ...o, head: req.method === 'HEAD', close: false });
    if (path === '/oauth/token' || path === '/oauth/revoke') {
      deps.oauth(req, res, rt, path === '/oauth/token' ? 'token' : 'revoke');
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      sendProblem(res, { code: 'RAMPART_METHOD_NOT_ALLOWED', headers: { allow: 'GET, HEAD' } }, { requestId: requestId(), ...o, head: false, close: false });
      return;
    }
    switch (path) {
      case '/jwks.json':
        // RFC 7517 JWK Set of Rampart's public signing keys (the current one and, for a day after
        // a rotation, the previous one), for upstreams that verify the identity assertion.
        sendJson(res, 200, deps.jwks(), { ...o, contentType: 'application/jwk-set+json' });
        return;
      case '/health':
        sendJson(res, 200, { status: 'ok' }, o);
        return;
      case '/ready': {
        const s = deps.readiness.state();
        sendJson(res, s.ready ? 200 : 503, { status: s.ready ? 'ready' : 'not-ready', ...s, configHash: rt.hash }, o);
        return;
      }
      case '/metrics': {
        const peer = normalizeAddress(req.socket.remoteAddress ?? '');
        const local = peer === '127.0.0.1' || peer === '::1' || peer.startsWith('127.');
        if (!local && !rt.trusted.isTrusted(peer)) return notFound();
        sendJson(res, 200, deps.metrics.render(), { ...o, contentType: deps.metrics.contentType });
        return;
      }
      default:
        notFound();
    }
  };
}
