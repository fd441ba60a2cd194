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
import type { AdminPasskey, AdminSession, AdminUser, ApiKeyRecord, Storage } from '../../src/storage/types.js';

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

const T0 = 1_700_000_000_000;

function adminUser(id: string, over: Partial<AdminUser> = {}): AdminUser {
  return {
    id,
    username: `user-${id}`,
    passwordHash: '$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaA',
    roles: ['security'],
    recoveryCodeHashes: ['a1'.repeat(32), 'b2'.repeat(32), 'c3'.repeat(32)],
    disabled: false,
    failedLogins: 0,
    createdAt: T0,
    updatedAt: T0,
    ...over,
  };
}

function adminSession(id: string, userId: string, over: Partial<AdminSession> = {}): AdminSession {
  return { id, userId, createdAt: T0, lastSeenAt: T0, expiresAt: T0 + 8 * 3600_000, csrfToken: `csrf-${id}`, authenticatedAt: T0, ...over };
}

function passkey(credentialId: string, over: Partial<AdminPasskey> = {}): AdminPasskey {
  return { credentialId, publicKey: `pQECAyYgASFYI-${credentialId}`, counter: 0, transports: ['usb', 'nfc'], name: `key ${credentialId}`, createdAt: T0, ...over };
}

/** The object without its keys whose value is undefined (absent optional fields). */
function defined<T extends object>(o: T): T {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;
}

const hasCode = (code: string) => (err: unknown): boolean => (err as { code?: string }).code === code;

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

    describe('admin', () => {
      before(fresh);
      after(dispose);

      it('insert, get, getUserByName in any case, and list', async () => {
        const alice = adminUser('u-alice', {
          username: 'Alice',
          roles: ['owner', 'admin'],
          totpSecretEnc: 'v1.iv.ct.tag',
          totpLastStep: 56_666_666,
          lockedUntil: T0 - 1,
          createdBy: 'cli:ops',
        });
        await s.admin.insertUser(alice);
        await s.admin.insertUser(adminUser('u-bob', { username: 'bob' }));
        const stored = { ...alice, username: 'alice' };
        assert.deepEqual(await s.admin.getUser('u-alice'), stored, 'every field round-trips; the username is stored lower-case');
        assert.deepEqual(await s.admin.getUser('u-bob'), adminUser('u-bob', { username: 'bob' }), 'absent optional fields stay absent');
        for (const name of ['alice', 'ALICE', 'aLiCe']) assert.deepEqual(await s.admin.getUserByName(name), stored, name);
        assert.equal(await s.admin.getUser('nope'), undefined);
        assert.equal(await s.admin.getUserByName('carol'), undefined);
        assert.equal(await s.admin.getUserByName(''), undefined);
        assert.deepEqual((await s.admin.listUsers()).map((u) => u.username), ['alice', 'bob']);
        await assert.rejects(s.admin.insertUser(adminUser('u-empty', { username: '' })), TypeError);
      });

      it('refuses a second user with a taken username, in any case and from another handle', async () => {
        await assert.rejects(s.admin.insertUser(adminUser('u-impostor', { username: 'BOB' })), hasCode('RAMPART_ADMIN_USER_EXISTS'));
        const other = await h.openSecond();
        try {
          await assert.rejects(other.admin.insertUser(adminUser('u-impostor', { username: 'Bob' })), (e: Error & { code?: string }) => {
            assert.equal(e.code, 'RAMPART_ADMIN_USER_EXISTS');
            assert.match(e.message, /already exists/);
            return true;
          });
        } finally {
          await other.close();
        }
        assert.equal(await s.admin.getUser('u-impostor'), undefined);
        assert.equal((await s.admin.getUserByName('bob'))!.id, 'u-bob');
        assert.equal((await s.admin.listUsers()).length, 2);
      });

      it('updateUser replaces every mutable field, keeps id, username and creation, and is false for an unknown id', async () => {
        const before = (await s.admin.getUser('u-bob'))!;
        const changed: AdminUser = {
          ...before,
          username: 'mallory',
          passwordHash: '$argon2id$v=19$m=19456,t=2,p=1$bmV3c2FsdA$bmV3aGFzaA',
          roles: ['compliance', 'examiner'],
          totpSecretEnc: 'v1.iv2.ct2.tag2',
          totpLastStep: 57_000_000,
          recoveryCodeHashes: ['d4'.repeat(32)],
          disabled: true,
          failedLogins: 3,
          lockedUntil: T0 + 900_000,
          createdAt: 1,
          createdBy: 'someone else',
          updatedAt: T0 + 1000,
        };
        assert.equal(await s.admin.updateUser(changed), true);
        const expected = { ...changed, username: 'bob', createdAt: before.createdAt, createdBy: before.createdBy };
        assert.deepEqual(await s.admin.getUser('u-bob'), defined(expected));
        assert.equal(await s.admin.getUserByName('mallory'), undefined, 'the username is not renamed');
        // And back: optional fields can be cleared, flags and lists emptied.
        const cleared: AdminUser = { ...expected, totpSecretEnc: undefined, totpLastStep: undefined, lockedUntil: undefined, recoveryCodeHashes: [], disabled: false, failedLogins: 0, updatedAt: T0 + 2000 };
        assert.equal(await s.admin.updateUser(cleared), true);
        assert.deepEqual(await s.admin.getUser('u-bob'), defined(cleared));
        assert.equal(await s.admin.updateUser(adminUser('u-ghost')), false);
        assert.equal(await s.admin.getUser('u-ghost'), undefined, 'no upsert');
      });

      it('useTotpStep accepts a step only when it is later than the last accepted one (N63-4)', async () => {
        await s.admin.insertUser(adminUser('u-totp', { totpSecretEnc: 'v1.x.y.z' }));
        assert.equal(await s.admin.useTotpStep('u-totp', 1000), true, 'first step');
        assert.equal(await s.admin.useTotpStep('u-totp', 1000), false, 'the same step again (a replayed code)');
        assert.equal(await s.admin.useTotpStep('u-totp', 999), false, 'an older step');
        assert.equal(await s.admin.useTotpStep('u-totp', 1001), true, 'a later step');
        assert.equal((await s.admin.getUser('u-totp'))!.totpLastStep, 1001);
        assert.equal(await s.admin.useTotpStep('u-nobody', 5), false);
        await assert.rejects(s.admin.useTotpStep('u-totp', 1001.5), RangeError);
        await assert.rejects(s.admin.useTotpStep('u-totp', -1), RangeError);
      });

      it('of 10 concurrent logins with the same TOTP step, through two handles, exactly one wins (N63-4)', async () => {
        const other = await h.openSecond();
        try {
          for (const step of [2000, 2001, 2002]) {
            const results = await Promise.all(Array.from({ length: 10 }, (_, i) => (i % 2 ? s : other).admin.useTotpStep('u-totp', step)));
            assert.equal(results.filter(Boolean).length, 1, `step ${step}: ${JSON.stringify(results)}`);
          }
          assert.equal((await s.admin.getUser('u-totp'))!.totpLastStep, 2002);
        } finally {
          await other.close();
        }
      });

      it('a recovery code works once; of 10 concurrent uses of one code exactly one wins', async () => {
        const [c1, c2, c3] = adminUser('x').recoveryCodeHashes as [string, string, string];
        await s.admin.insertUser(adminUser('u-rec'));
        assert.equal(await s.admin.useRecoveryCode('u-rec', c2), true);
        assert.equal(await s.admin.useRecoveryCode('u-rec', c2), false, 'used already');
        assert.equal(await s.admin.useRecoveryCode('u-rec', 'ff'.repeat(32)), false, 'never issued');
        assert.equal(await s.admin.useRecoveryCode('u-nobody', c1), false);
        assert.deepEqual((await s.admin.getUser('u-rec'))!.recoveryCodeHashes, [c1, c3], 'the others stay, in order');
        const other = await h.openSecond();
        try {
          const results = await Promise.all(Array.from({ length: 10 }, (_, i) => (i % 2 ? s : other).admin.useRecoveryCode('u-rec', c1)));
          assert.equal(results.filter(Boolean).length, 1, JSON.stringify(results));
        } finally {
          await other.close();
        }
        assert.deepEqual((await s.admin.getUser('u-rec'))!.recoveryCodeHashes, [c3]);
      });

      it('recordLoginFailure counts, locks at the threshold for lockMs and starts counting again (N63-5)', async () => {
        await s.admin.insertUser(adminUser('u-lock'));
        const at = T0 + 5000;
        assert.deepEqual(await s.admin.recordLoginFailure('u-lock', at, 3, 60_000), { failedLogins: 1 });
        assert.deepEqual(await s.admin.recordLoginFailure('u-lock', at + 1, 3, 60_000), { failedLogins: 2 });
        assert.deepEqual(await s.admin.recordLoginFailure('u-lock', at + 2, 3, 60_000), { failedLogins: 0, lockedUntil: at + 2 + 60_000 }, 'the third failure locks');
        const u = (await s.admin.getUser('u-lock'))!;
        assert.equal(u.failedLogins, 0);
        assert.equal(u.lockedUntil, at + 2 + 60_000);
        assert.deepEqual(await s.admin.recordLoginFailure('u-lock', at + 70_000, 3, 60_000), { failedLogins: 1, lockedUntil: at + 2 + 60_000 }, 'a later failure counts again; the old lock time stays');
        await s.admin.clearLoginFailures('u-lock');
        assert.equal((await s.admin.getUser('u-lock'))!.failedLogins, 0);
        await s.admin.clearLoginFailures('u-nobody');
        await assert.rejects(s.admin.recordLoginFailure('u-nobody', at, 3, 60_000), hasCode('RAMPART_ADMIN_USER_NOT_FOUND'));
        await assert.rejects(s.admin.recordLoginFailure('u-lock', at, 0, 60_000), RangeError, 'a threshold that never locks is refused');
      });

      it('concurrent failed logins through two handles are all counted, and lock exactly once', async () => {
        await s.admin.insertUser(adminUser('u-race'));
        const other = await h.openSecond();
        try {
          const results = await Promise.all(Array.from({ length: 10 }, (_, i) => (i % 2 ? s : other).admin.recordLoginFailure('u-race', T0 + i, 100, 1000)));
          assert.deepEqual(results.map((r) => r.failedLogins).sort((a, b) => a - b), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 'no failure lost');
          assert.equal((await s.admin.getUser('u-race'))!.failedLogins, 10);
          const locking = await Promise.all(Array.from({ length: 10 }, (_, i) => (i % 2 ? s : other).admin.recordLoginFailure('u-race', T0 + 100 + i, 15, 1000)));
          assert.equal(locking.filter((r) => r.failedLogins === 0).length, 1, `the count reached 15 once: ${JSON.stringify(locking)}`);
          assert.equal((await s.admin.getUser('u-race'))!.failedLogins, 5);
        } finally {
          await other.close();
        }
      });

      it('sessions: create, get, touch, delete, and end all of a user', async () => {
        await s.admin.createSession(adminSession('s1', 'u-alice'));
        assert.deepEqual(await s.admin.getSession('s1'), adminSession('s1', 'u-alice'), 'found by the very next request');
        await s.admin.createSession(adminSession('s2', 'u-alice', { authenticatedAt: T0 + 5 }));
        await s.admin.createSession(adminSession('s3', 'u-bob'));
        assert.equal(await s.admin.getSession('nope'), undefined);
        await s.admin.touchSession('s1', T0 + 60_000);
        assert.equal((await s.admin.getSession('s1'))!.lastSeenAt, T0 + 60_000);
        await s.admin.touchSession('s1', T0 + 30_000);
        assert.equal((await s.admin.getSession('s1'))!.lastSeenAt, T0 + 60_000, 'a late report does not move it back');
        assert.deepEqual(await s.admin.getSession('s1'), adminSession('s1', 'u-alice', { lastSeenAt: T0 + 60_000 }), 'touch changes nothing else');
        await s.admin.touchSession('nope', T0);
        await s.admin.deleteSession('s2');
        assert.equal(await s.admin.getSession('s2'), undefined);
        await s.admin.deleteSession('s2');
        assert.equal(await s.admin.deleteUserSessions('u-alice'), 1);
        assert.equal(await s.admin.getSession('s1'), undefined);
        assert.equal(await s.admin.deleteUserSessions('u-alice'), 0);
        assert.deepEqual(await s.admin.getSession('s3'), adminSession('s3', 'u-bob'), 'other users keep theirs');
        await s.admin.createSession(adminSession('s4', 'u-bob'));
        await s.admin.createSession(adminSession('s5', 'u-bob'));
        assert.equal(await s.admin.deleteUserSessions('u-bob'), 3);
      });

      it("a new session clears that user's expired ones", async () => {
        await s.admin.createSession(adminSession('old', 'u-alice', { expiresAt: T0 + 1000 }));
        await s.admin.createSession(adminSession('live', 'u-alice', { expiresAt: T0 + 10_000 }));
        await s.admin.createSession(adminSession('bobs', 'u-bob', { expiresAt: T0 + 1000 }));
        await s.admin.createSession(adminSession('new', 'u-alice', { createdAt: T0 + 5000, lastSeenAt: T0 + 5000 }));
        assert.equal(await s.admin.getSession('old'), undefined);
        assert.ok(await s.admin.getSession('live'));
        assert.ok(await s.admin.getSession('bobs'), "another user's are left alone");
        assert.equal(await s.admin.deleteUserSessions('u-alice'), 2);
        assert.equal(await s.admin.deleteUserSessions('u-bob'), 1);
      });

      it('passkeys: add, list in creation order and get by credential id give back every field (N63-2)', async () => {
        // Credential ids are base64url: the order of '-', digits, upper case, '_' and lower case
        // is byte order on every backend, whatever the database's collation.
        const laptop = passkey('_lap-top', { createdAt: T0 + 10, transports: ['internal', 'hybrid'], name: 'laptop' });
        const yubi = passkey('Yubi-9', { createdAt: T0 + 10, counter: 41, transports: ['usb', 'nfc'], name: 'YubiKey', lastUsedAt: T0 + 20 });
        const first = passkey('zz-first', { createdAt: T0 + 5, transports: [] });
        const lower = passkey('yubi-9', { createdAt: T0 + 10 });
        for (const p of [laptop, yubi, first, lower]) await s.admin.addPasskey('u-alice', p);
        await s.admin.addPasskey('u-bob', passkey('bob-key-1'));
        assert.deepEqual(await s.admin.listPasskeys('u-alice'), [first, yubi, laptop, lower], 'by createdAt, then credential id in byte order');
        assert.deepEqual(await s.admin.listPasskeys('u-bob'), [passkey('bob-key-1')], 'absent optional fields stay absent');
        assert.deepEqual(await s.admin.listPasskeys('u-nobody'), []);
        assert.deepEqual(await s.admin.getPasskey('Yubi-9'), { userId: 'u-alice', passkey: yubi });
        assert.deepEqual(await s.admin.getPasskey('zz-first'), { userId: 'u-alice', passkey: first }, 'an empty transports list');
        assert.deepEqual(await s.admin.getPasskey('bob-key-1'), { userId: 'u-bob', passkey: passkey('bob-key-1') });
        assert.equal(await s.admin.getPasskey('yubi-9x'), undefined);
        assert.equal(await s.admin.getPasskey('YUBI-9'), undefined, 'credential ids are case-sensitive');
        await assert.rejects(s.admin.addPasskey('u-alice', passkey('bad-counter', { counter: -1 })), RangeError);
        await assert.rejects(s.admin.addPasskey('u-alice', passkey('bad-counter', { counter: 1.5 })), RangeError);
        await assert.rejects(s.admin.addPasskey('u-alice', passkey('')), TypeError);
        assert.equal(await s.admin.getPasskey('bad-counter'), undefined);
      });

      it('addPasskey refuses a registered credential id (for any user, from any handle) and an unknown user', async () => {
        const before = await s.admin.getPasskey('Yubi-9');
        await assert.rejects(s.admin.addPasskey('u-alice', passkey('Yubi-9', { name: 'impostor' })), (e: Error & { code?: string }) => {
          assert.equal(e.code, 'RAMPART_ADMIN_PASSKEY_EXISTS');
          assert.match(e.message, /already exists/);
          return true;
        });
        await assert.rejects(s.admin.addPasskey('u-bob', passkey('Yubi-9')), hasCode('RAMPART_ADMIN_PASSKEY_EXISTS'), 'another user');
        const other = await h.openSecond();
        try {
          await assert.rejects(other.admin.addPasskey('u-bob', passkey('Yubi-9')), hasCode('RAMPART_ADMIN_PASSKEY_EXISTS'), 'another handle');
          await assert.rejects(other.admin.addPasskey('u-ghost', passkey('ghost-key')), hasCode('RAMPART_ADMIN_USER_NOT_FOUND'));
        } finally {
          await other.close();
        }
        await assert.rejects(s.admin.addPasskey('u-ghost', passkey('ghost-key')), hasCode('RAMPART_ADMIN_USER_NOT_FOUND'));
        await assert.rejects(s.admin.addPasskey('U-ALICE', passkey('ghost-key')), hasCode('RAMPART_ADMIN_USER_NOT_FOUND'), 'user ids are exact');
        assert.equal(await s.admin.getPasskey('ghost-key'), undefined, 'nothing stored for an unknown user');
        assert.deepEqual(await s.admin.listPasskeys('u-ghost'), []);
        assert.deepEqual(await s.admin.getPasskey('Yubi-9'), before, 'the registered one is unchanged');
        assert.equal((await s.admin.listPasskeys('u-bob')).length, 1);
      });

      it('usePasskey accepts only a growing signature counter, or 0 again for an authenticator without one (N63-2)', async () => {
        const yubi = (await s.admin.getPasskey('Yubi-9'))!.passkey;
        assert.equal(yubi.counter, 41);
        assert.equal(await s.admin.usePasskey('Yubi-9', 41, T0 + 100), false, 'the same counter (a replayed or cloned authenticator)');
        assert.equal(await s.admin.usePasskey('Yubi-9', 40, T0 + 100), false, 'a lower counter');
        assert.equal(await s.admin.usePasskey('Yubi-9', 0, T0 + 100), false, 'back to 0 after counting');
        assert.deepEqual(await s.admin.getPasskey('Yubi-9'), { userId: 'u-alice', passkey: yubi }, 'a refused use changes nothing');
        assert.equal(await s.admin.usePasskey('Yubi-9', 42, T0 + 200), true);
        assert.deepEqual((await s.admin.getPasskey('Yubi-9'))!.passkey, { ...yubi, counter: 42, lastUsedAt: T0 + 200 }, 'counter and last use, nothing else');
        assert.equal(await s.admin.usePasskey('Yubi-9', 1000, T0 + 300), true, 'counters may jump');
        assert.equal(await s.admin.usePasskey('Yubi-9', 999, T0 + 400), false);
        assert.equal((await s.admin.getPasskey('Yubi-9'))!.passkey.lastUsedAt, T0 + 300);

        // An authenticator that always reports 0 (many platform passkeys).
        assert.equal(await s.admin.usePasskey('_lap-top', 0, T0 + 500), true);
        assert.equal(await s.admin.usePasskey('_lap-top', 0, T0 + 600), true, 'again and again');
        assert.deepEqual((await s.admin.getPasskey('_lap-top'))!.passkey, passkey('_lap-top', { createdAt: T0 + 10, transports: ['internal', 'hybrid'], name: 'laptop', lastUsedAt: T0 + 600 }));
        assert.equal(await s.admin.usePasskey('_lap-top', 3, T0 + 700), true, 'it starts counting');
        assert.equal(await s.admin.usePasskey('_lap-top', 0, T0 + 800), false, 'and then 0 is refused');
        assert.equal((await s.admin.getPasskey('_lap-top'))!.passkey.counter, 3);

        assert.equal(await s.admin.usePasskey('no-such-key', 5, T0), false);
        assert.equal(await s.admin.usePasskey('no-such-key', 0, T0), false);
        for (const bad of [-1, 1.5, Number.NaN, 2 ** 53]) await assert.rejects(s.admin.usePasskey('Yubi-9', bad, T0), RangeError, String(bad));
        await assert.rejects(s.admin.usePasskey('Yubi-9', 2000, 1.5), RangeError, 'at must be integer milliseconds');
        assert.equal((await s.admin.getPasskey('Yubi-9'))!.passkey.counter, 1000);
      });

      it('of 10 concurrent uses of a passkey with the same counter, through two handles, exactly one wins (N63-2)', async () => {
        const other = await h.openSecond();
        try {
          for (const counter of [2000, 2001, 2002]) {
            const results = await Promise.all(Array.from({ length: 10 }, (_, i) => (i % 2 ? s : other).admin.usePasskey('Yubi-9', counter, T0 + counter)));
            assert.equal(results.filter(Boolean).length, 1, `counter ${counter}: ${JSON.stringify(results)}`);
          }
          assert.equal((await other.admin.getPasskey('Yubi-9'))!.passkey.counter, 2002);
        } finally {
          await other.close();
        }
        const p = (await s.admin.getPasskey('Yubi-9'))!.passkey;
        assert.equal(p.counter, 2002);
        assert.equal(p.lastUsedAt, T0 + 2002);
      });

      it('a read-only handle reads admin data and can change nothing', async () => {
        await s.admin.createSession(adminSession('s-ro', 'u-alice'));
        const ro = await h.openReadOnly();
        try {
          assert.deepEqual(await ro.admin.getUser('u-alice'), await s.admin.getUser('u-alice'));
          assert.equal((await ro.admin.getUserByName('ALICE'))!.id, 'u-alice');
          assert.deepEqual(await ro.admin.listUsers(), await s.admin.listUsers());
          assert.deepEqual(await ro.admin.getSession('s-ro'), adminSession('s-ro', 'u-alice'));
          assert.deepEqual(await ro.admin.listPasskeys('u-alice'), await s.admin.listPasskeys('u-alice'));
          assert.deepEqual(await ro.admin.getPasskey('Yubi-9'), await s.admin.getPasskey('Yubi-9'));
          const alice = (await s.admin.getUser('u-alice'))!;
          const refused: [string, () => Promise<unknown>][] = [
            ['insertUser', () => ro.admin.insertUser(adminUser('u-ro'))],
            ['updateUser', () => ro.admin.updateUser({ ...alice, disabled: true })],
            ['useTotpStep', () => ro.admin.useTotpStep('u-totp', 9999)],
            ['useRecoveryCode', () => ro.admin.useRecoveryCode('u-rec', 'c3'.repeat(32))],
            ['recordLoginFailure', () => ro.admin.recordLoginFailure('u-lock', T0, 3, 1000)],
            ['clearLoginFailures', () => ro.admin.clearLoginFailures('u-lock')],
            ['createSession', () => ro.admin.createSession(adminSession('s-ro-2', 'u-alice'))],
            ['touchSession', () => ro.admin.touchSession('s-ro', T0 + 99)],
            ['deleteSession', () => ro.admin.deleteSession('s-ro')],
            ['deleteUserSessions', () => ro.admin.deleteUserSessions('u-alice')],
            ['addPasskey', () => ro.admin.addPasskey('u-alice', passkey('ro-key'))],
            ['usePasskey', () => ro.admin.usePasskey('Yubi-9', 9999, T0)],
          ];
          for (const [name, call] of refused) await assert.rejects(call(), /read-only/, name);
        } finally {
          await ro.close();
        }
        assert.equal(await s.admin.getUser('u-ro'), undefined);
        assert.equal((await s.admin.getUser('u-alice'))!.disabled, false);
        assert.equal((await s.admin.getUser('u-totp'))!.totpLastStep, 2002);
        assert.deepEqual((await s.admin.getUser('u-rec'))!.recoveryCodeHashes, ['c3'.repeat(32)]);
        assert.deepEqual(await s.admin.getSession('s-ro'), adminSession('s-ro', 'u-alice'));
        assert.equal(await s.admin.getPasskey('ro-key'), undefined);
        assert.equal((await s.admin.getPasskey('Yubi-9'))!.passkey.counter, 2002);
      });

      it('survives closing and reopening the storage', async () => {
        const users = await s.admin.listUsers();
        const session = await s.admin.getSession('s-ro');
        const passkeys = await s.admin.listPasskeys('u-alice');
        const bobs = await s.admin.getPasskey('bob-key-1');
        await s.close();
        const again = await h.openSecond();
        try {
          assert.deepEqual(await again.admin.listUsers(), users);
          assert.deepEqual(await again.admin.getSession('s-ro'), session);
          assert.equal(await again.admin.useTotpStep('u-totp', 2002), false, 'the replay guard survives a restart');
          assert.equal(await again.admin.useRecoveryCode('u-rec', 'c3'.repeat(32)), true);
          assert.deepEqual(await again.admin.listPasskeys('u-alice'), passkeys);
          assert.deepEqual(await again.admin.getPasskey('bob-key-1'), bobs);
          assert.equal(await again.admin.usePasskey('Yubi-9', 2002, T0 + 9000), false, 'the counter survives a restart');
          assert.equal(await again.admin.usePasskey('Yubi-9', 2003, T0 + 9000), true);
          await assert.rejects(again.admin.addPasskey('u-bob', passkey('_lap-top')), hasCode('RAMPART_ADMIN_PASSKEY_EXISTS'));
        } finally {
          await again.close();
        }
      });
    });

    it('the storage closes once its ledger, keys and admin stores are all closed', async () => {
      await fresh();
      try {
        await s.ledger.close();
        await s.keys.close();
        assert.deepEqual(await s.admin.listUsers(), [], 'still open while admin is');
        await s.admin.close();
        await assert.rejects(s.admin.listUsers());
        await assert.rejects(s.ledger.head());
      } finally {
        await dispose();
      }
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
