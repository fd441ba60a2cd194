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

/**
 * A private part as stored (ENC-5): an AES-256-GCM envelope (src/crypto/aead.ts) under the data
 * key `dekId` of its (record class, expiry day), with the record's seq in the AAD, so an envelope
 * moved to another row does not open. The store never sees the plaintext.
 */
export interface SealedPrivate {
  seq: number;
  dekId: string;
  sealed: Buffer;
}

/** A captured request or response body as stored, sealed like a private part (class `bodies`). */
export interface SealedBody {
  seq: number;
  part: 'request' | 'response';
  dekId: string;
  sealed: Buffer;
}

/**
 * A blind index entry (RSP-2): the first 16 bytes of HMAC-SHA256(index key, kind || 0x00 ||
 * value) for a principal, subject or object id of record `seq`, so the ledger can be searched by
 * who and whose without holding those values in clear (src/ledger/blind-index.ts).
 */
export interface IndexEntry {
  seq: number;
  ts: number;
  tag: Buffer;
}

/** One record of an append batch with everything stored beside it. */
export interface AppendItem {
  stored: StoredRecord;
  priv?: SealedPrivate;
  bodies?: readonly SealedBody[];
  index?: readonly IndexEntry[];
}

/**
 * A private part as read back: sealed (everything written since schema 6), or in clear for a
 * record written before encryption existed (schema <= 5, kept readable; never written now).
 */
export type StoredPrivate = { seq: number; sealed: SealedPrivate; plain?: undefined } | { seq: number; plain: PrivatePart; sealed?: undefined };

/** A stored record's key, hashed text and hashes, unparsed. */
export interface ChainRow {
  seq: number;
  canonical: string;
  leafHash: string;
  chainHash: string;
}

/**
 * A page of ChainRows packed into a few flat values (src/ledger/packed-chain.ts): crossing a
 * thread, a byte buffer (transferred, not copied), one string and two typed arrays cost a fraction
 * of four strings per row, and the verifier hashes each record where it lies. Row i has key
 * seqs[i]; its canonical text, as UTF-8, is the next lens[i] bytes of `bytes` (which begins with
 * one 0x00 byte, then the rows back to back); its stored leaf hash then chain hash are the 128
 * characters of `hashes` from 128 * i (a stored hash that is not 64 characters long is packed as
 * 64 'x', which no check accepts, so that row is then diagnosed from its real values).
 */
export interface PackedChainPage {
  seqs: Float64Array;
  lens: Uint32Array;
  bytes: Uint8Array;
  hashes: string;
}

export interface LedgerStore {
  /**
   * Append a batch atomically and durably (SQLite synchronous=FULL, PostgreSQL
   * synchronous_commit=on): when the promise resolves, every record, sealed private part, body and
   * index entry is on disk; when it rejects, none is. Sequence numbers must continue the head
   * exactly; a gap or overlap is refused.
   */
  append(batch: readonly AppendItem[]): Promise<void>;
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
  /**
   * The hashed text and hashes of seqs fromSeq.. in seq order, at most `limit`, without parsing the
   * text (verification reads millions of these; ./ledger/verify.ts parses only what it must).
   */
  readChain?(fromSeq: number, limit: number): Promise<ChainRow[]>;
  /**
   * The same rows as readChain, packed (a store whose reads cross a thread packs them on that
   * thread). Verification uses it when present, else packs readChain's rows itself.
   */
  readChainPacked?(fromSeq: number, limit: number): Promise<PackedChainPage>;
  /** Leaf hashes (hex) of seqs fromSeq.. in seq order, at most `limit` (Merkle trees, fast verification). */
  readLeaves(fromSeq: number, limit: number): Promise<{ seq: number; leafHash: string }[]>;
  /** Private parts for the given seqs (missing ones, and purged ones, are omitted). */
  readPrivate(seqs: readonly number[]): Promise<StoredPrivate[]>;
  /** Sealed bodies for the given seqs (missing or purged ones are omitted). */
  readBodies(seqs: readonly number[]): Promise<SealedBody[]>;
  search(query: LedgerQuery): Promise<StoredRecord[]>;
  /**
   * Index entries with any of `tags` in [fromTs, toTs], in (ts, seq) order, at most `limit`
   * (RSP-2: whose records, by whom). Served by the (tag, ts) index.
   */
  searchIndex(tags: readonly Buffer[], fromTs: number, toTs: number, limit: number): Promise<{ seq: number; ts: number; tag: Buffer }[]>;
  /**
   * The index entries of the given seqs, in (seq, ts, tag) order (served by the index on seq). A
   * replica that fell behind copies records from here with everything stored beside them
   * (AU-9(2), src/ledger/stream.ts); a store without it is caught up without index entries.
   */
  readIndex?(seqs: readonly number[]): Promise<IndexEntry[]>;
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
  /**
   * Blind index tags that must ALL be present for a record (principal, subject, object id: see
   * src/ledger/blind-index.ts); the caller computes them, the store never sees the values.
   */
  tags?: readonly Buffer[];
  operationId?: string;
  api?: string;
  status?: number;
  outcome?: Outcome;
  reason?: string;
  requestId?: string;
  /** Only records after this seq (paging oldest first). */
  afterSeq?: number;
  /** Only records before this seq (paging newest first, with `descending`). */
  beforeSeq?: number;
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
  /**
   * Marks the key revoked from `at`, which may lie ahead (a rotation's grace period: the old key
   * keeps working until then); false when no such key exists. Revoking again keeps the earlier
   * time, so an immediate revocation always overrides a scheduled one.
   */
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

/** A wrapped data key (ENC-5/6); see src/crypto/data-keys.ts for how keys are made and used. */
export interface WrappedDataKey {
  id: string;
  recordClass: string;
  /** UTC days since the epoch on which the items under this key expire. */
  expiryDay: number;
  /** The key-encryption key version that wrapped it (ENC-6: recorded so it stays unwrappable). */
  kekId: string;
  wrapped: Buffer;
  createdAt: number;
  /** Set for a legal hold's key (class 'hold'): never purged while the hold stands. */
  holdId?: string;
}

export interface DataKeyStore {
  getDataKey(id: string): Promise<WrappedDataKey | undefined>;
  /** The key for (class, day) that is not a hold key, if any. */
  findDataKey(recordClass: string, expiryDay: number): Promise<WrappedDataKey | undefined>;
  /** False (and nothing written) when a non-hold key for that (class, day) already exists: two nodes racing. */
  insertDataKey(k: WrappedDataKey): Promise<boolean>;
  listDataKeys(filter?: { recordClass?: string; expiryDayBefore?: number; kekId?: string }): Promise<WrappedDataKey[]>;
  /** Replaces kekId + wrapped of existing keys (KEK rotation). */
  rewrapDataKeys(updates: readonly { id: string; kekId: string; wrapped: Buffer }[]): Promise<void>;
}

/** A signed checkpoint as kept in the store (it is also published outside: src/ledger/publish.ts). */
export interface CheckpointRow {
  treeSize: number;
  ts: number;
  kind: 'periodic' | 'shutdown' | 'prune' | 'verify' | 'manual';
  /** hex Merkle root (RFC 9162) of records 1..treeSize. */
  rootHash: string;
  /** hex chain hash of record treeSize. */
  chainHash: string;
  /** The C2SP signed note, exactly as signed. */
  note: string;
  /** hex nodes of the Merkle compact range at treeSize, so a restart resumes without re-reading. */
  compactRange: string[];
}

/** A public key that signed checkpoints, kept for the whole retention period. */
export interface SigningKeyRow {
  /** C2SP note verifier key: name+hash+base64. */
  verifierKey: string;
  createdAt: number;
}

export interface CheckpointStore {
  /** Stores a checkpoint; a second one with the same (treeSize, kind) is ignored. */
  insertCheckpoint(c: CheckpointRow): Promise<void>;
  latestCheckpoint(kind?: CheckpointRow['kind']): Promise<CheckpointRow | undefined>;
  /** Checkpoints with fromSize <= treeSize <= toSize, in treeSize order. */
  listCheckpoints(fromSize: number, toSize: number, limit: number): Promise<CheckpointRow[]>;
  /** Ignores a key already stored. */
  insertSigningKey(k: SigningKeyRow): Promise<void>;
  listSigningKeys(): Promise<SigningKeyRow[]>;
}

/** What a legal hold covers; every given criterion must match (AND). */
export interface HoldCriteria {
  principal?: string;
  subject?: string;
  objectId?: string;
  operationId?: string;
  fromTs?: number;
  toTs?: number;
}

export interface LegalHold {
  id: string;
  /** Sealed JSON of HoldCriteria (the criteria name people), under the hold's own key. */
  criteriaSealed: Buffer;
  /** Data key of the hold (class 'hold'), which also re-wraps the held items. */
  dekId: string;
  createdAt: number;
  createdBy: string;
  liftedAt?: number;
  liftedBy?: string;
}

/** Where the ledger was pruned: records 1..seq are gone, verified from the signed prune checkpoint. */
export interface PruneState {
  seq: number;
  chainHash: string;
  /** hex nodes of the Merkle compact range of 1..seq (proofs for retained records need them). */
  compactRange: string[];
  /** The signed prune checkpoint (C2SP note). */
  note: string;
}

/**
 * Retention work (RSP-7, R17a4-1): runs under a role of its own in PostgreSQL (AU-9(4)); the
 * gateway's role can only insert and select.
 */
export interface RetentionStore {
  insertHold(h: LegalHold): Promise<void>;
  liftHold(id: string, at: number, by: string): Promise<boolean>;
  listHolds(): Promise<LegalHold[]>;
  /** Moves sealed private parts and bodies to another data key (legal hold re-wrap): each item's new envelope. */
  resealItems(items: { privates: readonly SealedPrivate[]; bodies: readonly SealedBody[] }): Promise<void>;
  /** Seqs and parts stored under a data key (what a purge of that key destroys). */
  itemsUnderKey(dekId: string): Promise<{ privates: number; bodies: number }>;
  /**
   * Crypto-shredding (RSP-7): deletes the data keys and every sealed private part, body and
   * index entry under them, in one transaction, and scrubs freed pages (SQLite secure_delete,
   * then a WAL checkpoint with truncation). Returns how many of each went.
   */
  purgeDataKeys(ids: readonly string[]): Promise<{ keys: number; privates: number; bodies: number; index: number }>;
  /** Deletes records 1..state.seq (their index entries too) and records the prune state, atomically. */
  pruneThrough(state: PruneState): Promise<number>;
  pruneState(): Promise<PruneState | undefined>;
}

/**
 * A configuration version as submitted (R17a4-3): its bundle holds no secrets. Issue 6: every
 * configuration the gateway runs is stored with its hash, time, the authenticated admin who
 * submitted it and its approvers, identities from the admin plane (never git metadata).
 */
export interface ConfigVersionRow {
  /** The configuration hash (src/config/hash.ts), 'sha256:<hex>': the id. */
  hash: string;
  createdAt: number;          // ms since epoch
  /** The admin plane username who submitted it (never git metadata). */
  author: string;
  /** The version's files as one gzip'd JSON bundle (the config text and the documents it names). */
  bundle: Buffer;
  profile: string;            // 'default' | 'finra' at submission
  /** The author's one-line description. */
  message: string;
}
/** One admin's approval of a configuration version (R17a4-3: who, when, what). */
export interface ConfigApprovalRow { hash: string; approver: string; at: number; comment: string }
/** A configuration version taking effect on a node; seq orders them (R17a4-7). */
export interface ConfigActivationRow { seq: number; hash: string; at: number; by: string; node: string }
/**
 * Configuration versions, approvals and activations (issue 6). Append-only by design: nothing
 * here updates or deletes, and in PostgreSQL the gateway's role may only SELECT and INSERT these
 * tables (AU-9(4) spirit: what was approved and applied cannot be rewritten by the gateway).
 * Whether enough approvers other than the author approved is the caller's rule (the profile's),
 * not the store's: the store keeps what happened.
 */
export interface ConfigStore {
  /** false when a version with this hash already exists (the stored one is unchanged). */
  putVersion(v: ConfigVersionRow): Promise<boolean>;
  getVersion(hash: string): Promise<ConfigVersionRow | undefined>;
  /**
   * Newest first, without bundles (createdAt descending, then hash in byte order). `limit` is a
   * positive integer (RangeError otherwise), at most 10 000 rows are returned.
   */
  listVersions(limit: number): Promise<Omit<ConfigVersionRow, 'bundle'>[]>;
  /**
   * false when this approver already approved this hash (the first approval stays); throws an
   * Error with code RAMPART_CONFIG_VERSION_UNKNOWN for an unknown hash (src/storage/rows.ts).
   */
  addApproval(a: ConfigApprovalRow): Promise<boolean>;
  /** In approval order (at, then approver in byte order); [] for an unknown hash. */
  approvals(hash: string): Promise<ConfigApprovalRow[]>;
  /** Appends; seq is assigned by the store (the returned row has it). */
  recordActivation(a: Omit<ConfigActivationRow, 'seq'>): Promise<ConfigActivationRow>;
  /** Newest first (seq descending); `limit` as for listVersions. */
  activations(limit: number): Promise<ConfigActivationRow[]>;
}

/** What a backup copy holds, read from the copy itself (src/ledger/backup.ts puts it in the manifest). */
export interface BackupCopy {
  schemaVersion: number;
  /** The copy's last record, or null when its ledger is empty. */
  head: ChainHead | null;
}

export interface Storage {
  readonly driver: 'sqlite' | 'postgres';
  readonly ledger: LedgerStore;
  readonly keys: KeyStore;
  readonly admin: AdminStore;
  readonly dataKeys: DataKeyStore;
  readonly checkpoints: CheckpointStore;
  readonly retention: RetentionStore;
  /** Configuration versions, approvals and activations (issue 6). */
  readonly configs: ConfigStore;
  /**
   * An online, consistent copy of the whole database into `destPath` (a file that must not exist;
   * its folder must), taken while the gateway keeps writing (R17a4-9, src/ledger/backup.ts).
   * SQLite only (its backup API); a PostgreSQL store is backed up with pg_dump instead.
   */
  backup?(destPath: string): Promise<BackupCopy>;
  /** Closes the whole storage (idempotent); closing ledger, keys and admin each does too, once all three are. */
  close(): Promise<void>;
}

export type { LedgerRecord, PrivatePart, StoredRecord };
