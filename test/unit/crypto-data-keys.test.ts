/**
 * The data-key ring over a small Map-backed DataKeyStore (the real stores get the shared
 * contract test) and a real file KEK: one DEK per (class, expiry day) (ENC-5), two rings racing
 * for the same day converge on one key, a wrapped key moved to another row does not unwrap,
 * purging a day (forget + delete the row) crypto-shreds what it sealed (RSP-7), hold keys survive
 * the purge, and rewrapAll after a KEK rotation leaves every key readable (ENC-6).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { open, seal } from '../../src/crypto/aead.js';
import { DataKeyRing, HOLD_EXPIRY_DAY, expiryDayOf, type DataKeyStore, type WrappedDataKey } from '../../src/crypto/data-keys.js';
import { openFileKekProvider } from '../../src/crypto/kek/file.js';
import type { KeyEncryptionKeyProvider } from '../../src/crypto/kek/provider.js';
import { tempDir } from '../helpers/tmp.js';

/** The DataKeyStore contract in a Map: one non-hold key per (class, day); hold keys always accepted. */
class MapDataKeyStore implements DataKeyStore {
  readonly rows = new Map<string, WrappedDataKey>();
  inserts = 0;
  /** When set, findDataKey waits for it (to line two racing rings up). */
  gate: Promise<void> | undefined;

  async getDataKey(id: string) {
    const k = this.rows.get(id);
    return k && { ...k };
  }
  async findDataKey(recordClass: string, expiryDay: number) {
    if (this.gate) await this.gate;
    for (const k of this.rows.values()) if (k.holdId === undefined && k.recordClass === recordClass && k.expiryDay === expiryDay) return { ...k };
    return undefined;
  }
  async insertDataKey(k: WrappedDataKey) {
    this.inserts++;
    if (k.holdId === undefined) {
      for (const r of this.rows.values()) if (r.holdId === undefined && r.recordClass === k.recordClass && r.expiryDay === k.expiryDay) return false;
    }
    this.rows.set(k.id, { ...k });
    return true;
  }
  async listDataKeys(filter: { recordClass?: string; expiryDayBefore?: number; kekId?: string } = {}) {
    return [...this.rows.values()]
      .filter((k) => (filter.recordClass === undefined || k.recordClass === filter.recordClass) && (filter.expiryDayBefore === undefined || k.expiryDay < filter.expiryDayBefore) && (filter.kekId === undefined || k.kekId === filter.kekId))
      .map((k) => ({ ...k }));
  }
  async rewrapDataKeys(updates: readonly { id: string; kekId: string; wrapped: Buffer }[]) {
    for (const u of updates) {
      const k = this.rows.get(u.id);
      if (k) this.rows.set(u.id, { ...k, kekId: u.kekId, wrapped: u.wrapped });
    }
  }
}

async function withKek(fn: (kek: KeyEncryptionKeyProvider, dir: string) => Promise<void>): Promise<void> {
  const dir = tempDir('rampart-dek-');
  const kek = await openFileKekProvider(join(dir.path, 'kek.json'));
  try {
    await fn(kek, dir.path);
  } finally {
    await kek.close();
    dir.remove();
  }
}

const DAY = expiryDayOf(Date.UTC(2025, 5, 1, 12), 6 * 365);
const aad = (seq: number, id: string) => Buffer.from(`rampart-priv|${seq}|${id}`);
const code = (c: string) => (e: any) => e.code === c;

test('expiryDayOf counts whole UTC days, so no item is purged before its retention ends', () => {
  const ts = Date.UTC(2025, 0, 15, 23, 59, 59);
  assert.equal(expiryDayOf(ts, 0), Date.UTC(2025, 0, 15) / 86_400_000);
  assert.equal(expiryDayOf(ts, 1), Date.UTC(2025, 0, 16) / 86_400_000);
  assert.equal(expiryDayOf(Date.UTC(2025, 0, 15, 13), 2191), Date.UTC(2031, 0, 15) / 86_400_000); // six years, one leap day
  assert.throws(() => expiryDayOf(ts, -1), TypeError);
  assert.throws(() => expiryDayOf(ts, 1.5), TypeError);
  assert.throws(() => expiryDayOf(Number.NaN, 1), TypeError);
});

test('one DEK per (class, day): created wrapped on first use, then served from the cache', async () => {
  await withKek(async (kek) => {
    const store = new MapDataKeyStore();
    const ring = new DataKeyRing(store, kek, { now: () => 1_700_000_000_000 });
    assert.equal(ring.cachedKeyFor('exchange', DAY), undefined);
    const [a, b] = await Promise.all([ring.keyFor('exchange', DAY), ring.keyFor('exchange', DAY)]);
    assert.equal(store.inserts, 1, 'concurrent callers of one ring share one creation');
    assert.equal(a.id, b.id);
    assert.match(a.id, /^dk_[A-Za-z0-9_-]{22}$/);
    assert.equal(a.key.length, 32);
    assert.deepEqual(ring.cachedKeyFor('exchange', DAY), a);

    const row = store.rows.get(a.id)!;
    assert.equal(row.recordClass, 'exchange');
    assert.equal(row.expiryDay, DAY);
    assert.equal(row.kekId, kek.currentKeyId());
    assert.equal(row.createdAt, 1_700_000_000_000);
    assert.equal(row.wrapped.indexOf(a.key), -1, 'only the wrapped key is stored');

    const other = await ring.keyFor('exchange', DAY + 1);
    const admin = await ring.keyFor('admin', DAY);
    assert.equal(new Set([a.id, other.id, admin.id]).size, 3);

    // Another node (a fresh ring on the same store) reads the same key by day and by id.
    const node2 = new DataKeyRing(store, kek);
    assert.deepEqual((await node2.keyFor('exchange', DAY)).key, a.key);
    assert.deepEqual(await new DataKeyRing(store, kek).keyById(a.id), a.key);
    assert.equal(store.inserts, 3);
  });
});

test('two rings racing to create the same (class, day) converge on one key', async () => {
  await withKek(async (kek) => {
    const store = new MapDataKeyStore();
    let release!: () => void;
    store.gate = new Promise<void>((r) => (release = r));
    const ringA = new DataKeyRing(store, kek);
    const ringB = new DataKeyRing(store, kek);
    const pa = ringA.keyFor('exchange', DAY);
    const pb = ringB.keyFor('exchange', DAY);
    await new Promise((r) => setImmediate(r)); // both are now waiting in findDataKey
    release();
    store.gate = undefined;
    const [a, b] = await Promise.all([pa, pb]);
    assert.equal(store.inserts, 2, 'both rings tried to insert');
    assert.equal(store.rows.size, 1, 'the store kept one');
    assert.equal(a.id, b.id);
    assert.deepEqual(a.key, b.key);
    const env = seal(a.key, Buffer.from('sealed on node A'), aad(1, a.id));
    assert.equal(open(b.key, env, aad(1, b.id)).toString(), 'sealed on node A');
  });
});

test('a wrapped key copied onto another row does not unwrap (the wrap AAD binds id, class and day)', async () => {
  await withKek(async (kek) => {
    const store = new MapDataKeyStore();
    const ring = new DataKeyRing(store, kek);
    const purged = await ring.keyFor('exchange', DAY);
    const kept = await ring.keyFor('exchange', DAY + 1);
    // Someone pastes the wrapped bytes of one day's key onto the other day's row.
    store.rows.get(kept.id)!.wrapped = store.rows.get(purged.id)!.wrapped;
    await assert.rejects(new DataKeyRing(store, kek).keyById(kept.id), code('RAMPART_DECRYPT_FAILED'));
    // ... or moves a row to another class or day under its own id.
    const row = store.rows.get(purged.id)!;
    row.recordClass = 'admin';
    await assert.rejects(new DataKeyRing(store, kek).keyById(purged.id), code('RAMPART_DECRYPT_FAILED'));
  });
});

test('purging a day (forget + delete the row) crypto-shreds what its key sealed', async () => {
  await withKek(async (kek) => {
    const store = new MapDataKeyStore();
    const ring = new DataKeyRing(store, kek);
    const day = await ring.keyFor('exchange', DAY);
    const keyRef = day.key;
    const envelope = seal(day.key, Buffer.from('{"principal":"alice","client":"203.0.113.7"}'), aad(7, day.id));
    assert.match(open(await ring.keyById(day.id), envelope, aad(7, day.id)).toString(), /alice/);

    // The purge: expired rows are listed, their cached keys forgotten, the rows deleted.
    const expired = await store.listDataKeys({ expiryDayBefore: DAY + 1 });
    assert.deepEqual(expired.map((k) => k.id), [day.id]);
    ring.forget(expired.map((k) => k.id));
    for (const k of expired) store.rows.delete(k.id);

    assert.ok(keyRef.every((b) => b === 0), 'the cached plaintext key was zeroed');
    assert.equal(ring.cachedKeyFor('exchange', DAY), undefined);
    await assert.rejects(ring.keyById(day.id), (e: any) => e.code === 'RAMPART_DATA_KEY_GONE' && e.message.includes(day.id));
    await assert.rejects(new DataKeyRing(store, kek).keyById(day.id), code('RAMPART_DATA_KEY_GONE'));
    assert.throws(() => open(keyRef, envelope, aad(7, day.id)), code('RAMPART_DECRYPT_FAILED'));
    assert.throws(() => seal(keyRef, Buffer.from('late write'), aad(8, day.id)), /all zeros/, 'a forgotten key never seals');
    // A later write for that day would get a new key, which cannot open the old envelope.
    const fresh = await ring.keyFor('exchange', DAY);
    assert.notEqual(fresh.id, day.id);
    assert.throws(() => open(fresh.key, envelope, aad(7, day.id)), code('RAMPART_DECRYPT_FAILED'));
  });
});

test('a legal hold re-seals held items under a hold key that outlives the purge of their day', async () => {
  await withKek(async (kek) => {
    const store = new MapDataKeyStore();
    const ring = new DataKeyRing(store, kek);
    const day = await ring.keyFor('exchange', DAY);
    const item = seal(day.key, Buffer.from('held body'), aad(9, day.id));

    const hold = await ring.holdKey('hold-2025-017');
    const hold2 = await ring.holdKey('hold-2025-017');
    assert.notEqual(hold.id, hold2.id, 'every call is a fresh key');
    const row = store.rows.get(hold.id)!;
    assert.equal(row.recordClass, 'hold');
    assert.equal(row.holdId, 'hold-2025-017');
    assert.equal(row.expiryDay, HOLD_EXPIRY_DAY);
    assert.equal((await store.findDataKey('exchange', DAY))!.id, day.id, 'the day key is unchanged');

    const held = seal(hold.key, open(day.key, item, aad(9, day.id)), aad(9, hold.id));
    const expired = await store.listDataKeys({ expiryDayBefore: DAY + 10_000 });
    assert.ok(!expired.some((k) => k.holdId !== undefined), 'no purge by expiry day selects a hold key');
    ring.forget(expired.map((k) => k.id));
    for (const k of expired) store.rows.delete(k.id);

    await assert.rejects(ring.keyById(day.id), code('RAMPART_DATA_KEY_GONE'));
    const node2 = new DataKeyRing(store, kek);
    assert.equal(open(await node2.keyById(hold.id), held, aad(9, hold.id)).toString(), 'held body');
    assert.throws(() => ring.keyFor('hold', DAY), TypeError, "'hold' is reserved");
  });
});

test('rewrapAll after kek.rotate() moves every DEK to the new version; old envelopes still open', async () => {
  await withKek(async (kek) => {
    const store = new MapDataKeyStore();
    const ring = new DataKeyRing(store, kek);
    const keys = await Promise.all([ring.keyFor('exchange', DAY), ring.keyFor('exchange', DAY + 1), ring.keyFor('admin', DAY)]);
    const hold = await ring.holdKey('h1');
    const envelopes = keys.map((k, i) => seal(k.key, Buffer.from(`item ${i}`), aad(i, k.id)));
    const v1 = kek.currentKeyId();

    const v2 = await kek.rotate();
    const progress: [number, number][] = [];
    assert.equal(await ring.rewrapAll((done, total) => progress.push([done, total])), 4);
    assert.deepEqual(progress.at(0), [0, 4]);
    assert.deepEqual(progress.at(-1), [4, 4]);
    assert.ok([...store.rows.values()].every((k) => k.kekId === v2));
    assert.equal((await store.listDataKeys({ kekId: v1 })).length, 0);
    assert.equal(await ring.rewrapAll(), 0, 'nothing left to re-wrap');

    const node2 = new DataKeyRing(store, kek);
    for (const [i, k] of keys.entries()) assert.equal(open(await node2.keyById(k.id), envelopes[i]!, aad(i, k.id)).toString(), `item ${i}`);
    assert.deepEqual(await node2.keyById(hold.id), hold.key);
  });
});

test('the LRU cache stays within its size; an evicted key reloads and is not zeroed under its user', async () => {
  await withKek(async (kek) => {
    const store = new MapDataKeyStore();
    const ring = new DataKeyRing(store, kek, { cacheSize: 2 });
    const first = await ring.keyFor('exchange', DAY);
    await ring.keyFor('exchange', DAY + 1);
    await ring.keyFor('exchange', DAY + 2);
    assert.equal(ring.cachedKeyFor('exchange', DAY), undefined);
    assert.ok(first.key.some((b) => b !== 0), 'eviction does not zero a key a caller may hold');
    const again = await ring.keyFor('exchange', DAY);
    assert.equal(again.id, first.id);
    assert.deepEqual(again.key, first.key);
    assert.equal(store.inserts, 3);
  });
});

test('misuse is refused: bad class, bad day, bad cache size', async () => {
  await withKek(async (kek) => {
    const ring = new DataKeyRing(new MapDataKeyStore(), kek);
    assert.throws(() => ring.keyFor('a|b', DAY), TypeError);
    assert.throws(() => ring.keyFor('', DAY), TypeError);
    assert.throws(() => ring.keyFor('exchange', 1.5), TypeError);
    assert.throws(() => ring.keyFor('exchange', HOLD_EXPIRY_DAY), TypeError);
    assert.throws(() => new DataKeyRing(new MapDataKeyStore(), kek, { cacheSize: 0 }), TypeError);
    await assert.rejects(ring.holdKey(''), TypeError);
  });
});
