/**
 * The ledger's backup set and its restore (SEC 17a-4(f)(2)(v) "a backup electronic recordkeeping
 * system": R17a4-9; FINRA 4370 data back-up and recovery with a working restore: R4370-1).
 *
 * A backup is ONE file, a .tar.gz (../evidence/tar.ts) with two entries:
 * - the database: `rampart.db`, an online copy of the SQLite file made with SQLite's backup API
 *   while the gateway keeps writing (one consistent snapshot: src/storage/sqlite/worker.ts), or
 *   `rampart.pgdump`, `pg_dump --format=custom` of Rampart's schema on one snapshot
 *   (./backup-postgres.ts);
 * - `backup.json`, the manifest: when, which driver, the schema version and the ledger head of the
 *   copy (read from the copy itself), and the copy's size and SHA-256.
 * The archive appears complete or not at all (temporary file beside it, fsynced, linked into
 * place), and is never written over an existing file.
 *
 * What is NOT in it: the key-encryption key. Private parts and bodies are in the copy sealed
 * under data keys, which are in it wrapped by the KEK (ENC-5/6); the KEK stays where it lives (the
 * file KEK beside the secrets, or in the HSM). A restore needs the same KEK provider to read
 * private parts: a stolen backup alone opens nothing personal.
 *
 * Restore (gateway stopped) refuses an archive whose copy does not match the manifest's digest,
 * refuses to replace an existing database unless forced (the old one is then kept, moved aside),
 * puts the copy in place, and verifies the restored ledger: the chain, the checkpoints stored in
 * it and the heads published outside it (the configured file targets). The digest only catches
 * damage; a backup altered on purpose (manifest and copy rewritten together) or simply older than
 * what was published since is caught by that verification: a published head the copy does not
 * reach is a `beyond-ledger` finding, one it contradicts a `root-mismatch`.
 */
import { createHash, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, open, readFile, rename, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import Database from 'better-sqlite3';
import type { RampartConfig, StorageConfig } from '../config/types.js';
import { syncDir } from '../core/private-file.js';
import { VERSION } from '../core/version.js';
import { createTarWriter, EvidenceError, readTarGzAll } from '../evidence/tar.js';
import { openStorage } from '../storage/open.js';
import type { BackupCopy, ChainHead, Storage } from '../storage/types.js';
import { pgDumpSchema, pgMoveSchemaAside, pgRestoreSchema, pgSchemaState } from './backup-postgres.js';
import { openLedgerCrypto } from './crypto-setup.js';
import { readPublishedFile, type PublishedCheckpoint } from './publish.js';
import { verifyLedger, type LedgerVerifyResult } from './verify-ledger.js';

export const BACKUP_FORMAT = 'rampart-backup/1';
export const MANIFEST_ENTRY = 'backup.json';
const DB_ENTRY = { sqlite: 'rampart.db', postgres: 'rampart.pgdump' } as const;

/** The stable codes of backup errors (to be registered in src/core/errors.ts). */
export type BackupErrorCode =
  | 'RAMPART_BACKUP_EXISTS'
  | 'RAMPART_BACKUP_CORRUPT'
  | 'RAMPART_BACKUP_MISMATCH'
  | 'RAMPART_BACKUP_TARGET_EXISTS'
  | 'RAMPART_BACKUP_IN_USE'
  | 'RAMPART_BACKUP_TOOL';

export class BackupError extends Error {
  readonly code: BackupErrorCode;
  constructor(code: BackupErrorCode, message: string, options: { cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'BackupError';
    this.code = code;
  }
}

export interface BackupManifest {
  format: typeof BACKUP_FORMAT;
  rampartVersion: string;
  /** ISO 8601 UTC, when the copy was taken. */
  createdAt: string;
  driver: 'sqlite' | 'postgres';
  /** The archive entry holding the copy. */
  file: string;
  bytes: number;
  /** hex SHA-256 of the copy. */
  sha256: string;
  schemaVersion: number;
  /** The copy's last record (null: an empty ledger). */
  head: ChainHead | null;
  /** PostgreSQL: the schema that was dumped. */
  schema?: string;
  /** Always false: the KEK never travels with the records it protects (see the header). */
  kekIncluded: false;
  kekProvider: string;
}

/** Largest copy a backup holds: it is packed and unpacked in memory (../evidence/tar.ts). */
export const MAX_BACKUP_BYTES = 2 * 1024 * 1024 * 1024 - 1;

export interface CreateBackupOptions {
  /** An open storage to copy from (a running gateway's); otherwise the configured one is opened read-only. */
  storage?: Storage;
  now?: () => number;
}

/**
 * Writes a backup of the configured storage to `out` (which must not exist; its folder must).
 *
 * @example
 * const { manifest } = await createBackup(config, '/mnt/backup/rampart-2025-01-31.tar.gz');
 */
export async function createBackup(config: Pick<RampartConfig, 'storage' | 'ledger'>, out: string, o: CreateBackupOptions = {}): Promise<{ out: string; manifest: BackupManifest; archiveBytes: number }> {
  const target = resolve(out);
  if (existsSync(target)) throw new BackupError('RAMPART_BACKUP_EXISTS', `${target} exists; a backup is never written over a file (choose a new name)`);
  const driver = config.storage.driver;
  const createdAt = new Date((o.now ?? Date.now)()).toISOString();
  // A private (0700) folder beside the archive: the copy holds hashed keys and sealed records.
  const work = await mkdtemp(join(dirname(target), `.${basename(target)}.`));
  try {
    const copyFile = join(work, DB_ENTRY[driver]);
    const copy = await takeCopy(config.storage, copyFile, o.storage);
    const data = await readFile(copyFile);
    if (data.length > MAX_BACKUP_BYTES) throw new BackupError('RAMPART_BACKUP_TOOL', `the database copy is ${data.length} bytes; this backup format holds at most ${MAX_BACKUP_BYTES}`);
    const manifest: BackupManifest = {
      format: BACKUP_FORMAT,
      rampartVersion: VERSION,
      createdAt,
      driver,
      file: DB_ENTRY[driver],
      bytes: data.length,
      sha256: createHash('sha256').update(data).digest('hex'),
      schemaVersion: copy.schemaVersion,
      head: copy.head,
      ...(config.storage.driver === 'postgres' ? { schema: config.storage.postgres.schema } : {}),
      kekIncluded: false,
      kekProvider: config.ledger.encryption.kek.provider,
    };
    const tar = createTarWriter(target);
    try {
      await tar.add(MANIFEST_ENTRY, `${JSON.stringify(manifest, null, 2)}\n`);
      await tar.add(manifest.file, data);
    } catch (err) {
      await tar.abort();
      throw err;
    }
    const { bytes } = await tar.close();
    return { out: target, manifest, archiveBytes: bytes };
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

async function takeCopy(cfg: StorageConfig, dest: string, open?: Storage): Promise<BackupCopy> {
  if (cfg.driver === 'postgres') return pgDumpSchema({ url: cfg.postgres.url, schema: cfg.postgres.schema }, dest).catch(toolError);
  const storage = open ?? (await openStorage(cfg, { readOnly: true }));
  try {
    if (!storage.backup) throw new TypeError(`storage driver ${storage.driver} has no online backup`);
    return await storage.backup(dest);
  } finally {
    if (!open) await storage.close();
  }
}

function toolError(err: unknown): never {
  if ((err as { code?: string }).code === 'RAMPART_BACKUP_TOOL') throw new BackupError('RAMPART_BACKUP_TOOL', (err as Error).message, { cause: err });
  throw err;
}

/**
 * Reads a backup archive and checks it: both entries present, a manifest of this format, and a
 * copy whose size and SHA-256 are those of the manifest. Anything else is RAMPART_BACKUP_CORRUPT.
 */
export async function readBackup(file: string): Promise<{ manifest: BackupManifest; data: Buffer }> {
  let entries: Map<string, Buffer>;
  try {
    entries = await readTarGzAll(file, { maxEntryBytes: MAX_BACKUP_BYTES, maxTotalBytes: MAX_BACKUP_BYTES + 16 * 1024 * 1024 });
  } catch (err) {
    if (err instanceof EvidenceError) throw new BackupError('RAMPART_BACKUP_CORRUPT', `${file} is not a readable backup: ${err.message}`, { cause: err });
    throw err;
  }
  const raw = entries.get(MANIFEST_ENTRY);
  if (!raw) throw new BackupError('RAMPART_BACKUP_CORRUPT', `${file} has no ${MANIFEST_ENTRY}: not a Rampart backup`);
  let manifest: BackupManifest;
  try {
    manifest = JSON.parse(raw.toString('utf8')) as BackupManifest;
  } catch (err) {
    throw new BackupError('RAMPART_BACKUP_CORRUPT', `${file}: ${MANIFEST_ENTRY} is not JSON (${(err as Error).message})`, { cause: err });
  }
  if (manifest?.format !== BACKUP_FORMAT) throw new BackupError('RAMPART_BACKUP_CORRUPT', `${file}: ${MANIFEST_ENTRY} is not of format ${BACKUP_FORMAT}`);
  if (manifest.file !== DB_ENTRY[manifest.driver]) throw new BackupError('RAMPART_BACKUP_CORRUPT', `${file}: ${MANIFEST_ENTRY} names entry ${JSON.stringify(manifest.file)} for driver ${JSON.stringify(manifest.driver)}`);
  const data = entries.get(manifest.file);
  if (!data) throw new BackupError('RAMPART_BACKUP_CORRUPT', `${file} has no ${manifest.file}, which its manifest names`);
  const digest = createHash('sha256').update(data).digest('hex');
  if (data.length !== manifest.bytes || digest !== manifest.sha256) {
    throw new BackupError(
      'RAMPART_BACKUP_CORRUPT',
      `${file}: ${manifest.file} does not match its manifest (${data.length} bytes, sha256 ${digest}; the manifest says ${manifest.bytes} bytes, sha256 ${manifest.sha256}): the backup was damaged or altered`,
    );
  }
  return { manifest, data };
}

export interface RestoreOptions {
  /** Replace an existing database; the old one is kept (moved aside), never deleted. */
  force?: boolean;
  /** Also open private parts while verifying (needs the KEK; default true). */
  checkPrivate?: boolean;
  now?: () => number;
}

export interface RestoreVerification extends LedgerVerifyResult {
  /** How many heads published outside the store were compared (0: none configured or written yet). */
  publishedHeads: number;
  /** 'checked', or why private parts were not opened (no KEK here, or not asked). */
  privateParts: string;
  /** The restored head is the one the manifest names. */
  headMatchesManifest: boolean;
}

export interface RestoreResult {
  restored: string;
  /** Where the database that was there before went (SQLite file or PostgreSQL schema). */
  movedAside?: string;
  manifest: BackupManifest;
  verification: RestoreVerification;
}

/**
 * Restores a backup into the configured storage (the gateway must be stopped) and verifies it.
 * `verification.ok` false means the restored ledger does not match what was published (a stale or
 * altered backup): it stays in place for inspection; the caller reports the failure.
 *
 * @example
 * const r = await restoreBackup(config, '/mnt/backup/rampart-2025-01-31.tar.gz', { force: true });
 * if (!r.verification.ok) process.exitCode = 1;
 */
export async function restoreBackup(config: RampartConfig, from: string, o: RestoreOptions = {}): Promise<RestoreResult> {
  const { manifest, data } = await readBackup(from);
  if (manifest.driver !== config.storage.driver) {
    throw new BackupError('RAMPART_BACKUP_MISMATCH', `${from} is a ${manifest.driver} backup; the configuration's storage is ${config.storage.driver}`);
  }
  const stamp = new Date((o.now ?? Date.now)()).toISOString().replace(/[-:.]/g, '').toLowerCase();
  const placed = config.storage.driver === 'sqlite'
    ? await placeSqlite(resolve(config.storage.sqlite.path), data, o.force === true, stamp)
    : await placePostgres({ url: config.storage.postgres.url, schema: config.storage.postgres.schema }, data, o.force === true, stamp);
  const verification = await verifyRestored(config, manifest, o.checkPrivate ?? true);
  return { ...placed, manifest, verification };
}

async function placeSqlite(target: string, data: Buffer, force: boolean, stamp: string): Promise<{ restored: string; movedAside?: string }> {
  await mkdir(dirname(target), { recursive: true });
  let movedAside: string | undefined;
  if (existsSync(target)) {
    if (!force) throw new BackupError('RAMPART_BACKUP_TARGET_EXISTS', `${target} exists; restore refuses to replace a database unless --force is given (the old one is then kept as ${target}.before-restore-<time>)`);
    assertSqliteUnused(target);
    movedAside = `${target}.before-restore-${stamp}`;
    await rename(target, movedAside);
    // A -wal that survived keeps its content with the file it belongs to (SQLite pairs them by name).
    if (existsSync(`${target}-wal`)) await rename(`${target}-wal`, `${movedAside}-wal`);
  }
  // No -wal, -shm or -journal of another database may meet the restored file: SQLite would
  // apply a leftover WAL to it.
  for (const ext of ['-wal', '-shm', '-journal']) await rm(`${target}${ext}`, { force: true });
  const tmp = join(dirname(target), `.${basename(target)}.restore-${randomBytes(6).toString('hex')}`);
  const fh = await open(tmp, 'wx', 0o600);
  try {
    await fh.writeFile(data);
    await fh.sync();
  } finally {
    await fh.close();
  }
  await rename(tmp, target);
  await syncDir(dirname(target));
  return { restored: target, ...(movedAside ? { movedAside } : {}) };
}

/**
 * Refuses while another process has the database open (a running gateway): in WAL mode every
 * connection holds a shared lock, so an exclusive lock is only granted to the last one.
 */
function assertSqliteUnused(path: string): void {
  let db: Database.Database | undefined;
  try {
    db = new Database(path, { fileMustExist: true, timeout: 0 });
    db.pragma('locking_mode = EXCLUSIVE');
    db.exec('BEGIN EXCLUSIVE; COMMIT');
  } catch (err) {
    if ((err as { code?: string }).code === 'SQLITE_BUSY') throw new BackupError('RAMPART_BACKUP_IN_USE', `${path} is in use (is the gateway running?); stop it before restoring`, { cause: err });
    throw err;
  } finally {
    db?.close();
  }
}

async function placePostgres(t: { url: string; schema: string }, data: Buffer, force: boolean, stamp: string): Promise<{ restored: string; movedAside?: string }> {
  const state = await pgSchemaState(t);
  if (state.gateways > 0) throw new BackupError('RAMPART_BACKUP_IN_USE', `${state.gateways} gateway connection(s) are open on this database; stop the gateway before restoring`);
  let movedAside: string | undefined;
  if (state.exists) {
    if (!force) throw new BackupError('RAMPART_BACKUP_TARGET_EXISTS', `schema ${t.schema} exists; restore refuses to replace it unless --force is given (the old one is then kept as ${t.schema}_before_restore_<time>)`);
    movedAside = await pgMoveSchemaAside(t, stamp);
  }
  // Private (0700): the dump holds hashed keys and sealed records; pg_restore reads it from here.
  const work = await mkdtemp(join(tmpdir(), 'rampart-restore-'));
  try {
    const dump = join(work, DB_ENTRY.postgres);
    const fh = await open(dump, 'wx', 0o600);
    try {
      await fh.writeFile(data);
    } finally {
      await fh.close();
    }
    await pgRestoreSchema(t, dump).catch(toolError);
  } finally {
    await rm(work, { recursive: true, force: true });
  }
  return { restored: `schema ${t.schema}`, ...(movedAside ? { movedAside: `schema ${movedAside}` } : {}) };
}

/** The heads published to the configured file targets (a target never written to yet has none). */
export async function configuredPublishedHeads(config: Pick<RampartConfig, 'ledger'>): Promise<PublishedCheckpoint[]> {
  const out: PublishedCheckpoint[] = [];
  for (const t of config.ledger.checkpoints.publish) {
    if (!('file' in t)) continue;
    try {
      out.push(...(await readPublishedFile(t.file)));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
  }
  return out;
}

/**
 * Verifies the configured (just restored) storage: chain, stored checkpoints, the published heads
 * of the configured file targets, and private parts when the KEK opens.
 */
export async function verifyRestored(config: RampartConfig, manifest: BackupManifest, checkPrivate = true): Promise<RestoreVerification> {
  const published = await configuredPublishedHeads(config);
  const s = await openStorage(config.storage, { readOnly: true });
  try {
    const verifierKeys = (await s.checkpoints.listSigningKeys()).map((k) => k.verifierKey);
    const base = { ledger: s.ledger, checkpoints: s.checkpoints, retention: s.retention, verifierKeys, published };
    let privateParts = 'not checked (not asked)';
    let r: LedgerVerifyResult;
    const crypto = checkPrivate
      ? await openLedgerCrypto(config, s, { readOnly: true }).catch((err: unknown) => {
          privateParts = `not checked: the KEK (${config.ledger.encryption.kek.provider}) did not open here (${(err as Error).message}); the backup does not carry it`;
          return undefined;
        })
      : undefined;
    try {
      r = await verifyLedger(crypto ? { ...base, sealer: crypto.sealer, checkPrivate: true } : { ...base, checkPrivate: false });
      if (crypto) privateParts = 'checked';
    } finally {
      await crypto?.close();
    }
    const head = await s.ledger.head();
    const headMatchesManifest = (head?.seq ?? 0) === (manifest.head?.seq ?? 0) && (head?.chainHash ?? null) === (manifest.head?.chainHash ?? null);
    return { ...r, ok: r.ok && headMatchesManifest, publishedHeads: published.length, privateParts, headMatchesManifest };
  } finally {
    await s.close();
  }
}
