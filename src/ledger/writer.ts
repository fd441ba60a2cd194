/**
 * The single writer of a node's chain, with group commit (DESIGN.md, the ledger: "one writer per
 * chain"; "strict" durability).
 *
 *   append() ──▶ queue ──▶ batch of ≤ maxBatch ──▶ store.append (one durable transaction)
 *                  ▲        seq continues the head of the last batch SENT; hashes computed now
 *                  └── new inputs wait here while `pipelineDepth` batches are in flight
 *
 * A store that commits its batches in the order it received them (SQLite: one worker thread)
 * declares a pipelineDepth above 1: the next batch is then already waiting when the previous one
 * commits, instead of forming only after the commit's reply has reached this thread. Each batch
 * chains on the one before it, so a batch after a failed one is refused by the store's
 * continuity check and nothing is ever written out of order.
 *
 * A caller's promise resolves only once its record is durable; the gateway forwards a request
 * only after that (fail closed). If the store refuses or fails, every record of the batch
 * rejects with RAMPART_LEDGER_UNAVAILABLE (the gateway answers 503 or aborts the response), the
 * head stays at the last committed record, the next batch (once everything sent has settled)
 * starts again from the store's head, and `onAlert` is raised (AU-5). Personal fields never
 * enter the chained record: they are committed to with a salted HMAC and travel in the private
 * part (./commit.ts).
 */
import { RampartError } from '../core/errors.js';
import type { AppendItem, ChainHead, LedgerStore } from '../storage/types.js';
import { buildStoredRecord, GENESIS_HASH } from './chain.js';
import { commitPersonal } from './commit.js';
import type { Sealer } from './sealer.js';
import {
  RECORD_SCHEMA_VERSION,
  type BodyCommitment,
  type CapturedBodyInput,
  type LedgerRecord,
  type Outcome,
  type PersonalFields,
  type PrivatePart,
  type RecordInput,
  type RecordType,
  type StoredRecord,
} from './record.js';

/** Appends waiting beyond this many are refused (LedgerOptions.maxQueue's default; readiness reads it). */
export const DEFAULT_MAX_QUEUE = 10_000;

export interface LedgerOptions {
  /** Node name written on every record (AU-3 "where"). */
  node: string;
  /** Seals private parts and bodies and derives blind index tags (ENC-5, RSP-2): ./sealer.ts. */
  sealer: Sealer;
  /**
   * Called with each committed batch, in order, with everything stored beside the records
   * (Merkle checkpoints follow the leaves from here; the record stream copies the items).
   */
  onCommitted?: (batch: readonly AppendItem[]) => void;
  /** Largest number of records in one group commit. */
  maxBatch: number;
  /**
   * Appends waiting beyond this many are refused at once with RAMPART_LEDGER_UNAVAILABLE rather
   * than queued without bound while the store is slow (default 10 000, at least maxBatch).
   */
  maxQueue?: number;
  /**
   * A batch whose store.append has not settled after this long is failed (its callers get 503
   * promptly) even if the backend's own timeouts did not fire. Default 10 000 ms.
   */
  appendTimeoutMs?: number;
  /** Audit-logging failure (AU-5): a batch failed, or the store's head moved unexpectedly. */
  onAlert?: (err: unknown) => void;
  /** Called after each durable batch (metrics). */
  onCommit?: (info: CommitInfo) => void;
  /** Clock for record timestamps (UTC ms, AU-8); tests freeze it. */
  now?: () => number;
}

export interface CommitInfo {
  firstSeq: number;
  lastSeq: number;
  count: number;
  /** Time store.append took. */
  ms: number;
}

export interface AppendResult {
  seq: number;
  ts: number;
}

export interface Ledger {
  /** Resolves once the record is durable; rejects with RAMPART_LEDGER_UNAVAILABLE otherwise. */
  append(input: RecordInput): Promise<AppendResult>;
  /** The last committed record (null for an empty ledger). */
  head(): ChainHead | null;
  /** Resolves when every append made before the call has settled. */
  flush(): Promise<void>;
  /** Refuses new appends, lets queued ones settle. Does not close the store (its owner does). */
  close(): Promise<void>;
  /** False after a failed batch until a batch commits again (readiness reports it). */
  readonly healthy: boolean;
  /** Appends queued or in flight. */
  readonly pending: number;
}

/**
 * A validated input, ready to become a record. `seq` is 0 until the batch is formed; the record's
 * keys are inserted in canonical (sorted) order so that canonicalisation need not sort them.
 */
interface Draft {
  record: LedgerRecord;
  priv: PrivatePart;
  captured?: { request?: CapturedBodyInput; response?: CapturedBodyInput } | undefined;
}

interface Waiting {
  draft: Draft;
  resolve(r: AppendResult): void;
  reject(err: unknown): void;
}

const RECORD_TYPES: ReadonlySet<RecordType> = new Set<RecordType>(['exchange.decision', 'exchange.completion', 'admin.action', 'security.event', 'system.event']);
const OUTCOMES: ReadonlySet<Outcome> = new Set<Outcome>(['allow', 'deny', 'success', 'failure', 'info']);

/**
 * Creates the writer for `store`'s chain, continuing from its current head.
 *
 * @example
 * const ledger = await createLedger(storage.ledger, { node: 'gw-1', maxBatch: 256, onAlert });
 * const { seq } = await ledger.append({ type: 'exchange.decision', outcome: 'allow', configHash,
 *   operationId: 'getAccount', personal: { principal: 'app-1', pathParams: { id: '42' } } });
 */
export async function createLedger(store: LedgerStore, opts: LedgerOptions): Promise<Ledger> {
  if (!opts || typeof opts.node !== 'string' || opts.node.length === 0) throw new TypeError('ledger: opts.node must be a non-empty string');
  if (!Number.isSafeInteger(opts.maxBatch) || opts.maxBatch < 1) throw new TypeError('ledger: opts.maxBatch must be a positive integer');
  if (!opts.sealer) throw new TypeError('ledger: opts.sealer is required (private parts are never stored in clear)');
  const sealer = opts.sealer;
  const onCommitted = opts.onCommitted;
  const maxBatch = opts.maxBatch;
  const maxQueue = Math.max(opts.maxQueue ?? DEFAULT_MAX_QUEUE, maxBatch);
  const appendTimeoutMs = opts.appendTimeoutMs ?? 10_000;
  if (!(appendTimeoutMs > 0)) throw new TypeError('ledger: opts.appendTimeoutMs must be positive');
  const node = clean(opts.node);
  const now = opts.now ?? Date.now;
  const onAlert = opts.onAlert;
  const onCommit = opts.onCommit;

  let committed: ChainHead | null = await store.head();
  /** Where the next batch continues: the head after the last batch sent (committed when none is in flight). */
  let tentative: ChainHead | null = committed;
  const pipelineDepth = Math.max(1, Math.floor(store.pipelineDepth ?? 1));
  const queue: Waiting[] = [];
  let inFlightBatches = 0;
  let inFlightRecords = 0;
  let scheduled = false;
  let closed = false;
  let healthy = true;
  let needsResync = false;
  /** The last batches that failed, to recognise one that was committed after all. */
  let recentlyFailed: { seq: number; chainHash: string }[] = [];
  /** Settles when the most recently queued append settles (batches commit in order). */
  let lastSettled: Promise<unknown> = Promise.resolve();

  function alert(err: unknown): void {
    if (!onAlert) return;
    try {
      onAlert(err);
    } catch {
      // An alert sink that throws must not take the writer down with it.
    }
  }

  /** A batch may be formed now: something waits, there is room in the pipeline, no resync pending behind a batch in flight. */
  function canSend(): boolean {
    return queue.length > 0 && inFlightBatches < pipelineDepth && !(needsResync && inFlightBatches > 0);
  }

  function schedule(): void {
    if (scheduled || !canSend()) return;
    scheduled = true;
    // A microtask, so that appends made in the same turn of the event loop share one batch.
    queueMicrotask(() => {
      scheduled = false;
      void drain();
    });
  }

  /** Re-reads the store's head after a failure: the failed append may have committed after all. */
  async function resync(): Promise<void> {
    const h = await store.head();
    const hs = h?.seq ?? 0;
    const cs = committed?.seq ?? 0;
    const hh = h?.chainHash ?? GENESIS_HASH;
    const ch = committed?.chainHash ?? GENESIS_HASH;
    if (hs === cs && hh === ch) {
      needsResync = false;
      return;
    }
    if (hs > cs) {
      const known = recentlyFailed.some((f) => f.seq === hs && f.chainHash === hh);
      committed = h;
      needsResync = false;
      alert(
        new Error(
          known
            ? `ledger: a batch reported as failed was committed after all (through seq ${hs}); its callers were answered as failed`
            : `ledger: the store's head moved from seq ${cs} to seq ${hs} outside this writer (a second writer on this chain?)`,
        ),
      );
      return;
    }
    // The store lost acknowledged records, or holds a different chain: never write over that.
    throw new Error(`ledger: the store's head (seq ${hs}) is behind or diverges from the last committed record (seq ${cs}); refusing to write until the ledger is checked (rampart audit verify)`);
  }

  async function drain(): Promise<void> {
    if (!canSend()) return;
    const items = queue.splice(0, maxBatch);
    inFlightBatches++;
    inFlightRecords += items.length;
    let settledByTimeout = false;
    let timer: NodeJS.Timeout | undefined;
    try {
      if (needsResync) {
        // Nothing else is in flight (canSend), so the store's head is final.
        await resync();
        tentative = committed;
      }
      // Data keys for a new class/day are fetched (or created) here, before seqs are given out.
      await sealer.ready(items.map((it) => ({ type: it.draft.record.type, ts: it.draft.record.ts, bodies: it.draft.captured !== undefined })));
      const batch: AppendItem[] = [];
      const accepted: { item: Waiting; seq: number; ts: number }[] = [];
      let seq = tentative?.seq ?? 0;
      let prevHash = tentative?.chainHash ?? GENESIS_HASH;
      for (const item of items) {
        // Seq and hashes are assigned now, from the head of the last batch sent, not when the
        // input arrived: after a failed batch its seqs are given to the next one.
        const { record, priv, captured } = item.draft;
        record.seq = seq + 1;
        priv.seq = seq + 1;
        let stored: StoredRecord;
        let sealed: ReturnType<Sealer['seal']>;
        try {
          stored = buildStoredRecord(record, prevHash);
          sealed = sealer.seal({ record, priv, captured });
        } catch (err) {
          item.reject(err);
          continue;
        }
        seq++;
        prevHash = stored.chainHash;
        batch.push({ stored, ...sealed });
        accepted.push({ item, seq, ts: record.ts });
      }
      if (batch.length === 0) return;
      tentative = { seq, chainHash: prevHash };
      const started = performance.now();
      const appended = store.append(batch);
      // The next batch may form while this one commits (pipelineDepth > 1).
      schedule();
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => {
          settledByTimeout = true;
          reject(new Error(`ledger: store.append did not complete within ${appendTimeoutMs} ms`));
        }, appendTimeoutMs);
      });
      try {
        await Promise.race([appended, timeout]);
      } catch (err) {
        recentlyFailed = [...recentlyFailed.slice(-7), { seq, chainHash: prevHash }];
        if (settledByTimeout) appended.catch(() => {});
        throw err;
      }
      if (needsResync) {
        // An earlier batch of the pipeline was reported as failed, yet this one, which chains on
        // it, committed: the store took the earlier one after all (a timeout that came too soon).
        alert(new Error(`ledger: a batch reported as failed was committed after all (through seq ${seq - batch.length}); its callers were answered as failed`));
      }
      committed = { seq, chainHash: prevHash };
      healthy = true;
      if (onCommitted) {
        try {
          onCommitted(batch);
        } catch (err) {
          alert(err);
        }
      }
      for (const a of accepted) a.item.resolve({ seq: a.seq, ts: a.ts });
      if (onCommit) {
        try {
          onCommit({ firstSeq: accepted[0]!.seq, lastSeq: seq, count: accepted.length, ms: performance.now() - started });
        } catch {
          // Metrics must not affect the ledger.
        }
      }
    } catch (err) {
      healthy = false;
      needsResync = true;
      const failure = new RampartError('RAMPART_LEDGER_UNAVAILABLE', `ledger append failed: ${messageOf(err)}`, { cause: err });
      // Items already rejected individually ignore the second rejection.
      for (const item of items) item.reject(failure);
      alert(failure);
    } finally {
      if (timer) clearTimeout(timer);
      inFlightBatches--;
      inFlightRecords -= items.length;
      if (inFlightBatches === 0) tentative = committed;
      schedule();
    }
  }

  return {
    append(input: RecordInput): Promise<AppendResult> {
      if (closed) return Promise.reject(new RampartError('RAMPART_LEDGER_UNAVAILABLE', 'ledger: closed'));
      if (queue.length >= maxQueue) {
        return Promise.reject(new RampartError('RAMPART_LEDGER_UNAVAILABLE', `ledger: ${queue.length} appends already waiting`));
      }
      let draft: Draft;
      try {
        draft = prepare(input, node, now());
      } catch (err) {
        return Promise.reject(err);
      }
      const p = new Promise<AppendResult>((resolve, reject) => {
        queue.push({ draft, resolve, reject });
      });
      lastSettled = p.then(noop, noop);
      schedule();
      return p;
    },
    head() {
      return committed ? { ...committed } : null;
    },
    flush() {
      return lastSettled.then(noop);
    },
    async close() {
      closed = true;
      await lastSettled;
    },
    get healthy() {
      return healthy;
    },
    get pending() {
      return queue.length + inFlightRecords;
    },
  };
}

function noop(): void {}

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/**
 * Validates an input and splits it into the chained part (non-personal fields and commitments)
 * and the private part. Runs at append time so that a bad input rejects alone instead of failing
 * a whole batch; seq and hashes are added when the batch is formed.
 */
function prepare(input: RecordInput, node: string, now: number): Draft {
  if (typeof input !== 'object' || input === null) throw new TypeError('ledger: input must be an object');
  if (!RECORD_TYPES.has(input.type)) throw new TypeError(`ledger: unknown record type '${String(input.type)}'`);
  if (!OUTCOMES.has(input.outcome)) throw new TypeError(`ledger: unknown outcome '${String(input.outcome)}'`);
  if (typeof input.configHash !== 'string' || input.configHash.length === 0) throw new TypeError('ledger: configHash is required');
  const ts = input.ts ?? now;
  if (!Number.isSafeInteger(ts) || ts < 0) throw new TypeError('ledger: ts must be integer UTC milliseconds');
  if (input.latencyMs !== undefined && (typeof input.latencyMs !== 'number' || !Number.isFinite(input.latencyMs) || input.latencyMs < 0)) {
    throw new TypeError('ledger: latencyMs must be a finite number >= 0');
  }

  const priv: PrivatePart = { seq: 0 };
  let personalCommit: string | undefined;
  const personal = input.personal === undefined ? undefined : personalOf(input.personal);
  if (personal) {
    const c = commitPersonal(personal);
    personalCommit = c.commit;
    priv.personal = personal;
    priv.personalSalt = c.salt;
  }
  const reqBody = input.bodies?.request ? body('request', input.bodies.request) : undefined;
  const resBody = input.bodies?.response ? body('response', input.bodies.response) : undefined;
  if (reqBody) priv.requestBodySalt = reqBody.salt;
  if (resBody) priv.responseBodySalt = resBody.salt;

  const captured = input.captured === undefined ? undefined : capturedOf(input.captured);

  // Only non-personal fields, each checked, in canonical key order (see Draft).
  const r = {} as LedgerRecord;
  if (input.api !== undefined) r.api = str('api', input.api);
  if (input.authMethod !== undefined) r.authMethod = str('authMethod', input.authMethod);
  if (input.bytesIn !== undefined) r.bytesIn = count('bytesIn', input.bytesIn);
  if (input.bytesOut !== undefined) r.bytesOut = count('bytesOut', input.bytesOut);
  r.configHash = clean(input.configHash);
  if (input.decisionSeq !== undefined) r.decisionSeq = count('decisionSeq', input.decisionSeq);
  if (input.detail !== undefined) r.detail = detailOf(input.detail);
  if (input.keyId !== undefined) r.keyId = str('keyId', input.keyId);
  if (input.latencyMs !== undefined) r.latencyMs = input.latencyMs;
  if (input.method !== undefined) r.method = str('method', input.method);
  r.node = node;
  if (input.operationId !== undefined) r.operationId = str('operationId', input.operationId);
  r.outcome = input.outcome;
  if (personalCommit !== undefined) r.personalCommit = personalCommit;
  if (input.reason !== undefined) r.reason = str('reason', input.reason);
  if (reqBody) {
    r.requestBodyCommit = reqBody.mac;
    r.requestBodyLength = reqBody.length;
  }
  if (input.requestId !== undefined) r.requestId = str('requestId', input.requestId);
  if (resBody) {
    r.responseBodyCommit = resBody.mac;
    r.responseBodyLength = resBody.length;
  }
  if (input.route !== undefined) r.route = str('route', input.route);
  r.seq = 0;
  if (input.stage !== undefined) r.stage = str('stage', input.stage);
  if (input.status !== undefined) r.status = count('status', input.status);
  r.ts = ts;
  r.type = input.type;
  r.v = RECORD_SCHEMA_VERSION;
  return captured ? { record: r, priv, captured } : { record: r, priv };
}

function capturedOf(c: NonNullable<RecordInput['captured']>): Draft['captured'] {
  if (typeof c !== 'object' || c === null) throw new TypeError('ledger: captured must be an object');
  const out: NonNullable<Draft['captured']> = {};
  for (const part of ['request', 'response'] as const) {
    const b = c[part];
    if (b === undefined) continue;
    if (typeof b !== 'object' || b === null || typeof b.encoding !== 'string' || !Array.isArray(b.subjects)) {
      throw new TypeError(`ledger: captured.${part} must come from captureBody()`);
    }
    out[part] = b;
  }
  return out.request || out.response ? out : undefined;
}

function str(name: string, v: unknown): string {
  if (typeof v !== 'string') throw new TypeError(`ledger: ${name} must be a string`);
  return clean(v);
}

function count(name: string, v: unknown): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) throw new TypeError(`ledger: ${name} must be a non-negative integer`);
  return v;
}

function detailOf(d: unknown): Record<string, string | number | boolean | null> {
  if (typeof d !== 'object' || d === null || Array.isArray(d)) throw new TypeError('ledger: detail must be an object');
  const out: Record<string, string | number | boolean | null> = {};
  for (const [k, v] of Object.entries(d as Record<string, unknown>)) {
    if (v === undefined) continue;
    if (v === null || typeof v === 'boolean') out[clean(k)] = v;
    else if (typeof v === 'string') out[clean(k)] = clean(v);
    else if (typeof v === 'number' && Number.isFinite(v)) out[clean(k)] = v;
    else throw new TypeError(`ledger: detail.${k} must be a string, finite number, boolean or null`);
  }
  return out;
}

/** A copy holding only the known personal fields, or undefined when none is set. */
function personalOf(p: PersonalFields): PersonalFields | undefined {
  if (typeof p !== 'object' || p === null) throw new TypeError('ledger: personal must be an object');
  const out: PersonalFields = {};
  let any = false;
  for (const k of ['principal', 'subject', 'clientAddress', 'forwardedFor', 'idempotencyKey'] as const) {
    if (p[k] !== undefined) {
      out[k] = str(`personal.${k}`, p[k]);
      any = true;
    }
  }
  if (p.pathParams !== undefined) {
    out.pathParams = stringMap('personal.pathParams', p.pathParams);
    any = true;
  }
  if (p.extra !== undefined) {
    out.extra = stringMap('personal.extra', p.extra);
    any = true;
  }
  return any ? out : undefined;
}

function stringMap(name: string, m: unknown): Record<string, string> {
  if (typeof m !== 'object' || m === null || Array.isArray(m)) throw new TypeError(`ledger: ${name} must be an object of strings`);
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(m as Record<string, unknown>)) {
    if (v === undefined) continue;
    out[clean(k)] = str(`${name}.${k}`, v);
  }
  return out;
}

const HEX64 = /^[0-9a-f]{64}$/;

function body(name: string, b: BodyCommitment): BodyCommitment {
  if (typeof b !== 'object' || b === null || !HEX64.test(b.mac) || !HEX64.test(b.salt) || !Number.isSafeInteger(b.length) || b.length < 0) {
    throw new TypeError(`ledger: bodies.${name} must come from newBodyCommitter()/commitBody()`);
  }
  return b;
}

// NUL is exactly what these look for.
// eslint-disable-next-line no-control-regex
const SUSPECT = /[\u0000\ud800-\udfff]/;
// eslint-disable-next-line no-control-regex
const UNSTORABLE = /\u0000|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;

/**
 * NUL and lone surrogates cannot be stored as text by PostgreSQL (and lone surrogates not as
 * UTF-8 at all); one such value from a client (a path parameter, say) must not fail a whole
 * batch, so it is replaced by U+FFFD before anything is committed to or hashed.
 */
function clean(s: string): string {
  return SUSPECT.test(s) ? s.replace(UNSTORABLE, '\ufffd') : s;
}
