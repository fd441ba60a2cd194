/**
 * The anomaly model's public vocabulary: what the gateway feeds it (one ended exchange), what it
 * finds, and what it decides (alert, throttle, block for a period). FC-3 (unusual user behaviour,
 * "a bulk download over N records per hour raises an alert"), RSID-1 (identity-theft red flags),
 * ASVS 8.1.4 (alert on abnormal request counts), API1 (BOLA probing), API6 (sensitive flows).
 * The model itself is described in docs/anomaly.md.
 */

/** One exchange as it ended, as the gateway saw it. Only ids: no bodies, no personal fields. */
export interface ExchangeEvent {
  /** ms since epoch (the gateway's receivedAt). Time only moves forward inside the model: an earlier t counts as "now". */
  t: number;
  /** principal id: key id, token client id, or undefined when unauthenticated */
  principal?: string;
  /** The key id the request presented (also on a failed authentication, when it could be read). */
  keyId?: string;
  /** client IP address */
  address: string;
  operationId?: string;
  /** HTTP method, to tell reads from writes/high-risk */
  method: string;
  status: number;
  outcome: 'allow' | 'deny' | 'error';
  /** denial reason code, e.g. RAMPART_AUTH_INVALID, RAMPART_OBJECT_FORBIDDEN, RAMPART_OBJECT_NOT_FOUND */
  reason?: string;
  /** object ids the request named (path/query/body), already extracted */
  objectIds?: readonly string[];
  bytesOut: number;
  /** records returned when known (array length of a list response) */
  records?: number;
  /** operation is marked high-risk in config (transfers, credential changes) */
  highRisk?: boolean;
  /**
   * When the principal was last active before this exchange, if the gateway knows it from
   * elsewhere (a key's lastUsedAt). Used for dormancy only when the model holds no state for the
   * principal (new process, or evicted from the LRU); the model's own memory wins otherwise.
   */
  principalLastSeen?: number;
}

export type AnomalyKind = 'enumeration' | 'bulk-pull' | 'auth-failures' | 'new-network' | 'dormant-reactivation' | 'rate-spike' | 'error-ratio' | 'off-hours';

/** Every kind, in a fixed order (the index is used for per-subject bookkeeping). */
export const ANOMALY_KINDS: readonly AnomalyKind[] = Object.freeze(['enumeration', 'bulk-pull', 'auth-failures', 'new-network', 'dormant-reactivation', 'rate-spike', 'error-ratio', 'off-hours']);

export type ActionLevel = 'alert' | 'throttle' | 'block';

/** Which id a finding is about, and therefore which id a throttle or block applies to. */
export type AnomalyTarget = 'principal' | 'key' | 'address';

export interface AnomalyFinding {
  kind: AnomalyKind;
  /**
   * who: principal, key or address. The id named by `target` is the one restricted; the others,
   * when present, are context (the key and address the triggering request came with).
   */
  subject: { principal?: string; keyId?: string; address?: string };
  target: AnomalyTarget;
  /** Severity on the model's 0..10 scale (docs/anomaly.md "Score"). */
  score: number;
  /** human explanation with the numbers, no personal data beyond ids */
  reason: string;
  /** ms since epoch: the event that triggered it */
  at: number;
  /** The operation of the triggering request, when known. */
  operationId?: string;
}

export interface AnomalyAction {
  action: ActionLevel;
  /** End of a throttle or block (ms since epoch); absent for an alert. */
  until?: number;
  /** For a throttle: requests per minute the subject still gets. */
  perMinute?: number;
  finding: AnomalyFinding;
}

/** What restriction() answers: the strongest throttle or block in force on any of the ids asked about. */
export interface AnomalyRestriction {
  action: 'throttle' | 'block';
  until: number;
  kind: AnomalyKind;
  /** For a throttle: requests per minute the subject still gets. */
  perMinute?: number;
  target: AnomalyTarget;
}

export interface AnomalyStats {
  principals: number;
  addresses: number;
  /** Key ids tracked for authentication failures. */
  keys: number;
  restrictions: number;
  /** Network blocks counted toward "shared by several principals". */
  sharedBlocks: number;
}

export interface AnomalyDetector {
  /** Feed one ended exchange; returns the actions it triggers now (usually none). Never throws. */
  observe(e: ExchangeEvent): AnomalyAction[];
  /** Before a request: is this principal / key / address currently throttled or blocked? O(1). */
  restriction(who: { principal?: string; keyId?: string; address: string }, now: number): AnomalyRestriction | undefined;
  /** Advance time without events (expire restrictions, roll windows). */
  tick(now: number): void;
  stats(): AnomalyStats;
}
