/**
 * Crypto-shredding on SQLite leaves no copy behind (RSP-7): after purgeDataKeys, neither the
 * wrapped data key nor the envelopes sealed under it occur anywhere in the database file, its WAL
 * or its shared-memory index. The writer runs with secure_delete=ON (freed pages and cells are
 * zeroed) and checkpoints the WAL with truncation after the purge; this reads the raw files.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { GENESIS_HASH } from '../../src/ledger/chain.js';
import { openSqliteStorage } from '../../src/storage/sqlite/store.js';
import { tempDir } from '../helpers/tmp.js';
import { handBatch, tagOf } from './storage-contract.js';

/** The database, WAL and shm files that exist, with their bytes. */
function files(path: string): { name: string; bytes: Buffer }[] {
  return [path, `${path}-wal`, `${path}-shm`].filter((f) => existsSync(f)).map((f) => ({ name: f, bytes: readFileSync(f) }));
}

function where(path: string, needle: Buffer): string[] {
  return files(path).filter((f) => f.bytes.includes(needle)).map((f) => f.name.slice(path.length) || '.db');
}

describe('sqlite purge leaves no bytes behind', () => {
  it('the wrapped key, sealed private parts, bodies (also spilled to overflow pages) and tags of a purged key are gone from .db, -wal and -shm', async () => {
    const dir = tempDir('rampart-purge-');
    try {
      const path = join(dir.path, 'rampart.db');
      const s = await openSqliteStorage(path);
      try {
        const doomedKey = randomBytes(60);
        const keptKey = randomBytes(60);
        await s.dataKeys.insertDataKey({ id: 'dk-doomed', recordClass: 'personal', expiryDay: 20_000, kekId: 'env:aaaaaaaa', wrapped: doomedKey, createdAt: 1 });
        await s.dataKeys.insertDataKey({ id: 'dk-kept', recordClass: 'personal', expiryDay: 20_001, kekId: 'env:aaaaaaaa', wrapped: keptKey, createdAt: 1 });
        // Enough records that the purged rows share pages with kept ones, a body large enough to
        // spill into overflow pages, and index entries whose tags name people.
        const batch = handBatch(1, 200, GENESIS_HASH, {
          priv: (seq) => (seq % 2 === 0 ? 'dk-doomed' : 'dk-kept'),
          bodies: (seq) => (seq === 10 || seq === 11 ? [{ part: 'request', dekId: seq === 10 ? 'dk-doomed' : 'dk-kept' }] : []),
          tags: (seq) => [tagOf('subject', `cust-${seq}`)],
        });
        batch[9]!.bodies = [{ ...batch[9]!.bodies![0]!, sealed: randomBytes(20_000) }];
        for (let i = 0; i < batch.length; i += 50) await s.ledger.append(batch.slice(i, i + 50));
        const doomed = [doomedKey, batch[1]!.priv!.sealed, batch[99]!.priv!.sealed, batch[9]!.bodies![0]!.sealed.subarray(10_000, 10_064), tagOf('subject', 'cust-2')];
        const kept = [keptKey, batch[0]!.priv!.sealed, batch[10]!.bodies![0]!.sealed, tagOf('subject', 'cust-1')];
        // The check can see what it looks for: every byte string is in the files before the purge.
        for (const b of [...doomed, ...kept]) assert.ok(where(path, b).length > 0, 'present before the purge');

        const counts = await s.retention.purgeDataKeys(['dk-doomed']);
        assert.deepEqual(counts, { keys: 1, privates: 100, bodies: 1, index: 100 });

        // While the storage is open (the gateway keeps running), and after it is closed.
        for (const [i, b] of doomed.entries()) assert.deepEqual(where(path, b), [], `purged item ${i} is in no file`);
        for (const b of kept) assert.ok(where(path, b).length > 0, 'what was not purged is still there');
        const wal = `${path}-wal`;
        assert.ok(!existsSync(wal) || readFileSync(wal).length === 0, 'the WAL was truncated');
      } finally {
        await s.close();
      }
      const again = await openSqliteStorage(path, { readOnly: true });
      try {
        assert.equal(await again.dataKeys.getDataKey('dk-doomed'), undefined);
        assert.equal((await again.ledger.readPrivate([2, 3])).map((p) => p.seq).join(), '3');
      } finally {
        await again.close();
      }
    } finally {
      dir.remove();
    }
  });

  it('pruned records and the clear private parts of pruned seqs are gone from the files too', async () => {
    const dir = tempDir('rampart-prune-');
    try {
      const path = join(dir.path, 'rampart.db');
      const s = await openSqliteStorage(path);
      try {
        const batch = handBatch(1, 40, GENESIS_HASH, { record: (seq) => ({ requestId: `req-${randomBytes(12).toString('hex')}-${seq}` }), priv: () => 'dk' });
        await s.ledger.append(batch);
        const pruned = [Buffer.from(batch[4]!.stored.record.requestId!), batch[4]!.priv!.sealed];
        const kept = [Buffer.from(batch[30]!.stored.record.requestId!), batch[30]!.priv!.sealed];
        for (const b of [...pruned, ...kept]) assert.ok(where(path, b).length > 0);
        assert.equal(await s.retention.pruneThrough({ seq: 20, chainHash: batch[19]!.stored.chainHash, compactRange: [], note: 'prune 20' }), 20);
        for (const b of pruned) assert.deepEqual(where(path, b), []);
        for (const b of kept) assert.ok(where(path, b).length > 0);
      } finally {
        await s.close();
      }
    } finally {
      dir.remove();
    }
  });
});
