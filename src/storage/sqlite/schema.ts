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
 * - ledger_sealed, ledger_bodies, ledger_index, data_keys, ledger_checkpoints, ledger_signing_keys,
 *   legal_holds, ledger_prune: the encrypted, checkpointed, purgeable ledger (migration 6).
 * - config_versions, config_approvals, config_activations: every configuration submitted, who
 *   approved it and when it took effect on which node (issue 6, migration 7). Append-only.
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
  {
    // Issue 4, the ledger for 17a-4. Private parts and bodies are sealed (AES-256-GCM, ENC-5)
    // under data keys per (record class, expiry day) wrapped by a KEK (ENC-6); ledger_private
    // keeps the clear rows written before this migration, readable, and takes no new ones.
    // ledger_index is the blind index (keyed HMAC tags) for "whose records, by whom" (RSP-2):
    // WITHOUT ROWID with (tag, ts, seq) as its key, one B-tree that answers a tag over a time
    // range. Purging a day deletes its data key and its sealed rows (crypto-shredding, RSP-7);
    // secure_delete is set on the writer connection so freed pages are zeroed. Checkpoints and
    // the signing keys that signed them are kept apart from the chain (they sign it).
    version: 6,
    description: 'sealed private parts and bodies, blind index, data keys, checkpoints, signing keys, legal holds, prune state',
    sql: `
      CREATE TABLE ledger_sealed (
        seq INTEGER PRIMARY KEY,
        dek_id TEXT NOT NULL,
        sealed BLOB NOT NULL
      ) STRICT;
      CREATE INDEX ledger_sealed_dek ON ledger_sealed (dek_id);

      CREATE TABLE ledger_bodies (
        seq INTEGER NOT NULL,
        part TEXT NOT NULL CHECK (part IN ('request', 'response')),
        dek_id TEXT NOT NULL,
        sealed BLOB NOT NULL,
        PRIMARY KEY (seq, part)
      ) STRICT, WITHOUT ROWID;
      CREATE INDEX ledger_bodies_dek ON ledger_bodies (dek_id);

      CREATE TABLE ledger_index (
        tag BLOB NOT NULL,
        ts INTEGER NOT NULL,
        seq INTEGER NOT NULL,
        PRIMARY KEY (tag, ts, seq)
      ) STRICT, WITHOUT ROWID;
      CREATE INDEX ledger_index_seq ON ledger_index (seq);

      CREATE TABLE data_keys (
        id TEXT PRIMARY KEY,
        record_class TEXT NOT NULL,
        expiry_day INTEGER NOT NULL,
        kek_id TEXT NOT NULL,
        wrapped BLOB NOT NULL,
        created_at INTEGER NOT NULL,
        hold_id TEXT
      ) STRICT;
      CREATE UNIQUE INDEX data_keys_class_day ON data_keys (record_class, expiry_day) WHERE hold_id IS NULL;

      CREATE TABLE ledger_checkpoints (
        tree_size INTEGER NOT NULL,
        kind TEXT NOT NULL,
        ts INTEGER NOT NULL,
        root_hash TEXT NOT NULL,
        chain_hash TEXT NOT NULL,
        note TEXT NOT NULL,
        compact_range TEXT NOT NULL,
        PRIMARY KEY (tree_size, kind)
      ) STRICT;

      CREATE TABLE ledger_signing_keys (
        verifier_key TEXT PRIMARY KEY,
        created_at INTEGER NOT NULL
      ) STRICT;

      CREATE TABLE legal_holds (
        id TEXT PRIMARY KEY,
        criteria_sealed BLOB NOT NULL,
        dek_id TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        created_by TEXT NOT NULL,
        lifted_at INTEGER,
        lifted_by TEXT
      ) STRICT;

      CREATE TABLE ledger_prune (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        seq INTEGER NOT NULL,
        chain_hash TEXT NOT NULL,
        compact_range TEXT NOT NULL,
        note TEXT NOT NULL
      ) STRICT;
    `,
  },
  {
    // Issue 6, compliance as code: every configuration version with its hash, time, author and
    // bundle (the config text and the documents it names, gzip'd JSON, no secrets), the approvals
    // of admins and each activation on a node (R17a4-3: what, when, who). Append-only: the store
    // has no update or delete for these, so what was approved and applied stays as it was. The
    // foreign key is enforced on the writer connection (PRAGMA foreign_keys, ./worker.ts) and
    // checked first in addApproval's transaction, which gives the caller a code. Activations
    // name a hash without a foreign key: the store records what ran, and the caller decides
    // whether it must have been submitted first. seq is AUTOINCREMENT, so a number is never
    // handed out twice (R17a4-7).
    version: 7,
    description: 'configuration versions, approvals and activations',
    sql: `
      CREATE TABLE config_versions (
        hash TEXT PRIMARY KEY,
        created_at INTEGER NOT NULL,
        author TEXT NOT NULL,
        bundle BLOB NOT NULL,
        profile TEXT NOT NULL,
        message TEXT NOT NULL
      ) STRICT;
      CREATE INDEX config_versions_created_at ON config_versions (created_at);

      CREATE TABLE config_approvals (
        hash TEXT NOT NULL REFERENCES config_versions (hash),
        approver TEXT NOT NULL,
        at INTEGER NOT NULL,
        comment TEXT NOT NULL,
        PRIMARY KEY (hash, approver)
      ) STRICT, WITHOUT ROWID;

      CREATE TABLE config_activations (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        hash TEXT NOT NULL,
        at INTEGER NOT NULL,
        "by" TEXT NOT NULL,
        node TEXT NOT NULL
      ) STRICT;
    `,
  },
];

/** The first version with the admin tables: a read-only open of an older file has no admin accounts. */
export const ADMIN_VERSION = 3;

/** The first version with admin passkeys: a read-only open of an older file has none to offer. */
export const PASSKEY_VERSION = 4;

/** The first version with sealed private parts, checkpoints and retention tables. */
export const VAULT_VERSION = 6;

/** The first version with configuration versions: a read-only open of an older file has none. */
export const CONFIG_STORE_VERSION = 7;

export const LATEST_VERSION = MIGRATIONS[MIGRATIONS.length - 1]!.version;
