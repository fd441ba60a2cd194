/**
 * Test databases on the machine's real PostgreSQL (127.0.0.1:5432, trust auth). Each test gets
 * its own database, dropped afterwards; the shared server is never stopped or altered otherwise.
 */
import pg from 'pg';
import { randomBytes } from 'node:crypto';

export const PG_ADMIN_URL = process.env.RAMPART_TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

export interface TempDatabase {
  url: string;
  name: string;
  drop(): Promise<void>;
}

export async function createTempDatabase(prefix = 'rampart_test'): Promise<TempDatabase> {
  const name = `${prefix}_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ connectionString: PG_ADMIN_URL });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE ${name}`);
  } finally {
    await admin.end();
  }
  const u = new URL(PG_ADMIN_URL);
  u.pathname = `/${name}`;
  return {
    url: u.toString(),
    name,
    async drop() {
      const c = new pg.Client({ connectionString: PG_ADMIN_URL });
      await c.connect();
      try {
        await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      } finally {
        await c.end();
      }
    },
  };
}

/** A test database migrated by its owner with the AU-9(4) role split applied (src/storage/postgres/roles.ts). */
export interface RoleSplitDatabase {
  db: TempDatabase;
  /** The database as the gateway's role (insert and select on the ledger). */
  gatewayUrl: string;
  /** The database as the retention role (purge, prune, re-seal, lifts, re-wraps). */
  retentionUrl: string;
  roles: { owner: string; gateway: string; retention: string };
  /** Drops the database, then the run's roles (cluster-wide); also after a failed test. */
  drop(): Promise<void>;
}

function urlAs(url: string, user: string): string {
  const u = new URL(url);
  u.username = user;
  return u.toString();
}

async function adminSql(url: string, text: string): Promise<void> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    await c.query(text);
  } finally {
    await c.end();
  }
}

/**
 * A fresh database whose `rampart` schema its owner created and migrated, with uniquely named
 * owner, gateway and retention roles of this run (trust authentication on this machine).
 */
export async function createRoleSplitDatabase(prefix = 'rampart_split'): Promise<RoleSplitDatabase> {
  // Late imports: the helper stays usable by tests that never touch roles.
  const { openPostgresStorage } = await import('../../src/storage/postgres/store.js');
  const { applyPgRoles } = await import('../../src/storage/postgres/roles.js');
  const suffix = randomBytes(4).toString('hex');
  const roles = { owner: `rampart_owner_${suffix}`, gateway: `rampart_gw_${suffix}`, retention: `rampart_ret_${suffix}` };
  const db = await createTempDatabase(prefix);
  const drop = async (): Promise<void> => {
    await db.drop().catch(() => {});
    for (const r of Object.values(roles)) await adminSql(PG_ADMIN_URL, `DROP ROLE IF EXISTS ${r}`).catch(() => {});
  };
  try {
    await adminSql(PG_ADMIN_URL, `CREATE ROLE ${roles.owner} LOGIN`);
    await adminSql(db.url, `GRANT CREATE ON DATABASE ${db.name} TO ${roles.owner}`);
    await (await openPostgresStorage({ url: urlAs(db.url, roles.owner) })).close();
    await applyPgRoles(db.url, 'rampart', roles);
  } catch (err) {
    await drop();
    throw err;
  }
  return { db, gatewayUrl: urlAs(db.url, roles.gateway), retentionUrl: urlAs(db.url, roles.retention), roles, drop };
}
