/**
 * `rampart db roles`: the PostgreSQL role split (AU-9(4): audit management limited to a subset of
 * privileged users). The gateway's role may only insert and select ledger rows (and move the
 * chain head); the retention role deletes and re-seals (purge, holds, KEK rotation); the owner
 * runs migrations. Run it as a role that may grant (the schema owner or a superuser), with the
 * configuration's storage URL, after every migration that adds tables.
 */
import type { Command } from 'commander';
import pg from 'pg';
import { applyPgRoles, pgRoleGrants } from '../storage/postgres/roles.js';
import { ensureMonthPartitions } from '../storage/postgres/store.js';
import { loadCliConfig, output, withConfigOption } from './common.js';
import { CliExit, EXIT } from './exit-codes.js';
import { withActivity } from './progress.js';

export function register(program: Command): void {
  const db = program.command('db').description('database administration (PostgreSQL)');
  withConfigOption(
    db
      .command('partitions')
      .description('create the month partitions of the ledger tables ahead of time (run monthly as the schema owner)')
      .option('--months <n>', 'months ahead (default 3)', (v) => Number(v), 3)
      .option('--json', 'print JSON'),
  ).action(async (opts: { config: string; months: number; json?: boolean }) => {
    const { config } = await loadCliConfig(opts);
    if (config.storage.driver !== 'postgres') throw new CliExit(EXIT.USAGE, 'rampart: db partitions applies to PostgreSQL storage only');
    const pgc = config.storage.postgres;
    const client = new pg.Client({ connectionString: pgc.url, application_name: 'rampart-partitions' });
    await client.connect();
    try {
      const made = await withActivity(`creating ${opts.months} months of partitions`, { json: opts.json === true }, () => ensureMonthPartitions(client, `"${pgc.schema}"`, opts.months));
      output(opts.json, { schema: pgc.schema, created: made }, () => `${made} month partition${made === 1 ? '' : 's'} created on schema ${pgc.schema}`);
    } finally {
      await client.end();
    }
  });
  withConfigOption(
    db
      .command('roles')
      .description('grant the gateway role insert/select only on the ledger, and the retention role delete/re-seal (AU-9(4))')
      .requiredOption('--gateway <role>', 'the role the gateway connects as')
      .requiredOption('--retention <role>', 'the role purge, holds and KEK rotation run as')
      .option('--owner <role>', 'the role that owns the schema and runs migrations')
      .option('--print', 'print the SQL instead of running it')
      .option('--json', 'print JSON'),
  ).action(async (opts: { config: string; gateway: string; retention: string; owner?: string; print?: boolean; json?: boolean }) => {
    const { config } = await loadCliConfig(opts);
    if (config.storage.driver !== 'postgres') throw new CliExit(EXIT.USAGE, 'rampart: db roles applies to PostgreSQL storage only (SQLite has no roles: protect the file)');
    const pgc = config.storage.postgres;
    const roles = { gateway: opts.gateway, retention: opts.retention, ...(opts.owner !== undefined ? { owner: opts.owner } : {}) };
    let sql: string;
    try {
      sql = pgRoleGrants(pgc.schema, roles);
    } catch (err) {
      throw new CliExit(EXIT.USAGE, `rampart: ${(err as Error).message}`);
    }
    if (opts.print) {
      process.stdout.write(`${sql}\n`);
      return;
    }
    await withActivity('applying grants', { json: opts.json === true }, () => applyPgRoles(pgc.url, pgc.schema, roles));
    output(opts.json, { schema: pgc.schema, ...roles }, () => `grants applied on schema ${pgc.schema}: gateway ${opts.gateway} (insert/select), retention ${opts.retention} (delete/re-seal)`);
  });
}
