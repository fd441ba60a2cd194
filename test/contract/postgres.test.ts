/**
 * The storage contract on the PostgreSQL backend (the machine's real server, a temp database per
 * test, dropped afterwards), plus what only PostgreSQL has: schemas, concurrent migration,
 * BIGINT, the durability session setting, and outages through a TCP proxy the test controls.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import pg from 'pg';
import { buildStoredRecord, GENESIS_HASH } from '../../src/ledger/chain.js';
import { verifyChain } from '../../src/ledger/verify.js';
import { createLedger } from '../../src/ledger/writer.js';
import { openStorage } from '../../src/storage/open.js';
import { openPostgresStorage, type PostgresStorage } from '../../src/storage/postgres/store.js';
import { createTempDatabase } from '../helpers/pg.js';
import { startTcpProxy } from '../helpers/tcp-proxy.js';
import { configHashOf, configVersion, decision, handBatch, storageContract, tagOf, testSealer } from './storage-contract.js';

/** As Rampart left the schema before migration 8: no configuration tables. */
const UNDO_8 = `DROP TABLE rampart.config_approvals; DROP TABLE rampart.config_activations; DROP TABLE rampart.config_versions;
  DELETE FROM rampart.schema_version WHERE version > 7;`;

/** Removes what migration 6 added, leaving a schema as Rampart left it at version 5. */
/** As Rampart left the schema before migration 7: ledger_records a plain table again. */
const UNDO_7 = UNDO_8 + `DROP FUNCTION rampart.ensure_month_partitions(TEXT, BIGINT, BIGINT); DROP FUNCTION rampart.ledger_default_probe(TEXT, BIGINT, BIGINT);
  CREATE TABLE rampart.ledger_records_plain (LIKE rampart.ledger_records);
  INSERT INTO rampart.ledger_records_plain SELECT * FROM rampart.ledger_records;
  DROP TABLE rampart.ledger_records;
  ALTER TABLE rampart.ledger_records_plain RENAME TO ledger_records;
  ALTER TABLE rampart.ledger_records ADD PRIMARY KEY (seq);
  CREATE INDEX ledger_records_ts ON rampart.ledger_records (ts);
  DELETE FROM rampart.schema_version WHERE version > 6;`;

const UNDO_6 = UNDO_7 + `DROP TABLE rampart.ledger_sealed; DROP TABLE rampart.ledger_bodies; DROP TABLE rampart.ledger_index; DROP TABLE rampart.data_keys;
  DROP TABLE rampart.ledger_checkpoints; DROP TABLE rampart.ledger_signing_keys; DROP TABLE rampart.legal_holds; DROP TABLE rampart.ledger_prune;
  DELETE FROM rampart.schema_version WHERE version > 5;`;

storageContract('postgres', {
  async open() {
    const db = await createTempDatabase();
    const cfg = { driver: 'postgres' as const, postgres: { url: db.url, schema: 'rampart', poolSize: 4 } };
    const storage = (await openStorage(cfg)) as PostgresStorage;
    return {
      storage,
      openSecond: () => openStorage(cfg),
      openReadOnly: () => openStorage(cfg, { readOnly: true }),
      async assertDurable() {
        const d = await storage.ledger.durability();
        assert.equal(d.synchronousCommit, 'on', 'SHOW synchronous_commit on the store\'s own session');
        assert.notEqual(d.statementTimeout, '0', 'a statement timeout is set');
      },
      async dispose() {
        await storage.close();
        await db.drop();
      },
    };
  },
});

describe('postgres backend', () => {
  it('creates its own schema with versioned migrations; concurrent first opens migrate once', async () => {
    const db = await createTempDatabase();
    try {
      const opened = await Promise.all([1, 2, 3].map(() => openPostgresStorage({ url: db.url, schema: 'audit_x', poolSize: 2 })));
      await Promise.all(opened.map((s) => s.close()));
      const c = new pg.Client({ connectionString: db.url });
      await c.connect();
      try {
        const v = await c.query('SELECT version FROM audit_x.schema_version ORDER BY version');
        assert.deepEqual(v.rows, [1, 2, 3, 4, 5, 6, 7, 8].map((version) => ({ version })));
        // Partitions (migration 7) are listed apart: the parents' own indexes and tables first.
        const partitions = "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'audit_x' AND c.relispartition";
        const idx = await c.query(`SELECT indexname FROM pg_indexes WHERE schemaname = 'audit_x' AND tablename LIKE 'ledger%' AND tablename NOT IN (${partitions}) AND indexname NOT LIKE '%_pkey' ORDER BY indexname`);
        assert.deepEqual(idx.rows.map((r: { indexname: string }) => r.indexname), ['ledger_bodies_dek', 'ledger_index_seq', 'ledger_records_ts', 'ledger_sealed_dek']);
        const month = new Date().toISOString().slice(0, 7).replace('-', 'm');
        const parts = (await c.query(`${partitions} ORDER BY c.relname`)).rows.map((r: { relname: string }) => r.relname);
        for (const p of [`ledger_records_${month}`, 'ledger_records_default', `ledger_index_${month}`, 'ledger_index_default']) assert.ok(parts.includes(p), `partition ${p} exists (storage partitioned by time)`);
        const t = await c.query(`SELECT table_name FROM information_schema.tables WHERE table_schema = 'audit_x' AND table_name NOT IN (${partitions}) ORDER BY table_name`);
        assert.deepEqual(t.rows.map((r: { table_name: string }) => r.table_name), [
          'admin_passkeys', 'admin_sessions', 'admin_users', 'api_keys', 'chain_head', 'config_activations', 'config_approvals', 'config_versions', 'data_keys',
          'key_changes', 'ledger_bodies', 'ledger_checkpoints',
          'ledger_index', 'ledger_private', 'ledger_prune', 'ledger_records', 'ledger_sealed', 'ledger_signing_keys', 'legal_holds', 'schema_version',
        ]);
        const pub = await c.query("SELECT count(*)::int AS n FROM information_schema.tables WHERE table_schema = 'public'");
        assert.equal(pub.rows[0].n, 0, 'nothing lands in public');
        await c.query('INSERT INTO audit_x.schema_version VALUES (99, $1, 0)', ['from the future']);
      } finally {
        await c.end();
      }
      await assert.rejects(openPostgresStorage({ url: db.url, schema: 'audit_x' }), /version 99, newer than this Rampart/);
      await assert.rejects(openPostgresStorage({ url: db.url, schema: 'Robert"; DROP' }), TypeError);
    } finally {
      await db.drop();
    }
  });

  it('BIGINT seq and ts come back as numbers', async () => {
    const db = await createTempDatabase();
    const s = await openPostgresStorage({ url: db.url });
    try {
      const ts = Date.UTC(9999, 11, 31, 23, 59, 59, 999);
      const stored = buildStoredRecord({ v: 1, seq: 1, ts, type: 'system.event', node: 'n', outcome: 'info', configHash: 'x' }, GENESIS_HASH);
      const tag = tagOf('subject', 'x');
      await s.ledger.append([{ stored, priv: { seq: 1, dekId: 'dk', sealed: Buffer.from('sealed') }, index: [{ seq: 1, ts, tag }] }]);
      const [r] = await s.ledger.read(1, 1);
      assert.equal(typeof r!.record.seq, 'number');
      assert.equal(r!.record.ts, ts);
      assert.deepEqual(await s.ledger.head(), { seq: 1, chainHash: stored.chainHash });
      assert.deepEqual(await s.ledger.readLeaves(1, 1), [{ seq: 1, leafHash: stored.leafHash }]);
      assert.deepEqual(await s.ledger.searchIndex([tag], ts, ts, 1), [{ seq: 1, ts, tag }]);
      assert.deepEqual(await s.ledger.readPrivate([1]), [{ seq: 1, sealed: { seq: 1, dekId: 'dk', sealed: Buffer.from('sealed') } }]);
      await s.dataKeys.insertDataKey({ id: 'dk', recordClass: 'personal', expiryDay: 2_147_483_647, kekId: 'k', wrapped: Buffer.from('w'), createdAt: ts });
      assert.deepEqual(await s.dataKeys.getDataKey('dk'), { id: 'dk', recordClass: 'personal', expiryDay: 2_147_483_647, kekId: 'k', wrapped: Buffer.from('w'), createdAt: ts });
      const cp = { treeSize: 2 ** 53 - 1, ts, kind: 'manual' as const, rootHash: 'r', chainHash: 'c', note: 'n', compactRange: ['a', 'b'] };
      await s.checkpoints.insertCheckpoint(cp);
      assert.deepEqual(await s.checkpoints.latestCheckpoint(), cp);
      await s.retention.insertHold({ id: 'h', criteriaSealed: Buffer.from('c'), dekId: 'dk', createdAt: ts, createdBy: 'x', liftedAt: ts, liftedBy: 'y' });
      assert.deepEqual(await s.retention.listHolds(), [{ id: 'h', criteriaSealed: Buffer.from('c'), dekId: 'dk', createdAt: ts, createdBy: 'x', liftedAt: ts, liftedBy: 'y' }]);
      assert.deepEqual(await s.retention.itemsUnderKey('dk'), { privates: 1, bodies: 0 });
      await s.keys.insert({ id: 'k', name: 'k', hash: 'h', scopes: [], createdAt: ts, expiresAt: ts });
      const k = await s.keys.get('k');
      assert.equal(k!.createdAt, ts);
      assert.equal(typeof (await s.keys.changesSince(0)).cursor, 'number');
    } finally {
      await s.close();
      await db.drop();
    }
  });

  it('a read-only open needs an existing schema and creates nothing', async () => {
    const db = await createTempDatabase();
    try {
      await assert.rejects(openPostgresStorage({ url: db.url, readOnly: true }), /no Rampart ledger in schema rampart yet/);
      const c = new pg.Client({ connectionString: db.url });
      await c.connect();
      try {
        const r = await c.query("SELECT count(*)::int AS n FROM information_schema.schemata WHERE schema_name = 'rampart'");
        assert.equal(r.rows[0].n, 0);
      } finally {
        await c.end();
      }
    } finally {
      await db.drop();
    }
  });

  it('upgrades a version 7 schema to 8 (configuration versions); a read-only open before that answers with none', async () => {
    const db = await createTempDatabase();
    try {
      const s1 = await openPostgresStorage({ url: db.url });
      const first = handBatch(1, 2, GENESIS_HASH, { priv: () => 'dk' });
      await s1.ledger.append(first);
      await s1.close();
      // As Rampart left the schema at version 7, the previous latest.
      const c = new pg.Client({ connectionString: db.url });
      await c.connect();
      try {
        await c.query(UNDO_8);
      } finally {
        await c.end();
      }
      const ro = await openPostgresStorage({ url: db.url, readOnly: true });
      try {
        assert.equal((await verifyChain(ro.ledger)).count, 2);
        assert.deepEqual(await ro.configs.listVersions(10), []);
        assert.equal(await ro.configs.getVersion(configHashOf(1)), undefined);
        assert.deepEqual(await ro.configs.approvals(configHashOf(1)), []);
        assert.deepEqual(await ro.configs.activations(10), []);
        await assert.rejects(ro.configs.putVersion(configVersion(1)), /read-only/);
        // A gateway migrates it; the read-only handle then sees what is stored.
        const s2 = await openPostgresStorage({ url: db.url });
        try {
          assert.equal((await verifyChain(s2.ledger)).ok, true);
          assert.deepEqual((await s2.ledger.readPrivate([1, 2])).map((p) => p.seq), [1, 2]);
          assert.equal(await s2.configs.putVersion(configVersion(1)), true);
          assert.equal(await s2.configs.addApproval({ hash: configHashOf(1), approver: 'bob', at: 2, comment: '' }), true);
          assert.equal((await s2.configs.recordActivation({ hash: configHashOf(1), at: 3, by: 'alice', node: 'n1' })).seq, 1);
        } finally {
          await s2.close();
        }
        assert.deepEqual((await ro.configs.listVersions(10)).map((v) => v.hash), [configHashOf(1)]);
        assert.deepEqual((await ro.configs.activations(10)).map((a) => a.seq), [1]);
      } finally {
        await ro.close();
      }
      const c2 = new pg.Client({ connectionString: db.url });
      await c2.connect();
      try {
        const v = await c2.query('SELECT max(version) AS v FROM rampart.schema_version');
        assert.equal(v.rows[0].v, 8);
        // The server enforces the foreign key too (the store turns it into RAMPART_CONFIG_VERSION_UNKNOWN).
        await assert.rejects(c2.query("INSERT INTO rampart.config_approvals (hash, approver, at, comment) VALUES ('sha256:none', 'x', 1, '')"), (e: { code?: string }) => e.code === '23503');
      } finally {
        await c2.end();
      }
    } finally {
      await db.drop();
    }
  });

  it('a read-only open of a schema from before the admin tables serves the ledger, and says why it has no admin accounts', async () => {
    const db = await createTempDatabase();
    try {
      const s1 = await openPostgresStorage({ url: db.url });
      await s1.ledger.append(handBatch(1, 1, GENESIS_HASH));
      await s1.close();
      // As Rampart left it before migration 3.
      const c = new pg.Client({ connectionString: db.url });
      await c.connect();
      try {
        await c.query(UNDO_6);
        await c.query('DROP TABLE rampart.admin_passkeys; DROP TABLE rampart.admin_sessions; DROP TABLE rampart.admin_users; ALTER TABLE rampart.api_keys DROP COLUMN public_key_jwk; DELETE FROM rampart.schema_version WHERE version > 2');
      } finally {
        await c.end();
      }
      const ro = await openPostgresStorage({ url: db.url, readOnly: true });
      try {
        assert.equal((await verifyChain(ro.ledger)).count, 1);
        await assert.rejects(ro.admin.listUsers(), /version 2, from before admin accounts/);
        await assert.rejects(ro.admin.getSession('x'), /version 2, from before admin accounts/);
        await assert.rejects(ro.admin.listPasskeys('u'), /version 2, from before admin accounts/);
        await assert.rejects(ro.admin.useTotpStep('u', 1), /read-only/);
      } finally {
        await ro.close();
      }
      const s2 = await openPostgresStorage({ url: db.url });
      try {
        assert.deepEqual(await s2.admin.listUsers(), []);
      } finally {
        await s2.close();
      }
    } finally {
      await db.drop();
    }
  });

  it('a read-only open of a schema from before the passkeys serves the admin accounts, and says why it has no passkeys', async () => {
    const db = await createTempDatabase();
    try {
      const s1 = await openPostgresStorage({ url: db.url });
      await s1.admin.insertUser({ id: 'u', username: 'u', passwordHash: 'h', roles: ['owner'], recoveryCodeHashes: [], disabled: false, failedLogins: 0, createdAt: 1, updatedAt: 1 });
      await s1.close();
      // As Rampart left it before migration 4.
      const c = new pg.Client({ connectionString: db.url });
      await c.connect();
      try {
        await c.query(UNDO_6);
        await c.query('DROP TABLE rampart.admin_passkeys; ALTER TABLE rampart.api_keys DROP COLUMN public_key_jwk; DELETE FROM rampart.schema_version WHERE version > 3');
      } finally {
        await c.end();
      }
      const ro = await openPostgresStorage({ url: db.url, readOnly: true });
      try {
        assert.deepEqual((await ro.admin.listUsers()).map((u) => u.id), ['u']);
        await assert.rejects(ro.admin.listPasskeys('u'), /version 3, from before admin passkeys/);
        await assert.rejects(ro.admin.getPasskey('x'), /version 3, from before admin passkeys/);
        await assert.rejects(ro.admin.usePasskey('x', 1, 1), /read-only/);
      } finally {
        await ro.close();
      }
      const s2 = await openPostgresStorage({ url: db.url });
      try {
        await s2.admin.addPasskey('u', { credentialId: 'c', publicKey: 'k', counter: 0, transports: ['usb'], name: 'n', createdAt: 2 });
        assert.deepEqual(await s2.admin.listPasskeys('u'), [{ credentialId: 'c', publicKey: 'k', counter: 0, transports: ['usb'], name: 'n', createdAt: 2 }]);
      } finally {
        await s2.close();
      }
    } finally {
      await db.drop();
    }
  });

  it('a read-only open of a schema from before migration 6 serves the ledger and its clear private parts, and says why it has no data keys or index', async () => {
    const db = await createTempDatabase();
    try {
      const s1 = await openPostgresStorage({ url: db.url });
      await s1.ledger.append(handBatch(1, 2, GENESIS_HASH));
      await s1.close();
      const c = new pg.Client({ connectionString: db.url });
      await c.connect();
      try {
        await c.query(UNDO_6);
        await c.query("INSERT INTO rampart.ledger_private (seq, principal, personal_json, personal_salt) VALUES (2, 'alice', $1, $2)", [JSON.stringify({ principal: 'alice' }), 'ab'.repeat(32)]);
      } finally {
        await c.end();
      }
      const ro = await openPostgresStorage({ url: db.url, readOnly: true });
      try {
        assert.equal((await verifyChain(ro.ledger)).count, 2);
        assert.equal((await ro.ledger.readLeaves(1, 10)).length, 2);
        assert.deepEqual(await ro.ledger.readPrivate([1, 2]), [{ seq: 2, plain: { seq: 2, personal: { principal: 'alice' }, personalSalt: 'ab'.repeat(32) } }]);
        assert.deepEqual(await ro.ledger.readBodies([1, 2]), []);
        assert.equal(await ro.retention.pruneState(), undefined);
        assert.equal(await ro.checkpoints.latestCheckpoint(), undefined);
        assert.deepEqual(await ro.checkpoints.listSigningKeys(), []);
        const old = /schema version 5, from before the encrypted ledger .*start the gateway once to migrate it/;
        await assert.rejects(ro.ledger.search({ tags: [tagOf('principal', 'alice')], limit: 10 }), old);
        await assert.rejects(ro.ledger.searchIndex([tagOf('principal', 'alice')], 0, 1e15, 10), old);
        await assert.rejects(ro.dataKeys.listDataKeys(), old);
        await assert.rejects(ro.retention.listHolds(), old);
      } finally {
        await ro.close();
      }
      // A gateway migrates it; the clear rows stay readable beside sealed ones.
      const s2 = await openPostgresStorage({ url: db.url });
      try {
        const head = (await s2.ledger.head())!;
        const more = handBatch(3, 1, head.chainHash, { priv: () => 'dk' });
        await s2.ledger.append(more);
        assert.deepEqual((await s2.ledger.readPrivate([1, 2, 3])).map((p) => [p.seq, p.plain ? 'plain' : 'sealed']), [[2, 'plain'], [3, 'sealed']]);
      } finally {
        await s2.close();
      }
    } finally {
      await db.drop();
    }
  });

  it('BIGINT times of admin users and sessions come back as numbers', async () => {
    const db = await createTempDatabase();
    const s = await openPostgresStorage({ url: db.url });
    try {
      const ts = Date.UTC(9999, 11, 31, 23, 59, 59, 999);
      await s.admin.insertUser({
        id: 'u', username: 'u', passwordHash: 'h', roles: ['owner'], totpLastStep: Math.floor(ts / 30_000), recoveryCodeHashes: [],
        disabled: false, failedLogins: 0, lockedUntil: ts, createdAt: ts, updatedAt: ts,
      });
      const u = await s.admin.getUser('u');
      assert.equal(u!.createdAt, ts);
      assert.equal(u!.lockedUntil, ts);
      assert.equal(u!.totpLastStep, Math.floor(ts / 30_000));
      const f = await s.admin.recordLoginFailure('u', ts - 10, 1, 10);
      assert.deepEqual(f, { failedLogins: 0, lockedUntil: ts });
      await s.admin.createSession({ id: 'x', userId: 'u', createdAt: ts, lastSeenAt: ts, expiresAt: ts, csrfToken: 'c', authenticatedAt: ts });
      assert.deepEqual(await s.admin.getSession('x'), { id: 'x', userId: 'u', createdAt: ts, lastSeenAt: ts, expiresAt: ts, csrfToken: 'c', authenticatedAt: ts });
      // WebAuthn counters are 32-bit unsigned: the largest must fit, and come back as a number.
      const max = 2 ** 32 - 1;
      await s.admin.addPasskey('u', { credentialId: 'pk', publicKey: 'k', counter: max - 1, transports: [], name: 'n', createdAt: ts });
      assert.equal(await s.admin.usePasskey('pk', max, ts), true);
      assert.deepEqual(await s.admin.getPasskey('pk'), { userId: 'u', passkey: { credentialId: 'pk', publicKey: 'k', counter: max, transports: [], name: 'n', createdAt: ts, lastUsedAt: ts } });
    } finally {
      await s.close();
      await db.drop();
    }
  });

  it('refuses to run when the URL turns synchronous_commit off', async () => {
    const db = await createTempDatabase();
    try {
      const u = new URL(db.url);
      u.searchParams.set('options', '-c synchronous_commit=off');
      await assert.rejects(openPostgresStorage({ url: u.toString() }), /synchronous_commit is 'off'/);
    } finally {
      await db.drop();
    }
  });

  it('a cut connection fails appends promptly (503 path), and the chain continues once it is back', async () => {
    const db = await createTempDatabase();
    const proxy = await startTcpProxy('127.0.0.1', 5432);
    const u = new URL(db.url);
    u.port = String(proxy.port);
    const s = await openPostgresStorage({ url: u.toString(), poolSize: 4, connectTimeoutMs: 1000, queryTimeoutMs: 1000 });
    try {
      const alerts: unknown[] = [];
      const ledger = await createLedger(s.ledger, { node: 'n1', maxBatch: 16, onAlert: (e) => alerts.push(e), sealer: await testSealer(s) });
      await Promise.all(Array.from({ length: 10 }, () => ledger.append(decision())));
      proxy.cut();
      const started = Date.now();
      const r = await Promise.allSettled(Array.from({ length: 5 }, () => ledger.append(decision())));
      assert.ok(r.every((x) => x.status === 'rejected' && (x.reason as { code?: string }).code === 'RAMPART_LEDGER_UNAVAILABLE'));
      assert.ok(Date.now() - started < 3000, `rejected within ${Date.now() - started} ms`);
      await assert.rejects(s.ledger.ping());
      assert.equal(ledger.healthy, false);
      assert.ok(alerts.length > 0);
      proxy.restore();
      let seq = 0;
      for (let i = 0; i < 50 && seq === 0; i++) {
        seq = await ledger.append(decision()).then((x) => x.seq, () => 0);
        if (seq === 0) await new Promise((res) => setTimeout(res, 100));
      }
      assert.equal(seq, 11, 'the chain continues from the last committed record');
      assert.equal(ledger.healthy, true);
      const v = await verifyChain(s.ledger);
      assert.equal(v.ok, true);
      assert.equal(v.count, 11);
      await ledger.close();
    } finally {
      proxy.restore();
      await s.close();
      await proxy.close();
      await db.drop();
    }
  });

  it('a connection that silently stops answering times out instead of hanging', async () => {
    const db = await createTempDatabase();
    const proxy = await startFreezableProxy(5432);
    const u = new URL(db.url);
    u.port = String(proxy.port);
    const s = await openPostgresStorage({ url: u.toString(), poolSize: 2, connectTimeoutMs: 500, queryTimeoutMs: 500 });
    try {
      const ledger = await createLedger(s.ledger, { node: 'n1', maxBatch: 16, onAlert: () => {}, sealer: await testSealer(s) });
      await ledger.append(decision());
      proxy.freeze();
      const started = Date.now();
      await assert.rejects(ledger.append(decision()), (e: { code?: string }) => e.code === 'RAMPART_LEDGER_UNAVAILABLE');
      assert.ok(Date.now() - started < 2500, `rejected within ${Date.now() - started} ms`);
      // New connections are answered again: the stuck one was discarded, not reused.
      proxy.thaw();
      let ok = false;
      for (let i = 0; i < 30 && !ok; i++) ok = await ledger.append(decision()).then(() => true, () => false);
      assert.ok(ok);
      assert.equal((await verifyChain(s.ledger)).ok, true);
      await ledger.close();
    } finally {
      await s.close();
      await proxy.close();
      await db.drop();
    }
  });

  it('a server that accepts but never answers fails the open within the connect timeout', async () => {
    const sockets = new Set<net.Socket>();
    // Reads and drops whatever the client sends, and never answers.
    const silent = net.createServer((sock) => {
      sockets.add(sock);
      sock.on('close', () => sockets.delete(sock)).resume();
    });
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    const port = (silent.address() as AddressInfo).port;
    const started = Date.now();
    try {
      await assert.rejects(openPostgresStorage({ url: `postgres://postgres@127.0.0.1:${port}/x`, connectTimeoutMs: 300 }));
      assert.ok(Date.now() - started < 2000, `rejected within ${Date.now() - started} ms`);
    } finally {
      for (const sock of sockets) sock.destroy();
      await new Promise((r) => silent.close(r));
    }
  });
});

/**
 * A TCP proxy whose existing connections can be frozen: bytes stop flowing but nothing is
 * closed, as when a network path black-holes. Connections opened while frozen also stall.
 */
async function startFreezableProxy(targetPort: number): Promise<{ port: number; freeze(): void; thaw(): void; close(): Promise<void> }> {
  let frozen = false;
  const conns = new Set<{ client: net.Socket; upstream: net.Socket; frozen: boolean }>();
  const server = net.createServer((client) => {
    const upstream = net.connect(targetPort, '127.0.0.1');
    const c = { client, upstream, frozen };
    conns.add(c);
    const drop = (): void => {
      conns.delete(c);
      client.destroy();
      upstream.destroy();
    };
    client.on('error', drop).on('close', drop);
    upstream.on('error', drop).on('close', drop);
    client.on('data', (d) => {
      if (!c.frozen) upstream.write(d);
    });
    upstream.on('data', (d) => {
      if (!c.frozen) client.write(d);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as AddressInfo).port,
    freeze() {
      frozen = true;
      for (const c of conns) c.frozen = true;
    },
    thaw() {
      // Frozen connections stay dead (their bytes are lost); new ones flow again.
      frozen = false;
    },
    close: () =>
      new Promise<void>((r) => {
        for (const c of conns) {
          c.client.destroy();
          c.upstream.destroy();
        }
        server.close(() => r());
      }),
  };
}
