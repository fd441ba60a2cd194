/**
 * Streaming records off the box as they are committed (AU-9(2): audit records also on a
 * physically different system; R17a4-9: a backup recordkeeping system). The writer hands every
 * committed batch to onCommitted(); each target (./stream-sinks.ts: a JSON-lines file, or a second
 * Rampart store as a full replica) has its own in-order queue and pump, so a slow or dead target
 * never holds up the gateway or another target.
 *
 * `primary` is the store the writer commits to (in buffered durability the buffered store, whose
 * head is the acknowledged one; records it has not moved yet are simply waited for).
 *
 * Guarantees, per target:
 * - order and continuity: records reach the target in seq order, each batch continuing the
 *   target's own position exactly, and every record is checked to chain onto the one before it
 *   (chainHash = H(prev, leaf)); a target that holds a different history (a chain hash that is
 *   not the primary's at the same seq) is stopped with an alert, never written over;
 * - nothing is lost across failures: a failed write is retried with exponential backoff, the
 *   position is read again from the target first (the write may have landed), and an alert is
 *   raised once per outage (and once when it recovers, through onRecovered);
 * - bounded memory: at most `maxQueue` records and `maxQueueBytes` bytes (canonical text, sealed
 *   parts and bodies, tags) wait per target. Beyond that the queue is dropped
 *   (alert) and the target catches up later by reading from the primary store by seq (read,
 *   readPrivate, readBodies, readIndex): the records are in the primary, durably, so the queue is
 *   only a fast path. The same catch-up serves a target that was behind at start (a new replica,
 *   or records written while the stream was not running) and fills any gap.
 *
 * Not covered: what changes records after they were appended (a legal hold re-sealing items under
 * its key, a KEK re-wrap, a purge or prune) is not streamed; a replica keeps the items as first
 * sealed, under data keys it holds wrapped by the KEK. Crypto-shredding (RSP-7) must therefore also
 * purge the replica's data keys. A replica cannot start below the primary's prune point.
 */
import type { StorageConfig } from '../config/types.js';
import type { AppendItem, ChainHead, SealedBody, SealedPrivate, Storage } from '../storage/types.js';
import { chainHash, GENESIS_HASH, leafHash } from './chain.js';
import { sinkFor, StreamDivergence, type PrimaryStores, type StreamSink, type StreamTarget } from './stream-sinks.js';

export { StreamDivergence, type StreamTarget } from './stream-sinks.js';

export interface RecordStreamOptions {
  /** The store the writer commits to: catch-up reads records from it, a replica copies keys from it. */
  primary: PrimaryStores;
  /** A target failed (once per outage), fell behind, or diverged. */
  onAlert: (err: Error) => void;
  /** A target that had failed is delivering again. */
  onRecovered?: (target: string) => void;
  /** Records waiting per target before its queue is dropped for a catch-up from the primary (default 10 000). */
  maxQueue?: number;
  /** The same bound in bytes of queued records (default 64 MiB): captured bodies make records large. */
  maxQueueBytes?: number;
  /** Records per write to a target (default 500). */
  maxBatch?: number;
  /** Backoff between attempts: first delay and cap, in ms (defaults 200 and 30 000). */
  retry?: { baseMs?: number; maxMs?: number };
  /** At most this often (ms) a replica copies new checkpoints (default 1000; always at close). */
  syncEveryMs?: number;
  /** How long close() lets targets deliver what is queued (default 5000 ms). */
  drainMs?: number;
  /** Opens a replica store (default: openStorage). */
  openStore?: (c: StorageConfig) => Promise<Storage>;
  /** Sinks instead of configured targets (another kind of destination). */
  sinks?: readonly StreamSink[];
}

export interface StreamTargetStatus {
  name: string;
  /** The last seq the target holds, as last read or written (undefined: not known yet). */
  position: number | undefined;
  /** Records committed on the primary that the target does not hold yet. */
  lag: number;
  state: 'ok' | 'failing' | 'diverged';
  lastError?: string;
}

export interface RecordStream {
  /** Called by the writer with each committed batch, in order; never throws, never waits. */
  onCommitted(items: readonly AppendItem[]): void;
  /** The largest lag of any target, in records. */
  readonly lag: number;
  status(): StreamTargetStatus[];
  /** Lets targets deliver what is queued (up to drainMs), copies checkpoints, closes the targets. */
  close(): Promise<void>;
}

/**
 * @example
 * const stream = createRecordStream(config.ledger.stream, { primary: storage, onAlert });
 * const ledger = await createLedger(storage.ledger, { ..., onCommitted: (items) => stream.onCommitted(items) });
 */
export function createRecordStream(targets: readonly StreamTarget[], opts: RecordStreamOptions): RecordStream {
  if (!opts || !opts.primary || typeof opts.onAlert !== 'function') throw new TypeError('record stream: opts.primary and opts.onAlert are required');
  const maxQueue = opts.maxQueue ?? 10_000;
  const maxBatch = opts.maxBatch ?? 500;
  if (!(maxQueue >= 1) || !(maxBatch >= 1)) throw new TypeError('record stream: maxQueue and maxBatch must be at least 1');
  const sinks = [...targets.map((t) => sinkFor(t, opts.primary, opts.openStore)), ...(opts.sinks ?? [])];
  const maxQueueBytes = opts.maxQueueBytes ?? 64 * 1024 * 1024;
  const pumps = sinks.map((s) => new Pump(s, { ...opts, maxQueue, maxQueueBytes, maxBatch }));
  let closed = false;
  return {
    onCommitted(items) {
      if (closed || items.length === 0) return;
      for (const p of pumps) p.push(items);
    },
    get lag() {
      return pumps.reduce((m, p) => Math.max(m, p.lag), 0);
    },
    status: () => pumps.map((p) => p.status()),
    async close() {
      if (closed) return;
      closed = true;
      await Promise.all(pumps.map((p) => p.close()));
    },
  };
}

type PumpOptions = RecordStreamOptions & { maxQueue: number; maxQueueBytes: number; maxBatch: number };

/** One target's queue and the loop that delivers it. */
class Pump {
  readonly #sink: StreamSink;
  readonly #o: PumpOptions;
  #queue: AppendItem[] = [];
  #queueBytes = 0;
  /** The target's position; undefined until read (again, after a failure). */
  #pos: ChainHead | null | undefined;
  /** The last position known, for lag while #pos is being re-read. */
  #known = 0;
  /** The highest seq committed on the primary that this pump knows of. */
  #highest = 0;
  #state: 'ok' | 'failing' | 'diverged' = 'ok';
  #lastError: string | undefined;
  #attempt = 0;
  #open = false;
  #running: Promise<void> | undefined;
  #timer: NodeJS.Timeout | undefined;
  #overflowed = false;
  #lastSync = 0;
  #closing = false;

  constructor(sink: StreamSink, o: PumpOptions) {
    this.#sink = sink;
    this.#o = o;
    this.#kick();
  }

  get lag(): number {
    return Math.max(0, this.#highest - this.#known);
  }

  status(): StreamTargetStatus {
    return {
      name: this.#sink.name,
      position: this.#pos === undefined ? undefined : (this.#pos?.seq ?? 0),
      lag: this.lag,
      state: this.#state,
      ...(this.#lastError !== undefined ? { lastError: this.#lastError } : {}),
    };
  }

  push(items: readonly AppendItem[]): void {
    this.#highest = Math.max(this.#highest, items[items.length - 1]!.stored.record.seq);
    if (this.#state === 'diverged') return;
    let bytes = 0;
    for (const it of items) bytes += sizeOf(it);
    if (this.#queue.length + items.length > this.#o.maxQueue || this.#queueBytes + bytes > this.#o.maxQueueBytes) {
      // The primary holds them durably: drop the fast path, catch up from there (see header).
      this.#dropQueue();
      if (!this.#overflowed) {
        this.#overflowed = true;
        this.#alert(new Error(`ledger stream ${this.#sink.name}: more than ${this.#o.maxQueue} records (or ${this.#o.maxQueueBytes} bytes) behind; its queue was dropped and it will catch up from the primary store`));
      }
    } else {
      for (const it of items) this.#queue.push(it);
      this.#queueBytes += bytes;
    }
    this.#kick();
  }

  async close(): Promise<void> {
    this.#closing = true;
    const deadline = Date.now() + (this.#o.drainMs ?? 5000);
    // A target that delivers is given until the deadline; one that is failing is not waited for.
    while (this.#state === 'ok' && this.lag > 0 && Date.now() < deadline) {
      this.#kick();
      if (!this.#running) break;
      await Promise.race([this.#running, sleep(Math.max(0, deadline - Date.now()))]);
    }
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
    await this.#running?.catch(() => {});
    if (this.#open && this.#state === 'ok') await this.#sink.sync?.().catch((err: unknown) => this.#alert(asError(err)));
    this.#open = false;
    await this.#sink.close().catch(() => {});
  }

  #alert(err: Error): void {
    try {
      this.#o.onAlert(err);
    } catch {
      // An alert sink that throws must not stop the stream.
    }
  }

  #kick(): void {
    if (this.#running || this.#timer || this.#state === 'diverged') return;
    if (this.#closing && this.#state !== 'ok') return;
    this.#running = this.#loop().finally(() => {
      this.#running = undefined;
      // Records pushed after the loop found nothing to do, but before it ended, still go out.
      if (!this.#timer && this.#state === 'ok' && !this.#closing && (this.#queue.length > 0 || this.lag > 0)) this.#kick();
    });
  }

  /** Delivers until the target holds everything known, or a failure schedules a retry. */
  async #loop(): Promise<void> {
    try {
      for (;;) {
        if (!this.#open) {
          await this.#sink.open();
          this.#open = true;
        }
        if (this.#pos === undefined) {
          const pos = await this.#sink.position();
          await this.#checkAgainstPrimary(pos);
          this.#pos = pos;
          this.#known = pos?.seq ?? 0;
          this.#highest = Math.max(this.#highest, (await this.#o.primary.ledger.head())?.seq ?? 0);
        }
        const batch = await this.#next();
        if (batch === undefined) break;
        if (batch.length === 0) {
          // The primary does not have them yet (buffered durability moves them there later).
          this.#retry(undefined);
          return;
        }
        checkLinks(this.#sink.name, this.#pos, batch);
        await this.#sink.write(batch);
        const last = batch[batch.length - 1]!.stored;
        this.#pos = { seq: last.record.seq, chainHash: last.chainHash };
        this.#known = last.record.seq;
        this.#recovered();
        if (this.#sink.sync && Date.now() - this.#lastSync >= (this.#o.syncEveryMs ?? 1000)) {
          this.#lastSync = Date.now();
          await this.#sink.sync();
        }
      }
      this.#recovered();
    } catch (err) {
      this.#failed(asError(err));
    }
  }

  /** The next batch: from the queue when it continues the position, else read from the primary; undefined when caught up. */
  async #next(): Promise<AppendItem[] | undefined> {
    const next = (this.#pos?.seq ?? 0) + 1;
    let skip = 0;
    while (skip < this.#queue.length && this.#queue[skip]!.stored.record.seq < next) skip++;
    if (skip > 0) this.#take(skip);
    const head = this.#queue[0];
    if (head && head.stored.record.seq === next) {
      const batch = this.#take(Math.min(this.#o.maxBatch, this.#queue.length));
      if (this.#queue.length === 0) this.#overflowed = false;
      return batch;
    }
    // A gap before the queue (or an empty queue while behind): the primary fills it.
    const upTo = head ? head.stored.record.seq - 1 : this.#highest;
    if (next > upTo) return undefined;
    return this.#readPrimary(next, Math.min(this.#o.maxBatch, upTo - next + 1));
  }

  #take(n: number): AppendItem[] {
    const out = this.#queue.splice(0, n);
    for (const it of out) this.#queueBytes -= sizeOf(it);
    return out;
  }

  #dropQueue(): void {
    this.#queue = [];
    this.#queueBytes = 0;
  }

  /** Records from..from+n-1 from the primary, with what is stored beside them when the target keeps it. */
  async #readPrimary(from: number, n: number): Promise<AppendItem[]> {
    const p = this.#o.primary.ledger;
    const records = (await p.read(from, n)).filter((r) => r.record.seq < from + n);
    if (records.length === 0) return [];
    if (records[0]!.record.seq !== from) {
      throw new StreamDivergence(`ledger stream ${this.#sink.name}: the primary no longer holds seq ${from} (pruned through ${records[0]!.record.seq - 1}); this target cannot catch up`);
    }
    if (!this.#sink.full) return records.map((stored) => ({ stored }));
    const seqs = records.map((r) => r.record.seq);
    const [privs, bodies, index] = await Promise.all([p.readPrivate(seqs), p.readBodies(seqs), p.readIndex ? p.readIndex(seqs) : Promise.resolve([])]);
    const priv = new Map<number, SealedPrivate>();
    for (const r of privs) if (r.sealed) priv.set(r.seq, r.sealed);
    const body = group(bodies);
    const tags = group(index);
    return records.map((stored) => {
      const seq = stored.record.seq;
      const it: AppendItem = { stored };
      const pv = priv.get(seq);
      if (pv) it.priv = pv;
      const b = body.get(seq) as SealedBody[] | undefined;
      if (b) it.bodies = b;
      const t = tags.get(seq);
      if (t) it.index = t;
      return it;
    });
  }

  /**
   * A target that holds seq N must hold the primary's record N (same chain hash). A target ahead
   * of the primary's head (a primary rolled back, or restored from an older backup) is a failure
   * that is retried, never skipped over: once the primary reaches N again the hashes decide.
   */
  async #checkAgainstPrimary(pos: ChainHead | null): Promise<void> {
    if (!pos) return;
    const head = await this.#o.primary.ledger.head();
    if ((head?.seq ?? 0) < pos.seq) {
      throw new Error(`the target holds records up to seq ${pos.seq} but the primary ends at seq ${head?.seq ?? 0} (was the primary rolled back or restored from an older backup?)`);
    }
    const [rec] = await this.#o.primary.ledger.read(pos.seq, 1);
    if (!rec || rec.record.seq !== pos.seq) return; // not (yet, or any more) in the primary: nothing to compare
    if (rec.chainHash !== pos.chainHash) {
      throw new StreamDivergence(`ledger stream ${this.#sink.name}: the target's record ${pos.seq} has chain hash ${pos.chainHash}, the primary's ${rec.chainHash}: it holds another history; stopped (move it aside to start a new one)`);
    }
  }

  #recovered(): void {
    if (this.#state !== 'failing') return;
    this.#state = 'ok';
    this.#attempt = 0;
    this.#lastError = undefined;
    try {
      this.#o.onRecovered?.(this.#sink.name);
    } catch {
      // as for alerts
    }
  }

  #failed(err: Error): void {
    this.#lastError = err.message;
    if (err instanceof StreamDivergence) {
      this.#state = 'diverged';
      this.#dropQueue();
      this.#alert(err);
      return;
    }
    if (this.#state === 'ok') {
      this.#state = 'failing';
      this.#alert(Object.assign(new Error(`ledger stream ${this.#sink.name} failed: ${err.message}; retrying`), { code: 'RAMPART_STREAM_FAILED', cause: err }));
    }
    // The write may have landed: read the position again before the next one.
    this.#pos = undefined;
    this.#retry(err);
  }

  #retry(err: Error | undefined): void {
    if (this.#closing) return;
    const base = this.#o.retry?.baseMs ?? 200;
    const max = this.#o.retry?.maxMs ?? 30_000;
    const delay = err ? Math.min(max, base * 2 ** Math.min(this.#attempt++, 20)) : base;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#kick();
    }, delay);
    this.#timer.unref();
  }
}

/** Each item must chain onto the one before it, the first onto the target's position. */
function checkLinks(name: string, pos: ChainHead | null | undefined, batch: readonly AppendItem[]): void {
  let prev = pos?.chainHash ?? GENESIS_HASH;
  let seq = pos?.seq ?? 0;
  for (const { stored } of batch) {
    if (stored.record.seq !== seq + 1) throw new StreamDivergence(`ledger stream ${name}: seq ${stored.record.seq} does not follow ${seq}`);
    if (leafHash(stored.canonical) !== stored.leafHash || chainHash(prev, stored.leafHash) !== stored.chainHash) {
      throw new StreamDivergence(`ledger stream ${name}: record ${stored.record.seq} does not chain onto the target's record ${seq} (${prev}); stopped`);
    }
    prev = stored.chainHash;
    seq++;
  }
}

/** What a queued record holds in memory, roughly: its text, sealed parts, bodies and tags. */
function sizeOf(it: AppendItem): number {
  let n = it.stored.canonical.length + 256 + (it.priv?.sealed.length ?? 0) + 16 * (it.index?.length ?? 0);
  for (const b of it.bodies ?? []) n += b.sealed.length;
  return n;
}

function group<T extends { seq: number }>(rows: readonly T[]): Map<number, T[]> {
  const m = new Map<number, T[]>();
  for (const r of rows) {
    const l = m.get(r.seq);
    if (l) l.push(r);
    else m.set(r.seq, [r]);
  }
  return m;
}

function asError(err: unknown): Error {
  return err instanceof Error ? err : new Error(String(err));
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms).unref());
}
