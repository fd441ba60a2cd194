/**
 * The SQLite worker thread: owns one better-sqlite3 connection and answers requests from the main
 * thread (./client.ts). better-sqlite3 is synchronous, so every fsync (synchronous=FULL) and
 * every long query happens here and never blocks the gateway's event loop (DESIGN.md, storage).
 *
 * The writer role creates or migrates the schema and performs every write; the reader role is a
 * second connection with query_only=ON for searches and reads, so that a long search never
 * delays a commit (WAL lets both run at once, also from another process such as the CLI).
 *
 * The writer runs with secure_delete=ON, so the pages and cells a purge frees are overwritten with
 * zeros, and after a purge it checkpoints the WAL with truncation, so no copy of a purged data key
 * or envelope stays in the -wal file either (crypto-shredding, RSP-7).
 *
 * Every operation is answered synchronously, in order, except `backup` (an online copy through
 * SQLite's backup API, R17a4-9), which better-sqlite3 runs asynchronously: its reply comes when
 * the copy is complete, and `close` waits for it.
 */
import {
  type CheckpointRowValues, type ConfigActivationRowValues, type ConfigApprovalRowValues, type ConfigVersionRowValues, type DataKeyRowValues, type LegalHoldRowValues, type RecordRowValues,
  ADMIN_PASSKEY_COLUMNS, ADMIN_SESSION_COLUMNS, ADMIN_USER_COLUMNS, adminPasskeyExists, adminPasskeyFromRow, adminSessionFromRow, adminUserExists,
  adminUserFromRow, adminUserMissing, beforeVault, CHECKPOINT_COLUMNS, checkpointFromRow, CONFIG_ACTIVATION_COLUMNS, CONFIG_APPROVAL_COLUMNS,
  CONFIG_VERSION_COLUMNS, configActivationFromRow, configApprovalFromRow, configVersionFromRow, configVersionUnknown, DATA_KEY_COLUMNS, dataKeyFromRow, HOLD_COLUMNS,
  holdExists, holdFromRow, keyFromRow, privateFromRow, pruneBackwards, pruneBeyondHead, pruneMismatch, purgeHeld, RECORD_COLUMNS, resealMissing,
  searchSelect, searchTags, storedFromRow,
} from '../rows.js';
import { parentPort, workerData } from 'node:worker_threads';
import Database from 'better-sqlite3';
import { ChainContinuityError, chainHash } from '../../ledger/chain.js';
import { packChainRows, pageFromAggregate, type RawChainRow } from '../../ledger/packed-chain.js';
import type { LedgerRecord, PersonalFields, PrivatePart } from '../../ledger/record.js';
import type {
  AdminPasskey, AdminSession, AdminUser, ApiKeyRecord, BackupCopy, ChainHead, CheckpointRow, ConfigActivationRow, ConfigApprovalRow, ConfigVersionRow,
  LedgerQuery, LegalHold, PruneState, SealedBody, SealedPrivate, SigningKeyRow, StoredPrivate, WrappedDataKey,
} from '../types.js';
import {
  serializeError, SHAPE_STRIDE, TEXT_STRIDE, type AppendMessage, type WorkerInit, type WorkerReady, type WorkerReply, type WorkerRequest,
} from './protocol.js';
import { ADMIN_VERSION, CONFIG_STORE_VERSION, LATEST_VERSION, MIGRATIONS, PASSKEY_VERSION, VAULT_VERSION } from './schema.js';

type Db = Database.Database;

const port = parentPort;
if (!port) throw new Error('sqlite worker: must run as a worker thread');
const init = workerData as WorkerInit;

function openDatabase(o: WorkerInit): Db {
  // Only the writer creates the file; a reader (also the CLI's read-only open) needs it to exist.
  const d = new Database(o.path, { fileMustExist: o.role === 'reader', readonly: o.readOnlyFile === true });
  try {
    d.pragma(`busy_timeout = ${Math.max(0, Math.floor(o.busyTimeoutMs))}`);
    if (o.role === 'writer') {
      const mode = d.pragma('journal_mode = WAL', { simple: true });
      if (String(mode).toLowerCase() !== 'wal') throw new Error(`sqlite: could not switch ${o.path} to WAL (journal_mode is ${String(mode)})`);
      // Every commit is fsynced before append() resolves ("strict" durability).
      d.pragma('synchronous = FULL');
      // The blind index (tag, ts, seq) takes inserts at random places: with the default 2 MB page
      // cache every insert past a few hundred thousand records reads a page from disk. 64 MiB.
      d.pragma('cache_size = -65536');
      // Freed pages and deleted cells are zeroed, so a purged data key or envelope does not linger
      // in the file's free space (RSP-7); this connection makes every delete.
      d.pragma('secure_delete = ON');
      if (Number(d.pragma('secure_delete', { simple: true })) !== 1) throw new Error(`sqlite: could not turn secure_delete on for ${o.path}`);
      migrate(d);
      // config_approvals references config_versions (migration 7): enforced on this connection,
      // which makes every write. better-sqlite3 builds SQLite with foreign keys on; set and checked
      // here so that the guarantee does not hang on a build option (SQLite's own default is off).
      d.pragma('foreign_keys = ON');
      if (Number(d.pragma('foreign_keys', { simple: true })) !== 1) throw new Error(`sqlite: could not turn foreign_keys on for ${o.path}`);
    } else {
      if (!o.readOnlyFile) d.pragma('synchronous = FULL');
      d.pragma('query_only = ON');
      const v = currentVersion(d);
      if (v === 0) throw new Error(`sqlite: ${o.path} holds no Rampart ledger yet (start the gateway once to create it)`);
      if (v > LATEST_VERSION) throw new Error(`sqlite: ${o.path} has schema version ${v}, newer than this Rampart (${LATEST_VERSION})`);
    }
    return d;
  } catch (err) {
    d.close();
    throw err;
  }
}

function currentVersion(d: Db): number {
  const exists = d.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_version'").get();
  if (!exists) return 0;
  const row = d.prepare('SELECT max(version) AS v FROM schema_version').get() as { v: number | null };
  return row.v ?? 0;
}

function migrate(d: Db): void {
  const run = d.transaction(() => {
    d.exec('CREATE TABLE IF NOT EXISTS schema_version (version INTEGER PRIMARY KEY, description TEXT NOT NULL, applied_at INTEGER NOT NULL) STRICT');
    const v = currentVersion(d);
    if (v > LATEST_VERSION) throw new Error(`sqlite: ${d.name} has schema version ${v}, newer than this Rampart (${LATEST_VERSION})`);
    const add = d.prepare('INSERT INTO schema_version (version, description, applied_at) VALUES (?, ?, ?)');
    for (const m of MIGRATIONS) {
      if (m.version <= v) continue;
      d.exec(m.sql);
      add.run(m.version, m.description, Date.now());
    }
    // A file this process cannot write opens read-only without complaint; find out now, at
    // start, rather than at the first request (the value written is the one already there).
    d.prepare('UPDATE chain_head SET seq = seq WHERE id = 1').run();
  });
  // IMMEDIATE: two processes opening a new file at once must not both migrate.
  run.immediate();
}

/** A ledger_records row: SQLite's types are already those of the shared row mapping. */
type RecordRow = RecordRowValues;

interface PrivateRow {
  seq: number;
  personal_json: string | null;
  personal_salt: string | null;
  request_body_salt: string | null;
  response_body_salt: string | null;
}

interface KeyRow {
  id: string;
  name: string;
  hash: string;
  scopes: string;
  subject: string | null;
  created_at: number;
  expires_at: number | null;
  revoked_at: number | null;
  last_used_at: number | null;
  created_by: string | null;
  change_seq: number;
  public_key_jwk?: string | null;
}

interface AdminUserRow {
  id: string;
  username: string;
  password_hash: string;
  roles: string;
  totp_secret_enc: string | null;
  totp_last_step: number | null;
  recovery_code_hashes: string;
  disabled: number;
  failed_logins: number;
  locked_until: number | null;
  created_at: number;
  created_by: string | null;
  updated_at: number;
}

type AdminSessionRow = Parameters<typeof adminSessionFromRow>[0];

interface AdminPasskeyRow {
  credential_id: string;
  user_id: string;
  public_key: string;
  counter: number;
  transports: string;
  name: string;
  created_at: number;
  last_used_at: number | null;
}


interface SealedRow {
  seq: number;
  dek_id: string;
  sealed: Buffer;
}

interface BodyRow {
  seq: number;
  part: 'request' | 'response';
  dek_id: string;
  sealed: Buffer;
}

type CheckpointRowSqlite = Omit<CheckpointRowValues, 'compact_range'> & { compact_range: string };

interface PruneRow {
  seq: number;
  chain_hash: string;
  compact_range: string;
  note: string;
}

function toCheckpoint(row: CheckpointRowSqlite): CheckpointRow {
  return checkpointFromRow({ ...row, compact_range: JSON.parse(row.compact_range) as string[] });
}

function toSealed(row: SealedRow): StoredPrivate {
  return { seq: row.seq, sealed: { seq: row.seq, dekId: row.dek_id, sealed: row.sealed } };
}

function toPrivate(row: PrivateRow): PrivatePart {
  return privateFromRow({ ...row, personal: row.personal_json === null ? null : (JSON.parse(row.personal_json) as PersonalFields) });
}

function toKey(row: KeyRow): ApiKeyRecord {
  return keyFromRow({ ...row, scopes: JSON.parse(row.scopes) as string[] });
}

function toAdminUser(row: AdminUserRow): AdminUser {
  return adminUserFromRow({
    ...row,
    roles: JSON.parse(row.roles) as string[],
    recovery_code_hashes: JSON.parse(row.recovery_code_hashes) as string[],
    disabled: row.disabled === 1,
  });
}

function toAdminPasskey(row: AdminPasskeyRow): AdminPasskey {
  return adminPasskeyFromRow({ ...row, transports: JSON.parse(row.transports) as string[] });
}

/** The admin_users values of `u` in ADMIN_USER_COLUMNS order, as SQLite binds them. */
function adminUserValues(u: AdminUser): (string | number | null)[] {
  return [
    u.id, u.username, u.passwordHash, JSON.stringify(u.roles), u.totpSecretEnc ?? null, u.totpLastStep ?? null,
    JSON.stringify(u.recoveryCodeHashes), u.disabled ? 1 : 0, u.failedLogins, u.lockedUntil ?? null, u.createdAt,
    u.createdBy ?? null, u.updatedAt,
  ];
}

/**
 * The admin reads, prepared on first use and only on a database that has the admin tables: a
 * read-only open (the audit CLI, an examiner's copy) of a file from before migration 3 must still
 * serve the ledger, and an admin read on it says why it cannot answer.
 */
function adminReads(d: Db) {
  const v = currentVersion(d);
  if (v < ADMIN_VERSION) throw new Error(`sqlite: ${d.name} has schema version ${v}, from before admin accounts (start the gateway once to migrate it)`);
  return {
    user: d.prepare(`SELECT ${ADMIN_USER_COLUMNS} FROM admin_users WHERE id = ?`),
    userByName: d.prepare(`SELECT ${ADMIN_USER_COLUMNS} FROM admin_users WHERE username = ?`),
    users: d.prepare(`SELECT ${ADMIN_USER_COLUMNS} FROM admin_users ORDER BY username`),
    session: d.prepare(`SELECT ${ADMIN_SESSION_COLUMNS} FROM admin_sessions WHERE id = ?`),
  };
}

/** The passkey reads, prepared like adminReads, on a database that has admin_passkeys (migration 4). */
function passkeyReads(d: Db) {
  const v = currentVersion(d);
  if (v < PASSKEY_VERSION) {
    const what = v < ADMIN_VERSION ? 'admin accounts' : 'admin passkeys';
    throw new Error(`sqlite: ${d.name} has schema version ${v}, from before ${what} (start the gateway once to migrate it)`);
  }
  return {
    passkey: d.prepare(`SELECT ${ADMIN_PASSKEY_COLUMNS} FROM admin_passkeys WHERE credential_id = ?`),
    // credential_id is TEXT with the default BINARY collation: byte order, as PostgreSQL's "C".
    passkeys: d.prepare(`SELECT ${ADMIN_PASSKEY_COLUMNS} FROM admin_passkeys WHERE user_id = ? ORDER BY created_at, credential_id`),
  };
}

/**
 * The reads of the schema 6 tables, prepared like adminReads: a read-only open of a file from
 * before migration 6 (the audit CLI on an old copy) still serves records and their clear private
 * parts; what needs these tables says why it cannot answer, or (for what such a file cannot hold:
 * bodies, checkpoints, a prune point) answers with nothing, so that verification still runs.
 */
function vaultReads(d: Db) {
  return {
    sealed: d.prepare('SELECT seq, dek_id, sealed FROM ledger_sealed WHERE seq IN (SELECT value FROM json_each(?)) ORDER BY seq'),
    // Clear rows from before encryption, for seqs that have no sealed row (migration 6 wrote none
    // of those; a primary key lookup each, never a scan of ledger_sealed).
    legacy: d.prepare(
      `SELECT seq, personal_json, personal_salt, request_body_salt, response_body_salt FROM ledger_private p
       WHERE seq IN (SELECT value FROM json_each(?)) AND NOT EXISTS (SELECT 1 FROM ledger_sealed s WHERE s.seq = p.seq) ORDER BY seq`,
    ),
    bodies: d.prepare('SELECT seq, part, dek_id, sealed FROM ledger_bodies WHERE seq IN (SELECT value FROM json_each(?)) ORDER BY seq, part'),
    dataKey: d.prepare(`SELECT ${DATA_KEY_COLUMNS} FROM data_keys WHERE id = ?`),
    // Served by the partial unique index data_keys_class_day.
    findDataKey: d.prepare(`SELECT ${DATA_KEY_COLUMNS} FROM data_keys WHERE record_class = ? AND expiry_day = ? AND hold_id IS NULL`),
    latestCheckpoint: d.prepare(`SELECT ${CHECKPOINT_COLUMNS} FROM ledger_checkpoints ORDER BY tree_size DESC, ts DESC, kind LIMIT 1`),
    latestCheckpointOf: d.prepare(`SELECT ${CHECKPOINT_COLUMNS} FROM ledger_checkpoints WHERE kind = ? ORDER BY tree_size DESC LIMIT 1`),
    checkpoints: d.prepare(`SELECT ${CHECKPOINT_COLUMNS} FROM ledger_checkpoints WHERE tree_size >= ? AND tree_size <= ? ORDER BY tree_size, ts, kind LIMIT ?`),
    signingKeys: d.prepare('SELECT verifier_key, created_at FROM ledger_signing_keys ORDER BY created_at, verifier_key'),
    holds: d.prepare(`SELECT ${HOLD_COLUMNS} FROM legal_holds ORDER BY created_at, id`),
    underKey: d.prepare('SELECT (SELECT count(*) FROM ledger_sealed WHERE dek_id = ?) AS privates, (SELECT count(*) FROM ledger_bodies WHERE dek_id = ?) AS bodies'),
    prune: d.prepare('SELECT seq, chain_hash, compact_range, note FROM ledger_prune WHERE id = 1'),
    // Served by ledger_index_seq (a replica catching up copies a record's tags by its seq).
    indexBySeq: d.prepare('SELECT seq, ts, tag FROM ledger_index WHERE seq IN (SELECT value FROM json_each(?)) ORDER BY seq, ts, tag'),
  };
}

/**
 * The reads of the configuration tables (migration 7), prepared like vaultReads: a read-only open
 * of an older file (the audit CLI on an old copy) has no configuration versions, so it answers
 * with none rather than failing (nothing was ever submitted to it).
 */
function configReads(d: Db) {
  return {
    version: d.prepare(`SELECT ${CONFIG_VERSION_COLUMNS}, bundle FROM config_versions WHERE hash = ?`),
    // hash is TEXT with the BINARY collation: byte order for the tie-break, as PostgreSQL's "C".
    versions: d.prepare(`SELECT ${CONFIG_VERSION_COLUMNS} FROM config_versions ORDER BY created_at DESC, hash DESC LIMIT ?`),
    approvals: d.prepare(`SELECT ${CONFIG_APPROVAL_COLUMNS} FROM config_approvals WHERE hash = ? ORDER BY at, approver`),
    activations: d.prepare(`SELECT ${CONFIG_ACTIVATION_COLUMNS} FROM config_activations ORDER BY seq DESC LIMIT ?`),
  };
}

function makeHandlers(d: Db): Record<string, (args: never) => unknown> {
  const writer = init.role === 'writer';
  const selectHead = d.prepare('SELECT seq, chain_hash FROM chain_head WHERE id = 1');
  const readRecords = d.prepare(`SELECT ${RECORD_COLUMNS} FROM ledger_records r WHERE r.seq >= ? ORDER BY r.seq LIMIT ?`);
  const getKey = d.prepare('SELECT * FROM api_keys WHERE id = ?');
  const listKeys = d.prepare('SELECT * FROM api_keys ORDER BY created_at, id');
  const keyCounter = d.prepare('SELECT n FROM key_changes WHERE id = 1');
  const keysSince = d.prepare('SELECT * FROM api_keys WHERE change_seq > ? ORDER BY change_seq');
  const searchCache = new Map<string, Database.Statement>();
  let adminStmts: ReturnType<typeof adminReads> | undefined;
  const admin = (): ReturnType<typeof adminReads> => (adminStmts ??= adminReads(d));
  let passkeyStmts: ReturnType<typeof passkeyReads> | undefined;
  const passkeys = (): ReturnType<typeof passkeyReads> => (passkeyStmts ??= passkeyReads(d));
  let vaultStmts: ReturnType<typeof vaultReads> | undefined;
  /** The schema 6 reads, or undefined on an older file (read-only opens; a gateway may migrate it meanwhile). */
  const tryVault = (): ReturnType<typeof vaultReads> | undefined => {
    if (!vaultStmts && currentVersion(d) >= VAULT_VERSION) vaultStmts = vaultReads(d);
    return vaultStmts;
  };
  const vault = (what: string): ReturnType<typeof vaultReads> => {
    const v = tryVault();
    if (!v) throw beforeVault(`sqlite: ${d.name}`, currentVersion(d), what);
    return v;
  };
  let configStmts: ReturnType<typeof configReads> | undefined;
  /** The configuration reads, or undefined on a file from before migration 7 (read-only opens; a gateway may migrate it meanwhile). */
  const tryConfigs = (): ReturnType<typeof configReads> | undefined => {
    if (!configStmts && currentVersion(d) >= CONFIG_STORE_VERSION) configStmts = configReads(d);
    return configStmts;
  };
  const readLegacy = d.prepare(
    'SELECT seq, personal_json, personal_salt, request_body_salt, response_body_salt FROM ledger_private WHERE seq IN (SELECT value FROM json_each(?)) ORDER BY seq',
  );
  const readLeaves = d.prepare('SELECT seq, leaf_hash FROM ledger_records WHERE seq >= ? ORDER BY seq LIMIT ?').raw();
  const readChain = d.prepare('SELECT seq, canonical, leaf_hash, chain_hash FROM ledger_records WHERE seq >= ? ORDER BY seq LIMIT ?').raw();
  // Every aggregate of one SELECT consumes the same rows in the same order, so element i of each
  // list is the same row. seq is the rowid: the subquery reads the table in key order, no sort.
  const readChainAgg = d.prepare(
    `SELECT json_group_array(seq), json_group_array(octet_length(canonical)), CAST(x'00' || group_concat(canonical, '') AS BLOB), group_concat(leaf_hash || chain_hash, '')
     FROM (SELECT seq, canonical, leaf_hash, chain_hash FROM ledger_records WHERE seq >= ? ORDER BY seq LIMIT ?)`,
  ).raw();
  const indexCache = new Map<number, Database.Statement>();
  const dataKeyLists = new Map<string, Database.Statement>();

  const common: Record<string, (args: never) => unknown> = {
    ping: () => d.prepare('SELECT 1').get(),
    head: (): ChainHead | null => {
      const row = selectHead.get() as { seq: number; chain_hash: string } | undefined;
      return row && row.seq > 0 ? { seq: row.seq, chainHash: row.chain_hash } : null;
    },
    read: (a: { fromSeq: number; limit: number }) => (readRecords.all(a.fromSeq, a.limit) as RecordRow[]).map(storedFromRow),
    // Flat [seq, leaf, seq, leaf, ...]: cheaper to clone than objects (Merkle trees read many).
    readLeaves: (a: { fromSeq: number; limit: number }) => (readLeaves.all(a.fromSeq, a.limit) as [number, string][]).flat(),
    // Flat, unparsed: one array of scalars clones across the thread far faster than row objects.
    readChain: (a: { fromSeq: number; limit: number }) => (readChain.all(a.fromSeq, a.limit) as [number, string, string, string][]).flat(),
    // Packed on this thread (src/ledger/packed-chain.ts): SQLite joins the page's texts and hashes
    // in one pass, so no row becomes a JavaScript value here, and the bytes are transferred. A page
    // that is not plain (a text that is not ASCII, a hash of another length) is packed row by row.
    readChainPacked: (a: { fromSeq: number; limit: number }) => {
      const [seqs, lens, bytes, hashes] = readChainAgg.get(a.fromSeq, a.limit) as [string, string, Buffer | null, string | null];
      const page = pageFromAggregate(seqs, lens, bytes, hashes) ?? packChainRows(readChain.all(a.fromSeq, a.limit) as RawChainRow[]);
      // Only a buffer of its own is transferred (a view's buffer may hold other data).
      if (page.bytes.byteOffset !== 0 || page.bytes.byteLength !== page.bytes.buffer.byteLength) page.bytes = new Uint8Array(page.bytes);
      return transferring(page, [page.bytes.buffer as ArrayBuffer]);
    },
    readPrivate: (a: { seqs: number[] }): StoredPrivate[] => {
      const seqs = JSON.stringify(a.seqs);
      const v = tryVault();
      const plain = ((v ? v.legacy : readLegacy).all(seqs) as PrivateRow[]).map((row): StoredPrivate => ({ seq: row.seq, plain: toPrivate(row) }));
      if (!v) return plain;
      const sealed = (v.sealed.all(seqs) as SealedRow[]).map(toSealed);
      return plain.length === 0 ? sealed : [...sealed, ...plain].sort((x, y) => x.seq - y.seq);
    },
    // A file from before migration 6 holds no bodies.
    readBodies: (a: { seqs: number[] }) =>
      ((tryVault()?.bodies.all(JSON.stringify(a.seqs)) ?? []) as BodyRow[]).map((r): SealedBody => ({ seq: r.seq, part: r.part, dekId: r.dek_id, sealed: r.sealed })),
    // A file from before migration 6 holds no index entries.
    readIndex: (a: { seqs: number[] }) => (tryVault()?.indexBySeq.all(JSON.stringify(a.seqs)) ?? []) as { seq: number; ts: number; tag: Buffer }[],
    backup: (a: { dest: string }) => onlineBackup(d, a.dest),
    searchIndex: (a: { tags: Buffer[]; fromTs: number; toTs: number; limit: number }) => {
      vault('no blind index to search');
      let stmt = indexCache.get(a.tags.length);
      if (!stmt) {
        // (tag, ts, seq) is the table's key: one range per tag, then a sort of what they hold.
        stmt = d.prepare(`SELECT seq, ts, tag FROM ledger_index WHERE tag IN (${a.tags.map(() => '?').join(', ')}) AND ts >= ? AND ts <= ? ORDER BY ts, seq LIMIT ?`);
        if (indexCache.size < 64) indexCache.set(a.tags.length, stmt);
      }
      return stmt.all(...a.tags, a.fromTs, a.toTs, a.limit) as { seq: number; ts: number; tag: Buffer }[];
    },
    'dataKeys.get': (a: { id: string }) => {
      const row = vault('no data keys').dataKey.get(a.id) as DataKeyRowValues | undefined;
      return row ? dataKeyFromRow(row) : undefined;
    },
    'dataKeys.find': (a: { recordClass: string; expiryDay: number }) => {
      const row = vault('no data keys').findDataKey.get(a.recordClass, a.expiryDay) as DataKeyRowValues | undefined;
      return row ? dataKeyFromRow(row) : undefined;
    },
    'dataKeys.list': (f: { recordClass?: string; expiryDayBefore?: number; kekId?: string }) => {
      vault('no data keys');
      const where: string[] = [];
      const params: (string | number)[] = [];
      const cond = (sql: string, v: string | number | undefined): void => {
        if (v === undefined) return;
        where.push(sql);
        params.push(v);
      };
      cond('record_class = ?', f.recordClass);
      cond('expiry_day < ?', f.expiryDayBefore);
      cond('kek_id = ?', f.kekId);
      const sql = `SELECT ${DATA_KEY_COLUMNS} FROM data_keys${where.length ? ` WHERE ${where.join(' AND ')}` : ''} ORDER BY expiry_day, record_class, id`;
      let stmt = dataKeyLists.get(sql);
      if (!stmt) dataKeyLists.set(sql, (stmt = d.prepare(sql)));
      return (stmt.all(...params) as DataKeyRowValues[]).map(dataKeyFromRow);
    },
    // A file from before migration 6 has no checkpoints, signing keys or prune point: verification
    // of its chain runs from seq 1 without them.
    'checkpoints.latest': (a: { kind?: CheckpointRow['kind'] }) => {
      const v = tryVault();
      const row = (a.kind === undefined ? v?.latestCheckpoint.get() : v?.latestCheckpointOf.get(a.kind)) as CheckpointRowSqlite | undefined;
      return row ? toCheckpoint(row) : undefined;
    },
    'checkpoints.list': (a: { fromSize: number; toSize: number; limit: number }) =>
      ((tryVault()?.checkpoints.all(a.fromSize, a.toSize, a.limit) ?? []) as CheckpointRowSqlite[]).map(toCheckpoint),
    'checkpoints.signingKeys': () =>
      ((tryVault()?.signingKeys.all() ?? []) as { verifier_key: string; created_at: number }[]).map((r): SigningKeyRow => ({ verifierKey: r.verifier_key, createdAt: r.created_at })),
    'retention.listHolds': () => (vault('no legal holds').holds.all() as LegalHoldRowValues[]).map(holdFromRow),
    'retention.itemsUnderKey': (a: { dekId: string }) => vault('no data keys').underKey.get(a.dekId, a.dekId) as { privates: number; bodies: number },
    'retention.pruneState': (): PruneState | undefined => {
      const row = tryVault()?.prune.get() as PruneRow | undefined;
      return row ? { seq: row.seq, chainHash: row.chain_hash, compactRange: JSON.parse(row.compact_range) as string[], note: row.note } : undefined;
    },
    'configs.get': (a: { hash: string }): ConfigVersionRow | undefined => {
      const row = tryConfigs()?.version.get(a.hash) as (ConfigVersionRowValues & { bundle: Buffer }) | undefined;
      return row ? { ...configVersionFromRow(row), bundle: row.bundle } : undefined;
    },
    'configs.list': (a: { limit: number }) => ((tryConfigs()?.versions.all(a.limit) ?? []) as ConfigVersionRowValues[]).map(configVersionFromRow),
    'configs.approvals': (a: { hash: string }) => ((tryConfigs()?.approvals.all(a.hash) ?? []) as ConfigApprovalRowValues[]).map(configApprovalFromRow),
    'configs.activations': (a: { limit: number }) => ((tryConfigs()?.activations.all(a.limit) ?? []) as ConfigActivationRowValues[]).map(configActivationFromRow),
    search: (q: LedgerQuery) => {
      if (searchTags(q).length > 0) vault('no blind index to search by principal, subject or object id');
      const { sql, params } = searchSql(q);
      let stmt = searchCache.get(sql);
      if (!stmt) {
        stmt = d.prepare(sql);
        if (searchCache.size < 256) searchCache.set(sql, stmt);
      }
      return (stmt.all(...params) as RecordRow[]).map(storedFromRow);
    },
    durability: () => ({
      journalMode: String(d.pragma('journal_mode', { simple: true })),
      synchronous: Number(d.pragma('synchronous', { simple: true })),
      busyTimeout: Number(d.pragma('busy_timeout', { simple: true })),
    }),
    'keys.get': (a: { id: string }) => {
      const row = getKey.get(a.id) as KeyRow | undefined;
      return row ? toKey(row) : undefined;
    },
    'keys.list': () => (listKeys.all() as KeyRow[]).map(toKey),
    'keys.changesSince': (a: { cursor: number }) => {
      const n = (keyCounter.get() as { n: number }).n;
      // A cursor ahead of the counter means the database was replaced: start over.
      const from = a.cursor > n ? 0 : a.cursor;
      const rows = keysSince.all(from) as KeyRow[];
      const last = rows[rows.length - 1];
      return { cursor: last ? last.change_seq : from, keys: rows.map(toKey) };
    },
    'admin.getUser': (a: { id: string }) => {
      const row = admin().user.get(a.id) as AdminUserRow | undefined;
      return row ? toAdminUser(row) : undefined;
    },
    'admin.getUserByName': (a: { username: string }) => {
      const row = admin().userByName.get(a.username) as AdminUserRow | undefined;
      return row ? toAdminUser(row) : undefined;
    },
    'admin.listUsers': () => (admin().users.all() as AdminUserRow[]).map(toAdminUser),
    'admin.getSession': (a: { id: string }) => {
      const row = admin().session.get(a.id) as AdminSessionRow | undefined;
      return row ? adminSessionFromRow(row) : undefined;
    },
    'admin.listPasskeys': (a: { userId: string }) => (passkeys().passkeys.all(a.userId) as AdminPasskeyRow[]).map(toAdminPasskey),
    'admin.getPasskey': (a: { credentialId: string }) => {
      const row = passkeys().passkey.get(a.credentialId) as AdminPasskeyRow | undefined;
      return row ? { userId: row.user_id, passkey: toAdminPasskey(row) } : undefined;
    },
    close: () => {
      d.close();
      return null;
    },
  };
  if (!writer) return common;

  // A batch goes in as multi-row INSERTs, up to ROWS_PER_INSERT rows a statement: one step of the
  // VDBE per chunk rather than per row. OR ROLLBACK / OR IGNORE, not the default ABORT: a
  // multi-row statement that may abort midway keeps a statement journal (every page it touches
  // copied once more); here any failure ends the whole transaction anyway, and the index's
  // IGNORE is its ON CONFLICT DO NOTHING (a value named twice by one record is one entry; its
  // columns are never NULL: tags and ts are checked on the main thread, seq is the record's).
  const insertRecords = multiRowInsert(d, 'INSERT OR ROLLBACK INTO ledger_records (seq, ts, type, request_id, api, operation_id, status, outcome, reason, canonical, leaf_hash, chain_hash) VALUES', 12);
  const insertSealed = multiRowInsert(d, 'INSERT OR ROLLBACK INTO ledger_sealed (seq, dek_id, sealed) VALUES', 3);
  const insertBodies = multiRowInsert(d, 'INSERT OR ROLLBACK INTO ledger_bodies (seq, part, dek_id, sealed) VALUES', 4);
  const insertIndex = multiRowInsert(d, 'INSERT OR IGNORE INTO ledger_index (tag, ts, seq) VALUES', 3);
  const updateHead = d.prepare('UPDATE chain_head SET seq = ?, chain_hash = ? WHERE id = 1');
  const append = d.transaction((m: AppendMessage) => {
    const head = selectHead.get() as { seq: number; chain_hash: string };
    const bytes = Buffer.from(m.bytes.buffer, m.bytes.byteOffset, m.bytes.byteLength);
    let off = 0;
    let nSize = 0;
    let nName = 0;
    let nTs = 0;
    // The next item of `bytes` as a view (better-sqlite3 binds a view's own bytes as a BLOB).
    const take = (): Buffer => {
      const len = m.sizes[nSize++]!;
      const b = bytes.subarray(off, off + len);
      off += len;
      return b;
    };
    const n = m.textLens.length / TEXT_STRIDE;
    let sum = 0;
    for (const l of m.textLens) sum += l;
    if (!Number.isInteger(n) || sum !== m.text.length) throw new TypeError('sqlite append: malformed batch message (text lengths disagree)');
    let at = 0;
    /** The next string of `m.text` (a slice: no copy). */
    const next = (k: number): string => {
      const len = m.textLens[k]!;
      const v = m.text.slice(at, at + len);
      at += len;
      return v;
    };
    const records: unknown[] = [];
    const sealed: unknown[] = [];
    const bodies: unknown[] = [];
    const tags: Buffer[] = [];
    const tagTs: number[] = [];
    const tagSeq: number[] = [];
    let seq = head.seq;
    let last: string | null = null;
    for (let r = 0, i = 0, j = 0; r < n; r++, i += TEXT_STRIDE, j += SHAPE_STRIDE) {
      const canonical = next(i);
      const leaf = next(i + 1);
      const chain = next(i + 2);
      // The search columns come from the canonical text itself, so they always match what was hashed.
      const rec = JSON.parse(canonical) as LedgerRecord;
      if (rec.seq !== seq + 1) throw new ChainContinuityError(seq + 1, rec.seq);
      // The seq alone is not enough: a batch built on a head that another writer has since
      // replaced (same seq, other hash) would fork the chain. The first record must link to the
      // stored head.
      if (last === null && chainHash(head.chain_hash, leaf) !== chain) {
        throw new ChainContinuityError(seq + 1, rec.seq, `ledger append refused: seq ${rec.seq} does not link to the stored head (another writer on this chain?)`);
      }
      seq = rec.seq;
      records.push(
        rec.seq, rec.ts, rec.type, rec.requestId ?? null, rec.api ?? null, rec.operationId ?? null, rec.status ?? null,
        rec.outcome, rec.reason ?? null, canonical, leaf, chain,
      );
      if (m.shape[j] === 1) sealed.push(seq, m.names[nName++]!, take());
      for (let b = m.shape[j + 1]!; b > 0; b--) {
        const part = m.names[nName++]!;
        const dek = m.names[nName++]!;
        bodies.push(seq, part, dek, take());
      }
      for (let x = m.shape[j + 2]!; x > 0; x--) {
        tags.push(take());
        tagTs.push(m.ts[nTs++]!);
        tagSeq.push(seq);
      }
      last = chain;
    }
    insertRecords(records);
    insertSealed(sealed);
    insertBodies(bodies);
    insertIndex(indexRowsByTag(tags, tagTs, tagSeq));
    if (last !== null) updateHead.run(seq, last);
  });

  // Data keys, checkpoints, signing keys (schema 6). insertDataKey and the checkpoint inserts are
  // one statement each that writes nothing on a conflict, so two nodes racing both come out right.
  const insertDataKey = d.prepare(`INSERT INTO data_keys (${DATA_KEY_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`);
  const rewrapKey = d.prepare('UPDATE data_keys SET kek_id = ?, wrapped = ? WHERE id = ?');
  const rewrap = d.transaction((updates: { id: string; kekId: string; wrapped: Uint8Array }[]) => {
    // A key purged meanwhile has nothing left to re-wrap.
    for (const u of updates) rewrapKey.run(u.kekId, u.wrapped, u.id);
  });
  const insertCheckpoint = d.prepare(`INSERT INTO ledger_checkpoints (${CHECKPOINT_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`);
  const insertSigningKey = d.prepare('INSERT INTO ledger_signing_keys (verifier_key, created_at) VALUES (?, ?) ON CONFLICT DO NOTHING');

  // Retention (RSP-7, R17a4-1). Every operation is one IMMEDIATE transaction of this writer.
  const insertHold = d.prepare(`INSERT INTO legal_holds (${HOLD_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?)`);
  const liftHold = d.prepare('UPDATE legal_holds SET lifted_at = ?, lifted_by = ? WHERE id = ? AND lifted_at IS NULL');
  const resealPrivate = d.prepare('UPDATE ledger_sealed SET dek_id = ?, sealed = ? WHERE seq = ?');
  const resealBody = d.prepare('UPDATE ledger_bodies SET dek_id = ?, sealed = ? WHERE seq = ? AND part = ?');
  const reseal = d.transaction((privates: SealedPrivate[], bodies: SealedBody[]) => {
    for (const p of privates) if (resealPrivate.run(p.dekId, p.sealed, p.seq).changes !== 1) throw resealMissing(`the private part of seq ${p.seq}`);
    for (const b of bodies) if (resealBody.run(b.dekId, b.sealed, b.seq, b.part).changes !== 1) throw resealMissing(`the ${b.part} body of seq ${b.seq}`);
  });
  // A key is held while a hold that names it (as its own key, or through data_keys.hold_id) stands.
  const heldKeys = d.prepare(
    `SELECT j.value AS id FROM json_each(?) j WHERE EXISTS (SELECT 1 FROM legal_holds h WHERE h.lifted_at IS NULL
       AND (h.dek_id = j.value OR h.id = (SELECT k.hold_id FROM data_keys k WHERE k.id = j.value)))`,
  );
  // The index entries go first: they are found through the sealed rows they belong to.
  const purgeIndex = d.prepare(
    'DELETE FROM ledger_index WHERE seq IN (SELECT seq FROM ledger_sealed WHERE dek_id IN (SELECT value FROM json_each(?)))',
  );
  const purgeSealed = d.prepare('DELETE FROM ledger_sealed WHERE dek_id IN (SELECT value FROM json_each(?))');
  const purgeBodies = d.prepare('DELETE FROM ledger_bodies WHERE dek_id IN (SELECT value FROM json_each(?))');
  const purgeKeys = d.prepare('DELETE FROM data_keys WHERE id IN (SELECT value FROM json_each(?))');
  const purge = d.transaction((ids: string[]) => {
    const json = JSON.stringify(ids);
    const held = heldKeys.all(json) as { id: string }[];
    if (held.length > 0) throw purgeHeld(held.map((h) => h.id));
    const index = purgeIndex.run(json).changes;
    const privates = purgeSealed.run(json).changes;
    const bodies = purgeBodies.run(json).changes;
    const keys = purgeKeys.run(json).changes;
    return { keys, privates, bodies, index };
  });
  const selectPrune = d.prepare('SELECT seq, chain_hash FROM ledger_prune WHERE id = 1');
  const recordChain = d.prepare('SELECT chain_hash FROM ledger_records WHERE seq = ?');
  const pruneDeletes = ['ledger_index', 'ledger_sealed', 'ledger_bodies', 'ledger_private'].map((t) => d.prepare(`DELETE FROM ${t} WHERE seq <= ?`));
  const pruneRecords = d.prepare('DELETE FROM ledger_records WHERE seq <= ?');
  const upsertPrune = d.prepare(
    `INSERT INTO ledger_prune (id, seq, chain_hash, compact_range, note) VALUES (1, ?, ?, ?, ?)
     ON CONFLICT (id) DO UPDATE SET seq = excluded.seq, chain_hash = excluded.chain_hash, compact_range = excluded.compact_range, note = excluded.note`,
  );
  const prune = d.transaction((st: PruneState): number => {
    const head = selectHead.get() as { seq: number };
    if (st.seq > head.seq) throw pruneBeyondHead(st.seq, head.seq);
    const cur = selectPrune.get() as { seq: number; chain_hash: string } | undefined;
    if (cur && st.seq < cur.seq) throw pruneBackwards(st.seq, cur.seq);
    // The anchor verification of the retained part starts from: the stored chain hash of st.seq
    // (or, when pruning again at the same point, the one recorded then).
    const rec = recordChain.get(st.seq) as { chain_hash: string } | undefined;
    const anchor = rec?.chain_hash ?? (cur && cur.seq === st.seq ? cur.chain_hash : undefined);
    if (anchor === undefined) throw pruneMismatch(st.seq, `no record is stored at seq ${st.seq}`);
    if (anchor !== st.chainHash) throw pruneMismatch(st.seq, `its chain hash is ${anchor}, not ${st.chainHash}`);
    for (const del of pruneDeletes) del.run(st.seq);
    const n = pruneRecords.run(st.seq).changes;
    upsertPrune.run(st.seq, st.chainHash, JSON.stringify(st.compactRange), st.note);
    return n;
  });
  /**
   * Copies the WAL into the database and truncates it to zero bytes, so the frames that held
   * deleted content are gone (secure_delete zeroed the pages the checkpoint writes back). A
   * reader still on an older snapshot (another process in a long read) holds it up: it waits at
   * most a second, so appends queued behind it are not held longer, and otherwise stays pending
   * and is tried again after the next purge or prune and at close (automatic checkpoints copy the
   * zeroed pages meanwhile, but only a completed TRUNCATE drops the old frames).
   */
  let scrubPending = false;
  const scrubWal = (): void => {
    const busyMs = Number(d.pragma('busy_timeout', { simple: true }));
    d.pragma(`busy_timeout = ${Math.min(busyMs, 1000)}`);
    try {
      const [r] = d.pragma('wal_checkpoint(TRUNCATE)') as { busy: number; log: number; checkpointed: number }[];
      scrubPending = r === undefined || r.busy !== 0;
    } finally {
      d.pragma(`busy_timeout = ${busyMs}`);
    }
  };

  // Configuration versions, approvals, activations (issue 6, migration 7): inserts only. A version
  // or approval that exists is left as it is (ON CONFLICT DO NOTHING), so the first one stays.
  const insertConfigVersion = d.prepare(`INSERT INTO config_versions (${CONFIG_VERSION_COLUMNS}, bundle) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (hash) DO NOTHING`);
  const configVersionExists = d.prepare('SELECT 1 FROM config_versions WHERE hash = ?');
  const insertConfigApproval = d.prepare(`INSERT INTO config_approvals (${CONFIG_APPROVAL_COLUMNS}) VALUES (?, ?, ?, ?) ON CONFLICT (hash, approver) DO NOTHING`);
  const configApprove = d.transaction((x: ConfigApprovalRow): boolean => {
    // The foreign key is the backstop; this gives the caller a code it can act on.
    if (!configVersionExists.get(x.hash)) throw configVersionUnknown(x.hash);
    return insertConfigApproval.run(x.hash, x.approver, x.at, x.comment).changes === 1;
  });
  const insertConfigActivation = d.prepare('INSERT INTO config_activations (hash, at, "by", node) VALUES (?, ?, ?, ?) RETURNING seq');

  const bumpKeys = d.prepare('UPDATE key_changes SET n = n + 1 WHERE id = 1 RETURNING n');
  const insertKey = d.prepare(
    'INSERT INTO api_keys (id, name, hash, scopes, subject, created_at, expires_at, revoked_at, last_used_at, created_by, change_seq, public_key_jwk) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)',
  );
  const revokeKey = d.prepare('UPDATE api_keys SET revoked_at = ?, change_seq = ? WHERE id = ?');
  const touchKey = d.prepare('UPDATE api_keys SET last_used_at = max(coalesce(last_used_at, 0), ?) WHERE id = ?');
  const keyInsert = d.transaction((k: ApiKeyRecord) => {
    if (getKey.get(k.id)) throw Object.assign(new Error(`api key '${k.id}' already exists`), { code: 'RAMPART_KEY_EXISTS' });
    const { n } = bumpKeys.get() as { n: number };
    insertKey.run(
      k.id, k.name, k.hash, JSON.stringify(k.scopes), k.subject ?? null, k.createdAt, k.expiresAt ?? null,
      k.revokedAt ?? null, k.lastUsedAt ?? null, k.createdBy ?? null, n, k.publicKeyJwk ?? null,
    );
  });
  const keyRevoke = d.transaction((id: string, at: number): boolean => {
    const row = getKey.get(id) as KeyRow | undefined;
    if (!row) return false;
    // The earlier time stands: revoking now overrides a scheduled (future) revocation, never the reverse.
    if (row.revoked_at !== null && row.revoked_at <= at) return true;
    const { n } = bumpKeys.get() as { n: number };
    revokeKey.run(at, n, id);
    return true;
  });
  const keyTouch = d.transaction((uses: Map<string, number>) => {
    for (const [id, at] of uses) touchKey.run(at, id);
  });

  // Admin plane. The writer thread runs one message at a time, and each operation below is one
  // statement or one IMMEDIATE transaction, so it is atomic against this process and against
  // another one on the same file (a second gateway, the CLI) alike.
  const insertUser = d.prepare(`INSERT INTO admin_users (${ADMIN_USER_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`);
  const updateUser = d.prepare(
    `UPDATE admin_users SET password_hash = ?, roles = ?, totp_secret_enc = ?, totp_last_step = ?, recovery_code_hashes = ?,
       disabled = ?, failed_logins = ?, locked_until = ?, updated_at = ? WHERE id = ?`,
  );
  // N63-4: the comparison and the write are one statement, so of two logins with the same code
  // exactly one changes the row.
  const useTotpStep = d.prepare('UPDATE admin_users SET totp_last_step = ? WHERE id = ? AND (totp_last_step IS NULL OR totp_last_step < ?)');
  const selectCodes = d.prepare('SELECT recovery_code_hashes FROM admin_users WHERE id = ?');
  const updateCodes = d.prepare('UPDATE admin_users SET recovery_code_hashes = ? WHERE id = ?');
  // N63-5: count and lock in one statement; SET expressions all see the row as it was.
  const loginFailure = d.prepare(
    `UPDATE admin_users SET
       failed_logins = CASE WHEN failed_logins + 1 >= @lockAfter THEN 0 ELSE failed_logins + 1 END,
       locked_until = CASE WHEN failed_logins + 1 >= @lockAfter THEN @lockUntil ELSE locked_until END
     WHERE id = @id
     RETURNING failed_logins, locked_until`,
  );
  const clearFailures = d.prepare('UPDATE admin_users SET failed_logins = 0 WHERE id = ?');
  const userExists = d.prepare('SELECT 1 FROM admin_users WHERE id = ?');
  const passkeyExists = d.prepare('SELECT 1 FROM admin_passkeys WHERE credential_id = ?');
  const insertPasskey = d.prepare(`INSERT INTO admin_passkeys (${ADMIN_PASSKEY_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`);
  // N63-2: the comparison and the write are one statement, as for the TOTP step, so of two logins
  // with the same assertion exactly one moves the counter. A counter of 0 that stays 0 is an
  // authenticator without one (allowed every time); once it has counted, 0 is a clone.
  const usePasskey = d.prepare(
    `UPDATE admin_passkeys SET counter = @counter, last_used_at = @at
     WHERE credential_id = @id AND (counter < @counter OR (counter = 0 AND @counter = 0))`,
  );
  const insertSession = d.prepare(`INSERT INTO admin_sessions (${ADMIN_SESSION_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?)`);
  const dropExpiredSessions = d.prepare('DELETE FROM admin_sessions WHERE user_id = ? AND expires_at <= ?');
  // Concurrent requests of one session may report their times out of order: never go back.
  const touchSession = d.prepare('UPDATE admin_sessions SET last_seen_at = max(last_seen_at, ?) WHERE id = ?');
  const deleteSession = d.prepare('DELETE FROM admin_sessions WHERE id = ?');
  const deleteUserSessions = d.prepare('DELETE FROM admin_sessions WHERE user_id = ?');
  const userInsert = d.transaction((u: AdminUser) => {
    // The UNIQUE constraint is the backstop; this gives the caller a code it can act on.
    if (admin().userByName.get(u.username)) throw adminUserExists(u.username);
    insertUser.run(...adminUserValues(u));
  });
  const recoveryUse = d.transaction((id: string, hash: string): boolean => {
    const row = selectCodes.get(id) as { recovery_code_hashes: string } | undefined;
    if (!row) return false;
    const codes = JSON.parse(row.recovery_code_hashes) as string[];
    if (!codes.includes(hash)) return false;
    updateCodes.run(JSON.stringify(codes.filter((c) => c !== hash)), id);
    return true;
  });
  const passkeyAdd = d.transaction((userId: string, p: AdminPasskey) => {
    if (!userExists.get(userId)) throw adminUserMissing(userId);
    // The PRIMARY KEY is the backstop; this gives the caller a code it can act on.
    if (passkeyExists.get(p.credentialId)) throw adminPasskeyExists(p.credentialId);
    insertPasskey.run(p.credentialId, userId, p.publicKey, p.counter, JSON.stringify(p.transports), p.name, p.createdAt, p.lastUsedAt ?? null);
  });
  const sessionCreate = d.transaction((x: AdminSession) => {
    // Sessions of this user that have expired go with the next login, so the table stays bounded
    // without a sweeper (a session that is never logged out otherwise stays forever).
    dropExpiredSessions.run(x.userId, x.createdAt);
    insertSession.run(x.id, x.userId, x.createdAt, x.lastSeenAt, x.expiresAt, x.csrfToken, x.authenticatedAt);
  });

  return {
    ...common,
    close: () => {
      if (scrubPending) scrubWal();
      d.close();
      return null;
    },
    'admin.insertUser': (a: { user: AdminUser }) => {
      userInsert.immediate(a.user);
      return null;
    },
    'admin.updateUser': (a: { user: AdminUser }) => {
      const u = a.user;
      const r = updateUser.run(
        u.passwordHash, JSON.stringify(u.roles), u.totpSecretEnc ?? null, u.totpLastStep ?? null, JSON.stringify(u.recoveryCodeHashes),
        u.disabled ? 1 : 0, u.failedLogins, u.lockedUntil ?? null, u.updatedAt, u.id,
      );
      return r.changes === 1;
    },
    'admin.useTotpStep': (a: { userId: string; step: number }) => useTotpStep.run(a.step, a.userId, a.step).changes === 1,
    'admin.useRecoveryCode': (a: { userId: string; codeHash: string }) => recoveryUse.immediate(a.userId, a.codeHash),
    'admin.recordLoginFailure': (a: { userId: string; lockAfter: number; lockUntil: number }) =>
      loginFailure.get({ id: a.userId, lockAfter: a.lockAfter, lockUntil: a.lockUntil }) as { failed_logins: number; locked_until: number | null } | undefined,
    'admin.clearLoginFailures': (a: { userId: string }) => {
      clearFailures.run(a.userId);
      return null;
    },
    'admin.addPasskey': (a: { userId: string; passkey: AdminPasskey }) => {
      passkeyAdd.immediate(a.userId, a.passkey);
      return null;
    },
    'admin.usePasskey': (a: { credentialId: string; counter: number; at: number }) =>
      usePasskey.run({ id: a.credentialId, counter: a.counter, at: a.at }).changes === 1,
    'admin.createSession': (a: { session: AdminSession }) => {
      sessionCreate.immediate(a.session);
      return null;
    },
    'admin.touchSession': (a: { id: string; at: number }) => {
      touchSession.run(a.at, a.id);
      return null;
    },
    'admin.deleteSession': (a: { id: string }) => {
      deleteSession.run(a.id);
      return null;
    },
    'admin.deleteUserSessions': (a: { userId: string }) => deleteUserSessions.run(a.userId).changes,
    append: (m: AppendMessage) => {
      append.immediate(m);
      return null;
    },
    'dataKeys.insert': (a: { key: WrappedDataKey }) => {
      const k = a.key;
      return insertDataKey.run(k.id, k.recordClass, k.expiryDay, k.kekId, k.wrapped, k.createdAt, k.holdId ?? null).changes === 1;
    },
    'dataKeys.rewrap': (a: { updates: { id: string; kekId: string; wrapped: Uint8Array }[] }) => {
      rewrap.immediate(a.updates);
      return null;
    },
    'checkpoints.insert': (a: { c: CheckpointRow }) => {
      const c = a.c;
      insertCheckpoint.run(c.treeSize, c.kind, c.ts, c.rootHash, c.chainHash, c.note, JSON.stringify(c.compactRange));
      return null;
    },
    'checkpoints.insertSigningKey': (a: { k: SigningKeyRow }) => {
      insertSigningKey.run(a.k.verifierKey, a.k.createdAt);
      return null;
    },
    'retention.insertHold': (a: { h: LegalHold }) => {
      const h = a.h;
      try {
        insertHold.run(h.id, h.criteriaSealed, h.dekId, h.createdAt, h.createdBy, h.liftedAt ?? null, h.liftedBy ?? null);
      } catch (err) {
        if ((err as { code?: string }).code === 'SQLITE_CONSTRAINT_PRIMARYKEY') throw holdExists(h.id, err);
        throw err;
      }
      return null;
    },
    'retention.liftHold': (a: { id: string; at: number; by: string }) => liftHold.run(a.at, a.by, a.id).changes === 1,
    'retention.reseal': (a: { privates: SealedPrivate[]; bodies: SealedBody[] }) => {
      reseal.immediate(a.privates, a.bodies);
      return null;
    },
    'retention.purge': (a: { ids: string[] }) => {
      const counts = purge.immediate(a.ids);
      scrubWal();
      return counts;
    },
    'retention.prune': (a: { state: PruneState }) => {
      const n = prune.immediate(a.state);
      // Pruned rows may include clear private parts from before encryption: scrub their frames too.
      scrubWal();
      return n;
    },
    'configs.put': (a: { v: ConfigVersionRow }) => {
      const v = a.v;
      return insertConfigVersion.run(v.hash, v.createdAt, v.author, v.profile, v.message, v.bundle).changes === 1;
    },
    'configs.approve': (a: { a: ConfigApprovalRow }) => configApprove.immediate(a.a),
    'configs.activate': (a: { a: Omit<ConfigActivationRow, 'seq'> }): ConfigActivationRow => {
      const { seq } = insertConfigActivation.get(a.a.hash, a.a.at, a.a.by, a.a.node) as { seq: number };
      return { seq, ...a.a };
    },
    'keys.insert': (a: { key: ApiKeyRecord }) => {
      keyInsert.immediate(a.key);
      return null;
    },
    'keys.revoke': (a: { id: string; at: number }) => keyRevoke.immediate(a.id, a.at),
    'keys.touch': (a: { uses: Map<string, number> }) => {
      keyTouch.immediate(a.uses);
      return null;
    },
  };
}

/**
 * An online backup of the whole database into `dest` (a new file), through SQLite's backup API
 * (R17a4-9): every page is copied in ONE step, so the copy is one consistent snapshot even while
 * another connection or process (the running gateway) keeps committing. A copy made in several
 * steps restarts whenever another connection writes between them, and might never finish under
 * load; one step holds a read transaction for its duration, which in WAL mode blocks no writer.
 * The copy is then made self-contained (rollback journal, so no -wal file belongs to it), checked
 * (quick_check), and what it holds is read from it, not from the live database, which has moved on.
 */
async function onlineBackup(d: Db, dest: string): Promise<BackupCopy> {
  // better-sqlite3's largest step (all remaining pages at once) from the second step on.
  await d.backup(dest, { progress: () => 0x7fffffff });
  const c = new Database(dest, { fileMustExist: true });
  try {
    const mode = String(c.pragma('journal_mode = DELETE', { simple: true })).toLowerCase();
    if (mode !== 'delete') throw new Error(`sqlite backup: could not take the copy ${dest} out of WAL mode (journal_mode is ${mode})`);
    const check = String(c.pragma('quick_check', { simple: true }));
    if (check !== 'ok') throw new Error(`sqlite backup: the copy ${dest} fails quick_check: ${check}`);
    const row = c.prepare('SELECT seq, chain_hash FROM chain_head WHERE id = 1').get() as { seq: number; chain_hash: string } | undefined;
    return { schemaVersion: currentVersion(c), head: row && row.seq > 0 ? { seq: row.seq, chainHash: row.chain_hash } : null };
  } finally {
    c.close();
  }
}

/** Builds the search statement; only the filters present become conditions. */
function searchSql(q: LedgerQuery): { sql: string; params: (string | number | Buffer)[] } {
  const params: (string | number | Buffer)[] = [];
  const sql = searchSelect(
    q,
    {
      param: (v) => {
        params.push(v);
        return '?';
      },
    },
    { records: 'ledger_records', index: 'ledger_index' },
  );
  return { sql, params };
}

/** Rows per multi-row INSERT: 64 records of 12 columns bind 768 values (SQLite allows 32 766). */
const ROWS_PER_INSERT = 64;

/**
 * An inserter for `rows` given flat (`cols` values a row, in order): chunks of ROWS_PER_INSERT
 * rows, then the rest in chunks of 32, 16, ... 1, each shape prepared once on first use.
 */
function multiRowInsert(d: Db, head: string, cols: number): (values: readonly unknown[]) => void {
  const stmts = new Map<number, Database.Statement>();
  const row = `(${new Array<string>(cols).fill('?').join(', ')})`;
  const stmt = (rows: number): Database.Statement => {
    let s = stmts.get(rows);
    if (!s) stmts.set(rows, (s = d.prepare(`${head} ${new Array<string>(rows).fill(row).join(', ')}`)));
    return s;
  };
  return (values) => {
    const total = values.length / cols;
    let at = 0;
    for (let size = ROWS_PER_INSERT; size >= 1; size = size === ROWS_PER_INSERT ? 32 : size / 2) {
      while (total - at >= size) {
        stmt(size).run(values.slice(at * cols, (at + size) * cols));
        at += size;
        if (size !== ROWS_PER_INSERT) break;
      }
    }
  };
}

/**
 * The batch's index rows (tag, ts, seq), flat, ordered by the tags' first four bytes: a batch's
 * inserts then walk the (tag, ts, seq) B-tree from left to right instead of jumping across it for
 * every entry. Any order gives the same rows; this one touches each page once, while it is hot.
 */
function indexRowsByTag(tags: readonly Buffer[], ts: readonly number[], seqs: readonly number[]): unknown[] {
  const n = tags.length;
  // key = first 32 bits of the tag * 2^20 + position: exact in a double for n < 2^20, and
  // a numeric sort of a Float64Array is native.
  if (n >= 1 << 20) throw new RangeError('ledger append: too many index entries in one batch');
  const keys = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const t = tags[i]!;
    const prefix = t.length >= 4 ? t.readUInt32BE(0) : 0;
    keys[i] = prefix * 1_048_576 + i;
  }
  keys.sort();
  const out = new Array<unknown>(3 * n);
  for (let k = 0; k < n; k++) {
    const i = keys[k]! % 1_048_576;
    out[3 * k] = tags[i];
    out[3 * k + 1] = ts[i];
    out[3 * k + 2] = seqs[i];
  }
  return out;
}

/** Replies whose buffers move to the main thread instead of being copied (a packed chain page). */
const transfers = new WeakMap<object, ArrayBuffer[]>();

function transferring<T extends object>(value: T, list: ArrayBuffer[]): T {
  transfers.set(value, list);
  return value;
}

// Started last, once every declaration above is initialised.
let handlers: Record<string, (args: never) => unknown> = {};
try {
  handlers = makeHandlers(openDatabase(init));
  port.postMessage({ ready: true } satisfies WorkerReady);
} catch (err) {
  port.postMessage({ ready: false, error: serializeError(err) } satisfies WorkerReady);
  port.close();
}

/**
 * Operations still running after their handler returned (a backup, whose pages are copied between
 * turns of this thread's event loop): close waits for them, so a backup is never cut off halfway.
 */
const running = new Set<Promise<unknown>>();

function send(req: WorkerRequest, reply: WorkerReply): void {
  const list = reply.ok && typeof reply.value === 'object' && reply.value !== null ? transfers.get(reply.value) : undefined;
  port!.postMessage(reply, list);
  if (req.op === 'close' && reply.ok) port!.close();
}

port.on('message', (req: WorkerRequest) => {
  let value: unknown;
  try {
    const h = handlers[req.op];
    if (!h) throw new TypeError(`sqlite worker: unknown operation '${req.op}'`);
    value = req.op === 'close' && running.size > 0 ? Promise.allSettled([...running]).then(() => h(req.args as never)) : h(req.args as never);
  } catch (err) {
    send(req, { id: req.id, ok: false, error: serializeError(err) });
    return;
  }
  if (!(value instanceof Promise)) {
    send(req, { id: req.id, ok: true, value });
    return;
  }
  // Every other operation is synchronous and answered above, in order.
  const p: Promise<unknown> = value.then(
    (v) => send(req, { id: req.id, ok: true, value: v }),
    (err: unknown) => send(req, { id: req.id, ok: false, error: serializeError(err) }),
  );
  running.add(p);
  void p.finally(() => running.delete(p));
});
