/**
 * SQLite storage: the ledger, keys, admin, data keys, checkpoints, retention and config stores over one
 * database file, driven through worker threads (./worker.ts). A writer worker performs every
 * write, each batch in one IMMEDIATE transaction with synchronous=FULL in WAL mode, so an append
 * resolves only once it is fsynced. A
 * reader worker, started on first use, serves reads and searches on a second connection, so a
 * long search never holds up a commit. Another process can read the same file at the same time;
 * the audit CLI opens it read-only (one reader thread, SQLITE_OPEN_READONLY, query_only), which
 * also works for a user who may only read the file.
 *
 * Sealed private parts, bodies and blind index tags (schema 6) travel to the writer as one
 * transferred buffer with the batch (./protocol.ts); the store never sees a private part in clear
 * and refuses one (ENC-5). Data keys are read from the writer's connection, so a key inserted a
 * moment ago is found. A purge runs on the writer, whose connection zeroes what it frees
 * (secure_delete) and then truncates the WAL (RSP-7, ./worker.ts).
 *
 * backup() copies the live database to a new file through SQLite's online backup API on the
 * reader's connection, in one step, so the copy is one consistent snapshot (R17a4-9).
 */
import { existsSync } from 'node:fs';
import type { StoredRecord } from '../../ledger/record.js';
import type {
  AdminPasskey, AdminSession, AdminStore, AdminUser, ApiKeyRecord, AppendItem, BackupCopy, ChainHead, ChainRow, CheckpointRow, CheckpointStore, ConfigActivationRow,
  ConfigApprovalRow, ConfigStore, ConfigVersionRow, DataKeyStore, IndexEntry, KeyStore,
  LedgerQuery, LedgerStore, LegalHold, PackedChainPage, PruneState, RetentionStore, SealedBody, SealedPrivate, SigningKeyRow, Storage, StoredPrivate, WrappedDataKey,
} from '../types.js';
import { checkBatchContinues } from '../../ledger/chain.js';
import {
  adminUsername, adminUserMissing, checkAppendItems, configListLimit, loginFailureArgs, newAdminPasskey, newAdminUser, newCheckpoint, newConfigActivation,
  newConfigApproval, newConfigVersion, newDataKey, newHold, passkeyUseArgs,
  pruneArgs, resealArgs, rewrapArgs, searchIndexArgs, searchTags, totpStep,
} from '../rows.js';
import { SqliteWorkerClient } from './client.js';
import { SHAPE_STRIDE, TEXT_STRIDE, type AppendMessage } from './protocol.js';

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
  backup(destPath: string): Promise<BackupCopy>;
}


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
  /** The reader once started: a read is then posted to its thread at once, not a microtask later. */
  let readerReady: SqliteWorkerClient | undefined;
  if (opts.readOnly) {
    // Started now, so that a missing file or one that is not a Rampart database fails the open.
    reader = SqliteWorkerClient.start({ path, role: 'reader', busyTimeoutMs, readOnlyFile: true });
    readerReady = await reader;
  }
  let closed = false;
  let closing: Promise<void> | undefined;

  const read = <T>(op: string, args?: unknown): Promise<T> => {
    if (closed) return Promise.reject(new Error('sqlite storage is closed'));
    // Posting synchronously matters to pipelines (verification reads page N+1, then hashes page N
    // on this thread): a post deferred to a microtask would wait for the hashing to finish.
    if (readerReady) return readerReady.call<T>(op, args);
    if (!reader) {
      reader = SqliteWorkerClient.start({ path, role: 'reader', busyTimeoutMs, readOnlyFile: opts.readOnly === true });
      reader.then(
        (c) => {
          readerReady = c;
        },
        // A failed start is retried on the next read instead of being remembered forever.
        () => {
          reader = undefined;
        },
      );
    }
    return reader.then((c) => c.call<T>(op, args));
  };
  const write = <T>(op: string, args?: unknown, transfer?: ArrayBuffer[]): Promise<T> =>
    writer ? writer.call<T>(op, args, transfer) : Promise.reject(new Error(`sqlite storage ${path} is open read-only`));
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
    async append(batch: readonly AppendItem[]) {
      if (batch.length === 0) return;
      if (!writer) throw new Error(`sqlite storage ${path} is open read-only`);
      checkBatchContinues(batch[0]!.stored.record.seq - 1, batch);
      checkAppendItems(batch);
      const m = appendMessage(batch);
      await write('append', m, m.bytes.byteLength > 0 ? [m.bytes.buffer as ArrayBuffer] : undefined);
    },
    // The head goes through the writer: it is what the next append is checked against.
    head: () => current<ChainHead | null>('head'),
    read: (fromSeq: number, limit: number) => read<StoredRecord[]>('read', { fromSeq, limit }),
    async readChain(fromSeq: number, limit: number) {
      const flat = await read<(number | string)[]>('readChain', { fromSeq, limit });
      const out = new Array<ChainRow>(flat.length / 4);
      for (let i = 0; i < flat.length; i += 4) out[i / 4] = { seq: flat[i] as number, canonical: flat[i + 1] as string, leafHash: flat[i + 2] as string, chainHash: flat[i + 3] as string };
      return out;
    },
    readChainPacked: (fromSeq: number, limit: number) => read<PackedChainPage>('readChainPacked', { fromSeq, limit }),
    async readLeaves(fromSeq: number, limit: number) {
      const flat = await read<(number | string)[]>('readLeaves', { fromSeq, limit });
      const out = new Array<{ seq: number; leafHash: string }>(flat.length / 2);
      for (let i = 0; i < flat.length; i += 2) out[i / 2] = { seq: flat[i] as number, leafHash: flat[i + 1] as string };
      return out;
    },
    async readPrivate(seqs: readonly number[]) {
      if (seqs.length === 0) return [];
      const rows = await read<StoredPrivate[]>('readPrivate', { seqs: [...seqs] });
      for (const r of rows) if (r.sealed) r.sealed.sealed = asBuffer(r.sealed.sealed);
      return rows;
    },
    async readBodies(seqs: readonly number[]) {
      if (seqs.length === 0) return [];
      const rows = await read<SealedBody[]>('readBodies', { seqs: [...seqs] });
      for (const r of rows) r.sealed = asBuffer(r.sealed);
      return rows;
    },
    search: async (query: LedgerQuery) => {
      searchTags(query);
      return read<StoredRecord[]>('search', query);
    },
    async readIndex(seqs: readonly number[]) {
      if (seqs.length === 0) return [];
      const rows = await read<IndexEntry[]>('readIndex', { seqs: [...seqs] });
      for (const r of rows) r.tag = asBuffer(r.tag);
      return rows;
    },
    async searchIndex(tags: readonly Buffer[], fromTs: number, toTs: number, limit: number) {
      const a = searchIndexArgs(tags, fromTs, toTs, limit);
      if (tags.length === 0) return [];
      const rows = await read<{ seq: number; ts: number; tag: Buffer }[]>('searchIndex', { tags: [...tags], fromTs, toTs, limit: a.limit });
      for (const r of rows) r.tag = asBuffer(r.tag);
      return rows;
    },
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

  // Data keys are read from the writer when there is one: a key inserted a moment ago (by this
  // node, or found taken by another) must be seen by the next call (ENC-5/6).
  const fixKey = (k: WrappedDataKey | undefined): WrappedDataKey | undefined => {
    if (k) k.wrapped = asBuffer(k.wrapped);
    return k;
  };
  const dataKeys: DataKeyStore = {
    getDataKey: async (id: string) => fixKey(await current<WrappedDataKey | undefined>('dataKeys.get', { id })),
    findDataKey: async (recordClass: string, expiryDay: number) => fixKey(await current<WrappedDataKey | undefined>('dataKeys.find', { recordClass, expiryDay })),
    insertDataKey: async (k: WrappedDataKey) => write<boolean>('dataKeys.insert', { key: { ...newDataKey(k), wrapped: ownBytes(k.wrapped) } }),
    async listDataKeys(filter?: { recordClass?: string; expiryDayBefore?: number; kekId?: string }) {
      const keys = await current<WrappedDataKey[]>('dataKeys.list', { ...filter });
      for (const k of keys) fixKey(k);
      return keys;
    },
    async rewrapDataKeys(updates: readonly { id: string; kekId: string; wrapped: Buffer }[]) {
      rewrapArgs(updates);
      if (updates.length > 0) await write('dataKeys.rewrap', { updates: updates.map((u) => ({ id: u.id, kekId: u.kekId, wrapped: ownBytes(u.wrapped) })) });
    },
  };

  const checkpoints: CheckpointStore = {
    async insertCheckpoint(c: CheckpointRow) {
      await write('checkpoints.insert', { c: newCheckpoint(c) });
    },
    latestCheckpoint: (kind?: CheckpointRow['kind']) => current<CheckpointRow | undefined>('checkpoints.latest', { kind }),
    listCheckpoints: (fromSize: number, toSize: number, limit: number) =>
      current<CheckpointRow[]>('checkpoints.list', { fromSize, toSize, limit: Math.max(1, Math.min(Math.floor(limit), 10_000)) }),
    async insertSigningKey(k: SigningKeyRow) {
      if (typeof k.verifierKey !== 'string' || k.verifierKey.length === 0) throw new TypeError('signing key: verifierKey is required');
      await write('checkpoints.insertSigningKey', { k });
    },
    listSigningKeys: () => current<SigningKeyRow[]>('checkpoints.signingKeys'),
  };

  const retention: RetentionStore = {
    async insertHold(h: LegalHold) {
      await write('retention.insertHold', { h: { ...newHold(h), criteriaSealed: ownBytes(h.criteriaSealed) } });
    },
    /** True when this call lifted the hold; false for an unknown or already lifted one (the first lift's time and person stay). */
    liftHold: (id: string, at: number, by: string) => write<boolean>('retention.liftHold', { id, at, by }),
    async listHolds() {
      const holds = await current<LegalHold[]>('retention.listHolds');
      for (const h of holds) h.criteriaSealed = asBuffer(h.criteriaSealed);
      return holds;
    },
    /** All or nothing: an item that is not stored (purged meanwhile) fails the call with RAMPART_RESEAL_MISSING. */
    async resealItems(items: { privates: readonly SealedPrivate[]; bodies: readonly SealedBody[] }) {
      resealArgs(items);
      await write('retention.reseal', {
        privates: items.privates.map((p) => ({ seq: p.seq, dekId: p.dekId, sealed: ownBytes(p.sealed) })),
        bodies: items.bodies.map((b) => ({ seq: b.seq, part: b.part, dekId: b.dekId, sealed: ownBytes(b.sealed) })),
      });
    },
    itemsUnderKey: (dekId: string) => current<{ privates: number; bodies: number }>('retention.itemsUnderKey', { dekId }),
    /** Refuses (RAMPART_PURGE_HELD, nothing deleted) a key of a legal hold that stands. */
    purgeDataKeys: async (ids: readonly string[]) =>
      ids.length === 0 ? { keys: 0, privates: 0, bodies: 0, index: 0 } : write<{ keys: number; privates: number; bodies: number; index: number }>('retention.purge', { ids: [...ids] }),
    /**
     * Also deletes the clear private parts (from before encryption) of the pruned records. Refuses
     * RAMPART_PRUNE_BEYOND_HEAD, RAMPART_PRUNE_BACKWARDS, and RAMPART_PRUNE_MISMATCH when
     * state.chainHash is not the stored chain hash of state.seq.
     */
    pruneThrough: async (state: PruneState) => write<number>('retention.prune', { state: pruneArgs(state) }),
    pruneState: () => current<PruneState | undefined>('retention.pruneState'),
  };

  // Configuration versions (issue 6): rare, small reads, so they go to the writer like the admin
  // plane's (a version put a moment ago is found by the next call). Append-only: no update or
  // delete exists here. A read-only open of a file from before migration 7 answers with nothing.
  const configs: ConfigStore = {
    async putVersion(v: ConfigVersionRow) {
      const c = newConfigVersion(v);
      return write<boolean>('configs.put', { v: { ...c, bundle: ownBytes(c.bundle) } });
    },
    async getVersion(hash: string) {
      const v = await current<ConfigVersionRow | undefined>('configs.get', { hash });
      if (v) v.bundle = asBuffer(v.bundle);
      return v;
    },
    listVersions: async (limit: number) => current<Omit<ConfigVersionRow, 'bundle'>[]>('configs.list', { limit: configListLimit(limit) }),
    /** Throws RAMPART_CONFIG_VERSION_UNKNOWN (nothing written) for a hash no version has. */
    addApproval: async (a: ConfigApprovalRow) => write<boolean>('configs.approve', { a: newConfigApproval(a) }),
    approvals: (hash: string) => current<ConfigApprovalRow[]>('configs.approvals', { hash }),
    recordActivation: async (a: Omit<ConfigActivationRow, 'seq'>) => write<ConfigActivationRow>('configs.activate', { a: newConfigActivation(a) }),
    activations: async (limit: number) => current<ConfigActivationRow[]>('configs.activations', { limit: configListLimit(limit) }),
  };

  /**
   * On the reader's connection (read-only opens included, such as the CLI's beside a running
   * gateway), copied in one step: a consistent snapshot that never holds up the writer (./worker.ts).
   */
  const backup = async (destPath: string): Promise<BackupCopy> => {
    if (typeof destPath !== 'string' || destPath.length === 0) throw new TypeError('sqlite backup: destPath is required');
    if (existsSync(destPath)) throw Object.assign(new Error(`sqlite backup: ${destPath} exists; a backup is only written to a new file`), { code: 'EEXIST' });
    return read<BackupCopy>('backup', { dest: destPath });
  };

  return { driver: 'sqlite', path, ledger, keys, admin, dataKeys, checkpoints, retention, configs, backup, close };
}

/** A Uint8Array that crossed the thread boundary (structured clone drops Buffer's prototype), as a Buffer over the same bytes. */
function asBuffer(u: Uint8Array): Buffer {
  return Buffer.isBuffer(u) ? u : Buffer.from(u.buffer, u.byteOffset, u.byteLength);
}

/**
 * A copy of `b` with an ArrayBuffer of its own: posting a view clones its whole ArrayBuffer, and a
 * small Buffer is usually a view on Node's shared 8 KiB pool (other data of this process).
 */
function ownBytes(b: Uint8Array): Uint8Array {
  return new Uint8Array(b);
}

/** The batch as an AppendMessage (see ./protocol.ts for why it is flat and has one buffer). */
function appendMessage(batch: readonly AppendItem[]): AppendMessage {
  const text = new Array<string>(batch.length * TEXT_STRIDE);
  const textLens = new Array<number>(batch.length * TEXT_STRIDE);
  const shape = new Array<number>(batch.length * SHAPE_STRIDE);
  const names: string[] = [];
  const ts: number[] = [];
  const sizes: number[] = [];
  const parts: Uint8Array[] = [];
  let total = 0;
  const add = (b: Uint8Array): void => {
    parts.push(b);
    sizes.push(b.byteLength);
    total += b.byteLength;
  };
  let i = 0;
  let j = 0;
  for (const { stored, priv, bodies, index } of batch) {
    textLens[i] = stored.canonical.length;
    text[i++] = stored.canonical;
    textLens[i] = stored.leafHash.length;
    text[i++] = stored.leafHash;
    textLens[i] = stored.chainHash.length;
    text[i++] = stored.chainHash;
    shape[j++] = priv ? 1 : 0;
    shape[j++] = bodies?.length ?? 0;
    shape[j++] = index?.length ?? 0;
    if (priv) {
      names.push(priv.dekId);
      add(priv.sealed);
    }
    for (const b of bodies ?? []) {
      names.push(b.part, b.dekId);
      add(b.sealed);
    }
    for (const e of index ?? []) {
      ts.push(e.ts);
      add(e.tag);
    }
  }
  // Not from the pool (allocUnsafeSlow): its ArrayBuffer is transferred to the worker.
  const bytes = total === 0 ? new Uint8Array(0) : Buffer.allocUnsafeSlow(total);
  let off = 0;
  for (const p of parts) {
    const n = p.byteLength;
    // TypedArray#set costs about 0.4 us a call whatever the size; a 16-byte tag copies faster by hand.
    if (n < 64) for (let k = 0; k < n; k++) bytes[off + k] = p[k]!;
    else bytes.set(p, off);
    off += n;
  }
  return { text: text.join(''), textLens, shape, names, ts, sizes, bytes };
}
