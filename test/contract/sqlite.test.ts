/**
 * The storage contract on the SQLite backend (a real file per test), plus what only SQLite has:
 * the worker thread, the pragmas, the schema file, locks and a full disk.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync, execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { openStorage } from '../../src/storage/open.js';
import { openSqliteStorage, type SqliteStorage } from '../../src/storage/sqlite/store.js';
import { createLedger } from '../../src/ledger/writer.js';
import { verifyChain } from '../../src/ledger/verify.js';
import { tempDir } from '../helpers/tmp.js';
import { GENESIS_HASH } from '../../src/ledger/chain.js';
import { MIGRATIONS } from '../../src/storage/sqlite/schema.js';
import { configHashOf, configVersion, decision, handBatch, storageContract, tagOf, testSealer } from './storage-contract.js';

/** Removes what migration 7 added, leaving a file as Rampart left it at schema 6. */
const UNDO_7 = `DROP TABLE config_approvals; DROP TABLE config_activations; DROP TABLE config_versions; DELETE FROM sqlite_sequence WHERE name = 'config_activations';
  DELETE FROM schema_version WHERE version > 6;`;

/** Removes what migrations 6 and 7 added, leaving a file as Rampart left it at schema 5. */
const UNDO_6 = UNDO_7 + `DROP TABLE ledger_sealed; DROP TABLE ledger_bodies; DROP TABLE ledger_index; DROP TABLE data_keys; DROP TABLE ledger_checkpoints;
  DROP TABLE ledger_signing_keys; DROP TABLE legal_holds; DROP TABLE ledger_prune; DELETE FROM schema_version WHERE version > 5;`;

/** A clear private part as Rampart wrote them before encryption (schema <= 5). */
function insertLegacyPrivate(raw: Database.Database, seq: number, principal: string): void {
  raw.prepare('INSERT INTO ledger_private (seq, principal, personal_json, personal_salt) VALUES (?, ?, ?, ?)').run(seq, principal, JSON.stringify({ principal, pathParams: { id: `OBJ-${seq}` } }), 'ab'.repeat(32));
}

storageContract('sqlite', {
  async open() {
    const dir = tempDir('rampart-sqlite-');
    // A folder that does not exist yet: openStorage creates it.
    const path = join(dir.path, 'data', 'rampart.db');
    const storage = (await openStorage({ driver: 'sqlite', sqlite: { path } })) as SqliteStorage;
    return {
      storage,
      openSecond: () => openStorage({ driver: 'sqlite', sqlite: { path } }),
      openReadOnly: () => openStorage({ driver: 'sqlite', sqlite: { path } }, { readOnly: true }),
      async assertDurable() {
        const d = await storage.ledger.durability();
        assert.equal(d.synchronous, 2, 'PRAGMA synchronous read back from the writer connection is FULL (2)');
        assert.equal(d.journalMode, 'wal');
        assert.ok(d.busyTimeout > 0);
        const raw = new Database(path, { readonly: true });
        try {
          assert.equal(raw.pragma('journal_mode', { simple: true }), 'wal', 'the file itself is in WAL mode');
        } finally {
          raw.close();
        }
      },
      async dispose() {
        await storage.close();
        dir.remove();
      },
    };
  },
});

const here = fileURLToPath(new URL('.', import.meta.url));
const distSrc = join(here, '..', '..', 'src');

describe('sqlite backend', () => {
  it('records its schema version once, and refuses a file from a newer Rampart', async () => {
    const dir = tempDir();
    try {
      const path = join(dir.path, 'r.db');
      await (await openSqliteStorage(path)).close();
      await (await openSqliteStorage(path)).close();
      const raw = new Database(path);
      assert.deepEqual(raw.prepare('SELECT version FROM schema_version ORDER BY version').all(), [1, 2, 3, 4, 5, 6, 7].map((version) => ({ version })));
      // Migration 2: only the time index is maintained at commit on the records (each index is
      // CPU per record); migration 6 adds the index by seq of the blind index (purge, prune) and
      // by data key of the sealed rows (purge, reseal).
      const idx = raw.prepare("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name LIKE 'ledger%' AND sql IS NOT NULL ORDER BY name").all();
      assert.deepEqual(idx, ['ledger_bodies_dek', 'ledger_index_seq', 'ledger_records_ts', 'ledger_sealed_dek'].map((name) => ({ name })));
      raw.prepare('INSERT INTO schema_version (version, description, applied_at) VALUES (99, ?, 0)').run('from the future');
      raw.close();
      await assert.rejects(openSqliteStorage(path), /schema version 99, newer than this Rampart/);
    } finally {
      dir.remove();
    }
  });

  it('upgrades a version-1 file in place: its records still verify, its clear private parts stay readable beside sealed ones', async () => {
    const dir = tempDir();
    try {
      const path = join(dir.path, 'r.db');
      const s1 = await openSqliteStorage(path);
      const first = handBatch(1, 3, GENESIS_HASH, { record: (seq) => ({ operationId: `op${seq}` }) });
      await s1.ledger.append(first);
      await s1.close();
      // Turn it back into a file as migration 1 alone left it: its indexes, clear private parts,
      // no admin or schema 6 tables, and version 1 only.
      const raw = new Database(path);
      for (const stmt of MIGRATIONS[0]!.sql.split(';').filter((x) => /CREATE INDEX ledger_/.test(x) && !/ledger_records_ts/.test(x))) raw.exec(stmt);
      raw.exec(UNDO_6);
      raw.exec('DROP TABLE admin_passkeys; DROP TABLE admin_sessions; DROP TABLE admin_users; ALTER TABLE api_keys DROP COLUMN public_key_jwk;');
      raw.prepare('DELETE FROM schema_version WHERE version > 1').run();
      for (const seq of [1, 2, 3]) insertLegacyPrivate(raw, seq, `p${seq}`);
      raw.close();
      const s2 = await openSqliteStorage(path);
      try {
        assert.equal((await verifyChain(s2.ledger)).ok, true);
        assert.deepEqual((await s2.ledger.search({ operationId: 'op2', limit: 10 })).map((r) => r.record.seq), [2]);
        assert.deepEqual(await s2.admin.listUsers(), [], 'migration 3 added the admin tables');
        assert.deepEqual(await s2.admin.listPasskeys('u'), [], 'migration 4 added the passkeys');
        assert.deepEqual(await s2.dataKeys.listDataKeys(), [], 'migration 6 added the data keys');
        const more = handBatch(4, 2, first[2]!.stored.chainHash, { priv: () => 'dk-1', tags: () => [tagOf('principal', 'p4')] });
        await s2.ledger.append(more);
        const privs = await s2.ledger.readPrivate([1, 2, 3, 4, 5]);
        assert.deepEqual(privs.map((p) => [p.seq, p.plain ? 'plain' : 'sealed']), [[1, 'plain'], [2, 'plain'], [3, 'plain'], [4, 'sealed'], [5, 'sealed']]);
        assert.deepEqual(privs[1], { seq: 2, plain: { seq: 2, personal: { principal: 'p2', pathParams: { id: 'OBJ-2' } }, personalSalt: 'ab'.repeat(32) } });
        assert.deepEqual(privs[3], { seq: 4, sealed: more[0]!.priv });
      } finally {
        await s2.close();
      }
      const after = new Database(path, { readonly: true });
      assert.deepEqual(after.prepare("SELECT name FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL AND name LIKE 'ledger_records%'").all(), [{ name: 'ledger_records_ts' }]);
      assert.deepEqual(after.prepare('SELECT max(version) AS v FROM schema_version').get(), { v: 7 });
      assert.deepEqual(after.prepare('SELECT count(*) AS n FROM ledger_private').get(), { n: 3 }, 'no new clear rows');
      after.close();
    } finally {
      dir.remove();
    }
  });

  it('upgrades a schema 6 file to 7 in place (configuration versions): its ledger and keys stay, the config tables start empty and append-only', async () => {
    const dir = tempDir();
    try {
      const path = join(dir.path, 'r.db');
      const s1 = await openSqliteStorage(path);
      const first = handBatch(1, 3, GENESIS_HASH, { priv: () => 'dk-1', tags: () => [tagOf('principal', 'p')] });
      await s1.ledger.append(first);
      await s1.dataKeys.insertDataKey({ id: 'dk-1', recordClass: 'personal', expiryDay: 20_000, kekId: 'env:aaaaaaaa', wrapped: Buffer.from('w'), createdAt: 1 });
      await s1.close();
      // As Rampart left the file at schema 6, the previous latest version.
      const raw = new Database(path);
      raw.exec(UNDO_7);
      assert.deepEqual(raw.prepare("SELECT name FROM sqlite_master WHERE name LIKE 'config%'").all(), []);
      raw.close();
      const s2 = await openSqliteStorage(path);
      try {
        assert.equal((await verifyChain(s2.ledger)).ok, true);
        assert.equal((await s2.dataKeys.getDataKey('dk-1'))!.id, 'dk-1');
        assert.deepEqual(await s2.configs.listVersions(10), [], 'migration 7 added the config tables, empty');
        assert.deepEqual(await s2.configs.activations(10), []);
        assert.equal(await s2.configs.putVersion(configVersion(1)), true);
        assert.equal(await s2.configs.addApproval({ hash: configHashOf(1), approver: 'bob', at: 2, comment: '' }), true);
        assert.equal((await s2.configs.recordActivation({ hash: configHashOf(1), at: 3, by: 'alice', node: 'n1' })).seq, 1);
      } finally {
        await s2.close();
      }
      const after = new Database(path);
      try {
        assert.deepEqual(after.prepare('SELECT version FROM schema_version ORDER BY version').all(), [1, 2, 3, 4, 5, 6, 7].map((version) => ({ version })));
        assert.deepEqual(after.prepare("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name LIKE 'config%' AND sql IS NOT NULL").all(), [{ name: 'config_versions_created_at' }]);
        // The foreign key is declared (the writer connection enforces it; so does this one, with the pragma).
        after.pragma('foreign_keys = ON');
        assert.throws(() => after.prepare("INSERT INTO config_approvals (hash, approver, at, comment) VALUES ('sha256:none', 'x', 1, '')").run(), /FOREIGN KEY constraint failed/);
      } finally {
        after.close();
      }
    } finally {
      dir.remove();
    }
  });

  it('a read-only open of a file from before migration 7 has no configuration versions (empty answers) and refuses to write them', async () => {
    const dir = tempDir();
    try {
      const path = join(dir.path, 'r.db');
      const s1 = await openSqliteStorage(path);
      await s1.ledger.append(handBatch(1, 2, GENESIS_HASH));
      await s1.close();
      const raw = new Database(path);
      raw.exec(UNDO_7);
      raw.close();
      const ro = await openSqliteStorage(path, { readOnly: true });
      try {
        assert.equal((await verifyChain(ro.ledger)).count, 2);
        assert.deepEqual(await ro.configs.listVersions(10), []);
        assert.equal(await ro.configs.getVersion(configHashOf(1)), undefined);
        assert.deepEqual(await ro.configs.approvals(configHashOf(1)), []);
        assert.deepEqual(await ro.configs.activations(10), []);
        await assert.rejects(ro.configs.putVersion(configVersion(1)), /read-only/);
        // A gateway migrates it meanwhile: the same read-only handle then sees what it stores.
        const s2 = await openSqliteStorage(path);
        try {
          await s2.configs.putVersion(configVersion(1));
        } finally {
          await s2.close();
        }
        assert.deepEqual((await ro.configs.listVersions(10)).map((v) => v.hash), [configHashOf(1)]);
      } finally {
        await ro.close();
      }
    } finally {
      dir.remove();
    }
  });

  it('a read-only open of a file from before migration 6 serves the ledger and its clear private parts, and says why it has no data keys or index', async () => {
    const dir = tempDir();
    try {
      const path = join(dir.path, 'r.db');
      const s1 = await openSqliteStorage(path);
      await s1.ledger.append(handBatch(1, 2, GENESIS_HASH));
      await s1.close();
      const raw = new Database(path);
      raw.exec(UNDO_6);
      insertLegacyPrivate(raw, 2, 'alice');
      raw.close();
      const ro = await openSqliteStorage(path, { readOnly: true });
      try {
        assert.equal((await verifyChain(ro.ledger)).count, 2);
        assert.equal((await ro.ledger.readLeaves(1, 10)).length, 2);
        assert.deepEqual(await ro.ledger.readPrivate([1, 2]), [{ seq: 2, plain: { seq: 2, personal: { principal: 'alice', pathParams: { id: 'OBJ-2' } }, personalSalt: 'ab'.repeat(32) } }]);
        assert.equal((await ro.ledger.search({ limit: 10 })).length, 2);
        // What such a file cannot hold: nothing, so that verification and export still run.
        assert.deepEqual(await ro.ledger.readBodies([1, 2]), []);
        assert.equal(await ro.retention.pruneState(), undefined);
        assert.equal(await ro.checkpoints.latestCheckpoint(), undefined);
        assert.deepEqual(await ro.checkpoints.listCheckpoints(0, 10, 10), []);
        assert.deepEqual(await ro.checkpoints.listSigningKeys(), []);
        // What would be a wrong answer if empty: refused, with the reason.
        const old = /schema version 5, from before the encrypted ledger .*start the gateway once to migrate it/;
        await assert.rejects(ro.ledger.search({ tags: [tagOf('principal', 'alice')], limit: 10 }), old);
        await assert.rejects(ro.ledger.searchIndex([tagOf('principal', 'alice')], 0, 1e15, 10), old);
        await assert.rejects(ro.dataKeys.listDataKeys(), old);
        await assert.rejects(ro.dataKeys.getDataKey('x'), (e: Error & { code?: string }) => e.code === 'RAMPART_STORAGE_SCHEMA_OLD');
        await assert.rejects(ro.retention.listHolds(), old);
        await assert.rejects(ro.retention.itemsUnderKey('x'), old);
      } finally {
        await ro.close();
      }
    } finally {
      dir.remove();
    }
  });

  it('a read-only open of a file from before the admin tables serves the ledger, and says why it has no admin accounts', async () => {
    const dir = tempDir();
    try {
      const path = join(dir.path, 'r.db');
      const s1 = await openSqliteStorage(path);
      await s1.ledger.append(handBatch(1, 1, GENESIS_HASH));
      await s1.close();
      // As Rampart left it before migration 3.
      const raw = new Database(path);
      raw.exec(UNDO_6);
      raw.exec('DROP TABLE admin_passkeys; DROP TABLE admin_sessions; DROP TABLE admin_users; ALTER TABLE api_keys DROP COLUMN public_key_jwk; DELETE FROM schema_version WHERE version > 2;');
      raw.close();
      const ro = await openSqliteStorage(path, { readOnly: true });
      try {
        assert.equal((await verifyChain(ro.ledger)).count, 1);
        await assert.rejects(ro.admin.listUsers(), /schema version 2, from before admin accounts/);
        await assert.rejects(ro.admin.getSession('x'), /schema version 2, from before admin accounts/);
        await assert.rejects(ro.admin.listPasskeys('u'), /schema version 2, from before admin accounts/);
        await assert.rejects(ro.admin.useTotpStep('u', 1), /read-only/);
      } finally {
        await ro.close();
      }
      const s2 = await openSqliteStorage(path);
      try {
        assert.deepEqual(await s2.admin.listUsers(), []);
      } finally {
        await s2.close();
      }
    } finally {
      dir.remove();
    }
  });

  it('a read-only open of a file from before the passkeys serves the admin accounts, and says why it has no passkeys', async () => {
    const dir = tempDir();
    try {
      const path = join(dir.path, 'r.db');
      const s1 = await openSqliteStorage(path);
      await s1.admin.insertUser({ id: 'u', username: 'u', passwordHash: 'h', roles: ['owner'], recoveryCodeHashes: [], disabled: false, failedLogins: 0, createdAt: 1, updatedAt: 1 });
      await s1.close();
      // As Rampart left it before migration 4.
      const raw = new Database(path);
      raw.exec(UNDO_6);
      raw.exec('DROP TABLE admin_passkeys; ALTER TABLE api_keys DROP COLUMN public_key_jwk; DELETE FROM schema_version WHERE version > 3;');
      raw.close();
      const ro = await openSqliteStorage(path, { readOnly: true });
      try {
        assert.deepEqual((await ro.admin.listUsers()).map((u) => u.id), ['u']);
        await assert.rejects(ro.admin.listPasskeys('u'), /schema version 3, from before admin passkeys/);
        await assert.rejects(ro.admin.getPasskey('x'), /schema version 3, from before admin passkeys/);
        await assert.rejects(ro.admin.usePasskey('x', 1, 1), /read-only/);
      } finally {
        await ro.close();
      }
      const s2 = await openSqliteStorage(path);
      try {
        await s2.admin.addPasskey('u', { credentialId: 'c', publicKey: 'k', counter: 0, transports: ['usb'], name: 'n', createdAt: 2 });
        assert.deepEqual(await s2.admin.listPasskeys('u'), [{ credentialId: 'c', publicKey: 'k', counter: 0, transports: ['usb'], name: 'n', createdAt: 2 }]);
      } finally {
        await s2.close();
      }
      const raw2 = new Database(path, { readonly: true });
      assert.deepEqual(raw2.prepare("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'admin_passkeys' AND sql IS NOT NULL").all(), [{ name: 'admin_passkeys_user_id' }]);
      raw2.close();
    } finally {
      dir.remove();
    }
  });

  it('stores the chained part, the sealed private part, bodies and index in their own tables; nothing in clear', async () => {
    const dir = tempDir();
    try {
      const path = join(dir.path, 'r.db');
      const s = await openSqliteStorage(path);
      const batch = handBatch(1, 1, GENESIS_HASH, { priv: () => 'dk-1', bodies: () => [{ part: 'response', dekId: 'dk-b' }], tags: () => [tagOf('subject', 'cust-1')] });
      await s.ledger.append(batch);
      await s.close();
      const raw = new Database(path, { readonly: true });
      try {
        const item = batch[0]!;
        assert.deepEqual(raw.prepare('SELECT seq, dek_id, sealed FROM ledger_sealed').all(), [{ seq: 1, dek_id: 'dk-1', sealed: item.priv!.sealed }]);
        assert.deepEqual(raw.prepare('SELECT seq, part, dek_id, sealed FROM ledger_bodies').all(), [{ seq: 1, part: 'response', dek_id: 'dk-b', sealed: item.bodies![0]!.sealed }]);
        assert.deepEqual(raw.prepare('SELECT tag, ts, seq FROM ledger_index').all(), [{ tag: tagOf('subject', 'cust-1'), ts: item.stored.record.ts, seq: 1 }]);
        assert.deepEqual(raw.prepare("SELECT typeof(sealed) AS t FROM ledger_sealed UNION ALL SELECT typeof(tag) FROM ledger_index").all(), [{ t: 'blob' }, { t: 'blob' }]);
        assert.deepEqual(raw.prepare('SELECT count(*) AS n FROM ledger_private').get(), { n: 0 }, 'no clear private rows are written any more');
      } finally {
        raw.close();
      }
    } finally {
      dir.remove();
    }
  });

  it('a lock held by another process fails the append (with the SQLite code), and the next one continues', async () => {
    const dir = tempDir();
    try {
      const path = join(dir.path, 'r.db');
      const s = await openSqliteStorage(path, { busyTimeoutMs: 100 });
      const alerts: unknown[] = [];
      const ledger = await createLedger(s.ledger, { node: 'n1', maxBatch: 8, onAlert: (e) => alerts.push(e), sealer: await testSealer(s) });
      await ledger.append(decision());
      const other = new Database(path);
      other.exec('BEGIN IMMEDIATE');
      const err = await ledger.append(decision()).then(() => undefined, (e: unknown) => e as Error & { code?: string; cause?: { code?: string } });
      assert.equal(err?.code, 'RAMPART_LEDGER_UNAVAILABLE');
      assert.equal(err?.cause?.code, 'SQLITE_BUSY', 'the worker error crossed the thread boundary with its code');
      assert.equal(ledger.healthy, false);
      assert.equal(alerts.length, 1);
      other.exec('ROLLBACK');
      other.close();
      assert.deepEqual(await ledger.append(decision()), { seq: 2, ts: (await s.ledger.read(2, 1))[0]!.record.ts });
      assert.equal(ledger.healthy, true);
      assert.equal((await verifyChain(s.ledger)).ok, true);
      await ledger.close();
      await s.close();
    } finally {
      dir.remove();
    }
  });

  it('a read-only open never creates a database', async () => {
    const dir = tempDir();
    try {
      const path = join(dir.path, 'missing.db');
      await assert.rejects(openStorage({ driver: 'sqlite', sqlite: { path } }, { readOnly: true }), (e: Error & { code?: string }) => e.code === 'SQLITE_CANTOPEN');
      assert.equal(existsSync(path), false);
      new Database(path).close();
      await assert.rejects(openStorage({ driver: 'sqlite', sqlite: { path } }, { readOnly: true }), /holds no Rampart ledger yet/);
    } finally {
      dir.remove();
    }
  });

  it('a path that cannot be opened rejects; it does not crash', async () => {
    const dir = tempDir();
    try {
      mkdirSync(join(dir.path, 'is-a-folder.db'));
      await assert.rejects(openSqliteStorage(join(dir.path, 'is-a-folder.db')), (e: Error & { code?: string }) => e.code === 'SQLITE_CANTOPEN');
    } finally {
      dir.remove();
    }
  });

  it('a database file that is not writable is refused for writing at open, and can still be opened read-only (examiner)', { skip: process.getuid?.() === 0 && !canRunAsNobody() ? 'needs a non-root user to make a file unwritable' : false }, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'rampart-ro-'));
    try {
      chmodSync(dir, 0o777);
      const path = join(dir, 'r.db');
      await (await openSqliteStorage(path)).close();
      chmodSync(path, 0o444);
      const script = `
        const { openStorage } = await import(${JSON.stringify(join(distSrc, 'storage', 'open.js'))});
        const { verifyChain } = await import(${JSON.stringify(join(distSrc, 'ledger', 'verify.js'))});
        const cfg = { driver: 'sqlite', sqlite: { path: ${JSON.stringify(path)} } };
        try { await openStorage(cfg); console.log('opened'); }
        catch (e) { console.log('refused', e.code); }
        const ro = await openStorage(cfg, { readOnly: true });
        console.log('read-only', (await verifyChain(ro.ledger)).ok);
        await ro.close();`;
      const r = runNode(script, process.getuid?.() === 0 ? 65534 : undefined);
      assert.equal(r.status, 0, r.stderr);
      assert.match(r.stdout, /^refused SQLITE_READONLY/);
      assert.match(r.stdout, /read-only true/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a full disk fails the append without crashing, and appends resume once there is space', { skip: canMountTmpfs() ? false : 'needs permission to mount a small tmpfs' }, async () => {
    const mnt = mkdtempSync(join(tmpdir(), 'rampart-full-'));
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', mnt]);
    let s: SqliteStorage | undefined;
    try {
      s = await openSqliteStorage(join(mnt, 'r.db'));
      const alerts: unknown[] = [];
      const ledger = await createLedger(s.ledger, { node: 'n1', maxBatch: 64, onAlert: (e) => alerts.push(e), sealer: await testSealer(s) });
      await ledger.append(decision());
      const filler = join(mnt, 'filler');
      try {
        for (;;) writeFileSync(filler, Buffer.alloc(16 * 1024), { flag: 'a' });
      } catch {
        // ENOSPC: the disk is full.
      }
      const big = 'x'.repeat(2000);
      const results = await Promise.allSettled(Array.from({ length: 200 }, () => ledger.append(decision({ detail: { big } }))));
      const failed = results.filter((r) => r.status === 'rejected') as PromiseRejectedResult[];
      assert.ok(failed.length > 0, 'some appends were refused');
      assert.equal((failed[0]!.reason as { code?: string }).code, 'RAMPART_LEDGER_UNAVAILABLE');
      assert.equal(((failed[0]!.reason as { cause?: { code?: string } }).cause)?.code, 'SQLITE_FULL');
      assert.equal(ledger.healthy, false);
      assert.ok(alerts.length > 0);
      rmSync(filler);
      const { seq } = await ledger.append(decision());
      assert.equal(ledger.healthy, true);
      const v = await verifyChain(s.ledger);
      assert.equal(v.ok, true);
      assert.equal(v.count, seq, 'only acknowledged records are in the chain, without gaps');
      await ledger.close();
    } finally {
      await s?.close();
      execFileSync('umount', [mnt]);
      rmSync(mnt, { recursive: true, force: true });
    }
  });

  it('an idle storage nobody closed does not keep the process alive; a closed one exits too', () => {
    const dir = tempDir();
    try {
      for (const closeIt of [false, true]) {
        const path = join(dir.path, `exit-${closeIt}.db`);
        const script = `
          const { openStorage } = await import(${JSON.stringify(join(distSrc, 'storage', 'open.js'))});
          const { buildStoredRecord, GENESIS_HASH } = await import(${JSON.stringify(join(distSrc, 'ledger', 'chain.js'))});
          const s = await openStorage({ driver: 'sqlite', sqlite: { path: ${JSON.stringify(path)} } });
          const stored = buildStoredRecord({ v: 1, seq: 1, ts: Date.now(), type: 'system.event', node: 'n', outcome: 'info', configHash: 'x' }, GENESIS_HASH);
          await s.ledger.append([{ stored, priv: { seq: 1, dekId: 'dk', sealed: Buffer.alloc(32, 1) }, index: [{ seq: 1, ts: 1, tag: Buffer.alloc(16, 2) }] }]);
          await s.ledger.search({ limit: 1 });
          await s.dataKeys.listDataKeys();
          console.log('appended', (await s.ledger.head()).seq);
          ${closeIt ? 'await s.close();' : ''}`;
        const started = Date.now();
        const r = runNode(script);
        assert.equal(r.status, 0, r.stderr);
        assert.match(r.stdout, /appended 1/);
        assert.ok(Date.now() - started < 8000, 'exited promptly');
      }
    } finally {
      dir.remove();
    }
  });
});

/** Runs an ES module script in a fresh node process (optionally as another user). */
function runNode(script: string, uid?: number): { status: number | null; stdout: string; stderr: string } {
  const dir = mkdtempSync(join(tmpdir(), 'rampart-script-'));
  try {
    chmodSync(dir, 0o755);
    const file = join(dir, 'script.mjs');
    writeFileSync(file, script, { mode: 0o644 });
    const r = spawnSync(process.execPath, [file], { encoding: 'utf8', timeout: 15_000, env: { PATH: process.env.PATH ?? '' }, ...(uid !== undefined ? { uid, gid: 65534 } : {}) });
    return { status: r.status, stdout: r.stdout, stderr: r.stderr };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function canRunAsNobody(): boolean {
  try {
    return spawnSync(process.execPath, ['-e', ''], { uid: 65534, gid: 65534, timeout: 5000 }).status === 0;
  } catch {
    return false;
  }
}

function canMountTmpfs(): boolean {
  if (process.platform !== 'linux' || process.getuid?.() !== 0 || !existsSync('/bin/mount') && !existsSync('/usr/bin/mount')) return false;
  const probe = mkdtempSync(join(tmpdir(), 'rampart-mnt-'));
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=64k', 'tmpfs', probe], { stdio: 'ignore' });
    execFileSync('umount', [probe], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  } finally {
    rmSync(probe, { recursive: true, force: true });
  }
}
