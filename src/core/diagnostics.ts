/**
 * Diagnostics channels (STYLE: undici's `undici:<area>:<event>`). Metrics, logs and traces
 * subscribe; stages never call them. The ledger is not a subscriber: it is an awaited pipeline
 * step.
 *
 * Publishers on the hot path check `hasSubscribers` first, so a channel nobody listens to costs
 * one property read per request (the upstream and stage channels exist for tracing, which is off
 * by default).
 */
import diagnostics from 'node:diagnostics_channel';
import type { RequestContext } from './context.js';

export interface ExchangeEndMessage {
  api: string | undefined;
  operationId: string | undefined;
  status: number;
  outcome: 'allow' | 'deny' | 'error';
  stage: string | undefined;
  reason: string | undefined;
  /**
   * The denial's non-personal sub-reason when it has one: `rule:<name>` for a rate limit or
   * quota, `anomaly:<kind>` for a throttle or block, unknown/expired/revoked for a 401.
   */
  cause: string | undefined;
  durationSeconds: number;
  bytesIn: number;
  bytesOut: number;
  /** The exchange itself (in-process subscribers only: tracing ends its root span with it). */
  context: RequestContext;
}

export interface LedgerAlertMessage {
  /** append-failed, completion-failed, or (from the running ledger) the alert's code, e.g. checkpoint_publish_failed. */
  kind: string;
  error: unknown;
}

/** One group commit of the ledger writer. */
export interface LedgerCommitMessage {
  firstSeq: number;
  lastSeq: number;
  count: number;
  /** Time the store took to make the batch durable. */
  ms: number;
}

/**
 * One signed checkpoint (../ledger/checkpointer.ts): `ok` when stored and every publisher took
 * it, `publish_failed` when stored but at least one publisher failed (AU-9(2): the head did not
 * leave the box everywhere), `failed` when it could not be signed or stored.
 */
export interface LedgerCheckpointMessage {
  kind: string;
  result: 'ok' | 'publish_failed' | 'failed';
  treeSize: number;
  /** The checkpoint's own timestamp (UTC ms); 0 when it failed before one was taken. */
  ts: number;
}

/** A security alert: an anomaly, a Redis outage of the rate limiter, an injection refused. */
export interface SecurityAlertMessage {
  kind: string;
  /** Non-personal facts only. */
  detail: Record<string, string | number | boolean>;
}

/**
 * The proxy is about to send the request upstream. `headers` is the outgoing header object and
 * may be amended by a subscriber (tracing sets `traceparent`, W3C Trace Context §3.2), the way
 * undici's `undici:request:create` lets subscribers add headers.
 */
export interface UpstreamRequestMessage {
  context: RequestContext;
  api: string;
  headers: Record<string, string | string[]>;
  /** process.hrtime.bigint() when the request was handed to the pool. */
  startNs: bigint;
}

/** The upstream's response head arrived. */
export interface UpstreamResponseMessage {
  context: RequestContext;
  api: string;
  status: number;
  startNs: bigint;
}

/**
 * The upstream failed. `kind`: connect (refused, unreachable, DNS), connect_timeout, tls (the
 * handshake or the certificate), timeout (headers or body too slow), reset (the connection closed
 * mid-exchange), other. `phase`: before a response head (request) or while streaming the body.
 */
export interface UpstreamErrorMessage {
  context: RequestContext;
  api: string;
  kind: UpstreamErrorKind;
  phase: 'request' | 'body';
  startNs: bigint;
}

export type UpstreamErrorKind = 'connect' | 'connect_timeout' | 'tls' | 'timeout' | 'reset' | 'other';

/** A step of the exchange outside the stage pipeline took this long (tracing: the ledger commits). */
export interface ExchangeStepMessage {
  context: RequestContext;
  /** ledger.decision, ledger.completion */
  step: string;
  startNs: bigint;
  endNs: bigint;
  ok: boolean;
}

export const channels = {
  exchangeEnd: diagnostics.channel('rampart:exchange:end'),
  exchangeStep: diagnostics.channel('rampart:exchange:step'),
  ledgerAlert: diagnostics.channel('rampart:ledger:alert'),
  ledgerCommit: diagnostics.channel('rampart:ledger:commit'),
  ledgerCheckpoint: diagnostics.channel('rampart:ledger:checkpoint'),
  keysRefresh: diagnostics.channel('rampart:keys:refresh'),
  securityAlert: diagnostics.channel('rampart:security:alert'),
  upstreamRequest: diagnostics.channel('rampart:upstream:request'),
  upstreamResponse: diagnostics.channel('rampart:upstream:response'),
  upstreamError: diagnostics.channel('rampart:upstream:error'),
};
