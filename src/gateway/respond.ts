/**
 * Writes Rampart's own responses (denials, errors, reserved endpoints) with the security headers
 * every response carries. One place turns a Denial into bytes.
 */
import type { ServerResponse } from 'node:http';
import type { Denial } from '../core/context.js';
import { ERRORS } from '../core/errors.js';
import { problemJson } from '../core/problem.js';
import type { RampartConfig } from '../config/types.js';
import { securityHeaders } from './headers.js';

export function applySecurityHeaders(res: ServerResponse, cfg: RampartConfig['headers'], tls: boolean, cacheControl?: string): void {
  for (const [k, v] of securityHeaders(cfg, tls)) res.setHeader(k, v);
  res.setHeader('cache-control', cacheControl ?? cfg.cacheControl);
}

export function sendProblem(
  res: ServerResponse,
  d: Denial,
  o: { requestId: string; headersCfg: RampartConfig['headers']; tls: boolean; head: boolean; close: boolean },
): number {
  const status = ERRORS[d.code].status;
  if (res.headersSent) {
    res.destroy();
    return status;
  }
  const body = problemJson(d.code, {
    requestId: o.requestId,
    ...(d.detail !== undefined ? { detail: d.detail } : {}),
    ...(d.pointer !== undefined ? { pointer: d.pointer } : {}),
    ...(d.errors ? { errors: d.errors } : {}),
  });
  applySecurityHeaders(res, o.headersCfg, o.tls, 'no-store');
  if (d.headers) for (const k in d.headers) res.setHeader(k, d.headers[k]!);
  res.setHeader('content-type', 'application/problem+json');
  res.setHeader('content-length', Buffer.byteLength(body));
  res.setHeader('x-request-id', o.requestId);
  if (o.close) res.setHeader('connection', 'close');
  res.writeHead(status);
  res.end(o.head ? undefined : body);
  return status;
}

export function sendJson(res: ServerResponse, status: number, data: unknown, o: { headersCfg: RampartConfig['headers']; tls: boolean; contentType?: string }): void {
  const body = typeof data === 'string' ? data : JSON.stringify(data);
  applySecurityHeaders(res, o.headersCfg, o.tls, 'no-store');
  res.setHeader('content-type', o.contentType ?? 'application/json');
  res.setHeader('content-length', Buffer.byteLength(body));
  res.writeHead(status);
  res.end(body);
}
