/**
 * `buffered` durability (DESIGN.md, the ledger): a LedgerStore that acknowledges a batch once it
 * is fsynced in the local spill journal (./spill-journal.ts) and moves it into the real store in
 * the background, in larger batches. The writer (./writer.ts) runs over it unchanged: it assigns
 * seqs, chains, seals and group-commits exactly as in strict mode, so a buffered record is the
 * same record, only durable in the journal first.
 *
 * Nothing acknowledged is lost: a record is acknowledged only once fsynced in the journal; the
 * journal releases an entry only after the store committed it; at open, whatever the journal
 * still holds beyond the store's head is replayed into the store before anything new is taken.
 * Replaying an entry the store already has is harmless (records at or below its head are skipped;
 * the store's continuity check refuses anything else).
 *
 * When the store is down or slow, the journal keeps taking records up to its bound while the
 * mover retries with backoff; `degraded` is true and an alert is raised (AU-5). When the journal
 * is full, appends are refused with RAMPART_LEDGER_SPILL_FULL and the gateway answers 503: never
 * a silent drop.
 */
import type { AppendItem, ChainHead, IndexEntry, LedgerStore, SealedBody } from '../storage/types.js';
import { chainHash, ChainContinuityError, GENESIS_HASH } from './chain.js';
import { openSpillJournal, type SpillPosition } from './spill-journal.js';
import type { LedgerRecord, StoredRecord } from './record.js';

export interface BufferedStoreOptions {
  dir: string;
  maxBytes: number;
  /** Records per store append when moving (default 2048). */
  moveBatch?: number;
  onAlert?: (err: unknown) => void;
  /** Called after each move commits (metrics; checkpoints follow the journal, which the store catches up with). */
  onMoved?: (records: number) => void;
}

export interface BufferedStore extends LedgerStore {
  /** True while the store is failing and records wait in the journal. */
  readonly degraded: boolean;
  /** Bytes waiting in the journal. */
  readonly spilledBytes: number;
  /** Resolves once everything acknowledged so far is in the store. */
  drained(): Promise<void>;
}

/** Batches decoded and waiting for the mover, at most this many records in memory; beyond, it re-reads the journal. */
const MEMORY_RECORDS = 50_000;

export async function openBufferedStore(real: LedgerStore, o: BufferedStoreOptions): Promise<BufferedStore> {
  const journal = await openSpillJournal(o.dir, { maxBytes: o.maxBytes });
  const moveBatch = o.moveBatch ?? 2048;
  const alert = (err: unknown): void => {
    try {
      o.onAlert?.(err);
    } catch {
      // alerts must not stop the mover
    }
  };
  if (journal.truncatedTail) alert(new Error(`ledger spill journal: cut an unacknowledged torn tail (${journal.truncatedTail.bytes} bytes at ${journal.truncatedTail.file}:${journal.truncatedTail.offset})`));

  // 1. Replay what the journal holds beyond the store's head.
  let storeHead = await real.head();
  let released: SpillPosition | undefined;
  let replayed: SpillPosition | undefined;
  for await (const e of journal.entries()) {
    const items = continuing(decode(e.payload), storeHead);
    for (let i = 0; i < items.length; i += moveBatch) await real.append(items.slice(i, i + moveBatch));
    if (items.length > 0) storeHead = { seq: items[items.length - 1]!.stored.record.seq, chainHash: items[items.length - 1]!.stored.chainHash };
    replayed = e.pos;
  }
  if (replayed) {
    await journal.release(replayed);
    released = replayed;
  }

  /** The head of what is acknowledged (journal or store). */
  let head: ChainHead | null = storeHead;
  /** The end of what was handed to the journal (ahead of `head` while appends are in flight). */
  let accepted: ChainHead | null = storeHead;
  /** Failed journal appends so far: a batch sent before a failure and written after it is refused. */
  let failures = 0;
  const queue: { pos: SpillPosition; items: AppendItem[] }[] = [];
  let queuedRecords = 0;
  /** Set when the in-memory queue overflowed: the mover reads the journal from `released` instead. */
  let overflow = false;
  let lastAcked: SpillPosition | undefined = released;
  let moving: Promise<void> | undefined;
  let degraded = false;
  let closed = false;
  let waiters: (() => void)[] = [];

  const settleWaiters = (): void => {
    if (lastAcked && released && released.seq >= lastAcked.seq) {
      const w = waiters;
      waiters = [];
      for (const f of w) f();
    }
  };

  async function moveOnce(): Promise<boolean> {
    let items: AppendItem[] = [];
    let upTo: SpillPosition | undefined;
    if (overflow) {
      for await (const e of journal.entries(released)) {
        const tip = items.length > 0 ? { seq: items[items.length - 1]!.stored.record.seq, chainHash: items[items.length - 1]!.stored.chainHash } : storeHead;
        items.push(...continuing(decode(e.payload), tip));
        upTo = e.pos;
        if (items.length >= moveBatch) break;
      }
      if (!upTo) {
        overflow = false;
        return false;
      }
    } else {
      if (queue.length === 0) return false;
      while (queue.length > 0 && items.length < moveBatch) {
        const q = queue.shift()!;
        queuedRecords -= q.items.length;
        items = items.concat(q.items);
        upTo = q.pos;
      }
    }
    if (items.length > 0) {
      try {
        await real.append(items);
      } catch (err) {
        // A commit whose reply was lost may have landed: continue from the store's own head.
        const h = await real.head().catch(() => undefined);
        if (h && h.seq >= items[items.length - 1]!.stored.record.seq) {
          storeHead = h;
        } else {
          if (!overflow) {
            // Put them back in front, in order.
            queue.unshift({ pos: upTo!, items });
            queuedRecords += items.length;
          }
          throw err;
        }
      }
      storeHead = { seq: items[items.length - 1]!.stored.record.seq, chainHash: items[items.length - 1]!.stored.chainHash };
      o.onMoved?.(items.length);
    }
    await journal.release(upTo!);
    released = upTo;
    settleWaiters();
    return true;
  }

  function kick(): void {
    if (moving || closed) return;
    moving = (async () => {
      let delay = 50;
      for (;;) {
        try {
          if (!(await moveOnce())) break;
          if (degraded) {
            degraded = false;
            alert(new Error('ledger: the store is back; the spill journal is draining'));
          }
          delay = 50;
        } catch (err) {
          if (!degraded) {
            degraded = true;
            alert(Object.assign(new Error(`ledger: the store is failing; records wait in the spill journal (${journal.bytes} bytes of ${journal.maxBytes}): ${(err as Error).message}`), { code: 'RAMPART_LEDGER_DEGRADED', cause: err }));
          }
          if (closed) break;
          await new Promise((r) => setTimeout(r, delay).unref());
          delay = Math.min(delay * 2, 5000);
        }
      }
    })().finally(() => {
      moving = undefined;
      if (!closed && (queue.length > 0 || overflow)) kick();
    });
  }

  const store: BufferedStore = {
    pipelineDepth: 4,
    async append(batch) {
      if (batch.length === 0) return;
      if (closed) throw new Error('ledger: buffered store closed');
      // The same shape checks as the stores (seq continuity is the writer's; the real store re-checks).
      // The writer pipelines batches: each continues the end of what was handed to the journal
      // (`accepted`), not of what is already durable (`head`).
      const first = batch[0]!.stored.record.seq;
      if (first !== (accepted?.seq ?? 0) + 1) throw new ChainContinuityError((accepted?.seq ?? 0) + 1, first);
      const last = batch[batch.length - 1]!.stored;
      const gen = failures;
      accepted = { seq: last.record.seq, chainHash: last.chainHash };
      let pos: SpillPosition;
      try {
        pos = await journal.append([encode(batch)]);
      } catch (err) {
        failures++;
        accepted = head;
        throw err;
      }
      if (gen !== failures) {
        // An earlier batch failed while this one was on its way: this one follows a gap, so it is
        // not acknowledged (its callers get 503), and replay skips it as not continuing the chain.
        throw new Error('ledger: an earlier batch failed; this batch follows it and is not acknowledged');
      }
      head = { seq: last.record.seq, chainHash: last.chainHash };
      lastAcked = pos;
      if (!overflow && queuedRecords + batch.length <= MEMORY_RECORDS) {
        queue.push({ pos, items: [...batch] });
        queuedRecords += batch.length;
      } else if (!overflow) {
        overflow = true;
        queue.length = 0;
        queuedRecords = 0;
      }
      kick();
    },
    async head() {
      return head ? { ...head } : null;
    },
    read: (f, l) => real.read(f, l),
    readLeaves: (f, l) => real.readLeaves(f, l),
    ...(real.readChain ? { readChain: (f: number, l: number) => real.readChain!(f, l) } : {}),
    // Verification's packed pages (one buffer per page) when the store builds them itself.
    ...(real.readChainPacked ? { readChainPacked: (f: number, l: number) => real.readChainPacked!(f, l) } : {}),
    ...(real.readIndex ? { readIndex: (s: readonly number[]) => real.readIndex!(s) } : {}),
    readPrivate: (s) => real.readPrivate(s),
    readBodies: (s) => real.readBodies(s),
    search: (q) => real.search(q),
    searchIndex: (t, f, to, l) => real.searchIndex(t, f, to, l),
    ping: () => real.ping(),
    get degraded() {
      return degraded;
    },
    get spilledBytes() {
      return journal.bytes;
    },
    drained() {
      if (!lastAcked || (released && released.seq >= lastAcked.seq)) return Promise.resolve();
      kick();
      return new Promise<void>((resolve) => waiters.push(resolve));
    },
    async close() {
      // Give the mover a moment to drain what is acknowledged; what remains is replayed at the next open.
      if (!degraded) await Promise.race([store.drained(), new Promise((r) => setTimeout(r, 5000).unref())]);
      closed = true;
      await moving?.catch(() => {});
      await journal.close();
    },
  };
  return store;
}

/**
 * The items of a journal entry that continue `head`: those at or below it are already in the
 * store; an entry whose first new record does not link to it was written after a failed batch and
 * never acknowledged (see append), so it is skipped whole.
 */
function continuing(items: AppendItem[], head: ChainHead | null): AppendItem[] {
  const fresh = items.filter((it) => it.stored.record.seq > (head?.seq ?? 0));
  const first = fresh[0];
  if (!first) return [];
  const linked = first.stored.record.seq === (head?.seq ?? 0) + 1 && chainHash(head?.chainHash ?? GENESIS_HASH, first.stored.leafHash) === first.stored.chainHash;
  return linked ? fresh : [];
}

interface Encoded {
  c: string;
  l: string;
  h: string;
  p?: [string, string];
  b?: [string, string, string][];
  i?: [string, number][];
}

/** One journal entry per batch: the exact stored text and hashes, sealed parts as base64. */
function encode(batch: readonly AppendItem[]): Buffer {
  const out: Encoded[] = batch.map((it) => {
    const e: Encoded = { c: it.stored.canonical, l: it.stored.leafHash, h: it.stored.chainHash };
    if (it.priv) e.p = [it.priv.dekId, it.priv.sealed.toString('base64')];
    if (it.bodies?.length) e.b = it.bodies.map((b) => [b.part, b.dekId, b.sealed.toString('base64')]);
    if (it.index?.length) e.i = it.index.map((x) => [x.tag.toString('base64'), x.ts]);
    return e;
  });
  return Buffer.from(JSON.stringify(out), 'utf8');
}

function decode(payload: Buffer): AppendItem[] {
  const arr = JSON.parse(payload.toString('utf8')) as Encoded[];
  return arr.map((e) => {
    const record = JSON.parse(e.c) as LedgerRecord;
    const stored: StoredRecord = { record, canonical: e.c, leafHash: e.l, chainHash: e.h };
    const seq = record.seq;
    const item: AppendItem = { stored };
    if (e.p) item.priv = { seq, dekId: e.p[0], sealed: Buffer.from(e.p[1], 'base64') };
    if (e.b) item.bodies = e.b.map(([part, dekId, s]): SealedBody => ({ seq, part: part as SealedBody['part'], dekId, sealed: Buffer.from(s, 'base64') }));
    if (e.i) item.index = e.i.map(([t, ts]): IndexEntry => ({ seq, ts, tag: Buffer.from(t, 'base64') }));
    return item;
  });
}
