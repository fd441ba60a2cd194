/**
 * Signed checkpoints published outside the store (AU-9(2), AU-9(3), R17a4-6), end to end on a real
 * gateway with a real SQLite file:
 * - checkpoints are signed on demand and at shutdown and appended to the published-heads file;
 * - the ledger verifies against them;
 * - a forgery whose whole chain was recomputed after the fact (and the stored checkpoints deleted)
 *   passes the chain check alone, and is caught through the published heads — by the library and
 *   by `rampart audit verify --published ... --public-key ...`;
 * - a truncated ledger is caught the same way, and the gateway refuses to start over it;
 * - the scheduled self-verification writes a result record and raises an alert on a mismatch.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { buildStoredRecord, GENESIS_HASH } from '../../src/ledger/chain.js';
import { openCheckpoint } from '../../src/ledger/checkpoint-note.js';
import { readPublishedFile } from '../../src/ledger/publish.js';
import type { LedgerRecord } from '../../src/ledger/record.js';
import { verifyChain } from '../../src/ledger/verify.js';
import { verifyLedger } from '../../src/ledger/verify-ledger.js';
import { openSqliteStorage } from '../../src/storage/sqlite/store.js';
import { loadConfig } from '../../src/config/load.js';
import { startGateway } from '../../src/gateway/start.js';
import { silentLogger } from '../../src/core/log.js';
import { run, show } from '../helpers/cli.js';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';

const PUBLISH = { ledger: { checkpoints: { publish: [{ file: 'heads/published.jsonl' }], intervalSeconds: 3600 }, selfVerify: { intervalSeconds: 0 } } };

/** The attacker who can write the database: rewrites record `seq` and recomputes every hash after it. */
function forgeAndRechain(dbPath: string, seq: number): void {
  const db = new Database(dbPath);
  try {
    const rows = db.prepare('SELECT seq, canonical FROM ledger_records ORDER BY seq').all() as { seq: number; canonical: string }[];
    let prev = GENESIS_HASH;
    const upd = db.prepare('UPDATE ledger_records SET canonical = ?, leaf_hash = ?, chain_hash = ?, status = ? WHERE seq = ?');
    db.transaction(() => {
      for (const r of rows) {
        const rec = JSON.parse(r.canonical) as LedgerRecord;
        if (r.seq === seq) rec.status = 299;
        const s = buildStoredRecord(rec, prev);
        upd.run(s.canonical, s.leafHash, s.chainHash, rec.status ?? null, r.seq);
        prev = s.chainHash;
      }
      db.prepare('UPDATE chain_head SET chain_hash = ? WHERE id = 1').run(prev);
      // Whoever rewrites history also removes the checkpoints kept beside it.
      db.prepare('DELETE FROM ledger_checkpoints').run();
    })();
  } finally {
    db.close();
  }
}

function truncate(dbPath: string, keep: number): void {
  const db = new Database(dbPath);
  try {
    db.transaction(() => {
      db.prepare('DELETE FROM ledger_records WHERE seq > ?').run(keep);
      const h = db.prepare('SELECT chain_hash FROM ledger_records WHERE seq = ?').get(keep) as { chain_hash: string };
      db.prepare('UPDATE chain_head SET seq = ?, chain_hash = ? WHERE id = 1').run(keep, h.chain_hash);
      db.prepare('DELETE FROM ledger_checkpoints WHERE tree_size > ?').run(keep);
    })();
  } finally {
    db.close();
  }
}

describe('signed checkpoints published outside the store', () => {
  let t: TestGateway;
  let dbPath: string;
  let published: string;
  let verifierKey: string;

  before(async () => {
    t = await startTestGateway({ yaml: PUBLISH });
    dbPath = t.config.storage.driver === 'sqlite' ? t.config.storage.sqlite.path : '';
    published = join(t.dir, 'heads', 'published.jsonl');
    verifierKey = t.gw.ledgerParts!.checkpointKey.verifier;
    const { key } = await t.key(['accounts:read'], { subject: 'cus_1' });
    for (let i = 0; i < 6; i++) assert.equal((await t.request('GET', '/accounts?limit=1', { headers: { authorization: `Bearer ${key}` } })).status, 200);
    await t.gw.ledger.flush();
    const cp = await t.gw.ledgerParts!.checkpointer.checkpoint('manual');
    assert.ok(cp && cp.treeSize >= 12, 'a checkpoint over the records so far');
    for (let i = 0; i < 3; i++) await t.request('GET', '/accounts?limit=1', { headers: { authorization: `Bearer ${key}` } });
    await t.gw.close(); // the shutdown checkpoint
  });
  after(() => t.close());

  it('publishes each checkpoint as a signed note that verifies with the public key alone', async () => {
    const heads = await readPublishedFile(published);
    assert.deepEqual(heads.map((h) => h.kind), ['manual', 'shutdown']);
    const s = await openSqliteStorage(dbPath, { readOnly: true });
    try {
      const head = await s.ledger.head();
      const last = heads[heads.length - 1]!;
      assert.equal(last.treeSize, head!.seq, 'the shutdown checkpoint covers every record, its own stop record included');
      const { checkpoint } = openCheckpoint(last.note, [verifierKey]);
      assert.equal(checkpoint.chainHash, head!.chainHash);
      assert.equal(checkpoint.origin, t.config.ledger.checkpoints.origin);
      const r = await verifyLedger({ ledger: s.ledger, checkpoints: s.checkpoints, retention: s.retention, verifierKeys: [verifierKey], published: heads });
      assert.equal(r.ok, true, JSON.stringify(r.findings));
      assert.deepEqual(r.checkpointsVerified, { store: 2, published: 2 });
      assert.equal(r.latestPublished?.treeSize, head!.seq);
    } finally {
      await s.close();
    }
    assert.throws(() => openCheckpoint(heads[0]!.note.replace(/\n(\d+)\n/, (_m, n: string) => `\n${Number(n) + 1}\n`), [verifierKey]), /signature|verif/i, 'an edited checkpoint no longer verifies');
  });

  it('catches a forgery whose chain was recomputed, through the published heads only', async () => {
    const copy = join(t.dir, 'forged.db');
    const src = new Database(dbPath);
    await src.backup(copy);
    src.close();
    forgeAndRechain(copy, 5);
    const s = await openSqliteStorage(copy, { readOnly: true });
    try {
      const chain = await verifyChain(s.ledger);
      assert.equal(chain.ok, true, 'the recomputed chain is self-consistent: hashes alone cannot tell');
      const heads = await readPublishedFile(published);
      const r = await verifyLedger({ ledger: s.ledger, checkpoints: s.checkpoints, retention: s.retention, verifierKeys: [verifierKey], published: heads });
      assert.equal(r.ok, false);
      assert.deepEqual(r.findings.map((f) => [f.source, f.problem]), [['published', 'root-mismatch'], ['published', 'root-mismatch']]);
      const withoutHeads = await verifyLedger({ ledger: s.ledger, checkpoints: s.checkpoints, retention: s.retention, verifierKeys: [verifierKey] });
      assert.equal(withoutHeads.ok, true, 'without the published heads the forgery would pass: that is why they are published');
    } finally {
      await s.close();
    }

    // The same through the CLI, as an examiner runs it: the public key and the published file.
    const cfg = readFileSync(t.configFile, 'utf8').replace('path: rampart.db', 'path: forged.db');
    const cfgFile = join(t.dir, 'forged.yaml');
    (await import('node:fs')).writeFileSync(cfgFile, cfg);
    const args = ['audit', 'verify', '-c', cfgFile, '--no-private', '--published', published, '--public-key', verifierKey];
    const r = await run(t.dir, args);
    assert.equal(r.code, 1, show(args, r));
    assert.match(r.stdout, /FAIL: the published checkpoint at size \d+ signed root [0-9a-f]{64}, but the stored records give [0-9a-f]{64}: records up to seq \d+ were rewritten/);
    assert.match(r.stderr, /root-mismatch/);
  });

  it('catches truncation (records removed from the end), and the gateway refuses to start over it', async () => {
    const copy = join(t.dir, 'truncated.db');
    const src = new Database(dbPath);
    await src.backup(copy);
    src.close();
    const heads = await readPublishedFile(published);
    truncate(copy, heads[0]!.treeSize + 1);
    const s = await openSqliteStorage(copy, { readOnly: true });
    try {
      const r = await verifyLedger({ ledger: s.ledger, checkpoints: s.checkpoints, retention: s.retention, verifierKeys: [verifierKey], published: heads });
      assert.equal(r.ok, false);
      assert.deepEqual(r.findings.map((f) => [f.source, f.problem]), [['published', 'beyond-ledger']]);
      assert.match(r.findings[0]!.detail, /truncated or rolled back/);
    } finally {
      await s.close();
    }
    // A careless truncation leaves the stored shutdown checkpoint in place: a gateway started
    // over that store finds its head behind what it signed and refuses to write on.
    const db = new Database(copy);
    const real = new Database(dbPath, { readonly: true });
    const row = real.prepare("SELECT * FROM ledger_checkpoints WHERE kind = 'shutdown'").get() as Record<string, unknown>;
    real.close();
    db.prepare('INSERT INTO ledger_checkpoints (tree_size, kind, ts, root_hash, chain_hash, note, compact_range) VALUES (@tree_size, @kind, @ts, @root_hash, @chain_hash, @note, @compact_range)').run(row);
    db.close();
    const config = await loadConfig(t.configFile);
    const bad = { ...config, storage: { ...config.storage, sqlite: { path: copy } } } as typeof config;
    await assert.rejects(startGateway({ config: bad, configDir: t.dir, logger: silentLogger() }), (err: Error & { code?: string }) => err.code === 'RAMPART_LEDGER_BROKEN' && /truncated or rewritten/.test(err.message));
  });
});

describe('scheduled self-verification (R17a4-6)', () => {
  it('writes a result record covered by a signed checkpoint, and alerts on a mismatch', async () => {
    const t = await startTestGateway({ yaml: { ledger: { selfVerify: { intervalSeconds: 3600 } } } });
    try {
      const { key } = await t.key(['accounts:read'], { subject: 'cus_1' });
      for (let i = 0; i < 4; i++) await t.request('GET', '/accounts?limit=1', { headers: { authorization: `Bearer ${key}` } });
      const sv = t.gw.ledgerParts!.selfVerifier!;
      const good = await sv.run();
      assert.equal(good.ok, true, JSON.stringify(good.findings));
      const [rec] = await t.gw.storage.ledger.search({ type: 'system.event', reason: 'RAMPART_OK', limit: 1, descending: true });
      assert.equal(rec!.record.detail?.event, 'ledger.verified');
      assert.equal(rec!.record.detail?.ok, true);
      const cp = await t.gw.storage.checkpoints.latestCheckpoint('verify');
      assert.ok(cp && cp.treeSize >= rec!.record.seq, 'the result record is covered by a signed verify checkpoint');

      // Someone edits a record under the running gateway.
      const dbPath = t.config.storage.driver === 'sqlite' ? t.config.storage.sqlite.path : '';
      const db = new Database(dbPath);
      db.prepare("UPDATE ledger_records SET canonical = replace(canonical, '\"status\":200', '\"status\":201') WHERE seq = 3").run();
      db.close();
      await t.request('GET', '/accounts?limit=1', { headers: { authorization: `Bearer ${key}` } });
      const alerts: unknown[] = [];
      const bad = await (async () => {
        // The next run is a full one after a failure; the first run after start already resumed
        // past seq 3, so restart from scratch as the next start would.
        const { createSelfVerifier } = await import('../../src/ledger/self-verify.js');
        const fresh = createSelfVerifier({ storage: t.gw.storage, ledger: t.gw.ledger, checkpointer: t.gw.ledgerParts!.checkpointer, sealer: t.gw.ledgerParts!.crypto.sealer, config: t.config, configHash: () => t.gw.runtime().hash, intervalMs: 0, onAlert: (e) => alerts.push(e) });
        try {
          return await fresh.run();
        } finally {
          await fresh.close();
        }
      })();
      assert.equal(bad.ok, false);
      assert.equal(bad.firstBad?.seq, 3);
      assert.equal(alerts.length, 1);
      assert.equal((alerts[0] as { code?: string }).code, 'RAMPART_LEDGER_VERIFY_FAILED');
      const [failed] = await t.gw.storage.ledger.search({ type: 'security.event', reason: 'RAMPART_LEDGER_VERIFY_FAILED', limit: 1 });
      assert.equal(failed!.record.detail?.firstBadSeq, 3);
    } finally {
      await t.close();
    }
  });
});
