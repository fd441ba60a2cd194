/**
 * PostgreSQL side of the backup set (R17a4-9, R4370-1): a logical dump of Rampart's schema with
 * the server's own tools, `pg_dump --format=custom --schema=<schema>` and `pg_restore`.
 *
 * Consistency: the head written in the manifest must be the head of the dump, not of a moment
 * later. A REPEATABLE READ transaction exports its snapshot (pg_export_snapshot), the head and
 * schema version are read in it, and pg_dump runs with --snapshot on that same snapshot while the
 * transaction stays open; the gateway keeps committing meanwhile.
 *
 * The password of the URL never appears on a command line (other users can read those): it goes
 * to pg_dump and pg_restore in PGPASSWORD, and the URL they get has none.
 */
import { execFile } from 'node:child_process';
import pg from 'pg';
import type { BackupCopy } from '../storage/types.js';

const IDENT = /^[a-z_][a-z0-9_]{0,62}$/;

export interface PgTarget {
  url: string;
  schema: string;
}

/** The URL without its password, and the environment that carries the password instead. */
function connection(url: string): { dbname: string; env: NodeJS.ProcessEnv } {
  const u = new URL(url);
  const env: NodeJS.ProcessEnv = { ...process.env, PGAPPNAME: 'rampart-backup' };
  if (u.password) {
    env.PGPASSWORD = decodeURIComponent(u.password);
    u.password = '';
  }
  return { dbname: u.toString(), env };
}

function checkSchema(schema: string): string {
  if (!IDENT.test(schema)) throw new TypeError(`postgres backup: schema '${schema}' must be a lower-case SQL identifier`);
  return `"${schema}"`;
}

/** Runs a PostgreSQL client tool; a missing tool or a failure is an Error naming it, with its stderr. */
function runTool(tool: 'pg_dump' | 'pg_restore', args: string[], env: NodeJS.ProcessEnv): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile(tool, args, { env, maxBuffer: 16 * 1024 * 1024 }, (err, _stdout, stderr) => {
      if (!err) return resolve();
      const code = (err as NodeJS.ErrnoException).code;
      const why = code === 'ENOENT' ? `${tool} is not installed or not on PATH (install the PostgreSQL client tools of the server's major version)` : `${tool} failed: ${String(stderr).trim() || err.message}`;
      reject(Object.assign(new Error(why), { code: 'RAMPART_BACKUP_TOOL', cause: err }));
    });
  });
}

/**
 * Dumps `schema` into `dest` (custom format) and returns what the dump holds, read in the
 * dump's own snapshot.
 *
 * @example
 * const copy = await pgDumpSchema({ url: 'postgres://rampart@db/rampart', schema: 'rampart' }, '/backups/tmp/rampart.pgdump');
 */
export async function pgDumpSchema(t: PgTarget, dest: string): Promise<BackupCopy> {
  const s = checkSchema(t.schema);
  const client = new pg.Client({ connectionString: t.url, application_name: 'rampart-backup' });
  await client.connect();
  try {
    await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
    const snap = (await client.query<{ id: string }>('SELECT pg_export_snapshot() AS id')).rows[0]!.id;
    const exists = await client.query('SELECT 1 FROM pg_namespace WHERE nspname = $1', [t.schema]);
    if (exists.rowCount === 0) throw new Error(`postgres backup: schema ${t.schema} does not exist (start the gateway once to create it)`);
    const head = (await client.query<{ seq: string; chain_hash: string }>(`SELECT seq, chain_hash FROM ${s}.chain_head WHERE id = 1`)).rows[0];
    const version = (await client.query<{ v: number | null }>(`SELECT max(version) AS v FROM ${s}.schema_version`)).rows[0]?.v ?? 0;
    const { dbname, env } = connection(t.url);
    await runTool('pg_dump', ['--format=custom', `--schema=${t.schema}`, `--snapshot=${snap}`, `--file=${dest}`, `--dbname=${dbname}`], env);
    await client.query('COMMIT');
    const seq = head ? Number(head.seq) : 0;
    return { schemaVersion: Number(version), head: head && seq > 0 ? { seq, chainHash: head.chain_hash } : null };
  } finally {
    await client.end().catch(() => {});
  }
}

/** Whether the schema exists and gateways (application_name 'rampart') are connected to the database. */
export async function pgSchemaState(t: PgTarget): Promise<{ exists: boolean; gateways: number }> {
  checkSchema(t.schema);
  const client = new pg.Client({ connectionString: t.url, application_name: 'rampart-restore' });
  await client.connect();
  try {
    const exists = ((await client.query('SELECT 1 FROM pg_namespace WHERE nspname = $1', [t.schema])).rowCount ?? 0) > 0;
    const r = await client.query<{ n: string }>(
      "SELECT count(*) AS n FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'rampart' AND pid <> pg_backend_pid()",
    );
    return { exists, gateways: Number(r.rows[0]?.n ?? 0) };
  } finally {
    await client.end().catch(() => {});
  }
}

/**
 * Renames the existing schema to `<schema>_before_restore_<stamp>` (kept, like the SQLite file
 * moved aside) and returns the new name.
 */
export async function pgMoveSchemaAside(t: PgTarget, stamp: string): Promise<string> {
  const s = checkSchema(t.schema);
  const suffix = `_before_restore_${stamp}`;
  const aside = `${t.schema.slice(0, 63 - suffix.length)}${suffix}`;
  const client = new pg.Client({ connectionString: t.url, application_name: 'rampart-restore' });
  await client.connect();
  try {
    await client.query(`ALTER SCHEMA ${s} RENAME TO ${checkSchema(aside)}`);
    return aside;
  } finally {
    await client.end().catch(() => {});
  }
}

/**
 * Restores a dump written by pgDumpSchema into t.schema, which must not exist (moved aside). The
 * schema is created here, owned by the restoring role, and pg_restore is limited to the objects
 * in it (--schema): a dump is SQL that runs as this role, so an altered one may touch nothing
 * else. Schema-level grants are not in that selection: apply the roles again afterwards when the
 * gateway connects as a role of its own (src/storage/postgres/roles.ts).
 */
export async function pgRestoreSchema(t: PgTarget, dumpFile: string): Promise<void> {
  const s = checkSchema(t.schema);
  const client = new pg.Client({ connectionString: t.url, application_name: 'rampart-restore' });
  await client.connect();
  try {
    await client.query(`CREATE SCHEMA ${s}`);
  } finally {
    await client.end().catch(() => {});
  }
  const { dbname, env } = connection(t.url);
  try {
    await runTool('pg_restore', ['--clean', '--if-exists', '--exit-on-error', '--single-transaction', `--schema=${t.schema}`, `--dbname=${dbname}`, dumpFile], env);
  } catch (err) {
    // --single-transaction: nothing of the dump stayed; the empty schema goes too (no CASCADE).
    const c = new pg.Client({ connectionString: t.url, application_name: 'rampart-restore' });
    await c.connect().then(() => c.query(`DROP SCHEMA IF EXISTS ${s}`)).catch(() => {});
    await c.end().catch(() => {});
    throw err;
  }
}
