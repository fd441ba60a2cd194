/**
 * PostgreSQL schema, in its own schema (config `storage.postgres.schema`, default `rampart`), as
 * numbered migrations recorded in `schema_version`, applied in one transaction under an advisory
 * lock so that two gateways starting together do not both migrate. Never edit an applied
 * migration; add one.
 *
 * Same tables as the SQLite backend (see ../sqlite/schema.ts), with BIGINT seq and ts, JSONB for
 * the personal fields, and `object_ids` (the path parameter values) as a GIN-indexed array for
 * object-id search. The gateway's role needs INSERT and SELECT on the ledger tables and UPDATE on
 * chain_head only; purge runs under another role (AU-9(4): ./roles.ts sets both up). The admin
 * tables (migrations 3 and 4) take SELECT, INSERT, UPDATE and DELETE (sessions end by deletion);
 * the configuration tables (migration 8) SELECT and INSERT only.
 */
import { GENESIS_HASH } from '../../ledger/chain.js';

export interface PgMigration {
  version: number;
  description: string;
  /** SQL for the given (already quoted) schema identifier. */
  sql(s: string): string;
}

export const PG_MIGRATIONS: readonly PgMigration[] = [
  {
    version: 1,
    description: 'ledger records, private parts, chain head, api keys',
    sql: (s) => `
      CREATE TABLE ${s}.ledger_records (
        seq BIGINT PRIMARY KEY,
        ts BIGINT NOT NULL,
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
      );
      CREATE INDEX ledger_records_ts ON ${s}.ledger_records (ts);
      CREATE INDEX ledger_records_request_id ON ${s}.ledger_records (request_id);
      CREATE INDEX ledger_records_operation_id ON ${s}.ledger_records (operation_id);
      CREATE INDEX ledger_records_reason ON ${s}.ledger_records (reason);
      CREATE INDEX ledger_records_status ON ${s}.ledger_records (status);

      CREATE TABLE ${s}.ledger_private (
        seq BIGINT PRIMARY KEY,
        principal TEXT,
        subject TEXT,
        client_address TEXT,
        object_ids TEXT[] NOT NULL DEFAULT '{}',
        personal_json JSONB,
        personal_salt TEXT,
        request_body_salt TEXT,
        response_body_salt TEXT
      );
      CREATE INDEX ledger_private_principal ON ${s}.ledger_private (principal);
      CREATE INDEX ledger_private_subject ON ${s}.ledger_private (subject);
      CREATE INDEX ledger_private_object_ids ON ${s}.ledger_private USING GIN (object_ids);

      CREATE TABLE ${s}.chain_head (
        id SMALLINT PRIMARY KEY CHECK (id = 1),
        seq BIGINT NOT NULL,
        chain_hash TEXT NOT NULL
      );
      INSERT INTO ${s}.chain_head (id, seq, chain_hash) VALUES (1, 0, '${GENESIS_HASH}');

      CREATE TABLE ${s}.api_keys (
        id TEXT PRIMARY KEY,
        name TEXT NOT NULL,
        hash TEXT NOT NULL,
        scopes TEXT[] NOT NULL,
        subject TEXT,
        created_at BIGINT NOT NULL,
        expires_at BIGINT,
        revoked_at BIGINT,
        last_used_at BIGINT,
        created_by TEXT,
        change_seq BIGINT NOT NULL
      );
      CREATE INDEX api_keys_change_seq ON ${s}.api_keys (change_seq);

      CREATE TABLE ${s}.key_changes (
        id SMALLINT PRIMARY KEY CHECK (id = 1),
        n BIGINT NOT NULL
      );
      INSERT INTO ${s}.key_changes (id, n) VALUES (1, 0);
    `,
  },
  {
    // As in the SQLite schema (migration 2 there): the secondary indexes were most of the cost of
    // an append; searches are bounded by ts and scan within the range.
    version: 2,
    description: 'drop the secondary ledger indexes from the commit path; keep ts',
    sql: (s) => `
      DROP INDEX IF EXISTS ${s}.ledger_records_request_id;
      DROP INDEX IF EXISTS ${s}.ledger_records_operation_id;
      DROP INDEX IF EXISTS ${s}.ledger_records_reason;
      DROP INDEX IF EXISTS ${s}.ledger_records_status;
      DROP INDEX IF EXISTS ${s}.ledger_private_principal;
      DROP INDEX IF EXISTS ${s}.ledger_private_subject;
      DROP INDEX IF EXISTS ${s}.ledger_private_object_ids;
    `,
  },
  {
    // As in the SQLite schema (migration 3 there): the admin plane's accounts and sessions, with
    // TEXT[] for roles and recovery code hashes and BIGINT epoch milliseconds. Usernames are
    // stored lower-case, so UNIQUE is case-insensitive whatever the collation.
    version: 3,
    description: 'admin users and sessions',
    sql: (s) => `
      CREATE TABLE ${s}.admin_users (
        id TEXT PRIMARY KEY,
        username TEXT NOT NULL UNIQUE,
        password_hash TEXT NOT NULL,
        roles TEXT[] NOT NULL,
        totp_secret_enc TEXT,
        totp_last_step BIGINT,
        recovery_code_hashes TEXT[] NOT NULL,
        disabled BOOLEAN NOT NULL,
        failed_logins INTEGER NOT NULL,
        locked_until BIGINT,
        created_at BIGINT NOT NULL,
        created_by TEXT,
        updated_at BIGINT NOT NULL
      );

      CREATE TABLE ${s}.admin_sessions (
        id TEXT PRIMARY KEY,
        user_id TEXT NOT NULL,
        created_at BIGINT NOT NULL,
        last_seen_at BIGINT NOT NULL,
        expires_at BIGINT NOT NULL,
        csrf_token TEXT NOT NULL,
        authenticated_at BIGINT NOT NULL
      );
      CREATE INDEX admin_sessions_user_id ON ${s}.admin_sessions (user_id);
    `,
  },
  {
    // As in the SQLite schema (migration 4 there): the admins' WebAuthn passkeys, with TEXT[]
    // transports and a BIGINT signature counter. No foreign key to admin_users, as for sessions:
    // addPasskey inserts only when the user exists, in the same statement, and users are never
    // deleted.
    version: 4,
    description: 'admin passkeys',
    sql: (s) => `
      CREATE TABLE ${s}.admin_passkeys (
        credential_id TEXT PRIMARY KEY,
        user_id TEXT NOT NULL,
        public_key TEXT NOT NULL,
        counter BIGINT NOT NULL,
        transports TEXT[] NOT NULL,
        name TEXT NOT NULL,
        created_at BIGINT NOT NULL,
        last_used_at BIGINT
      );
      CREATE INDEX admin_passkeys_user_id ON ${s}.admin_passkeys (user_id);
    `,
  },
  {
    // As SQLite migration 5: private_key_jwt clients (RFC 7523).
    version: 5,
    description: 'api_keys.public_key_jwk for private_key_jwt clients',
    sql: (s) => `ALTER TABLE ${s}.api_keys ADD COLUMN public_key_jwk TEXT;`,
  },
  {
    // As SQLite migration 6 (read its comment): sealed private parts and bodies, the blind index,
    // data keys, checkpoints, signing keys, legal holds, prune state. BYTEA for envelopes and
    // tags. AU-9(4): the gateway's role gets INSERT and SELECT on these, the retention role DELETE
    // and UPDATE; grants are made by applyPgRoles (src/storage/postgres/roles.ts), not here,
    // because role names are the operator's.
    version: 6,
    description: 'sealed private parts and bodies, blind index, data keys, checkpoints, signing keys, legal holds, prune state',
    sql: (s) => `
      CREATE TABLE ${s}.ledger_sealed (
        seq BIGINT PRIMARY KEY,
        dek_id TEXT NOT NULL,
        sealed BYTEA NOT NULL
      );
      CREATE INDEX ledger_sealed_dek ON ${s}.ledger_sealed (dek_id);

      CREATE TABLE ${s}.ledger_bodies (
        seq BIGINT NOT NULL,
        part TEXT NOT NULL CHECK (part IN ('request', 'response')),
        dek_id TEXT NOT NULL,
        sealed BYTEA NOT NULL,
        PRIMARY KEY (seq, part)
      );
      CREATE INDEX ledger_bodies_dek ON ${s}.ledger_bodies (dek_id);

      CREATE TABLE ${s}.ledger_index (
        tag BYTEA NOT NULL,
        ts BIGINT NOT NULL,
        seq BIGINT NOT NULL,
        PRIMARY KEY (tag, ts, seq)
      );
      CREATE INDEX ledger_index_seq ON ${s}.ledger_index (seq);

      CREATE TABLE ${s}.data_keys (
        id TEXT PRIMARY KEY,
        record_class TEXT NOT NULL,
        expiry_day INTEGER NOT NULL,
        kek_id TEXT NOT NULL,
        wrapped BYTEA NOT NULL,
        created_at BIGINT NOT NULL,
        hold_id TEXT
      );
      CREATE UNIQUE INDEX data_keys_class_day ON ${s}.data_keys (record_class, expiry_day) WHERE hold_id IS NULL;

      CREATE TABLE ${s}.ledger_checkpoints (
        tree_size BIGINT NOT NULL,
        kind TEXT NOT NULL,
        ts BIGINT NOT NULL,
        root_hash TEXT NOT NULL,
        chain_hash TEXT NOT NULL,
        note TEXT NOT NULL,
        compact_range TEXT[] NOT NULL,
        PRIMARY KEY (tree_size, kind)
      );

      CREATE TABLE ${s}.ledger_signing_keys (
        verifier_key TEXT PRIMARY KEY,
        created_at BIGINT NOT NULL
      );

      CREATE TABLE ${s}.legal_holds (
        id TEXT PRIMARY KEY,
        criteria_sealed BYTEA NOT NULL,
        dek_id TEXT NOT NULL,
        created_at BIGINT NOT NULL,
        created_by TEXT NOT NULL,
        lifted_at BIGINT,
        lifted_by TEXT
      );

      CREATE TABLE ${s}.ledger_prune (
        id SMALLINT PRIMARY KEY CHECK (id = 1),
        seq BIGINT NOT NULL,
        chain_hash TEXT NOT NULL,
        compact_range TEXT[] NOT NULL,
        note TEXT NOT NULL
      );
    `,
  },
  {
    // Issue 4: "storage is partitioned by time so that six years stay queryable". The two tables
    // that grow with every record, ledger_records and ledger_index, become RANGE partitions on ts,
    // one per UTC month, so a query over a period touches that period's partitions and an old
    // period can later be detached and archived whole. A DEFAULT partition takes what no month
    // partition covers (nothing is ever refused for lack of one); ensure_month_partitions()
    // creates months ahead and is called by every migrating open and by `rampart db partitions`.
    // The primary key of ledger_records becomes (seq, ts), as a partitioned table requires the
    // partition key in it; seq stays unique because every append continues chain_head exactly.
    version: 7,
    description: 'ledger_records and ledger_index partitioned by month on ts',
    sql: (s) => `
      CREATE FUNCTION ${s}.ensure_month_partitions(tbl TEXT, from_ms BIGINT, to_ms BIGINT) RETURNS INTEGER
      LANGUAGE plpgsql AS $fn$
      DECLARE
        m TIMESTAMPTZ := date_trunc('month', to_timestamp(from_ms / 1000.0) AT TIME ZONE 'UTC') AT TIME ZONE 'UTC';
        stop TIMESTAMPTZ := to_timestamp(to_ms / 1000.0);
        lo BIGINT;
        hi BIGINT;
        name TEXT;
        made INTEGER := 0;
      BEGIN
        WHILE m <= stop LOOP
          lo := (extract(epoch FROM m) * 1000)::BIGINT;
          hi := (extract(epoch FROM (m + INTERVAL '1 month')) * 1000)::BIGINT;
          name := tbl || '_' || to_char(m AT TIME ZONE 'UTC', 'YYYY"m"MM');
          IF to_regclass(format('%I.%I', '${s.replace(/"/g, '')}', name)) IS NULL THEN
            -- A month whose rows already sit in the DEFAULT partition stays there (rare: a clock
            -- far ahead); creating it would fail, and nothing is lost by leaving them.
            IF NOT EXISTS (SELECT 1 FROM ${s}.ledger_default_probe(tbl, lo, hi)) THEN
              BEGIN
                EXECUTE format('CREATE TABLE %I.%I PARTITION OF %I.%I FOR VALUES FROM (%s) TO (%s)', '${s.replace(/"/g, '')}', name, '${s.replace(/"/g, '')}', tbl, lo, hi);
                made := made + 1;
              EXCEPTION WHEN duplicate_table OR unique_violation THEN
                -- Another process made it a moment ago.
                NULL;
              END;
            END IF;
          END IF;
          m := m + INTERVAL '1 month';
        END LOOP;
        RETURN made;
      END
      $fn$;

      CREATE FUNCTION ${s}.ledger_default_probe(tbl TEXT, lo BIGINT, hi BIGINT) RETURNS SETOF INTEGER
      LANGUAGE plpgsql AS $fn$
      BEGIN
        IF to_regclass(format('%I.%I', '${s.replace(/"/g, '')}', tbl || '_default')) IS NULL THEN RETURN; END IF;
        RETURN QUERY EXECUTE format('SELECT 1 FROM %I.%I WHERE ts >= $1 AND ts < $2 LIMIT 1', '${s.replace(/"/g, '')}', tbl || '_default') USING lo, hi;
      END
      $fn$;

      ALTER TABLE ${s}.ledger_records RENAME TO ledger_records_v6;
      ALTER TABLE ${s}.ledger_records_v6 RENAME CONSTRAINT ledger_records_pkey TO ledger_records_v6_pkey;
      ALTER INDEX ${s}.ledger_records_ts RENAME TO ledger_records_v6_ts;
      CREATE TABLE ${s}.ledger_records (
        seq BIGINT NOT NULL,
        ts BIGINT NOT NULL,
        type TEXT NOT NULL,
        request_id TEXT,
        api TEXT,
        operation_id TEXT,
        status INTEGER,
        outcome TEXT NOT NULL,
        reason TEXT,
        canonical TEXT NOT NULL,
        leaf_hash TEXT NOT NULL,
        chain_hash TEXT NOT NULL,
        PRIMARY KEY (seq, ts)
      ) PARTITION BY RANGE (ts);
      CREATE INDEX ledger_records_ts ON ${s}.ledger_records (ts);

      ALTER TABLE ${s}.ledger_index RENAME TO ledger_index_v6;
      ALTER TABLE ${s}.ledger_index_v6 RENAME CONSTRAINT ledger_index_pkey TO ledger_index_v6_pkey;
      ALTER INDEX ${s}.ledger_index_seq RENAME TO ledger_index_v6_seq;
      CREATE TABLE ${s}.ledger_index (
        tag BYTEA NOT NULL,
        ts BIGINT NOT NULL,
        seq BIGINT NOT NULL,
        PRIMARY KEY (tag, ts, seq)
      ) PARTITION BY RANGE (ts);
      CREATE INDEX ledger_index_seq ON ${s}.ledger_index (seq);

      -- Months of the rows already written, and the next three, before the rows move in.
      SELECT ${s}.ensure_month_partitions('ledger_records', coalesce((SELECT min(ts) FROM ${s}.ledger_records_v6), (extract(epoch FROM now()) * 1000)::BIGINT), (extract(epoch FROM now() + INTERVAL '3 months') * 1000)::BIGINT);
      SELECT ${s}.ensure_month_partitions('ledger_index', coalesce((SELECT min(ts) FROM ${s}.ledger_index_v6), (extract(epoch FROM now()) * 1000)::BIGINT), (extract(epoch FROM now() + INTERVAL '3 months') * 1000)::BIGINT);
      CREATE TABLE ${s}.ledger_records_default PARTITION OF ${s}.ledger_records DEFAULT;
      CREATE TABLE ${s}.ledger_index_default PARTITION OF ${s}.ledger_index DEFAULT;

      INSERT INTO ${s}.ledger_records SELECT seq, ts, type, request_id, api, operation_id, status, outcome, reason, canonical, leaf_hash, chain_hash FROM ${s}.ledger_records_v6;
      DROP TABLE ${s}.ledger_records_v6;
      INSERT INTO ${s}.ledger_index SELECT tag, ts, seq FROM ${s}.ledger_index_v6;
      DROP TABLE ${s}.ledger_index_v6;
    `,
  },
  {
    // As SQLite migration 7 (read its comment): configuration versions, approvals, activations
    // (issue 6). BYTEA bundles, BIGINT times. The foreign key from approvals to versions is
    // enforced by the server. seq is an identity column: INSERT on the table is all the gateway's
    // role needs (an identity sequence is not checked for USAGE, unlike a serial's). AU-9(4)
    // spirit: the gateway's role gets SELECT and INSERT only (./roles.ts), so what was approved
    // and applied cannot be rewritten through it; retention gets nothing.
    version: 8,
    description: 'configuration versions, approvals and activations',
    sql: (s) => `
      CREATE TABLE ${s}.config_versions (
        hash TEXT PRIMARY KEY,
        created_at BIGINT NOT NULL,
        author TEXT NOT NULL,
        bundle BYTEA NOT NULL,
        profile TEXT NOT NULL,
        message TEXT NOT NULL
      );
      CREATE INDEX config_versions_created_at ON ${s}.config_versions (created_at);

      CREATE TABLE ${s}.config_approvals (
        hash TEXT NOT NULL REFERENCES ${s}.config_versions (hash),
        approver TEXT NOT NULL,
        at BIGINT NOT NULL,
        comment TEXT NOT NULL,
        PRIMARY KEY (hash, approver)
      );

      CREATE TABLE ${s}.config_activations (
        seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        hash TEXT NOT NULL,
        at BIGINT NOT NULL,
        "by" TEXT NOT NULL,
        node TEXT NOT NULL
      );
    `,
  },
];

/** The first version with the admin tables: a read-only open of an older schema has no admin accounts. */
export const PG_ADMIN_VERSION = 3;

/** The first version with admin passkeys: a read-only open of an older schema has none to offer. */
export const PG_PASSKEY_VERSION = 4;

/** The first version with sealed private parts, checkpoints and retention tables. */
export const PG_VAULT_VERSION = 6;

/** The first version with configuration versions: a read-only open of an older schema has none. */
export const PG_CONFIG_STORE_VERSION = 8;

export const PG_LATEST_VERSION = PG_MIGRATIONS[PG_MIGRATIONS.length - 1]!.version;
