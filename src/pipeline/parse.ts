/**
 * Stage `parse`: limits and the one canonical parse of the request target. What Node's own
 * parser rejects (smuggling shapes, oversized headers, timeouts) never gets here: see
 * src/gateway/client-error.ts.
 */
import type { RampartConfig } from '../config/types.js';
import { deny, type Stage } from '../core/stage.js';
import { canonicalizeTarget } from '../gateway/canonical-path.js';

/** Methods an OpenAPI operation can declare (OpenAPI 3.x path item fields). Others: 501. */
export const SUPPORTED_METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']);
/** Content codings the gateway can decode with a bound (RFC 9110 §8.4.1). */
export const DECODABLE_ENCODINGS = new Set(['identity', 'gzip', 'x-gzip', 'deflate', 'br']);

export function createParseStage(limits: RampartConfig['limits']): Stage {
  return {
    name: 'parse',
    run(ctx) {
      const { req } = ctx;
      if (!SUPPORTED_METHODS.has(ctx.method)) return deny('RAMPART_METHOD_NOT_IMPLEMENTED');
      // RFC 9112 §3.2: a server MUST respond 400 to an HTTP/1.1 request without Host.
      if (req.headers.host === undefined && req.httpVersionMinor >= 1) return deny('RAMPART_MALFORMED_REQUEST', { detail: 'The Host header is required.' });
      const target = req.url ?? '';
      if (target.length > limits.maxUrlLength) return deny('RAMPART_URI_TOO_LONG');
      const c = canonicalizeTarget(target);
      if (!c.ok) return deny('RAMPART_PATH_NOT_CANONICAL', { detail: `The request path was refused: ${c.why}.` });
      ctx.path = c.path;
      ctx.rawQuery = c.rawQuery;
      const cl = req.headers['content-length'];
      if (cl !== undefined) {
        // Node has already refused non-numeric and conflicting Content-Length values.
        const n = Number(cl);
        if (n > limits.maxBodyBytes) return deny('RAMPART_BODY_TOO_LARGE');
        ctx.hasBody = n > 0;
      } else {
        ctx.hasBody = req.headers['transfer-encoding'] !== undefined;
      }
      const ce = req.headers['content-encoding'];
      if (ce !== undefined) {
        const codings = ce.split(',').map((s) => s.trim().toLowerCase()).filter(Boolean);
        // One coding at most: stacked codings multiply decompression cost and are never needed.
        if (codings.length > 1 || (codings[0] !== undefined && !DECODABLE_ENCODINGS.has(codings[0]))) {
          return deny('RAMPART_UNSUPPORTED_CONTENT_ENCODING');
        }
      }
      return undefined;
    },
  };
}
