/**
 * PostgreSQL role separation for the ledger (AU-9(4): audit management limited to a subset of
 * privileged users; DESIGN.md: "in PostgreSQL the gateway's role may only insert and select;
 * purge runs under another role"). Whoever can UPDATE or DELETE ledger rows can rewrite history
 * and recompute the chain; the roles below make the server itself refuse that to the gateway.
 *
 * - owner: owns the schema and every table in it; migrations run as it (it is the only role that
 *   can change the schema, and a table's owner bypasses grants, so it must never be the gateway).
 * - gateway: USAGE on the schema; SELECT and INSERT on the ledger tables, SELECT only on
 *   ledger_prune and the legacy ledger_private, UPDATE on chain_head alone (the head moves with
 *   each append); on api_keys, key_changes and admin_* exactly what the key and admin stores do
 *   today; SELECT and INSERT on the config_* tables (issue 6); SELECT on schema_version. It can
 *   neither UPDATE, DELETE nor TRUNCATE any ledger or config table.
 * - retention: SELECT and DELETE on the ledger tables and data_keys (purge, prune), UPDATE on
 *   ledger_sealed, ledger_bodies and data_keys (re-seal under a hold key, KEK re-wrap) and on
 *   legal_holds (lift), INSERT and UPDATE on ledger_prune; nothing on keys, admin or config tables.
 *
 * A fresh database is migrated by the owner: create it first (CREATE ROLE ... LOGIN, then GRANT
 * CREATE ON DATABASE, or CREATE SCHEMA ... AUTHORIZATION it) and start Rampart once as it; then
 * apply these roles. Later migrations need only the schema's ownership.
 *
 * Roles are created WITH LOGIN and no password when missing: this machine's server trusts local
 * connections. A production deployment gives each role a password or a client certificate
 * (ALTER ROLE ... PASSWORD, or cert auth in pg_hba.conf) and connects each process with its own.
 * Grants name the tables that exist now: apply the roles again after a migration adds tables.
 */
import pg from 'pg';
import { PG_LATEST_VERSION } from './schema.js';

export interface PgRoleNames {
  /** The role the gateway connects as: insert and select on the ledger. */
  gateway: string;
  /** The role retention work (purge, prune, re-wrap, hold lifts) connects as. */
  retention: string;
  /** The schema's owner, which runs migrations; when given, the schema and its tables are given to it. */
  owner?: string;
}

const IDENT = /^[a-z_][a-z0-9_]{0,62}$/;

/** The ledger's own tables: the gateway may never UPDATE, DELETE or TRUNCATE them. */
export const LEDGER_TABLES = ['ledger_records', 'ledger_sealed', 'ledger_bodies', 'ledger_index', 'ledger_checkpoints', 'ledger_signing_keys'] as const;

/**
 * The configuration history (issue 6): versions, approvals, activations. Append-only like the
 * ledger: the gateway may never UPDATE, DELETE or TRUNCATE them (AU-9(4) spirit: what was approved
 * and applied cannot be rewritten by the gateway).
 */
export const CONFIG_TABLES = ['config_versions', 'config_approvals', 'config_activations'] as const;

/** Every table of schema version 8 (PG_LATEST_VERSION); a schema at another version needs this list changed. */
const ALL_TABLES = [
  ...LEDGER_TABLES, 'ledger_private', 'ledger_prune', 'chain_head', 'data_keys', 'legal_holds',
  'api_keys', 'key_changes', 'admin_users', 'admin_sessions', 'admin_passkeys', ...CONFIG_TABLES, 'schema_version',
] as const;

type Table = (typeof ALL_TABLES)[number];

/** What the gateway's stores do with each table today (src/storage/postgres/store.ts). */
const GATEWAY: Readonly<Record<Table, string>> = {
  ledger_records: 'SELECT, INSERT',
  ledger_sealed: 'SELECT, INSERT',
  ledger_bodies: 'SELECT, INSERT',
  ledger_index: 'SELECT, INSERT',
  ledger_checkpoints: 'SELECT, INSERT',
  ledger_signing_keys: 'SELECT, INSERT',
  data_keys: 'SELECT, INSERT',
  // Holds are placed through the admin plane, in the gateway process; lifting is retention's.
  legal_holds: 'SELECT, INSERT',
  ledger_prune: 'SELECT',
  // Clear private parts from before encryption: readable, never written again.
  ledger_private: 'SELECT',
  chain_head: 'SELECT, UPDATE',
  // Keys are inserted, revoked and touched (revoke locks the row: SELECT ... FOR UPDATE).
  api_keys: 'SELECT, INSERT, UPDATE',
  key_changes: 'SELECT, UPDATE',
  admin_users: 'SELECT, INSERT, UPDATE',
  // Sessions end by deletion.
  admin_sessions: 'SELECT, INSERT, UPDATE, DELETE',
  admin_passkeys: 'SELECT, INSERT, UPDATE',
  // Submitted, approved, applied: each only ever added (./schema.ts migration 8).
  config_versions: 'SELECT, INSERT',
  config_approvals: 'SELECT, INSERT',
  config_activations: 'SELECT, INSERT',
  schema_version: 'SELECT',
};

/** What retention work does (purge, prune, re-seal, re-wrap, hold lifts); absent tables get nothing. */
const RETENTION: Readonly<Partial<Record<Table, string>>> = {
  ledger_records: 'SELECT, DELETE',
  ledger_private: 'SELECT, DELETE',
  ledger_sealed: 'SELECT, DELETE, UPDATE',
  ledger_bodies: 'SELECT, DELETE, UPDATE',
  ledger_index: 'SELECT, DELETE',
  data_keys: 'SELECT, DELETE, UPDATE',
  legal_holds: 'SELECT, UPDATE',
  ledger_prune: 'SELECT, INSERT, UPDATE',
  ledger_checkpoints: 'SELECT',
  ledger_signing_keys: 'SELECT',
  // The prune check reads the head; it never moves it.
  chain_head: 'SELECT',
  schema_version: 'SELECT',
};

function ident(what: string, name: unknown): string {
  if (typeof name !== 'string' || !IDENT.test(name)) throw new TypeError(`postgres roles: ${what} '${String(name)}' must be a lower-case SQL identifier`);
  return name;
}

/**
 * The SQL that creates the roles (when missing) and sets exactly the privileges above on the
 * schema's tables, revoking whatever else the gateway and retention roles held there. The schema
 * must exist and be migrated. Idempotent: run it again after a migration that adds tables.
 *
 * @example
 * const sql = pgRoleGrants('rampart', { gateway: 'rampart_gateway', retention: 'rampart_retention', owner: 'rampart_owner' });
 * // psql -v ON_ERROR_STOP=1 -1 -c "$sql"  (as a role with CREATEROLE, and the tables' owner or a superuser)
 */
export function pgRoleGrants(schema: string, roles: PgRoleNames): string {
  const s = `"${ident('schema', schema)}"`;
  if (!roles || typeof roles !== 'object') throw new TypeError('postgres roles: roles { gateway, retention } are required');
  const gateway = ident('gateway role', roles.gateway);
  const retention = ident('retention role', roles.retention);
  const owner = roles.owner === undefined ? undefined : ident('owner role', roles.owner);
  const names = [gateway, retention, ...(owner ? [owner] : [])];
  if (new Set(names).size !== names.length) {
    // A table's owner bypasses every grant, and one role for both jobs separates nothing.
    throw new TypeError(`postgres roles: the gateway, retention and owner roles must be different roles (got ${names.join(', ')})`);
  }
  const out: string[] = [];
  for (const r of names) {
    // Role names are checked identifiers, so they can be spliced into the DO block's literal.
    out.push(`DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '${r}') THEN CREATE ROLE "${r}" LOGIN; END IF; END $$;`);
  }
  if (owner) {
    out.push(`ALTER SCHEMA ${s} OWNER TO "${owner}";`);
    for (const t of ALL_TABLES) out.push(`ALTER TABLE ${s}.${t} OWNER TO "${owner}";`);
  }
  // Start from nothing, so a privilege granted by hand earlier does not survive.
  out.push(`REVOKE ALL ON ALL TABLES IN SCHEMA ${s} FROM "${gateway}", "${retention}";`);
  out.push(`REVOKE ALL ON SCHEMA ${s} FROM "${gateway}", "${retention}";`);
  out.push(`GRANT USAGE ON SCHEMA ${s} TO "${gateway}", "${retention}";`);
  for (const t of ALL_TABLES) out.push(`GRANT ${GATEWAY[t]} ON ${s}.${t} TO "${gateway}";`);
  for (const t of ALL_TABLES) {
    const privileges = RETENTION[t];
    if (privileges) out.push(`GRANT ${privileges} ON ${s}.${t} TO "${retention}";`);
  }
  return out.join('\n');
}

/**
 * Runs pgRoleGrants in one transaction on the database at `url` (connected as a role that may
 * create roles and owns the tables, or a superuser), so the grants change all at once or not at
 * all.
 *
 * @example
 * await applyPgRoles('postgres://postgres@db/rampart', 'rampart', { gateway: 'rampart_gateway', retention: 'rampart_retention' });
 */
export async function applyPgRoles(url: string, schema: string, roles: PgRoleNames): Promise<void> {
  const sql = pgRoleGrants(schema, roles);
  if (typeof url !== 'string' || url.length === 0) throw new TypeError('postgres roles: url is required');
  const client = new pg.Client({ connectionString: url, application_name: 'rampart-roles' });
  await client.connect();
  try {
    // The table list above is that of the latest schema version: an older schema lacks some.
    const t = await client.query<{ t: string | null }>('SELECT to_regclass($1) AS t', [`"${schema}".schema_version`]);
    const v = t.rows[0]?.t ? ((await client.query<{ v: number | null }>(`SELECT max(version) AS v FROM "${schema}".schema_version`)).rows[0]?.v ?? 0) : 0;
    if (v !== PG_LATEST_VERSION) {
      throw Object.assign(new Error(`postgres roles: schema ${schema} is at version ${v}, not ${PG_LATEST_VERSION}; migrate it first (start Rampart once as the owner role)`), {
        code: 'RAMPART_STORAGE_SCHEMA_OLD',
      });
    }
    await client.query('BEGIN');
    try {
      await client.query(sql);
      await client.query('COMMIT');
    } catch (err) {
      await client.query('ROLLBACK').catch(() => {});
      throw err;
    }
  } finally {
    await client.end();
  }
}
