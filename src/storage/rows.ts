/**
 * What every SQL backend shares: turning rows into the storage types, the WHERE clause of a
 * ledger search, and the argument checks and errors of the admin store. Each backend converts its
 * driver's types first (BIGINT strings from pg, JSON text from SQLite) and supplies its
 * placeholder style and its object-id test.
 */
import type { LedgerRecord, PersonalFields, PrivatePart, StoredRecord } from '../ledger/record.js';
import type { AdminPasskey, AdminRole, AdminSession, AdminUser, ApiKeyRecord, LedgerQuery } from './types.js';

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
  /** Adds a parameter and returns its placeholder (`?` or `$n`). */
  param(v: string | number): string;
  /** The condition that a path parameter of the private part equals the placeholder. */
  objectIdClause(placeholder: string): string;
}

/**
 * The search of `rampart audit search` as SQL over `ledger_records r` (joined with
 * `ledger_private p` when a personal filter is used). `tables` are the qualified table names.
 */
export function searchSelect(q: LedgerQuery, d: SearchDialect, tables: { records: string; private: string }): string {
  const where: string[] = [];
  const needPrivate = q.principal !== undefined || q.subject !== undefined || q.objectId !== undefined;
  const eq = (col: string, v: string | number | undefined): void => {
    if (v !== undefined) where.push(`${col} = ${d.param(v)}`);
  };
  if (q.fromTs !== undefined) where.push(`r.ts >= ${d.param(q.fromTs)}`);
  if (q.toTs !== undefined) where.push(`r.ts <= ${d.param(q.toTs)}`);
  if (q.afterSeq !== undefined) where.push(`r.seq > ${d.param(q.afterSeq)}`);
  eq('r.type', q.type);
  eq('r.operation_id', q.operationId);
  eq('r.api', q.api);
  eq('r.status', q.status);
  eq('r.outcome', q.outcome);
  eq('r.reason', q.reason);
  eq('r.request_id', q.requestId);
  eq('p.principal', q.principal);
  eq('p.subject', q.subject);
  if (q.objectId !== undefined) where.push(d.objectIdClause(d.param(q.objectId)));
  const limit = Math.max(1, Math.min(Math.floor(q.limit), 10_000));
  return (
    `SELECT ${RECORD_COLUMNS} FROM ${tables.records} r` +
    (needPrivate ? ` JOIN ${tables.private} p ON p.seq = r.seq` : '') +
    (where.length ? ` WHERE ${where.join(' AND ')}` : '') +
    ` ORDER BY r.seq ${q.descending ? 'DESC' : 'ASC'} LIMIT ${d.param(limit)}`
  );
}
