/**
 * The short-window features the detectors read (FC-3, ASVS 8.1.4, API1): counters over a sliding
 * window of fixed slots, and the set of object ids a principal touched recently.
 *
 * No timers: a window rolls forward when an event (or tick) brings a later time, and a jump
 * longer than the window clears it at once, so an idle principal costs nothing and a roll costs
 * at most `slots` steps. Both structures have a fixed size per principal.
 */

/**
 * Counters over the last `slots` slots of `slotMs` (by default 6 x 10 s: the last 50-60 s,
 * the current slot being partial), with a running sum per field so that reading is O(1). The
 * numbers live in a Float64Array that may be shared with other state of the same principal
 * (one allocation per principal): `fields` sums, then `slots x fields` counters, from `offset`.
 *
 * @example
 * const w = new SlidingCounts(2, 6, 10_000);
 * w.roll(0); w.add(0, 1); w.add(1, 250);
 * w.roll(65_000);            // more than a window later: cleared
 * w.sum(0);                  // 0
 */
export class SlidingCounts {
  /** Absolute slot number of the current slot (floor(t / slotMs)); -1 before the first roll. */
  head = -1;

  /** Numbers a window of this shape takes in a shared store. */
  static size(fields: number, slots: number): number {
    return fields * (slots + 1);
  }

  constructor(
    private readonly fields: number,
    private readonly slots: number,
    private readonly slotMs: number,
    private readonly store: Float64Array = new Float64Array(SlidingCounts.size(fields, slots)),
    private readonly offset = 0,
  ) {}

  /** Moves the window to time t (ms). An earlier t leaves it where it is (counts go to the current slot). */
  roll(t: number): void {
    const slot = Math.floor(t / this.slotMs);
    if (slot <= this.head) return;
    const { fields, slots, store, offset } = this;
    if (this.head < 0 || slot - this.head >= slots) {
      store.fill(0, offset, offset + fields * (slots + 1));
    } else {
      for (let s = this.head + 1; s <= slot; s++) {
        const base = offset + fields + (s % slots) * fields;
        for (let f = 0; f < fields; f++) {
          store[offset + f]! -= store[base + f]!;
          store[base + f] = 0;
        }
      }
    }
    this.head = slot;
  }

  add(field: number, v: number): void {
    const o = this.offset;
    this.store[o + this.fields + (this.head % this.slots) * this.fields + field]! += v;
    this.store[o + field]! += v;
  }

  sum(field: number): number {
    return this.store[this.offset + field]!;
  }
}

/**
 * The distinct ids (hashed to 32 bits) seen within `windowMs`, at most `cap` of them, each with
 * a flag (for object ids: "was denied"). One Float64Array of [hash, lastSeen x 2 + flag] pairs,
 * scanned linearly (cap is small: 64 by default; the array starts at 8 entries and doubles),
 * 16 bytes an entry; when full, the least recently seen entry gives way. Expiry scans only when
 * the oldest entry can have expired.
 *
 * @example
 * const ids = new RecentIds(64, 600_000);
 * ids.touch(hashId('acc_1'), 0, false);  // true: new
 * ids.touch(hashId('acc_1'), 5, true);   // false: seen; now flagged
 * ids.size; ids.flagged;                 // 1, 1
 */
export class RecentIds {
  /** Number of entries flagged. */
  flagged = 0;
  size = 0;
  private data: Float64Array;
  /** A lower bound of the oldest entry's lastSeen (entries only get younger). */
  private oldest = Infinity;

  constructor(
    private readonly cap: number,
    private readonly windowMs: number,
  ) {
    this.data = new Float64Array(2 * Math.min(8, cap));
  }

  /** Records id `h` at time t; returns true when it was not seen within the window. */
  touch(h: number, t: number, flag: boolean): boolean {
    this.expire(t);
    const d = this.data;
    const n2 = this.size * 2;
    for (let i = 0; i < n2; i += 2) {
      if (d[i] === h) {
        const st = d[i + 1]!;
        const wasFlagged = st % 2 === 1;
        if (flag && !wasFlagged) this.flagged++;
        d[i + 1] = t * 2 + (flag || wasFlagged ? 1 : 0);
        return false;
      }
    }
    let at = n2;
    if (n2 === d.length) {
      if (this.size < this.cap) this.grow();
      else {
        // Full: the least recently seen gives way.
        at = 0;
        for (let i = 2; i < n2; i += 2) if (d[i + 1]! < d[at + 1]!) at = i;
        if (d[at + 1]! % 2 === 1) this.flagged--;
      }
    }
    if (at === n2) this.size++;
    const e = this.data;
    e[at] = h;
    e[at + 1] = t * 2 + (flag ? 1 : 0);
    if (flag) this.flagged++;
    if (t < this.oldest) this.oldest = t;
    return true;
  }

  /** Forgets ids last seen before t - windowMs. */
  expire(t: number): void {
    const limit = t - this.windowMs;
    if (limit <= this.oldest) return;
    const d = this.data;
    const n2 = this.size * 2;
    let w = 0;
    let oldest = Infinity;
    for (let i = 0; i < n2; i += 2) {
      const st = d[i + 1]!;
      if (st < limit * 2) {
        if (st % 2 === 1) this.flagged--;
        continue;
      }
      const ti = Math.floor(st / 2);
      if (ti < oldest) oldest = ti;
      d[w] = d[i]!;
      d[w + 1] = st;
      w += 2;
    }
    this.size = w / 2;
    this.oldest = oldest;
  }

  private grow(): void {
    const d = new Float64Array(2 * Math.min(this.cap, this.data.length));
    d.set(this.data);
    this.data = d;
  }
}

const MAX_HASHED = 512;

/**
 * 32-bit FNV-1a of an id (its first 512 UTF-16 units and its length), so that memory per id is
 * fixed whatever the client sends. Collisions only ever merge two ids (undercount), never split.
 *
 * @example
 * hashId('acc_alice_1') === hashId('acc_alice_1'); // true
 */
export function hashId(s: string): number {
  let h = 0x811c9dc5;
  const n = s.length < MAX_HASHED ? s.length : MAX_HASHED;
  for (let i = 0; i < n; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  h ^= s.length;
  h = Math.imul(h, 0x01000193);
  return h >>> 0;
}
