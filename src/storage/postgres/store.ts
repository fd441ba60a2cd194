/**
 * PostgreSQL storage: LedgerStore, KeyStore and AdminStore over a pg Pool, in a schema of their
 * own.
 *
 * Durability: every session of the pool starts with synchronous_commit=on (a startup option, so
 * no role or database default can weaken it), and the open fails if the server reports anything
 * else. An append is ONE statement, hence one transaction: it moves the one-row chain_head from
 * the expected seq to the batch's last (the row lock makes a second writer wait, then find the
 * head moved and insert nothing) and inserts all records and private parts with unnest().
 *
 * Outages reject promptly instead of hanging: connection timeout, a client-side query timeout
 * (a cut connection that never answers) and a server-side statement timeout, and a listener for
 * errors on idle connections (without it a dropped connection would crash the process). A
 * failed connection is discarded by the pool, so service resumes when the database is back.
 */
import {
  ADMIN_PASSKEY_COLUMNS, ADMIN_SESSION_COLUMNS, ADMIN_USER_COLUMNS, adminPasskeyExists, adminPasskeyFromRow, adminSessionFromRow, adminUsername,
  adminUserExists, adminUserFromRow, adminUserMissing, keyFromRow, loginFailureArgs, newAdminPasskey, newAdminUser, passkeyUseArgs,
  privateFromRow, searchSelect, storedFromRow, totpStep,
} from '../rows.js';
import { createHash } from 'node:crypto';
import pg from 'pg';
import { ChainContinuityError, checkBatchContinues } from '../../ledger/chain.js';
import type { PersonalFields, PrivatePart, StoredRecord } from '../../ledger/record.js';
import type { AdminPasskey, AdminSession, AdminStore, AdminUser, ApiKeyRecord, ChainHead, KeyStore, LedgerQuery, LedgerStore, Storage } from '../types.js';
import { PG_ADMIN_VERSION, PG_LATEST_VERSION, PG_MIGRATIONS, PG_PASSKEY_VERSION } from './schema.js';

export interface PostgresOptions {
  url: string;
  /** Schema holding Rampart's tables (default 'rampart'). */
  schema?: string;
  /** Connections in the pool (default 10). */
  poolSize?: number;
  /** Time to establish a connection (default 5000 ms). */
  connectTimeoutMs?: number;
  /** Client-side limit for a query's answer, also when the connection is silently cut (default 5000 ms). */
  queryTimeoutMs?: number;
  /** Server-side statement_timeout (default 5000 ms). */
  statementTimeoutMs?: number;
  /**
   * Read only (the CLI's audit commands, an examiner's role with SELECT only): no migration, and
   * every session runs with default_transaction_read_only=on, so the server refuses any write.
   */
  readOnly?: boolean;
}

export interface PostgresDurability {
  synchronousCommit: string;
  statementTimeout: string;
}

export interface PostgresLedgerStore extends LedgerStore {
  /** SHOW synchronous_commit / statement_timeout on a session of the store's own pool. */
  durability(): Promise<PostgresDurability>;
}

export interface PostgresStorage extends Storage {
  readonly driver: 'postgres';
  readonly ledger: PostgresLedgerStore;
  readonly schema: string;
}

type Batch = readonly { stored: StoredRecord; priv: PrivatePart }[];

const IDENT = /^[a-z_][a-z0-9_]{0,62}$/;

/**
 * Connects, creates or migrates the schema, and checks the durability setting.
 *
 * @example
 * const storage = await openPostgresStorage({ url: 'postgres://rampart@db/rampart', schema: 'rampart' });
 */
export async function openPostgresStorage(opts: PostgresOptions): Promise<PostgresStorage> {
  if (!opts || typeof opts.url !== 'string' || opts.url.length === 0) throw new TypeError('postgres: url is required');
  const schema = opts.schema ?? 'rampart';
  if (!IDENT.test(schema)) throw new TypeError(`postgres: schema '${schema}' must be a lower-case SQL identifier`);
  const s = `"${schema}"`;
  const statementTimeoutMs = opts.statementTimeoutMs ?? 5000;
  const pool = new pg.Pool({
    connectionString: opts.url,
    max: opts.poolSize ?? 10,
    connectionTimeoutMillis: opts.connectTimeoutMs ?? 5000,
    query_timeout: opts.queryTimeoutMs ?? 5000,
    idleTimeoutMillis: 30_000,
    keepAlive: true,
    application_name: 'rampart',
    // Startup options apply to every session of the pool before any query runs (see header).
    options:
      `-c synchronous_commit=on -c statement_timeout=${Math.floor(statementTimeoutMs)} -c idle_in_transaction_session_timeout=${Math.floor(statementTimeoutMs * 2)}` +
      (opts.readOnly ? ' -c default_transaction_read_only=on' : ''),
  });
  // Errors of idle connections (server restart, cut network) would otherwise be thrown as an
  // unhandled 'error' event; the pool has already dropped the connection, and the next query
  // reports the outage to its caller.
  pool.on('error', () => {});

  // The schema version this storage works with: a read-only open may find an older one.
  let version = PG_LATEST_VERSION;
  try {
    if (opts.readOnly) version = await checkVersion(pool, schema, s);
    else await migrate(pool, schema, s);
    const d = await showDurability(pool);
    if (d.synchronousCommit !== 'on') {
      throw new Error(`postgres: synchronous_commit is '${d.synchronousCommit}' for Rampart's sessions; strict durability needs 'on' (is it overridden by an 'options' parameter in the URL?)`);
    }
  } catch (err) {
    await pool.end().catch(() => {});
    throw err;
  }

  const sql = statements(s);
  let closing: Promise<void> | undefined;
  const close = (): Promise<void> => (closing ??= pool.end());
  // The storage closes once every store on it is closed (or on close() itself).
  const openParts = new Set<'ledger' | 'keys' | 'admin'>(['ledger', 'keys', 'admin']);
  const closePart = async (part: 'ledger' | 'keys' | 'admin'): Promise<void> => {
    openParts.delete(part);
    if (openParts.size === 0) await close();
  };

  const ledger: PostgresLedgerStore = {
    async append(batch: Batch) {
      if (opts.readOnly) throw new Error(`postgres: schema ${schema} is open read-only`);
      if (batch.length === 0) return;
      const first = batch[0]!.stored.record.seq;
      // The same shape checks as every backend; the head itself is checked in the statement.
      checkBatchContinues(first - 1, batch);
      const last = batch[batch.length - 1]!.stored;
      const { records, privates } = batchJson(batch);
      // A named statement is parsed and planned once per connection, not once per batch: on a
      // small machine the server's planning competes with the gateway for the same cores.
      const res = await pool.query<{ head_ok: number }>({ name: `rampart_append_${schema}`, text: sql.append, values: [last.record.seq, last.chainHash, first - 1, records, privates, batch[0]!.stored.leafHash, batch[0]!.stored.chainHash] });
      const row = res.rows[0];
      if (!row || Number(row.head_ok) !== 1) {
        const h = await ledger.head();
        const expected = (h?.seq ?? 0) + 1;
        throw expected === first
          ? new ChainContinuityError(expected, first, `ledger append refused: seq ${first} does not link to the stored head (another writer on this chain?)`)
          : new ChainContinuityError(expected, first);
      }
    },
    async head() {
      const r = await pool.query<{ seq: string; chain_hash: string }>(sql.head);
      const row = r.rows[0];
      if (!row) throw new Error(`postgres: ${schema}.chain_head is empty`);
      const seq = toNum(row.seq);
      return seq > 0 ? ({ seq, chainHash: row.chain_hash } satisfies ChainHead) : null;
    },
    async read(fromSeq: number, limit: number) {
      const r = await pool.query<RecordRow>(sql.read, [fromSeq, limit]);
      return r.rows.map(toStored);
    },
    async readPrivate(seqs: readonly number[]) {
      if (seqs.length === 0) return [];
      const r = await pool.query<PrivateRow>(sql.readPrivate, [seqs]);
      return r.rows.map(toPrivate);
    },
    async search(q: LedgerQuery) {
      const { text, values } = searchSql(s, q);
      const r = await pool.query<RecordRow>(text, values);
      return r.rows.map(toStored);
    },
    async ping() {
      await pool.query('SELECT 1');
    },
    durability: () => showDurability(pool),
    close: () => closePart('ledger'),
  };

  const keys: KeyStore = {
    async insert(k: ApiKeyRecord) {
      try {
        await pool.query(sql.keyInsert, [
          k.id, k.name, k.hash, k.scopes, k.subject ?? null, k.createdAt, k.expiresAt ?? null,
          k.revokedAt ?? null, k.lastUsedAt ?? null, k.createdBy ?? null, k.publicKeyJwk ?? null,
        ]);
      } catch (err) {
        if ((err as { code?: string }).code === '23505') {
          throw Object.assign(new Error(`api key '${k.id}' already exists`), { code: 'RAMPART_KEY_EXISTS', cause: err });
        }
        throw err;
      }
    },
    async get(id: string) {
      const r = await pool.query<KeyRow>(sql.keyGet, [id]);
      return r.rows[0] ? toKey(r.rows[0]) : undefined;
    },
    async list() {
      const r = await pool.query<KeyRow>(sql.keyList);
      return r.rows.map(toKey);
    },
    async revoke(id: string, at: number) {
      const client = await pool.connect();
      let broken: Error | undefined;
      try {
        await client.query('BEGIN');
        const cur = await client.query<{ revoked_at: string | null }>(sql.keyLock, [id]);
        const row = cur.rows[0];
        let found = false;
        if (row) {
          found = true;
          // Revoking twice keeps the first time and does not count as a change.
          if (row.revoked_at === null) await client.query(sql.keyRevoke, [id, at]);
        }
        await client.query('COMMIT');
        return found;
      } catch (err) {
        broken = err as Error;
        await client.query('ROLLBACK').catch(() => {});
        throw err;
      } finally {
        client.release(broken);
      }
    },
    async touch(uses: ReadonlyMap<string, number>) {
      if (uses.size === 0) return;
      await pool.query(sql.keyTouch, [[...uses.keys()], [...uses.values()]]);
    },
    async changesSince(cursor: number) {
      const r = await pool.query<KeyRow & { counter: string }>(sql.keyChanges, [cursor]);
      const rows = r.rows;
      const last = rows[rows.length - 1];
      if (last) return { cursor: toNum(last.change_seq), keys: rows.map(toKey) };
      const n = toNum((await pool.query<{ n: string }>(sql.keyCounter)).rows[0]?.n ?? 0);
      // A cursor ahead of the counter means the database was replaced: start over.
      if (cursor > n) return keys.changesSince(0);
      return { cursor, keys: [] };
    },
    close: () => closePart('keys'),
  };

  /**
   * Admin statements are named like append: parsed once per connection. Each operation is one
   * statement, hence atomic: a concurrent UPDATE of the same row waits for the row lock and then
   * re-checks its WHERE clause against the committed row (READ COMMITTED), which is what makes
   * the TOTP step (N63-4), the recovery codes and the failure count (N63-5) race-free across
   * connections and gateways.
   */
  const adminQuery = async <R extends pg.QueryResultRow>(name: AdminStatement, values: unknown[]): Promise<pg.QueryResult<R>> => {
    // The passkey statements need migration 4, the others migration 3.
    const since = name.startsWith('adminPasskey') ? PG_PASSKEY_VERSION : PG_ADMIN_VERSION;
    if (version < since) {
      // A read-only open of an older schema; a gateway may have migrated it since.
      version = await checkVersion(pool, schema, s);
      if (version < since) {
        const what = version < PG_ADMIN_VERSION ? 'admin accounts' : 'admin passkeys';
        throw new Error(`postgres: schema ${schema} has version ${version}, from before ${what} (start the gateway once to migrate it)`);
      }
    }
    return pool.query<R>({ name: `rampart_${name}_${schema}`, text: sql[name], values });
  };
  const adminWrite = async <R extends pg.QueryResultRow>(name: AdminStatement, values: unknown[]): Promise<pg.QueryResult<R>> => {
    // The server refuses too (default_transaction_read_only); this says so plainly.
    if (opts.readOnly) throw new Error(`postgres: schema ${schema} is open read-only`);
    return adminQuery<R>(name, values);
  };

  const admin: AdminStore = {
    async insertUser(user: AdminUser) {
      const u = newAdminUser(user);
      try {
        await adminWrite('adminInsertUser', [
          u.id, u.username, u.passwordHash, u.roles, u.totpSecretEnc ?? null, u.totpLastStep ?? null, u.recoveryCodeHashes,
          u.disabled, u.failedLogins, u.lockedUntil ?? null, u.createdAt, u.createdBy ?? null, u.updatedAt,
        ]);
      } catch (err) {
        const e = err as { code?: string; constraint?: string };
        if (e.code === '23505' && e.constraint === 'admin_users_username_key') throw adminUserExists(u.username, err);
        throw err;
      }
    },
    async getUser(id: string) {
      const r = await adminQuery<AdminUserRow>('adminGetUser', [id]);
      return r.rows[0] ? toAdminUser(r.rows[0]) : undefined;
    },
    async getUserByName(username: string) {
      const r = await adminQuery<AdminUserRow>('adminGetUserByName', [adminUsername(username)]);
      return r.rows[0] ? toAdminUser(r.rows[0]) : undefined;
    },
    async listUsers() {
      const r = await adminQuery<AdminUserRow>('adminListUsers', []);
      return r.rows.map(toAdminUser);
    },
    async updateUser(u: AdminUser) {
      const r = await adminWrite('adminUpdateUser', [
        u.id, u.passwordHash, u.roles, u.totpSecretEnc ?? null, u.totpLastStep ?? null, u.recoveryCodeHashes, u.disabled,
        u.failedLogins, u.lockedUntil ?? null, u.updatedAt,
      ]);
      return r.rowCount === 1;
    },
    async useTotpStep(userId: string, step: number) {
      const r = await adminWrite('adminUseTotpStep', [userId, totpStep(step)]);
      return r.rowCount === 1;
    },
    async useRecoveryCode(userId: string, codeHash: string) {
      const r = await adminWrite('adminUseRecoveryCode', [userId, codeHash]);
      return r.rowCount === 1;
    },
    async recordLoginFailure(userId: string, at: number, lockAfter: number, lockMs: number) {
      const { lockUntil } = loginFailureArgs(at, lockAfter, lockMs);
      const r = await adminWrite<{ failed_logins: number; locked_until: string | null }>('adminLoginFailure', [userId, lockAfter, lockUntil]);
      const row = r.rows[0];
      if (!row) throw adminUserMissing(userId);
      return row.locked_until === null ? { failedLogins: row.failed_logins } : { failedLogins: row.failed_logins, lockedUntil: toNum(row.locked_until) };
    },
    async clearLoginFailures(userId: string) {
      await adminWrite('adminClearFailures', [userId]);
    },
    async addPasskey(userId: string, passkey: AdminPasskey) {
      const p = newAdminPasskey(passkey);
      let r: pg.QueryResult;
      try {
        r = await adminWrite('adminPasskeyInsert', [p.credentialId, userId, p.publicKey, p.counter, p.transports, p.name, p.createdAt, p.lastUsedAt ?? null]);
      } catch (err) {
        const e = err as { code?: string; constraint?: string };
        if (e.code === '23505' && e.constraint === 'admin_passkeys_pkey') throw adminPasskeyExists(p.credentialId, err);
        throw err;
      }
      // The statement inserts only for an existing user.
      if (r.rowCount !== 1) throw adminUserMissing(userId);
    },
    async listPasskeys(userId: string) {
      const r = await adminQuery<AdminPasskeyRow>('adminPasskeyList', [userId]);
      return r.rows.map(toAdminPasskey);
    },
    async getPasskey(credentialId: string) {
      const r = await adminQuery<AdminPasskeyRow>('adminPasskeyGet', [credentialId]);
      const row = r.rows[0];
      return row ? { userId: row.user_id, passkey: toAdminPasskey(row) } : undefined;
    },
    async usePasskey(credentialId: string, newCounter: number, at: number) {
      const a = passkeyUseArgs(newCounter, at);
      const r = await adminWrite('adminPasskeyUse', [credentialId, a.counter, a.at]);
      return r.rowCount === 1;
    },
    async createSession(x: AdminSession) {
      await adminWrite('adminCreateSession', [x.id, x.userId, x.createdAt, x.lastSeenAt, x.expiresAt, x.csrfToken, x.authenticatedAt]);
    },
    async getSession(id: string) {
      const r = await adminQuery<AdminSessionRow>('adminGetSession', [id]);
      return r.rows[0] ? toAdminSession(r.rows[0]) : undefined;
    },
    async touchSession(id: string, at: number) {
      await adminWrite('adminTouchSession', [id, at]);
    },
    async deleteSession(id: string) {
      await adminWrite('adminDeleteSession', [id]);
    },
    async deleteUserSessions(userId: string) {
      const r = await adminWrite('adminDeleteUserSessions', [userId]);
      return r.rowCount ?? 0;
    },
    close: () => closePart('admin'),
  };

  return { driver: 'postgres', schema, ledger, keys, admin, close };
}

async function showDurability(pool: pg.Pool): Promise<PostgresDurability> {
  const client = await pool.connect();
  let broken: Error | undefined;
  try {
    const a = await client.query<{ synchronous_commit: string }>('SHOW synchronous_commit');
    const b = await client.query<{ statement_timeout: string }>('SHOW statement_timeout');
    return { synchronousCommit: a.rows[0]!.synchronous_commit, statementTimeout: b.rows[0]!.statement_timeout };
  } catch (err) {
    broken = err as Error;
    throw err;
  } finally {
    client.release(broken);
  }
}

/** The schema's version; refuses a schema without Rampart's tables or from a newer Rampart. */
async function checkVersion(pool: pg.Pool, schema: string, s: string): Promise<number> {
  const t = await pool.query<{ t: string | null }>('SELECT to_regclass($1) AS t', [`${s}.schema_version`]);
  if (!t.rows[0]?.t) throw new Error(`postgres: no Rampart ledger in schema ${schema} yet (start the gateway once to create it)`);
  const r = await pool.query<{ v: number | null }>(`SELECT max(version) AS v FROM ${s}.schema_version`);
  const v = r.rows[0]?.v ?? 0;
  if (v > PG_LATEST_VERSION) throw new Error(`postgres: schema ${schema} has version ${v}, newer than this Rampart (${PG_LATEST_VERSION})`);
  return v;
}

async function migrate(pool: pg.Pool, schema: string, s: string): Promise<void> {
  const client = await pool.connect();
  let broken: Error | undefined;
  try {
    await client.query('BEGIN');
    // One migrator per schema at a time; released with the transaction.
    const lockKey = createHash('sha256').update(`rampart:migrate:${schema}`).digest().readBigInt64BE(0);
    await client.query('SELECT pg_advisory_xact_lock($1::bigint)', [lockKey.toString()]);
    await client.query(`CREATE SCHEMA IF NOT EXISTS ${s}`);
    await client.query(`CREATE TABLE IF NOT EXISTS ${s}.schema_version (version INTEGER PRIMARY KEY, description TEXT NOT NULL, applied_at BIGINT NOT NULL)`);
    const r = await client.query<{ v: number | null }>(`SELECT max(version) AS v FROM ${s}.schema_version`);
    const current = r.rows[0]?.v ?? 0;
    if (current > PG_LATEST_VERSION) {
      throw new Error(`postgres: schema ${schema} has version ${current}, newer than this Rampart (${PG_LATEST_VERSION})`);
    }
    for (const m of PG_MIGRATIONS) {
      if (m.version <= current) continue;
      await client.query(m.sql(s));
      await client.query(`INSERT INTO ${s}.schema_version (version, description, applied_at) VALUES ($1, $2, $3)`, [m.version, m.description, Date.now()]);
    }
    await client.query('COMMIT');
  } catch (err) {
    broken = err as Error;
    await client.query('ROLLBACK').catch(() => {});
    throw err;
  } finally {
    client.release(broken);
  }
}

type AdminStatement = Extract<keyof ReturnType<typeof statements>, `admin${string}`>;

function statements(s: string) {
  const recordCols = 'r.seq, r.ts, r.type, r.outcome, r.canonical, r.leaf_hash, r.chain_hash';
  const keyCols = 'id, name, hash, scopes, subject, created_at, expires_at, revoked_at, last_used_at, created_by, change_seq, public_key_jwk';
  return {
    recordCols,
    // One statement = one transaction. `h` moves the head only if it is where the batch starts;
    // the inserts take rows only when `h` did, so a refused batch writes nothing at all.
    // One statement = one transaction. `h` moves the head only if it is where the batch starts;
    // the inserts take rows only when `h` did, so a refused batch writes nothing at all. The rows
    // arrive as one JSON document each: JSON.stringify is native, whereas pg escapes every array
    // element in JavaScript, on the event loop.
    append: `
      WITH h AS (
        UPDATE ${s}.chain_head SET seq = $1, chain_hash = $2
        WHERE id = 1 AND seq = $3
          -- RFC 9162 link of the batch's first record to the stored head: the seq alone would
          -- let a batch built on a replaced head (another writer) fork the chain.
          AND encode(sha256('\\x01'::bytea || decode(chain_hash, 'hex') || decode($6, 'hex')), 'hex') = $7
        RETURNING 1
      ), r AS (
        INSERT INTO ${s}.ledger_records (seq, ts, type, request_id, api, operation_id, status, outcome, reason, canonical, leaf_hash, chain_hash)
        SELECT x.seq, x.ts, x.type, x.request_id, x.api, x.operation_id, x.status, x.outcome, x.reason, x.canonical, x.leaf_hash, x.chain_hash
        FROM jsonb_to_recordset($4::jsonb) AS x(seq bigint, ts bigint, type text, request_id text, api text, operation_id text, status int, outcome text, reason text, canonical text, leaf_hash text, chain_hash text)
        WHERE EXISTS (SELECT 1 FROM h)
        RETURNING 1
      ), p AS (
        INSERT INTO ${s}.ledger_private (seq, principal, subject, client_address, object_ids, personal_json, personal_salt, request_body_salt, response_body_salt)
        SELECT u.seq, u.personal ->> 'principal', u.personal ->> 'subject', u.personal ->> 'clientAddress',
               ARRAY(SELECT e.value FROM jsonb_each_text(coalesce(u.personal -> 'pathParams', '{}'::jsonb)) AS e),
               u.personal, u.personal_salt, u.request_body_salt, u.response_body_salt
        FROM jsonb_to_recordset($5::jsonb) AS u(seq bigint, personal jsonb, personal_salt text, request_body_salt text, response_body_salt text)
        WHERE EXISTS (SELECT 1 FROM h)
        RETURNING 1
      )
      SELECT (SELECT count(*) FROM h)::int AS head_ok, (SELECT count(*) FROM r)::int AS records, (SELECT count(*) FROM p)::int AS privates`,
    head: `SELECT seq, chain_hash FROM ${s}.chain_head WHERE id = 1`,
    read: `SELECT ${recordCols} FROM ${s}.ledger_records r WHERE r.seq >= $1 ORDER BY r.seq LIMIT $2`,
    readPrivate: `SELECT seq, personal_json, personal_salt, request_body_salt, response_body_salt FROM ${s}.ledger_private WHERE seq = ANY($1::bigint[]) ORDER BY seq`,
    keyInsert: `
      WITH c AS (UPDATE ${s}.key_changes SET n = n + 1 WHERE id = 1 RETURNING n)
      INSERT INTO ${s}.api_keys (${keyCols})
      SELECT $1, $2, $3, $4::text[], $5, $6, $7, $8, $9, $10, c.n, $11 FROM c`,
    keyGet: `SELECT ${keyCols} FROM ${s}.api_keys WHERE id = $1`,
    keyList: `SELECT ${keyCols} FROM ${s}.api_keys ORDER BY created_at, id`,
    keyLock: `SELECT revoked_at FROM ${s}.api_keys WHERE id = $1 FOR UPDATE`,
    // The counter row is locked until commit, so change numbers become visible in order.
    keyRevoke: `
      WITH c AS (UPDATE ${s}.key_changes SET n = n + 1 WHERE id = 1 RETURNING n)
      UPDATE ${s}.api_keys SET revoked_at = $2, change_seq = c.n FROM c WHERE api_keys.id = $1`,
    keyTouch: `
      UPDATE ${s}.api_keys AS k SET last_used_at = greatest(coalesce(k.last_used_at, 0), u.at)
      FROM unnest($1::text[], $2::bigint[]) AS u(id, at) WHERE k.id = u.id`,
    keyChanges: `SELECT ${keyCols} FROM ${s}.api_keys WHERE change_seq > $1 ORDER BY change_seq`,
    keyCounter: `SELECT n FROM ${s}.key_changes WHERE id = 1`,
    adminInsertUser: `
      INSERT INTO ${s}.admin_users (${ADMIN_USER_COLUMNS})
      VALUES ($1, $2, $3, $4::text[], $5, $6, $7::text[], $8, $9, $10, $11, $12, $13)`,
    adminGetUser: `SELECT ${ADMIN_USER_COLUMNS} FROM ${s}.admin_users WHERE id = $1`,
    adminGetUserByName: `SELECT ${ADMIN_USER_COLUMNS} FROM ${s}.admin_users WHERE username = $1`,
    // Byte order, as SQLite sorts: the same list whatever the database's collation.
    adminListUsers: `SELECT ${ADMIN_USER_COLUMNS} FROM ${s}.admin_users ORDER BY username COLLATE "C"`,
    adminUpdateUser: `
      UPDATE ${s}.admin_users SET password_hash = $2, roles = $3::text[], totp_secret_enc = $4, totp_last_step = $5,
        recovery_code_hashes = $6::text[], disabled = $7, failed_logins = $8, locked_until = $9, updated_at = $10
      WHERE id = $1`,
    // N63-4: the comparison and the write are one statement (see the AdminStore above).
    adminUseTotpStep: `UPDATE ${s}.admin_users SET totp_last_step = $2 WHERE id = $1 AND (totp_last_step IS NULL OR totp_last_step < $2)`,
    adminUseRecoveryCode: `
      UPDATE ${s}.admin_users SET recovery_code_hashes = array_remove(recovery_code_hashes, $2)
      WHERE id = $1 AND $2 = ANY(recovery_code_hashes) RETURNING 1`,
    // N63-5: count and lock in one statement; SET expressions all see the row as it was.
    adminLoginFailure: `
      UPDATE ${s}.admin_users SET
        failed_logins = CASE WHEN failed_logins + 1 >= $2::bigint THEN 0 ELSE failed_logins + 1 END,
        locked_until = CASE WHEN failed_logins + 1 >= $2::bigint THEN $3::bigint ELSE locked_until END
      WHERE id = $1
      RETURNING failed_logins, locked_until`,
    adminClearFailures: `UPDATE ${s}.admin_users SET failed_logins = 0 WHERE id = $1`,
    // Sessions of this user that have expired go with the next login, so the table stays bounded
    // without a sweeper (a session that is never logged out otherwise stays forever).
    adminCreateSession: `
      WITH expired AS (DELETE FROM ${s}.admin_sessions WHERE user_id = $2 AND expires_at <= $3)
      INSERT INTO ${s}.admin_sessions (${ADMIN_SESSION_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7)`,
    adminGetSession: `SELECT ${ADMIN_SESSION_COLUMNS} FROM ${s}.admin_sessions WHERE id = $1`,
    // Concurrent requests of one session may report their times out of order: never go back.
    adminTouchSession: `UPDATE ${s}.admin_sessions SET last_seen_at = greatest(last_seen_at, $2) WHERE id = $1`,
    adminDeleteSession: `DELETE FROM ${s}.admin_sessions WHERE id = $1`,
    adminDeleteUserSessions: `DELETE FROM ${s}.admin_sessions WHERE user_id = $1`,
    // The user check is in the statement: a row is inserted only when the user exists; a known
    // credential id fails on the primary key (admin_passkeys_pkey).
    adminPasskeyInsert: `
      INSERT INTO ${s}.admin_passkeys (${ADMIN_PASSKEY_COLUMNS})
      SELECT $1::text, u.id, $3::text, $4::bigint, $5::text[], $6::text, $7::bigint, $8::bigint FROM ${s}.admin_users u WHERE u.id = $2::text`,
    // Byte order for the tie-break, as SQLite sorts.
    adminPasskeyList: `SELECT ${ADMIN_PASSKEY_COLUMNS} FROM ${s}.admin_passkeys WHERE user_id = $1 ORDER BY created_at, credential_id COLLATE "C"`,
    adminPasskeyGet: `SELECT ${ADMIN_PASSKEY_COLUMNS} FROM ${s}.admin_passkeys WHERE credential_id = $1`,
    // N63-2: the comparison and the write are one statement, as for the TOTP step: a concurrent
    // use waits for the row lock and re-checks the counter against the committed row. A counter
    // of 0 that stays 0 is an authenticator without one; once it has counted, 0 is a clone.
    adminPasskeyUse: `
      UPDATE ${s}.admin_passkeys SET counter = $2::bigint, last_used_at = $3::bigint
      WHERE credential_id = $1 AND (counter < $2::bigint OR (counter = 0 AND $2::bigint = 0))`,
  };
}

/** The batch as two JSON documents (records, private parts) for jsonb_to_recordset. */
function batchJson(batch: Batch): { records: string; privates: string } {
  const records: unknown[] = [];
  const privates: unknown[] = [];
  for (const { stored, priv } of batch) {
    const r = stored.record;
    records.push({
      seq: r.seq, ts: r.ts, type: r.type, request_id: r.requestId, api: r.api, operation_id: r.operationId, status: r.status,
      outcome: r.outcome, reason: r.reason, canonical: stored.canonical, leaf_hash: stored.leafHash, chain_hash: stored.chainHash,
    });
    if (priv.personal !== undefined || priv.personalSalt !== undefined || priv.requestBodySalt !== undefined || priv.responseBodySalt !== undefined) {
      privates.push({ seq: priv.seq, personal: priv.personal, personal_salt: priv.personalSalt, request_body_salt: priv.requestBodySalt, response_body_salt: priv.responseBodySalt });
    }
  }
  return { records: JSON.stringify(records), privates: JSON.stringify(privates) };
}

function searchSql(s: string, q: LedgerQuery): { text: string; values: unknown[] } {
  const values: (string | number)[] = [];
  const text = searchSelect(
    q,
    {
      param: (v) => {
        values.push(v);
        return `$${values.length}`;
      },
      objectIdClause: (ph) => `p.object_ids @> ARRAY[${ph}::text]`,
    },
    { records: `${s}.ledger_records`, private: `${s}.ledger_private` },
  );
  return { text, values };
}

interface RecordRow {
  seq: string;
  ts: string;
  type: string;
  outcome: string;
  canonical: string;
  leaf_hash: string;
  chain_hash: string;
}

interface PrivateRow {
  seq: string;
  personal_json: PersonalFields | null;
  personal_salt: string | null;
  request_body_salt: string | null;
  response_body_salt: string | null;
}

interface KeyRow {
  id: string;
  name: string;
  hash: string;
  scopes: string[];
  subject: string | null;
  created_at: string;
  expires_at: string | null;
  revoked_at: string | null;
  last_used_at: string | null;
  created_by: string | null;
  change_seq: string;
  public_key_jwk?: string | null;
}

interface AdminUserRow {
  id: string;
  username: string;
  password_hash: string;
  roles: string[];
  totp_secret_enc: string | null;
  totp_last_step: string | null;
  recovery_code_hashes: string[];
  disabled: boolean;
  failed_logins: number;
  locked_until: string | null;
  created_at: string;
  created_by: string | null;
  updated_at: string;
}

interface AdminSessionRow {
  id: string;
  user_id: string;
  created_at: string;
  last_seen_at: string;
  expires_at: string;
  csrf_token: string;
  authenticated_at: string;
}

interface AdminPasskeyRow {
  credential_id: string;
  user_id: string;
  public_key: string;
  counter: string;
  transports: string[];
  name: string;
  created_at: string;
  last_used_at: string | null;
}

/** BIGINT comes back from pg as a string; every value Rampart stores fits a double exactly. */
function toNum(v: string | number): number {
  const n = typeof v === 'number' ? v : Number(v);
  if (!Number.isSafeInteger(n)) throw new Error(`postgres: BIGINT value ${String(v)} is outside the safe integer range`);
  return n;
}

function toStored(row: RecordRow): StoredRecord {
  return storedFromRow({ ...row, seq: toNum(row.seq), ts: toNum(row.ts) });
}

function toPrivate(row: PrivateRow): PrivatePart {
  return privateFromRow({ ...row, seq: toNum(row.seq), personal: row.personal_json });
}

function toKey(row: KeyRow): ApiKeyRecord {
  const n = (v: string | null) => (v === null ? null : toNum(v));
  return keyFromRow({ ...row, created_at: toNum(row.created_at), expires_at: n(row.expires_at), revoked_at: n(row.revoked_at), last_used_at: n(row.last_used_at) });
}

function toAdminUser(row: AdminUserRow): AdminUser {
  const n = (v: string | null) => (v === null ? null : toNum(v));
  return adminUserFromRow({
    ...row,
    totp_last_step: n(row.totp_last_step),
    locked_until: n(row.locked_until),
    created_at: toNum(row.created_at),
    updated_at: toNum(row.updated_at),
  });
}

function toAdminSession(row: AdminSessionRow): AdminSession {
  return adminSessionFromRow({
    ...row,
    created_at: toNum(row.created_at),
    last_seen_at: toNum(row.last_seen_at),
    expires_at: toNum(row.expires_at),
    authenticated_at: toNum(row.authenticated_at),
  });
}

function toAdminPasskey(row: AdminPasskeyRow): AdminPasskey {
  return adminPasskeyFromRow({
    ...row,
    counter: toNum(row.counter),
    created_at: toNum(row.created_at),
    last_used_at: row.last_used_at === null ? null : toNum(row.last_used_at),
  });
}
