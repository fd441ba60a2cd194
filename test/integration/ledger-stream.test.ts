/**
 * Streaming records off the box as they are committed (AU-9(2): audit records also on a
 * physically different system; R17a4-9: a backup recordkeeping system), with the real writer over
 * a real SQLite primary and real targets (a JSON-lines file, a SQLite replica, a PostgreSQL
 * replica behind a TCP proxy that the test cuts):
 * - the file target gets every record in order, the chained part only, and its lines re-verify;
 * - a replica gets the same append items (sealed parts, bodies, index entries) plus the data keys,
 *   signing keys and checkpoints: it verifies on its own, has the primary's head, opens private
 *   parts with the same KEK and answers blind-index searches like the primary;
 * - a replica that cannot be written raises an alert while the primary keeps serving, falls more
 *   than maxQueue records behind (its queue dropped: bounded memory), and catches up from the
 *   primary once fixed; a PostgreSQL replica cut off and restored does the same;
 * - a target that holds another history is stopped with an alert and left untouched.
 *
 * The writer's onCommitted passes StoredRecord[] today; until it passes the append items, the
 * primary store is wrapped so that each committed batch goes to the stream as the writer sent it
 * (the real store's append, then onCommitted with the same items).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { chainHash, GENESIS_HASH, leafHash } from '../../src/ledger/chain.js';
import { createCheckpointer, type Checkpointer } from '../../src/ledger/checkpointer.js';
import type { RecordInput } from '../../src/ledger/record.js';
import type { Sealer } from '../../src/ledger/sealer.js';
import { generateNoteKey } from '../../src/ledger/signed-note.js';
import { createRecordStream, type RecordStream, type StreamTarget } from '../../src/ledger/stream.js';
import { verifyChain } from '../../src/ledger/verify.js';
import { verifyLedger } from '../../src/ledger/verify-ledger.js';
import { createLedger, type Ledger } from '../../src/ledger/writer.js';
import { openStorage } from '../../src/storage/open.js';
import { openSqliteStorage, type SqliteStorage } from '../../src/storage/sqlite/store.js';
import type { LedgerStore, Storage } from '../../src/storage/types.js';
import { waitFor } from '../helpers/cli.js';
import { openPrivates, testSealer } from '../helpers/ledger-crypto.js';
import { createTempDatabase } from '../helpers/pg.js';
import { startTcpProxy } from '../helpers/tcp-proxy.js';
import { startTestGateway } from '../helpers/gateway.js';
import { tempDir } from '../helpers/tmp.js';

const CONFIG_HASH = 'cd'.repeat(32);

/** A decision naming a principal, a subject and an object, with a captured body: every part a replica must carry. */
function input(i: number): RecordInput {
  const subject = `cus_${i % 5}`;
  return {
    type: 'exchange.decision',
    outcome: 'allow',
    configHash: CONFIG_HASH,
    operationId: 'getAccount',
    personal: { principal: 'key_stream', subject, pathParams: { accountId: `acc_${i}` } },
    captured: { request: { stored: `{"note":"payment ${i}"}`, encoding: 'utf8', truncated: false, redacted: [], subjects: [subject] } },
  };
}

/** The primary store, handing each committed batch (the items the writer sent) to the stream. */
function tee(store: LedgerStore, stream: () => RecordStream): LedgerStore {
  return {
    ...store,
    async append(batch) {
      await store.append(batch);
      stream().onCommitted(batch);
    },
  };
}

interface Rig {
  dir: string;
  primary: SqliteStorage;
  sealer: Sealer;
  writer: Ledger;
  checkpointer: Checkpointer;
  stream: RecordStream;
  alerts: Error[];
  recovered: string[];
  append(from: number, n: number): Promise<void>;
  close(): Promise<void>;
}

async function rig(targets: (dir: string) => StreamTarget[], o: { maxQueue?: number } = {}): Promise<Rig> {
  const tmp = tempDir('rampart-stream-');
  const dir = tmp.path;
  const primary = await openSqliteStorage(join(dir, 'primary.db'));
  const sealer = await testSealer(primary, dir);
  const alerts: Error[] = [];
  const recovered: string[] = [];
  const stream = createRecordStream(targets(dir), {
    primary,
    onAlert: (e) => alerts.push(e),
    onRecovered: (n) => recovered.push(n),
    retry: { baseMs: 20, maxMs: 200 },
    syncEveryMs: 0,
    ...(o.maxQueue ? { maxQueue: o.maxQueue } : {}),
  });
  const key = generateNoteKey('rampart.test/stream');
  const checkpointer = await createCheckpointer({
    ledger: primary.ledger, checkpoints: primary.checkpoints, origin: 'rampart.test/stream', signerKey: key.signerKey, verifierKey: key.verifierKey, publishers: [], intervalMs: 0,
  });
  const writer = await createLedger(tee(primary.ledger, () => stream), { node: 'gw-1', maxBatch: 16, sealer, onCommitted: (b) => checkpointer.onCommitted(b.map((i) => i.stored)) });
  return {
    dir,
    primary,
    sealer,
    writer,
    checkpointer,
    stream,
    alerts,
    recovered,
    async append(from, n) {
      const r = await Promise.all(Array.from({ length: n }, (_, i) => writer.append(input(from + i))));
      assert.equal(r.length, n, 'the primary took every record');
    },
    async close() {
      await writer.close();
      await checkpointer.close();
      await stream.close();
      await primary.close();
      tmp.remove();
    },
  };
}

/** The replica holds what the primary holds: head, chain, checkpoints, private parts (same KEK), blind index. */
async function assertReplica(r: Rig, replica: Storage): Promise<void> {
  const head = await r.primary.ledger.head();
  assert.deepEqual(await replica.ledger.head(), head, 'the replica has the primary head');
  const chain = await verifyChain(replica.ledger);
  assert.equal(chain.ok, true, JSON.stringify(chain.firstBad));
  assert.equal(chain.count, head!.seq);

  const sealer = await testSealer(replica, r.dir); // the same KEK file, the replica's own wrapped data keys
  const verifierKeys = (await replica.checkpoints.listSigningKeys()).map((k) => k.verifierKey);
  const full = await verifyLedger({ ledger: replica.ledger, checkpoints: replica.checkpoints, retention: replica.retention, verifierKeys, sealer, checkPrivate: true });
  assert.equal(full.ok, true, JSON.stringify(full.findings));
  assert.ok(full.checkpointsVerified.store >= 1, 'the primary checkpoints were copied and verify on the replica');

  const seqs = [1, 2, head!.seq];
  assert.deepEqual(await openPrivates(sealer, await replica.ledger.readPrivate(seqs)), await openPrivates(r.sealer, await r.primary.ledger.readPrivate(seqs)));
  const bodies = await replica.ledger.readBodies([head!.seq]);
  assert.equal(bodies.length, 1);
  assert.match((await sealer.openBody(bodies[0]!)).stored ?? '', /payment/);
  const tag = r.sealer.tag('subject', 'cus_1');
  const want = (await r.primary.ledger.searchIndex([tag], 0, Number.MAX_SAFE_INTEGER, 1000)).map((e) => e.seq);
  assert.ok(want.length > 0);
  assert.deepEqual((await replica.ledger.searchIndex([tag], 0, Number.MAX_SAFE_INTEGER, 1000)).map((e) => e.seq), want, 'blind index entries came along');
}

describe('ledger stream to a file and a replica (AU-9(2))', () => {
  let r: Rig;
  before(async () => {
    r = await rig((dir) => [{ file: join(dir, 'siem', 'records.jsonl') }, { storage: { driver: 'sqlite', sqlite: { path: join(dir, 'replica', 'replica.db') } } }]);
    await r.append(0, 40);
    await r.checkpointer.checkpoint('manual');
    await r.append(40, 35);
    await r.writer.flush();
    await waitFor('the stream to catch up', () => r.stream.lag === 0 && r.stream.status().every((s) => s.position === 75));
    await r.checkpointer.checkpoint('manual');
    await r.stream.close(); // delivers, copies the checkpoints, closes the targets
  });
  after(() => r.close());

  it('writes every record to the file in order, the chained part only, and the lines re-verify', async () => {
    const lines = readFileSync(join(r.dir, 'siem', 'records.jsonl'), 'utf8').trimEnd().split('\n');
    assert.equal(lines.length, 75);
    let prev = GENESIS_HASH;
    lines.forEach((l, i) => {
      const v = JSON.parse(l) as { seq: number; ts: number; canonical: string; leafHash: string; chainHash: string };
      assert.deepEqual(Object.keys(v), ['seq', 'ts', 'canonical', 'leafHash', 'chainHash']);
      assert.equal(v.seq, i + 1);
      assert.equal(v.leafHash, leafHash(v.canonical));
      assert.equal(v.chainHash, chainHash(prev, v.leafHash));
      prev = v.chainHash;
    });
    const text = lines.join('\n');
    for (const personal of ['key_stream', 'cus_1', 'acc_7', 'payment']) assert.ok(!text.includes(personal), `no private value (${personal}) leaves in the file`);
    assert.deepEqual(r.alerts, []);
  });

  it('gives the replica the same records and everything beside them: it verifies on its own', async () => {
    const replica = await openSqliteStorage(join(r.dir, 'replica', 'replica.db'), { readOnly: true });
    try {
      await assertReplica(r, replica);
    } finally {
      await replica.close();
    }
  });

  it('stops a target that holds another history, and leaves it untouched', async () => {
    const forged = { seq: 1, ts: 0, canonical: '{}', leafHash: leafHash('{}'), chainHash: chainHash(GENESIS_HASH, leafHash('{}')) };
    const file = join(r.dir, 'other', 'records.jsonl');
    mkdirSync(join(r.dir, 'other'));
    writeFileSync(file, `${JSON.stringify(forged)}\n`);
    const alerts: Error[] = [];
    const s = createRecordStream([{ file }], { primary: r.primary, onAlert: (e) => alerts.push(e), retry: { baseMs: 20 } });
    try {
      await waitFor('the divergence to be found', () => s.status()[0]!.state === 'diverged');
      assert.match(alerts[0]?.message ?? '', /the target's record 1 has chain hash [0-9a-f]{64}, the primary's [0-9a-f]{64}: it holds another history; stopped/);
      assert.equal(readFileSync(file, 'utf8'), `${JSON.stringify(forged)}\n`);
    } finally {
      await s.close();
    }
  });
});

describe('ledger stream: a replica that fails, falls behind and recovers', () => {
  it('SQLite replica at a path that cannot be written: alert, the primary keeps serving, catch-up from the primary once fixed', async () => {
    const r = await rig((dir) => {
      // A regular file where the replica's folder should be: opening the replica fails.
      writeFileSync(join(dir, 'blocked'), 'not a folder');
      return [{ storage: { driver: 'sqlite', sqlite: { path: join(dir, 'blocked', 'replica.db') } } }];
    }, { maxQueue: 50 });
    try {
      await r.append(0, 30);
      await waitFor('an alert for the failing replica', () => r.alerts.some((e) => /ledger stream sqlite:.*replica\.db failed: .*; retrying/.test(e.message)));
      await r.append(30, 60); // the primary keeps serving, and the replica falls more than 50 behind
      assert.equal((await r.primary.ledger.head())?.seq, 90);
      assert.ok(r.alerts.some((e) => /more than 50 records \(or \d+ bytes\) behind; its queue was dropped and it will catch up from the primary store/.test(e.message)), r.alerts.map((e) => e.message).join('\n'));
      assert.equal(r.stream.status()[0]!.state, 'failing');
      assert.ok(r.stream.lag >= 90);

      rmSync(join(r.dir, 'blocked'));
      await waitFor('the replica to catch up', () => r.stream.lag === 0 && r.stream.status()[0]!.state === 'ok', 20_000);
      assert.equal(r.recovered.length, 1);
      await r.append(90, 5);
      await r.writer.flush();
      await r.checkpointer.checkpoint('manual');
      await waitFor('the last records', () => r.stream.status()[0]!.position === 95);
      await r.stream.close();
      const replica = await openSqliteStorage(join(r.dir, 'blocked', 'replica.db'), { readOnly: true });
      try {
        await assertReplica(r, replica);
      } finally {
        await replica.close();
      }
    } finally {
      await r.close();
    }
  });

  it('PostgreSQL replica cut off through a TCP proxy: alert, the primary keeps serving, catch-up after the cut ends', async () => {
    const db = await createTempDatabase();
    const proxy = await startTcpProxy('127.0.0.1', 5432);
    const url = new URL(db.url);
    url.port = String(proxy.port);
    const target: StreamTarget = { storage: { driver: 'postgres', postgres: { url: url.toString(), schema: 'replica', poolSize: 2 } } };
    const r = await rig(() => [target]);
    try {
      await r.append(0, 20);
      await waitFor('the replica to take the first records', () => r.stream.status()[0]!.position === 20, 20_000);
      proxy.cut();
      await r.append(20, 25);
      await waitFor('an alert for the cut replica', () => r.alerts.some((e) => /ledger stream postgres:replica@127\.0\.0\.1:\d+ failed/.test(e.message)), 20_000);
      assert.equal((await r.primary.ledger.head())?.seq, 45, 'the primary kept serving');
      proxy.restore();
      await waitFor('the replica to catch up', () => r.stream.lag === 0 && r.stream.status()[0]!.state === 'ok', 30_000);
      await r.writer.flush();
      await r.checkpointer.checkpoint('manual');
      await r.stream.close();
      const replica = await openStorage({ driver: 'postgres', postgres: { url: db.url, schema: 'replica', poolSize: 2 } }, { readOnly: true });
      try {
        await assertReplica(r, replica);
      } finally {
        await replica.close();
      }
    } finally {
      await r.close();
      await proxy.close();
      await db.drop();
    }
  });
});

describe('a running gateway streams its records (ledger.stream in rampart.yaml)', () => {
  it('every committed record reaches the JSON-lines target, in order, without personal data', async () => {
    const t = await startTestGateway({ yaml: { ledger: { stream: [{ file: 'siem/records.jsonl' }], selfVerify: { intervalSeconds: 0 } } } });
    try {
      const { key } = await t.key(['accounts:read'], { subject: 'cus_stream' });
      for (let i = 0; i < 5; i++) assert.equal((await t.request('GET', '/accounts?limit=1', { headers: { authorization: `Bearer ${key}` } })).status, 200);
      await t.gw.ledgerParts!.drained();
      const head = await t.gw.storage.ledger.head();
      const file = join(t.dir, 'siem', 'records.jsonl');
      let lines: { seq: number }[] = [];
      for (let i = 0; i < 100 && lines.at(-1)?.seq !== head!.seq; i++) {
        await new Promise((r) => setTimeout(r, 50));
        lines = existsSync(file) ? readFileSync(file, 'utf8').trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as { seq: number }) : [];
      }
      assert.deepEqual(lines.map((l) => l.seq), Array.from({ length: head!.seq }, (_, i) => i + 1));
      assert.ok(!readFileSync(file, 'utf8').includes('cus_stream'), 'no personal value leaves in the stream');
    } finally {
      await t.close();
    }
  });
});
