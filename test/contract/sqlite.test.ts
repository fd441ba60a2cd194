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
import { MIGRATIONS } from '../../src/storage/sqlite/schema.js';
import { decision, storageContract } from './storage-contract.js';

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
      assert.deepEqual(raw.prepare('SELECT version FROM schema_version ORDER BY version').all(), [{ version: 1 }, { version: 2 }, { version: 3 }, { version: 4 }, { version: 5 }]);
      // Migration 2: only the time index is maintained at commit (each index is CPU per record).
      const idx = raw.prepare("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name LIKE 'ledger%' AND sql IS NOT NULL ORDER BY name").all();
      assert.deepEqual(idx, [{ name: 'ledger_records_ts' }]);
      raw.prepare('INSERT INTO schema_version (version, description, applied_at) VALUES (99, ?, 0)').run('from the future');
      raw.close();
      await assert.rejects(openSqliteStorage(path), /schema version 99, newer than this Rampart/);
    } finally {
      dir.remove();
    }
  });

  it('upgrades a version-1 file in place: its records still verify and are still found', async () => {
    const dir = tempDir();
    try {
      const path = join(dir.path, 'r.db');
      const s1 = await openSqliteStorage(path);
      const l1 = await createLedger(s1.ledger, { node: 'n1', maxBatch: 8 });
      for (let i = 0; i < 3; i++) await l1.append(decision({ operationId: `op${i}`, personal: { principal: `p${i}`, pathParams: { id: `OBJ-${i}` } } }));
      await l1.close();
      await s1.close();
      // Turn it back into a file as migration 1 alone left it: its indexes, no admin tables, and
      // version 1 only.
      const raw = new Database(path);
      for (const stmt of MIGRATIONS[0]!.sql.split(';').filter((x) => /CREATE INDEX ledger_/.test(x) && !/ledger_records_ts/.test(x))) raw.exec(stmt);
      raw.exec('DROP TABLE admin_passkeys; DROP TABLE admin_sessions; DROP TABLE admin_users; ALTER TABLE api_keys DROP COLUMN public_key_jwk;');
      raw.prepare('DELETE FROM schema_version WHERE version > 1').run();
      raw.close();
      const s2 = await openSqliteStorage(path);
      try {
        assert.equal((await verifyChain(s2.ledger)).ok, true);
        const found = await s2.ledger.search({ principal: 'p1', objectId: 'OBJ-1', operationId: 'op1', limit: 10 });
        assert.deepEqual(found.map((r) => r.record.seq), [2]);
        assert.deepEqual(await s2.admin.listUsers(), [], 'migration 3 added the admin tables');
        assert.deepEqual(await s2.admin.listPasskeys('u'), [], 'migration 4 added the passkeys');
      } finally {
        await s2.close();
      }
      const after = new Database(path, { readonly: true });
      assert.deepEqual(after.prepare("SELECT name FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL AND name LIKE 'ledger%'").all(), [{ name: 'ledger_records_ts' }]);
      assert.deepEqual(after.prepare('SELECT max(version) AS v FROM schema_version').get(), { v: 5 });
      after.close();
    } finally {
      dir.remove();
    }
  });

  it('a read-only open of a file from before the admin tables serves the ledger, and says why it has no admin accounts', async () => {
    const dir = tempDir();
    try {
      const path = join(dir.path, 'r.db');
      const s1 = await openSqliteStorage(path);
      const l1 = await createLedger(s1.ledger, { node: 'n1', maxBatch: 8 });
      await l1.append(decision());
      await l1.close();
      await s1.close();
      // As Rampart left it before migration 3.
      const raw = new Database(path);
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

  it('stores the chained part and the private part in separate tables', async () => {
    const dir = tempDir();
    try {
      const path = join(dir.path, 'r.db');
      const s = await openSqliteStorage(path);
      const ledger = await createLedger(s.ledger, { node: 'n1', maxBatch: 8 });
      await ledger.append(decision({ personal: { principal: 'alice', clientAddress: '192.0.2.1', pathParams: { id: 'OBJ-1' } } }));
      await ledger.close();
      await s.close();
      const raw = new Database(path, { readonly: true });
      const rec = JSON.stringify(raw.prepare('SELECT * FROM ledger_records').all());
      const priv = raw.prepare('SELECT principal, client_address, personal_json FROM ledger_private').get() as Record<string, string>;
      raw.close();
      for (const v of ['alice', '192.0.2.1', 'OBJ-1']) assert.ok(!rec.includes(v), `${v} not in ledger_records`);
      assert.equal(priv.principal, 'alice');
      assert.equal(priv.client_address, '192.0.2.1');
      assert.deepEqual(JSON.parse(priv.personal_json!).pathParams, { id: 'OBJ-1' });
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
      const ledger = await createLedger(s.ledger, { node: 'n1', maxBatch: 8, onAlert: (e) => alerts.push(e) });
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
      const ledger = await createLedger(s.ledger, { node: 'n1', maxBatch: 64, onAlert: (e) => alerts.push(e) });
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
          const { createLedger } = await import(${JSON.stringify(join(distSrc, 'ledger', 'writer.js'))});
          const s = await openStorage({ driver: 'sqlite', sqlite: { path: ${JSON.stringify(path)} } });
          const l = await createLedger(s.ledger, { node: 'n', maxBatch: 8 });
          const r = await l.append({ type: 'system.event', outcome: 'info', configHash: 'x' });
          await s.ledger.search({ limit: 1 });
          console.log('appended', r.seq);
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
