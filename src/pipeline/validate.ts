/**
 * Stage `validate`: the request against the operation's contract, after authentication and the
 * scope check (so the schema does not leak to strangers) and before anything goes upstream:
 * path, query, header and cookie parameters, the content type (415) and the body (400), with
 * duplicate JSON keys and repeated scalar parameters refused (DESIGN: one parse, one truth).
 * The body is read here, bounded and decoded; the proxy forwards exactly the bytes validated.
 */
import type { RampartConfig } from '../config/types.js';
import { deny, type Stage } from '../core/stage.js';
import { decodeBody, readBody } from '../gateway/body.js';

export function createValidateStage(limits: RampartConfig['limits']): Stage {
  return {
    name: 'validate',
    run(ctx) {
      if (!ctx.hasBody) return check(ctx, undefined);
      return (async () => {
        const deadline = ctx.receivedAt + limits.requestTimeoutMs;
        const r = await readBody(ctx.req, limits.maxBodyBytes, deadline);
        ctx.bytesIn = r.wireBytes;
        if (!r.ok) return deny(r.code);
        const d = await decodeBody(r.body, ctx.req.headers['content-encoding'], limits.maxBodyBytes);
        if (!d.ok) return deny(d.code);
        ctx.body = d.body;
        return check(ctx, d.body.length > 0 ? d.body : undefined);
      })();
    },
  };
}

function check(ctx: Parameters<Stage['run']>[0], body: Buffer | undefined) {
  const result = ctx.operation!.validate({
    pathParams: ctx.pathParams!,
    rawQuery: ctx.rawQuery,
    headers: ctx.req.headers,
    body,
  });
  if (result.ok) {
    ctx.query = result.query;
    ctx.json = result.body;
    return undefined;
  }
  const e = result.error;
  return deny(e.code, { pointer: e.pointer, detail: e.message, ...(e.errors ? { errors: e.errors } : {}) });
}
