/**
 * Chain rows packed for verification at scale (AU-9(3), R17a4-6: a scheduled verification, or an
 * examiner's, over six years of records). Two costs dominated verification: handing every row
 * across a thread as four small strings, and hashing each record through a fresh string and
 * Buffer. A packed page is a few long strings and two typed arrays (storage/types.ts
 * PackedChainPage), which clone across a thread as a handful of copies, and checkChainPage hashes
 * the rows where they lie in two page-sized buffers: no per-row allocation but the hash calls.
 *
 * checkChainPage is the fast acceptance test of ./verify.ts, row by row and with the same
 * meaning: a row continues the chain when its key and the `seq` inside its text are the expected
 * seq, its text hashes to its stored leaf hash (RFC 9162 leaf: SHA-256(0x00 || UTF-8 text)), and
 * its stored chain hash is SHA-256(0x01 || previous stored chain hash || its stored leaf hash). A
 * row that fails ends the run; ./verify.ts then reads the rows again one by one and says what is
 * wrong (./chain.ts checkLink). Nothing here decides that a ledger is broken, only how far it is
 * intact. It runs on the verifier's hashing thread (./verify-worker.ts) or inline.
 */
import { isAscii } from 'node:buffer';
import { hash } from 'node:crypto';
import type { ChainRow, PackedChainPage } from '../storage/types.js';

/** A stored hash that is not 64 characters long, packed so that no check can accept it. */
const UNUSABLE = 'x'.repeat(64);

/** A raw row as better-sqlite3 returns `SELECT seq, canonical, leaf_hash, chain_hash`. */
export type RawChainRow = readonly [number, string, string, string];

/**
 * Packs rows (in seq order, as a store returns them) into one page. Each text is encoded to UTF-8
 * on its own, exactly as leafHash() encodes it, so a text holding a lone surrogate (never written
 * by Rampart) gives the bytes that the row-by-row check would hash.
 *
 * @example
 * const page = packChainRows((await store.readChain(1, 10_000)).map((r) => [r.seq, r.canonical, r.leafHash, r.chainHash]));
 */
export function packChainRows(rows: readonly RawChainRow[]): PackedChainPage {
  const n = rows.length;
  const seqs = new Float64Array(n);
  const lens = new Uint32Array(n);
  const texts = new Array<string>(n);
  const hashes = new Array<string>(2 * n);
  let chars = 0;
  for (let i = 0; i < n; i++) {
    const r = rows[i]!;
    seqs[i] = r[0];
    texts[i] = r[1];
    chars += r[1].length;
    const ok = r[2].length === 64 && r[3].length === 64;
    hashes[2 * i] = ok ? r[2] : UNUSABLE;
    hashes[2 * i + 1] = ok ? r[3] : UNUSABLE;
  }
  // All ASCII (the rule for Rampart's records): one encoding of the joined texts. Otherwise row
  // by row, so that no character is formed across two rows.
  const joined = texts.join('');
  let bytes = Buffer.allocUnsafeSlow(1 + chars);
  bytes[0] = 0;
  if (bytes.write(joined, 1, 'utf8') === chars && Buffer.byteLength(joined, 'utf8') === chars) {
    for (let i = 0; i < n; i++) lens[i] = texts[i]!.length;
  } else {
    let total = 1;
    for (let i = 0; i < n; i++) total += lens[i] = Buffer.byteLength(texts[i]!, 'utf8');
    bytes = Buffer.allocUnsafeSlow(total);
    bytes[0] = 0;
    for (let i = 0, at = 1; i < n; at += lens[i]!, i++) bytes.write(texts[i]!, at, 'utf8');
  }
  return { seqs, lens, bytes, hashes: hashes.join('') };
}

/**
 * A page from the four values of one aggregate query over consecutive rows (the SQLite reader:
 * json_group_array(seq), json_group_array(octet_length(canonical)), 0x00 followed by
 * group_concat(canonical, '') as a BLOB, and group_concat(leaf_hash || chain_hash, '')), all taken
 * in one pass over the same rows, so that element i of each is the same row. Undefined when the
 * page cannot be used as it is (a text that is not ASCII, so that the stored bytes might not be
 * the ones the row-by-row check hashes; a hash that is not 64 characters; counts that disagree):
 * the caller then packs the rows one by one with packChainRows.
 *
 * @example
 * const page = pageFromAggregate(seqsJson, lensJson, bytes, hashes) ?? packChainRows(rows());
 */
export function pageFromAggregate(seqsJson: string, lensJson: string, bytes: Uint8Array | null, hashes: string | null): PackedChainPage | undefined {
  const seqList = JSON.parse(seqsJson) as unknown;
  const lenList = JSON.parse(lensJson) as unknown;
  if (!Array.isArray(seqList) || !Array.isArray(lenList) || seqList.length !== lenList.length) return undefined;
  const n = seqList.length;
  if (n === 0) return { seqs: new Float64Array(0), lens: new Uint32Array(0), bytes: Buffer.alloc(1), hashes: '' };
  if (bytes === null || hashes === null || hashes.length !== 128 * n || bytes[0] !== 0) return undefined;
  const seqs = new Float64Array(n);
  const lens = new Uint32Array(n);
  let total = 1;
  for (let i = 0; i < n; i++) {
    const s = seqList[i] as unknown;
    const l = lenList[i] as unknown;
    if (typeof s !== 'number' || typeof l !== 'number' || !Number.isSafeInteger(s) || !Number.isSafeInteger(l) || l < 0) return undefined;
    seqs[i] = s;
    lens[i] = l;
    total += l;
  }
  // ASCII only: stored bytes that are not (never written by Rampart) are hashed as the row-by-row
  // check hashes them, decoded to text and encoded again, by packChainRows.
  if (total !== bytes.length || !isAscii(bytes)) return undefined;
  return { seqs, lens, bytes, hashes };
}

/** The canonical text of row i, which starts at byte `at` of the page (after the leading 0x00). */
export function textOf(page: PackedChainPage, i: number, at: number): string {
  return Buffer.from(page.bytes.buffer, page.bytes.byteOffset, page.bytes.byteLength).toString('utf8', at, at + page.lens[i]!);
}

/** Row i of a packed page, starting at byte `at`, as a ChainRow (for callers that want rows). */
export function rowOf(page: PackedChainPage, i: number, at: number): ChainRow {
  return {
    seq: page.seqs[i]!,
    canonical: textOf(page, i, at),
    leafHash: page.hashes.slice(128 * i, 128 * i + 64),
    chainHash: page.hashes.slice(128 * i + 64, 128 * i + 128),
  };
}

/**
 * Where the decoded hashes of a checked page lie (PageCheck.hashes): HASHES_HEAD bytes (0x01 and
 * the chain hash the page continues), then per row its leaf hash and its chain hash, 32 bytes each.
 */
export const HASHES_HEAD = 33;

/** The offset of row i's leaf hash in PageCheck.hashes; its chain hash follows it. */
export function leafOffset(i: number): number {
  return HASHES_HEAD + 64 * i;
}

export interface PageCheck {
  /** How many rows, from the first, continue the chain. */
  ok: number;
  /** The stored hashes, decoded (valid for the `ok` rows): see HASHES_HEAD and leafOffset. */
  hashes: Buffer;
}

const HEX64 = /^[0-9a-f]{64}$/;
/**
 * quickSeqOf (./chain.ts) over the UTF-8 bytes [start, end): the same answer as over the text,
 * since UTF-8 keeps ASCII characters as they are and writes every other one with bytes >= 0x80.
 * The last `,"seq":` is searched for from the end by hand: it lies within the last hundred bytes
 * of a record, nearer than a native search costs to set up.
 */
function quickSeqBytes(b: Uint8Array, start: number, end: number): number | undefined {
  let i = end - 7;
  // , " s e q " :
  while (i >= start && !(b[i] === 44 && b[i + 1] === 34 && b[i + 2] === 115 && b[i + 3] === 101 && b[i + 4] === 113 && b[i + 5] === 34 && b[i + 6] === 58)) i--;
  if (i < start) return undefined;
  let n = 0;
  let j = i + 7;
  const first = j;
  for (; j < end; j++) {
    const c = b[j]!;
    if (c < 48 || c > 57) break;
    n = n * 10 + (c - 48);
  }
  if (j === first || j >= end) return undefined;
  const stop = b[j];
  return (stop === 44 || stop === 125) && Number.isSafeInteger(n) ? n : undefined;
}

/**
 * Checks the rows of `page` in order as the successors of a verified prefix that ends at seq
 * `expected - 1` with chain hash `prevChainHash` (hex), and returns how many of them, from the
 * first, continue the chain (see the header). Pure and synchronous; `page.bytes` is changed only
 * for the duration of each hash call (the byte before a row holds the 0x00 leaf prefix meanwhile).
 *
 * @example
 * const { ok } = checkChainPage(page, 1, GENESIS_HASH);
 * if (ok < page.seqs.length) { ... row `ok` needs the full check (./chain.ts checkLink) ... }
 */
export function checkChainPage(page: PackedChainPage, expected: number, prevChainHash: string): PageCheck {
  const n = page.seqs.length;
  const { lens, seqs, hashes: hx, bytes } = page;
  if (lens.length !== n || hx.length !== 128 * n) throw new TypeError('packed chain page: malformed (row counts disagree)');
  const hashes = Buffer.allocUnsafeSlow(HASHES_HEAD + 64 * n);
  if (n === 0 || !HEX64.test(prevChainHash)) return { ok: 0, hashes };

  // The stored hashes are compared as bytes, so they must be what a computed hash encodes to:
  // lower-case hex. Buffer#write stops at the first character that is not hex; an upper-case
  // digit ends the run at its row too. Rows beyond are left to the row-by-row check.
  hashes[0] = 0x01;
  hashes.write(prevChainHash, 1, 32, 'hex');
  let limit = Math.min(n, Math.floor(hashes.write(hx, HASHES_HEAD, 64 * n, 'hex') / 64));
  const upper = UPPER_HEX.exec(hx);
  if (upper) limit = Math.min(limit, Math.floor(upper.index / 128));

  const ab = bytes.buffer;
  const base = bytes.byteOffset;
  const hab = hashes.buffer;
  let start = 0;
  for (let i = 0; i < limit; i++) {
    const seq = expected + i;
    const end = start + lens[i]!;
    if (end >= bytes.length) return { ok: i, hashes };
    // Row i is bytes[start + 1, end + 1); bytes[start] is the previous row's last (or the 0x00).
    if (seqs[i] !== seq || quickSeqBytes(bytes, start + 1, end + 1) !== seq) return { ok: i, hashes };
    const save = bytes[start]!;
    bytes[start] = 0;
    // One-shot hashes as latin1 ("binary") strings: far cheaper on Node 20 than a Buffer digest (merkle.ts).
    const leaf = hash('sha256', new Uint8Array(ab, base + start, end + 1 - start), 'binary');
    bytes[start] = save;
    if (!sameBytes(leaf, hashes, leafOffset(i))) return { ok: i, hashes };
    // 0x01 || previous chain hash || this leaf hash lie contiguous in `hashes` behind byte 64i
    // (the previous leaf's last byte, or the 0x01 of the head for the first row).
    const o = 64 * i;
    const keep = hashes[o]!;
    hashes[o] = 0x01;
    const chain = hash('sha256', new Uint8Array(hab, o, 65), 'binary');
    hashes[o] = keep;
    if (!sameBytes(chain, hashes, leafOffset(i) + 32)) return { ok: i, hashes };
    start = end;
  }
  return { ok: limit, hashes };
}

const UPPER_HEX = /[A-F]/;

/** Whether the 32 latin1 characters of `digest` are the 32 bytes at b[off]. */
function sameBytes(digest: string, b: Uint8Array, off: number): boolean {
  if (digest.length !== 32) return false;
  for (let k = 0; k < 32; k++) if (digest.charCodeAt(k) !== b[off + k]) return false;
  return true;
}
