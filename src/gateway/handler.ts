/**
 * The data plane's request handler: builds the context, runs the pipeline of the configuration
 * version current at arrival, commits the decision record, proxies, and reports the exchange on
 * the diagnostics channel. The order is DESIGN.md's; see docs/lifecycle.md.
 *
 *   parse → address-limit → route → authenticate → scope → principal-limit → validate
 *     → inspect → authorize
 *     → ledger: decision committed (503 if it cannot be; the upstream is never touched)
 *     → proxy → respond (response contract, DLP; completion committed before the last byte)
 *     → the exchange is fed to the anomaly model and charged to the volume quotas
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { requestId } from '../core/request-id.js';
import { PROBE_HEADER, type ProbeMarkers } from './probe-marker.js';
import type { Denial, RequestContext } from '../core/context.js';
import { ERRORS } from '../core/errors.js';
import { channels, type ExchangeEndMessage, type ExchangeStepMessage } from '../core/diagnostics.js';
import type { Logger } from '../core/log.js';
import type { Ledger } from '../ledger/writer.js';
import type { UpstreamIdentity } from '../identity/upstream-identity.js';
import { commitBody } from '../ledger/commit.js';
import { captureRequest } from './capture-bodies.js';
import { clientInfo } from './client-address.js';
import { decisionInput, elapsedMs, personalOf } from './records.js';
import { proxyExchange, errSummary } from './proxy.js';
import { sendProblem } from './respond.js';
import type { GatewayRuntime } from './runtime.js';
import { handleCors } from './cors.js';
import type { ThreatServices } from '../threat/services.js';
import { chargeQuotas, principalOf } from '../threat/limits-runtime.js';

export interface HandlerDeps {
  current: () => GatewayRuntime;
  ledger: Ledger;
  identity: UpstreamIdentity | undefined;
  logger: Logger;
  tls: boolean;
  closing: () => boolean;
  reserved: (req: IncomingMessage, res: ServerResponse, rt: GatewayRuntime) => void;
  /** Rate limits' counters, the anomaly model, security events (absent in the benchmark's pass-through). */
  threat?: ThreatServices;
  /** Verification probes' markers (`rampart verify`): a label for the records, nothing more. */
  probes?: ProbeMarkers;
}

export function createHandler(deps: HandlerDeps) {
  const { ledger, logger, tls } = deps;

  async function finishDenied(ctx: RequestContext, d: Denial): Promise<void> {
    const status = ERRORS[d.code].status;
    if (d.code === 'RAMPART_INTERNAL') logger.error({ requestId: ctx.requestId, stage: d.stage, err: errSummary(d.cause) }, 'stage failed; request denied');
    try {
      // A string cause is a non-personal sub-reason (for 401s: unknown, mismatch, revoked, expired),
      // kept for the examiner and the SIEM while the client gets the generic code.
      const detail = typeof d.cause === 'string' ? { cause: d.cause } : undefined;
      const t0 = channels.exchangeStep.hasSubscribers ? process.hrtime.bigint() : 0n;
      await ledger.append(decisionInput(ctx, { outcome: 'deny', status, stage: d.stage ?? 'unknown', reason: d.code, detail }));
      if (t0 !== 0n) step(ctx, 'ledger.decision', t0, true);
    } catch (err) {
      // The denial stands either way (fail closed); the missing record is an alert (AU-5).
      channels.ledgerAlert.publish({ kind: 'append-failed', error: err });
    }
    // An injection refused (or any denial that names an event) is also a security event: the
    // SIEM and the examiner look for those, not for every 400 (ASVS 7.1.3 / 7.2.2 spirit).
    if (d.event && deps.threat) deps.threat.securityEvent(d.event.name, { ...d.event.detail, requestId: ctx.requestId, ...(ctx.principal?.keyId ? { keyId: ctx.principal.keyId } : {}) }, ctx.runtime.hash, personalOf(ctx));
    // A refused body may still be arriving: close rather than drain it.
    const close = deps.closing() || (ctx.hasBody && !ctx.req.readableEnded);
    sendProblem(ctx.res, d, { requestId: ctx.requestId, headersCfg: ctx.runtime.config.headers, tls, head: ctx.method === 'HEAD', close });
    publishEnd(ctx, status, 'deny', d.stage, d.code, 0, typeof d.cause === 'string' ? d.cause : undefined);
    observe(ctx, status, 'deny', d.code, 0, undefined);
  }

  async function forward(ctx: RequestContext): Promise<void> {
    let decisionSeq: number;
    // Tracing only (the decision commit as a span); nothing is read when nobody subscribes.
    const t0 = channels.exchangeStep.hasSubscribers ? process.hrtime.bigint() : 0n;
    try {
      const requestBody = ctx.body && ctx.body.length > 0 ? commitBody(ctx.body) : undefined;
      // A scope that lets its holder touch any object is recorded each time it is used (API1).
      const detail = ctx.authz !== undefined && 'anyObjectScope' in ctx.authz ? { anyObjectScope: ctx.authz.anyObjectScope } : undefined;
      const requestCaptured = requestBody ? captureRequest(ctx) : undefined;
      const r = await ledger.append(decisionInput(ctx, { outcome: 'allow', stage: 'ledger', reason: 'RAMPART_OK', requestBody, requestCaptured, detail }));
      decisionSeq = r.seq;
      if (t0 !== 0n) step(ctx, 'ledger.decision', t0, true);
    } catch (err) {
      if (t0 !== 0n) step(ctx, 'ledger.decision', t0, false);
      channels.ledgerAlert.publish({ kind: 'append-failed', error: err });
      logger.error({ requestId: ctx.requestId, err: errSummary(err) }, 'decision record failed; request not forwarded');
      const close = deps.closing();
      sendProblem(ctx.res, { code: 'RAMPART_LEDGER_UNAVAILABLE', headers: { 'retry-after': '5' } }, { requestId: ctx.requestId, headersCfg: ctx.runtime.config.headers, tls, head: ctx.method === 'HEAD', close });
      publishEnd(ctx, 503, 'error', 'ledger', 'RAMPART_LEDGER_UNAVAILABLE', 0, undefined);
      return;
    }
    const r = await proxyExchange(ctx, decisionSeq, { ledger, identity: deps.identity, logger, tls, closing: deps.closing, responseControls: deps.threat !== undefined });
    publishEnd(ctx, r.status, r.outcome === 'success' ? 'allow' : 'error', r.outcome === 'success' ? 'respond' : r.stage, r.outcome === 'success' ? 'RAMPART_OK' : r.reason, r.bytesOut, undefined);
    chargeQuotas(ctx, r.bytesOut, r.records);
    observe(ctx, r.status, r.outcome === 'success' ? 'allow' : r.reason === 'RAMPART_RESPONSE_WITHHELD' ? 'deny' : 'error', r.reason, r.bytesOut, r.records);
  }

  /** The exchange as the anomaly model sees it (FC-3); its actions are alerts now and restrictions read by the limit stages. */
  function observe(ctx: RequestContext, status: number, outcome: 'allow' | 'deny' | 'error', reason: string | undefined, bytesOut: number, records: number | undefined): void {
    const threat = deps.threat;
    if (!threat?.anomaly) return;
    try {
      const p = ctx.principal;
      const z = ctx.authz;
      // One object shape for every event (no conditional spreads): the model reads these per exchange.
      const actions = threat.anomaly.observe({
        t: ctx.receivedAt,
        principal: principalOf(ctx),
        keyId: p?.keyId ?? ctx.presentedKeyId,
        address: ctx.clientAddress,
        operationId: ctx.operation?.id,
        method: ctx.method,
        status,
        outcome,
        reason,
        objectIds: ctx.objectIds ?? (z !== undefined && 'objectId' in z ? [`${z.kind}:${z.objectId}`] : undefined),
        bytesOut,
        records,
        highRisk: ctx.operation !== undefined && ctx.api?.config.operations[ctx.operation.id]?.highRisk === true,
        // A key's last use before this one: dormancy survives a restart of the model.
        principalLastSeen: p?.key?.lastUsedAt,
      });
      if (actions.length > 0) threat.handleAnomalies(actions, ctx.runtime.hash);
    } catch (err) {
      // The model is advisory on this path; a failure is logged, never turned into an outage.
      logger.error({ requestId: ctx.requestId, err: errSummary(err) }, 'anomaly model failed');
    }
  }

  function publishEnd(ctx: RequestContext, status: number, outcome: ExchangeEndMessage['outcome'], stage: string | undefined, reason: string | undefined, bytesOut: number, cause: string | undefined): void {
    if (!channels.exchangeEnd.hasSubscribers) return;
    const m: ExchangeEndMessage = {
      api: ctx.api?.name,
      operationId: ctx.operation?.id,
      status,
      outcome,
      stage,
      reason,
      cause,
      durationSeconds: elapsedMs(ctx) / 1000,
      bytesIn: ctx.bytesIn,
      bytesOut,
      context: ctx,
    };
    channels.exchangeEnd.publish(m);
  }

  /** A ledger commit of this exchange as a tracing step (published only while someone listens). */
  function step(ctx: RequestContext, name: string, startNs: bigint, ok: boolean): void {
    const m: ExchangeStepMessage = { context: ctx, step: name, startNs, endNs: process.hrtime.bigint(), ok };
    channels.exchangeStep.publish(m);
  }

  function after(ctx: RequestContext, d: Denial | undefined): Promise<void> {
    return d ? finishDenied(ctx, d) : forward(ctx);
  }

  return function handle(req: IncomingMessage, res: ServerResponse): void {
    const rt = deps.current();
    const url = req.url ?? '';
    if (url.startsWith(rt.config.reservedPrefix) && (url.length === rt.config.reservedPrefix.length || url[rt.config.reservedPrefix.length] === '/' || url[rt.config.reservedPrefix.length] === '?')) {
      deps.reserved(req, res, rt);
      return;
    }
    const ci = clientInfo(req, rt.trusted, tls);
    const ctx: RequestContext = {
      requestId: requestId(),
      startNs: process.hrtime.bigint(),
      receivedAt: Date.now(),
      runtime: rt,
      req,
      res,
      peerAddress: ci.peer,
      clientAddress: ci.client,
      proto: ci.proto,
      method: req.method ?? 'GET',
      path: '',
      rawQuery: '',
      hasBody: false,
      bytesIn: 0,
      forwardedFor: ci.forwardedFor,
    };
    const marker = req.headers[PROBE_HEADER];
    if (marker !== undefined && deps.probes) {
      const run = deps.probes.check(marker);
      if (run !== undefined) ctx.probe = run;
    }
    if (handleCors(ctx, rt, tls, ledger)) return;
    let p: Promise<void>;
    try {
      const d = rt.pipeline(ctx);
      p = d instanceof Promise ? d.then((x) => after(ctx, x)) : after(ctx, d);
    } catch (err) {
      p = finishDenied(ctx, { code: 'RAMPART_INTERNAL', stage: 'gateway', cause: err });
    }
    p.catch((err: unknown) => {
      logger.error({ requestId: ctx.requestId, err: errSummary(err) }, 'unhandled error in exchange');
      if (!res.headersSent) sendProblem(res, { code: 'RAMPART_INTERNAL' }, { requestId: ctx.requestId, headersCfg: rt.config.headers, tls, head: false, close: true });
      else res.destroy();
    });
  };
}
