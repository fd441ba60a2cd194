/**
 * The gateway's key cache over a real SQLite key store: a refresh always sees changes made before
 * it was called (regression: a poll already in flight used to be returned), a store that
 * cannot be read for longer than the staleness bound makes every key fail closed, and a
 * scheduled revocation takes effect at its time without any change in the store.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { openStorage } from '../../src/storage/open.js';
import type { KeyStore } from '../../src/storage/types.js';
import { KeyCache } from '../../src/keys/cache.js';
import { createKey } from '../../src/keys/create.js';
import { tempDir } from '../helpers/tmp.js';

const SECRET = randomBytes(32); // test fixture secret, generated per run

async function withStore(fn: (keys: KeyStore) => Promise<void>): Promise<void> {
  const dir = tempDir('rampart-keycache-');
  const storage = await openStorage({ driver: 'sqlite', sqlite: { path: join(dir.path, 'k.db') } });
  try {
    await fn(storage.keys);
  } finally {
    await storage.close();
    dir.remove();
  }
}

test('refresh() sees a key inserted while an earlier poll was in flight', async () => {
  await withStore(async (store) => {
    // The next poll reads the store, then is held before it returns: its answer predates the key.
    let hold = false;
    let release: (() => void) | undefined;
    const held: KeyStore = {
      ...store,
      changesSince: async (c) => {
        const answer = await store.changesSince(c);
        if (hold) {
          hold = false;
          await new Promise<void>((r) => (release = r));
        }
        return answer;
      },
    };
    const cache = await KeyCache.start(held, SECRET, { pollMs: 60_000 });
    try {
      hold = true;
      const stale = cache.refresh();
      while (!release) await new Promise((r) => setImmediate(r));
      const { key } = await createKey(store, SECRET, { name: 'late', scopes: ['a'] });
      const fresh = cache.refresh();
      release();
      await stale;
      await fresh;
      const c = cache.check(key);
      assert.equal(c.ok, true, `key visible after a refresh called after its creation: ${JSON.stringify(c)}`);
    } finally {
      await cache.close();
    }
  });
});

test('keys fail closed once the store has been unreadable for longer than the staleness bound', async () => {
  await withStore(async (store) => {
    let down = false;
    const flaky: KeyStore = {
      ...store,
      changesSince: async (c) => {
        if (down) throw new Error('store unavailable (injected)');
        return store.changesSince(c);
      },
    };
    const { key } = await createKey(store, SECRET, { name: 'k', scopes: ['a'] });
    let now = Date.now();
    const cache = await KeyCache.start(flaky, SECRET, { pollMs: 60_000, maxStalenessMs: 1000, now: () => now });
    try {
      assert.equal(cache.check(key).ok, true);
      down = true;
      await assert.rejects(cache.refresh());
      now += 999;
      assert.equal(cache.check(key).ok, true, 'within the bound the cached view still serves');
      now += 2;
      assert.deepEqual(cache.check(key), { ok: false, reason: 'unavailable' });
      down = false;
      await cache.refresh();
      assert.equal(cache.check(key).ok, true, 'serves again after a successful refresh');
    } finally {
      await cache.close();
    }
  });
});

test('a scheduled revocation (a rotation\'s grace period) lets the key work until its time, then refuses it', async () => {
  await withStore(async (store) => {
    let now = 1_800_000_000_000;
    const { key, record } = await createKey(store, SECRET, { name: 'old', scopes: ['accounts:read'], now });
    const cache = await KeyCache.start(store, SECRET, { pollMs: 60_000, now: () => now });
    try {
      await store.revoke(record.id, now + 600_000);
      await cache.refresh();
      assert.equal(cache.check(key).ok, true, 'inside the grace period');
      assert.equal(cache.client(record.id).ok, true, 'its access tokens too');
      now += 600_000;
      await cache.refresh(); // the clock moved past the staleness bound too: a fresh poll (no change in it)
      assert.deepEqual(cache.check(key), { ok: false, reason: 'revoked' }, 'at the scheduled time');
      assert.deepEqual(cache.client(record.id), { ok: false, reason: 'revoked' });
    } finally {
      cache.close();
    }
  });
});
