/**
 * The storage contract: one suite, run against every backend (STYLE: undici's cache-store tests).
 * A backend test file passes a harness that opens a fresh, empty storage (its own temp file or
 * temp database) and disposes of it afterwards.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { buildStoredRecord, ChainContinuityError, GENESIS_HASH } from '../../src/ledger/chain.js';
import { commitBody, verifyBodyCommit, verifyPersonalCommit } from '../../src/ledger/commit.js';
import type { LedgerRecord, PrivatePart, RecordInput, StoredRecord } from '../../src/ledger/record.js';
import { verifyChain } from '../../src/ledger/verify.js';
import { createLedger } from '../../src/ledger/writer.js';
import type { ApiKeyRecord, Storage } from '../../src/storage/types.js';

export interface OpenedStorage {
  storage: Storage;
  /** A second, independent handle on the same database (another process, another node). */
  openSecond(): Promise<Storage>;
  /** A read-only handle on the same database, as the audit CLI opens it. */
  openReadOnly(): Promise<Storage>;
  /** Asserts the durability setting read back from the store's own connection. */
  assertDurable(): Promise<void>;
  /** Closes what is still open and removes the file / drops the database. */
  dispose(): Promise<void>;
}

export interface StorageHarness {
  open(): Promise<OpenedStorage>;
}

const CONFIG_HASH = 'c0ffee'.padEnd(64, '0');

export function decision(over: Partial<RecordInput> = {}): RecordInput {
  return { type: 'exchange.decision', outcome: 'allow', configHash: CONFIG_HASH, stage: 'ledger', reason: 'RAMPART_OK', ...over };
}

/** Builds a batch by hand (no writer), continuing `prev`. */
function handBatch(fromSeq: number, n: number, prevHash: string): { stored: StoredRecord; priv: PrivatePart }[] {
  const out: { stored: StoredRecord; priv: PrivatePart }[] = [];
  let prev = prevHash;
  for (let i = 0; i < n; i++) {
    const seq = fromSeq + i;
    const record: LedgerRecord = { v: 1, seq, ts: 1_700_000_000_000 + seq, type: 'system.event', node: 'n1', outcome: 'info', configHash: CONFIG_HASH, detail: { i } };
    const stored = buildStoredRecord(record, prev);
    prev = stored.chainHash;
    out.push({ stored, priv: { seq } });
  }
  return out;
}

function key(id: string, over: Partial<ApiKeyRecord> = {}): ApiKeyRecord {
  return { id, name: `key ${id}`, hash: 'ab'.repeat(32), scopes: ['accounts:read', 'orders:write'], createdAt: 1_700_000_000_000, ...over };
}

export function storageContract(name: string, harness: StorageHarness): void {
  describe(`storage contract: ${name}`, () => {
    let h: OpenedStorage;
    let s: Storage;
    // Each test gets a fresh store; the suite shares nothing between tests.
    const fresh = async (): Promise<void> => {
      h = await harness.open();
      s = h.storage;
    };
    const dispose = async (): Promise<void> => {
      await h.dispose();
    };

    describe('ledger', () => {
      it('an empty store has no head and no records', async () => {
        await fresh();
        try {
          assert.equal(await s.ledger.head(), null);
          assert.deepEqual(await s.ledger.read(1, 10), []);
          assert.deepEqual(await s.ledger.search({ limit: 10 }), []);
          assert.deepEqual(await s.ledger.readPrivate([1, 2]), []);
          await s.ledger.ping();
          const v = await verifyChain(s.ledger);
          assert.deepEqual(v, { ok: true, count: 0, head: null });
        } finally {
          await dispose();
        }
      });

      it('append, head and read give back exactly what was stored', async () => {
        await fresh();
        try {
          const batch = handBatch(1, 3, GENESIS_HASH);
          await s.ledger.append(batch);
          assert.deepEqual(await s.ledger.head(), { seq: 3, chainHash: batch[2]!.stored.chainHash });
          const got = await s.ledger.read(1, 10);
          assert.equal(got.length, 3);
          for (let i = 0; i < 3; i++) {
            assert.equal(got[i]!.canonical, batch[i]!.stored.canonical, 'canonical text stored byte for byte');
            assert.equal(got[i]!.leafHash, batch[i]!.stored.leafHash);
            assert.equal(got[i]!.chainHash, batch[i]!.stored.chainHash);
            assert.deepEqual(got[i]!.record, batch[i]!.stored.record);
          }
          assert.deepEqual((await s.ledger.read(2, 1)).map((r) => r.record.seq), [2]);
          assert.deepEqual(await s.ledger.read(4, 10), []);
          await s.ledger.append([]);
          assert.equal((await s.ledger.head())!.seq, 3, 'an empty batch changes nothing');
        } finally {
          await dispose();
        }
      });

      it('batches sent back to back (as the pipelined writer sends them) commit in order', async () => {
        await fresh();
        try {
          const depth = s.ledger.pipelineDepth ?? 1;
          const batches: ReturnType<typeof handBatch>[] = [];
          let prev = GENESIS_HASH;
          for (let b = 0; b < 6; b++) {
            const batch = handBatch(1 + b * 4, 4, prev);
            prev = batch[3]!.stored.chainHash;
            batches.push(batch);
          }
          // Up to pipelineDepth in flight at once, as the writer does.
          for (let i = 0; i < batches.length; i += depth) await Promise.all(batches.slice(i, i + depth).map((b) => s.ledger.append(b)));
          assert.deepEqual(await s.ledger.head(), { seq: 24, chainHash: prev });
          assert.equal((await verifyChain(s.ledger)).count, 24);
        } finally {
          await dispose();
        }
      });

      it('refuses a batch that does not continue the head, and writes none of it', async () => {
        await fresh();
        try {
          const first = handBatch(1, 3, GENESIS_HASH);
          await s.ledger.append(first);
          const head = await s.ledger.head();
          const isConflict = (err: unknown): boolean => err instanceof ChainContinuityError && err.code === 'RAMPART_LEDGER_SEQ_CONFLICT';
          await assert.rejects(s.ledger.append(handBatch(5, 2, head!.chainHash)), isConflict, 'gap');
          await assert.rejects(s.ledger.append(handBatch(3, 2, head!.chainHash)), isConflict, 'overlap');
          await assert.rejects(s.ledger.append(handBatch(1, 1, GENESIS_HASH)), isConflict, 'restart from 1');
          await assert.rejects(s.ledger.append(handBatch(4, 2, 'f'.repeat(64))), isConflict, 'the right seq built on another head: a fork');
          const inner = [...handBatch(4, 1, head!.chainHash), ...handBatch(6, 1, head!.chainHash)];
          await assert.rejects(s.ledger.append(inner), isConflict, 'gap inside the batch');
          const mislabelled = handBatch(4, 2, head!.chainHash);
          mislabelled[1]!.priv = { seq: 9 };
          await assert.rejects(s.ledger.append(mislabelled), isConflict, 'private part with another seq');
          assert.deepEqual(await s.ledger.head(), head);
          assert.deepEqual((await s.ledger.read(1, 10)).map((r) => r.record.seq), [1, 2, 3], 'nothing of a refused batch was written');
          await s.ledger.append(handBatch(4, 2, head!.chainHash));
          assert.equal((await s.ledger.head())!.seq, 5);
          assert.equal((await verifyChain(s.ledger)).ok, true);
        } finally {
          await dispose();
        }
      });

      it('concurrent appends through the writer keep one chain, in fewer batches', async () => {
        await fresh();
        try {
          let batches = 0;
          const ledger = await createLedger(s.ledger, { node: 'n1', maxBatch: 64, onCommit: () => batches++ });
          const results = await Promise.all(Array.from({ length: 500 }, (_, i) => ledger.append(decision({ requestId: `r${i}` }))));
          assert.deepEqual(results.map((r) => r.seq), Array.from({ length: 500 }, (_, i) => i + 1), 'seqs in call order, no gaps');
          assert.ok(batches < 500 && batches >= Math.ceil(500 / 64), `group commit: ${batches} batches`);
          assert.deepEqual(await s.ledger.head(), ledger.head());
          const v = await verifyChain(s.ledger, { batch: 37 });
          assert.equal(v.ok, true);
          assert.equal(v.count, 500);
          await ledger.close();
        } finally {
          await dispose();
        }
      });

      it('two writers on the same database cannot fork the chain', async () => {
        await fresh();
        const other = await h.openSecond();
        try {
          const a = await createLedger(s.ledger, { node: 'a', maxBatch: 8, onAlert: () => {} });
          const b = await createLedger(other.ledger, { node: 'b', maxBatch: 8, onAlert: () => {} });
          const settled = await Promise.allSettled(
            Array.from({ length: 120 }, (_, i) => (i % 2 ? a : b).append(decision({ requestId: `w${i}` }))),
          );
          const seqs = settled.filter((r) => r.status === 'fulfilled').map((r) => (r as PromiseFulfilledResult<{ seq: number }>).value.seq);
          assert.equal(new Set(seqs).size, seqs.length, 'no seq given out twice');
          const refused = settled.filter((r) => r.status === 'rejected');
          for (const r of refused) assert.equal(((r as PromiseRejectedResult).reason as { code?: string }).code, 'RAMPART_LEDGER_UNAVAILABLE');
          const v = await verifyChain(s.ledger);
          assert.equal(v.ok, true, JSON.stringify(v.firstBad));
          assert.equal(v.count, seqs.length, 'every acknowledged record is in the one chain, and nothing else');
          assert.deepEqual([...seqs].sort((x, y) => x - y), Array.from({ length: seqs.length }, (_, i) => i + 1));
          await a.close();
          await b.close();
        } finally {
          await other.close();
          await dispose();
        }
      });

      it('keeps personal fields in the private part; the chain holds only commitments', async () => {
        await fresh();
        try {
          const ledger = await createLedger(s.ledger, { node: 'n1', maxBatch: 16 });
          const body = commitBody('{"ssn":"078-05-1120"}');
          const { seq } = await ledger.append(
            decision({
              operationId: 'getAccount',
              route: '/accounts/{accountId}',
              method: 'GET',
              personal: {
                principal: 'alice@example.com',
                subject: 'cust-4711',
                clientAddress: '203.0.113.9',
                forwardedFor: '198.51.100.23',
                pathParams: { accountId: 'ACC-99172' },
                idempotencyKey: 'idem-5521',
              },
              bodies: { request: body },
            }),
          );
          await ledger.close();
          const [stored] = await s.ledger.read(seq, 1);
          for (const secret of ['alice@example.com', 'cust-4711', '203.0.113.9', '198.51.100.23', 'ACC-99172', 'idem-5521', '078-05-1120', body.salt]) {
            assert.ok(!stored!.canonical.includes(secret), `chained canonical must not contain ${secret}`);
          }
          assert.match(stored!.record.personalCommit ?? '', /^[0-9a-f]{64}$/);
          assert.equal(stored!.record.requestBodyCommit, body.mac);
          assert.equal(stored!.record.requestBodyLength, body.length);
          assert.equal(stored!.record.route, '/accounts/{accountId}', 'the route template, never the raw path');
          const [priv] = await s.ledger.readPrivate([seq]);
          assert.equal(priv!.seq, seq);
          assert.deepEqual(priv!.personal, {
            principal: 'alice@example.com',
            subject: 'cust-4711',
            clientAddress: '203.0.113.9',
            forwardedFor: '198.51.100.23',
            pathParams: { accountId: 'ACC-99172' },
            idempotencyKey: 'idem-5521',
          });
          assert.equal(priv!.requestBodySalt, body.salt);
          assert.ok(verifyPersonalCommit(priv!.personal!, priv!.personalSalt!, stored!.record.personalCommit!));
          assert.ok(verifyBodyCommit('{"ssn":"078-05-1120"}', { mac: stored!.record.requestBodyCommit!, salt: priv!.requestBodySalt! }));
        } finally {
          await dispose();
        }
      });

      it('stores a NUL or a lone surrogate sent by a client without failing the batch', async () => {
        await fresh();
        try {
          const ledger = await createLedger(s.ledger, { node: 'n1', maxBatch: 16 });
          const r = await Promise.all([
            ledger.append(decision({ requestId: 'ok-1' })),
            ledger.append(decision({ requestId: 'nul\u0000id', personal: { principal: 'p\u0000', pathParams: { id: 'x\ud800y' } } })),
            ledger.append(decision({ requestId: 'ok-2' })),
          ]);
          assert.deepEqual(r.map((x) => x.seq), [1, 2, 3]);
          await ledger.close();
          const [priv] = await s.ledger.readPrivate([2]);
          assert.deepEqual(priv!.personal, { principal: 'p\ufffd', pathParams: { id: 'x\ufffdy' } });
          assert.equal((await s.ledger.read(2, 1))[0]!.record.requestId, 'nul\ufffdid');
          assert.equal((await verifyChain(s.ledger)).ok, true);
        } finally {
          await dispose();
        }
      });

      describe('search', () => {
        let seqs: Record<string, number>;
        before(async () => {
          await fresh();
          const ledger = await createLedger(s.ledger, { node: 'n1', maxBatch: 16 });
          const add = async (tag: string, input: RecordInput): Promise<void> => {
            seqs[tag] = (await ledger.append(input)).seq;
          };
          seqs = {};
          await add('a', decision({ ts: Date.UTC(2025, 0, 1, 9), requestId: 'req-a', api: 'brokerage', operationId: 'getAccount', status: 200, personal: { principal: 'app-1', subject: 'cust-1', pathParams: { accountId: 'ACC-1' } } }));
          await add('b', decision({ ts: Date.UTC(2025, 0, 2, 9), requestId: 'req-b', api: 'brokerage', operationId: 'getAccount', outcome: 'deny', status: 403, reason: 'RAMPART_SCOPE_MISSING', personal: { principal: 'app-2', subject: 'cust-2', pathParams: { accountId: 'ACC-2' } } }));
          await add('c', decision({ ts: Date.UTC(2025, 0, 3, 9), requestId: 'req-c', api: 'payments', operationId: 'createTransfer', status: 201, personal: { principal: 'app-1', subject: 'cust-2', pathParams: { accountId: 'ACC-2', transferId: 'TR-9' } } }));
          await add('d', { type: 'exchange.completion', outcome: 'success', configHash: CONFIG_HASH, ts: Date.UTC(2025, 0, 4, 9), requestId: 'req-c', api: 'payments', operationId: 'createTransfer', status: 201, decisionSeq: 3 });
          await add('e', { type: 'admin.action', outcome: 'info', configHash: CONFIG_HASH, ts: Date.UTC(2025, 0, 5, 9), detail: { action: 'key.revoke' }, personal: { principal: 'ops-admin' } });
          await ledger.close();
        });
        after(dispose);

        const find = async (q: Omit<Parameters<Storage['ledger']['search']>[0], 'limit'> & { limit?: number }): Promise<number[]> =>
          (await s.ledger.search({ limit: 100, ...q })).map((r) => r.record.seq);

        it('without filters: everything, in seq order, limited', async () => {
          assert.deepEqual(await find({}), [1, 2, 3, 4, 5]);
          assert.deepEqual(await find({ limit: 2 }), [1, 2]);
          assert.deepEqual(await find({ limit: 2, descending: true }), [5, 4]);
          assert.deepEqual(await find({ afterSeq: 3 }), [4, 5]);
        });
        it('by time range (both ends inclusive)', async () => {
          assert.deepEqual(await find({ fromTs: Date.UTC(2025, 0, 2, 9), toTs: Date.UTC(2025, 0, 4, 9) }), [2, 3, 4]);
          assert.deepEqual(await find({ fromTs: Date.UTC(2025, 0, 5) }), [5]);
          assert.deepEqual(await find({ toTs: Date.UTC(2025, 0, 1, 10) }), [1]);
        });
        it('by principal and subject (private part)', async () => {
          assert.deepEqual(await find({ principal: 'app-1' }), [seqs.a, seqs.c]);
          assert.deepEqual(await find({ principal: 'ops-admin' }), [seqs.e]);
          assert.deepEqual(await find({ subject: 'cust-2' }), [seqs.b, seqs.c]);
          assert.deepEqual(await find({ principal: 'app-1', subject: 'cust-2' }), [seqs.c]);
          assert.deepEqual(await find({ principal: 'nobody' }), []);
        });
        it('by object id (any path parameter value)', async () => {
          assert.deepEqual(await find({ objectId: 'ACC-2' }), [seqs.b, seqs.c]);
          assert.deepEqual(await find({ objectId: 'TR-9' }), [seqs.c]);
          assert.deepEqual(await find({ objectId: 'accountId' }), [], 'parameter names are not object ids');
        });
        it('by operation, api, type, status, outcome, reason and request id', async () => {
          assert.deepEqual(await find({ operationId: 'getAccount' }), [seqs.a, seqs.b]);
          assert.deepEqual(await find({ api: 'payments' }), [seqs.c, seqs.d]);
          assert.deepEqual(await find({ type: 'exchange.completion' }), [seqs.d]);
          assert.deepEqual(await find({ status: 201 }), [seqs.c, seqs.d]);
          assert.deepEqual(await find({ outcome: 'deny' }), [seqs.b]);
          assert.deepEqual(await find({ reason: 'RAMPART_SCOPE_MISSING' }), [seqs.b]);
          assert.deepEqual(await find({ requestId: 'req-c' }), [seqs.c, seqs.d]);
          assert.deepEqual(await find({ requestId: 'req-c', type: 'exchange.decision' }), [seqs.c]);
        });
        it('returns whole stored records', async () => {
          const [r] = await s.ledger.search({ requestId: 'req-b', limit: 1 });
          assert.equal(r!.record.reason, 'RAMPART_SCOPE_MISSING');
          assert.deepEqual((await s.ledger.read(r!.record.seq, 1))[0], r);
        });
      });

      it('runs with the strict durability setting', async () => {
        await fresh();
        try {
          await h.assertDurable();
        } finally {
          await dispose();
        }
      });

      it('another handle (the CLI) reads what the gateway writes while it writes', async () => {
        await fresh();
        const reader = await h.openSecond();
        try {
          const ledger = await createLedger(s.ledger, { node: 'n1', maxBatch: 32 });
          const writing = Promise.all(Array.from({ length: 300 }, (_, i) => ledger.append(decision({ requestId: `c${i}` }))));
          let seen = 0;
          while (seen < 300) {
            const v = await verifyChain(reader.ledger);
            assert.equal(v.ok, true, `a concurrent reader sees an intact prefix (${JSON.stringify(v.firstBad)})`);
            seen = v.count;
            if (seen < 300) await new Promise((r) => setTimeout(r, 5));
          }
          await writing;
          await ledger.close();
        } finally {
          await reader.close();
          await dispose();
        }
      });
    });

    it('a read-only handle reads everything and can write nothing', async () => {
      await fresh();
      const ro = await h.openReadOnly();
      try {
        const ledger = await createLedger(s.ledger, { node: 'n1', maxBatch: 8 });
        await Promise.all(Array.from({ length: 5 }, (_, i) => ledger.append(decision({ requestId: `ro${i}`, personal: { principal: 'p' } }))));
        await ledger.close();
        await s.keys.insert(key('k-ro'));
        assert.deepEqual(await ro.ledger.head(), await s.ledger.head());
        assert.equal((await ro.ledger.read(1, 10)).length, 5);
        assert.deepEqual((await ro.ledger.search({ principal: 'p', limit: 10 })).map((r) => r.record.seq), [1, 2, 3, 4, 5]);
        assert.equal((await ro.ledger.readPrivate([1]))[0]!.personal!.principal, 'p');
        assert.equal((await verifyChain(ro.ledger)).ok, true);
        assert.equal((await ro.keys.get('k-ro'))!.id, 'k-ro');
        await ro.ledger.ping();
        const head = await s.ledger.head();
        await assert.rejects(ro.ledger.append(handBatch(6, 1, head!.chainHash)), /read-only/);
        await assert.rejects(ro.keys.insert(key('k-ro-2')), /read-only/);
        await assert.rejects(ro.keys.revoke('k-ro', 1), /read-only/);
        await assert.rejects(ro.keys.touch(new Map([['k-ro', 1]])), /read-only/);
        assert.deepEqual(await s.ledger.head(), head, 'nothing was written');
        assert.equal(await s.keys.get('k-ro-2'), undefined);
        assert.equal((await s.keys.get('k-ro'))!.revokedAt, undefined);
      } finally {
        await ro.close();
        await dispose();
      }
    });

    describe('keys', () => {
      before(fresh);
      after(dispose);

      it('insert, get, list, and changesSince from the start', async () => {
        await s.keys.insert(key('k1'));
        await s.keys.insert(key('k2', { subject: 'cust-7', expiresAt: 1_800_000_000_000, createdBy: 'cli:ops' }));
        assert.deepEqual(await s.keys.get('k1'), key('k1'));
        assert.deepEqual(await s.keys.get('k2'), key('k2', { subject: 'cust-7', expiresAt: 1_800_000_000_000, createdBy: 'cli:ops' }));
        assert.equal(await s.keys.get('nope'), undefined);
        assert.deepEqual((await s.keys.list()).map((k) => k.id), ['k1', 'k2']);
        const c = await s.keys.changesSince(0);
        assert.deepEqual(c.keys.map((k) => k.id), ['k1', 'k2']);
        assert.ok(c.cursor > 0);
        assert.deepEqual(await s.keys.changesSince(c.cursor), { cursor: c.cursor, keys: [] });
      });

      it('refuses a second key with the same id', async () => {
        await assert.rejects(s.keys.insert(key('k1', { name: 'impostor' })), /already exists/);
        assert.equal((await s.keys.get('k1'))!.name, 'key k1');
      });

      it('touch records last use without counting as a change, and never goes back in time', async () => {
        const { cursor } = await s.keys.changesSince(0);
        await s.keys.touch(new Map([['k1', 1_700_000_500_000], ['unknown', 1]]));
        assert.equal((await s.keys.get('k1'))!.lastUsedAt, 1_700_000_500_000);
        await s.keys.touch(new Map([['k1', 1_700_000_400_000]]));
        assert.equal((await s.keys.get('k1'))!.lastUsedAt, 1_700_000_500_000);
        await s.keys.touch(new Map());
        assert.deepEqual(await s.keys.changesSince(cursor), { cursor, keys: [] });
      });

      it('revoke marks the key once, and the change is visible through changesSince', async () => {
        const { cursor } = await s.keys.changesSince(0);
        assert.equal(await s.keys.revoke('k1', 1_700_000_600_000), true);
        const after1 = await s.keys.changesSince(cursor);
        assert.deepEqual(after1.keys.map((k) => [k.id, k.revokedAt]), [['k1', 1_700_000_600_000]]);
        assert.ok(after1.cursor > cursor);
        assert.equal(await s.keys.revoke('k1', 1_700_000_700_000), true, 'revoking twice is fine');
        assert.equal((await s.keys.get('k1'))!.revokedAt, 1_700_000_600_000, 'and keeps the first time');
        assert.deepEqual(await s.keys.changesSince(after1.cursor), { cursor: after1.cursor, keys: [] });
        assert.equal(await s.keys.revoke('nope', 1), false);
      });

      it('changes made through another handle (the CLI) reach a poller', async () => {
        const { cursor } = await s.keys.changesSince(0);
        const cli = await h.openSecond();
        try {
          await cli.keys.insert(key('k3'));
          await cli.keys.revoke('k2', 1_700_000_800_000);
        } finally {
          await cli.close();
        }
        const c = await s.keys.changesSince(cursor);
        assert.deepEqual(c.keys.map((k) => [k.id, k.revokedAt]), [['k3', undefined], ['k2', 1_700_000_800_000]]);
      });
    });

    it('close is idempotent and leaves nothing running', async () => {
      await fresh();
      await s.ledger.head();
      await s.close();
      await s.close();
      await assert.rejects(s.ledger.head());
      await h.dispose();
    });
  });
}
