/**
 * Verifies a stored chain end to end (AU-9(3), R17a4-6): streams the records in pages, checks
 * each against its predecessor (./chain.ts checkLink), checks that the private parts still match
 * the commitments in the chain, and finally that the chain ends exactly at the store's head
 * (chain_head is updated in the same transaction as the records, so a deleted or forged tail
 * shows up). It reports the first seq at which the stored ledger stops being an intact chain.
 *
 * Whoever can write the store can recompute the whole chain and the head; that is caught by the
 * signed checkpoints published outside the store, not here.
 *
 * Speed (R17a4-6: a full run over millions of records on a small machine). Unless `deep` is
 * asked for, pages are read packed (./packed-chain.ts) and checked in a pipeline: while the
 * hashing thread (./chain-hasher.ts) checks page k, the store reads page k+1 and this thread
 * hands page k-1 to `onVerified` (the Merkle tree of ./verify-ledger.ts). The fast test accepts
 * a row only on its seq, its leaf hash and its link; the first row it does not accept, and
 * everything after it, goes through the row-by-row check below, which says what is wrong.
 */
import type { ChainHead, ChainRow, LedgerStore, PackedChainPage } from '../storage/types.js';
import { chainHash, checkLink, GENESIS_HASH, leafHash, LOOKAHEAD, quickSeqOf, type ChainBreak } from './chain.js';
import { createChainHasher } from './chain-hasher.js';
import { leafOffset, packChainRows, rowOf } from './packed-chain.js';
import { verifyPersonalCommit } from './commit.js';
import type { PrivatePart, StoredRecord } from './record.js';
import { storedFromRow } from '../storage/rows.js';
import type { Sealer } from './sealer.js';

export interface VerifyOptions {
  /** Verify from this seq on, trusting the chain hash of the record before it (default 1). */
  fromSeq?: number;
  /** Records per read (default 1000). */
  batch?: number;
  /**
   * Also check private parts against the personal commitments (default true). Sealed parts
   * (schema 6 on) are opened with `sealer`; without one only parts stored in clear are checked.
   */
  checkPrivate?: boolean;
  sealer?: Sealer;
  /**
   * Start after this record, trusting its chain hash, without reading it: the prune point, whose
   * chain hash the caller has checked against the signed prune checkpoint (./verify-ledger.ts).
   */
  after?: { seq: number; chainHash: string };
  /** Called for every record that continues the chain, in order (Merkle roots for checkpoints). */
  onRecord?: (r: ChainRow) => void;
  /**
   * Called for every run of records that continue the chain, in order, with their leaf hashes as
   * bytes: cheaper than onRecord (no row objects) when millions of leaves feed a Merkle tree.
   */
  onVerified?: (run: VerifiedRun) => void;
  /**
   * Check hashes on a second thread while the next page is read (default true; only pages that
   * are followed by another go there, so a small ledger never starts the thread).
   */
  hashThread?: boolean;
  /**
   * Also prove each record's text is canonical JSON by re-serialising it (default true). The
   * scheduled self-verification and large audits use false: hashes, links and seqs are still
   * checked for every record, and a fully recomputed rewrite is caught by the signed checkpoints.
   */
  deep?: boolean;
}

/** Consecutive records that continue the chain (see VerifyOptions.onVerified). */
export interface VerifiedRun {
  /** The seq of the first record. */
  firstSeq: number;
  count: number;
  /** The leaf hash of record firstSeq + i is leaves[leafAt(i), leafAt(i) + 32). */
  leaves: Buffer;
  leafAt(i: number): number;
  /** The stored chain hash (hex) of record firstSeq + i. */
  chainHash(i: number): string;
}

export interface VerifyResult {
  ok: boolean;
  /** Records found intact (when broken: those before the first bad seq). */
  count: number;
  /** The store's head the chain was checked against (null for an empty ledger). */
  head: ChainHead | null;
  firstBad?: ChainBreak;
}

/**
 * @example
 * const r = await verifyChain(storage.ledger);
 * if (!r.ok) console.error(`ledger broken at seq ${r.firstBad!.seq}: ${r.firstBad!.problem}`);
 */
export async function verifyChain(store: LedgerStore, opts: VerifyOptions = {}): Promise<VerifyResult> {
  const fromSeq = opts.after ? opts.after.seq + 1 : (opts.fromSeq ?? 1);
  const sealer = opts.sealer;
  const deep = opts.deep ?? true;
  const onRecord = opts.onRecord;
  const pageSize = opts.batch ?? 1000;
  const checkPrivate = opts.checkPrivate ?? true;
  if (!Number.isSafeInteger(fromSeq) || fromSeq < 1) throw new TypeError('verifyChain: fromSeq must be an integer >= 1');
  if (!Number.isSafeInteger(pageSize) || pageSize < 1) throw new TypeError('verifyChain: batch must be a positive integer');

  let expected = fromSeq;
  let prev = GENESIS_HASH;
  let count = 0;
  let head: ChainHead | null = null;
  // A break found late (an inserted record is only recognised by the one after it) can name a
  // seq already counted: only what comes before the first bad seq counts as intact.
  const fail = (firstBad: ChainBreak): VerifyResult => ({ ok: false, count: Math.max(0, Math.min(count, firstBad.seq - fromSeq)), head, firstBad });

  if (opts.after) {
    prev = opts.after.chainHash;
  } else if (fromSeq > 1) {
    const anchor = (await store.read(fromSeq - 1, 1))[0];
    if (!anchor || anchor.record.seq !== fromSeq - 1) {
      head = await store.head();
      return fail({ seq: fromSeq - 1, problem: 'missing', detail: `no record at seq ${fromSeq - 1} to start from` });
    }
    prev = anchor.chainHash;
  }

  if (!deep) {
    const r = await fastRun(store, { expected, prev }, { pageSize, checkPrivate, sealer, onRecord, onVerified: opts.onVerified, thread: opts.hashThread ?? true });
    count += r.expected - expected;
    expected = r.expected;
    prev = r.prev;
    if (r.bad) {
      head = await store.head();
      return fail(r.bad);
    }
  }

  // Records read but not yet checked (from buf[pos]); at least LOOKAHEAD of them are kept ahead
  // of the cursor. An index rather than shift(): pages are thousands of records long. Rows stay
  // unparsed unless a check needs the record (a break, or a private part to compare).
  let buf: ChainRow[] = [];
  let pos = 0;
  const privates = new Map<number, PrivatePart | Error>();
  let nextRead = expected;
  let atEnd = false;
  /** Once the head has been read: records above it arrived during the run and are not checked. */
  let limit = Number.POSITIVE_INFINITY;

  const fill = async (): Promise<void> => {
    while (!atEnd && buf.length - pos <= LOOKAHEAD) {
      const page = await readPage(store, nextRead, pageSize);
      const last = page[page.length - 1];
      if (!last) {
        atEnd = true;
        break;
      }
      buf = pos > 0 ? buf.slice(pos).concat(page) : buf.concat(page);
      pos = 0;
      nextRead = last.seq + 1;
      if (checkPrivate) {
        const seqs = page.filter((r) => r.canonical.includes('"personalCommit":')).map((r) => r.seq);
        for (const p of await store.readPrivate(seqs)) {
          if (p.plain) privates.set(p.seq, p.plain);
          else if (sealer) privates.set(p.seq, await sealer.openPrivate(p).catch((err: unknown) => (err instanceof Error ? err : new Error(String(err)))));
        }
      }
      if (page.length < pageSize) atEnd = true;
    }
  };

  for (;;) {
    if (buf.length - pos <= LOOKAHEAD) await fill();
    const row = buf[pos];
    if (!row || row.seq > limit) {
      if (limit !== Number.POSITIVE_INFINITY) break;
      // The end of what is stored: compare with the head, and catch up with appends made meanwhile.
      head = await store.head();
      const hs = head?.seq ?? 0;
      if (expected - 1 > hs) {
        return fail({ seq: hs + 1, problem: 'inserted', detail: `records up to seq ${expected - 1} are stored beyond the ledger head (seq ${hs})` });
      }
      limit = hs;
      if (expected - 1 < hs) {
        atEnd = false;
        continue;
      }
      break;
    }
    pos++;
    // The fast path needs no parsed record; the full check (and its lookahead) runs only when
    // the fast path does not accept the row, or when `deep` asks for it.
    const fast = !deep && row.seq === expected && quickSeqOf(row.canonical) === expected && leafHash(row.canonical) === row.leafHash && chainHash(prev, row.leafHash) === row.chainHash;
    const cur = fast && !checkPrivate ? undefined : storedOf(row);
    const bad = fast ? null : checkLink(expected, prev, cur!, buf.slice(pos, pos + LOOKAHEAD).map(storedOf));
    if (bad) {
      head ??= await store.head();
      return fail(bad);
    }
    if (checkPrivate) {
      const p = privates.get(row.seq);
      privates.delete(row.seq);
      const problem = privateProblem(cur!, p);
      if (problem) {
        head ??= await store.head();
        return fail({ seq: row.seq, problem: 'modified', detail: problem });
      }
    }
    prev = row.chainHash;
    expected++;
    count++;
    onRecord?.(row);
    if (opts.onVerified) onVerified1(opts.onVerified, row);
  }

  const hs = head?.seq ?? 0;
  if (expected - 1 < hs) {
    return fail({ seq: expected, problem: 'missing', detail: `the stored records end at seq ${expected - 1}, but the ledger head is seq ${hs}` });
  }
  if (head && prev !== head.chainHash) {
    return fail({ seq: hs, problem: 'hash-mismatch', detail: `the chain hash of seq ${hs} differs from the one recorded as the ledger head` });
  }
  return { ok: true, count, head };
}

/** What the fast run hands on: a page whose first `count` rows continue the chain. */
interface Checked {
  page: PackedChainPage;
  hashes: Buffer;
  count: number;
  firstSeq: number;
}

/**
 * The pipelined fast path (see the header). Returns where the verified prefix ends; `bad` when a
 * private part does not match its record (the chain itself is only ever accepted here: a row the
 * fast test refuses is left to the row-by-row check, from `expected` on).
 */
async function fastRun(
  store: LedgerStore,
  from: { expected: number; prev: string },
  o: { pageSize: number; checkPrivate: boolean; sealer: Sealer | undefined; onRecord: ((r: ChainRow) => void) | undefined; onVerified: ((r: VerifiedRun) => void) | undefined; thread: boolean },
): Promise<{ expected: number; prev: string; bad?: ChainBreak }> {
  let { expected, prev } = from;
  const hasher = createChainHasher({ thread: o.thread });
  const deliver = (c: Checked): void => {
    if (c.count === 0) return;
    if (o.onVerified) {
      const hx = c.page.hashes;
      o.onVerified({ firstSeq: c.firstSeq, count: c.count, leaves: c.hashes, leafAt: leafOffset, chainHash: (i) => hx.slice(128 * i + 64, 128 * i + 128) });
    }
    if (o.onRecord) {
      for (let i = 0, at = 1; i < c.count; at += c.page.lens[i]!, i++) o.onRecord(rowOf(c.page, i, at));
    }
  };
  let next: Promise<PackedChainPage> | undefined = readPacked(store, expected, o.pageSize);
  let pending: Checked | undefined;
  try {
    for (;;) {
      const page = await next!;
      next = undefined;
      const n = page.seqs.length;
      if (n === 0) break;
      const more = n === o.pageSize;
      if (more) next = readPacked(store, page.seqs[n - 1]! + 1, o.pageSize);
      const privates = o.checkPrivate ? readPrivates(store, page, o.sealer) : undefined;
      // Awaited below; if hashing fails first, its failure must not go unhandled meanwhile.
      privates?.catch(() => {});
      const checking = hasher.check(page, expected, prev, more);
      // The previous page goes to the Merkle tree while this one is hashed.
      if (pending) deliver(pending);
      pending = undefined;
      const { ok, hashes } = await checking;
      const checked: Checked = { page, hashes, count: ok, firstSeq: expected };
      if (privates) {
        const opened = await privates;
        for (let i = 0, at = 1; i < ok; at += page.lens[i]!, i++) {
          const p = opened.get(page.seqs[i]!);
          if (p === undefined) continue;
          const problem = privateProblem(storedOf(rowOf(page, i, at)), p);
          if (problem) {
            deliver({ ...checked, count: i });
            return { expected: expected + i, prev: i > 0 ? page.hashes.slice(128 * i - 64, 128 * i) : prev, bad: { seq: expected + i, problem: 'modified', detail: problem } };
          }
        }
      }
      if (ok > 0) prev = page.hashes.slice(128 * ok - 64, 128 * ok);
      expected += ok;
      if (ok < n) {
        deliver(checked);
        break;
      }
      pending = checked;
      if (!more) break;
    }
    if (pending) deliver(pending);
    return { expected, prev };
  } finally {
    // A page read ahead that is not needed any more must not end as an unhandled rejection.
    next?.catch(() => {});
    await hasher.close();
  }
}

/** The packed page at fromSeq: the store's own packing when it has one. */
async function readPacked(store: LedgerStore, fromSeq: number, limit: number): Promise<PackedChainPage> {
  if (store.readChainPacked) return store.readChainPacked(fromSeq, limit);
  return packChainRows((await readPage(store, fromSeq, limit)).map((r) => [r.seq, r.canonical, r.leafHash, r.chainHash] as const));
}

const PERSONAL_COMMIT = Buffer.from('"personalCommit":', 'latin1');

/** The opened private parts of the page's records that commit to one (purged or failing ones as their Error). */
async function readPrivates(store: LedgerStore, page: PackedChainPage, sealer: Sealer | undefined): Promise<Map<number, PrivatePart | Error>> {
  const seqs: number[] = [];
  const { lens } = page;
  const bytes = Buffer.from(page.bytes.buffer, page.bytes.byteOffset, page.bytes.byteLength);
  // One forward scan over the page: an occurrence found beyond a row serves the rows up to it.
  let k = -1;
  for (let i = 0, at = 1; i < lens.length; at += lens[i]!, i++) {
    if (k < at) {
      k = bytes.indexOf(PERSONAL_COMMIT, at);
      if (k < 0) break;
    }
    if (k + PERSONAL_COMMIT.length <= at + lens[i]!) seqs.push(page.seqs[i]!);
  }
  const out = new Map<number, PrivatePart | Error>();
  if (seqs.length === 0) return out;
  for (const p of await store.readPrivate(seqs)) {
    if (p.plain) out.set(p.seq, p.plain);
    else if (sealer) out.set(p.seq, await sealer.openPrivate(p).catch((err: unknown) => (err instanceof Error ? err : new Error(String(err)))));
  }
  return out;
}

/** A row accepted by the row-by-row check, as a one-record run. */
function onVerified1(cb: (r: VerifiedRun) => void, row: ChainRow): void {
  const leaves = Buffer.from(row.leafHash, 'hex');
  cb({ firstSeq: row.seq, count: 1, leaves, leafAt: () => 0, chainHash: () => row.chainHash });
}

/** A page of unparsed rows: the store's readChain when it has one. */
async function readPage(store: LedgerStore, fromSeq: number, limit: number): Promise<ChainRow[]> {
  if (store.readChain) return store.readChain(fromSeq, limit);
  return (await store.read(fromSeq, limit)).map((r) => ({ seq: r.record.seq, canonical: r.canonical, leafHash: r.leafHash, chainHash: r.chainHash }));
}

/** A row as a StoredRecord (`record.seq` is the row's key, as the stores return it). */
function storedOf(row: ChainRow): StoredRecord {
  // The stores' own mapping, which also survives text that does not parse (for the report).
  return storedFromRow({ seq: row.seq, ts: 0, type: 'system.event', outcome: 'info', canonical: row.canonical, leaf_hash: row.leafHash, chain_hash: row.chainHash });
}

/**
 * A private part must match the personal commitment of its record. A missing private part is
 * not a break: personal data is purged at the end of its retention while the chain stays.
 */
function privateProblem(r: StoredRecord, p: PrivatePart | Error | undefined): string | undefined {
  const commit = r.record.personalCommit;
  if (commit === undefined || p === undefined) return undefined;
  if (p instanceof Error) {
    // Purged (its day's key is gone): expected at the end of retention, not a break.
    if ((p as { code?: string }).code === 'RAMPART_DATA_KEY_GONE') return undefined;
    return `the private part of seq ${r.record.seq} does not decrypt (${p.message})`;
  }
  if (p.personal === undefined || p.personalSalt === undefined) return undefined;
  let ok = false;
  try {
    ok = verifyPersonalCommit(p.personal, p.personalSalt, commit);
  } catch {
    ok = false;
  }
  return ok ? undefined : `the private part of seq ${r.record.seq} (principal, address, object ids) no longer matches its commitment`;
}
