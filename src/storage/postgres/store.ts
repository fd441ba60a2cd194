/**
 * PostgreSQL storage: the ledger, keys, admin, data keys, checkpoints, retention and config stores over a
 * pg Pool, in a schema of their own.
 *
 * Durability: every session of the pool starts with synchronous_commit=on (a startup option, so
 * no role or database default can weaken it), and the open fails if the server reports anything
 * else. An append is ONE statement, hence one transaction: it moves the one-row chain_head from
 * the expected seq to the batch's last (the row lock makes a second writer wait, then find the
 * head moved and insert nothing) and inserts all records, sealed private parts, bodies and index
 * entries from JSON documents (jsonb_to_recordset).
 *
 * The encrypted ledger (schema 6): sealed private parts, bodies and blind index entries go in the
 * same append statement; data keys, checkpoints and retention work have their own stores here.
 * Role separation (AU-9(4), ./roles.ts): the gateway's role may only insert and select on the
 * ledger tables (and move chain_head); purge, prune, re-wrap and re-seal need the retention role.
 * A schema already at the latest version is opened without any DDL, so a role that may not
 * create anything opens it.
 *
 * Outages reject promptly instead of hanging: connection timeout, a client-side query timeout
 * (a cut connection that never answers) and a server-side statement timeout, and a listener for
 * errors on idle connections (without it a dropped connection would crash the process). A
 * failed connection is discarded by the pool, so service resumes when the database is back.
 */
import {
  ADMIN_PASSKEY_COLUMNS, ADMIN_SESSION_COLUMNS, ADMIN_USER_COLUMNS, adminPasskeyExists, adminPasskeyFromRow, adminSessionFromRow, adminUsername,
  adminUserExists, adminUserFromRow, adminUserMissing, beforeVault, CHECKPOINT_COLUMNS, checkAppendItems, checkpointFromRow, CONFIG_ACTIVATION_COLUMNS,
  CONFIG_APPROVAL_COLUMNS, CONFIG_VERSION_COLUMNS, configActivationFromRow, configApprovalFromRow, configListLimit, configVersionFromRow, configVersionUnknown,
  DATA_KEY_COLUMNS, newConfigActivation, newConfigApproval, newConfigVersion,
  dataKeyFromRow, HOLD_COLUMNS, holdExists, holdFromRow, keyFromRow, loginFailureArgs, newAdminPasskey, newAdminUser, newCheckpoint, newDataKey,
  newHold, passkeyUseArgs, privateFromRow, pruneArgs, pruneBackwards, pruneBeyondHead, pruneMismatch, purgeHeld, resealArgs, resealMissing,
  rewrapArgs, searchIndexArgs, searchSelect, searchTags, storedFromRow, totpStep,
} from '../rows.js';
import { createHash } from 'node:crypto';
import pg from 'pg';
import { ChainContinuityError, checkBatchContinues } from '../../ledger/chain.js';
import type { PersonalFields, PrivatePart, StoredRecord } from '../../ledger/record.js';
import type {
  AdminPasskey, AdminSession, AdminStore, AdminUser, ApiKeyRecord, AppendItem, ChainHead, ChainRow, IndexEntry, CheckpointRow, CheckpointStore, ConfigActivationRow,
  ConfigApprovalRow, ConfigStore, ConfigVersionRow, DataKeyStore, KeyStore,
  LedgerQuery, LedgerStore, LegalHold, PruneState, RetentionStore, SealedBody, SealedPrivate, SigningKeyRow, Storage, StoredPrivate, WrappedDataKey,
} from '../types.js';
import { PG_ADMIN_VERSION, PG_CONFIG_STORE_VERSION, PG_LATEST_VERSION, PG_MIGRATIONS, PG_PASSKEY_VERSION, PG_VAULT_VERSION } from './schema.js';

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
  /**
   * The retention role's URL (AU-9(4), ./roles.ts). When given, what only that role may do runs
   * on a small pool of its own: purge, prune, re-seal under a hold key, hold lifts and KEK
   * re-wraps; everything else (appends and receipts included) stays on `url`, the gateway's
   * role. Without it every method uses `url`, which under the role split refuses retention work.
   */
  retentionUrl?: string;
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
  const newPool = (url: string, max: number, name: string): pg.Pool => {
    const p = new pg.Pool({
      connectionString: url,
      max,
      connectionTimeoutMillis: opts.connectTimeoutMs ?? 5000,
      query_timeout: opts.queryTimeoutMs ?? 5000,
      idleTimeoutMillis: 30_000,
      keepAlive: true,
      application_name: name,
      // Startup options apply to every session of the pool before any query runs (see header).
      options:
        `-c synchronous_commit=on -c statement_timeout=${Math.floor(statementTimeoutMs)} -c idle_in_transaction_session_timeout=${Math.floor(statementTimeoutMs * 2)}` +
        (opts.readOnly ? ' -c default_transaction_read_only=on' : ''),
    });
    // Errors of idle connections (server restart, cut network) would otherwise be thrown as an
    // unhandled 'error' event; the pool has already dropped the connection, and the next query
    // reports the outage to its caller.
    p.on('error', () => {});
    return p;
  };
  const pool = newPool(opts.url, opts.poolSize ?? 10, 'rampart');
  if (opts.retentionUrl !== undefined && (typeof opts.retentionUrl !== 'string' || opts.retentionUrl.length === 0)) {
    throw new TypeError('postgres: retentionUrl must be a non-empty URL when given');
  }
  // Retention work is rare and sequential: two connections, opened on first use.
  const retPool = opts.retentionUrl ? newPool(opts.retentionUrl, 2, 'rampart-retention') : undefined;
  /** The pool retention-only writes run on (AU-9(4)). */
  const rpool = retPool ?? pool;

  // The schema version this storage works with: a read-only open may find an older one.
  let version = PG_LATEST_VERSION;
  try {
    if (opts.readOnly) version = await checkVersion(pool, schema, s);
    else {
      await migrate(pool, schema, s);
      // Month partitions for the coming months; a role that may not create them (the gateway's,
      // under the role split) leaves it to `rampart db partitions`, and the DEFAULT partition
      // takes the rows meanwhile.
      await ensureMonthPartitions(pool, s, 3).catch((err: unknown) => {
        if ((err as { code?: string }).code !== '42501') throw err;
      });
    }
    const d = await showDurability(pool);
    if (d.synchronousCommit !== 'on') {
      throw new Error(`postgres: synchronous_commit is '${d.synchronousCommit}' for Rampart's sessions; strict durability needs 'on' (is it overridden by an 'options' parameter in the URL?)`);
    }
    if (retPool) {
      // Fail at open, not at the first purge: the retention role must reach the same schema.
      const r = await retPool.query<{ ok: boolean }>(`SELECT to_regclass($1) IS NOT NULL AS ok`, [`${s}.ledger_records`]);
      if (!r.rows[0]?.ok) throw new Error(`postgres: the retention role (retentionUrl) does not see schema ${schema}; is it the same database?`);
    }
  } catch (err) {
    await pool.end().catch(() => {});
    await retPool?.end().catch(() => {});
    throw err;
  }

  const sql = statements(s);
  /** Whether the schema has the tables of migration 6; a read-only open may find an older one, which a gateway may migrate meanwhile. */
  const hasVault = async (): Promise<boolean> => {
    if (version >= PG_VAULT_VERSION) return true;
    version = await checkVersion(pool, schema, s);
    return version >= PG_VAULT_VERSION;
  };
  const needVault = async (what: string): Promise<void> => {
    if (!(await hasVault())) throw beforeVault(`postgres: schema ${schema}`, version, what);
  };
  const needWritable = (): void => {
    // The server refuses too (default_transaction_read_only); this says so plainly.
    if (opts.readOnly) throw new Error(`postgres: schema ${schema} is open read-only`);
  };
  let closing: Promise<void> | undefined;
  const close = (): Promise<void> => (closing ??= Promise.all([pool.end(), retPool?.end()]).then(() => undefined));
  // The storage closes once every store on it is closed (or on close() itself).
  const openParts = new Set<'ledger' | 'keys' | 'admin'>(['ledger', 'keys', 'admin']);
  const closePart = async (part: 'ledger' | 'keys' | 'admin'): Promise<void> => {
    openParts.delete(part);
    if (openParts.size === 0) await close();
  };

  const ledger: PostgresLedgerStore = {
    async append(batch: readonly AppendItem[]) {
      if (opts.readOnly) throw new Error(`postgres: schema ${schema} is open read-only`);
      if (batch.length === 0) return;
      const first = batch[0]!.stored.record.seq;
      // The same shape checks as every backend; the head itself is checked in the statement.
      checkBatchContinues(first - 1, batch);
      checkAppendItems(batch);
      const last = batch[batch.length - 1]!.stored;
      const j = batchJson(batch);
      // A named statement is parsed and planned once per connection, not once per batch: on a
      // small machine the server's planning competes with the gateway for the same cores.
      const res = await pool.query<{ head_ok: number }>({
        name: `rampart_append_${schema}`,
        text: sql.append,
        values: [last.record.seq, last.chainHash, first - 1, batch[0]!.stored.leafHash, batch[0]!.stored.chainHash, j.records, j.sealed, j.bodies, j.index],
      });
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
    async readChain(fromSeq: number, limit: number) {
      const r = await pool.query<{ seq: string; canonical: string; leaf_hash: string; chain_hash: string }>({ name: `rampart_chain_${schema}`, text: sql.readChain, values: [fromSeq, limit] });
      return r.rows.map((row): ChainRow => ({ seq: toNum(row.seq), canonical: row.canonical, leafHash: row.leaf_hash, chainHash: row.chain_hash }));
    },
    async readIndex(seqs: readonly number[]) {
      if (seqs.length === 0 || !(await hasVault())) return [];
      const r = await pool.query<{ seq: string; ts: string; tag: Buffer }>(sql.readIndex, [seqs]);
      return r.rows.map((row): IndexEntry => ({ seq: toNum(row.seq), ts: toNum(row.ts), tag: row.tag }));
    },
    async readLeaves(fromSeq: number, limit: number) {
      const r = await pool.query<{ seq: string; leaf_hash: string }>({ name: `rampart_leaves_${schema}`, text: sql.readLeaves, values: [fromSeq, limit] });
      return r.rows.map((row) => ({ seq: toNum(row.seq), leafHash: row.leaf_hash }));
    },
    async readPrivate(seqs: readonly number[]) {
      if (seqs.length === 0) return [];
      // A schema from before migration 6 (read-only opens) has only the clear rows.
      if (!(await hasVault())) return (await pool.query<PrivateRow>(sql.readPrivate, [seqs])).rows.map((row): StoredPrivate => ({ seq: toNum(row.seq), plain: toPrivate(row) }));
      const r = await pool.query<PrivateRow & { dek_id: string | null; sealed: Buffer | null }>(sql.readPrivateSealed, [seqs]);
      return r.rows.map((row): StoredPrivate => {
        const seq = toNum(row.seq);
        return row.dek_id !== null && row.sealed !== null ? { seq, sealed: { seq, dekId: row.dek_id, sealed: row.sealed } } : { seq, plain: toPrivate(row) };
      });
    },
    async readBodies(seqs: readonly number[]) {
      // A schema from before migration 6 holds no bodies.
      if (seqs.length === 0 || !(await hasVault())) return [];
      const r = await pool.query<{ seq: string; part: 'request' | 'response'; dek_id: string; sealed: Buffer }>(sql.readBodies, [seqs]);
      return r.rows.map((row): SealedBody => ({ seq: toNum(row.seq), part: row.part, dekId: row.dek_id, sealed: row.sealed }));
    },
    async search(q: LedgerQuery) {
      if (searchTags(q).length > 0) await needVault('no blind index to search by principal, subject or object id');
      const { text, values } = searchSql(s, q);
      const r = await pool.query<RecordRow>(text, values);
      return r.rows.map(toStored);
    },
    async searchIndex(tags: readonly Buffer[], fromTs: number, toTs: number, limit: number) {
      const a = searchIndexArgs(tags, fromTs, toTs, limit);
      if (tags.length === 0) return [];
      await needVault('no blind index to search');
      const r = await pool.query<{ seq: string; ts: string; tag: Buffer }>(sql.searchIndex, [tags.map(asBuffer), fromTs, toTs, a.limit]);
      return r.rows.map((row) => ({ seq: toNum(row.seq), ts: toNum(row.ts), tag: row.tag }));
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
      return inTransaction(pool, async (client) => {
        const cur = await client.query<{ revoked_at: string | null }>(sql.keyLock, [id]);
        const row = cur.rows[0];
        if (!row) return false;
        // The earlier time stands (revoking now overrides a scheduled revocation); keeping it is not a change.
        if (row.revoked_at === null || Number(row.revoked_at) > at) await client.query(sql.keyRevoke, [id, at]);
        return true;
      });
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

  const dataKeys: DataKeyStore = {
    async getDataKey(id: string) {
      await needVault('no data keys');
      const r = await pool.query<DataKeyRow>(sql.dataKeyGet, [id]);
      return r.rows[0] ? toDataKey(r.rows[0]) : undefined;
    },
    async findDataKey(recordClass: string, expiryDay: number) {
      await needVault('no data keys');
      const r = await pool.query<DataKeyRow>(sql.dataKeyFind, [recordClass, expiryDay]);
      return r.rows[0] ? toDataKey(r.rows[0]) : undefined;
    },
    async insertDataKey(key: WrappedDataKey) {
      const k = newDataKey(key);
      needWritable();
      // One statement that writes nothing on a conflict: of two nodes racing for a day's key, one
      // inserts and the other gets false and reads the winner's.
      const r = await pool.query(sql.dataKeyInsert, [k.id, k.recordClass, k.expiryDay, k.kekId, asBuffer(k.wrapped), k.createdAt, k.holdId ?? null]);
      return r.rowCount === 1;
    },
    async listDataKeys(filter: { recordClass?: string; expiryDayBefore?: number; kekId?: string } = {}) {
      await needVault('no data keys');
      const r = await pool.query<DataKeyRow>(sql.dataKeyList, [filter.recordClass ?? null, filter.expiryDayBefore ?? null, filter.kekId ?? null]);
      return r.rows.map(toDataKey);
    },
    async rewrapDataKeys(updates: readonly { id: string; kekId: string; wrapped: Buffer }[]) {
      rewrapArgs(updates);
      needWritable();
      if (updates.length === 0) return;
      // One statement, so all or none; a key purged meanwhile has nothing left to re-wrap.
      await rpool.query(sql.dataKeyRewrap, [JSON.stringify(updates.map((u) => ({ id: u.id, kek_id: u.kekId, wrapped: base64(u.wrapped) })))]);
    },
  };

  const checkpoints: CheckpointStore = {
    async insertCheckpoint(cp: CheckpointRow) {
      const c = newCheckpoint(cp);
      needWritable();
      await pool.query(sql.checkpointInsert, [c.treeSize, c.kind, c.ts, c.rootHash, c.chainHash, c.note, c.compactRange]);
    },
    async latestCheckpoint(kind?: CheckpointRow['kind']) {
      // A schema from before migration 6 has no checkpoints: verification runs without them.
      if (!(await hasVault())) return undefined;
      const r = kind === undefined ? await pool.query<CheckpointRowPg>(sql.checkpointLatest) : await pool.query<CheckpointRowPg>(sql.checkpointLatestOf, [kind]);
      return r.rows[0] ? toCheckpoint(r.rows[0]) : undefined;
    },
    async listCheckpoints(fromSize: number, toSize: number, limit: number) {
      if (!(await hasVault())) return [];
      const r = await pool.query<CheckpointRowPg>(sql.checkpointList, [fromSize, toSize, Math.max(1, Math.min(Math.floor(limit), 10_000))]);
      return r.rows.map(toCheckpoint);
    },
    async insertSigningKey(k: SigningKeyRow) {
      if (typeof k.verifierKey !== 'string' || k.verifierKey.length === 0) throw new TypeError('signing key: verifierKey is required');
      needWritable();
      await pool.query(sql.signingKeyInsert, [k.verifierKey, k.createdAt]);
    },
    async listSigningKeys() {
      if (!(await hasVault())) return [];
      const r = await pool.query<{ verifier_key: string; created_at: string }>(sql.signingKeyList);
      return r.rows.map((row) => ({ verifierKey: row.verifier_key, createdAt: toNum(row.created_at) }));
    },
  };

  /** BEGIN .. COMMIT on one connection of the pool (ROLLBACK and a discarded connection on error). */
  const inTransaction = async <T>(on: pg.Pool, fn: (c: pg.PoolClient) => Promise<T>): Promise<T> => {
    const client = await on.connect();
    let broken: Error | undefined;
    try {
      await client.query('BEGIN');
      const out = await fn(client);
      await client.query('COMMIT');
      return out;
    } catch (err) {
      broken = err as Error;
      await client.query('ROLLBACK').catch(() => {});
      throw err;
    } finally {
      client.release(broken);
    }
  };

  // Retention (RSP-7, R17a4-1). Under role separation (AU-9(4), ./roles.ts) these writes need the
  // retention role, except insertHold (the admin plane places holds from the gateway process).
  const retention: RetentionStore = {
    async insertHold(hold: LegalHold) {
      const h = newHold(hold);
      needWritable();
      try {
        await pool.query(sql.holdInsert, [h.id, asBuffer(h.criteriaSealed), h.dekId, h.createdAt, h.createdBy, h.liftedAt ?? null, h.liftedBy ?? null]);
      } catch (err) {
        const e = err as { code?: string; constraint?: string };
        if (e.code === '23505' && e.constraint === 'legal_holds_pkey') throw holdExists(h.id, err);
        throw err;
      }
    },
    /** True when this call lifted the hold; false for an unknown or already lifted one (the first lift's time and person stay). */
    async liftHold(id: string, at: number, by: string) {
      needWritable();
      const r = await rpool.query(sql.holdLift, [id, at, by]);
      return r.rowCount === 1;
    },
    async listHolds() {
      await needVault('no legal holds');
      const r = await pool.query<LegalHoldRow>(sql.holdList);
      return r.rows.map(toHold);
    },
    /** All or nothing: an item that is not stored (purged meanwhile) fails the call with RAMPART_RESEAL_MISSING. */
    async resealItems(items: { privates: readonly SealedPrivate[]; bodies: readonly SealedBody[] }) {
      resealArgs(items);
      needWritable();
      if (items.privates.length === 0 && items.bodies.length === 0) return;
      await inTransaction(rpool, async (c) => {
        if (items.privates.length > 0) {
          const json = JSON.stringify(items.privates.map((p) => ({ seq: p.seq, dek_id: p.dekId, sealed: base64(p.sealed) })));
          const r = await c.query<{ seq: string }>(sql.resealPrivates, [json]);
          const done = new Set(r.rows.map((row) => toNum(row.seq)));
          const missing = items.privates.find((p) => !done.has(p.seq));
          if (missing) throw resealMissing(`the private part of seq ${missing.seq}`);
        }
        if (items.bodies.length > 0) {
          const json = JSON.stringify(items.bodies.map((b) => ({ seq: b.seq, part: b.part, dek_id: b.dekId, sealed: base64(b.sealed) })));
          const r = await c.query<{ seq: string; part: string }>(sql.resealBodies, [json]);
          const done = new Set(r.rows.map((row) => `${toNum(row.seq)}|${row.part}`));
          const missing = items.bodies.find((b) => !done.has(`${b.seq}|${b.part}`));
          if (missing) throw resealMissing(`the ${missing.part} body of seq ${missing.seq}`);
        }
      });
    },
    async itemsUnderKey(dekId: string) {
      await needVault('no data keys');
      const r = await pool.query<{ privates: string; bodies: string }>(sql.itemsUnderKey, [dekId]);
      return { privates: toNum(r.rows[0]!.privates), bodies: toNum(r.rows[0]!.bodies) };
    },
    /**
     * Crypto-shredding (RSP-7): the DELETEs leave dead tuples that VACUUM reclaims later, and
     * until then (and in WAL archives and backups) the bytes may stay on disk. The guarantee does
     * not come from the disk: what made the sealed rows readable is the data key, which exists
     * only wrapped by the KEK, and its wrapped form is deleted here. Without it the envelopes
     * left on disk are AES-256-GCM ciphertext under a key nobody has (ENC-5/6). Refuses
     * (RAMPART_PURGE_HELD, nothing deleted) a key of a legal hold that stands.
     */
    async purgeDataKeys(ids: readonly string[]) {
      needWritable();
      if (ids.length === 0) return { keys: 0, privates: 0, bodies: 0, index: 0 };
      return inTransaction(rpool, async (c) => {
        const held = await c.query<{ id: string }>(sql.purgeHeld, [[...ids]]);
        if (held.rows.length > 0) throw purgeHeld(held.rows.map((row) => row.id));
        const r = await c.query<{ keys: number; privates: number; bodies: number; index: number }>(sql.purge, [[...ids]]);
        const row = r.rows[0]!;
        return { keys: row.keys, privates: row.privates, bodies: row.bodies, index: row.index };
      });
    },
    /**
     * Also deletes the clear private parts (from before encryption) of the pruned records. Refuses
     * RAMPART_PRUNE_BEYOND_HEAD, RAMPART_PRUNE_BACKWARDS, and RAMPART_PRUNE_MISMATCH when
     * state.chainHash is not the stored chain hash of state.seq.
     */
    async pruneThrough(input: PruneState) {
      const st = pruneArgs(input);
      needWritable();
      return inTransaction(rpool, async (c) => {
        // One pruner per schema at a time (an advisory lock needs no privilege on any table).
        await c.query('SELECT pg_advisory_xact_lock($1::bigint)', [advisoryKey(`rampart:prune:${schema}`)]);
        // The head only grows, so a check against the head as read now stays true.
        const head = toNum((await c.query<{ seq: string }>(sql.head)).rows[0]?.seq ?? 0);
        if (st.seq > head) throw pruneBeyondHead(st.seq, head);
        const cur = (await c.query<{ seq: string; chain_hash: string }>(sql.pruneState)).rows[0];
        const curSeq = cur ? toNum(cur.seq) : 0;
        if (cur && st.seq < curSeq) throw pruneBackwards(st.seq, curSeq);
        // The anchor verification of the retained part starts from: the stored chain hash of
        // st.seq (or, when pruning again at the same point, the one recorded then).
        const rec = (await c.query<{ chain_hash: string }>(sql.recordChainHash, [st.seq])).rows[0];
        const anchor = rec?.chain_hash ?? (cur && curSeq === st.seq ? cur.chain_hash : undefined);
        if (anchor === undefined) throw pruneMismatch(st.seq, `no record is stored at seq ${st.seq}`);
        if (anchor !== st.chainHash) throw pruneMismatch(st.seq, `its chain hash is ${anchor}, not ${st.chainHash}`);
        const r = await c.query<{ records: number }>(sql.prune, [st.seq]);
        await c.query(sql.pruneUpsert, [st.seq, st.chainHash, st.compactRange, st.note]);
        return r.rows[0]!.records;
      });
    },
    async pruneState() {
      // A schema from before migration 6 was never pruned.
      if (!(await hasVault())) return undefined;
      const r = await pool.query<{ seq: string; chain_hash: string; compact_range: string[]; note: string }>(sql.pruneState);
      const row = r.rows[0];
      return row ? { seq: toNum(row.seq), chainHash: row.chain_hash, compactRange: row.compact_range, note: row.note } : undefined;
    },
  };

  /** Whether the schema has the configuration tables (migration 8); as hasVault for an older read-only open. */
  const hasConfigs = async (): Promise<boolean> => {
    if (version >= PG_CONFIG_STORE_VERSION) return true;
    version = await checkVersion(pool, schema, s);
    return version >= PG_CONFIG_STORE_VERSION;
  };

  // Configuration versions (issue 6): inserts and selects only, on the gateway's pool (its role has
  // no UPDATE or DELETE on these tables, AU-9(4) spirit). A read-only open of a schema from before
  // migration 8 answers with nothing: no version was ever submitted to it.
  const configs: ConfigStore = {
    async putVersion(v: ConfigVersionRow) {
      const c = newConfigVersion(v);
      needWritable();
      const r = await pool.query(sql.configPut, [c.hash, c.createdAt, c.author, c.profile, c.message, asBuffer(c.bundle)]);
      return r.rowCount === 1;
    },
    async getVersion(hash: string) {
      if (!(await hasConfigs())) return undefined;
      const r = await pool.query<ConfigVersionRowPg & { bundle: Buffer }>(sql.configGet, [hash]);
      const row = r.rows[0];
      return row ? { ...toConfigVersion(row), bundle: row.bundle } : undefined;
    },
    async listVersions(limit: number) {
      const n = configListLimit(limit);
      if (!(await hasConfigs())) return [];
      const r = await pool.query<ConfigVersionRowPg>(sql.configList, [n]);
      return r.rows.map(toConfigVersion);
    },
    /**
     * One statement: the foreign key refuses an unknown hash (23503, turned into
     * RAMPART_CONFIG_VERSION_UNKNOWN) and the primary key keeps the first approval of an approver.
     */
    async addApproval(approval: ConfigApprovalRow) {
      const a = newConfigApproval(approval);
      needWritable();
      try {
        const r = await pool.query(sql.configApprove, [a.hash, a.approver, a.at, a.comment]);
        return r.rowCount === 1;
      } catch (err) {
        const e = err as { code?: string; constraint?: string };
        if (e.code === '23503' && e.constraint === 'config_approvals_hash_fkey') throw configVersionUnknown(a.hash, err);
        throw err;
      }
    },
    async approvals(hash: string) {
      if (!(await hasConfigs())) return [];
      const r = await pool.query<ConfigApprovalRowPg>(sql.configApprovals, [hash]);
      return r.rows.map((row) => configApprovalFromRow({ ...row, at: toNum(row.at) }));
    },
    async recordActivation(activation: Omit<ConfigActivationRow, 'seq'>) {
      const a = newConfigActivation(activation);
      needWritable();
      const r = await pool.query<{ seq: string }>(sql.configActivate, [a.hash, a.at, a.by, a.node]);
      return { seq: toNum(r.rows[0]!.seq), ...a };
    },
    async activations(limit: number) {
      const n = configListLimit(limit);
      if (!(await hasConfigs())) return [];
      const r = await pool.query<ConfigActivationRowPg>(sql.configActivations, [n]);
      return r.rows.map((row) => configActivationFromRow({ ...row, seq: toNum(row.seq), at: toNum(row.at) }));
    },
  };

  return { driver: 'postgres', schema, ledger, keys, admin, dataKeys, checkpoints, retention, configs, close };
}

/** The 64-bit advisory lock key for a name. */
function advisoryKey(name: string): string {
  return createHash('sha256').update(name).digest().readBigInt64BE(0).toString();
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

/**
 * Brings the schema to PG_LATEST_VERSION. A schema already there is left alone without any DDL
 * (CREATE SCHEMA IF NOT EXISTS checks the CREATE privilege even when the schema exists), so a
 * role that may only read and insert (the gateway's, AU-9(4)) opens it; one that needs migrating
 * is migrated by a role that may (the owner's), and a role that may not gets an error saying so.
 */
async function migrate(pool: pg.Pool, schema: string, s: string): Promise<void> {
  const t = await pool.query<{ t: string | null }>('SELECT to_regclass($1) AS t', [`${s}.schema_version`]);
  let found = 0;
  if (t.rows[0]?.t) {
    found = (await pool.query<{ v: number | null }>(`SELECT max(version) AS v FROM ${s}.schema_version`)).rows[0]?.v ?? 0;
    if (found === PG_LATEST_VERSION) return;
    if (found > PG_LATEST_VERSION) throw new Error(`postgres: schema ${schema} has version ${found}, newer than this Rampart (${PG_LATEST_VERSION})`);
  }
  try {
    await migrateLocked(pool, schema, s);
  } catch (err) {
    if ((err as { code?: string }).code !== '42501') throw err;
    throw Object.assign(
      new Error(
        `postgres: schema ${schema} is at version ${found} and needs migrating to ${PG_LATEST_VERSION}, which this role may not do ` +
          `(${(err as Error).message}); start Rampart once with the schema owner's role to migrate it (grants: src/storage/postgres/roles.ts applyPgRoles)`,
      ),
      { code: 'RAMPART_STORAGE_MIGRATE_DENIED', cause: err },
    );
  }
}

/**
 * Creates the month partitions of ledger_records and ledger_index from this month to `months`
 * ahead (migration 7's ensure_month_partitions); returns how many were made.
 */
export async function ensureMonthPartitions(db: pg.Pool | pg.Client, s: string, months: number): Promise<number> {
  const now = Date.now();
  const until = now + Math.max(0, months) * 31 * 86_400_000;
  // One creator at a time per schema (the migrator's lock): two gateways starting together would
  // otherwise deadlock on the parents' locks that CREATE TABLE ... PARTITION OF takes.
  const client = db instanceof pg.Pool ? await db.connect() : db;
  let broken: Error | undefined;
  try {
    await client.query('BEGIN');
    await client.query('SELECT pg_advisory_xact_lock($1::bigint)', [advisoryKey(`rampart:migrate:${s.replace(/"/g, '')}`)]);
    let made = 0;
    for (const tbl of ['ledger_records', 'ledger_index']) {
      const r = await client.query<{ n: number }>(`SELECT ${s}.ensure_month_partitions($1, $2, $3) AS n`, [tbl, now, until]);
      made += Number(r.rows[0]?.n ?? 0);
    }
    await client.query('COMMIT');
    return made;
  } catch (err) {
    broken = err as Error;
    await client.query('ROLLBACK').catch(() => {});
    throw err;
  } finally {
    if (db instanceof pg.Pool) (client as pg.PoolClient).release(broken);
  }
}

async function migrateLocked(pool: pg.Pool, schema: string, s: string): Promise<void> {
  const client = await pool.connect();
  let broken: Error | undefined;
  try {
    await client.query('BEGIN');
    // One migrator per schema at a time; released with the transaction.
    await client.query('SELECT pg_advisory_xact_lock($1::bigint)', [advisoryKey(`rampart:migrate:${schema}`)]);
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
    // Sealed private parts, bodies and index entries (schema 6) come the same way, their bytes as
    // base64 text in the JSON (decode(x, 'base64')); ledger_private takes no new rows.
    append: `
      WITH h AS (
        UPDATE ${s}.chain_head SET seq = $1, chain_hash = $2
        WHERE id = 1 AND seq = $3
          -- RFC 9162 link of the batch's first record to the stored head: the seq alone would
          -- let a batch built on a replaced head (another writer) fork the chain.
          AND encode(sha256('\\x01'::bytea || decode(chain_hash, 'hex') || decode($4, 'hex')), 'hex') = $5
        RETURNING 1
      ), r AS (
        INSERT INTO ${s}.ledger_records (seq, ts, type, request_id, api, operation_id, status, outcome, reason, canonical, leaf_hash, chain_hash)
        SELECT x.seq, x.ts, x.type, x.request_id, x.api, x.operation_id, x.status, x.outcome, x.reason, x.canonical, x.leaf_hash, x.chain_hash
        FROM jsonb_to_recordset($6::jsonb) AS x(seq bigint, ts bigint, type text, request_id text, api text, operation_id text, status int, outcome text, reason text, canonical text, leaf_hash text, chain_hash text)
        WHERE EXISTS (SELECT 1 FROM h)
        RETURNING 1
      ), p AS (
        INSERT INTO ${s}.ledger_sealed (seq, dek_id, sealed)
        SELECT u.seq, u.dek_id, decode(u.sealed, 'base64')
        FROM jsonb_to_recordset($7::jsonb) AS u(seq bigint, dek_id text, sealed text)
        WHERE EXISTS (SELECT 1 FROM h)
        RETURNING 1
      ), b AS (
        INSERT INTO ${s}.ledger_bodies (seq, part, dek_id, sealed)
        SELECT u.seq, u.part, u.dek_id, decode(u.sealed, 'base64')
        FROM jsonb_to_recordset($8::jsonb) AS u(seq bigint, part text, dek_id text, sealed text)
        WHERE EXISTS (SELECT 1 FROM h)
        RETURNING 1
      ), i AS (
        -- A value named twice by one record (two path parameters with the same id) is one entry.
        INSERT INTO ${s}.ledger_index (tag, ts, seq)
        SELECT decode(u.tag, 'base64'), u.ts, u.seq
        FROM jsonb_to_recordset($9::jsonb) AS u(tag text, ts bigint, seq bigint)
        WHERE EXISTS (SELECT 1 FROM h)
        ON CONFLICT DO NOTHING
        RETURNING 1
      )
      SELECT (SELECT count(*) FROM h)::int AS head_ok, (SELECT count(*) FROM r)::int AS records, (SELECT count(*) FROM p)::int AS privates,
             (SELECT count(*) FROM b)::int AS bodies, (SELECT count(*) FROM i)::int AS index`,
    head: `SELECT seq, chain_hash FROM ${s}.chain_head WHERE id = 1`,
    read: `SELECT ${recordCols} FROM ${s}.ledger_records r WHERE r.seq >= $1 ORDER BY r.seq LIMIT $2`,
    readLeaves: `SELECT seq, leaf_hash FROM ${s}.ledger_records WHERE seq >= $1 ORDER BY seq LIMIT $2`,
    readChain: `SELECT seq, canonical, leaf_hash, chain_hash FROM ${s}.ledger_records WHERE seq >= $1 ORDER BY seq LIMIT $2`,
    readIndex: `SELECT seq, ts, tag FROM ${s}.ledger_index WHERE seq = ANY($1::bigint[]) ORDER BY seq, ts, tag`,
    readPrivate: `SELECT seq, personal_json, personal_salt, request_body_salt, response_body_salt FROM ${s}.ledger_private WHERE seq = ANY($1::bigint[]) ORDER BY seq`,
    // Sealed rows, and the clear rows from before encryption for seqs that have no sealed one.
    readPrivateSealed: `
      SELECT seq, dek_id, sealed, NULL::jsonb AS personal_json, NULL::text AS personal_salt, NULL::text AS request_body_salt, NULL::text AS response_body_salt
      FROM ${s}.ledger_sealed WHERE seq = ANY($1::bigint[])
      UNION ALL
      SELECT p.seq, NULL, NULL, p.personal_json, p.personal_salt, p.request_body_salt, p.response_body_salt
      FROM ${s}.ledger_private p WHERE p.seq = ANY($1::bigint[]) AND NOT EXISTS (SELECT 1 FROM ${s}.ledger_sealed x WHERE x.seq = p.seq)
      ORDER BY seq`,
    readBodies: `SELECT seq, part, dek_id, sealed FROM ${s}.ledger_bodies WHERE seq = ANY($1::bigint[]) ORDER BY seq, part`,
    // (tag, ts, seq) is the table's key: one range per tag.
    searchIndex: `SELECT seq, ts, tag FROM ${s}.ledger_index WHERE tag = ANY($1::bytea[]) AND ts >= $2 AND ts <= $3 ORDER BY ts, seq LIMIT $4`,
    dataKeyGet: `SELECT ${DATA_KEY_COLUMNS} FROM ${s}.data_keys WHERE id = $1`,
    dataKeyFind: `SELECT ${DATA_KEY_COLUMNS} FROM ${s}.data_keys WHERE record_class = $1 AND expiry_day = $2 AND hold_id IS NULL`,
    dataKeyInsert: `INSERT INTO ${s}.data_keys (${DATA_KEY_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING`,
    dataKeyList: `
      SELECT ${DATA_KEY_COLUMNS} FROM ${s}.data_keys
      WHERE ($1::text IS NULL OR record_class = $1) AND ($2::int IS NULL OR expiry_day < $2) AND ($3::text IS NULL OR kek_id = $3)
      ORDER BY expiry_day, record_class COLLATE "C", id COLLATE "C"`,
    dataKeyRewrap: `
      UPDATE ${s}.data_keys AS k SET kek_id = u.kek_id, wrapped = decode(u.wrapped, 'base64')
      FROM jsonb_to_recordset($1::jsonb) AS u(id text, kek_id text, wrapped text) WHERE k.id = u.id`,
    checkpointInsert: `INSERT INTO ${s}.ledger_checkpoints (${CHECKPOINT_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7::text[]) ON CONFLICT DO NOTHING`,
    checkpointLatest: `SELECT ${CHECKPOINT_COLUMNS} FROM ${s}.ledger_checkpoints ORDER BY tree_size DESC, ts DESC, kind COLLATE "C" LIMIT 1`,
    checkpointLatestOf: `SELECT ${CHECKPOINT_COLUMNS} FROM ${s}.ledger_checkpoints WHERE kind = $1 ORDER BY tree_size DESC LIMIT 1`,
    checkpointList: `SELECT ${CHECKPOINT_COLUMNS} FROM ${s}.ledger_checkpoints WHERE tree_size >= $1 AND tree_size <= $2 ORDER BY tree_size, ts, kind COLLATE "C" LIMIT $3`,
    signingKeyInsert: `INSERT INTO ${s}.ledger_signing_keys (verifier_key, created_at) VALUES ($1, $2) ON CONFLICT DO NOTHING`,
    signingKeyList: `SELECT verifier_key, created_at FROM ${s}.ledger_signing_keys ORDER BY created_at, verifier_key COLLATE "C"`,
    holdInsert: `INSERT INTO ${s}.legal_holds (${HOLD_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7)`,
    holdLift: `UPDATE ${s}.legal_holds SET lifted_at = $2, lifted_by = $3 WHERE id = $1 AND lifted_at IS NULL`,
    holdList: `SELECT ${HOLD_COLUMNS} FROM ${s}.legal_holds ORDER BY created_at, id COLLATE "C"`,
    resealPrivates: `
      UPDATE ${s}.ledger_sealed AS t SET dek_id = u.dek_id, sealed = decode(u.sealed, 'base64')
      FROM jsonb_to_recordset($1::jsonb) AS u(seq bigint, dek_id text, sealed text) WHERE t.seq = u.seq RETURNING t.seq`,
    resealBodies: `
      UPDATE ${s}.ledger_bodies AS t SET dek_id = u.dek_id, sealed = decode(u.sealed, 'base64')
      FROM jsonb_to_recordset($1::jsonb) AS u(seq bigint, part text, dek_id text, sealed text) WHERE t.seq = u.seq AND t.part = u.part RETURNING t.seq, t.part`,
    itemsUnderKey: `SELECT (SELECT count(*) FROM ${s}.ledger_sealed WHERE dek_id = $1) AS privates, (SELECT count(*) FROM ${s}.ledger_bodies WHERE dek_id = $1) AS bodies`,
    // A key is held while a hold that names it (as its own key, or through data_keys.hold_id) stands.
    purgeHeld: `
      SELECT j.id FROM unnest($1::text[]) AS j(id) WHERE EXISTS (
        SELECT 1 FROM ${s}.legal_holds h WHERE h.lifted_at IS NULL
          AND (h.dek_id = j.id OR h.id = (SELECT k.hold_id FROM ${s}.data_keys k WHERE k.id = j.id)))`,
    // The index entries go with the sealed private parts they were derived from (found through
    // the deleted rows, as every sub-statement sees the same snapshot).
    purge: `
      WITH p AS (DELETE FROM ${s}.ledger_sealed WHERE dek_id = ANY($1::text[]) RETURNING seq),
           i AS (DELETE FROM ${s}.ledger_index WHERE seq IN (SELECT seq FROM p) RETURNING 1),
           b AS (DELETE FROM ${s}.ledger_bodies WHERE dek_id = ANY($1::text[]) RETURNING 1),
           k AS (DELETE FROM ${s}.data_keys WHERE id = ANY($1::text[]) RETURNING 1)
      SELECT (SELECT count(*) FROM k)::int AS keys, (SELECT count(*) FROM p)::int AS privates, (SELECT count(*) FROM b)::int AS bodies,
             (SELECT count(*) FROM i)::int AS index`,
    pruneState: `SELECT seq, chain_hash, compact_range, note FROM ${s}.ledger_prune WHERE id = 1`,
    recordChainHash: `SELECT chain_hash FROM ${s}.ledger_records WHERE seq = $1`,
    prune: `
      WITH i AS (DELETE FROM ${s}.ledger_index WHERE seq <= $1),
           p AS (DELETE FROM ${s}.ledger_sealed WHERE seq <= $1),
           b AS (DELETE FROM ${s}.ledger_bodies WHERE seq <= $1),
           c AS (DELETE FROM ${s}.ledger_private WHERE seq <= $1),
           r AS (DELETE FROM ${s}.ledger_records WHERE seq <= $1 RETURNING 1)
      SELECT (SELECT count(*) FROM r)::int AS records`,
    pruneUpsert: `
      INSERT INTO ${s}.ledger_prune (id, seq, chain_hash, compact_range, note) VALUES (1, $1, $2, $3::text[], $4)
      ON CONFLICT (id) DO UPDATE SET seq = excluded.seq, chain_hash = excluded.chain_hash, compact_range = excluded.compact_range, note = excluded.note`,
    configPut: `INSERT INTO ${s}.config_versions (${CONFIG_VERSION_COLUMNS}, bundle) VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (hash) DO NOTHING`,
    configGet: `SELECT ${CONFIG_VERSION_COLUMNS}, bundle FROM ${s}.config_versions WHERE hash = $1`,
    // Byte order for the tie-break, as SQLite sorts.
    configList: `SELECT ${CONFIG_VERSION_COLUMNS} FROM ${s}.config_versions ORDER BY created_at DESC, hash COLLATE "C" DESC LIMIT $1`,
    configApprove: `INSERT INTO ${s}.config_approvals (${CONFIG_APPROVAL_COLUMNS}) VALUES ($1, $2, $3, $4) ON CONFLICT (hash, approver) DO NOTHING`,
    configApprovals: `SELECT ${CONFIG_APPROVAL_COLUMNS} FROM ${s}.config_approvals WHERE hash = $1 ORDER BY at, approver COLLATE "C"`,
    configActivate: `INSERT INTO ${s}.config_activations (hash, at, "by", node) VALUES ($1, $2, $3, $4) RETURNING seq`,
    configActivations: `SELECT ${CONFIG_ACTIVATION_COLUMNS} FROM ${s}.config_activations ORDER BY seq DESC LIMIT $1`,
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

/** The batch as JSON documents for jsonb_to_recordset: records, sealed private parts, bodies, index entries. */
function batchJson(batch: readonly AppendItem[]): { records: string; sealed: string; bodies: string; index: string } {
  const records: unknown[] = [];
  const sealed: unknown[] = [];
  const bodies: unknown[] = [];
  const index: unknown[] = [];
  for (const { stored, priv, bodies: bs, index: ix } of batch) {
    const r = stored.record;
    records.push({
      seq: r.seq, ts: r.ts, type: r.type, request_id: r.requestId, api: r.api, operation_id: r.operationId, status: r.status,
      outcome: r.outcome, reason: r.reason, canonical: stored.canonical, leaf_hash: stored.leafHash, chain_hash: stored.chainHash,
    });
    if (priv) sealed.push({ seq: r.seq, dek_id: priv.dekId, sealed: base64(priv.sealed) });
    for (const b of bs ?? []) bodies.push({ seq: r.seq, part: b.part, dek_id: b.dekId, sealed: base64(b.sealed) });
    for (const e of ix ?? []) index.push({ seq: r.seq, ts: e.ts, tag: base64(e.tag) });
  }
  return { records: JSON.stringify(records), sealed: JSON.stringify(sealed), bodies: JSON.stringify(bodies), index: JSON.stringify(index) };
}

function base64(b: Uint8Array): string {
  return asBuffer(b).toString('base64');
}

/** pg binds a Buffer as BYTEA; a plain Uint8Array it would send as text. */
function asBuffer(b: Uint8Array): Buffer {
  return Buffer.isBuffer(b) ? b : Buffer.from(b.buffer, b.byteOffset, b.byteLength);
}

function searchSql(s: string, q: LedgerQuery): { text: string; values: unknown[] } {
  const values: (string | number | Buffer)[] = [];
  const text = searchSelect(
    q,
    {
      param: (v) => {
        values.push(v);
        return `$${values.length}`;
      },
    },
    { records: `${s}.ledger_records`, index: `${s}.ledger_index` },
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

interface DataKeyRow {
  id: string;
  record_class: string;
  expiry_day: number;
  kek_id: string;
  wrapped: Buffer;
  created_at: string;
  hold_id: string | null;
}

interface CheckpointRowPg {
  tree_size: string;
  kind: string;
  ts: string;
  root_hash: string;
  chain_hash: string;
  note: string;
  compact_range: string[];
}

interface LegalHoldRow {
  id: string;
  criteria_sealed: Buffer;
  dek_id: string;
  created_at: string;
  created_by: string;
  lifted_at: string | null;
  lifted_by: string | null;
}

interface ConfigVersionRowPg {
  hash: string;
  created_at: string;
  author: string;
  profile: string;
  message: string;
}

interface ConfigApprovalRowPg {
  hash: string;
  approver: string;
  at: string;
  comment: string;
}

interface ConfigActivationRowPg {
  seq: string;
  hash: string;
  at: string;
  by: string;
  node: string;
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

function toDataKey(row: DataKeyRow): WrappedDataKey {
  return dataKeyFromRow({ ...row, created_at: toNum(row.created_at) });
}

function toCheckpoint(row: CheckpointRowPg): CheckpointRow {
  return checkpointFromRow({ ...row, tree_size: toNum(row.tree_size), ts: toNum(row.ts) });
}

function toHold(row: LegalHoldRow): LegalHold {
  return holdFromRow({ ...row, created_at: toNum(row.created_at), lifted_at: row.lifted_at === null ? null : toNum(row.lifted_at) });
}

function toConfigVersion(row: ConfigVersionRowPg): Omit<ConfigVersionRow, 'bundle'> {
  return configVersionFromRow({ ...row, created_at: toNum(row.created_at) });
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
