/**
 * SQLite storage: LedgerStore, KeyStore and AdminStore over one database file, driven through
 * worker threads (./worker.ts). A writer worker performs every write, each batch in one IMMEDIATE
 * transaction with synchronous=FULL in WAL mode, so an append resolves only once it is fsynced. A
 * reader worker, started on first use, serves reads and searches on a second connection, so a
 * long search never holds up a commit. Another process can read the same file at the same time;
 * the audit CLI opens it read-only (one reader thread, SQLITE_OPEN_READONLY, query_only), which
 * also works for a user who may only read the file.
 */
import type { PrivatePart, StoredRecord } from '../../ledger/record.js';
import type { AdminPasskey, AdminSession, AdminStore, AdminUser, ApiKeyRecord, ChainHead, KeyStore, LedgerQuery, LedgerStore, Storage } from '../types.js';
import { checkBatchContinues } from '../../ledger/chain.js';
import { adminUsername, adminUserMissing, loginFailureArgs, newAdminPasskey, newAdminUser, passkeyUseArgs, totpStep } from '../rows.js';
import { SqliteWorkerClient } from './client.js';
import { APPEND_STRIDE, type AppendRows } from './protocol.js';

export interface SqliteOptions {
  /** How long a write waits for another connection's lock before failing (default 5000 ms). */
  busyTimeoutMs?: number;
  /**
   * Read only (the CLI's audit commands, an examiner's copy): no writer thread, no migration,
   * every write refused; the file must exist and may be read-only on disk.
   */
  readOnly?: boolean;
}

/** What the writer connection runs with; `synchronous` 2 is FULL. */
export interface SqliteDurability {
  journalMode: string;
  synchronous: number;
  busyTimeout: number;
}

export interface SqliteLedgerStore extends LedgerStore {
  /** The durability settings read back from the writer connection (tests, `rampart check`). */
  durability(): Promise<SqliteDurability>;
}

export interface SqliteStorage extends Storage {
  readonly driver: 'sqlite';
  readonly ledger: SqliteLedgerStore;
  readonly path: string;
}

type Batch = readonly { stored: StoredRecord; priv: PrivatePart }[];

/**
 * Opens (creating and migrating if needed) the database at `path`. The folder must exist.
 *
 * @example
 * const storage = await openSqliteStorage('/var/lib/rampart/rampart.db');
 * const ledger = await createLedger(storage.ledger, { node: 'gw-1', maxBatch: 256 });
 */
export async function openSqliteStorage(path: string, opts: SqliteOptions = {}): Promise<SqliteStorage> {
  if (typeof path !== 'string' || path.length === 0) throw new TypeError('sqlite: path is required');
  const busyTimeoutMs = opts.busyTimeoutMs ?? 5000;
  const writer = opts.readOnly ? undefined : await SqliteWorkerClient.start({ path, role: 'writer', busyTimeoutMs });
  let reader: Promise<SqliteWorkerClient> | undefined;
  if (opts.readOnly) {
    // Started now, so that a missing file or one that is not a Rampart database fails the open.
    reader = SqliteWorkerClient.start({ path, role: 'reader', busyTimeoutMs, readOnlyFile: true });
    await reader;
  }
  let closed = false;
  let closing: Promise<void> | undefined;

  const read = async <T>(op: string, args?: unknown): Promise<T> => {
    if (closed) throw new Error('sqlite storage is closed');
    if (!reader) {
      reader = SqliteWorkerClient.start({ path, role: 'reader', busyTimeoutMs, readOnlyFile: opts.readOnly === true });
      // A failed start is retried on the next read instead of being remembered forever.
      reader.catch(() => {
        reader = undefined;
      });
    }
    return (await reader).call<T>(op, args);
  };
  const write = <T>(op: string, args?: unknown): Promise<T> =>
    writer ? writer.call<T>(op, args) : Promise.reject(new Error(`sqlite storage ${path} is open read-only`));
  /** Reads that must see the writer's latest commit go to the writer when there is one. */
  const current = <T>(op: string, args?: unknown): Promise<T> => (writer ? write<T>(op, args) : read<T>(op, args));

  const close = (): Promise<void> => {
    closing ??= (async () => {
      closed = true;
      const r = reader ? await reader.catch(() => undefined) : undefined;
      await Promise.all([r?.close(), writer?.close()]);
    })();
    return closing;
  };
  // The storage closes once every store on it is closed (or on close() itself).
  const openParts = new Set<'ledger' | 'keys' | 'admin'>(['ledger', 'keys', 'admin']);
  const closePart = async (part: 'ledger' | 'keys' | 'admin'): Promise<void> => {
    openParts.delete(part);
    if (openParts.size === 0) await close();
  };

  const ledger: SqliteLedgerStore = {
    // One writer thread takes the messages in order, one transaction each: the next batch can
    // wait in its queue while the previous one is fsynced.
    pipelineDepth: 2,
    async append(batch: Batch) {
      if (batch.length === 0) return;
      checkBatchContinues(batch[0]!.stored.record.seq - 1, batch);
      await write('append', { rows: appendRows(batch) });
    },
    // The head goes through the writer: it is what the next append is checked against.
    head: () => current<ChainHead | null>('head'),
    read: (fromSeq: number, limit: number) => read<StoredRecord[]>('read', { fromSeq, limit }),
    readPrivate: async (seqs: readonly number[]) => (seqs.length === 0 ? [] : read<PrivatePart[]>('readPrivate', { seqs: [...seqs] })),
    search: (query: LedgerQuery) => read<StoredRecord[]>('search', query),
    ping: async () => {
      await current('ping');
    },
    durability: () => current<SqliteDurability>('durability'),
    close: () => closePart('ledger'),
  };

  const keys: KeyStore = {
    insert: async (key: ApiKeyRecord) => {
      await write('keys.insert', { key });
    },
    get: (id: string) => read<ApiKeyRecord | undefined>('keys.get', { id }),
    list: () => read<ApiKeyRecord[]>('keys.list'),
    revoke: (id: string, at: number) => write<boolean>('keys.revoke', { id, at }),
    touch: async (uses: ReadonlyMap<string, number>) => {
      if (uses.size > 0) await write('keys.touch', { uses: new Map(uses) });
    },
    changesSince: (cursor: number) => read<{ cursor: number; keys: ApiKeyRecord[] }>('keys.changesSince', { cursor }),
    close: () => closePart('keys'),
  };

  // Admin reads go to the writer too: a session created a moment ago must be found by the next
  // request, and they are rare (logins and admin requests, not gateway traffic). Arguments are
  // checked here so that a bad value is a TypeError or RangeError at the caller, not a SQLite
  // error from the thread.
  const admin: AdminStore = {
    async insertUser(u: AdminUser) {
      await write('admin.insertUser', { user: newAdminUser(u) });
    },
    getUser: (id: string) => current<AdminUser | undefined>('admin.getUser', { id }),
    getUserByName: async (username: string) => current<AdminUser | undefined>('admin.getUserByName', { username: adminUsername(username) }),
    listUsers: () => current<AdminUser[]>('admin.listUsers'),
    updateUser: (u: AdminUser) => write<boolean>('admin.updateUser', { user: u }),
    useTotpStep: async (userId: string, step: number) => write<boolean>('admin.useTotpStep', { userId, step: totpStep(step) }),
    useRecoveryCode: (userId: string, codeHash: string) => write<boolean>('admin.useRecoveryCode', { userId, codeHash }),
    async recordLoginFailure(userId: string, at: number, lockAfter: number, lockMs: number) {
      const { lockUntil } = loginFailureArgs(at, lockAfter, lockMs);
      const row = await write<{ failed_logins: number; locked_until: number | null } | undefined>('admin.recordLoginFailure', { userId, lockAfter, lockUntil });
      if (!row) throw adminUserMissing(userId);
      return row.locked_until === null ? { failedLogins: row.failed_logins } : { failedLogins: row.failed_logins, lockedUntil: row.locked_until };
    },
    async clearLoginFailures(userId: string) {
      await write('admin.clearLoginFailures', { userId });
    },
    async addPasskey(userId: string, p: AdminPasskey) {
      await write('admin.addPasskey', { userId, passkey: newAdminPasskey(p) });
    },
    listPasskeys: (userId: string) => current<AdminPasskey[]>('admin.listPasskeys', { userId }),
    getPasskey: (credentialId: string) => current<{ userId: string; passkey: AdminPasskey } | undefined>('admin.getPasskey', { credentialId }),
    usePasskey: async (credentialId: string, newCounter: number, at: number) =>
      write<boolean>('admin.usePasskey', { credentialId, ...passkeyUseArgs(newCounter, at) }),
    async createSession(session: AdminSession) {
      await write('admin.createSession', { session });
    },
    getSession: (id: string) => current<AdminSession | undefined>('admin.getSession', { id }),
    async touchSession(id: string, at: number) {
      await write('admin.touchSession', { id, at });
    },
    async deleteSession(id: string) {
      await write('admin.deleteSession', { id });
    },
    deleteUserSessions: (userId: string) => write<number>('admin.deleteUserSessions', { userId }),
    close: () => closePart('admin'),
  };

  return { driver: 'sqlite', path, ledger, keys, admin, close };
}

/**
 * The batch as a flat list of strings, APPEND_STRIDE per record: copying strings to the worker
 * costs about half of copying the record objects, and the worker takes the search columns from
 * the canonical text itself (the hashed truth) off the event loop.
 */
function appendRows(batch: Batch): AppendRows {
  const rows: AppendRows = new Array(batch.length * APPEND_STRIDE);
  let i = 0;
  for (const { stored, priv } of batch) {
    rows[i++] = stored.canonical;
    rows[i++] = stored.leafHash;
    rows[i++] = stored.chainHash;
    rows[i++] = priv.personal !== undefined ? JSON.stringify(priv.personal) : null;
    rows[i++] = priv.personalSalt ?? null;
    rows[i++] = priv.requestBodySalt ?? null;
    rows[i++] = priv.responseBodySalt ?? null;
  }
  return rows;
}
