/**
 * Reads a request body with a size bound and a deadline, and decodes a content coding with the
 * same bound on the decoded size (DESIGN: compressed bodies are decoded with a bound or not
 * accepted, so no control is skipped by encoding, and a zip bomb costs at most the limit).
 */
import type { IncomingMessage } from 'node:http';
import { promisify } from 'node:util';
import zlib from 'node:zlib';
import type { ErrorCode } from '../core/errors.js';

const gunzip = promisify(zlib.gunzip);
const inflate = promisify(zlib.inflate);
const brotli = promisify(zlib.brotliDecompress);

export type BodyResult = { ok: true; body: Buffer; wireBytes: number } | { ok: false; code: ErrorCode; wireBytes: number };

export function readBody(req: IncomingMessage, limit: number, deadline: number): Promise<BodyResult> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let done = false;
    const timer = setTimeout(() => finish({ ok: false, code: 'RAMPART_REQUEST_TIMEOUT', wireBytes: size }), Math.max(0, deadline - Date.now()));
    function finish(r: BodyResult): void {
      if (done) return;
      done = true;
      clearTimeout(timer);
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onError);
      req.off('aborted', onAborted);
      // Stop reading what we refused; the response closes the connection.
      if (!r.ok) req.pause();
      resolve(r);
    }
    function onData(c: Buffer): void {
      size += c.length;
      if (size > limit) return finish({ ok: false, code: 'RAMPART_BODY_TOO_LARGE', wireBytes: size });
      chunks.push(c);
    }
    function onEnd(): void {
      finish({ ok: true, body: chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size), wireBytes: size });
    }
    function onError(): void {
      finish({ ok: false, code: 'RAMPART_MALFORMED_REQUEST', wireBytes: size });
    }
    function onAborted(): void {
      finish({ ok: false, code: 'RAMPART_MALFORMED_REQUEST', wireBytes: size });
    }
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onError);
    req.on('aborted', onAborted);
  });
}

/** Decodes one content coding; the decoded size is bounded by `limit` (413 beyond it). */
export async function decodeBody(body: Buffer, coding: string | undefined, limit: number): Promise<{ ok: true; body: Buffer } | { ok: false; code: ErrorCode }> {
  const c = coding?.trim().toLowerCase();
  if (!c || c === 'identity') return { ok: true, body };
  const opts = { maxOutputLength: limit };
  try {
    if (c === 'gzip' || c === 'x-gzip') return { ok: true, body: await gunzip(body, opts) };
    if (c === 'deflate') return { ok: true, body: await inflate(body, opts) };
    if (c === 'br') return { ok: true, body: await brotli(body, opts) };
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ERR_BUFFER_TOO_LARGE' || (err instanceof RangeError)) return { ok: false, code: 'RAMPART_BODY_TOO_LARGE' };
    return { ok: false, code: 'RAMPART_MALFORMED_REQUEST' };
  }
  return { ok: false, code: 'RAMPART_UNSUPPORTED_CONTENT_ENCODING' };
}
