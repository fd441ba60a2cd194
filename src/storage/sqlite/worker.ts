/**
 * The SQLite worker thread: owns one better-sqlite3 connection and answers requests from the main
 * thread (./client.ts). better-sqlite3 is synchronous, so every fsync (synchronous=FULL) and
 * every long query happens here and never blocks the gateway's event loop (DESIGN.md, storage).
 *
 * The writer role creates or migrates the schema and performs every write; the reader role is a
 * second connection with query_only=ON for searches and reads, so that a long search never
 * delays a commit (WAL lets both run at once, also from another process such as the CLI).
 */
import {
  type RecordRowValues,
  ADMIN_PASSKEY_COLUMNS, ADMIN_SESSION_COLUMNS, ADMIN_USER_COLUMNS, adminPasskeyExists, adminPasskeyFromRow, adminSessionFromRow, adminUserExists,
  adminUserFromRow, adminUserMissing, keyFromRow, privateFromRow, RECORD_COLUMNS, searchSelect, storedFromRow,
} from '../rows.js';
import { parentPort, workerData } from 'node:worker_threads';
import Database from 'better-sqlite3';
import { ChainContinuityError, chainHash } from '../../ledger/chain.js';
import type { LedgerRecord, PersonalFields, PrivatePart } from '../../ledger/record.js';
import type { AdminPasskey, AdminSession, AdminUser, ApiKeyRecord, ChainHead, LedgerQuery } from '../types.js';
import { APPEND_STRIDE, serializeError, type AppendRows, type WorkerInit, type WorkerReady, type WorkerReply, type WorkerRequest } from './protocol.js';
import { ADMIN_VERSION, LATEST_VERSION, MIGRATIONS, PASSKEY_VERSION } from './schema.js';

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
      migrate(d);
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

function makeHandlers(d: Db): Record<string, (args: never) => unknown> {
  const writer = init.role === 'writer';
  const selectHead = d.prepare('SELECT seq, chain_hash FROM chain_head WHERE id = 1');
  const readRecords = d.prepare(`SELECT ${RECORD_COLUMNS} FROM ledger_records r WHERE r.seq >= ? ORDER BY r.seq LIMIT ?`);
  const readPrivate = d.prepare(
    'SELECT seq, personal_json, personal_salt, request_body_salt, response_body_salt FROM ledger_private WHERE seq IN (SELECT value FROM json_each(?)) ORDER BY seq',
  );
  const getKey = d.prepare('SELECT * FROM api_keys WHERE id = ?');
  const listKeys = d.prepare('SELECT * FROM api_keys ORDER BY created_at, id');
  const keyCounter = d.prepare('SELECT n FROM key_changes WHERE id = 1');
  const keysSince = d.prepare('SELECT * FROM api_keys WHERE change_seq > ? ORDER BY change_seq');
  const searchCache = new Map<string, Database.Statement>();
  let adminStmts: ReturnType<typeof adminReads> | undefined;
  const admin = (): ReturnType<typeof adminReads> => (adminStmts ??= adminReads(d));
  let passkeyStmts: ReturnType<typeof passkeyReads> | undefined;
  const passkeys = (): ReturnType<typeof passkeyReads> => (passkeyStmts ??= passkeyReads(d));

  const common: Record<string, (args: never) => unknown> = {
    ping: () => d.prepare('SELECT 1').get(),
    head: (): ChainHead | null => {
      const row = selectHead.get() as { seq: number; chain_hash: string } | undefined;
      return row && row.seq > 0 ? { seq: row.seq, chainHash: row.chain_hash } : null;
    },
    read: (a: { fromSeq: number; limit: number }) => (readRecords.all(a.fromSeq, a.limit) as RecordRow[]).map(storedFromRow),
    readPrivate: (a: { seqs: number[] }) => (readPrivate.all(JSON.stringify(a.seqs)) as PrivateRow[]).map(toPrivate),
    search: (q: LedgerQuery) => {
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

  const insertRecord = d.prepare(
    'INSERT INTO ledger_records (seq, ts, type, request_id, api, operation_id, status, outcome, reason, canonical, leaf_hash, chain_hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)',
  );
  const insertPrivate = d.prepare(
    'INSERT INTO ledger_private (seq, principal, subject, client_address, personal_json, personal_salt, request_body_salt, response_body_salt) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
  );
  const updateHead = d.prepare('UPDATE chain_head SET seq = ?, chain_hash = ? WHERE id = 1');
  const append = d.transaction((rows: AppendRows) => {
    const head = selectHead.get() as { seq: number; chain_hash: string };
    let seq = head.seq;
    let last: string | null = null;
    for (let i = 0; i < rows.length; i += APPEND_STRIDE) {
      const [canonical, leaf, chain, personalJson, personalSalt, requestBodySalt, responseBodySalt] = rows.slice(i, i + APPEND_STRIDE);
      // The search columns come from the canonical text itself, so they always match what was hashed.
      const r = JSON.parse(canonical!) as LedgerRecord;
      if (r.seq !== seq + 1) throw new ChainContinuityError(seq + 1, r.seq);
      // The seq alone is not enough: a batch built on a head that another writer has since
      // replaced (same seq, other hash) would fork the chain. The first record must link to the
      // stored head.
      if (last === null && chainHash(head.chain_hash, leaf!) !== chain) {
        throw new ChainContinuityError(seq + 1, r.seq, `ledger append refused: seq ${r.seq} does not link to the stored head (another writer on this chain?)`);
      }
      seq = r.seq;
      insertRecord.run(
        r.seq, r.ts, r.type, r.requestId ?? null, r.api ?? null, r.operationId ?? null, r.status ?? null,
        r.outcome, r.reason ?? null, canonical, leaf, chain,
      );
      if (personalJson !== null || personalSalt !== null || requestBodySalt !== null || responseBodySalt !== null) {
        const p = personalJson === null ? undefined : (JSON.parse(personalJson!) as PersonalFields);
        insertPrivate.run(seq, p?.principal ?? null, p?.subject ?? null, p?.clientAddress ?? null, personalJson, personalSalt, requestBodySalt, responseBodySalt);
      }
      last = chain!;
    }
    if (last !== null) updateHead.run(seq, last);
  });

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
    if (row.revoked_at !== null) return true;
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
    append: (a: { rows: AppendRows }) => {
      append.immediate(a.rows);
      return null;
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

/** Builds the search statement; only the filters present become conditions. */
function searchSql(q: LedgerQuery): { sql: string; params: (string | number)[] } {
  const params: (string | number)[] = [];
  const sql = searchSelect(
    q,
    {
      param: (v) => {
        params.push(v);
        return '?';
      },
      // Object ids are the values of the path parameters; a scan over the private rows that the
      // other filters leave (an audit query, bounded by time in practice; schema migration 2).
      objectIdClause: (ph) => `EXISTS (SELECT 1 FROM json_each(p.personal_json, '$.pathParams') AS j WHERE j.value = ${ph})`,
    },
    { records: 'ledger_records', private: 'ledger_private' },
  );
  return { sql, params };
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

port.on('message', (req: WorkerRequest) => {
  let reply: WorkerReply;
  try {
    const h = handlers[req.op];
    if (!h) throw new TypeError(`sqlite worker: unknown operation '${req.op}'`);
    reply = { id: req.id, ok: true, value: h(req.args as never) };
  } catch (err) {
    reply = { id: req.id, ok: false, error: serializeError(err) };
  }
  port.postMessage(reply);
  if (req.op === 'close' && reply.ok) port.close();
});
