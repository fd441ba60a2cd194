/**
 * Diagnostics channels (STYLE: undici's `undici:<area>:<event>`). Metrics and logs subscribe;
 * stages never call them. The ledger is not a subscriber: it is an awaited pipeline step.
 */
import diagnostics from 'node:diagnostics_channel';

export interface ExchangeEndMessage {
  api: string | undefined;
  operationId: string | undefined;
  status: number;
  outcome: 'allow' | 'deny' | 'error';
  stage: string | undefined;
  reason: string | undefined;
  durationSeconds: number;
  bytesIn: number;
  bytesOut: number;
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

/** A security alert: an anomaly, a Redis outage of the rate limiter, an injection refused. */
export interface SecurityAlertMessage {
  kind: string;
  /** Non-personal facts only. */
  detail: Record<string, string | number | boolean>;
}

export const channels = {
  exchangeEnd: diagnostics.channel('rampart:exchange:end'),
  ledgerAlert: diagnostics.channel('rampart:ledger:alert'),
  ledgerCommit: diagnostics.channel('rampart:ledger:commit'),
  keysRefresh: diagnostics.channel('rampart:keys:refresh'),
  securityAlert: diagnostics.channel('rampart:security:alert'),
};
