/**
 * The ledger writer: group commit, failure of a whole batch, continuing from the committed head,
 * and what enters the chained record. The store is the real SQLite backend; where a fault is
 * needed, a thin wrapper injects it into the real store's append (a real component with an
 * injected fault, not a mock).
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import type { RecordInput } from '../../src/ledger/record.js';
import { verifyChain } from '../../src/ledger/verify.js';
import { createLedger as createWriter, type Ledger, type LedgerOptions } from '../../src/ledger/writer.js';
import type { Sealer } from '../../src/ledger/sealer.js';
import { openPrivates, testSealer } from '../helpers/ledger-crypto.js';
import { openSqliteStorage, type SqliteStorage } from '../../src/storage/sqlite/store.js';
import type { AppendItem, ChainHead, LedgerStore } from '../../src/storage/types.js';
import { tempDir } from '../helpers/tmp.js';

const CONFIG_HASH = 'ab'.repeat(32);
const input = (over: Partial<RecordInput> = {}): RecordInput => ({ type: 'exchange.decision', outcome: 'allow', configHash: CONFIG_HASH, ...over });

type Batch = readonly AppendItem[];

/** Each store's sealer (a fault wrapper shares its real store's). */
const sealerFor = new WeakMap<object, Sealer>();

/** The writer over `store`, sealing with the sealer of the storage it came from. */
function createLedger(store: LedgerStore, opts: Omit<LedgerOptions, 'sealer'>): Promise<Ledger> {
  const sealer = sealerFor.get(store);
  if (!sealer) throw new Error('test: no sealer registered for this store');
  return createWriter(store, { ...opts, sealer });
}

interface Faults {
  batches: number[];
  /** While set, append waits for it before touching the store. */
  gate: Promise<void> | undefined;
  failNext: number;
  failAfterCommitNext: number;
  hangNext: number;
  headOverride: ChainHead | null | undefined;
  store: LedgerStore;
}

/**
 * The real store, with switches to delay, fail or hang its append and to misreport its head.
 * `pipelineDepth` overrides the store's own (SQLite's is 2).
 */
function withFaults(real: LedgerStore, pipelineDepth = 1): Faults {
  const f: Faults = {
    batches: [],
    gate: undefined,
    failNext: 0,
    failAfterCommitNext: 0,
    hangNext: 0,
    headOverride: undefined,
    store: {
      ...real,
      pipelineDepth,
      async append(batch: Batch) {
        f.batches.push(batch.length);
        if (f.gate) await f.gate;
        if (f.hangNext > 0) {
          f.hangNext--;
          return new Promise<void>(() => {});
        }
        if (f.failNext > 0) {
          f.failNext--;
          throw Object.assign(new Error('injected: the disk went away'), { code: 'EIO' });
        }
        await real.append(batch);
        if (f.failAfterCommitNext > 0) {
          f.failAfterCommitNext--;
          throw new Error('injected: connection lost after COMMIT');
        }
      },
      async head() {
        return f.headOverride !== undefined ? f.headOverride : real.head();
      },
    } satisfies LedgerStore,
  };
  const sealer = sealerFor.get(real);
  if (sealer) sealerFor.set(f.store, sealer);
  return f;
}

function gate(): { promise: Promise<void>; open(): void } {
  let open!: () => void;
  const promise = new Promise<void>((r) => (open = r));
  return { promise, open };
}

const tick = (): Promise<void> => new Promise((r) => setImmediate(r));

describe('ledger writer', () => {
  const dir = tempDir('rampart-writer-');
  let n = 0;
  const stores: SqliteStorage[] = [];
  const open = async (): Promise<SqliteStorage> => {
    const s = await openSqliteStorage(join(dir.path, `w${n++}.db`));
    stores.push(s);
    const sealer = await testSealer(s, dir.path);
    // Today's data key exists before a test counts batches: creating it is a store write of its own.
    await sealer.ready([{ type: 'exchange.decision', ts: Date.now(), bodies: true }]);
    sealerFor.set(s.ledger, sealer);
    return s;
  };
  after(async () => {
    await Promise.all(stores.map((s) => s.close()));
    dir.remove();
  });

  it('checks its options', async () => {
    const s = await open();
    await assert.rejects(createLedger(s.ledger, { node: '', maxBatch: 8 }), TypeError);
    await assert.rejects(createLedger(s.ledger, { node: 'n', maxBatch: 0 }), TypeError);
    await assert.rejects(createLedger(s.ledger, { node: 'n', maxBatch: 1.5 }), TypeError);
  });

  it('group commit: many concurrent appends become few store appends of at most maxBatch', async () => {
    const s = await open();
    const f = withFaults(s.ledger);
    const ledger = await createLedger(f.store, { node: 'n1', maxBatch: 32 });
    const r = await Promise.all(Array.from({ length: 300 }, (_, i) => ledger.append(input({ requestId: `r${i}` }))));
    assert.deepEqual(r.map((x) => x.seq), Array.from({ length: 300 }, (_, i) => i + 1));
    assert.ok(f.batches.length <= 12, `300 appends in ${f.batches.length} store appends`);
    assert.ok(f.batches.every((b) => b <= 32));
    assert.equal(f.batches.reduce((a, b) => a + b, 0), 300);
    const stored = await s.ledger.read(1, 300);
    assert.deepEqual(stored.map((x) => x.record.requestId), Array.from({ length: 300 }, (_, i) => `r${i}`), 'records in call order');
    assert.equal((await verifyChain(s.ledger)).count, 300);
  });

  it('inputs that arrive while a batch is in flight form the next batch', async () => {
    const s = await open();
    const f = withFaults(s.ledger);
    const ledger = await createLedger(f.store, { node: 'n1', maxBatch: 100 });
    const g = gate();
    f.gate = g.promise;
    const first = ledger.append(input());
    await tick();
    assert.deepEqual(f.batches, [1], 'the first append went out alone');
    const more = Array.from({ length: 20 }, () => ledger.append(input()));
    await tick();
    assert.deepEqual(f.batches, [1], 'nothing else is sent while one batch is in flight');
    assert.equal(ledger.pending, 21);
    f.gate = undefined;
    g.open();
    assert.equal((await first).seq, 1);
    assert.deepEqual((await Promise.all(more)).map((x) => x.seq), Array.from({ length: 20 }, (_, i) => i + 2));
    assert.deepEqual(f.batches, [1, 20]);
    assert.equal(ledger.pending, 0);
  });

  it('pipelined (depth 2, as SQLite): the next batch goes out while one commits, a third waits', async () => {
    const s = await open();
    assert.equal(s.ledger.pipelineDepth, 2);
    const f = withFaults(s.ledger, 2);
    const ledger = await createLedger(f.store, { node: 'n1', maxBatch: 100 });
    const g = gate();
    f.gate = g.promise;
    const first = ledger.append(input());
    await tick();
    const second = Array.from({ length: 5 }, () => ledger.append(input()));
    await tick();
    assert.deepEqual(f.batches, [1, 5], 'the second batch is sent while the first is in flight');
    const third = Array.from({ length: 7 }, () => ledger.append(input()));
    await tick();
    assert.deepEqual(f.batches, [1, 5], 'no third batch while two are in flight');
    assert.equal(ledger.pending, 13);
    f.gate = undefined;
    g.open();
    assert.equal((await first).seq, 1);
    assert.deepEqual((await Promise.all(second)).map((x) => x.seq), [2, 3, 4, 5, 6]);
    assert.deepEqual((await Promise.all(third)).map((x) => x.seq), [7, 8, 9, 10, 11, 12, 13]);
    assert.deepEqual(f.batches, [1, 5, 7]);
    assert.equal((await verifyChain(s.ledger)).count, 13);
  });

  it('pipelined: a failed batch fails the one chained behind it (refused by the store, nothing written out of order); the next continues from the committed head', async () => {
    const s = await open();
    const f = withFaults(s.ledger, 2);
    const alerts: unknown[] = [];
    const ledger = await createLedger(f.store, { node: 'n1', maxBatch: 100, onAlert: (e) => alerts.push(e) });
    await ledger.append(input());
    const g = gate();
    f.gate = g.promise;
    f.failNext = 1;
    const doomed = Array.from({ length: 4 }, () => ledger.append(input()));
    await tick();
    const behind = Array.from({ length: 3 }, () => ledger.append(input()));
    await tick();
    assert.deepEqual(f.batches, [1, 4, 3]);
    f.gate = undefined;
    g.open();
    for (const r of await Promise.allSettled([...doomed, ...behind])) {
      assert.equal(r.status, 'rejected');
      assert.equal(((r as PromiseRejectedResult).reason as { code?: string }).code, 'RAMPART_LEDGER_UNAVAILABLE');
    }
    assert.equal(alerts.length, 2, 'each failed batch is an alert (AU-5)');
    assert.equal(ledger.healthy, false);
    assert.deepEqual((await Promise.all([ledger.append(input()), ledger.append(input())])).map((x) => x.seq), [2, 3]);
    assert.equal(ledger.healthy, true);
    const v = await verifyChain(s.ledger);
    assert.equal(v.ok, true);
    assert.equal(v.count, 3);
  });

  it('a failing store rejects the whole batch; the next batch continues from the committed head', async () => {
    const s = await open();
    const f = withFaults(s.ledger);
    const alerts: unknown[] = [];
    const ledger = await createLedger(f.store, { node: 'n1', maxBatch: 100, onAlert: (e) => alerts.push(e) });
    await Promise.all([ledger.append(input()), ledger.append(input())]);
    const committed = ledger.head();
    assert.equal(committed!.seq, 2);

    const g = gate();
    f.gate = g.promise;
    f.failNext = 1;
    const doomed = Array.from({ length: 5 }, () => ledger.append(input()));
    await tick();
    // Enqueued while the failing batch is in flight: their seqs are assigned only when they go out.
    const later = Array.from({ length: 3 }, () => ledger.append(input()));
    f.gate = undefined;
    g.open();
    const results = await Promise.allSettled(doomed);
    for (const r of results) {
      assert.equal(r.status, 'rejected');
      const err = (r as PromiseRejectedResult).reason as Error & { code?: string; status?: number; cause?: Error };
      assert.equal(err.code, 'RAMPART_LEDGER_UNAVAILABLE');
      assert.equal(err.status, 503);
      assert.match(err.cause!.message, /disk went away/);
    }
    assert.equal(alerts.length, 1, 'one alert for the failed batch (AU-5)');
    assert.deepEqual((await Promise.all(later)).map((x) => x.seq), [3, 4, 5], 'the next batch reuses the seqs of the failed one');
    assert.equal(ledger.healthy, true);
    assert.deepEqual(f.batches, [2, 5, 3]);
    const v = await verifyChain(s.ledger);
    assert.equal(v.ok, true);
    assert.equal(v.count, 5);
  });

  it('healthy is false from a failure until the next commit', async () => {
    const s = await open();
    const f = withFaults(s.ledger);
    const ledger = await createLedger(f.store, { node: 'n1', maxBatch: 8, onAlert: () => {} });
    assert.equal(ledger.healthy, true);
    f.failNext = 1;
    await assert.rejects(ledger.append(input()));
    assert.equal(ledger.healthy, false);
    await ledger.append(input());
    assert.equal(ledger.healthy, true);
  });

  it('a batch that committed although the store reported failure is recognised, not forked', async () => {
    const s = await open();
    const f = withFaults(s.ledger);
    const alerts: Error[] = [];
    const ledger = await createLedger(f.store, { node: 'n1', maxBatch: 8, onAlert: (e) => alerts.push(e as Error) });
    f.failAfterCommitNext = 1;
    await assert.rejects(Promise.all([ledger.append(input()), ledger.append(input())]));
    const next = await ledger.append(input());
    assert.equal(next.seq, 3, 'continues after the records that did reach the store');
    assert.equal(alerts.length, 2);
    assert.match(alerts[1]!.message, /committed after all/);
    assert.equal((await verifyChain(s.ledger)).count, 3);
  });

  it('a store that never answers fails the batch after appendTimeoutMs, and the writer carries on', async () => {
    const s = await open();
    const f = withFaults(s.ledger);
    const ledger = await createLedger(f.store, { node: 'n1', maxBatch: 8, appendTimeoutMs: 150, onAlert: () => {} });
    f.hangNext = 1;
    const started = Date.now();
    await assert.rejects(ledger.append(input()), (e: Error & { code?: string }) => e.code === 'RAMPART_LEDGER_UNAVAILABLE' && /did not complete within 150 ms/.test(e.message));
    assert.ok(Date.now() - started < 1000);
    assert.equal((await ledger.append(input())).seq, 1);
  });

  it('refuses to write when the store is behind what it acknowledged (fail closed)', async () => {
    const s = await open();
    const f = withFaults(s.ledger);
    const alerts: Error[] = [];
    const ledger = await createLedger(f.store, { node: 'n1', maxBatch: 8, onAlert: (e) => alerts.push(e as Error) });
    await ledger.append(input());
    await ledger.append(input());
    f.failNext = 1;
    await assert.rejects(ledger.append(input()));
    // As if the database had been restored from an older backup.
    f.headOverride = null;
    await assert.rejects(ledger.append(input()), (e: Error & { cause?: Error }) => /behind or diverges/.test(e.cause!.message));
    await assert.rejects(ledger.append(input()));
    assert.equal(ledger.healthy, false);
    f.headOverride = undefined;
    assert.equal((await ledger.append(input())).seq, 3);
  });

  it('refuses appends beyond maxQueue at once instead of queueing without bound', async () => {
    const s = await open();
    const f = withFaults(s.ledger);
    const ledger = await createLedger(f.store, { node: 'n1', maxBatch: 4, maxQueue: 10 });
    const g = gate();
    f.gate = g.promise;
    const first = ledger.append(input());
    await tick();
    const queued = Array.from({ length: 10 }, () => ledger.append(input()));
    await assert.rejects(ledger.append(input()), (e: Error & { code?: string }) => e.code === 'RAMPART_LEDGER_UNAVAILABLE');
    f.gate = undefined;
    g.open();
    await first;
    assert.equal((await Promise.all(queued)).length, 10);
  });

  describe('records', () => {
    let s: SqliteStorage;
    let ledger: Ledger;
    before(async () => {
      s = await open();
      ledger = await createLedger(s.ledger, { node: 'gw-7', maxBatch: 8, now: () => Date.UTC(2025, 5, 1, 12, 0, 0, 123) });
    });

    it('stamp UTC milliseconds from the clock, the node and the schema version', async () => {
      const { seq, ts } = await ledger.append(input());
      assert.equal(ts, Date.UTC(2025, 5, 1, 12, 0, 0, 123));
      const [r] = await s.ledger.read(seq, 1);
      assert.equal(r!.record.ts, ts);
      assert.equal(r!.record.node, 'gw-7');
      assert.equal(r!.record.v, 1);
      const explicit = await ledger.append(input({ ts: 1_600_000_000_000 }));
      assert.equal(explicit.ts, 1_600_000_000_000);
    });

    it('keep only non-personal fields and commitments in the chained part', async () => {
      const { seq } = await ledger.append(
        input({
          requestId: 'req-1',
          operationId: 'getAccount',
          personal: { principal: 'alice', clientAddress: '192.0.2.44', pathParams: { accountId: 'ACC-5' }, extra: { actor: 'Alice A.' } },
        }),
      );
      const [r] = await s.ledger.read(seq, 1);
      const keys = Object.keys(r!.record).sort();
      assert.deepEqual(keys, ['configHash', 'node', 'operationId', 'outcome', 'personalCommit', 'requestId', 'seq', 'ts', 'type', 'v']);
      for (const v of ['alice', '192.0.2.44', 'ACC-5', 'Alice A.']) assert.ok(!r!.canonical.includes(v));
      const [p] = await openPrivates(sealerFor.get(s.ledger)!, await s.ledger.readPrivate([seq]));
      assert.equal(p!.personal!.extra!.actor, 'Alice A.');
    });

    it('reject a malformed input alone; the others of the same batch commit', async () => {
      const results = await Promise.allSettled([
        ledger.append(input()),
        ledger.append({ ...input(), type: 'nonsense' as RecordInput['type'] }),
        ledger.append(input({ latencyMs: Number.NaN })),
        ledger.append(input({ detail: { nested: { a: 1 } as unknown as string } })),
        ledger.append(input({ status: 200.5 })),
        ledger.append({ ...input(), configHash: '' }),
        ledger.append(input()),
      ]);
      assert.deepEqual(results.map((r) => r.status), ['fulfilled', 'rejected', 'rejected', 'rejected', 'rejected', 'rejected', 'fulfilled']);
      for (const r of results.filter((x) => x.status === 'rejected')) assert.ok((r as PromiseRejectedResult).reason instanceof TypeError);
      const seqs = results.filter((r) => r.status === 'fulfilled').map((r) => (r as PromiseFulfilledResult<{ seq: number }>).value.seq);
      assert.equal(seqs[1], seqs[0]! + 1, 'no seq is lost to a rejected input');
      assert.equal((await verifyChain(s.ledger)).ok, true);
    });

    it('store a NUL or a lone surrogate from a client as U+FFFD instead of failing the batch', async () => {
      const { seq } = await ledger.append(input({ requestId: 'a\u0000b', personal: { pathParams: { id: 'x\ud800y' } } }));
      const [r] = await s.ledger.read(seq, 1);
      assert.equal(r!.record.requestId, 'a\ufffdb');
      assert.equal((await openPrivates(sealerFor.get(s.ledger)!, await s.ledger.readPrivate([seq])))[0]!.personal!.pathParams!.id, 'x\ufffdy');
    });

    it('flush waits for what was queued; close refuses new appends and lets queued ones finish', async () => {
      const pending = Array.from({ length: 5 }, () => ledger.append(input()));
      await ledger.flush();
      assert.equal(ledger.pending, 0);
      await Promise.all(pending);
      const last = ledger.append(input());
      await ledger.close();
      assert.ok((await last).seq > 0);
      await assert.rejects(ledger.append(input()), (e: Error & { code?: string }) => e.code === 'RAMPART_LEDGER_UNAVAILABLE');
      await ledger.flush();
    });
  });
});
