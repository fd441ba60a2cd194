/**
 * The storage contract: one suite, run against every backend (STYLE: undici's cache-store tests).
 * A backend test file passes a harness that opens a fresh, empty storage (its own temp file or
 * temp database) and disposes of it afterwards.
 *
 * Sealed private parts, bodies and blind index tags are random bytes here: the store treats them
 * as opaque (ENC-5, RSP-2); sealing and opening are the sealer's, tested with the writer.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { DataKeyRing } from '../../src/crypto/data-keys.js';
import { openEnvKekProvider } from '../../src/crypto/kek/env.js';
import { blindTag, type IndexKind } from '../../src/ledger/blind-index.js';
import { buildStoredRecord, ChainContinuityError, GENESIS_HASH } from '../../src/ledger/chain.js';
import { commitBody, verifyBodyCommit, verifyPersonalCommit } from '../../src/ledger/commit.js';
import type { LedgerRecord, RecordInput } from '../../src/ledger/record.js';
import { createSealer, type Sealer } from '../../src/ledger/sealer.js';
import { verifyChain } from '../../src/ledger/verify.js';
import { createLedger } from '../../src/ledger/writer.js';
import type {
  AdminPasskey, AdminSession, AdminUser, ApiKeyRecord, AppendItem, CheckpointRow, ConfigVersionRow, LegalHold, PruneState, SealedPrivate, Storage,
  WrappedDataKey,
} from '../../src/storage/types.js';

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
const T0 = 1_700_000_000_000;

export function decision(over: Partial<RecordInput> = {}): RecordInput {
  return { type: 'exchange.decision', outcome: 'allow', configHash: CONFIG_HASH, stage: 'ledger', reason: 'RAMPART_OK', ...over };
}

/** One development KEK for the whole run, so every handle on a database unwraps the same data keys. */
const TEST_KEK = randomBytes(32).toString('base64');

/**
 * A real sealer over the storage's own data keys (DataKeyRing, env KEK provider), for tests that
 * go through the writer.
 *
 * @example
 * const ledger = await createLedger(s.ledger, { node: 'n1', maxBatch: 16, sealer: await testSealer(s) });
 */
export async function testSealer(storage: Storage): Promise<Sealer> {
  const kek = openEnvKekProvider({ variable: 'RAMPART_TEST_KEK', env: { RAMPART_TEST_KEK: TEST_KEK } });
  return createSealer(new DataKeyRing(storage.dataKeys, kek));
}

/** A blind index key of this run: tags are what the sealer would derive (src/ledger/blind-index.ts). */
const INDEX_KEY = randomBytes(32);
export const tagOf = (kind: IndexKind, value: string): Buffer => blindTag(INDEX_KEY, kind, value);

export interface HandOptions {
  /** Record fields for a seq (ts, api, status, ...); seq itself is not overridden. */
  record?: (seq: number) => Partial<LedgerRecord>;
  /** The data key id of a sealed private part for the seq, or undefined for none. */
  priv?: (seq: number) => string | undefined;
  /** Sealed bodies of the seq. */
  bodies?: (seq: number) => readonly { part: 'request' | 'response'; dekId: string }[];
  /** Blind index tags of the seq (entries get the record's ts). */
  tags?: (seq: number) => readonly Buffer[];
}

/** Builds a batch by hand (no writer), continuing `prev`; sealed parts are random bytes. */
export function handBatch(fromSeq: number, n: number, prevHash: string, o: HandOptions = {}): AppendItem[] {
  const out: AppendItem[] = [];
  let prev = prevHash;
  for (let i = 0; i < n; i++) {
    const seq = fromSeq + i;
    const record: LedgerRecord = { v: 1, ts: T0 + seq, type: 'system.event', node: 'n1', outcome: 'info', configHash: CONFIG_HASH, detail: { i }, ...o.record?.(seq), seq };
    const stored = buildStoredRecord(record, prev);
    prev = stored.chainHash;
    const item: AppendItem = { stored };
    const dek = o.priv?.(seq);
    if (dek !== undefined) item.priv = { seq, dekId: dek, sealed: randomBytes(48) };
    const bodies = o.bodies?.(seq) ?? [];
    if (bodies.length > 0) item.bodies = bodies.map((b) => ({ seq, part: b.part, dekId: b.dekId, sealed: randomBytes(64 + seq) }));
    const tags = o.tags?.(seq) ?? [];
    if (tags.length > 0) item.index = tags.map((tag) => ({ seq, ts: record.ts, tag }));
    out.push(item);
  }
  return out;
}

/** A data key row with random wrapped bytes. */
function dataKey(id: string, over: Partial<WrappedDataKey> = {}): WrappedDataKey {
  return { id, recordClass: 'personal', expiryDay: 20_000, kekId: 'env:aaaaaaaa', wrapped: randomBytes(60), createdAt: T0, ...over };
}

const hex = (n: number): string => n.toString(16).padStart(64, '0');

function checkpoint(treeSize: number, kind: CheckpointRow['kind'], over: Partial<CheckpointRow> = {}): CheckpointRow {
  return {
    treeSize, ts: T0 + treeSize, kind, rootHash: hex(treeSize + 1), chainHash: hex(treeSize + 2),
    note: `rampart.test/ledger\n${treeSize}\n${Buffer.from(hex(treeSize)).toString('base64')}\n\n— rampart.test/ledger AAAA\n`,
    compactRange: Array.from({ length: Math.min(3, treeSize) }, (_, i) => hex(100 + i)),
    ...over,
  };
}

function hold(id: string, dekId: string, over: Partial<LegalHold> = {}): LegalHold {
  return { id, criteriaSealed: randomBytes(40), dekId, createdAt: T0, createdBy: 'compliance:carol', ...over };
}

function key(id: string, over: Partial<ApiKeyRecord> = {}): ApiKeyRecord {
  return { id, name: `key ${id}`, hash: 'ab'.repeat(32), scopes: ['accounts:read', 'orders:write'], createdAt: 1_700_000_000_000, ...over };
}

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

/** A configuration hash as src/config/hash.ts makes them ('sha256:<hex>'), distinct per n. */
export const configHashOf = (n: number): string => `sha256:${n.toString(16).padStart(64, '0')}`;

/** A configuration version row with a random bundle. */
export function configVersion(n: number, over: Partial<ConfigVersionRow> = {}): ConfigVersionRow {
  return { hash: configHashOf(n), createdAt: T0 + n, author: 'alice', bundle: randomBytes(200), profile: 'finra', message: `change ${n}`, ...over };
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
          assert.deepEqual(await s.ledger.readLeaves(1, 10), []);
          assert.deepEqual(await s.ledger.search({ limit: 10 }), []);
          assert.deepEqual(await s.ledger.readPrivate([1, 2]), []);
          assert.deepEqual(await s.ledger.readBodies([1, 2]), []);
          assert.deepEqual(await s.ledger.searchIndex([tagOf('subject', 'x')], 0, Number.MAX_SAFE_INTEGER, 10), []);
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

      it('readLeaves gives seq and leaf hash only, in seq order, paged', async () => {
        await fresh();
        try {
          const batch = handBatch(1, 7, GENESIS_HASH);
          await s.ledger.append(batch);
          const leaves = batch.map((b) => ({ seq: b.stored.record.seq, leafHash: b.stored.leafHash }));
          assert.deepEqual(await s.ledger.readLeaves(1, 100), leaves);
          assert.deepEqual(await s.ledger.readLeaves(3, 2), leaves.slice(2, 4));
          assert.deepEqual(await s.ledger.readLeaves(7, 5), leaves.slice(6));
          assert.deepEqual(await s.ledger.readLeaves(8, 5), []);
        } finally {
          await dispose();
        }
      });

      it('stores sealed private parts, bodies and index entries beside the records, byte for byte (ENC-5, RSP-2)', async () => {
        await fresh();
        try {
          const batch = handBatch(1, 4, GENESIS_HASH, {
            priv: (seq) => (seq === 3 ? undefined : `dk-${seq % 2}`),
            bodies: (seq) => (seq === 2 ? [{ part: 'response', dekId: 'dk-b' }, { part: 'request', dekId: 'dk-b' }] : []),
            tags: (seq) => [tagOf('principal', `app-${seq}`), tagOf('subject', 'cust-1')],
          });
          // Two path parameters with the same id: the same tag twice for one record is one entry.
          batch[3]!.index = [...batch[3]!.index!, { seq: 4, ts: batch[3]!.stored.record.ts, tag: tagOf('subject', 'cust-1') }];
          await s.ledger.append(batch);

          const privs = await s.ledger.readPrivate([4, 3, 2, 1, 99]);
          assert.deepEqual(privs.map((p) => p.seq), [1, 2, 4], 'in seq order; seqs without one are omitted');
          for (const p of privs) {
            assert.equal(p.plain, undefined);
            assert.ok(Buffer.isBuffer(p.sealed!.sealed), 'sealed bytes come back as a Buffer');
            assert.deepEqual(p.sealed, batch[p.seq - 1]!.priv, 'seq, data key id and envelope as stored');
          }
          const bodies = await s.ledger.readBodies([4, 2, 1]);
          assert.deepEqual(bodies.map((b) => [b.seq, b.part, b.dekId]), [[2, 'request', 'dk-b'], [2, 'response', 'dk-b']], 'in (seq, part) order');
          for (const b of bodies) {
            assert.ok(Buffer.isBuffer(b.sealed));
            assert.deepEqual(b, batch[1]!.bodies!.find((x) => x.part === b.part));
          }
          assert.deepEqual(await s.ledger.readBodies([1, 3, 99]), []);
          assert.deepEqual(await s.ledger.readBodies([]), []);

          const cust = tagOf('subject', 'cust-1');
          const hits = await s.ledger.searchIndex([cust], 0, Number.MAX_SAFE_INTEGER, 100);
          assert.deepEqual(hits.map((h) => [h.seq, h.ts]), [1, 2, 3, 4].map((seq) => [seq, T0 + seq]), 'one entry per record');
          assert.ok(hits.every((h) => Buffer.isBuffer(h.tag) && h.tag.equals(cust)));
          assert.equal((await verifyChain(s.ledger)).ok, true, 'what is stored beside the chain does not touch it');
        } finally {
          await dispose();
        }
      });

      it('batches sent back to back (as the pipelined writer sends them) commit in order', async () => {
        await fresh();
        try {
          const depth = s.ledger.pipelineDepth ?? 1;
          const batches: AppendItem[][] = [];
          let prev = GENESIS_HASH;
          for (let b = 0; b < 6; b++) {
            const batch = handBatch(1 + b * 4, 4, prev, { priv: () => 'dk-1', tags: (seq) => [tagOf('object', `o-${seq}`)] });
            prev = batch[3]!.stored.chainHash;
            batches.push(batch);
          }
          // Up to pipelineDepth in flight at once, as the writer does.
          for (let i = 0; i < batches.length; i += depth) await Promise.all(batches.slice(i, i + depth).map((b) => s.ledger.append(b)));
          assert.deepEqual(await s.ledger.head(), { seq: 24, chainHash: prev });
          assert.equal((await verifyChain(s.ledger)).count, 24);
          assert.equal((await s.ledger.readPrivate(Array.from({ length: 24 }, (_, i) => i + 1))).length, 24);
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
          const full = (): AppendItem[] =>
            handBatch(4, 2, head!.chainHash, { priv: () => 'dk', bodies: () => [{ part: 'request', dekId: 'dk' }], tags: () => [tagOf('subject', 's')] });
          const mislabelled = full();
          mislabelled[1]!.priv = { ...mislabelled[1]!.priv!, seq: 9 };
          await assert.rejects(s.ledger.append(mislabelled), isConflict, 'private part with another seq');
          const body = full();
          body[1]!.bodies = [{ ...body[1]!.bodies![0]!, seq: 4 }];
          await assert.rejects(s.ledger.append(body), isConflict, 'a body with another seq');
          const entry = full();
          entry[0]!.index = [{ ...entry[0]!.index![0]!, seq: 5 }];
          await assert.rejects(s.ledger.append(entry), isConflict, 'an index entry with another seq');
          assert.deepEqual(await s.ledger.head(), head);
          assert.deepEqual((await s.ledger.read(1, 10)).map((r) => r.record.seq), [1, 2, 3], 'nothing of a refused batch was written');
          await s.ledger.append(handBatch(4, 2, head!.chainHash));
          assert.equal((await s.ledger.head())!.seq, 5);
          assert.equal((await verifyChain(s.ledger)).ok, true);
        } finally {
          await dispose();
        }
      });

      it('refuses private parts and bodies that are not sealed, and a batch the database refuses writes nothing', async () => {
        await fresh();
        try {
          const full = (): AppendItem[] =>
            handBatch(1, 2, GENESIS_HASH, { priv: () => 'dk', bodies: () => [{ part: 'request', dekId: 'dk-b' }], tags: (seq) => [tagOf('subject', `s${seq}`)] });
          const clear = full();
          // What the writer had before sealing: a private part in clear. The store never takes one.
          clear[0]!.priv = { seq: 1, personal: { principal: 'alice' } } as unknown as SealedPrivate;
          await assert.rejects(s.ledger.append(clear), TypeError, 'a clear private part');
          const empty = full();
          empty[1]!.priv = { ...empty[1]!.priv!, sealed: Buffer.alloc(0) };
          await assert.rejects(s.ledger.append(empty), TypeError, 'no envelope bytes');
          const noKey = full();
          noKey[1]!.bodies = [{ ...noKey[1]!.bodies![0]!, dekId: '' }];
          await assert.rejects(s.ledger.append(noKey), TypeError, 'a body without its data key');
          const part = full();
          part[1]!.bodies = [{ ...part[1]!.bodies![0]!, part: 'trailer' as 'request' }];
          await assert.rejects(s.ledger.append(part), TypeError, 'an unknown body part');
          const tag = full();
          tag[0]!.index = [{ seq: 1, ts: T0, tag: Buffer.alloc(0) }];
          await assert.rejects(s.ledger.append(tag), TypeError, 'an empty tag');
          // Valid items, but the same body part twice: refused by the database inside the
          // transaction, after the record and its other parts were inserted.
          const twice = full();
          twice[1]!.bodies = [twice[1]!.bodies![0]!, { ...twice[1]!.bodies![0]!, sealed: randomBytes(20) }];
          await assert.rejects(s.ledger.append(twice), 'the same body part twice');
          assert.equal(await s.ledger.head(), null);
          assert.deepEqual(await s.ledger.read(1, 10), []);
          assert.deepEqual(await s.ledger.readPrivate([1, 2]), [], 'no private part of a refused batch');
          assert.deepEqual(await s.ledger.readBodies([1, 2]), []);
          assert.deepEqual(await s.ledger.searchIndex([tagOf('subject', 's1'), tagOf('subject', 's2')], 0, Number.MAX_SAFE_INTEGER, 10), []);
          const ok = full();
          await s.ledger.append(ok);
          assert.equal((await s.ledger.head())!.seq, 2);
        } finally {
          await dispose();
        }
      });

      it('concurrent appends through the writer keep one chain, in fewer batches', async () => {
        await fresh();
        try {
          let batches = 0;
          const ledger = await createLedger(s.ledger, { node: 'n1', maxBatch: 64, onCommit: () => batches++, sealer: await testSealer(s) });
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
          const a = await createLedger(s.ledger, { node: 'a', maxBatch: 8, onAlert: () => {}, sealer: await testSealer(s) });
          const b = await createLedger(other.ledger, { node: 'b', maxBatch: 8, onAlert: () => {}, sealer: await testSealer(other) });
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

      it('keeps personal fields in the private part, sealed; the chain holds only commitments', async () => {
        await fresh();
        try {
          const sealer = await testSealer(s);
          const ledger = await createLedger(s.ledger, { node: 'n1', maxBatch: 16, sealer });
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
          const [row] = await s.ledger.readPrivate([seq]);
          assert.ok(row?.sealed, 'stored sealed (ENC-5), never in clear');
          for (const secret of ['alice@example.com', 'cust-4711', 'ACC-99172']) assert.ok(!row.sealed.sealed.includes(secret), `the envelope does not show ${secret}`);
          const priv = await sealer.openPrivate(row);
          assert.equal(priv.seq, seq);
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
          const sealer = await testSealer(s);
          const ledger = await createLedger(s.ledger, { node: 'n1', maxBatch: 16, sealer });
          const r = await Promise.all([
            ledger.append(decision({ requestId: 'ok-1' })),
            ledger.append(decision({ requestId: 'nul\u0000id', personal: { principal: 'p\u0000', pathParams: { id: 'x\ud800y' } } })),
            ledger.append(decision({ requestId: 'ok-2' })),
          ]);
          assert.deepEqual(r.map((x) => x.seq), [1, 2, 3]);
          await ledger.close();
          const priv = await sealer.openPrivate((await s.ledger.readPrivate([2]))[0]!);
          assert.deepEqual(priv.personal, { principal: 'p\ufffd', pathParams: { id: 'x\ufffdy' } });
          assert.equal((await s.ledger.read(2, 1))[0]!.record.requestId, 'nul\ufffdid');
          assert.equal((await verifyChain(s.ledger)).ok, true);
        } finally {
          await dispose();
        }
      });

      describe('search', () => {
        const day = (d: number): number => Date.UTC(2025, 0, d, 9);
        const P = (v: string): Buffer => tagOf('principal', v);
        const S = (v: string): Buffer => tagOf('subject', v);
        const O = (v: string): Buffer => tagOf('object', v);
        before(async () => {
          await fresh();
          const records: Record<number, Partial<LedgerRecord>> = {
            1: { ts: day(1), type: 'exchange.decision', outcome: 'allow', requestId: 'req-a', api: 'brokerage', operationId: 'getAccount', status: 200, reason: 'RAMPART_OK' },
            2: { ts: day(2), type: 'exchange.decision', outcome: 'deny', requestId: 'req-b', api: 'brokerage', operationId: 'getAccount', status: 403, reason: 'RAMPART_SCOPE_MISSING' },
            3: { ts: day(3), type: 'exchange.decision', outcome: 'allow', requestId: 'req-c', api: 'payments', operationId: 'createTransfer', status: 201, reason: 'RAMPART_OK' },
            4: { ts: day(4), type: 'exchange.completion', outcome: 'success', requestId: 'req-c', api: 'payments', operationId: 'createTransfer', status: 201, decisionSeq: 3 },
            5: { ts: day(5), type: 'admin.action', outcome: 'info', detail: { action: 'key.revoke' } },
          };
          const tags: Record<number, Buffer[]> = {
            1: [P('app-1'), S('cust-1'), O('ACC-1')],
            2: [P('app-2'), S('cust-2'), O('ACC-2')],
            3: [P('app-1'), S('cust-2'), O('ACC-2'), O('TR-9')],
            5: [P('ops-admin')],
          };
          await s.ledger.append(handBatch(1, 5, GENESIS_HASH, { record: (seq) => records[seq]!, priv: () => 'dk', tags: (seq) => tags[seq] ?? [] }));
        });
        after(dispose);

        const find = async (q: Omit<Parameters<Storage['ledger']['search']>[0], 'limit'> & { limit?: number }): Promise<number[]> =>
          (await s.ledger.search({ limit: 100, ...q })).map((r) => r.record.seq);

        it('without filters: everything, in seq order, limited', async () => {
          assert.deepEqual(await find({}), [1, 2, 3, 4, 5]);
          assert.deepEqual(await find({ limit: 2 }), [1, 2]);
          assert.deepEqual(await find({ limit: 2, descending: true }), [5, 4]);
          assert.deepEqual(await find({ afterSeq: 3 }), [4, 5]);
          // Paging newest first (the console's audit explorer): the page before seq 4, then before 2.
          assert.deepEqual(await find({ beforeSeq: 4, descending: true, limit: 2 }), [3, 2]);
          assert.deepEqual(await find({ beforeSeq: 2, descending: true, limit: 2 }), [1]);
          assert.deepEqual(await find({ afterSeq: 1, beforeSeq: 5 }), [2, 3, 4]);
        });
        it('by time range (both ends inclusive)', async () => {
          assert.deepEqual(await find({ fromTs: day(2), toTs: day(4) }), [2, 3, 4]);
          assert.deepEqual(await find({ fromTs: Date.UTC(2025, 0, 5) }), [5]);
          assert.deepEqual(await find({ toTs: Date.UTC(2025, 0, 1, 10) }), [1]);
        });
        it('by blind index tags: principal, subject, object id; all given tags must match (RSP-2)', async () => {
          assert.deepEqual(await find({ tags: [P('app-1')] }), [1, 3]);
          assert.deepEqual(await find({ tags: [P('ops-admin')] }), [5]);
          assert.deepEqual(await find({ tags: [S('cust-2')] }), [2, 3]);
          assert.deepEqual(await find({ tags: [P('app-1'), S('cust-2')] }), [3], 'AND');
          assert.deepEqual(await find({ tags: [O('ACC-2')] }), [2, 3]);
          assert.deepEqual(await find({ tags: [O('TR-9'), O('ACC-2')] }), [3]);
          assert.deepEqual(await find({ tags: [P('nobody')] }), []);
          assert.deepEqual(await find({ tags: [S('ACC-2')] }), [], 'the kind is part of the tag');
          assert.deepEqual(await find({ tags: [] }), [1, 2, 3, 4, 5], 'no tags: no condition');
        });
        it('tags together with the time range and the other filters', async () => {
          assert.deepEqual(await find({ tags: [P('app-1')], fromTs: day(2) }), [3]);
          assert.deepEqual(await find({ tags: [P('app-1')], toTs: day(2) }), [1]);
          assert.deepEqual(await find({ tags: [S('cust-2')], status: 403 }), [2]);
          assert.deepEqual(await find({ tags: [S('cust-2')], descending: true, limit: 1 }), [3]);
          assert.deepEqual(await find({ tags: [O('ACC-2')], afterSeq: 2 }), [3]);
          assert.deepEqual(await find({ tags: [O('ACC-2')], beforeSeq: 3, descending: true }), [2]);
          await assert.rejects(s.ledger.search({ tags: ['ACC-2' as unknown as Buffer], limit: 10 }), TypeError, 'a tag that is not bytes');
        });
        it('by operation, api, type, status, outcome, reason and request id', async () => {
          assert.deepEqual(await find({ operationId: 'getAccount' }), [1, 2]);
          assert.deepEqual(await find({ api: 'payments' }), [3, 4]);
          assert.deepEqual(await find({ type: 'exchange.completion' }), [4]);
          assert.deepEqual(await find({ status: 201 }), [3, 4]);
          assert.deepEqual(await find({ outcome: 'deny' }), [2]);
          assert.deepEqual(await find({ reason: 'RAMPART_SCOPE_MISSING' }), [2]);
          assert.deepEqual(await find({ requestId: 'req-c' }), [3, 4]);
          assert.deepEqual(await find({ requestId: 'req-c', type: 'exchange.decision' }), [3]);
        });
        it('returns whole stored records', async () => {
          const [r] = await s.ledger.search({ requestId: 'req-b', limit: 1 });
          assert.equal(r!.record.reason, 'RAMPART_SCOPE_MISSING');
          assert.deepEqual((await s.ledger.read(r!.record.seq, 1))[0], r);
        });
        it('searchIndex: entries of any of the tags within [fromTs, toTs], in (ts, seq) order, limited', async () => {
          const seqs = async (tags: Buffer[], from: number, to: number, limit = 100): Promise<number[]> =>
            (await s.ledger.searchIndex(tags, from, to, limit)).map((e) => e.seq);
          assert.deepEqual(await seqs([P('app-1'), S('cust-2')], 0, Number.MAX_SAFE_INTEGER), [1, 2, 3, 3], 'record 3 has both: one entry per tag');
          assert.deepEqual(await seqs([P('app-1'), S('cust-2')], day(2), day(3)), [2, 3, 3], 'both ends inclusive');
          assert.deepEqual(await seqs([P('app-1'), S('cust-2')], 0, Number.MAX_SAFE_INTEGER, 2), [1, 2]);
          assert.deepEqual(await seqs([O('TR-9')], 0, Number.MAX_SAFE_INTEGER), [3]);
          assert.deepEqual(await seqs([P('nobody')], 0, Number.MAX_SAFE_INTEGER), []);
          assert.deepEqual(await seqs([], 0, Number.MAX_SAFE_INTEGER), []);
          assert.deepEqual(await seqs([P('app-1')], day(4), day(5)), []);
          const [e] = await s.ledger.searchIndex([P('ops-admin')], 0, Number.MAX_SAFE_INTEGER, 10);
          assert.deepEqual(e, { seq: 5, ts: day(5), tag: P('ops-admin') });
          await assert.rejects(s.ledger.searchIndex([P('x')], 0.5, 1, 10), RangeError);
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
          const ledger = await createLedger(s.ledger, { node: 'n1', maxBatch: 32, sealer: await testSealer(s) });
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
        const batch = handBatch(1, 5, GENESIS_HASH, { priv: () => 'dk-ro', bodies: () => [{ part: 'request', dekId: 'dk-ro' }], tags: () => [tagOf('principal', 'p')] });
        await s.ledger.append(batch);
        await s.keys.insert(key('k-ro'));
        await s.dataKeys.insertDataKey(dataKey('dk-ro'));
        await s.checkpoints.insertCheckpoint(checkpoint(5, 'periodic'));
        await s.checkpoints.insertSigningKey({ verifierKey: 'rampart.test+0123abcd+AAAA', createdAt: T0 });
        await s.retention.insertHold(hold('hold-ro', 'dk-ro'));
        await s.configs.putVersion(configVersion(1));
        await s.configs.addApproval({ hash: configHashOf(1), approver: 'bob', at: T0, comment: 'ok' });
        await s.configs.recordActivation({ hash: configHashOf(1), at: T0, by: 'alice', node: 'n1' });
        assert.deepEqual(await ro.ledger.head(), await s.ledger.head());
        assert.equal((await ro.ledger.read(1, 10)).length, 5);
        assert.deepEqual(await ro.ledger.readLeaves(1, 10), await s.ledger.readLeaves(1, 10));
        assert.deepEqual((await ro.ledger.search({ tags: [tagOf('principal', 'p')], limit: 10 })).map((r) => r.record.seq), [1, 2, 3, 4, 5]);
        assert.deepEqual(await ro.ledger.readPrivate([1]), [{ seq: 1, sealed: batch[0]!.priv! }]);
        assert.deepEqual(await ro.ledger.readBodies([2]), batch[1]!.bodies);
        assert.equal((await ro.ledger.searchIndex([tagOf('principal', 'p')], 0, Number.MAX_SAFE_INTEGER, 10)).length, 5);
        assert.equal((await verifyChain(ro.ledger)).ok, true);
        assert.equal((await ro.keys.get('k-ro'))!.id, 'k-ro');
        assert.deepEqual(await ro.dataKeys.getDataKey('dk-ro'), await s.dataKeys.getDataKey('dk-ro'));
        assert.deepEqual(await ro.dataKeys.listDataKeys(), await s.dataKeys.listDataKeys());
        assert.deepEqual(await ro.checkpoints.latestCheckpoint(), checkpoint(5, 'periodic'));
        assert.equal((await ro.checkpoints.listSigningKeys()).length, 1);
        assert.deepEqual(await ro.retention.listHolds(), await s.retention.listHolds());
        assert.deepEqual(await ro.retention.itemsUnderKey('dk-ro'), { privates: 5, bodies: 5 });
        assert.equal(await ro.retention.pruneState(), undefined);
        assert.deepEqual(await ro.configs.getVersion(configHashOf(1)), await s.configs.getVersion(configHashOf(1)));
        assert.deepEqual(await ro.configs.listVersions(10), await s.configs.listVersions(10));
        assert.deepEqual(await ro.configs.approvals(configHashOf(1)), await s.configs.approvals(configHashOf(1)));
        assert.deepEqual(await ro.configs.activations(10), await s.configs.activations(10));
        await ro.ledger.ping();
        const head = await s.ledger.head();
        const refused: [string, () => Promise<unknown>][] = [
          ['append', () => ro.ledger.append(handBatch(6, 1, head!.chainHash))],
          ['keys.insert', () => ro.keys.insert(key('k-ro-2'))],
          ['keys.revoke', () => ro.keys.revoke('k-ro', 1)],
          ['keys.touch', () => ro.keys.touch(new Map([['k-ro', 1]]))],
          ['insertDataKey', () => ro.dataKeys.insertDataKey(dataKey('dk-ro-2', { expiryDay: 1 }))],
          ['rewrapDataKeys', () => ro.dataKeys.rewrapDataKeys([{ id: 'dk-ro', kekId: 'env:bbbbbbbb', wrapped: randomBytes(60) }])],
          ['insertCheckpoint', () => ro.checkpoints.insertCheckpoint(checkpoint(6, 'manual'))],
          ['insertSigningKey', () => ro.checkpoints.insertSigningKey({ verifierKey: 'rampart.test+ffffffff+BBBB', createdAt: T0 })],
          ['insertHold', () => ro.retention.insertHold(hold('hold-ro-2', 'dk-ro'))],
          ['liftHold', () => ro.retention.liftHold('hold-ro', T0, 'x')],
          ['resealItems', () => ro.retention.resealItems({ privates: [{ seq: 1, dekId: 'dk-x', sealed: randomBytes(10) }], bodies: [] })],
          ['purgeDataKeys', () => ro.retention.purgeDataKeys(['dk-ro'])],
          ['pruneThrough', () => ro.retention.pruneThrough({ seq: 1, chainHash: batch[0]!.stored.chainHash, compactRange: [], note: 'n' })],
          ['putVersion', () => ro.configs.putVersion(configVersion(2))],
          ['addApproval', () => ro.configs.addApproval({ hash: configHashOf(1), approver: 'carol', at: T0, comment: '' })],
          ['recordActivation', () => ro.configs.recordActivation({ hash: configHashOf(1), at: T0, by: 'x', node: 'n1' })],
        ];
        for (const [what, call] of refused) await assert.rejects(call(), /read-only/, what);
        assert.deepEqual(await s.ledger.head(), head, 'nothing was written');
        assert.equal(await s.keys.get('k-ro-2'), undefined);
        assert.equal((await s.keys.get('k-ro'))!.revokedAt, undefined);
        assert.equal(await s.dataKeys.getDataKey('dk-ro-2'), undefined);
        assert.equal((await s.dataKeys.getDataKey('dk-ro'))!.kekId, 'env:aaaaaaaa');
        assert.deepEqual((await s.checkpoints.listCheckpoints(0, 100, 10)).map((c) => c.treeSize), [5]);
        assert.deepEqual((await s.retention.listHolds()).map((x) => [x.id, x.liftedAt]), [['hold-ro', undefined]]);
        assert.deepEqual(await s.ledger.readPrivate([1]), [{ seq: 1, sealed: batch[0]!.priv! }]);
        assert.equal((await s.ledger.read(1, 10)).length, 5);
        assert.deepEqual((await s.configs.listVersions(10)).map((v) => v.hash), [configHashOf(1)]);
        assert.deepEqual((await s.configs.approvals(configHashOf(1))).map((a) => a.approver), ['bob']);
        assert.equal((await s.configs.activations(10)).length, 1);
      } finally {
        await ro.close();
        await dispose();
      }
    });

    describe('data keys (ENC-5, ENC-6)', () => {
      before(fresh);
      after(dispose);

      it('insert, get and find give back every field; a second key for the same (class, day) is refused with false', async () => {
        const a = dataKey('dk-a');
        assert.equal(await s.dataKeys.insertDataKey(a), true);
        assert.deepEqual(await s.dataKeys.getDataKey('dk-a'), a);
        assert.ok(Buffer.isBuffer((await s.dataKeys.getDataKey('dk-a'))!.wrapped));
        assert.deepEqual(await s.dataKeys.findDataKey('personal', 20_000), a, 'seen right after the insert');
        assert.equal(await s.dataKeys.insertDataKey(dataKey('dk-racer')), false, 'another node was first');
        assert.equal(await s.dataKeys.getDataKey('dk-racer'), undefined, 'and nothing was written');
        assert.equal(await s.dataKeys.insertDataKey(dataKey('dk-a', { recordClass: 'bodies' })), false, 'an id that is taken');
        assert.deepEqual(await s.dataKeys.getDataKey('dk-a'), a);
        assert.equal(await s.dataKeys.getDataKey('nope'), undefined);
        assert.equal(await s.dataKeys.findDataKey('personal', 20_001), undefined);
        assert.equal(await s.dataKeys.findDataKey('bodies', 20_000), undefined);
      });

      it('hold keys: any number per (class, day), never found as a day key', async () => {
        const h1 = dataKey('dk-h1', { recordClass: 'hold', expiryDay: 2_147_483_647, holdId: 'hold-1' });
        const h2 = dataKey('dk-h2', { recordClass: 'hold', expiryDay: 2_147_483_647, holdId: 'hold-2' });
        assert.equal(await s.dataKeys.insertDataKey(h1), true);
        assert.equal(await s.dataKeys.insertDataKey(h2), true);
        assert.deepEqual(await s.dataKeys.getDataKey('dk-h1'), h1);
        assert.equal(await s.dataKeys.findDataKey('hold', 2_147_483_647), undefined);
        assert.equal(await s.dataKeys.insertDataKey(dataKey('dk-h3', { holdId: 'hold-3' })), true, 'beside a day key of the same (class, day)');
        assert.equal((await s.dataKeys.findDataKey('personal', 20_000))!.id, 'dk-a');
      });

      it('list filters by class, expiry before a day and KEK version, in expiry day order', async () => {
        await s.dataKeys.insertDataKey(dataKey('dk-b', { expiryDay: 19_990 }));
        await s.dataKeys.insertDataKey(dataKey('dk-c', { recordClass: 'bodies', expiryDay: 19_995, kekId: 'env:bbbbbbbb' }));
        const ids = async (f?: Parameters<Storage['dataKeys']['listDataKeys']>[0]): Promise<string[]> => (await s.dataKeys.listDataKeys(f)).map((k) => k.id);
        assert.deepEqual(await ids(), ['dk-b', 'dk-c', 'dk-a', 'dk-h3', 'dk-h1', 'dk-h2'], 'by expiry day, class, id');
        assert.deepEqual(await ids({ recordClass: 'personal' }), ['dk-b', 'dk-a', 'dk-h3']);
        assert.deepEqual(await ids({ expiryDayBefore: 20_000 }), ['dk-b', 'dk-c'], 'strictly before');
        assert.deepEqual(await ids({ kekId: 'env:bbbbbbbb' }), ['dk-c']);
        assert.deepEqual(await ids({ recordClass: 'personal', expiryDayBefore: 19_995 }), ['dk-b']);
        assert.deepEqual(await ids({ recordClass: 'none' }), []);
        assert.deepEqual((await s.dataKeys.listDataKeys({ kekId: 'env:bbbbbbbb' }))[0], await s.dataKeys.getDataKey('dk-c'), 'whole rows');
      });

      it('rewrap replaces the KEK version and the wrapped bytes of the named keys only', async () => {
        const before = await s.dataKeys.listDataKeys();
        const wrapped = randomBytes(60);
        await s.dataKeys.rewrapDataKeys([{ id: 'dk-a', kekId: 'env:cccccccc', wrapped }, { id: 'dk-purged-meanwhile', kekId: 'env:cccccccc', wrapped }]);
        await s.dataKeys.rewrapDataKeys([]);
        const a = before.find((k) => k.id === 'dk-a')!;
        assert.deepEqual(await s.dataKeys.getDataKey('dk-a'), { ...a, kekId: 'env:cccccccc', wrapped });
        assert.deepEqual((await s.dataKeys.listDataKeys()).filter((k) => k.id !== 'dk-a'), before.filter((k) => k.id !== 'dk-a'), 'the others unchanged');
        assert.deepEqual((await s.dataKeys.listDataKeys({ kekId: 'env:cccccccc' })).map((k) => k.id), ['dk-a']);
        assert.equal(await s.dataKeys.getDataKey('dk-purged-meanwhile'), undefined, 'no upsert');
      });

      it('of 10 handles racing for one (class, day) through two handles, exactly one insert wins', async () => {
        const other = await h.openSecond();
        try {
          const results = await Promise.all(Array.from({ length: 10 }, (_, i) => (i % 2 ? s : other).dataKeys.insertDataKey(dataKey(`dk-race-${i}`, { expiryDay: 30_000 }))));
          assert.equal(results.filter(Boolean).length, 1, JSON.stringify(results));
          assert.equal((await other.dataKeys.findDataKey('personal', 30_000))!.id, `dk-race-${results.indexOf(true)}`);
        } finally {
          await other.close();
        }
      });
    });

    describe('checkpoints and signing keys (AU-9(3))', () => {
      before(fresh);
      after(dispose);

      it('insert, latest overall and by kind, list by tree size; a second (treeSize, kind) is ignored', async () => {
        for (const c of [checkpoint(10, 'periodic'), checkpoint(20, 'periodic'), checkpoint(20, 'shutdown', { ts: T0 + 99 }), checkpoint(5, 'verify'), checkpoint(0, 'manual')]) {
          await s.checkpoints.insertCheckpoint(c);
        }
        await s.checkpoints.insertCheckpoint(checkpoint(10, 'periodic', { note: 'a different note', ts: T0 + 5 }));
        assert.deepEqual(await s.checkpoints.listCheckpoints(10, 10, 10), [checkpoint(10, 'periodic')], 'the first one stays');
        assert.deepEqual(await s.checkpoints.latestCheckpoint(), checkpoint(20, 'shutdown', { ts: T0 + 99 }), 'the largest tree, the latest of its checkpoints');
        assert.deepEqual(await s.checkpoints.latestCheckpoint('periodic'), checkpoint(20, 'periodic'));
        assert.deepEqual(await s.checkpoints.latestCheckpoint('verify'), checkpoint(5, 'verify'));
        assert.equal(await s.checkpoints.latestCheckpoint('prune'), undefined);
        const sizes = async (from: number, to: number, limit: number): Promise<[number, string][]> =>
          (await s.checkpoints.listCheckpoints(from, to, limit)).map((c) => [c.treeSize, c.kind]);
        assert.deepEqual(await sizes(5, 20, 100), [[5, 'verify'], [10, 'periodic'], [20, 'periodic'], [20, 'shutdown']], 'in tree size order, both ends inclusive');
        assert.deepEqual(await sizes(6, 19, 100), [[10, 'periodic']]);
        assert.deepEqual(await sizes(0, 100, 2), [[0, 'manual'], [5, 'verify']]);
        assert.deepEqual(await sizes(21, 100, 10), []);
        assert.deepEqual((await s.checkpoints.listCheckpoints(0, 0, 1))[0]!.compactRange, [], 'an empty compact range');
        assert.deepEqual((await s.checkpoints.listCheckpoints(20, 20, 1))[0], checkpoint(20, 'periodic'), 'every field, the compact range in order');
        await assert.rejects(s.checkpoints.insertCheckpoint(checkpoint(30, 'hourly' as 'periodic')), TypeError);
      });

      it('signing keys: each kept once, listed in creation order', async () => {
        await s.checkpoints.insertSigningKey({ verifierKey: 'rampart.test+bbbbbbbb+KEY2', createdAt: T0 + 2 });
        await s.checkpoints.insertSigningKey({ verifierKey: 'rampart.test+aaaaaaaa+KEY1', createdAt: T0 + 1 });
        await s.checkpoints.insertSigningKey({ verifierKey: 'rampart.test+aaaaaaaa+KEY1', createdAt: T0 + 50 });
        assert.deepEqual(await s.checkpoints.listSigningKeys(), [
          { verifierKey: 'rampart.test+aaaaaaaa+KEY1', createdAt: T0 + 1 },
          { verifierKey: 'rampart.test+bbbbbbbb+KEY2', createdAt: T0 + 2 },
        ]);
      });
    });

    describe('retention (RSP-7, R17a4-1)', () => {
      /**
       * Records 1..6: private parts of 1-3 under dk-d1, of 4-5 under dk-d2, none for 6; request
       * bodies of 2 and 4 under dk-b1; every record indexed by principal 'app' and its subject.
       */
      let batch: AppendItem[];
      const seed = async (): Promise<void> => {
        await fresh();
        for (const k of [dataKey('dk-d1'), dataKey('dk-d2', { expiryDay: 20_001 }), dataKey('dk-b1', { recordClass: 'bodies' })]) await s.dataKeys.insertDataKey(k);
        await s.dataKeys.insertDataKey(dataKey('dk-h', { recordClass: 'hold', expiryDay: 2_147_483_647, holdId: 'hold-1' }));
        batch = handBatch(1, 6, GENESIS_HASH, {
          priv: (seq) => (seq <= 3 ? 'dk-d1' : seq <= 5 ? 'dk-d2' : undefined),
          bodies: (seq) => (seq === 2 || seq === 4 ? [{ part: 'request', dekId: 'dk-b1' }] : []),
          tags: (seq) => [tagOf('principal', 'app'), tagOf('subject', `cust-${seq}`)],
        });
        await s.ledger.append(batch);
      };
      const app = async (): Promise<number[]> => (await s.ledger.searchIndex([tagOf('principal', 'app')], 0, Number.MAX_SAFE_INTEGER, 100)).map((e) => e.seq);
      const privSeqs = async (): Promise<number[]> => (await s.ledger.readPrivate([1, 2, 3, 4, 5, 6])).map((p) => p.seq);

      it('legal holds: insert, list, lift once; a second hold with the same id is refused', async () => {
        await seed();
        try {
          const h1 = hold('hold-1', 'dk-h');
          await s.retention.insertHold(h1);
          await s.retention.insertHold(hold('hold-0', 'dk-h0', { createdAt: T0 - 1 }));
          await assert.rejects(s.retention.insertHold(hold('hold-1', 'dk-other')), hasCode('RAMPART_HOLD_EXISTS'));
          assert.deepEqual((await s.retention.listHolds()).map((x) => x.id), ['hold-0', 'hold-1'], 'in creation order');
          assert.deepEqual((await s.retention.listHolds())[1], h1, 'every field, absent ones absent');
          assert.equal(await s.retention.liftHold('hold-1', T0 + 10, 'compliance:dave'), true);
          assert.equal(await s.retention.liftHold('hold-1', T0 + 20, 'compliance:erin'), false, 'lifted already: the first lift stays');
          assert.equal(await s.retention.liftHold('hold-9', T0, 'x'), false, 'unknown');
          assert.deepEqual((await s.retention.listHolds())[1], { ...h1, liftedAt: T0 + 10, liftedBy: 'compliance:dave' });
        } finally {
          await dispose();
        }
      });

      it('resealItems moves sealed private parts and bodies to another key, all or nothing; itemsUnderKey counts them', async () => {
        await seed();
        try {
          assert.deepEqual(await s.retention.itemsUnderKey('dk-d1'), { privates: 3, bodies: 0 });
          assert.deepEqual(await s.retention.itemsUnderKey('dk-b1'), { privates: 0, bodies: 2 });
          assert.deepEqual(await s.retention.itemsUnderKey('dk-none'), { privates: 0, bodies: 0 });
          const p2 = { seq: 2, dekId: 'dk-h', sealed: randomBytes(50) };
          const b2 = { seq: 2, part: 'request' as const, dekId: 'dk-h', sealed: randomBytes(70) };
          await s.retention.resealItems({ privates: [p2], bodies: [b2] });
          assert.deepEqual(await s.ledger.readPrivate([2]), [{ seq: 2, sealed: p2 }]);
          assert.deepEqual(await s.ledger.readBodies([2]), [b2]);
          assert.deepEqual(await s.retention.itemsUnderKey('dk-h'), { privates: 1, bodies: 1 });
          assert.deepEqual(await s.retention.itemsUnderKey('dk-d1'), { privates: 2, bodies: 0 });
          assert.deepEqual(await s.retention.itemsUnderKey('dk-b1'), { privates: 0, bodies: 1 });

          const p3 = { seq: 3, dekId: 'dk-h', sealed: randomBytes(50) };
          await assert.rejects(s.retention.resealItems({ privates: [p3, { seq: 99, dekId: 'dk-h', sealed: randomBytes(9) }], bodies: [] }), hasCode('RAMPART_RESEAL_MISSING'));
          await assert.rejects(s.retention.resealItems({ privates: [p3], bodies: [{ ...b2, part: 'response' }] }), hasCode('RAMPART_RESEAL_MISSING'), 'a body part that is not stored');
          assert.deepEqual(await s.ledger.readPrivate([3]), [{ seq: 3, sealed: batch[2]!.priv! }], 'nothing of a refused reseal was changed');
          await s.retention.resealItems({ privates: [], bodies: [] });
          await assert.rejects(s.retention.resealItems({ privates: [{ seq: 3, dekId: 'dk-h', sealed: Buffer.alloc(0) }], bodies: [] }), TypeError);
        } finally {
          await dispose();
        }
      });

      it('purgeDataKeys deletes exactly the keys, the sealed parts and bodies under them, and the index entries of those records', async () => {
        await seed();
        try {
          const counts = await s.retention.purgeDataKeys(['dk-d1', 'dk-b1']);
          assert.deepEqual(counts, { keys: 2, privates: 3, bodies: 2, index: 6 });
          assert.equal(await s.dataKeys.getDataKey('dk-d1'), undefined);
          assert.equal(await s.dataKeys.getDataKey('dk-b1'), undefined);
          assert.deepEqual((await s.dataKeys.listDataKeys()).map((k) => k.id).sort(), ['dk-d2', 'dk-h']);
          assert.deepEqual(await privSeqs(), [4, 5]);
          assert.deepEqual(await s.ledger.readPrivate([4, 5]), [4, 5].map((seq) => ({ seq, sealed: batch[seq - 1]!.priv! })), 'the others untouched');
          assert.deepEqual(await s.ledger.readBodies([1, 2, 3, 4, 5, 6]), [], 'bodies under dk-b1 went, whatever their record');
          assert.deepEqual(await app(), [4, 5, 6], 'the index entries of the records whose private part went');
          assert.deepEqual(await s.retention.itemsUnderKey('dk-d1'), { privates: 0, bodies: 0 });
          assert.equal((await s.ledger.read(1, 10)).length, 6, 'the chain keeps every record');
          assert.equal((await verifyChain(s.ledger)).ok, true);
          assert.deepEqual(await s.retention.purgeDataKeys(['dk-d1', 'dk-b1']), { keys: 0, privates: 0, bodies: 0, index: 0 }, 'again: nothing left');
          assert.deepEqual(await s.retention.purgeDataKeys([]), { keys: 0, privates: 0, bodies: 0, index: 0 });
        } finally {
          await dispose();
        }
      });

      it("refuses to purge a standing legal hold's key, and takes it once the hold is lifted", async () => {
        await seed();
        try {
          await s.retention.insertHold(hold('hold-1', 'dk-h'));
          await s.retention.resealItems({ privates: [{ seq: 1, dekId: 'dk-h', sealed: randomBytes(30) }], bodies: [] });
          await assert.rejects(s.retention.purgeDataKeys(['dk-d2', 'dk-h']), hasCode('RAMPART_PURGE_HELD'));
          // Through data_keys.hold_id alone too: a key whose hold names another key.
          await s.dataKeys.insertDataKey(dataKey('dk-h-extra', { recordClass: 'hold', expiryDay: 2_147_483_647, holdId: 'hold-1' }));
          await assert.rejects(s.retention.purgeDataKeys(['dk-h-extra']), hasCode('RAMPART_PURGE_HELD'));
          assert.ok(await s.dataKeys.getDataKey('dk-d2'), 'a refused purge deletes nothing, not even the keys that are not held');
          assert.deepEqual(await privSeqs(), [1, 2, 3, 4, 5]);
          assert.equal(await s.retention.liftHold('hold-1', T0 + 1, 'compliance:dave'), true);
          assert.deepEqual(await s.retention.purgeDataKeys(['dk-h', 'dk-h-extra']), { keys: 2, privates: 1, bodies: 0, index: 2 });
          assert.deepEqual(await privSeqs(), [2, 3, 4, 5]);
        } finally {
          await dispose();
        }
      });

      it('pruneThrough deletes records 1..seq with everything stored beside them and records the prune state; never backwards or past the head', async () => {
        await seed();
        try {
          const at = (seq: number): PruneState => ({ seq, chainHash: batch[seq - 1]!.stored.chainHash, compactRange: [hex(seq)], note: `prune ${seq}` });
          assert.equal(await s.retention.pruneState(), undefined);
          await assert.rejects(s.retention.pruneThrough({ ...at(6), seq: 7 }), hasCode('RAMPART_PRUNE_BEYOND_HEAD'));
          await assert.rejects(s.retention.pruneThrough({ ...at(3), chainHash: 'f'.repeat(64) }), hasCode('RAMPART_PRUNE_MISMATCH'));
          await assert.rejects(s.retention.pruneThrough({ ...at(3), seq: 0 }), RangeError);
          assert.equal((await s.ledger.read(1, 10)).length, 6, 'nothing pruned by a refusal');

          assert.equal(await s.retention.pruneThrough(at(3)), 3);
          assert.deepEqual(await s.retention.pruneState(), at(3));
          assert.deepEqual((await s.ledger.read(1, 10)).map((r) => r.record.seq), [4, 5, 6]);
          assert.deepEqual((await s.ledger.readLeaves(1, 10)).map((r) => r.seq), [4, 5, 6]);
          assert.deepEqual(await privSeqs(), [4, 5]);
          assert.deepEqual((await s.ledger.readBodies([1, 2, 3, 4, 5, 6])).map((b) => b.seq), [4]);
          assert.deepEqual(await app(), [4, 5, 6]);
          assert.deepEqual((await s.ledger.search({ limit: 10 })).map((r) => r.record.seq), [4, 5, 6]);
          assert.deepEqual(await s.ledger.head(), { seq: 6, chainHash: batch[5]!.stored.chainHash }, 'the head stays');

          await assert.rejects(s.retention.pruneThrough(at(2)), hasCode('RAMPART_PRUNE_BACKWARDS'));
          assert.equal(await s.retention.pruneThrough({ ...at(3), note: 'prune 3, signed again' }), 0, 'the same point again');
          assert.equal((await s.retention.pruneState())!.note, 'prune 3, signed again');
          assert.equal(await s.retention.pruneThrough(at(5)), 2);
          assert.deepEqual(await s.retention.pruneState(), at(5));
          assert.deepEqual((await s.ledger.read(1, 10)).map((r) => r.record.seq), [6]);

          await s.ledger.append(handBatch(7, 1, batch[5]!.stored.chainHash));
          assert.equal((await s.ledger.head())!.seq, 7, 'appends continue after a prune');
        } finally {
          await dispose();
        }
      });
    });

    describe('configuration versions, approvals and activations (issue 6, R17a4-3)', () => {
      before(fresh);
      after(dispose);

      it('put twice: the second is false and the stored version is unchanged', async () => {
        const v = configVersion(1);
        assert.equal(await s.configs.putVersion(v), true);
        assert.equal(await s.configs.putVersion({ ...v, author: 'mallory', bundle: randomBytes(200), message: 'rewritten', createdAt: T0 + 999, profile: 'default' }), false);
        assert.deepEqual(await s.configs.getVersion(v.hash), v, 'the first one stays, every field');
        assert.equal(await s.configs.getVersion(configHashOf(404)), undefined);
      });

      it('the bundle bytes round-trip exactly (random 100 KB)', async () => {
        const bundle = randomBytes(100 * 1024);
        const v = configVersion(2, { bundle });
        assert.equal(await s.configs.putVersion(v), true);
        const got = await s.configs.getVersion(v.hash);
        assert.ok(got && Buffer.isBuffer(got.bundle), 'a Buffer');
        assert.equal(got.bundle.length, bundle.length);
        assert.ok(got.bundle.equals(bundle), 'byte for byte');
      });

      it('list: newest first (ties by hash, byte order descending), without bundles, at most limit', async () => {
        await s.configs.putVersion(configVersion(3, { createdAt: T0 + 50 }));
        await s.configs.putVersion(configVersion(0xa, { createdAt: T0 + 50 }));
        await s.configs.putVersion(configVersion(4, { createdAt: T0 + 40, message: 'ünïcode ✓', author: 'bob' }));
        const list = await s.configs.listVersions(10);
        assert.deepEqual(list.map((v) => v.hash), [configHashOf(0xa), configHashOf(3), configHashOf(4), configHashOf(2), configHashOf(1)]);
        for (const v of list) assert.equal('bundle' in v, false, 'no bundle in a listing');
        const { bundle: _, ...four } = configVersion(4, { createdAt: T0 + 40, message: 'ünïcode ✓', author: 'bob' });
        assert.deepEqual(list[2], four, 'every other field');
        assert.deepEqual((await s.configs.listVersions(2)).map((v) => v.hash), [configHashOf(0xa), configHashOf(3)]);
        await assert.rejects(s.configs.listVersions(0), RangeError);
        await assert.rejects(s.configs.listVersions(1.5), RangeError);
      });

      it('approvals: one per approver and hash (a repeat is false, the first stays), listed in order', async () => {
        const h = configHashOf(1);
        assert.equal(await s.configs.addApproval({ hash: h, approver: 'carol', at: T0 + 20, comment: 'reviewed the diff' }), true);
        assert.equal(await s.configs.addApproval({ hash: h, approver: 'bob', at: T0 + 10, comment: '' }), true);
        assert.equal(await s.configs.addApproval({ hash: h, approver: 'carol', at: T0 + 30, comment: 'again' }), false);
        assert.equal(await s.configs.addApproval({ hash: configHashOf(2), approver: 'carol', at: T0 + 40, comment: 'other version' }), true, 'distinct per hash');
        assert.deepEqual(await s.configs.approvals(h), [
          { hash: h, approver: 'bob', at: T0 + 10, comment: '' },
          { hash: h, approver: 'carol', at: T0 + 20, comment: 'reviewed the diff' },
        ]);
        assert.deepEqual(await s.configs.approvals(configHashOf(2)), [{ hash: configHashOf(2), approver: 'carol', at: T0 + 40, comment: 'other version' }]);
        assert.deepEqual(await s.configs.approvals(configHashOf(404)), []);
      });

      it('an approval of an unknown hash is refused with RAMPART_CONFIG_VERSION_UNKNOWN and writes nothing', async () => {
        const unknown = configHashOf(404);
        await assert.rejects(s.configs.addApproval({ hash: unknown, approver: 'carol', at: T0, comment: '' }), hasCode('RAMPART_CONFIG_VERSION_UNKNOWN'));
        assert.deepEqual(await s.configs.approvals(unknown), []);
        await assert.rejects(s.configs.addApproval({ hash: 'git:deadbeef', approver: 'carol', at: T0, comment: '' }), TypeError);
        await assert.rejects(s.configs.addApproval({ hash: configHashOf(1), approver: '', at: T0, comment: '' }), TypeError, 'an approver is an identity');
        await assert.rejects(s.configs.putVersion(configVersion(5, { author: '' })), TypeError);
        await assert.rejects(s.configs.putVersion(configVersion(5, { bundle: Buffer.alloc(0) })), TypeError);
        assert.equal(await s.configs.getVersion(configHashOf(5)), undefined);
      });

      it('activations: seq assigned by the store, increasing; listed newest first', async () => {
        const a1 = await s.configs.recordActivation({ hash: configHashOf(1), at: T0 + 100, by: 'alice', node: 'gw-1' });
        const a2 = await s.configs.recordActivation({ hash: configHashOf(2), at: T0 + 200, by: 'bob', node: 'gw-2' });
        const a3 = await s.configs.recordActivation({ hash: configHashOf(1), at: T0 + 300, by: 'alice', node: 'gw-1' });
        assert.deepEqual(a1, { seq: a1.seq, hash: configHashOf(1), at: T0 + 100, by: 'alice', node: 'gw-1' });
        assert.ok(Number.isSafeInteger(a1.seq) && a1.seq >= 1, String(a1.seq));
        assert.ok(a1.seq < a2.seq && a2.seq < a3.seq, `${a1.seq} < ${a2.seq} < ${a3.seq}`);
        assert.deepEqual(await s.configs.activations(10), [a3, a2, a1]);
        assert.deepEqual(await s.configs.activations(1), [a3]);
        await assert.rejects(s.configs.activations(-1), RangeError);
        await assert.rejects(s.configs.recordActivation({ hash: configHashOf(1), at: T0, by: '', node: 'gw-1' }), TypeError);
        assert.equal((await s.configs.activations(10)).length, 3, 'nothing written by the refused one');
      });

      it('through two handles: what one puts the other sees, and of racing approvals by one approver exactly one counts', async () => {
        const other = await h.openSecond();
        try {
          assert.equal(await other.configs.putVersion(configVersion(6)), true);
          assert.equal(await s.configs.putVersion(configVersion(6)), false);
          assert.deepEqual(await s.configs.getVersion(configHashOf(6)), await other.configs.getVersion(configHashOf(6)));
          const results = await Promise.all(
            Array.from({ length: 10 }, (_, i) => (i % 2 ? s : other).configs.addApproval({ hash: configHashOf(6), approver: 'dave', at: T0 + i, comment: `try ${i}` })),
          );
          assert.equal(results.filter(Boolean).length, 1, JSON.stringify(results));
          assert.equal((await s.configs.approvals(configHashOf(6))).length, 1);
          const acts = await Promise.all(Array.from({ length: 6 }, (_, i) => (i % 2 ? s : other).configs.recordActivation({ hash: configHashOf(6), at: T0, by: 'dave', node: `n${i}` })));
          assert.equal(new Set(acts.map((a) => a.seq)).size, 6, 'every activation has a seq of its own');
        } finally {
          await other.close();
        }
      });
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
        assert.equal((await s.keys.get('k1'))!.revokedAt, 1_700_000_600_000, 'and keeps the earlier time');
        assert.deepEqual(await s.keys.changesSince(after1.cursor), { cursor: after1.cursor, keys: [] });
        // A scheduled revocation (a rotation's grace period) is overridden by an earlier one, and is a change.
        assert.equal(await s.keys.revoke('k1', 1_700_000_500_000), true);
        assert.equal((await s.keys.get('k1'))!.revokedAt, 1_700_000_500_000, 'the earlier time stands');
        const after2 = await s.keys.changesSince(after1.cursor);
        assert.deepEqual(after2.keys.map((k) => [k.id, k.revokedAt]), [['k1', 1_700_000_500_000]]);
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
