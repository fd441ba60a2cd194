/**
 * The one algorithm behind every backend: a bucket that drains continuously (GCRA, the "leaky
 * bucket as a meter"; equivalent to a token bucket). State per (rule, key) is two numbers: the
 * units in the bucket (`used`) and the time they were last brought up to date (`last`, ms).
 *
 *   drain:  used' = max(0, used - (now - last) * limit / windowMs)      (only when now > last)
 *   take:   allowed  iff  used' + cost <= capacity;  if allowed, used = used' + cost, last = now
 *   charge: used = used' + cost, never refused (the bucket may go above capacity: a debt that
 *           later takes wait out)
 *   peek:   what take(cost = 1) would decide, without writing
 *
 * Why this and not rate-limiter-flexible (which DESIGN.md names): its memory limiter arms one
 * setTimeout per key and reads Date.now() (no injected clock, timers per key), and its limiters
 * count fixed windows, which let a client pass 2x the limit across a window boundary with no way
 * to state a burst separately. A drained bucket gives a precise burst, an exact Retry-After, O(1)
 * state without timers, and the same arithmetic in JavaScript (memory.ts) and in a Redis Lua
 * script (redis.ts): both evaluate the expressions above in the same order on IEEE doubles, so
 * both backends produce identical decisions for identical inputs (tested in the Redis contract
 * test).
 *
 * Why (used, last) and not a theoretical arrival time: a TAT is an absolute time (~1.7e12 ms)
 * that grows by `cost * windowMs / limit` per unit; for a byte quota that increment can be
 * 1e-5 ms, below the resolution of a double at that magnitude, so units would be lost. `used` is
 * a count near the quota's own scale and keeps full precision.
 */
import { assertRule, type LimitDecision, type LimitRule, type LimitUnit } from './rules.js';

/** A validated rule with the numbers the algorithm needs, computed once. */
export interface Bucket {
  readonly name: string;
  readonly unit: LimitUnit;
  readonly limit: number;
  readonly windowSeconds: number;
  readonly windowMs: number;
  readonly capacity: number;
  /** Storage-key prefix for this rule: `name|` (names cannot contain `|`). */
  readonly id: string;
  /** The rule's burst as given (compared by the cache check in bucketFor). */
  readonly burst: number | undefined;
}

export type BucketMode = 'take' | 'charge' | 'peek';

/** What a backend returns: whether the operation was allowed and the bucket level it saw. */
export interface BucketOutcome {
  allowed: boolean;
  /** The level after the operation when it wrote (allowed take, charge), else the drained level before it. */
  used: number;
}

const compiled = new WeakMap<LimitRule, Bucket>();

/**
 * The compiled bucket for a rule, validated on first sight and cached by object; a rule object
 * that was changed since is recompiled (four comparisons per call).
 *
 * @example
 * const b = bucketFor({ name: 'per-key', unit: 'requests', limit: 100, windowSeconds: 60, burst: 20 });
 * b.capacity; // 20
 */
export function bucketFor(rule: LimitRule): Bucket {
  const b = compiled.get(rule);
  if (b && b.limit === rule.limit && b.windowSeconds === rule.windowSeconds && b.burst === rule.burst && b.name === rule.name && b.unit === rule.unit) return b;
  assertRule(rule);
  const fresh = makeBucket(rule.name, rule.unit, rule.limit, rule.windowSeconds, rule.burst);
  compiled.set(rule, fresh);
  return fresh;
}

function makeBucket(name: string, unit: LimitUnit, limit: number, windowSeconds: number, burst: number | undefined): Bucket {
  return Object.freeze({ name, unit, limit, windowSeconds, windowMs: windowSeconds * 1000, capacity: burst ?? limit, id: `${name}|`, burst });
}

/**
 * The same rule scaled by `share` (0 < share <= 1) for a node's local fallback during a Redis
 * outage: N nodes that each enforce 1/N of the limit keep the cluster near the global limit.
 * Limit and capacity are scaled together, rounded down, and never drop below 1.
 */
export function scaledBucket(b: Bucket, share: number): Bucket {
  if (share === 1) return b;
  const limit = Math.max(1, Math.floor(b.limit * share));
  const capacity = Math.max(1, Math.floor(b.capacity * share));
  return Object.freeze({ ...b, limit, capacity, burst: capacity });
}

/** The bucket level at `now` after draining since `last` (see the header). Mirrored in redis.ts. */
export function drained(used: number, last: number, now: number, b: Bucket): number {
  if (!(now > last)) return used;
  const u = used - ((now - last) * b.limit) / b.windowMs;
  return u > 0 ? u : 0;
}

/** Milliseconds for the bucket to drain `units`. */
function msFor(units: number, b: Bucket): number {
  return (units * b.windowMs) / b.limit;
}

/** Whole seconds covering `ms`, ignoring float noise of a few nanoseconds. */
function ceilSeconds(ms: number): number {
  const s = Math.ceil(ms / 1000 - 1e-9);
  return s > 0 ? s : 0;
}

/**
 * Turns a backend's outcome into the decision the integrator sees (same code for every backend).
 * `cost` is the cost of the operation (1 for peek).
 */
export function toDecision(b: Bucket, o: BucketOutcome, cost: number, degraded: boolean): LimitDecision {
  const remainingUnits = b.capacity - o.used;
  const remaining = remainingUnits > 0 ? Math.floor(remainingUnits + 1e-9) : 0;
  const d: LimitDecision = { rule: b.name, allowed: o.allowed, limit: b.limit, remaining, resetSeconds: 0, windowSeconds: b.windowSeconds, unit: b.unit, capacity: b.capacity };
  if (o.allowed) {
    d.resetSeconds = ceilSeconds(msFor(o.used, b));
  } else {
    // Wait until used' + cost <= capacity. A cost larger than the whole capacity can never fit:
    // the client is told to wait until the bucket is empty, and is refused again then.
    const excess = cost > b.capacity ? o.used : o.used + cost - b.capacity;
    const retry = Math.max(1, ceilSeconds(msFor(excess, b)));
    d.retryAfterSeconds = retry;
    d.resetSeconds = retry;
  }
  if (degraded) d.degraded = true;
  return d;
}

/**
 * Checks an operation's cost: a finite number >= 0 (fractions allowed). Anything else is caller
 * misuse and throws a TypeError, which the pipeline turns into a denial: never into "allow".
 */
export function checkCost(cost: unknown): number {
  if (typeof cost !== 'number' || !Number.isFinite(cost) || cost < 0) throw new TypeError(`rate-limit cost must be a finite number >= 0, got ${String(cost)}`);
  return cost;
}
