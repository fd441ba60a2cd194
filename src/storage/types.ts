/**
 * Storage interfaces. Every backend (SQLite, PostgreSQL; memory in unit tests) implements these,
 * and one contract suite (test/contract/) runs against each (STYLE: undici's cache-store tests).
 * All methods are async even where a driver is synchronous: better-sqlite3 sits behind a worker
 * so fsyncs never block the event loop.
 */
import type { LedgerRecord, PrivatePart, StoredRecord, RecordType, Outcome } from '../ledger/record.js';

export interface ChainHead {
  seq: number;
  chainHash: string;
}

export interface LedgerStore {
  /**
   * Append a batch atomically and durably (SQLite synchronous=FULL, PostgreSQL
   * synchronous_commit=on): when the promise resolves, every record is on disk; when it rejects,
   * none is. Sequence numbers must continue the head exactly; a gap or overlap is refused.
   */
  append(batch: readonly { stored: StoredRecord; priv: PrivatePart }[]): Promise<void>;
  /**
   * How many append batches the store accepts before the first has settled, committing them
   * strictly in the order received (1 when absent). The writer then sends the next batch while
   * the previous one commits; each batch still checks continuity against the committed head.
   */
  readonly pipelineDepth?: number;
  /** The last committed record's seq and chain hash, or null for an empty ledger. */
  head(): Promise<ChainHead | null>;
  /**
   * Records with seq >= fromSeq in seq order, at most `limit` of them. `record` is parsed from
   * `canonical`, except `record.seq`, which is the seq the row is stored under, so that
   * verification can tell a moved row from a rewritten one; a row whose text does not parse is
   * still returned (for verification to report), with its other fields best effort.
   */
  read(fromSeq: number, limit: number): Promise<StoredRecord[]>;
  /** Private parts for the given seqs (missing ones are omitted). */
  readPrivate(seqs: readonly number[]): Promise<PrivatePart[]>;
  search(query: LedgerQuery): Promise<StoredRecord[]>;
  /** Cheap liveness probe for readiness. */
  ping(): Promise<void>;
  close(): Promise<void>;
}

export interface LedgerQuery {
  /** UTC ms, inclusive. */
  fromTs?: number;
  /** UTC ms, inclusive. */
  toTs?: number;
  type?: RecordType;
  principal?: string;
  subject?: string;
  operationId?: string;
  api?: string;
  /** Matches any path parameter value. */
  objectId?: string;
  status?: number;
  outcome?: Outcome;
  reason?: string;
  requestId?: string;
  afterSeq?: number;
  limit: number;
  /** Newest first when true. */
  descending?: boolean;
}

export interface ApiKeyRecord {
  /** Public identifier, also embedded in the key string (not a secret). */
  id: string;
  name: string;
  /** hex HMAC-SHA256(server secret, key secret): a stolen database alone cannot test guesses. */
  hash: string;
  scopes: string[];
  /** The customer or tenant the key acts for. */
  subject?: string;
  createdAt: number;
  expiresAt?: number;
  revokedAt?: number;
  lastUsedAt?: number;
  /** Who created it (operator name or 'cli'). */
  createdBy?: string;
  /**
   * The client's public key (a JWK as JSON), for OAuth private_key_jwt client authentication
   * (RFC 7523): the client proves itself with a signed assertion instead of sending the key.
   */
  publicKeyJwk?: string;
}

export interface KeyStore {
  insert(key: ApiKeyRecord): Promise<void>;
  get(id: string): Promise<ApiKeyRecord | undefined>;
  list(): Promise<ApiKeyRecord[]>;
  /** Marks the key revoked; false when no such key exists. Revoking twice keeps the first time. */
  revoke(id: string, at: number): Promise<boolean>;
  /** Records last use (batched by the caller). */
  touch(uses: ReadonlyMap<string, number>): Promise<void>;
  /**
   * Keys inserted or revoked after `cursor` (a monotonic change counter; 0 = from the start),
   * and the new cursor. A running gateway polls this so changes take effect without a restart.
   */
  changesSince(cursor: number): Promise<{ cursor: number; keys: ApiKeyRecord[] }>;
  close(): Promise<void>;
}

/** Admin-plane roles (issue 3): each limited to what it needs. */
export type AdminRole = 'owner' | 'admin' | 'security' | 'compliance' | 'examiner';

export interface AdminUser {
  /** Random public identifier. */
  id: string;
  /** Unique, case-insensitive (stored lower-case). */
  username: string;
  /** argon2id PHC string (N63-7). */
  passwordHash: string;
  roles: AdminRole[];
  /** The TOTP secret, encrypted (AES-256-GCM under a key derived from the server secret); absent until enrolled. */
  totpSecretEnc?: string;
  /** The last TOTP time step accepted (replay protection, N63-4). */
  totpLastStep?: number;
  /** Hashes of the unused one-time recovery codes. */
  recoveryCodeHashes: string[];
  disabled: boolean;
  failedLogins: number;
  /** Locked out until this time (epoch ms) after too many failures (N63-5). */
  lockedUntil?: number;
  createdAt: number;
  createdBy?: string;
  updatedAt: number;
}

export interface AdminSession {
  /** hex SHA-256 of the session token (the token itself is only in the cookie). */
  id: string;
  userId: string;
  createdAt: number;
  lastSeenAt: number;
  /** Absolute expiry (epoch ms); the idle timeout is applied against lastSeenAt by the caller. */
  expiresAt: number;
  /** Anti-CSRF token bound to the session (sent back in a header on state-changing requests). */
  csrfToken: string;
  /** When the user last proved both factors (re-authentication for sensitive actions). */
  authenticatedAt: number;
}

/** A WebAuthn credential (passkey) of an admin: the phishing-resistant option (N63-2). */
export interface AdminPasskey {
  /** base64url credential id. */
  credentialId: string;
  /** base64url COSE public key. */
  publicKey: string;
  counter: number;
  transports: string[];
  /** What the admin called it ("laptop", "YubiKey"). */
  name: string;
  createdAt: number;
  lastUsedAt?: number;
}

export interface AdminStore {
  /**
   * Stores the username lower-cased (the stored user's username is then lower-case). Throws an
   * Error with code RAMPART_ADMIN_USER_EXISTS when the username is taken, in any case.
   */
  insertUser(u: AdminUser): Promise<void>;
  getUser(id: string): Promise<AdminUser | undefined>;
  /** Looks the name up lower-cased. */
  getUserByName(username: string): Promise<AdminUser | undefined>;
  /** Ordered by username (byte order, the same for every backend). */
  listUsers(): Promise<AdminUser[]>;
  /**
   * Replaces the mutable fields (everything but id, username, createdAt, createdBy); false when no such user.
   * A plain write of what the caller read: it also overwrites totpLastStep, recoveryCodeHashes and
   * failedLogins, so a login between that read and this write can be undone. Change those through
   * the atomic methods below; pass them here only as read just before, or to reset them on purpose.
   */
  updateUser(u: AdminUser): Promise<boolean>;
  /**
   * Accepts TOTP time step `step` for the user only if it is later than the last accepted one,
   * atomically (two concurrent logins with the same code: exactly one wins). N63-4. False for an
   * unknown user; a step that is not a non-negative integer is a RangeError.
   */
  useTotpStep(userId: string, step: number): Promise<boolean>;
  /** Removes one recovery code hash atomically; true when it was present (each code works once); false for an unknown user. */
  useRecoveryCode(userId: string, codeHash: string): Promise<boolean>;
  /**
   * Counts a failed login atomically; when the count reaches `lockAfter`, sets lockedUntil to
   * at + lockMs and resets the count. Returns the new state (lockedUntil as stored, so possibly a
   * past lock when this failure did not lock). N63-5. An unknown user is an Error with code
   * RAMPART_ADMIN_USER_NOT_FOUND; lockAfter < 1 is a RangeError.
   */
  recordLoginFailure(userId: string, at: number, lockAfter: number, lockMs: number): Promise<{ failedLogins: number; lockedUntil?: number }>;
  /** Clears the failure count after a successful login (lockedUntil stays as it is). */
  clearLoginFailures(userId: string): Promise<void>;
  /**
   * Registers a WebAuthn passkey for the user (N63-2); throws code RAMPART_ADMIN_PASSKEY_EXISTS for a known credential id
   * (of any user) and RAMPART_ADMIN_USER_NOT_FOUND for an unknown user id.
   */
  addPasskey(userId: string, p: AdminPasskey): Promise<void>;
  /** Ordered by createdAt, then credentialId (byte order, the same for every backend). */
  listPasskeys(userId: string): Promise<AdminPasskey[]>;
  /** The passkey with this credential id and its user (login without a username). */
  getPasskey(credentialId: string): Promise<{ userId: string; passkey: AdminPasskey } | undefined>;
  /**
   * Records a use, atomically: the signature counter must grow (a cloned authenticator shows a
   * counter that does not), except for authenticators that always report 0. False: refused, or
   * no such credential. A counter that is not a non-negative integer is a RangeError.
   */
  usePasskey(credentialId: string, newCounter: number, at: number): Promise<boolean>;
  /** Also deletes the user's sessions that expired by s.createdAt, so the table stays bounded. */
  createSession(s: AdminSession): Promise<void>;
  /** Sees a session created a moment ago by the same storage; expiry is the caller's to check. */
  getSession(id: string): Promise<AdminSession | undefined>;
  /** Moves lastSeenAt forward to `at` (never back: concurrent requests report out of order). */
  touchSession(id: string, at: number): Promise<void>;
  deleteSession(id: string): Promise<void>;
  /** Ends every session of a user (disabled, password changed, roles changed); returns how many. */
  deleteUserSessions(userId: string): Promise<number>;
  close(): Promise<void>;
}

export interface Storage {
  readonly driver: 'sqlite' | 'postgres';
  readonly ledger: LedgerStore;
  readonly keys: KeyStore;
  readonly admin: AdminStore;
  /** Closes the whole storage (idempotent); closing ledger, keys and admin each does too, once all three are. */
  close(): Promise<void>;
}

export type { LedgerRecord, PrivatePart, StoredRecord };
