/**
 * Header hygiene for both directions of the proxy.
 */
import { PROBE_HEADER } from './probe-marker.js';
import type { IncomingHttpHeaders } from 'node:http';
import type { RampartConfig } from '../config/types.js';

/**
 * Hop-by-hop headers are meaningful only for one connection and are never forwarded
 * (RFC 9110 §7.6.1; RFC 9112 §9.6), plus any header the Connection header names.
 * `proxy-*` and `keep-alive` are the legacy ones. `host` is set by the upstream pool.
 */
export const HOP_BY_HOP = new Set([
  'connection', 'keep-alive', 'proxy-connection', 'proxy-authenticate', 'proxy-authorization',
  'te', 'trailer', 'transfer-encoding', 'upgrade', 'host', 'http2-settings',
]);

/** Client-supplied headers that only Rampart may set towards the upstream. */
const RESERVED_UPSTREAM_PREFIX = 'x-rampart-';
const FORWARDED = new Set(['x-forwarded-for', 'x-forwarded-proto', 'x-forwarded-host', 'x-forwarded-port', 'x-real-ip', 'forwarded', 'x-request-id']);

/** Response headers that reveal versions or internals (API8) or that Rampart sets itself. */
const STRIP_FROM_UPSTREAM = new Set(['server', 'x-powered-by', 'x-aspnet-version', 'x-aspnetmvc-version', 'x-runtime', 'x-version', 'via']);

function connectionTokens(value: string | string[] | undefined): string[] {
  if (!value) return [];
  const s = Array.isArray(value) ? value.join(',') : value;
  return s.split(',').map((t) => t.trim().toLowerCase()).filter(Boolean);
}

export interface UpstreamHeaderInput {
  headers: IncomingHttpHeaders;
  /** Lower-case names of headers that carried Rampart credentials (never forwarded). */
  credentialHeaders: readonly string[];
  clientAddress: string;
  /** X-Forwarded-For chain from a trusted proxy, to which the client is appended. */
  forwardedFor: string | undefined;
  proto: 'http' | 'https';
  host: string | undefined;
  requestId: string;
  /** The signed identity assertion and the header it travels in (../identity/upstream-identity.ts). */
  identity: { header: string; token: string } | undefined;
  /** Replaced body: drop content-encoding and set this length. */
  bodyLength: number | undefined;
}

export function upstreamRequestHeaders(i: UpstreamHeaderInput): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  const drop = new Set(connectionTokens(i.headers.connection));
  for (const name in i.headers) {
    if (HOP_BY_HOP.has(name) || drop.has(name) || FORWARDED.has(name) || name.startsWith(RESERVED_UPSTREAM_PREFIX)) continue;
    // The verification marker is the gateway's label (./probe-marker.ts), not the upstream's business.
    if (i.credentialHeaders.includes(name) || name === PROBE_HEADER) continue;
    const v = i.headers[name];
    if (v !== undefined) out[name] = v;
  }
  if (i.bodyLength !== undefined) {
    delete out['content-encoding'];
    out['content-length'] = String(i.bodyLength);
  }
  // Compression never hides data from the controls: the upstream is asked for the plain body
  // (the response contract, DLP and the ledger's capture read it); a coded answer is decoded
  // with a bound or refused (./response-controls.ts).
  out['accept-encoding'] = 'identity';
  out['x-forwarded-for'] = i.forwardedFor ? `${i.forwardedFor}, ${i.clientAddress}` : i.clientAddress;
  out['x-forwarded-proto'] = i.proto;
  if (i.host) out['x-forwarded-host'] = i.host;
  out['x-request-id'] = i.requestId;
  // Set after the copy loop: a client header of the same name never survives (and x-rampart-*
  // ones are dropped above whatever the configured name).
  if (i.identity !== undefined) out[i.identity.header] = i.identity.token;
  return out;
}

/** Names Rampart sets on every proxied response; the upstream's values for them are replaced. */
const OWN_RESPONSE_HEADERS = new Set(['strict-transport-security', 'x-content-type-options', 'x-frame-options', 'content-security-policy', 'referrer-policy', 'cross-origin-resource-policy', 'cache-control', 'x-request-id']);

/**
 * The proxied response's header list, flat (`[name, value, name, value, ...]`) for one
 * `writeHead` call: the upstream's headers minus hop-by-hop, banner and Rampart-owned ones, then
 * the security headers, Cache-Control and the request id. One call instead of a dozen setHeader
 * calls on the hot path.
 */
export function proxiedResponseHeaders(
  upstream: Record<string, string | string[] | undefined>,
  o: { headersCfg: RampartConfig['headers']; tls: boolean; cacheControl: string; requestId: string; close: boolean },
): string[] {
  const out: string[] = [];
  const drop = upstream.connection === undefined ? undefined : new Set(connectionTokens(upstream.connection));
  for (const name in upstream) {
    const lower = name.toLowerCase();
    if (HOP_BY_HOP.has(lower) || STRIP_FROM_UPSTREAM.has(lower) || OWN_RESPONSE_HEADERS.has(lower) || drop?.has(lower)) continue;
    const v = upstream[name];
    if (v === undefined) continue;
    if (Array.isArray(v)) for (const x of v) out.push(lower, x);
    else out.push(lower, v);
  }
  for (const [k, v] of securityHeaders(o.headersCfg, o.tls)) out.push(k, v);
  out.push('cache-control', o.cacheControl, 'x-request-id', o.requestId);
  if (o.close) out.push('connection', 'close');
  return out;
}

/**
 * Security headers on every response, denials included (ENC-3 HSTS with includeSubDomains per
 * ASVS 14.4.5; API8). API responses are not for framing or sniffing; `no-store` by default so
 * account data is not kept by shared caches (ASVS 8.2.1).
 */
const securityHeaderCache = new WeakMap<RampartConfig['headers'], { tls: readonly [string, string][]; plain: readonly [string, string][] }>();

export function securityHeaders(cfg: RampartConfig['headers'], tls: boolean): readonly [string, string][] {
  let cached = securityHeaderCache.get(cfg);
  if (!cached) {
    cached = { tls: buildSecurityHeaders(cfg, true), plain: buildSecurityHeaders(cfg, false) };
    securityHeaderCache.set(cfg, cached);
  }
  return tls ? cached.tls : cached.plain;
}

function buildSecurityHeaders(cfg: RampartConfig['headers'], tls: boolean): [string, string][] {
  const h: [string, string][] = [
    ['x-content-type-options', 'nosniff'],
    ['x-frame-options', 'DENY'],
    ['content-security-policy', "default-src 'none'; frame-ancestors 'none'"],
    ['referrer-policy', 'no-referrer'],
    ['cross-origin-resource-policy', 'same-origin'],
  ];
  if (tls) h.unshift(['strict-transport-security', `max-age=${cfg.hstsMaxAgeSeconds}; includeSubDomains`]);
  return h;
}
