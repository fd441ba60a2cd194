/**
 * What the model decides, and what the gateway reads back before each request: throttles and
 * blocks in force, per principal, key id or address (FC-3, RSID-1 "respond to red flags", API6).
 *
 * - Restrictions live in their own bounded table, apart from the LRU of behaviour state, so that
 *   evicting a principal's history never lifts its block. Looking one up is a Map get per id
 *   asked about; expired entries go on lookup or at the next tick() past the earliest expiry.
 * - Alerts are deduplicated: one per subject and kind per cool-down. Inside the cool-down a
 *   finding is emitted again only if its action is stronger than the last one, or if it is a
 *   throttle or block and the restriction it would set is no longer in force (an attack that
 *   outlasts its block is blocked again).
 */
import type { AnomalyKind, AnomalyRestriction, AnomalyTarget } from './types.js';
import { KIND_INDEX } from './config.js';
import type { Level } from './score.js';

interface Entry {
  level: 2 | 3;
  until: number;
  kind: AnomalyKind;
  perMinute: number | undefined;
  target: AnomalyTarget;
}

/**
 * The table of throttles and blocks, keyed `p:<principal>`, `k:<keyId>`, `a:<address>`.
 *
 * @example
 * const t = new RestrictionTable(1000);
 * t.set('a:192.0.2.7', 3, 60_000, 'auth-failures', undefined, 'address', 0);
 * t.get('a:192.0.2.7', 1_000)?.level; // 3
 * t.get('a:192.0.2.7', 60_000);       // undefined (expired)
 */
export class RestrictionTable {
  private readonly map = new Map<string, Entry>();
  private nextExpiry = Infinity;

  constructor(private readonly cap: number) {}

  get size(): number {
    return this.map.size;
  }

  get(key: string, now: number): Entry | undefined {
    const e = this.map.get(key);
    if (e === undefined) return undefined;
    if (e.until <= now) {
      this.map.delete(key);
      return undefined;
    }
    return e;
  }

  /** Sets or strengthens; never weakens or shortens a restriction in force at `now`. */
  set(key: string, level: 2 | 3, until: number, kind: AnomalyKind, perMinute: number | undefined, target: AnomalyTarget, now: number): void {
    const cur = this.map.get(key);
    if (cur !== undefined && cur.until > now) {
      if (cur.level > level) return;
      if (cur.level === level && cur.until >= until) return;
    }
    if (cur === undefined && this.map.size >= this.cap) {
      const oldest = this.map.keys().next();
      if (!oldest.done) this.map.delete(oldest.value);
    }
    this.map.set(key, { level, until, kind, perMinute, target });
    if (until < this.nextExpiry) this.nextExpiry = until;
  }

  /** Drops what expired by `now`; O(size) but only when something can have expired. */
  sweep(now: number): void {
    if (now < this.nextExpiry) return;
    let next = Infinity;
    for (const [k, e] of this.map) {
      if (e.until <= now) this.map.delete(k);
      else if (e.until < next) next = e.until;
    }
    this.nextExpiry = next;
  }

  /** The answer restriction() gives for one entry. */
  static view(e: Entry): AnomalyRestriction {
    return { action: e.level === 3 ? 'block' : 'throttle', until: e.until, kind: e.kind, ...(e.perMinute !== undefined ? { perMinute: e.perMinute } : {}), target: e.target };
  }
}

/**
 * Per-subject memory of the last finding of each kind: [at, level] pairs in ANOMALY_KINDS order.
 * Allocated on the first finding only (most subjects never have one).
 */
export type AlertBook = Float64Array;

export function newAlertBook(): AlertBook {
  return new Float64Array(16);
}

/**
 * Whether a finding of `kind` at `level` for a subject should be emitted now (see the header),
 * and if so records it.
 *
 * @example
 * const book = newAlertBook();
 * shouldEmit(book, 'rate-spike', 1, 0, 600_000, false);      // true
 * shouldEmit(book, 'rate-spike', 1, 1_000, 600_000, false);  // false: same level inside the cool-down
 * shouldEmit(book, 'rate-spike', 2, 2_000, 600_000, false);  // true: escalation
 */
export function shouldEmit(book: AlertBook, kind: AnomalyKind, level: Level, t: number, cooldownMs: number, restrictionInForce: boolean): boolean {
  if (level === 0) return false;
  const i = KIND_INDEX[kind] * 2;
  const prevLevel = book[i + 1]!;
  if (prevLevel > 0 && t - book[i]! < cooldownMs && level <= prevLevel) {
    if (level === 1 || restrictionInForce) return false;
  }
  book[i] = t;
  book[i + 1] = level;
  return true;
}
