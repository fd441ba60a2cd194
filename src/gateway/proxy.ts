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
import type { ErrorCode } from '../core/errors.js';
import { channels } from '../core/diagnostics.js';
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
}

export async function proxyExchange(ctx: RequestContext, decisionSeq: number, deps: ProxyDeps): Promise<{ status: number; bytesOut: number; outcome: 'success' | 'failure' }> {
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
  let upstream;
  try {
    upstream = await up.pool.request({
      path,
      method: ctx.method as 'GET',
      headers,
      body: ctx.body && ctx.body.length > 0 ? ctx.body : null,
    });
  } catch (err) {
    const code: ErrorCode = isTimeout(err) ? 'RAMPART_UPSTREAM_TIMEOUT' : 'RAMPART_UPSTREAM_UNAVAILABLE';
    deps.logger.warn({ requestId: ctx.requestId, api: api.name, err: errSummary(err) }, 'upstream request failed');
    const status = code === 'RAMPART_UPSTREAM_TIMEOUT' ? 504 : 502;
    try {
      await deps.ledger.append(completionInput(ctx, { decisionSeq, outcome: 'failure', status, stage: 'proxy', reason: code, bytesOut: 0 }));
    } catch (e) {
      channels.ledgerAlert.publish({ kind: 'completion-failed', error: e });
      res.destroy();
      return { status, bytesOut: 0, outcome: 'failure' };
    }
    sendProblem(res, { code }, { requestId: ctx.requestId, headersCfg: cfg.headers, tls: deps.tls, head: ctx.method === 'HEAD', close: deps.closing() });
    return { status, bytesOut: 0, outcome: 'failure' };
  }

  const status = upstream.statusCode;
  const opOverride = api.config.operations[ctx.operation!.id]?.cacheControl;
  const list = proxiedResponseHeaders(upstream.headers, { headersCfg: cfg.headers, tls: deps.tls, cacheControl: opOverride ?? cfg.headers.cacheControl, requestId: ctx.requestId, close: deps.closing() });
  if (res.getHeaderNames().length === 0) {
    res.writeHead(status, list);
  } else {
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

  // Stream, holding back the most recent chunk so that the last byte leaves only after the
  // completion record is committed. Event-driven rather than `for await`: this is the hot path.
  const committer = newBodyCommitter();
  const capture = ResponseCapture.for(ctx);
  const body = upstream.body;
  let held: Buffer | undefined;
  let bytesOut = 0;
  const failure = await new Promise<'client' | Error | undefined>((resolve) => {
    const onClose = () => {
      if (!res.writableFinished) {
        body.destroy();
        resolve('client');
      }
    };
    res.once('close', onClose);
    body.on('data', (chunk: Buffer) => {
      committer.update(chunk);
      capture?.add(chunk);
      bytesOut += chunk.length;
      if (held !== undefined && !res.write(held)) {
        body.pause();
        res.once('drain', () => body.resume());
      }
      held = chunk;
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
  if (failure !== undefined) {
    const clientGone = failure === 'client';
    const reason = clientGone ? 'RAMPART_CLIENT_ABORTED' : isTimeout(failure) ? 'RAMPART_UPSTREAM_TIMEOUT' : 'RAMPART_UPSTREAM_UNAVAILABLE';
    body.destroy();
    try {
      await deps.ledger.append(completionInput(ctx, { decisionSeq, outcome: 'failure', status, stage: clientGone ? 'respond' : 'proxy', reason, bytesOut, responseBody: committer.finish(), responseCaptured: capture?.finish(ctx, status, upstream.headers) }));
    } catch (e) {
      channels.ledgerAlert.publish({ kind: 'completion-failed', error: e });
    }
    res.destroy();
    return { status, bytesOut, outcome: 'failure' };
  }
  try {
    await deps.ledger.append(completionInput(ctx, { decisionSeq, outcome: 'success', status, stage: 'respond', reason: 'RAMPART_OK', bytesOut, responseBody: committer.finish(), responseCaptured: capture?.finish(ctx, status, upstream.headers) }));
  } catch (err) {
    // AU-5: the exchange cannot be completed unrecorded. Abort so the client sees a failure.
    channels.ledgerAlert.publish({ kind: 'completion-failed', error: err });
    deps.logger.error({ requestId: ctx.requestId, err: errSummary(err) }, 'completion record failed; connection aborted');
    res.destroy();
    return { status, bytesOut, outcome: 'failure' };
  }
  res.end(held);
  return { status, bytesOut, outcome: 'success' };
}

function isTimeout(err: unknown): boolean {
  return (
    err instanceof undiciErrors.HeadersTimeoutError ||
    err instanceof undiciErrors.BodyTimeoutError ||
    err instanceof undiciErrors.ConnectTimeoutError
  );
}

export function errSummary(err: unknown): { name?: string; code?: string; message?: string } {
  const e = err as { name?: string; code?: string; message?: string };
  return { name: e?.name, code: e?.code, message: e?.message };
}
