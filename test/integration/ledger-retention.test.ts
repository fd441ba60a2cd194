/**
 * Retention on a real gateway (R17a4-1, RSP-7, AU-11): the purge job removes what has expired and
 * nothing else, legal holds keep what they name, and crypto-shredding is proven on disk.
 *
 * Records are written with the real clock; the purge is then run with a clock seven years ahead,
 * so every class (six years and two days at most) has expired. What the tests guarantee:
 * - inside its period nothing goes: a purge now removes no key and prunes no record, and a dry run
 *   (now or in the future) changes nothing;
 * - after the future purge, an expired data key is gone from the store and the ring
 *   (RAMPART_DATA_KEY_GONE), and what it sealed opens under nothing; on SQLite, neither the
 *   plaintext key, nor its wrapped form, nor a private part or body sealed under it occurs in the
 *   database file, its -wal or its -shm, while the gateway runs and after it stopped;
 * - the purge leaves a receipt in the ledger, the pruned prefix is covered by a signed prune
 *   checkpoint, and verification (AU-9(2), R17a4-6) runs from the prune point, also over a
 *   checkpoint signed after the prune;
 * - a legal hold (R17a4-1) keeps the held customer's private parts and bodies readable under the
 *   hold's key and stops the prune before the first held record; the index key and an active
 *   hold's key are never purged; setting and lifting are ledger records (R17a4-3); once lifted,
 *   the next purge takes the formerly held items too.
 * The scenario runs on SQLite and once more on PostgreSQL under the AU-9(4) role split (the
 * gateway's role, with the retention role's URL for retention work), whose dead tuples VACUUM reclaims (the
 * on-disk check is SQLite's; the guarantee there is the deleted wrapped key, ENC-5/6). The gateway
 * is restarted over the pruned ledger before the hold is lifted.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { loadConfig } from '../../src/config/load.js';
import { silentLogger } from '../../src/core/log.js';
import { HOLD_RECORD_CLASS } from '../../src/crypto/data-keys.js';
import { startGateway } from '../../src/gateway/start.js';
import { INDEX_KEY_CLASS } from '../../src/ledger/blind-index.js';
import { liftHold, setHold, type HoldContext } from '../../src/ledger/holds.js';
import { runPurge, type PurgeContext, type PurgeReport } from '../../src/ledger/purge.js';
import type { PrivatePart } from '../../src/ledger/record.js';
import { verifyLedger } from '../../src/ledger/verify-ledger.js';
import type { LegalHold, SealedBody, SealedPrivate } from '../../src/storage/types.js';
import { rawRequest, startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { createRoleSplitDatabase, type RoleSplitDatabase } from '../helpers/pg.js';

/** Seven years ahead: past every class's retention (at most 6 × 365 + 2 days). */
const FUTURE_MS = 7 * 365 * 86_400_000;
const future = (): number => Date.now() + FUTURE_MS;

/** No timers that would write or verify behind the test's back. */
const YAML = { ledger: { checkpoints: { intervalSeconds: 3600 }, selfVerify: { intervalSeconds: 0 } } };

const PG_DISK = 'PostgreSQL keeps dead tuples until VACUUM; there the guarantee is the deleted wrapped key (ENC-5/6)';


function partsOf(t: TestGateway) {
  const parts = t.gw.ledgerParts;
  if (!parts) throw new Error('test: this gateway runs without a ledger');
  return parts;
}

function purgeCtx(t: TestGateway, now?: () => number): PurgeContext {
  const parts = partsOf(t);
  return {
    ledger: t.gw.storage.ledger,
    checkpoints: t.gw.storage.checkpoints,
    retention: t.gw.storage.retention,
    dataKeys: t.gw.storage.dataKeys,
    ring: parts.crypto.ring,
    sealer: parts.crypto.sealer,
    writer: t.gw.ledger,
    configHash: t.gw.runtime().hash,
    checkpointKey: { signer: parts.checkpointKey.signer, origin: parts.checkpointKey.origin },
    ...(now ? { now } : {}),
  };
}

/** As src/admin/ledger-routes.ts builds it. */
function holdCtx(t: TestGateway, now?: () => number): HoldContext {
  const parts = partsOf(t);
  return { ledger: t.gw.storage.ledger, retention: t.gw.storage.retention, ring: parts.crypto.ring, sealer: parts.crypto.sealer, writer: t.gw.ledger, configHash: t.gw.runtime().hash, ...(now ? { now } : {}) };
}

async function verify(t: TestGateway) {
  const s = t.gw.storage;
  return verifyLedger({ ledger: s.ledger, checkpoints: s.checkpoints, retention: s.retention, verifierKeys: (await s.checkpoints.listSigningKeys()).map((k) => k.verifierKey) });
}

async function codeOf(p: Promise<unknown>): Promise<string | undefined> {
  try {
    await p;
  } catch (err) {
    return (err as { code?: string }).code;
  }
  return undefined;
}

/** 48-byte pieces of `b`, every 512 bytes (the first at 0): each fits in one page of the file. */
function pieces(b: Buffer): Buffer[] {
  const out: Buffer[] = [];
  for (let i = 0; i < b.length; i += 512) out.push(Buffer.from(b.subarray(i, Math.min(b.length, i + 48))));
  return out;
}

/** The files of a SQLite database that contain `needle` ('.db', '-wal', '-shm'). */
function filesHolding(dbPath: string, needle: Buffer): string[] {
  return ['', '-wal', '-shm'].filter((s) => existsSync(dbPath + s) && readFileSync(dbPath + s).includes(needle)).map((s) => s || '.db');
}

/** Seqs of exchange records per data subject, read back through the private parts (not the index). */
async function exchangesBySubject(t: TestGateway): Promise<Map<string, number[]>> {
  await partsOf(t).drained();
  const out = new Map<string, number[]>();
  const records = await t.gw.storage.ledger.read(1, 100_000);
  const seqs = records.filter((r) => r.record.type.startsWith('exchange.')).map((r) => r.record.seq);
  for (const row of await t.gw.storage.ledger.readPrivate(seqs)) {
    const p = await partsOf(t).crypto.sealer.openPrivate(row);
    const subject = p.personal?.subject;
    if (subject !== undefined) out.set(subject, [...(out.get(subject) ?? []), row.seq]);
  }
  return out;
}

async function adminActions(t: TestGateway, action: string) {
  await partsOf(t).drained();
  const recs = await t.gw.storage.ledger.search({ type: 'admin.action', limit: 1000 });
  return recs.filter((r) => r.record.detail?.action === action);
}

function retentionSuite(backend: 'sqlite' | 'postgres'): void {
  describe(`retention on ${backend}: purge, legal hold, crypto-shredding`, () => {
    let t: TestGateway;
    let db: RoleSplitDatabase | undefined;
    let dbPath = '';
    let cus1: number[] = [];
    let cus2: number[] = [];
    let hold: LegalHold;
    /** Captured before the future purge. */
    let doomed: { dekId: string; plainKey: Buffer; wrappedKey: Buffer; priv: SealedPrivate; body?: SealedBody };
    /** (what, bytes) seen in the SQLite files before the purge, looked for again after it. */
    let onDisk: [string, Buffer][] = [];
    let report: PurgeReport;
    let k2 = '';

    before(async () => {
      // On PostgreSQL the gateway runs under the AU-9(4) role split: its own role may only insert
      // and select on the ledger, and every purge, prune, re-seal and lift below must take the
      // retention role's connection (storage.postgres.retentionUrl) or the server refuses it.
      if (backend === 'postgres') db = await createRoleSplitDatabase('rampart_retention');
      try {
        t = await startTestGateway({
          yaml: db ? { ...YAML, storage: { postgres: { retentionUrl: db.retentionUrl } } } : YAML,
          ...(db ? { postgresUrl: db.gatewayUrl } : {}),
        });
      } catch (err) {
        await db?.drop();
        throw err;
      }
      if (t.config.storage.driver === 'sqlite') dbPath = t.config.storage.sqlite.path;
      // Two customers; cus_2 before and after cus_1, so the prune has a prefix to take and the
      // held customer's records stand in the middle of the chain.
      const k1 = (await t.key(['accounts:read'], { subject: 'cus_1', name: 'cus-1' })).key;
      k2 = (await t.key(['accounts:read'], { subject: 'cus_2', name: 'cus-2' })).key;
      for (const k of [k2, k2, k1, k1, k2, k2]) {
        const r = await t.request('GET', '/accounts?limit=1', { headers: { authorization: `Bearer ${k}` } });
        assert.equal(r.status, 200, r.body.toString());
      }
      const by = await exchangesBySubject(t);
      cus1 = by.get('cus_1') ?? [];
      cus2 = by.get('cus_2') ?? [];
      assert.equal(cus1.length, 4, 'a decision and a completion per cus_1 request');
      assert.equal(cus2.length, 8);
    });
    after(async () => {
      await t?.close();
      await db?.drop();
    });

    it('refuses anything inside its period; a dry run changes nothing (RSP-7, R17a4-1)', async () => {
      const keysBefore = await t.gw.storage.dataKeys.listDataKeys();
      const head = (await t.gw.storage.ledger.head())!.seq;

      const now = await runPurge(purgeCtx(t));
      assert.deepEqual(now.keys, [], 'no key has expired yet');
      assert.deepEqual(now.removed, { keys: 0, privates: 0, bodies: 0, index: 0 });
      assert.equal(now.recordsPruned, 0);
      assert.equal(now.prunedThrough, 0);
      assert.equal(now.receiptSeq, undefined, 'nothing went, so no receipt');

      const planNow = await runPurge(purgeCtx(t), { dryRun: true });
      assert.deepEqual([planNow.keys.length, planNow.recordsPruned, planNow.removed.keys], [0, 0, 0], 'a dry run now reports nothing to go');

      // Seven years on, the plan names every expired key and record, and still touches nothing.
      const plan = await runPurge(purgeCtx(t, future), { dryRun: true });
      assert.equal(plan.dryRun, true);
      assert.ok(plan.keys.some((k) => k.recordClass === 'personal'), 'the plan names the personal key');
      assert.ok(plan.recordsPruned >= head, 'the plan would prune the whole chain');
      assert.deepEqual(plan.removed, { keys: 0, privates: 0, bodies: 0, index: 0 });
      assert.equal(plan.receiptSeq, undefined);
      await partsOf(t).drained();
      assert.deepEqual((await t.gw.storage.dataKeys.listDataKeys()).map((k) => k.id), keysBefore.map((k) => k.id), 'no key went');
      assert.equal((await t.gw.storage.ledger.head())!.seq, head, 'no record was added');
      assert.equal(await t.gw.storage.retention.pruneState(), undefined, 'nothing was pruned');
      assert.equal((await t.gw.storage.ledger.readPrivate(cus2)).length, cus2.length);
    });

    it('a legal hold moves what it names under its own key, and is a ledger record (R17a4-1, R17a4-3)', async () => {
      const r = await setHold(holdCtx(t), { subject: 'cus_1' }, 'compliance-officer', 'SEC inquiry 17');
      hold = r.hold;
      assert.ok(r.items >= cus1.length, `every private part of cus_1 moved (moved ${r.items})`);
      const key = await t.gw.storage.dataKeys.getDataKey(hold.dekId);
      assert.equal(key?.recordClass, HOLD_RECORD_CLASS);
      assert.equal(key?.holdId, hold.id);
      for (const p of await t.gw.storage.ledger.readPrivate(cus1)) assert.equal(p.sealed?.dekId, hold.dekId, `seq ${p.seq} is under the hold key`);
      for (const p of await t.gw.storage.ledger.readPrivate(cus2)) assert.notEqual(p.sealed?.dekId, hold.dekId, `seq ${p.seq} (cus_2) is not held`);
      for (const b of await t.gw.storage.ledger.readBodies(cus1)) assert.equal(b.dekId, hold.dekId, `the ${b.part} body of seq ${b.seq} is under the hold key`);

      const [rec] = (await adminActions(t, 'hold.set')).filter((x) => x.record.detail?.holdId === hold.id);
      assert.ok(rec, 'the hold is a ledger record');
      assert.equal(rec.record.outcome, 'success');
      assert.ok(!rec.canonical.includes('cus_1') && !rec.canonical.includes('SEC inquiry'), 'whom and why stay out of the chained part');
      const [priv] = await t.gw.storage.ledger.readPrivate([rec.record.seq]);
      const opened: PrivatePart = await partsOf(t).crypto.sealer.openPrivate(priv!);
      assert.equal(opened.personal?.principal, 'compliance-officer');
      assert.equal(opened.personal?.extra?.reason, 'SEC inquiry 17');
      assert.equal(opened.personal?.extra?.heldSubject, 'cus_1');
    });

    it('a purge past the retention crypto-shreds every expired key, except what is held (RSP-7)', async (ctx) => {
      const s = t.gw.storage;
      const ring = partsOf(t).crypto.ring;
      const personal = await s.dataKeys.listDataKeys({ recordClass: 'personal' });
      const [priv] = await s.ledger.readPrivate([cus2[cus2.length - 1]!]);
      assert.ok(priv?.sealed, 'the private part of cus_2 is sealed');
      const dekId = priv.sealed.dekId;
      assert.ok(personal.some((k) => k.id === dekId), 'sealed under the day key of class personal');
      // Copies: the ring zeroes its own buffer when it forgets the key.
      const plainKey = Buffer.from(await ring.keyById(dekId));
      const wrappedKey = Buffer.from((await s.dataKeys.getDataKey(dekId))!.wrapped);
      const body = (await s.ledger.readBodies(cus2))[0];
      doomed = { dekId, plainKey, wrappedKey, priv: { ...priv.sealed, sealed: Buffer.from(priv.sealed.sealed) }, ...(body ? { body: { ...body, sealed: Buffer.from(body.sealed) } } : {}) };
      if (body) assert.notEqual(body.dekId, hold.dekId);
      if (dbPath) {
        // The check must see what it looks for: only pieces found on disk now are looked for later
        // (a long envelope spills over overflow pages, so it is not one run of bytes in the file).
        const items: [string, Buffer][] = [['wrapped key', wrappedKey], ['sealed private part', doomed.priv.sealed]];
        if (doomed.body) items.push(['sealed body', doomed.body.sealed]);
        onDisk = items.flatMap(([what, bytes]) => {
          const found = pieces(bytes).filter((p) => filesHolding(dbPath, p).length > 0);
          assert.ok(found.length > 0 && found[0]!.equals(bytes.subarray(0, found[0]!.length)), `the ${what} is on disk before the purge`);
          return found.map((p): [string, Buffer] => [what, p]);
        });
        assert.deepEqual(filesHolding(dbPath, plainKey), [], 'a plaintext data key is never written');
        onDisk.push(['plaintext key', plainKey]);
      }

      report = await runPurge(purgeCtx(t, future));
      assert.equal(report.dryRun, false);
      assert.ok(report.keys.some((k) => k.id === dekId), 'the personal day key was selected');
      assert.ok(report.keys.every((k) => k.recordClass !== INDEX_KEY_CLASS && k.recordClass !== HOLD_RECORD_CLASS), 'never the index key, never a hold key');
      assert.equal(report.removed.keys, report.keys.length);
      assert.ok(report.removed.privates > 0, 'private parts went');
      assert.ok(report.removed.index > 0, 'their index entries went');
      if (doomed.body) assert.ok(report.removed.bodies > 0, 'bodies went');
      assert.ok(report.recordsPruned > 0, 'records were pruned');
      assert.ok(report.receiptSeq !== undefined, 'a receipt was written');
      ctx.diagnostic(`removed ${JSON.stringify(report.removed)}, held items moved ${report.heldItemsMoved}, pruned through ${report.prunedThrough}, receipt ${report.receiptSeq}`);

      assert.equal(await s.dataKeys.getDataKey(dekId), undefined, 'the wrapped key is deleted');
      assert.equal(await codeOf(ring.keyById(dekId)), 'RAMPART_DATA_KEY_GONE');
      assert.equal(await codeOf(partsOf(t).crypto.sealer.openPrivate({ seq: doomed.priv.seq, sealed: doomed.priv })), 'RAMPART_DATA_KEY_GONE', 'the captured private part opens under nothing');
      if (doomed.body) assert.equal(await codeOf(partsOf(t).crypto.sealer.openBody(doomed.body)), 'RAMPART_DATA_KEY_GONE', 'the captured body opens under nothing');
      assert.deepEqual(await s.ledger.readPrivate(cus2), [], 'no private part of cus_2 is left');
      assert.deepEqual(await s.ledger.readBodies(cus2), [], 'no body of cus_2 is left');

      // The held customer's items survive, readable, under the hold's key.
      const kept = await s.ledger.readPrivate(cus1);
      assert.equal(kept.length, cus1.length);
      for (const p of kept) {
        assert.equal(p.sealed?.dekId, hold.dekId);
        assert.equal((await partsOf(t).crypto.sealer.openPrivate(p)).personal?.subject, 'cus_1');
      }
      for (const b of await s.ledger.readBodies(cus1)) {
        assert.equal(b.dekId, hold.dekId);
        await partsOf(t).crypto.sealer.openBody(b);
      }
    });

    it('on disk, no copy of the purged key or of what it sealed is left while the gateway runs (RSP-7)', { skip: backend === 'postgres' && PG_DISK }, (ctx) => {
      ctx.diagnostic(`looking for ${onDisk.length} byte strings seen on disk before the purge (sealed body: ${doomed.body ? `${doomed.body.sealed.length} bytes` : 'none captured'})`);
      for (const [what, bytes] of onDisk) assert.deepEqual(filesHolding(dbPath, bytes), [], `the ${what} (${bytes.length} bytes) is in no file while the gateway runs`);
    });

    it('the running gateway keeps recording after a purge that removed the keys of the records\' day', async () => {
      const r = await t.request('GET', '/accounts?limit=1', { headers: { authorization: `Bearer ${k2}` } });
      assert.equal(r.status, 200, r.body.toString());
    });

    it('the purge is a receipt in the ledger; verification runs from the signed prune point (AU-9(2), R17a4-6)', async () => {
      const s = t.gw.storage;
      await partsOf(t).drained();
      const [receipt] = await s.ledger.read(report.receiptSeq!, 1);
      assert.ok(receipt, 'the receipt is stored');
      assert.equal(receipt.record.seq, report.receiptSeq);
      assert.equal(receipt.record.type, 'system.event');
      assert.equal(receipt.record.detail?.event, 'ledger.purged');
      assert.equal(receipt.record.detail?.keys, report.removed.keys);
      assert.equal(receipt.record.detail?.privates, report.removed.privates);
      assert.equal(receipt.record.detail?.bodies, report.removed.bodies);
      assert.equal(receipt.record.detail?.indexEntries, report.removed.index);
      assert.equal(receipt.record.detail?.recordsPruned, report.recordsPruned);
      assert.equal(receipt.record.detail?.prunedThrough, report.prunedThrough);
      assert.ok(String(receipt.record.detail?.keyIds).split(',').includes(doomed.dekId), 'the receipt names the destroyed key');

      // The held customer's records stop the prune.
      const firstHeld = Math.min(...cus1);
      assert.ok(report.prunedThrough > 0, 'a prefix was pruned');
      assert.ok(report.prunedThrough < firstHeld, `pruned through ${report.prunedThrough}, below the first held seq ${firstHeld}`);
      assert.equal(report.recordsPruned, report.prunedThrough);
      assert.deepEqual(await s.ledger.read(1, 1).then((r) => r[0]?.record.seq), report.prunedThrough + 1, 'the chain starts after the prune point');
      assert.equal((await s.ledger.read(firstHeld, 1))[0]?.record.seq, firstHeld, 'the held records are kept');

      const prune = (await s.checkpoints.listCheckpoints(0, Number.MAX_SAFE_INTEGER, 1000)).filter((c) => c.kind === 'prune');
      assert.deepEqual(prune.map((c) => c.treeSize), [report.prunedThrough], 'one signed prune checkpoint at the prune point');
      assert.equal((await s.retention.pruneState())?.seq, report.prunedThrough);

      const v = await verify(t);
      assert.equal(v.ok, true, JSON.stringify(v.findings));
      assert.equal(v.prunedThrough, report.prunedThrough);
      assert.equal(v.head?.seq, (await s.ledger.head())!.seq);

      const cp = await partsOf(t).checkpointer.checkpoint('manual', true);
      assert.ok(cp && cp.treeSize > report.prunedThrough, 'a checkpoint signed after the prune');
      const v2 = await verify(t);
      assert.equal(v2.ok, true, JSON.stringify(v2.findings));
      assert.ok(v2.checkpointsVerified.store > v.checkpointsVerified.store, 'and it verifies');
    });

    it('a purge never removes the index key or an active hold\'s key', async () => {
      const keys = await t.gw.storage.dataKeys.listDataKeys();
      assert.ok(keys.some((k) => k.recordClass === INDEX_KEY_CLASS), 'the index key stays');
      assert.ok(keys.some((k) => k.id === hold.dekId), 'the hold key stays');
      const again = await runPurge(purgeCtx(t, future), { dryRun: true });
      assert.ok(!again.keys.some((k) => k.recordClass === INDEX_KEY_CLASS || k.id === hold.dekId), 'not even in a plan');
    });

    it('the gateway stops and starts again over the pruned ledger; on disk the purged bytes stay gone', async () => {
      await t.gw.close();
      if (dbPath) for (const [what, bytes] of onDisk) assert.deepEqual(filesHolding(dbPath, bytes), [], `the ${what} (${bytes.length} bytes) is in no file after the gateway stopped`);
      // A fresh process also stands for the years a real hold lasts: its sealer starts empty.
      t = await restart(t);
      const r = await t.request('GET', '/accounts?limit=1', { headers: { authorization: `Bearer ${k2}` } });
      assert.equal(r.status, 200, r.body.toString());
      const v = await verify(t);
      assert.equal(v.ok, true, JSON.stringify(v.findings));
      assert.equal(v.prunedThrough, report.prunedThrough);
    });

    it('once the hold is lifted, the next purge takes the formerly held items too (R17a4-1, R17a4-3)', async () => {
      const { released } = await liftHold(holdCtx(t), hold.id, 'compliance-officer', 'inquiry closed');
      assert.ok(released >= cus1.length, `the held items went back to day keys (released ${released})`);
      for (const p of await t.gw.storage.ledger.readPrivate(cus1)) assert.notEqual(p.sealed?.dekId, hold.dekId, `seq ${p.seq} left the hold key`);
      const [rec] = (await adminActions(t, 'hold.lifted')).filter((x) => x.record.detail?.holdId === hold.id);
      assert.ok(rec, 'the lifting is a ledger record');
      assert.equal(rec.record.detail?.released, released);
      const lifted = (await t.gw.storage.retention.listHolds()).find((h) => h.id === hold.id);
      assert.equal(lifted?.liftedBy, 'compliance-officer');

      const second = await runPurge(purgeCtx(t, future));
      assert.ok(second.removed.privates >= cus1.length, 'the released private parts went');
      assert.deepEqual(await t.gw.storage.ledger.readPrivate(cus1), [], 'no private part of cus_1 is left');
      assert.deepEqual(await t.gw.storage.ledger.readBodies(cus1), [], 'no body of cus_1 is left');
      assert.ok(second.prunedThrough >= Math.max(...cus1), `the prune now passes the formerly held records (through ${second.prunedThrough})`);
      assert.ok(second.receiptSeq !== undefined);
      const v = await verify(t);
      assert.equal(v.ok, true, JSON.stringify(v.findings));
      assert.equal(v.prunedThrough, second.prunedThrough);
      assert.ok((await t.gw.storage.dataKeys.listDataKeys()).some((k) => k.recordClass === INDEX_KEY_CLASS), 'the index key still stays');
    });

    it('the next purge also disposes of the lifted hold\'s key (its sealed criteria name the customer)', async () => {
      assert.equal(await t.gw.storage.dataKeys.getDataKey(hold.dekId), undefined, 'the lifted hold\'s key is gone');
    });
  });
}

/**
 * Starts a gateway again on the same folder, config and storage (after `t.gw` was closed); it
 * must come up over a pruned ledger. Only `gw` is replaced; the new handle closes both.
 */
async function restart(t: TestGateway): Promise<TestGateway> {
  const config = await loadConfig(t.configFile);
  const gw = await startGateway({ config, configDir: t.dir, logger: silentLogger(), keyPollMs: 50, shutdownGraceMs: 2000 });
  return {
    ...t,
    gw,
    config,
    request: (method, path, o = {}) => rawRequest(gw.url, method, path, { ...o, agent: false }),
    async close() {
      await gw.close();
      await t.close();
    },
  };
}

retentionSuite('sqlite');
retentionSuite('postgres');

describe('a hold lifted after its items\' retention ended (liftHold: they leave with the hold key)', () => {
  let t: TestGateway;
  let cus1: number[] = [];
  before(async () => {
    t = await startTestGateway({ yaml: YAML });
    const k1 = (await t.key(['accounts:read'], { subject: 'cus_1' })).key;
    for (let i = 0; i < 2; i++) assert.equal((await t.request('GET', '/accounts?limit=1', { headers: { authorization: `Bearer ${k1}` } })).status, 200);
    cus1 = (await exchangesBySubject(t)).get('cus_1') ?? [];
    assert.equal(cus1.length, 4);
  });
  after(() => t?.close());

  it('the items stay under the hold key when lifted, and the next purge takes key and items', async () => {
    const { hold } = await setHold(holdCtx(t), { subject: 'cus_1' }, 'compliance-officer', 'FINRA 8210 request');
    const { released } = await liftHold(holdCtx(t, future), hold.id, 'compliance-officer', 'closed years later');
    assert.equal(released, 0, 'nothing goes back to a day key that has passed');
    for (const p of await t.gw.storage.ledger.readPrivate(cus1)) assert.equal(p.sealed?.dekId, hold.dekId);
    const r = await runPurge(purgeCtx(t, future));
    assert.ok(r.keys.some((k) => k.id === hold.dekId), 'the lifted hold\'s key is selected');
    assert.equal(await t.gw.storage.dataKeys.getDataKey(hold.dekId), undefined, 'and deleted');
    assert.deepEqual(await t.gw.storage.ledger.readPrivate(cus1), [], 'with the items it sealed');
  });
});
