/**
 * SQLite schema, as numbered migrations recorded in `schema_version`. A later change adds a new
 * entry at the end and never edits an applied one; a database written by a newer Rampart is
 * refused rather than guessed at.
 *
 * Tables:
 * - ledger_records: the chained part. `canonical` is the exact text that was hashed; the other
 *   columns are copies of its fields for search only (verification never trusts them).
 * - ledger_private: personal fields and commitment salts, keyed by seq, stored apart so that
 *   they can be encrypted and purged without touching the chain.
 * - chain_head: one row, the last committed seq and chain hash, updated in the same transaction
 *   as the records, so a deleted or added tail shows up against it.
 * - api_keys and key_changes: scoped API keys and the change counter that `changesSince` polls.
 * - admin_users and admin_sessions: accounts and sessions of the admin plane (migration 3).
 * - admin_passkeys: the admins' WebAuthn credentials (migration 4).
 */
import { GENESIS_HASH } from '../../ledger/chain.js';

export interface Migration {
  version: number;
  description: string;
  sql: string;
}

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    description: 'ledger records, private parts, chain head, api keys',
    sql: `
      CREATE TABLE ledger_records (
        seq INTEGER PRIMARY KEY,
        ts INTEGER NOT NULL,
        type TEXT NOT NULL,
        request_id TEXT,
        api TEXT,
        operation_id TEXT,
        status INTEGER,
        outcome TEXT NOT NULL,
        reason TEXT,
        canonical TEXT NOT NULL,
        leaf_hash TEXT NOT NULL,
        chain_hash TEXT NOT NULL
      ) STRICT;
      CREATE INDEX ledger_records_ts ON ledger_records (ts);
      CREATE INDEX ledger_records_request_id ON ledger_records (request_id);
      CREATE INDEX ledger_records_operation_id ON ledger_records (operation_id);
      CREATE INDEX ledger_records_reason ON ledger_records (reason);
      CREATE INDEX ledger_records_status ON ledger_records (status);

      CREATE TABLE ledger_private (
        seq INTEGER PRIMARY KEY,
        principal TEXT,
        subject TEXT,
        client_address TEXT,
        personal_json TEXT,
        personal_salt TEXT,
        request_body_salt TEXT,
        response_body_salt TEXT
      ) STRICT;
      CREATE INDEX ledger_private_principal ON ledger_private (principal);
      CREATE INDEX ledger_private_subject ON ledger_private (subject);

      CREATE TABLE chain_head (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        seq INTEGER NOT NULL,
        chain_hash TEXT NOT NULL
      ) STRICT;
      INSERT INTO chain_head (id, seq, chain_hash) VALUES (1, 0, '${GENESIS_HASH}');

      CREATE TABLE api_keys (
        id TEXT PRIMARY KEY,
        name TEXT NOT NULL,
        hash TEXT NOT NULL,
        scopes TEXT NOT NULL,
        subject TEXT,
        created_at INTEGER NOT NULL,
        expires_at INTEGER,
        revoked_at INTEGER,
        last_used_at INTEGER,
        created_by TEXT,
        change_seq INTEGER NOT NULL
      ) STRICT;
      CREATE INDEX api_keys_change_seq ON api_keys (change_seq);

      CREATE TABLE key_changes (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        n INTEGER NOT NULL
      ) STRICT;
      INSERT INTO key_changes (id, n) VALUES (1, 0);
    `,
  },
  {
    // Each secondary index cost 2-6 us of CPU per record at commit (randomly placed keys such as
    // request ids the most), twice per request, against a budget of 50 us for all controls
    // (DESIGN.md). Searches are bounded by time (ledger_records_ts, which grows at its right
    // edge like the rowid) and filter the rest by scanning that range. Issue 4's encrypted
    // personal fields need keyed blind indexes rather than plain ones anyway.
    version: 2,
    description: 'drop the secondary ledger indexes from the commit path; keep ts',
    sql: `
      DROP INDEX IF EXISTS ledger_records_request_id;
      DROP INDEX IF EXISTS ledger_records_operation_id;
      DROP INDEX IF EXISTS ledger_records_reason;
      DROP INDEX IF EXISTS ledger_records_status;
      DROP INDEX IF EXISTS ledger_private_principal;
      DROP INDEX IF EXISTS ledger_private_subject;
    `,
  },
  {
    // The admin plane (issue 3). Usernames are stored lower-case, so UNIQUE is case-insensitive
    // whatever the collation. roles and recovery_code_hashes are JSON arrays. totp_last_step is
    // the replay guard (N63-4) and failed_logins / locked_until the lockout (N63-5); each changes
    // in one statement or one IMMEDIATE transaction of the writer. No foreign key from sessions
    // to users: SQLite would not enforce it without a pragma, and users are disabled, never
    // deleted (deleteUserSessions ends their sessions).
    version: 3,
    description: 'admin users and sessions',
    sql: `
      CREATE TABLE admin_users (
        id TEXT PRIMARY KEY,
        username TEXT NOT NULL UNIQUE,
        password_hash TEXT NOT NULL,
        roles TEXT NOT NULL,
        totp_secret_enc TEXT,
        totp_last_step INTEGER,
        recovery_code_hashes TEXT NOT NULL,
        disabled INTEGER NOT NULL CHECK (disabled IN (0, 1)),
        failed_logins INTEGER NOT NULL,
        locked_until INTEGER,
        created_at INTEGER NOT NULL,
        created_by TEXT,
        updated_at INTEGER NOT NULL
      ) STRICT;

      CREATE TABLE admin_sessions (
        id TEXT PRIMARY KEY,
        user_id TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        last_seen_at INTEGER NOT NULL,
        expires_at INTEGER NOT NULL,
        csrf_token TEXT NOT NULL,
        authenticated_at INTEGER NOT NULL
      ) STRICT;
      CREATE INDEX admin_sessions_user_id ON admin_sessions (user_id);
    `,
  },
  {
    // WebAuthn passkeys of the admins (N63-2), keyed by the credential id (unique across users,
    // as WebAuthn requires). transports is a JSON array. counter is the authenticator's signature
    // counter, moved forward by one conditional UPDATE per login (a cloned authenticator shows one
    // that does not grow). No foreign key to admin_users, as for sessions: addPasskey checks the
    // user in the same IMMEDIATE transaction, and users are never deleted.
    version: 4,
    description: 'admin passkeys',
    sql: `
      CREATE TABLE admin_passkeys (
        credential_id TEXT PRIMARY KEY,
        user_id TEXT NOT NULL,
        public_key TEXT NOT NULL,
        counter INTEGER NOT NULL,
        transports TEXT NOT NULL,
        name TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        last_used_at INTEGER
      ) STRICT;
      CREATE INDEX admin_passkeys_user_id ON admin_passkeys (user_id);
    `,
  },
  {
    // OAuth private_key_jwt (RFC 7523): a client may register a public key instead of using its
    // key as a shared secret at the token endpoint.
    version: 5,
    description: 'api_keys.public_key_jwk for private_key_jwt clients',
    sql: 'ALTER TABLE api_keys ADD COLUMN public_key_jwk TEXT;',
  },
];

/** The first version with the admin tables: a read-only open of an older file has no admin accounts. */
export const ADMIN_VERSION = 3;

/** The first version with admin passkeys: a read-only open of an older file has none to offer. */
export const PASSKEY_VERSION = 4;

export const LATEST_VERSION = MIGRATIONS[MIGRATIONS.length - 1]!.version;
