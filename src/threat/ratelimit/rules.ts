/**
 * Rate-limit and quota rules: what is counted, how much, over which window, with which burst
 * (API4 unrestricted resource consumption, API6 velocity limits on sensitive flows, N63-5 and
 * ASVS 2.2.1 failed-attempt limits, ASVS 8.1.4 abnormal request counts). A rule is data from
 * `rampart.yaml`; it is checked once (ruleProblems / assertRule) and the limiter refuses to run
 * one that does not pass, so a typo cannot silently become "no limit".
 *
 * Semantics (one definition for every backend, see bucket.ts and docs/rate-limits.md): a rule is
 * a bucket that drains continuously at `limit / windowSeconds` units per second and holds at most
 * `capacity = burst ?? limit` units. A take of `cost` units is allowed when it fits in the
 * bucket. Consequences, exact up to millisecond clock resolution:
 *   - from an idle state a client may take `capacity` units at once;
 *   - over ANY interval of L seconds at most `capacity + limit * L / windowSeconds` units are
 *     allowed, so `burst` is exactly the allowance above the steady rate;
 *   - in the long run exactly `limit` units per `windowSeconds`.
 * Without `burst`, a client that starts from idle can therefore pass up to `2 * limit - 1` units
 * in its first window. Where a hard ceiling N per any window is required (ASVS 2.2.1: at most 100
 * failed attempts per hour), configure `limit + burst <= N`, e.g. limit 50, burst 50.
 */
import { createHash } from 'node:crypto';

/** What a rule counts. `bytes` and `records` are data-volume quotas charged after the response. */
export type LimitUnit = 'requests' | 'bytes' | 'records';

export interface LimitRule {
  /** Stable name, used in the RateLimit headers and the ledger. Letters, digits, `.`, `_`, `-`; at most 64. */
  name: string;
  /** What is counted. */
  unit: LimitUnit;
  /** Allowed `limit` units per `windowSeconds` (the steady rate). A positive integer. */
  limit: number;
  /** The window in whole seconds (the RateLimit-Policy `w`). A positive integer. */
  windowSeconds: number;
  /**
   * Bucket capacity: the most units that can be taken at once from an idle state, and exactly the
   * allowance above the steady rate over any interval (see the header of this file). A positive
   * integer; defaults to `limit`.
   */
  burst?: number;
}

export interface LimitDecision {
  /** The rule's name. */
  rule: string;
  allowed: boolean;
  /** The rule's `limit` (RateLimit-Policy `q`). */
  limit: number;
  /** Whole units that could still be taken now (RateLimit `r`). May exceed `limit` when `burst > limit`. */
  remaining: number;
  /**
   * Seconds until the quota is available again (RateLimit `t`): when allowed, until the bucket is
   * empty again (the whole capacity available); when refused, until this request's cost would fit
   * (equal to retryAfterSeconds, so Retry-After never points before the end of `t`).
   */
  resetSeconds: number;
  /** Present when refused: whole seconds (at least 1) after which the same take would succeed. */
  retryAfterSeconds?: number;
  /** true when decided by the local fallback during a Redis outage. */
  degraded?: boolean;
  /** The rule's window (RateLimit-Policy `w`). */
  windowSeconds?: number;
  /** The rule's unit (RateLimit-Policy `qu`). */
  unit?: LimitUnit;
  /** The rule's capacity (burst ?? limit). */
  capacity?: number;
}

/** Names are quoted into Structured Field strings and used inside storage keys: keep them plain. */
export const RULE_NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
const UNITS: ReadonlySet<string> = new Set<LimitUnit>(['requests', 'bytes', 'records']);
/** Counts above this lose integer precision in a double; no real quota needs more. */
const MAX_UNITS = 2 ** 50;
/** A window longer than a year is a retention setting, not a rate limit. */
const MAX_WINDOW_SECONDS = 366 * 86400;

function positiveInt(v: unknown, max: number): boolean {
  return typeof v === 'number' && Number.isInteger(v) && v >= 1 && v <= max;
}

/**
 * Everything wrong with a rule, as messages for the config loader (empty when it is valid).
 *
 * @example
 * ruleProblems({ name: 'login', unit: 'requests', limit: 0, windowSeconds: 60 });
 * // ['limit must be an integer from 1 to 1125899906842624']
 */
export function ruleProblems(rule: unknown): string[] {
  if (typeof rule !== 'object' || rule === null || Array.isArray(rule)) return ['a rule must be an object'];
  const r = rule as Record<string, unknown>;
  const out: string[] = [];
  if (typeof r.name !== 'string' || !RULE_NAME_PATTERN.test(r.name)) {
    out.push('name must be 1-64 letters, digits, ".", "_" or "-", starting with a letter or digit');
  }
  if (typeof r.unit !== 'string' || !UNITS.has(r.unit)) out.push('unit must be one of requests, bytes, records');
  if (!positiveInt(r.limit, MAX_UNITS)) out.push(`limit must be an integer from 1 to ${MAX_UNITS}`);
  if (!positiveInt(r.windowSeconds, MAX_WINDOW_SECONDS)) out.push(`windowSeconds must be an integer from 1 to ${MAX_WINDOW_SECONDS}`);
  if (r.burst !== undefined && !positiveInt(r.burst, MAX_UNITS)) out.push(`burst must be an integer from 1 to ${MAX_UNITS} when given`);
  return out;
}

/**
 * Throws a TypeError naming every problem when `rule` is not a valid LimitRule (caller misuse:
 * the config loader should have rejected it with ruleProblems).
 *
 * @example
 * assertRule({ name: 'per-key', unit: 'requests', limit: 100, windowSeconds: 60, burst: 20 }); // ok
 */
export function assertRule(rule: unknown): asserts rule is LimitRule {
  const p = ruleProblems(rule);
  if (p.length > 0) {
    const name = typeof rule === 'object' && rule !== null && typeof (rule as { name?: unknown }).name === 'string' ? ` "${(rule as { name: string }).name}"` : '';
    throw new TypeError(`invalid rate-limit rule${name}: ${p.join('; ')}`);
  }
}

/** Keys longer than this are replaced by a digest, so a hostile value cannot grow memory or Redis. */
export const MAX_KEY_LENGTH = 256;

/**
 * Composes a limiter key from named parts, escaping the values so that two different sets of
 * parts can never give the same key (a principal named `x|op:y` cannot borrow the bucket of
 * principal `x` on operation `y`). Keys longer than MAX_KEY_LENGTH become `h:` + a SHA-256
 * digest (base64url), which also keeps arbitrary client input out of storage.
 *
 * @example
 * limitKey([['p', 'cus_1'], ['op', 'getAccount']]); // 'p:cus_1|op:getAccount'
 * limitKey([['a', '2001:db8::1']]);                  // 'a:2001%3Adb8%3A%3A1'
 */
export function limitKey(parts: ReadonlyArray<readonly [string, string]>): string {
  let out = '';
  for (const [name, value] of parts) {
    if (out.length > 0) out += '|';
    out += `${encodeURIComponent(name)}:${encodeURIComponent(value)}`;
  }
  return boundedKey(out);
}

/** `key` itself when short enough, else its digest (see MAX_KEY_LENGTH). */
export function boundedKey(key: string): string {
  return key.length <= MAX_KEY_LENGTH ? key : `h:${createHash('sha256').update(key).digest('base64url')}`;
}
