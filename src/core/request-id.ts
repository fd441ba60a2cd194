/**
 * Request ids: UUID version 7 (RFC 9562 section 5.7): 48 bits of Unix time in milliseconds, then
 * 74 random bits. Time-ordered ids keep the ledger's request-id index append-local: a random
 * (version 4) id lands on a random leaf page of an index that grows with every record, so each
 * insert dirties a page of its own; measured on SQLite over a million records, the request-id
 * index alone cost about 14 us of the storage thread per record with version 4 ids
 * (docs/benchmarks.md, issue 4). The random part (74 bits from the CSPRNG) keeps ids unguessable
 * within a millisecond; the time part says no more than the response's Date header.
 */
import { randomFillSync } from 'node:crypto';

const POOL_IDS = 256;
const pool = Buffer.allocUnsafe(16 * POOL_IDS);
let next = POOL_IDS;
const HEX: string[] = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));

/**
 * A fresh UUIDv7 string, e.g. `019ac9a4-3b1e-7c2d-9f00-5e6d7c8b9a0f`.
 *
 * @example
 * const id = requestId(); // sorts after every id made in an earlier millisecond
 */
export function requestId(now: number = Date.now()): string {
  if (next === POOL_IDS) {
    randomFillSync(pool);
    next = 0;
  }
  const o = 16 * next++;
  // unix_ts_ms, big-endian, in bytes 0-5 (Date.now() < 2^48 until the year 10889).
  const hi = Math.floor(now / 0x100000000);
  const lo = now >>> 0;
  pool[o] = (hi >>> 8) & 0xff;
  pool[o + 1] = hi & 0xff;
  pool[o + 2] = (lo >>> 24) & 0xff;
  pool[o + 3] = (lo >>> 16) & 0xff;
  pool[o + 4] = (lo >>> 8) & 0xff;
  pool[o + 5] = lo & 0xff;
  pool[o + 6] = 0x70 | (pool[o + 6]! & 0x0f); // version 7
  pool[o + 8] = 0x80 | (pool[o + 8]! & 0x3f); // variant 10
  const h = (i: number): string => HEX[pool[o + i]!]!;
  return `${h(0)}${h(1)}${h(2)}${h(3)}-${h(4)}${h(5)}-${h(6)}${h(7)}-${h(8)}${h(9)}-${h(10)}${h(11)}${h(12)}${h(13)}${h(14)}${h(15)}`;
}
