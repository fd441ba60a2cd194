/**
 * The hash chain over ledger records, with RFC 9162 domain separation (§2.1.1): a leaf is hashed
 * with a 0x00 prefix and an interior value with 0x01, so a leaf can never be passed off as a node.
 * The same leaf hashes feed the Merkle checkpoints later, which is why the chain hashes the
 * exact canonical JSON and nothing else.
 *
 *   leafHash_n  = SHA-256(0x00 || canonical_n)
 *   chainHash_n = SHA-256(0x01 || chainHash_{n-1} || leafHash_n),  chainHash_0 = 32 zero bytes
 *
 * Sequence numbers start at 1, so the head's seq is also the number of records (the tree size of
 * a later checkpoint). AU-9(3), R17a4-7.
 */
import { hash } from 'node:crypto';
import { canonicalize } from './canonical.js';
import type { LedgerRecord, StoredRecord } from './record.js';

/** The chain hash "before" the first record: 32 zero bytes, hex. */
export const GENESIS_HASH = '0'.repeat(64);

/** 0x01 || prev || leaf, reused: hashing is synchronous, so one buffer serves every call. */
const node = Buffer.alloc(65);
node[0] = 0x01;

// One-shot crypto.hash (Node >= 20.12) costs about half of a createHash object per call, and
// this runs for every record.

/** hex SHA-256(0x00 || utf8(canonical)). */
export function leafHash(canonical: string): string {
  // U+0000 is the single byte 0x00 in UTF-8: the RFC 9162 leaf prefix.
  return hash('sha256', `\u0000${canonical}`, 'hex');
}

/** hex SHA-256(0x01 || prev || leaf), both given as hex of 32 bytes. */
export function chainHash(prevChainHash: string, leaf: string): string {
  // Buffer#write stops at the first character that is not hex, so a stored hash that is not 64
  // hex digits writes fewer than 32 bytes: it can never link (hashing the garbage would hide it).
  if (prevChainHash.length !== 64 || leaf.length !== 64 || node.write(prevChainHash, 1, 'hex') !== 32 || node.write(leaf, 33, 'hex') !== 32) {
    return 'invalid';
  }
  return hash('sha256', node, 'hex');
}

/**
 * Turns a complete chained record into what the store keeps: the canonical JSON that is hashed,
 * its leaf hash, and the chain hash linking it to `prevChainHash`.
 *
 * @example
 * const first = buildStoredRecord({ ...record, seq: 1 }, GENESIS_HASH);
 * const second = buildStoredRecord({ ...next, seq: 2 }, first.chainHash);
 */
export function buildStoredRecord(record: LedgerRecord, prevChainHash: string): StoredRecord {
  const canonical = canonicalize(record);
  const leaf = leafHash(canonical);
  return { record, canonical, leafHash: leaf, chainHash: chainHash(prevChainHash, leaf) };
}

/**
 * A store refused a batch because its sequence numbers do not continue the head exactly (a gap,
 * an overlap, or a second writer on the same chain). Nothing of the batch was written.
 */
export class ChainContinuityError extends Error {
  readonly code = 'RAMPART_LEDGER_SEQ_CONFLICT' as const;
  readonly expectedSeq: number;
  readonly gotSeq: number;
  constructor(expectedSeq: number, gotSeq: number, message?: string) {
    super(message ?? `ledger append refused: expected seq ${expectedSeq}, got ${gotSeq}`);
    this.name = 'ChainContinuityError';
    this.expectedSeq = expectedSeq;
    this.gotSeq = gotSeq;
  }
}

/** What checkBatchContinues looks at in an append item (storage's AppendItem has this shape). */
export interface SeqLabelledItem {
  stored: StoredRecord;
  priv?: { seq: number } | undefined;
  bodies?: readonly { seq: number }[] | undefined;
  index?: readonly { seq: number }[] | undefined;
}

/**
 * Throws ChainContinuityError unless the batch's seqs are headSeq+1, headSeq+2, ... and the sealed
 * private part, every body and every index entry of an item carry its record's seq (a mislabelled
 * one would be stored under, and purged with, another record). Every backend calls this before
 * its append transaction, so continuity is enforced by the store and not only by the writer.
 * AU-9(3), R17a4-7.
 *
 * @example
 * checkBatchContinues(head?.seq ?? 0, batch); // throws ChainContinuityError on a gap or a mislabel
 */
export function checkBatchContinues(headSeq: number, batch: readonly SeqLabelledItem[]): void {
  for (let i = 0; i < batch.length; i++) {
    const item = batch[i]!;
    const want = headSeq + 1 + i;
    const got = item.stored.record.seq;
    if (got !== want) throw new ChainContinuityError(want, got);
    if (item.priv !== undefined && item.priv.seq !== got) {
      throw new ChainContinuityError(want, item.priv.seq, `ledger append refused: private part for seq ${got} is labelled seq ${item.priv.seq}`);
    }
    if (item.bodies) {
      for (const b of item.bodies) {
        if (b.seq !== got) throw new ChainContinuityError(want, b.seq, `ledger append refused: a body for seq ${got} is labelled seq ${b.seq}`);
      }
    }
    if (item.index) {
      for (const e of item.index) {
        if (e.seq !== got) throw new ChainContinuityError(want, e.seq, `ledger append refused: an index entry for seq ${got} is labelled seq ${e.seq}`);
      }
    }
  }
}

export type ChainProblem = 'modified' | 'missing' | 'inserted' | 'reordered' | 'hash-mismatch' | 'seq-gap';

export interface ChainBreak {
  /** The first seq at which the stored ledger differs from an intact chain. */
  seq: number;
  problem: ChainProblem;
  /** One sentence for an operator. */
  detail: string;
}

/** How far `checkLink` looks ahead for the other half of a swapped pair. */
export const LOOKAHEAD = 16;

/**
 * Checks one stored record (`cur`, as read from the store: `cur.record.seq` is the row's key) as
 * the successor of a verified prefix ending at seq `expected - 1` with chain hash `prev`.
 * `ahead` holds the records that follow it in storage order (up to LOOKAHEAD; fewer at the end);
 * they are only consulted once something is wrong, to say what kind of wrong it is.
 *
 * Returns null when `cur` continues the chain, otherwise the first bad seq and its kind:
 * - modified: the canonical JSON no longer hashes to its leaf, is not canonical JSON of a record,
 *   or was re-hashed without recomputing the chain (the next record still links to it).
 * - missing: the record for `expected` is gone (row keys skip it, or the tail was renumbered so
 *   that a later record sits in its place).
 * - inserted: a record that is not part of the chain; skipping it makes the chain link again, or
 *   the records after it were renumbered to make room.
 * - reordered: two records exchanged places.
 * - hash-mismatch: the stored chain hash itself was altered (neither neighbour links to it).
 * - seq-gap: the stored seqs skip numbers although the record itself continues the chain.
 */
export function checkLink(expected: number, prev: string, cur: StoredRecord, ahead: readonly StoredRecord[]): ChainBreak | null {
  const rowSeq = cur.record.seq;
  const parsedSeq = recordSeqOf(cur.canonical);
  const leafOk = leafHash(cur.canonical) === cur.leafHash;
  const linkOk = chainHash(prev, cur.leafHash) === cur.chainHash;

  if (rowSeq !== expected) {
    if (rowSeq < expected) {
      return { seq: rowSeq, problem: 'reordered', detail: `the store returned seq ${rowSeq} after seq ${expected - 1}` };
    }
    if (leafOk && linkOk && parsedSeq === expected) {
      return { seq: expected, problem: 'seq-gap', detail: `stored seqs jump from ${expected - 1} to ${rowSeq}, but that record is seq ${expected} of the chain` };
    }
    return { seq: expected, problem: 'missing', detail: `no record at seq ${expected}; the next stored record is seq ${rowSeq}` };
  }
  if (parsedSeq === expected && leafOk && linkOk) return null;

  const next = ahead[0];
  const nextLinksFromPrev = next !== undefined && chainHash(prev, next.leafHash) === next.chainHash;
  if (nextLinksFromPrev && ahead[1] !== undefined && chainHash(next.chainHash, ahead[1].leafHash) === ahead[1].chainHash) {
    return { seq: expected, problem: 'inserted', detail: `the record stored at seq ${expected} is not part of the chain; the chain continues without it` };
  }
  if (parsedSeq !== undefined && parsedSeq > expected) {
    const partner = ahead.find((r) => recordSeqOf(r.canonical) === expected);
    if (partner && partner.record.seq === parsedSeq) {
      return { seq: expected, problem: 'reordered', detail: `records ${expected} and ${parsedSeq} exchanged places` };
    }
  }
  if (nextLinksFromPrev) {
    return { seq: expected, problem: 'inserted', detail: `the record stored at seq ${expected} is not part of the chain; the chain continues without it` };
  }
  if (parsedSeq === undefined) {
    return { seq: expected, problem: 'modified', detail: `the stored text of seq ${expected} is not the canonical JSON of a record` };
  }
  if (!leafOk) {
    return { seq: expected, problem: 'modified', detail: `the content of seq ${expected} no longer matches its leaf hash` };
  }
  if (parsedSeq > expected) {
    return { seq: expected, problem: 'missing', detail: `record ${expected} is gone; record ${parsedSeq} was renumbered into its place` };
  }
  if (parsedSeq < expected) {
    return { seq: parsedSeq, problem: 'inserted', detail: `record ${parsedSeq} is stored at seq ${expected}: records were inserted before it and the rest renumbered` };
  }
  if (next === undefined || chainHash(cur.chainHash, next.leafHash) === next.chainHash) {
    // Hashes alone cannot say which side of the break was rewritten (this record re-hashed, or
    // its predecessor rewritten together with its own chain hash); a signed checkpoint can.
    return { seq: expected, problem: 'modified', detail: `seq ${expected} does not link to seq ${expected - 1}: one of them was re-hashed after it was written` };
  }
  return { seq: expected, problem: 'hash-mismatch', detail: `the stored chain hash of seq ${expected} links to neither neighbour` };
}

/**
 * The top-level seq of a canonical record text without parsing it: in canonical JSON the members
 * are sorted, and every member after "seq" (stage, status, ts, type, v) is a scalar, so the last
 * `,"seq":` is the top-level one (inside a string a quote is always escaped, so the sequence
 * cannot occur there). Undefined when absent; the full check then explains the problem.
 */
export function quickSeqOf(canonical: string): number | undefined {
  return quickSeqIn(canonical, 0, canonical.length);
}

/**
 * quickSeqOf for the text held in `text` from `start` to `end` (UTF-16 code units), without
 * slicing it out: a packed page holds many records back to back (./packed-chain.ts). Only the
 * range is looked at; a match that would begin before `start` is no match.
 */
export function quickSeqIn(text: string, start: number, end: number): number | undefined {
  if (end - start < 7) return undefined;
  const i = text.lastIndexOf(',"seq":', end - 7);
  if (i < start) return undefined;
  let n = 0;
  let j = i + 7;
  const first = j;
  for (; j < end; j++) {
    const c = text.charCodeAt(j);
    if (c < 48 || c > 57) break;
    n = n * 10 + (c - 48);
  }
  if (j === first || j >= end) return undefined;
  const stop = text.charCodeAt(j);
  return (stop === 44 || stop === 125) && Number.isSafeInteger(n) ? n : undefined;
}

/**
 * The `seq` inside a stored canonical text, or undefined when the text is not the canonical JSON
 * of an object with an integer seq (so a re-serialised or hand-edited row is caught even when its
 * hashes were recomputed to match).
 */
export function recordSeqOf(canonical: string): number | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(canonical);
  } catch {
    return undefined;
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return undefined;
  const seq = (parsed as { seq?: unknown }).seq;
  if (typeof seq !== 'number' || !Number.isSafeInteger(seq)) return undefined;
  try {
    if (canonicalize(parsed) !== canonical) return undefined;
  } catch {
    return undefined;
  }
  return seq;
}

export interface SequenceResult {
  ok: boolean;
  /** Records that continued the chain before the first break (all of them when ok). */
  count: number;
  /** The last record that continued the chain. */
  last: { seq: number; chainHash: string } | null;
  firstBad?: ChainBreak;
}

/**
 * Verifies records held in memory (a page, an export) as a continuation of `prev` (genesis when
 * omitted). verifyChain in ./verify.ts does the same over a store, page by page, and also checks
 * the end against the store's head.
 */
export function verifySequence(records: readonly StoredRecord[], prev: { seq: number; chainHash: string } | null = null): SequenceResult {
  let expected = (prev?.seq ?? 0) + 1;
  let prevHash = prev?.chainHash ?? GENESIS_HASH;
  let last = prev;
  for (let i = 0; i < records.length; i++) {
    const cur = records[i]!;
    const bad = checkLink(expected, prevHash, cur, records.slice(i + 1, i + 1 + LOOKAHEAD));
    if (bad) return { ok: false, count: i, last, firstBad: bad };
    prevHash = cur.chainHash;
    last = { seq: expected, chainHash: cur.chainHash };
    expected++;
  }
  return { ok: true, count: records.length, last };
}
