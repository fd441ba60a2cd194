/**
 * What every SQL backend shares: turning rows into the storage types, the WHERE clause of a
 * ledger search, and the argument checks and errors of the admin store and of the encrypted,
 * checkpointed, purgeable ledger (schema 6). Each backend converts its driver's types first
 * (BIGINT strings from pg, JSON text from SQLite) and supplies its placeholder style.
 */
import type { ErrorCode } from '../core/errors.js';
import type { LedgerRecord, PersonalFields, PrivatePart, StoredRecord } from '../ledger/record.js';
import type {
  AdminPasskey, AdminRole, AdminSession, AdminUser, ApiKeyRecord, AppendItem, CheckpointRow, ConfigActivationRow, ConfigApprovalRow, ConfigVersionRow,
  LedgerQuery, LegalHold, PruneState, SealedBody, SealedPrivate, WrappedDataKey,
} from './types.js';

export interface RecordRowValues {
  seq: number;
  ts: number;
  type: string;
  outcome: string;
  canonical: string;
  leaf_hash: string;
  chain_hash: string;
}

/**
 * A stored row as a StoredRecord: `record` is parsed from the canonical text, with `seq` taken
 * from the row's key so that verification can compare the two. A row whose text does not parse
 * (tampering) still comes back, described by its columns, for verification to report.
 */
export function storedFromRow(row: RecordRowValues): StoredRecord {
  let record: LedgerRecord;
  try {
    const parsed: unknown = JSON.parse(row.canonical);
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new Error('not an object');
    record = { ...(parsed as LedgerRecord), seq: row.seq };
  } catch {
    record = { v: 1, seq: row.seq, ts: row.ts, type: row.type as LedgerRecord['type'], node: '', outcome: row.outcome as LedgerRecord['outcome'], configHash: '' };
  }
  return { record, canonical: row.canonical, leafHash: row.leaf_hash, chainHash: row.chain_hash };
}

export interface PrivateRowValues {
  seq: number;
  personal: PersonalFields | null;
  personal_salt: string | null;
  request_body_salt: string | null;
  response_body_salt: string | null;
}

export function privateFromRow(row: PrivateRowValues): PrivatePart {
  const p: PrivatePart = { seq: row.seq };
  if (row.personal !== null) p.personal = row.personal;
  if (row.personal_salt !== null) p.personalSalt = row.personal_salt;
  if (row.request_body_salt !== null) p.requestBodySalt = row.request_body_salt;
  if (row.response_body_salt !== null) p.responseBodySalt = row.response_body_salt;
  return p;
}

export interface KeyRowValues {
  id: string;
  name: string;
  hash: string;
  scopes: string[];
  subject: string | null;
  created_at: number;
  expires_at: number | null;
  revoked_at: number | null;
  last_used_at: number | null;
  created_by: string | null;
  /** Absent on a database from before migration 5 (read-only opens). */
  public_key_jwk?: string | null;
}

export function keyFromRow(row: KeyRowValues): ApiKeyRecord {
  const k: ApiKeyRecord = { id: row.id, name: row.name, hash: row.hash, scopes: row.scopes, createdAt: row.created_at };
  if (row.subject !== null) k.subject = row.subject;
  if (row.expires_at !== null) k.expiresAt = row.expires_at;
  if (row.revoked_at !== null) k.revokedAt = row.revoked_at;
  if (row.last_used_at !== null) k.lastUsedAt = row.last_used_at;
  if (row.created_by !== null) k.createdBy = row.created_by;
  if (row.public_key_jwk !== undefined && row.public_key_jwk !== null) k.publicKeyJwk = row.public_key_jwk;
  return k;
}

/** An admin_users row with the driver's types converted (arrays parsed, BIGINT as number, 0/1 as boolean). */
export interface AdminUserRowValues {
  id: string;
  username: string;
  password_hash: string;
  roles: string[];
  totp_secret_enc: string | null;
  totp_last_step: number | null;
  recovery_code_hashes: string[];
  disabled: boolean;
  failed_logins: number;
  locked_until: number | null;
  created_at: number;
  created_by: string | null;
  updated_at: number;
}

export function adminUserFromRow(row: AdminUserRowValues): AdminUser {
  const u: AdminUser = {
    id: row.id,
    username: row.username,
    passwordHash: row.password_hash,
    roles: row.roles as AdminRole[],
    recoveryCodeHashes: row.recovery_code_hashes,
    disabled: row.disabled,
    failedLogins: row.failed_logins,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
  if (row.totp_secret_enc !== null) u.totpSecretEnc = row.totp_secret_enc;
  if (row.totp_last_step !== null) u.totpLastStep = row.totp_last_step;
  if (row.locked_until !== null) u.lockedUntil = row.locked_until;
  if (row.created_by !== null) u.createdBy = row.created_by;
  return u;
}

export interface AdminSessionRowValues {
  id: string;
  user_id: string;
  created_at: number;
  last_seen_at: number;
  expires_at: number;
  csrf_token: string;
  authenticated_at: number;
}

export function adminSessionFromRow(row: AdminSessionRowValues): AdminSession {
  return {
    id: row.id,
    userId: row.user_id,
    createdAt: row.created_at,
    lastSeenAt: row.last_seen_at,
    expiresAt: row.expires_at,
    csrfToken: row.csrf_token,
    authenticatedAt: row.authenticated_at,
  };
}

/** An admin_passkeys row with the driver's types converted (transports parsed, BIGINT as number). */
export interface AdminPasskeyRowValues {
  credential_id: string;
  user_id: string;
  public_key: string;
  counter: number;
  transports: string[];
  name: string;
  created_at: number;
  last_used_at: number | null;
}

export function adminPasskeyFromRow(row: AdminPasskeyRowValues): AdminPasskey {
  const p: AdminPasskey = {
    credentialId: row.credential_id,
    publicKey: row.public_key,
    counter: row.counter,
    transports: row.transports,
    name: row.name,
    createdAt: row.created_at,
  };
  if (row.last_used_at !== null) p.lastUsedAt = row.last_used_at;
  return p;
}

export const ADMIN_USER_COLUMNS =
  'id, username, password_hash, roles, totp_secret_enc, totp_last_step, recovery_code_hashes, disabled, failed_logins, locked_until, created_at, created_by, updated_at';
export const ADMIN_SESSION_COLUMNS = 'id, user_id, created_at, last_seen_at, expires_at, csrf_token, authenticated_at';
export const ADMIN_PASSKEY_COLUMNS = 'credential_id, user_id, public_key, counter, transports, name, created_at, last_used_at';

/**
 * Usernames are unique regardless of case (AdminUser.username): both backends store and look up
 * the same lower-case form, computed here rather than by each database's own lower(), which
 * differ beyond ASCII.
 */
export function adminUsername(name: string): string {
  if (typeof name !== 'string') throw new TypeError('admin user: username must be a string');
  return name.toLowerCase();
}

/** The user as insertUser stores it: lower-case username, which must not be empty. */
export function newAdminUser(u: AdminUser): AdminUser {
  const username = adminUsername(u.username);
  if (username.length === 0) throw new TypeError('admin user: username is required');
  return { ...u, username };
}

/**
 * Arguments of recordLoginFailure, checked before they reach SQL, and the lock-out time (N63-5).
 * A count that can never reach the threshold would disable the lockout silently.
 */
export function loginFailureArgs(at: number, lockAfter: number, lockMs: number): { lockUntil: number } {
  if (!Number.isSafeInteger(lockAfter) || lockAfter < 1) throw new RangeError(`admin lockout: lockAfter must be a positive integer (got ${lockAfter})`);
  if (!Number.isSafeInteger(at) || !Number.isSafeInteger(lockMs) || lockMs < 0 || !Number.isSafeInteger(at + lockMs)) {
    throw new RangeError('admin lockout: at and lockMs must be integer milliseconds');
  }
  return { lockUntil: at + lockMs };
}

/** A TOTP time step as stored (N63-4): a non-negative integer. */
export function totpStep(step: number): number {
  if (!Number.isSafeInteger(step) || step < 0) throw new RangeError(`admin TOTP: step must be a non-negative integer (got ${step})`);
  return step;
}

/** A WebAuthn signature counter as stored (N63-2): a non-negative integer. */
export function passkeyCounter(counter: number): number {
  if (!Number.isSafeInteger(counter) || counter < 0) throw new RangeError(`admin passkey: counter must be a non-negative integer (got ${counter})`);
  return counter;
}

/** The passkey as addPasskey stores it, checked before it reaches SQL. */
export function newAdminPasskey(p: AdminPasskey): AdminPasskey {
  if (typeof p.credentialId !== 'string' || p.credentialId.length === 0) throw new TypeError('admin passkey: credentialId is required');
  if (typeof p.publicKey !== 'string' || p.publicKey.length === 0) throw new TypeError('admin passkey: publicKey is required');
  if (!Array.isArray(p.transports) || !p.transports.every((x) => typeof x === 'string')) throw new TypeError('admin passkey: transports must be an array of strings');
  passkeyCounter(p.counter);
  return p;
}

/** Arguments of usePasskey, checked before they reach SQL. */
export function passkeyUseArgs(newCounter: number, at: number): { counter: number; at: number } {
  if (!Number.isSafeInteger(at)) throw new RangeError(`admin passkey: at must be integer milliseconds (got ${at})`);
  return { counter: passkeyCounter(newCounter), at };
}

/** The error insertUser reports for a taken username (both backends, same code). */
export function adminUserExists(username: string, cause?: unknown): Error {
  return Object.assign(new Error(`admin user '${username}' already exists`), { code: 'RAMPART_ADMIN_USER_EXISTS' }, cause === undefined ? {} : { cause });
}

/** The error addPasskey reports for a credential id that is already registered (to any user). */
export function adminPasskeyExists(credentialId: string, cause?: unknown): Error {
  return Object.assign(new Error(`admin passkey '${credentialId}' already exists`), { code: 'RAMPART_ADMIN_PASSKEY_EXISTS' }, cause === undefined ? {} : { cause });
}

/** The error recordLoginFailure and addPasskey report for an unknown user id. */
export function adminUserMissing(id: string): Error {
  return Object.assign(new Error(`admin user '${id}' does not exist`), { code: 'RAMPART_ADMIN_USER_NOT_FOUND' });
}

export const RECORD_COLUMNS = 'r.seq, r.ts, r.type, r.outcome, r.canonical, r.leaf_hash, r.chain_hash';

export interface SearchDialect {
  /** Adds a parameter and returns its placeholder (`?` or `$n`); a Buffer binds as BLOB / BYTEA. */
  param(v: string | number | Buffer): string;
}

/**
 * The search of `rampart audit search` as SQL over `ledger_records r`. Each blind index tag
 * (RSP-2) becomes `r.seq IN (SELECT seq FROM ledger_index WHERE tag = ? ...)`, bounded by the
 * query's time range too, so it is one range of the (tag, ts, seq) key; all tags must match.
 * `tables` are the qualified table names. Placeholders are added in the order they appear in the
 * text (SQLite's `?` are positional).
 */
export function searchSelect(q: LedgerQuery, d: SearchDialect, tables: { records: string; index: string }): string {
  const where: string[] = [];
  const eq = (col: string, v: string | number | undefined): void => {
    if (v !== undefined) where.push(`${col} = ${d.param(v)}`);
  };
  if (q.fromTs !== undefined) where.push(`r.ts >= ${d.param(q.fromTs)}`);
  if (q.toTs !== undefined) where.push(`r.ts <= ${d.param(q.toTs)}`);
  if (q.afterSeq !== undefined) where.push(`r.seq > ${d.param(q.afterSeq)}`);
  if (q.beforeSeq !== undefined) where.push(`r.seq < ${d.param(q.beforeSeq)}`);
  eq('r.type', q.type);
  eq('r.operation_id', q.operationId);
  eq('r.api', q.api);
  eq('r.status', q.status);
  eq('r.outcome', q.outcome);
  eq('r.reason', q.reason);
  eq('r.request_id', q.requestId);
  for (const tag of searchTags(q)) {
    let sub = `r.seq IN (SELECT i.seq FROM ${tables.index} i WHERE i.tag = ${d.param(tag)}`;
    if (q.fromTs !== undefined) sub += ` AND i.ts >= ${d.param(q.fromTs)}`;
    if (q.toTs !== undefined) sub += ` AND i.ts <= ${d.param(q.toTs)}`;
    where.push(`${sub})`);
  }
  const limit = Math.max(1, Math.min(Math.floor(q.limit), 10_000));
  return (
    `SELECT ${RECORD_COLUMNS} FROM ${tables.records} r` +
    (where.length ? ` WHERE ${where.join(' AND ')}` : '') +
    ` ORDER BY r.seq ${q.descending ? 'DESC' : 'ASC'} LIMIT ${d.param(limit)}`
  );
}

/** The query's blind index tags, checked (a caller bug must not turn into a search for nothing). */
export function searchTags(q: LedgerQuery): readonly Buffer[] {
  const tags = q.tags ?? [];
  if (!Array.isArray(tags)) throw new TypeError('ledger search: tags must be an array of Buffers');
  // A Uint8Array too: that is what a Buffer becomes on its way to the SQLite worker thread.
  for (const t of tags) if (!isBytes(t) || t.length === 0) throw new TypeError('ledger search: every tag must be a non-empty Buffer');
  return tags;
}

/** Arguments of searchIndex, checked before they reach SQL; the limit is clamped like search's. */
export function searchIndexArgs(tags: readonly Buffer[], fromTs: number, toTs: number, limit: number): { limit: number } {
  searchTags({ tags, limit });
  if (!Number.isSafeInteger(fromTs) || !Number.isSafeInteger(toTs)) throw new RangeError('ledger searchIndex: fromTs and toTs must be integer milliseconds');
  return { limit: Math.max(1, Math.min(Math.floor(limit), 10_000)) };
}

// ---------------------------------------------------------------------------------------------
// The encrypted, checkpointed, purgeable ledger (schema 6): checks and row mapping shared by both
// backends, so that both refuse the same things with the same codes.

/**
 * Checks what an append stores beside the chain before it goes near SQL: a private part or body
 * must be sealed (a data key id and envelope bytes; the store never takes clear private parts,
 * ENC-5), a body's part is request or response, an index tag is non-empty bytes and its ts an
 * integer. Seq labels are checkBatchContinues' job (src/ledger/chain.ts).
 */
export function checkAppendItems(batch: readonly AppendItem[]): void {
  for (const item of batch) {
    const seq = item.stored?.record?.seq;
    if (item.priv !== undefined) sealedArg(item.priv, `the private part of seq ${seq}`);
    if (item.bodies !== undefined) {
      if (!Array.isArray(item.bodies)) throw new TypeError(`ledger append: bodies of seq ${seq} must be an array`);
      for (const b of item.bodies) {
        if (b.part !== 'request' && b.part !== 'response') throw new TypeError(`ledger append: a body of seq ${seq} has part '${String(b.part)}' (request or response)`);
        sealedArg(b, `the ${b.part} body of seq ${seq}`);
      }
    }
    if (item.index !== undefined) {
      if (!Array.isArray(item.index)) throw new TypeError(`ledger append: index of seq ${seq} must be an array`);
      for (const e of item.index) {
        if (!isBytes(e.tag) || e.tag.length === 0) throw new TypeError(`ledger append: an index entry of seq ${seq} has no tag bytes`);
        if (!Number.isSafeInteger(e.ts)) throw new TypeError(`ledger append: an index entry of seq ${seq} has ts ${String(e.ts)} (integer milliseconds)`);
      }
    }
  }
}

function isBytes(v: unknown): v is Uint8Array {
  return v instanceof Uint8Array;
}

function sealedArg(x: { dekId: string; sealed: Buffer }, what: string): void {
  if (typeof x.dekId !== 'string' || x.dekId.length === 0) throw new TypeError(`ledger: ${what} has no data key id (only sealed parts are stored, ENC-5)`);
  if (!isBytes(x.sealed) || x.sealed.length === 0) throw new TypeError(`ledger: ${what} has no sealed bytes (only sealed parts are stored, ENC-5)`);
}

/** The items of resealItems, checked like an append's. */
export function resealArgs(items: { privates: readonly SealedPrivate[]; bodies: readonly SealedBody[] }): void {
  for (const p of items.privates) {
    if (!Number.isSafeInteger(p.seq)) throw new TypeError(`reseal: seq ${String(p.seq)} is not an integer`);
    sealedArg(p, `the private part of seq ${p.seq}`);
  }
  for (const b of items.bodies) {
    if (!Number.isSafeInteger(b.seq)) throw new TypeError(`reseal: seq ${String(b.seq)} is not an integer`);
    if (b.part !== 'request' && b.part !== 'response') throw new TypeError(`reseal: a body of seq ${b.seq} has part '${String(b.part)}' (request or response)`);
    sealedArg(b, `the ${b.part} body of seq ${b.seq}`);
  }
}

/** A data key as insertDataKey stores it, checked before it reaches SQL. */
export function newDataKey(k: WrappedDataKey): WrappedDataKey {
  if (typeof k.id !== 'string' || k.id.length === 0) throw new TypeError('data key: id is required');
  if (typeof k.recordClass !== 'string' || k.recordClass.length === 0) throw new TypeError(`data key ${k.id}: recordClass is required`);
  if (!Number.isSafeInteger(k.expiryDay) || k.expiryDay < 0 || k.expiryDay > 2_147_483_647) throw new RangeError(`data key ${k.id}: expiryDay must be a day number (got ${k.expiryDay})`);
  if (typeof k.kekId !== 'string' || k.kekId.length === 0) throw new TypeError(`data key ${k.id}: kekId is required (ENC-6)`);
  if (!isBytes(k.wrapped) || k.wrapped.length === 0) throw new TypeError(`data key ${k.id}: wrapped bytes are required`);
  if (!Number.isSafeInteger(k.createdAt)) throw new RangeError(`data key ${k.id}: createdAt must be integer milliseconds`);
  return k;
}

/** The updates of rewrapDataKeys, checked. */
export function rewrapArgs(updates: readonly { id: string; kekId: string; wrapped: Buffer }[]): void {
  for (const u of updates) {
    if (typeof u.id !== 'string' || typeof u.kekId !== 'string' || u.kekId.length === 0) throw new TypeError('rewrap: id and kekId are required');
    if (!isBytes(u.wrapped) || u.wrapped.length === 0) throw new TypeError(`rewrap: data key ${u.id} has no wrapped bytes`);
  }
}

const HEX64 = /^[0-9a-f]{64}$/;

/** A prune state as pruneThrough stores it, checked. */
export function pruneArgs(state: PruneState): PruneState {
  if (!Number.isSafeInteger(state.seq) || state.seq < 1) throw new RangeError(`prune: seq must be a positive integer (got ${String(state.seq)})`);
  if (typeof state.chainHash !== 'string' || !HEX64.test(state.chainHash)) throw new TypeError('prune: chainHash must be 64 lower-case hex digits');
  if (!Array.isArray(state.compactRange) || !state.compactRange.every((h) => typeof h === 'string' && HEX64.test(h))) {
    throw new TypeError('prune: compactRange must be an array of 64-digit hex hashes');
  }
  if (typeof state.note !== 'string' || state.note.length === 0) throw new TypeError('prune: the signed prune checkpoint note is required');
  return state;
}

/** A checkpoint as insertCheckpoint stores it, checked. */
export function newCheckpoint(c: CheckpointRow): CheckpointRow {
  if (!Number.isSafeInteger(c.treeSize) || c.treeSize < 0) throw new RangeError(`checkpoint: treeSize must be a non-negative integer (got ${String(c.treeSize)})`);
  if (!CHECKPOINT_KINDS.has(c.kind)) throw new TypeError(`checkpoint: unknown kind '${String(c.kind)}'`);
  if (!Number.isSafeInteger(c.ts)) throw new RangeError('checkpoint: ts must be integer milliseconds');
  if (!Array.isArray(c.compactRange) || !c.compactRange.every((h) => typeof h === 'string')) throw new TypeError('checkpoint: compactRange must be an array of hex strings');
  return c;
}

const CHECKPOINT_KINDS: ReadonlySet<string> = new Set<CheckpointRow['kind']>(['periodic', 'shutdown', 'prune', 'verify', 'manual']);

/** A data_keys row with the driver's types converted (BLOB/BYTEA as Buffer, BIGINT as number). */
export interface DataKeyRowValues {
  id: string;
  record_class: string;
  expiry_day: number;
  kek_id: string;
  wrapped: Buffer;
  created_at: number;
  hold_id: string | null;
}

export function dataKeyFromRow(row: DataKeyRowValues): WrappedDataKey {
  const k: WrappedDataKey = { id: row.id, recordClass: row.record_class, expiryDay: row.expiry_day, kekId: row.kek_id, wrapped: row.wrapped, createdAt: row.created_at };
  if (row.hold_id !== null) k.holdId = row.hold_id;
  return k;
}

export const DATA_KEY_COLUMNS = 'id, record_class, expiry_day, kek_id, wrapped, created_at, hold_id';

/** A ledger_checkpoints row with compact_range parsed (SQLite JSON text, PostgreSQL TEXT[]). */
export interface CheckpointRowValues {
  tree_size: number;
  kind: string;
  ts: number;
  root_hash: string;
  chain_hash: string;
  note: string;
  compact_range: string[];
}

export function checkpointFromRow(row: CheckpointRowValues): CheckpointRow {
  return {
    treeSize: row.tree_size,
    ts: row.ts,
    kind: row.kind as CheckpointRow['kind'],
    rootHash: row.root_hash,
    chainHash: row.chain_hash,
    note: row.note,
    compactRange: row.compact_range,
  };
}

export const CHECKPOINT_COLUMNS = 'tree_size, kind, ts, root_hash, chain_hash, note, compact_range';

export interface LegalHoldRowValues {
  id: string;
  criteria_sealed: Buffer;
  dek_id: string;
  created_at: number;
  created_by: string;
  lifted_at: number | null;
  lifted_by: string | null;
}

export function holdFromRow(row: LegalHoldRowValues): LegalHold {
  const h: LegalHold = { id: row.id, criteriaSealed: row.criteria_sealed, dekId: row.dek_id, createdAt: row.created_at, createdBy: row.created_by };
  if (row.lifted_at !== null) h.liftedAt = row.lifted_at;
  if (row.lifted_by !== null) h.liftedBy = row.lifted_by;
  return h;
}

export const HOLD_COLUMNS = 'id, criteria_sealed, dek_id, created_at, created_by, lifted_at, lifted_by';

/** A legal hold as insertHold stores it, checked. */
export function newHold(h: LegalHold): LegalHold {
  if (typeof h.id !== 'string' || h.id.length === 0) throw new TypeError('legal hold: id is required');
  if (!isBytes(h.criteriaSealed) || h.criteriaSealed.length === 0) throw new TypeError(`legal hold ${h.id}: criteriaSealed bytes are required`);
  if (typeof h.dekId !== 'string' || h.dekId.length === 0) throw new TypeError(`legal hold ${h.id}: dekId is required`);
  if (typeof h.createdBy !== 'string' || h.createdBy.length === 0) throw new TypeError(`legal hold ${h.id}: createdBy is required`);
  if (!Number.isSafeInteger(h.createdAt)) throw new RangeError(`legal hold ${h.id}: createdAt must be integer milliseconds`);
  return h;
}

/** The error insertHold reports for a hold id that exists. */
export function holdExists(id: string, cause?: unknown): Error {
  return Object.assign(new Error(`legal hold '${id}' already exists`), { code: 'RAMPART_HOLD_EXISTS' }, cause === undefined ? {} : { cause });
}

/** pruneThrough past the last committed record: there is nothing there to prune. */
export function pruneBeyondHead(seq: number, headSeq: number): Error {
  return Object.assign(new Error(`prune refused: seq ${seq} is beyond the ledger's head (seq ${headSeq})`), { code: 'RAMPART_PRUNE_BEYOND_HEAD' });
}

/** pruneThrough to a point before the recorded one: pruned records cannot come back. */
export function pruneBackwards(seq: number, prunedSeq: number): Error {
  return Object.assign(new Error(`prune refused: the ledger is already pruned through seq ${prunedSeq}; seq ${seq} would move the prune point backwards`), { code: 'RAMPART_PRUNE_BACKWARDS' });
}

/**
 * The prune state's chain hash is not the stored chain hash of its seq: verification of the
 * retained part would start from a wrong anchor forever, so nothing is deleted.
 */
export function pruneMismatch(seq: number, detail: string): Error {
  return Object.assign(new Error(`prune refused: the prune state for seq ${seq} does not match the ledger (${detail})`), { code: 'RAMPART_PRUNE_MISMATCH' });
}

/** purgeDataKeys named the key of a legal hold that stands (R17a4-1: no disposal under a hold). */
export function purgeHeld(ids: readonly string[]): Error {
  return Object.assign(new Error(`purge refused: data key ${ids.join(', ')} belongs to a legal hold that has not been lifted`), { code: 'RAMPART_PURGE_HELD' });
}

/** resealItems named an item that is not stored (purged or pruned meanwhile): nothing was changed. */
export function resealMissing(what: string): Error {
  return Object.assign(new Error(`reseal refused: ${what} is not stored (purged or pruned?); nothing was changed`), { code: 'RAMPART_RESEAL_MISSING' });
}

/** The message for a read that needs schema 6 on a database opened read-only at an older version. */
export function beforeVault(where: string, version: number, what: string): Error {
  return Object.assign(new Error(`${where} has schema version ${version}, from before the encrypted ledger (${what}); start the gateway once to migrate it`), { code: 'RAMPART_STORAGE_SCHEMA_OLD' });
}

// ---------------------------------------------------------------------------------------------
// Configuration versions, approvals and activations (issue 6): checks, row mapping and errors
// shared by both backends, so both refuse the same things with the same codes.

/** The code addApproval reports for a hash no version is stored under (404 in src/core/errors.ts). */
export const CONFIG_VERSION_UNKNOWN: ErrorCode = 'RAMPART_CONFIG_VERSION_UNKNOWN';

/** addApproval named a hash that no stored version has (nothing was written). */
export function configVersionUnknown(hash: string, cause?: unknown): Error {
  return Object.assign(new Error(`configuration version '${hash}' is not stored`), { code: CONFIG_VERSION_UNKNOWN }, cause === undefined ? {} : { cause });
}

/** What src/config/hash.ts produces: the only form of id a configuration version has. */
const CONFIG_HASH = /^sha256:[0-9a-f]{64}$/;

function configHashArg(hash: unknown, what: string): string {
  if (typeof hash !== 'string' || !CONFIG_HASH.test(hash)) throw new TypeError(`${what}: hash must be 'sha256:' and 64 lower-case hex digits (src/config/hash.ts)`);
  return hash;
}

function nameArg(v: unknown, what: string): string {
  if (typeof v !== 'string' || v.length === 0) throw new TypeError(`${what} is required (an admin plane identity, R17a4-3)`);
  return v;
}

function msArg(v: unknown, what: string): number {
  if (!Number.isSafeInteger(v)) throw new RangeError(`${what} must be integer milliseconds (got ${String(v)})`);
  return v as number;
}

/** A version as putVersion stores it, checked before it reaches SQL (the author names who submitted it, R17a4-3). */
export function newConfigVersion(v: ConfigVersionRow): ConfigVersionRow {
  configHashArg(v.hash, 'config version');
  msArg(v.createdAt, `config version ${v.hash}: createdAt`);
  nameArg(v.author, `config version ${v.hash}: author`);
  if (!isBytes(v.bundle) || v.bundle.length === 0) throw new TypeError(`config version ${v.hash}: bundle bytes are required`);
  nameArg(v.profile, `config version ${v.hash}: profile`);
  if (typeof v.message !== 'string') throw new TypeError(`config version ${v.hash}: message must be a string`);
  return v;
}

/** An approval as addApproval stores it, checked. */
export function newConfigApproval(a: ConfigApprovalRow): ConfigApprovalRow {
  configHashArg(a.hash, 'config approval');
  nameArg(a.approver, `config approval of ${a.hash}: approver`);
  msArg(a.at, `config approval of ${a.hash}: at`);
  if (typeof a.comment !== 'string') throw new TypeError(`config approval of ${a.hash}: comment must be a string`);
  return a;
}

/** An activation as recordActivation stores it, checked (its seq is the store's to assign). */
export function newConfigActivation(a: Omit<ConfigActivationRow, 'seq'>): Omit<ConfigActivationRow, 'seq'> {
  configHashArg(a.hash, 'config activation');
  msArg(a.at, `config activation of ${a.hash}: at`);
  nameArg(a.by, `config activation of ${a.hash}: by`);
  nameArg(a.node, `config activation of ${a.hash}: node`);
  return { hash: a.hash, at: a.at, by: a.by, node: a.node };
}

/** The limit of listVersions and activations: a positive integer, at most 10 000 rows (caller misuse is a RangeError). */
export function configListLimit(limit: number): number {
  if (!Number.isSafeInteger(limit) || limit < 1) throw new RangeError(`config store: limit must be a positive integer (got ${String(limit)})`);
  return Math.min(limit, 10_000);
}

/** A config_versions row with the driver's types converted (BLOB/BYTEA as Buffer, BIGINT as number); no bundle in a listing. */
export interface ConfigVersionRowValues {
  hash: string;
  created_at: number;
  author: string;
  profile: string;
  message: string;
}

export const CONFIG_VERSION_COLUMNS = 'hash, created_at, author, profile, message';

export function configVersionFromRow(row: ConfigVersionRowValues): Omit<ConfigVersionRow, 'bundle'> {
  return { hash: row.hash, createdAt: row.created_at, author: row.author, profile: row.profile, message: row.message };
}

export interface ConfigApprovalRowValues {
  hash: string;
  approver: string;
  at: number;
  comment: string;
}

export function configApprovalFromRow(row: ConfigApprovalRowValues): ConfigApprovalRow {
  return { hash: row.hash, approver: row.approver, at: row.at, comment: row.comment };
}

export const CONFIG_APPROVAL_COLUMNS = 'hash, approver, at, comment';

export interface ConfigActivationRowValues {
  seq: number;
  hash: string;
  at: number;
  by: string;
  node: string;
}

export function configActivationFromRow(row: ConfigActivationRowValues): ConfigActivationRow {
  return { seq: row.seq, hash: row.hash, at: row.at, by: row.by, node: row.node };
}

/** `by` is an SQL keyword: quoted, so both dialects read it as a column name. */
export const CONFIG_ACTIVATION_COLUMNS = 'seq, hash, at, "by", node';
