/**
 * Backup and restore of the ledger (R17a4-9: a backup recordkeeping system; R4370-1: a working
 * restore of the audit store), end to end with the real CLI beside a real running gateway:
 * - `rampart ledger backup` takes a consistent copy while requests keep being served, and says
 *   the KEK is not in it;
 * - `rampart ledger restore` into a fresh folder (same secrets: KEK and checkpoint key) verifies
 *   against the heads published up to the backup, private parts included;
 * - the same backup checked against heads published AFTER it is reported as behind them
 *   (`beyond-ledger`, exit 1): a stale backup is detected;
 * - a damaged archive and a copy that does not match its manifest are refused before anything is
 *   touched; restore refuses to replace a database without --force, keeps the old one with it, and
 *   refuses while another process has the database open;
 * - PostgreSQL: pg_dump of the schema on one snapshot, restored into another database, verifies.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, existsSync, readdirSync, readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import { createTarWriter, readTarGzAll } from '../../src/evidence/tar.js';
import { readBackup, type BackupManifest, type RestoreResult } from '../../src/ledger/backup.js';
import { openSqliteStorage } from '../../src/storage/sqlite/store.js';
import { run, show } from '../helpers/cli.js';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { createTempDatabase, type TempDatabase } from '../helpers/pg.js';
import { tempDir } from '../helpers/tmp.js';

const PUBLISH = { ledger: { checkpoints: { publish: [{ file: 'heads/published.jsonl' }], intervalSeconds: 3600 }, selfVerify: { intervalSeconds: 0 } } };
const SECRETS = ['secrets.json', 'ledger-kek.json', 'checkpoint-key.json'];
const LIMITS = { maxEntryBytes: 1 << 30, maxTotalBytes: 1 << 30 };

/**
 * A fresh folder for a restore: the gateway's rampart.yaml with `storage` replaced, its secrets
 * (KEK and checkpoint key: a restore needs the same KEK provider), and the given published heads.
 */
function freshFolder(t: TestGateway, dir: string, heads: string, storage?: Record<string, unknown>): string {
  const doc = parse(readFileSync(t.configFile, 'utf8')) as Record<string, unknown>;
  if (storage) doc.storage = storage;
  const file = join(dir, 'rampart.yaml');
  writeFileSync(file, stringify(doc));
  for (const f of SECRETS) copyFileSync(join(t.dir, f), join(dir, f));
  mkdirSync(join(dir, 'heads'), { recursive: true });
  writeFileSync(join(dir, 'heads', 'published.jsonl'), heads);
  return file;
}

async function restore(cwd: string, args: string[]): Promise<{ code: number | null; result: RestoreResult | undefined; out: string; stderr: string }> {
  const a = ['ledger', 'restore', ...args, '--json'];
  const r = await run(cwd, a);
  let result: RestoreResult | undefined;
  try {
    result = JSON.parse(r.stdout) as RestoreResult;
  } catch {
    result = undefined;
  }
  return { code: r.code, result, out: show(a, r), stderr: r.stderr };
}

describe('ledger backup and restore, SQLite, beside a running gateway', () => {
  let t: TestGateway;
  let backupFile: string;
  let manifest: BackupManifest;
  let headsAtBackup: string;
  let headsAfter: string;
  const dirs: { path: string; remove(): void }[] = [];
  const fresh = (): string => {
    const d = tempDir('rampart-restore-');
    dirs.push(d);
    return d.path;
  };

  before(async () => {
    t = await startTestGateway({ yaml: PUBLISH });
    const { key } = await t.key(['accounts:read'], { subject: 'cus_1' });
    const get = () => t.request('GET', '/accounts?limit=1', { headers: { authorization: `Bearer ${key}` } });
    for (let i = 0; i < 6; i++) assert.equal((await get()).status, 200);
    await t.gw.ledger.flush();
    assert.ok(await t.gw.ledgerParts!.checkpointer.checkpoint('manual'), 'a checkpoint published before the backup');
    headsAtBackup = readFileSync(join(t.dir, 'heads', 'published.jsonl'), 'utf8');

    // The backup runs in another process while this one keeps serving and writing records.
    backupFile = join(t.dir, 'backups', 'rampart-backup.tar.gz');
    mkdirSync(join(t.dir, 'backups'));
    const args = ['ledger', 'backup', '-c', t.configFile, '--out', backupFile, '--json'];
    const [b, ...during] = await Promise.all([run(t.dir, args), ...Array.from({ length: 8 }, get)]);
    assert.equal(b.code, 0, show(args, b));
    assert.deepEqual(during.map((r) => r.status), Array(8).fill(200), 'the gateway served every request during the backup');
    manifest = (JSON.parse(b.stdout) as { manifest: BackupManifest }).manifest;

    for (let i = 0; i < 3; i++) assert.equal((await get()).status, 200);
    await t.gw.ledger.flush();
    await t.gw.ledgerParts!.checkpointer.checkpoint('manual');
    await t.gw.close(); // and the shutdown checkpoint
    headsAfter = readFileSync(join(t.dir, 'heads', 'published.jsonl'), 'utf8');
  });
  after(async () => {
    await t.close();
    for (const d of dirs) d.remove();
  });

  it('writes one archive: the database copy and a manifest with its head and digest, and no KEK', async () => {
    const files = await readTarGzAll(backupFile, LIMITS);
    assert.deepEqual([...files.keys()], ['backup.json', 'rampart.db']);
    assert.equal(manifest.driver, 'sqlite');
    assert.equal(manifest.kekIncluded, false);
    assert.equal(manifest.kekProvider, 'file');
    assert.ok(manifest.head && manifest.head.seq >= 13, `the copy holds the records before the backup (head ${JSON.stringify(manifest.head)})`);
    const { data } = await readBackup(backupFile);
    assert.equal(data.length, manifest.bytes);
    // The copy is self-contained (no -wal belongs to it) and its head is the manifest's.
    const d = tempDir('rampart-copy-');
    try {
      writeFileSync(join(d.path, 'copy.db'), data);
      const s = await openSqliteStorage(join(d.path, 'copy.db'), { readOnly: true });
      try {
        assert.deepEqual(await s.ledger.head(), manifest.head);
      } finally {
        await s.close();
      }
    } finally {
      d.remove();
    }
    const help = await run(t.dir, ['ledger', 'backup', '--help']);
    assert.match(help.stdout, /key-encryption key is NOT in the backup/);
  });

  it('restores into a fresh folder and verifies against the heads published up to the backup, private parts included', async () => {
    const dir = fresh();
    const cfg = freshFolder(t, dir, headsAtBackup);
    const r = await restore(dir, ['-c', cfg, '--from', backupFile]);
    assert.equal(r.code, 0, r.out);
    const v = r.result!.verification;
    assert.equal(v.ok, true, JSON.stringify(v.findings));
    assert.equal(v.count, manifest.head!.seq);
    assert.ok(v.checkpointsVerified.published >= 1, 'the published head before the backup was checked');
    assert.equal(v.privateParts, 'checked');
    assert.equal(v.headMatchesManifest, true);
    assert.equal(r.result!.movedAside, undefined);
    const s = await openSqliteStorage(join(dir, 'rampart.db'), { readOnly: true });
    try {
      assert.deepEqual(await s.ledger.head(), manifest.head);
    } finally {
      await s.close();
    }

    // A second restore over it is refused without --force, and nothing changes.
    const before = readFileSync(join(dir, 'rampart.db'));
    const again = await restore(dir, ['-c', cfg, '--from', backupFile]);
    assert.equal(again.code, 1, again.out);
    assert.match(again.stderr, /rampart\.db exists; restore refuses to replace a database unless --force is given/);
    assert.deepEqual(readFileSync(join(dir, 'rampart.db')), before);
  });

  it('detects a stale backup: heads published after it lie beyond the restored ledger (exit 1)', async () => {
    const dir = fresh();
    const cfg = freshFolder(t, dir, headsAfter);
    const r = await restore(dir, ['-c', cfg, '--from', backupFile]);
    assert.equal(r.code, 1, r.out);
    const v = r.result!.verification;
    assert.equal(v.ok, false);
    assert.ok(v.firstBad === undefined, 'the copy itself is intact');
    const beyond = v.findings.filter((f) => f.problem === 'beyond-ledger');
    assert.ok(beyond.length >= 1, JSON.stringify(v.findings));
    assert.ok(beyond.every((f) => f.source === 'published' && f.treeSize > manifest.head!.seq));
    assert.match(r.stderr, /the restored ledger does not verify: .*beyond-ledger at size \d+/);
  });

  it('with --force keeps the database it replaces, and refuses while another process has it open', async () => {
    const dir = fresh();
    const cfg = freshFolder(t, dir, headsAtBackup);
    assert.equal((await restore(dir, ['-c', cfg, '--from', backupFile])).code, 0);
    const db = join(dir, 'rampart.db');

    // The storage a gateway opens (WAL mode, a writer connection), held open by this process.
    const holder = await openSqliteStorage(db);
    try {
      await holder.ledger.head();
      const busy = await restore(dir, ['-c', cfg, '--from', backupFile, '--force']);
      assert.equal(busy.code, 1, busy.out);
      assert.match(busy.stderr, /is in use \(is the gateway running\?\)/);
    } finally {
      await holder.close();
    }

    const old = readFileSync(db);
    const r = await restore(dir, ['-c', cfg, '--from', backupFile, '--force']);
    assert.equal(r.code, 0, r.out);
    const aside = r.result!.movedAside!;
    assert.match(aside, /rampart\.db\.before-restore-\d{8}t\d{9}z$/);
    assert.deepEqual(readFileSync(aside), old, 'the replaced database is kept as it was');
    assert.deepEqual(readdirSync(dir).filter((f) => f.startsWith('rampart.db')).sort(), ['rampart.db', aside.slice(dir.length + 1)].sort());
  });

  it('refuses a damaged archive and a copy that does not match its manifest, touching nothing', async () => {
    const dir = fresh();
    const cfg = freshFolder(t, dir, headsAtBackup);

    const damaged = join(dir, 'damaged.tar.gz');
    const bytes = readFileSync(backupFile);
    bytes[Math.floor(bytes.length / 2)]! ^= 0xff;
    writeFileSync(damaged, bytes);
    const r1 = await restore(dir, ['-c', cfg, '--from', damaged]);
    assert.equal(r1.code, 1, r1.out);
    assert.match(r1.stderr, /damaged\.tar\.gz (is not a readable backup: .*corrupt|: rampart\.db does not match its manifest).*RAMPART_BACKUP_CORRUPT/);

    // A well-formed archive whose copy was changed after the manifest was written.
    const { manifest: m, data } = await readBackup(backupFile);
    const altered = Buffer.from(data);
    altered[altered.length - 1]! ^= 0x01;
    const forged = join(dir, 'altered.tar.gz');
    const tar = createTarWriter(forged);
    await tar.add('backup.json', JSON.stringify(m));
    await tar.add('rampart.db', altered);
    await tar.close();
    const r2 = await restore(dir, ['-c', cfg, '--from', forged]);
    assert.equal(r2.code, 1, r2.out);
    assert.match(r2.stderr, /altered\.tar\.gz: rampart\.db does not match its manifest \(\d+ bytes, sha256 [0-9a-f]{64}; the manifest says \d+ bytes, sha256 [0-9a-f]{64}\): the backup was damaged or altered/);
    assert.equal(existsSync(join(dir, 'rampart.db')), false, 'no database was put in place');

    const missing = await restore(dir, ['-c', cfg, '--from', join(dir, 'nope.tar.gz')]);
    assert.equal(missing.code, 3, missing.out);
  });
});

describe('ledger backup and restore, PostgreSQL', () => {
  let t: TestGateway;
  let src: TempDatabase;
  let dst: TempDatabase;
  const dir = tempDir('rampart-pg-restore-');

  before(async () => {
    src = await createTempDatabase();
    dst = await createTempDatabase();
    t = await startTestGateway({ postgresUrl: src.url, yaml: PUBLISH });
  });
  after(async () => {
    await t.close();
    await src.drop();
    await dst.drop();
    dir.remove();
  });

  it('dumps the schema on one snapshot while the gateway runs, and restores it into another database that verifies', async () => {
    const { key } = await t.key(['accounts:read'], { subject: 'cus_2' });
    const get = () => t.request('GET', '/accounts?limit=1', { headers: { authorization: `Bearer ${key}` } });
    for (let i = 0; i < 4; i++) assert.equal((await get()).status, 200);
    await t.gw.ledger.flush();
    await t.gw.ledgerParts!.checkpointer.checkpoint('manual');
    const heads = readFileSync(join(t.dir, 'heads', 'published.jsonl'), 'utf8');
    const out = join(t.dir, 'pg-backup.tar.gz');
    const args = ['ledger', 'backup', '-c', t.configFile, '--out', out, '--json'];
    const [b, ...during] = await Promise.all([run(t.dir, args), get(), get()]);
    assert.equal(b.code, 0, show(args, b));
    assert.deepEqual(during.map((r) => r.status), [200, 200]);
    const m = (JSON.parse(b.stdout) as { manifest: BackupManifest }).manifest;
    assert.equal(m.driver, 'postgres');
    assert.equal(m.file, 'rampart.pgdump');
    assert.equal(m.schema, 'rampart');
    assert.ok(m.head && m.head.seq >= 9);

    const cfg = freshFolder(t, dir.path, heads, { driver: 'postgres', postgres: { url: dst.url } });
    const r = await restore(dir.path, ['-c', cfg, '--from', out]);
    assert.equal(r.code, 0, r.out);
    assert.equal(r.result!.verification.ok, true, JSON.stringify(r.result!.verification.findings));
    assert.equal(r.result!.verification.count, m.head.seq);
    assert.equal(r.result!.verification.privateParts, 'checked');

    const again = await restore(dir.path, ['-c', cfg, '--from', out]);
    assert.equal(again.code, 1, again.out);
    assert.match(again.stderr, /schema rampart exists; restore refuses to replace it unless --force is given/);
    const forced = await restore(dir.path, ['-c', cfg, '--from', out, '--force']);
    assert.equal(forced.code, 0, forced.out);
    assert.match(forced.result!.movedAside!, /^schema rampart_before_restore_\d{8}t\d{9}z$/);

    // Restoring over the source while its gateway is connected is refused.
    const busy = await restore(t.dir, ['-c', t.configFile, '--from', out, '--force']);
    assert.equal(busy.code, 1, busy.out);
    assert.match(busy.stderr, /gateway connection\(s\) are open on this database; stop the gateway before restoring/);
  });
});
