/**
 * PostgreSQL role separation (AU-9(4)) on the machine's real server: the schema is migrated by its
 * owner, the gateway connects as a role that may only insert and select on the ledger (the server
 * itself refuses it UPDATE, DELETE and TRUNCATE, SQLSTATE 42501), and purge runs as the retention
 * role. Roles are cluster-wide: each run creates uniquely named ones and drops them at the end,
 * also when a test fails.
 */
import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { GENESIS_HASH } from '../../src/ledger/chain.js';
import { applyPgRoles, CONFIG_TABLES, LEDGER_TABLES, pgRoleGrants } from '../../src/storage/postgres/roles.js';
import { openPostgresStorage } from '../../src/storage/postgres/store.js';
import { createTempDatabase, PG_ADMIN_URL, type TempDatabase } from '../helpers/pg.js';
import { configHashOf, configVersion, handBatch, tagOf } from '../contract/storage-contract.js';

const suffix = randomBytes(4).toString('hex');
const roles = { owner: `rampart_owner_${suffix}`, gateway: `rampart_gw_${suffix}`, retention: `rampart_ret_${suffix}` };

/** The URL of `db` as `user` (trust authentication on this machine; production uses passwords or certificates). */
function urlAs(db: TempDatabase, user: string): string {
  const u = new URL(db.url);
  u.username = user;
  return u.toString();
}

async function sql(url: string, text: string, values: unknown[] = []): Promise<pg.QueryResult> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    return await c.query(text, values);
  } finally {
    await c.end();
  }
}

/** A column of each table that has no `seq`, for a no-op UPDATE. */
const COLUMN: Record<string, string> = {
  data_keys: 'id', legal_holds: 'id', ledger_checkpoints: 'tree_size', ledger_signing_keys: 'created_at',
  config_versions: 'message', config_approvals: 'comment', config_activations: 'node',
};

const denied = (err: unknown): boolean => (err as { code?: string }).code === '42501';

describe('postgres roles (AU-9(4))', () => {
  let db: TempDatabase | undefined;

  after(async () => {
    // Privileges in the database go with it; then the roles, which belong to the cluster.
    await db?.drop().catch(() => {});
    for (const r of [roles.gateway, roles.retention, roles.owner]) await sql(PG_ADMIN_URL, `DROP ROLE IF EXISTS ${r}`).catch(() => {});
    const left = await sql(PG_ADMIN_URL, 'SELECT rolname FROM pg_roles WHERE rolname = ANY($1)', [Object.values(roles)]);
    assert.deepEqual(left.rows, [], 'no role of this run is left behind');
  });

  it('pgRoleGrants checks its names and gives the gateway no UPDATE, DELETE or TRUNCATE on any ledger table', () => {
    const text = pgRoleGrants('rampart', { gateway: 'gw', retention: 'ret', owner: 'own' });
    for (const t of [...LEDGER_TABLES, 'data_keys', 'legal_holds', 'ledger_prune', 'ledger_private']) {
      const grants = text.split('\n').filter((l) => l.startsWith('GRANT ') && l.includes(`"rampart".${t} TO "gw"`));
      assert.equal(grants.length, 1, t);
      assert.doesNotMatch(grants[0]!, /UPDATE|DELETE|TRUNCATE/, t);
    }
    assert.match(text, /GRANT SELECT, UPDATE ON "rampart"\.chain_head TO "gw";/);
    // Issue 6: the configuration history is append-only for the gateway, and none of retention's business.
    for (const t of CONFIG_TABLES) {
      assert.match(text, new RegExp(`^GRANT SELECT, INSERT ON "rampart"\\.${t} TO "gw";$`, 'm'), t);
      assert.doesNotMatch(text, new RegExp(`"rampart"\\.${t} TO "ret"`), t);
      assert.match(text, new RegExp(`^ALTER TABLE "rampart"\\.${t} OWNER TO "own";$`, 'm'), t);
    }
    assert.throws(() => pgRoleGrants('rampart', { gateway: 'gw', retention: 'gw' }), /must be different roles/);
    assert.throws(() => pgRoleGrants('rampart', { gateway: 'gw', retention: 'ret', owner: 'gw' }), /must be different roles/);
    assert.throws(() => pgRoleGrants('rampart', { gateway: 'gw"; DROP ROLE postgres; --', retention: 'ret' }), TypeError);
    assert.throws(() => pgRoleGrants('Bad Schema', { gateway: 'gw', retention: 'ret' }), TypeError);
  });

  it('the gateway role appends and reads but the server refuses it UPDATE, DELETE and TRUNCATE; the retention role purges', async () => {
    db = await createTempDatabase('rampart_roles');
    // The owner migrates a fresh database: it needs CREATE on it once, for the schema.
    await sql(PG_ADMIN_URL, `CREATE ROLE ${roles.owner} LOGIN`);
    await sql(db.url, `GRANT CREATE ON DATABASE ${db.name} TO ${roles.owner}`);
    await (await openPostgresStorage({ url: urlAs(db, roles.owner) })).close();
    await assert.rejects(applyPgRoles(db.url, 'nope', roles), /schema nope is at version 0/);
    await applyPgRoles(db.url, 'rampart', roles);
    await applyPgRoles(db.url, 'rampart', roles); // idempotent

    const owner = await sql(db.url, "SELECT DISTINCT tableowner FROM pg_tables WHERE schemaname = 'rampart'");
    assert.deepEqual(owner.rows, [{ tableowner: roles.owner }]);

    // A schema that needs migrating is the owner's job; the gateway is told so.
    await assert.rejects(openPostgresStorage({ url: urlAs(db, roles.gateway), schema: 'rampart_next' }), (e: Error & { code?: string }) => {
      assert.equal(e.code, 'RAMPART_STORAGE_MIGRATE_DENIED');
      assert.match(e.message, /schema rampart_next is at version 0 and needs migrating to \d+, which this role may not do/);
      return true;
    });
    // The gateway opens a current schema without any DDL (it may not CREATE anything).
    const gw = await openPostgresStorage({ url: urlAs(db, roles.gateway), poolSize: 2 });
    try {
      const batch = handBatch(1, 4, GENESIS_HASH, {
        priv: (seq) => (seq <= 2 ? 'dk-old' : 'dk-new'),
        bodies: (seq) => (seq === 1 ? [{ part: 'request', dekId: 'dk-old' }] : []),
        tags: (seq) => [tagOf('subject', `cust-${seq}`)],
      });
      await gw.ledger.append(batch.slice(0, 2));
      await gw.ledger.append(batch.slice(2));
      assert.equal((await gw.ledger.head())!.seq, 4);
      for (const id of ['dk-old', 'dk-new']) {
        assert.equal(await gw.dataKeys.insertDataKey({ id, recordClass: 'personal', expiryDay: id === 'dk-old' ? 1 : 2, kekId: 'env:aaaaaaaa', wrapped: randomBytes(60), createdAt: 1 }), true);
      }
      await gw.checkpoints.insertCheckpoint({ treeSize: 4, ts: 1, kind: 'periodic', rootHash: 'r', chainHash: batch[3]!.stored.chainHash, note: 'n', compactRange: [] });
      await gw.retention.insertHold({ id: 'hold-1', criteriaSealed: randomBytes(20), dekId: 'dk-hold', createdAt: 1, createdBy: 'compliance:carol' });
      await gw.keys.insert({ id: 'k1', name: 'k', hash: 'h', scopes: [], createdAt: 1 });
      assert.equal(await gw.keys.revoke('k1', 2), true);
      await gw.admin.insertUser({ id: 'u', username: 'u', passwordHash: 'h', roles: ['owner'], recoveryCodeHashes: [], disabled: false, failedLogins: 0, createdAt: 1, updatedAt: 1 });
      await gw.admin.createSession({ id: 's', userId: 'u', createdAt: 1, lastSeenAt: 1, expiresAt: 2, csrfToken: 'c', authenticatedAt: 1 });
      assert.equal(await gw.admin.deleteUserSessions('u'), 1);
      assert.equal((await gw.ledger.readPrivate([1, 2, 3, 4])).length, 4);
      // Issue 6: the gateway's role submits, approves, activates and reads configuration versions.
      const v1 = configVersion(1);
      assert.equal(await gw.configs.putVersion(v1), true);
      assert.equal(await gw.configs.putVersion({ ...v1, message: 'rewritten' }), false);
      assert.equal(await gw.configs.addApproval({ hash: v1.hash, approver: 'bob', at: 2, comment: 'ok' }), true);
      assert.equal(await gw.configs.addApproval({ hash: v1.hash, approver: 'bob', at: 3, comment: 'again' }), false);
      await assert.rejects(gw.configs.addApproval({ hash: configHashOf(2), approver: 'bob', at: 2, comment: '' }), (e: { code?: string }) => e.code === 'RAMPART_CONFIG_VERSION_UNKNOWN');
      const act = await gw.configs.recordActivation({ hash: v1.hash, at: 4, by: 'alice', node: 'gw-1' });
      assert.deepEqual(await gw.configs.activations(10), [act]);
      assert.deepEqual(await gw.configs.getVersion(v1.hash), v1);

      // The server refuses the gateway every change to what is written.
      const gwUrl = urlAs(db, roles.gateway);
      for (const t of [...LEDGER_TABLES, 'data_keys', 'legal_holds', 'ledger_prune', 'ledger_private']) {
        await assert.rejects(sql(gwUrl, `UPDATE rampart.${t} SET ${COLUMN[t] ?? 'seq'} = ${COLUMN[t] ?? 'seq'}`), denied, `UPDATE ${t}`);
        await assert.rejects(sql(gwUrl, `DELETE FROM rampart.${t}`), denied, `DELETE ${t}`);
        await assert.rejects(sql(gwUrl, `TRUNCATE rampart.${t}`), denied, `TRUNCATE ${t}`);
      }
      // Nor may it rewrite what was submitted, approved or applied (AU-9(4) spirit, issue 6).
      for (const t of CONFIG_TABLES) {
        await assert.rejects(sql(gwUrl, `UPDATE rampart.${t} SET ${COLUMN[t]} = ${COLUMN[t]}`), denied, `UPDATE ${t}`);
        await assert.rejects(sql(gwUrl, `DELETE FROM rampart.${t}`), denied, `DELETE ${t}`);
        await assert.rejects(sql(gwUrl, `TRUNCATE rampart.${t}`), denied, `TRUNCATE ${t}`);
      }
      await assert.rejects(sql(gwUrl, 'UPDATE rampart.config_versions SET author = $1 WHERE hash = $2', ['mallory', v1.hash]), denied);
      await assert.rejects(sql(gwUrl, 'INSERT INTO rampart.config_activations (seq, hash, at, "by", node) OVERRIDING SYSTEM VALUE VALUES (1, $1, 5, $2, $3)', [v1.hash, 'x', 'n']), (e: { code?: string }) => e.code === '23505', 'a seq cannot be reused');
      await assert.rejects(sql(gwUrl, "UPDATE rampart.ledger_records SET canonical = '{}' WHERE seq = 1"), denied);
      await assert.rejects(sql(gwUrl, 'INSERT INTO rampart.ledger_prune (id, seq, chain_hash, compact_range, note) VALUES (1, 1, $1, $2, $3)', ['0', [], 'n']), denied);
      await assert.rejects(sql(gwUrl, 'CREATE TABLE rampart.sneaky (x int)'), denied, 'no CREATE in the schema');
      await assert.rejects(gw.retention.purgeDataKeys(['dk-old']), denied, 'purge through the store is refused to the gateway too');
      await assert.rejects(gw.retention.pruneThrough({ seq: 1, chainHash: batch[0]!.stored.chainHash, compactRange: [], note: 'n' }), denied);
      await assert.rejects(gw.dataKeys.rewrapDataKeys([{ id: 'dk-old', kekId: 'env:bbbbbbbb', wrapped: randomBytes(60) }]), denied);
      await assert.rejects(gw.retention.liftHold('hold-1', 2, 'x'), denied);
      assert.equal((await gw.ledger.read(1, 10)).length, 4, 'every record is still there');
    } finally {
      await gw.close();
    }

    // Retention work runs as its own role.
    const ret = await openPostgresStorage({ url: urlAs(db, roles.retention), poolSize: 2 });
    try {
      assert.deepEqual(await ret.retention.purgeDataKeys(['dk-old']), { keys: 1, privates: 2, bodies: 1, index: 2 });
      await ret.dataKeys.rewrapDataKeys([{ id: 'dk-new', kekId: 'env:bbbbbbbb', wrapped: randomBytes(60) }]);
      assert.equal(await ret.retention.liftHold('hold-1', 2, 'compliance:dave'), true);
      const chain = (await ret.ledger.read(1, 1))[0]!.chainHash;
      assert.equal(await ret.retention.pruneThrough({ seq: 1, chainHash: chain, compactRange: [], note: 'prune 1' }), 1);
      await assert.rejects(ret.ledger.append(handBatch(5, 1, 'f'.repeat(64))), denied, 'the retention role cannot write records');
      await assert.rejects(ret.keys.list(), denied, 'nor read keys');
      await assert.rejects(ret.configs.listVersions(10), denied, 'nor touch configuration versions');
      await assert.rejects(ret.configs.putVersion(configVersion(3)), denied);
    } finally {
      await ret.close();
    }
    const stored = await sql(db.url, 'SELECT author, message FROM rampart.config_versions');
    assert.deepEqual(stored.rows, [{ author: 'alice', message: 'change 1' }], 'the version is as submitted');
    const left = await sql(db.url, 'SELECT seq, dek_id FROM rampart.ledger_sealed ORDER BY seq');
    assert.deepEqual(left.rows.map((r: { seq: string; dek_id: string }) => [Number(r.seq), r.dek_id]), [[3, 'dk-new'], [4, 'dk-new']]);
  });
});
