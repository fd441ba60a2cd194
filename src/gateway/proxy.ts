/**
 * Stage `proxy` and the respond side: forwards the validated request through the API's undici
 * pool (keep-alive), streams the response back, and commits the completion record before the
 * last byte is released (DESIGN: the ledger). If that commit fails the connection is aborted
 * rather than completed unrecorded, and an alert is raised (AU-5).
 *
 * Upstream failures never leak detail (API8): a timeout is 504, anything else 502, both as
 * problem+json; the cause goes to the log and the ledger reason.
 */
import { errors as undiciErrors } from 'undici';
import type { RequestContext } from '../core/context.js';
import { ERRORS, type ErrorCode } from '../core/errors.js';
import type { BodyCommitment, CapturedBodyInput } from '../ledger/record.js';
import type { ApiRuntime } from './runtime.js';
import { decodeResponse, inspectResponse, responseKind, type ResponseKind } from './response-controls.js';
import { limitHeaders } from '../threat/limits-runtime.js';
import { channels, type UpstreamErrorKind, type UpstreamErrorMessage, type UpstreamRequestMessage, type UpstreamResponseMessage } from '../core/diagnostics.js';
import type { Ledger } from '../ledger/writer.js';
import { newBodyCommitter } from '../ledger/commit.js';
import { ResponseCapture } from './capture-bodies.js';
import { proxiedResponseHeaders, upstreamRequestHeaders } from './headers.js';
import { completionInput } from './records.js';
import { sendProblem } from './respond.js';
import type { Logger } from '../core/log.js';
import type { UpstreamIdentity } from '../identity/upstream-identity.js';

export interface ProxyDeps {
  ledger: Ledger;
  /** The signed identity assertion for the upstream (absent only in the benchmark's pass-through). */
  identity: UpstreamIdentity | undefined;
  logger: Logger;
  tls: boolean;
  closing: () => boolean;
  /** The response contract and DLP (false only in the benchmark's pass-through baseline). */
  responseControls: boolean;
}

/** How an exchange ended on the respond side. */
export interface ProxyResult {
  /** The status the client got. */
  status: number;
  bytesOut: number;
  outcome: 'success' | 'failure';
  stage: 'proxy' | 'respond';
  reason: string;
  /** Records in a list response (for volume quotas and the anomaly model), when known. */
  records?: number;
}

export async function proxyExchange(ctx: RequestContext, decisionSeq: number, deps: ProxyDeps): Promise<ProxyResult> {
  const api = ctx.api!;
  const up = api.upstream;
  const { req, res } = ctx;
  const cfg = ctx.runtime.config;
  const path = up.basePath + ctx.apiPath! + (ctx.rawQuery ? `?${ctx.rawQuery}` : '');
  const headers = upstreamRequestHeaders({
    headers: req.headers,
    credentialHeaders: ctx.credentialHeaders ?? [],
    clientAddress: ctx.clientAddress,
    forwardedFor: ctx.forwardedFor,
    proto: ctx.proto,
    host: req.headers.host,
    requestId: ctx.requestId,
    identity: deps.identity ? { header: deps.identity.header, token: deps.identity.assertionFor(ctx) } : undefined,
    bodyLength: ctx.body ? ctx.body.length : ctx.hasBody ? 0 : undefined,
  });
  // Observability only (metrics, passive upstream health, tracing): no subscriber, no cost
  // beyond the checks; a subscriber may add trace headers (../core/diagnostics.ts).
  // The clock is read only for tracing (request/response subscribers); errors are counted without it.
  const startNs = channels.upstreamRequest.hasSubscribers || channels.upstreamResponse.hasSubscribers ? process.hrtime.bigint() : 0n;
  if (channels.upstreamRequest.hasSubscribers) channels.upstreamRequest.publish({ context: ctx, api: api.name, headers, startNs } satisfies UpstreamRequestMessage);
  let upstream;
  try {
    upstream = await up.pool.request({
      path,
      method: ctx.method as 'GET',
      headers,
      body: ctx.body && ctx.body.length > 0 ? ctx.body : null,
    });
  } catch (err) {
    if (channels.upstreamError.hasSubscribers) channels.upstreamError.publish({ context: ctx, api: api.name, kind: upstreamErrorKind(err), phase: 'request', startNs } satisfies UpstreamErrorMessage);
    const code: ErrorCode = isTimeout(err) ? 'RAMPART_UPSTREAM_TIMEOUT' : 'RAMPART_UPSTREAM_UNAVAILABLE';
    deps.logger.warn({ requestId: ctx.requestId, api: api.name, err: errSummary(err) }, 'upstream request failed');
    const status = code === 'RAMPART_UPSTREAM_TIMEOUT' ? 504 : 502;
    try {
      await deps.ledger.append(completionInput(ctx, { decisionSeq, outcome: 'failure', status, stage: 'proxy', reason: code, bytesOut: 0 }));
    } catch (e) {
      channels.ledgerAlert.publish({ kind: 'completion-failed', error: e });
      res.destroy();
      return { status, bytesOut: 0, outcome: 'failure', stage: 'proxy', reason: code };
    }
    sendProblem(res, { code }, { requestId: ctx.requestId, headersCfg: cfg.headers, tls: deps.tls, head: ctx.method === 'HEAD', close: deps.closing() });
    return { status, bytesOut: 0, outcome: 'failure', stage: 'proxy', reason: code };
  }

  const status = upstream.statusCode;
  if (channels.upstreamResponse.hasSubscribers) channels.upstreamResponse.publish({ context: ctx, api: api.name, status, startNs } satisfies UpstreamResponseMessage);
  const kind = deps.responseControls ? responseKind(ctx, status, upstream.headers) : undefined;
  if (kind !== undefined) return respondInspected(ctx, decisionSeq, deps, upstream, kind);
  const opOverride = api.config.operations[ctx.operation!.id]?.cacheControl;
  const list = proxiedResponseHeaders(upstream.headers, { headersCfg: cfg.headers, tls: deps.tls, cacheControl: opOverride ?? cfg.headers.cacheControl, requestId: ctx.requestId, close: deps.closing() });
  writeHead(ctx, status, list);

  // Stream, holding back the most recent chunk so that the last byte leaves only after the
  // completion record is committed. Event-driven rather than `for await`: this is the hot path.
  const committer = newBodyCommitter();
  const capture = ResponseCapture.for(ctx);
  const body = upstream.body;
  let held: Buffer | undefined;
  let bytesOut = 0;
  const failure = await readBody(body, res, (chunk) => {
    committer.update(chunk);
    capture?.add(chunk);
    bytesOut += chunk.length;
    if (held !== undefined && !res.write(held)) {
      body.pause();
      res.once('drain', () => body.resume());
    }
    held = chunk;
    return true;
  });
  if (failure !== undefined) {
    const clientGone = failure === 'client';
    const reason = clientGone ? 'RAMPART_CLIENT_ABORTED' : isTimeout(failure) ? 'RAMPART_UPSTREAM_TIMEOUT' : 'RAMPART_UPSTREAM_UNAVAILABLE';
    if (!clientGone && channels.upstreamError.hasSubscribers) channels.upstreamError.publish({ context: ctx, api: api.name, kind: upstreamErrorKind(failure), phase: 'body', startNs } satisfies UpstreamErrorMessage);
    body.destroy();
    try {
      await deps.ledger.append(completionInput(ctx, { decisionSeq, outcome: 'failure', status, stage: clientGone ? 'respond' : 'proxy', reason, bytesOut, responseBody: committer.finish(), responseCaptured: capture?.finish(ctx, status, upstream.headers) }));
    } catch (e) {
      channels.ledgerAlert.publish({ kind: 'completion-failed', error: e });
    }
    res.destroy();
    return { status, bytesOut, outcome: 'failure', stage: clientGone ? 'respond' : 'proxy', reason };
  }
  try {
    await deps.ledger.append(completionInput(ctx, { decisionSeq, outcome: 'success', status, stage: 'respond', reason: 'RAMPART_OK', bytesOut, responseBody: committer.finish(), responseCaptured: capture?.finish(ctx, status, upstream.headers) }));
  } catch (err) {
    // AU-5: the exchange cannot be completed unrecorded. Abort so the client sees a failure.
    channels.ledgerAlert.publish({ kind: 'completion-failed', error: err });
    deps.logger.error({ requestId: ctx.requestId, err: errSummary(err) }, 'completion record failed; connection aborted');
    res.destroy();
    return { status, bytesOut, outcome: 'failure', stage: 'respond', reason: 'RAMPART_LEDGER_UNAVAILABLE' };
  }
  res.end(held);
  return { status, bytesOut, outcome: 'success', stage: 'respond', reason: 'RAMPART_OK' };
}

/** Writes the status and a flat header list, plus the RateLimit headers of the request's rules. */
function writeHead(ctx: RequestContext, status: number, list: string[]): void {
  const { res } = ctx;
  const rl = limitHeaders(ctx);
  if (rl) for (const k in rl) list.push(k, rl[k]!);
  if (res.getHeaderNames().length === 0) {
    res.writeHead(status, list);
    return;
  }
  // Headers already set (CORS): Node would merge a flat list with setHeader, one value per name,
  // losing repeated fields such as Set-Cookie; group them first.
  const grouped = new Map<string, string[]>();
  for (let i = 0; i < list.length; i += 2) {
    const g = grouped.get(list[i]!);
    if (g) g.push(list[i + 1]!);
    else grouped.set(list[i]!, [list[i + 1]!]);
  }
  for (const [k, v] of grouped) res.setHeader(k, v.length === 1 ? v[0]! : v);
  res.writeHead(status);
}

type UpstreamResponse = Awaited<ReturnType<ApiRuntime['upstream']['pool']['request']>>;

/**
 * Reads an upstream body chunk by chunk until it ends: undefined when it did, 'client' when the
 * client went away first (nothing more can be sent), 'stopped' when `onChunk` said no more (a
 * bound), or the body's error. The body is destroyed on every outcome but the end. Both response
 * paths use it: the streaming one (which writes as it reads) and the held one (which collects).
 */
function readBody(body: UpstreamResponse['body'], res: RequestContext['res'], onChunk: (chunk: Buffer) => boolean): Promise<'client' | 'stopped' | Error | undefined> {
  return new Promise((resolve) => {
    const onClose = () => {
      if (res.writableFinished) return;
      body.destroy();
      resolve('client');
    };
    res.once('close', onClose);
    body.on('data', (chunk: Buffer) => {
      if (onChunk(chunk)) return;
      res.off('close', onClose);
      body.destroy();
      resolve('stopped');
    });
    body.once('end', () => {
      res.off('close', onClose);
      resolve(undefined);
    });
    body.once('error', (err: Error) => {
      res.off('close', onClose);
      resolve(err);
    });
  });
}

/**
 * The respond side for JSON and text: the body is held (bounded), decoded, checked against the
 * contract and masked (./response-controls.ts), the completion record committed, then the whole
 * answer sent with its length. The ledger's commitment and capture cover what the client
 * received (the communication as it happened, R17a4-4; no more personal data than the client
 * saw), and the record's detail says what was stripped and masked; for a refused response they
 * cover what the upstream sent and was withheld.
 */
async function respondInspected(ctx: RequestContext, decisionSeq: number, deps: ProxyDeps, upstream: UpstreamResponse, kind: ResponseKind): Promise<ProxyResult> {
  const { res } = ctx;
  const cfg = ctx.runtime.config;
  const status = upstream.statusCode;
  const max = cfg.responses.maxInspectBytes;
  const body = upstream.body;
  const chunks: Buffer[] = [];
  let received = 0;
  const declared = Number(upstream.headers['content-length']);
  let failure: 'client' | 'too-large' | Error | undefined;
  if (Number.isFinite(declared) && declared > max) {
    body.destroy();
    failure = 'too-large';
  } else {
    const r = await readBody(body, res, (chunk) => {
      received += chunk.length;
      if (received > max) return false;
      chunks.push(chunk);
      return true;
    });
    failure = r === 'stopped' ? 'too-large' : r;
  }
  if (failure === 'client' || failure instanceof Error) {
    const clientGone = failure === 'client';
    if (failure instanceof Error && channels.upstreamError.hasSubscribers) channels.upstreamError.publish({ context: ctx, api: ctx.api!.name, kind: upstreamErrorKind(failure), phase: 'body', startNs: 0n } satisfies UpstreamErrorMessage);
    const reason = clientGone ? 'RAMPART_CLIENT_ABORTED' : isTimeout(failure) ? 'RAMPART_UPSTREAM_TIMEOUT' : 'RAMPART_UPSTREAM_UNAVAILABLE';
    const shown = clientGone ? status : reason === 'RAMPART_UPSTREAM_TIMEOUT' ? 504 : 502;
    return refuse(ctx, decisionSeq, deps, { status: shown, stage: clientGone ? 'respond' : 'proxy', reason, detail: { upstreamStatus: status } }, clientGone);
  }
  const raw = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks);
  const decoded = failure === 'too-large' ? undefined : decodeResponse(raw, upstream.headers['content-encoding'], max);
  const contentType = typeof upstream.headers['content-type'] === 'string' ? upstream.headers['content-type'] : undefined;
  const r = decoded === undefined
    ? { ok: false as const, code: 'RAMPART_RESPONSE_UNINSPECTABLE' as const, cause: failure === 'too-large' ? 'too-large' : 'undecodable', detail: { upstreamStatus: status } }
    : inspectResponse(ctx, status, contentType, decoded, kind);
  // What the ledger commits to and captures: the client's bytes, or what was withheld.
  const sent = r.ok ? r.body : raw;
  const committer = newBodyCommitter();
  committer.update(sent);
  const capture = failure === 'too-large' ? undefined : ResponseCapture.for(ctx);
  capture?.add(sent);
  const responseBody = committer.finish();
  const responseCaptured = capture?.finish(ctx, status, r.ok ? withoutCoding(upstream.headers) : upstream.headers);
  if (!r.ok) {
    deps.logger.warn({ requestId: ctx.requestId, api: ctx.api!.name, operation: ctx.operation!.id, status, cause: r.cause }, 'upstream response refused');
    return refuse(ctx, decisionSeq, deps, { status: ERRORS[r.code].status, stage: 'respond', reason: r.code, detail: { ...r.detail, cause: r.cause, upstreamStatus: status }, responseBody, responseCaptured }, false);
  }
  try {
    await deps.ledger.append(completionInput(ctx, { decisionSeq, outcome: 'success', status, stage: 'respond', reason: 'RAMPART_OK', bytesOut: r.body.length, responseBody, responseCaptured, detail: Object.keys(r.detail).length > 0 ? r.detail : undefined }));
  } catch (err) {
    // AU-5, as on the streaming path: the exchange cannot complete unrecorded, so the connection
    // is aborted (DESIGN.md) and the client sees a failure, not an answer.
    channels.ledgerAlert.publish({ kind: 'completion-failed', error: err });
    deps.logger.error({ requestId: ctx.requestId, err: errSummary(err) }, 'completion record failed; connection aborted');
    res.destroy();
    return { status, bytesOut: 0, outcome: 'failure', stage: 'respond', reason: 'RAMPART_LEDGER_UNAVAILABLE', ...(r.records !== undefined ? { records: r.records } : {}) };
  }
  const opOverride = ctx.api!.config.operations[ctx.operation!.id]?.cacheControl;
  const headers = { ...upstream.headers };
  delete headers['content-encoding'];
  delete headers['content-length'];
  delete headers['transfer-encoding'];
  const list = proxiedResponseHeaders(headers, { headersCfg: cfg.headers, tls: deps.tls, cacheControl: opOverride ?? cfg.headers.cacheControl, requestId: ctx.requestId, close: deps.closing() });
  list.push('content-length', String(r.body.length));
  writeHead(ctx, status, list);
  res.end(r.body);
  return { status, bytesOut: r.body.length, outcome: 'success', stage: 'respond', reason: 'RAMPART_OK', ...(r.records !== undefined ? { records: r.records } : {}) };
}

function withoutCoding(h: Record<string, string | string[] | undefined>): Record<string, string | string[] | undefined> {
  if (h['content-encoding'] === undefined) return h;
  const out = { ...h };
  delete out['content-encoding'];
  return out;
}

/** Records a refused or failed response and answers with a problem (or drops a client that left). */
async function refuse(
  ctx: RequestContext,
  decisionSeq: number,
  deps: ProxyDeps,
  f: { status: number; stage: 'proxy' | 'respond'; reason: string; detail: Record<string, string | number>; responseBody?: BodyCommitment; responseCaptured?: CapturedBodyInput | undefined },
  clientGone: boolean,
): Promise<ProxyResult> {
  const { res } = ctx;
  const cfg = ctx.runtime.config;
  try {
    await deps.ledger.append(completionInput(ctx, { decisionSeq, outcome: 'failure', status: f.status, stage: f.stage, reason: f.reason, bytesOut: 0, responseBody: f.responseBody, responseCaptured: f.responseCaptured, detail: f.detail }));
  } catch (e) {
    channels.ledgerAlert.publish({ kind: 'completion-failed', error: e });
    res.destroy();
    return { status: f.status, bytesOut: 0, outcome: 'failure', stage: f.stage, reason: f.reason };
  }
  if (clientGone) res.destroy();
  else sendProblem(res, { code: f.reason as ErrorCode }, { requestId: ctx.requestId, headersCfg: cfg.headers, tls: deps.tls, head: ctx.method === 'HEAD', close: deps.closing() });
  return { status: f.status, bytesOut: 0, outcome: 'failure', stage: f.stage, reason: f.reason };
}

function isTimeout(err: unknown): boolean {
  return (
    err instanceof undiciErrors.HeadersTimeoutError ||
    err instanceof undiciErrors.BodyTimeoutError ||
    err instanceof undiciErrors.ConnectTimeoutError
  );
}

const CONNECT_CODES = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN', 'EADDRNOTAVAIL', 'EHOSTDOWN']);
const RESET_CODES = new Set(['ECONNRESET', 'EPIPE', 'UND_ERR_SOCKET', 'UND_ERR_CLOSED', 'ECONNABORTED']);

/**
 * A bounded label for an upstream failure (rampart_upstream_errors_total{kind}; passive health
 * counts connect, connect_timeout and tls as "could not reach the upstream").
 */
export function upstreamErrorKind(err: unknown): UpstreamErrorKind {
  if (err instanceof undiciErrors.ConnectTimeoutError) return 'connect_timeout';
  if (err instanceof undiciErrors.HeadersTimeoutError || err instanceof undiciErrors.BodyTimeoutError) return 'timeout';
  const code = (err as { code?: unknown })?.code;
  if (typeof code !== 'string') return 'other';
  if (CONNECT_CODES.has(code)) return 'connect';
  if (RESET_CODES.has(code)) return 'reset';
  if (code.startsWith('ERR_TLS') || code.startsWith('ERR_SSL') || code.includes('CERT') || code.startsWith('UNABLE_TO_') || code === 'DEPTH_ZERO_SELF_SIGNED_CERT' || code === 'SELF_SIGNED_CERT_IN_CHAIN') return 'tls';
  return 'other';
}

export function errSummary(err: unknown): { name?: string; code?: string; message?: string } {
  const e = err as { name?: string; code?: string; message?: string };
  return { name: e?.name, code: e?.code, message: e?.message };
}
