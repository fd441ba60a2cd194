/**
 * `buffered` durability through a real store outage (DESIGN.md: "a bounded queue and an fsynced
 * spill file, and a full spill means 503, never a silent drop"). The gateway's PostgreSQL runs
 * through a TCP proxy on a throwaway database; the test cuts it:
 * - requests keep succeeding while the journal absorbs the records, and an alert says so (AU-5);
 * - once the journal is full, requests get 503 and the upstream is not touched;
 * - when the store is back, the journal drains: every acknowledged exchange is in the store and
 *   the chain verifies, with no gap.
 */
import { after, before, it } from 'node:test';
import assert from 'node:assert/strict';
import { verifyChain } from '../../src/ledger/verify.js';
import { createTempDatabase, type TempDatabase } from '../helpers/pg.js';
import { startTcpProxy, type TcpProxy } from '../helpers/tcp-proxy.js';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';

let db: TempDatabase;
let proxy: TcpProxy;
let t: TestGateway;
before(async () => {
  db = await createTempDatabase('rampart_buffered');
  proxy = await startTcpProxy('127.0.0.1', 5432);
  const u = new URL(db.url);
  u.port = String(proxy.port);
  // The smallest journal the schema allows (1 MiB), so the test can fill it.
  t = await startTestGateway({ postgresUrl: u.toString(), yaml: { ledger: { durability: 'buffered', spill: { dir: 'spill', maxBytes: 1048576 }, selfVerify: { intervalSeconds: 0 } } } });
});
after(async () => {
  proxy.restore();
  await t.close();
  await proxy.close();
  await db.drop();
});

it('absorbs a store outage in the journal, answers 503 when it is full, and drains without a gap', async () => {
  const { key } = await t.key(['accounts:read'], { subject: 'cus_1' });
  const headers = { authorization: `Bearer ${key}` };
  assert.equal((await t.request('GET', '/accounts?limit=1', { headers })).status, 200);
  await t.gw.ledgerParts!.drained();

  proxy.cut();
  const acked: string[] = [];
  let refused: { status: number; code: string } | undefined;
  const seenAtFull: number[] = [];
  let aborted = 0;
  for (let i = 0; i < 5000 && !refused; i++) {
    // A request whose decision fit in the journal but whose completion did not is aborted, not
    // completed (the completion record comes before the last byte): that is a refusal too.
    const r = await t.request('GET', '/accounts?limit=1', { headers }).catch(() => undefined);
    if (!r) aborted++;
    else if (r.status === 200) acked.push(r.headers['x-request-id'] as string);
    else {
      refused = { status: r.status, code: r.json().code };
      seenAtFull.push(t.upstream.seen.length);
    }
  }
  assert.ok(acked.length > 20, `requests were served from the journal while the store was down (${acked.length})`);
  assert.ok(aborted <= 1, `at most the one exchange whose completion no longer fitted is aborted (${aborted})`);
  assert.equal(t.gw.ledgerParts!.buffered!.degraded, true, 'degraded while the store is down');
  assert.deepEqual(refused, { status: 503, code: 'RAMPART_LEDGER_UNAVAILABLE' }, 'a full journal means 503, never a silent drop');
  const r503 = await t.request('GET', '/accounts?limit=1', { headers });
  assert.equal(r503.status, 503);
  assert.equal(t.upstream.seen.length, seenAtFull[0], 'refused requests never reach the upstream');

  proxy.restore();
  await t.gw.ledgerParts!.drained();
  assert.equal(t.gw.ledgerParts!.buffered!.degraded, false);
  let status = 0;
  for (let i = 0; i < 100 && status !== 200; i++) {
    status = (await t.request('GET', '/accounts?limit=1', { headers })).status;
    if (status !== 200) await new Promise((res) => setTimeout(res, 50));
  }
  assert.equal(status, 200, 'serves again once the journal has room');
  await t.gw.ledgerParts!.drained();
  const head = await t.gw.storage.ledger.head();
  const records = await t.gw.storage.ledger.read(1, head!.seq + 10);
  const completed = new Set(records.filter((x) => x.record.type === 'exchange.completion').map((x) => x.record.requestId));
  assert.deepEqual(acked.filter((id) => !completed.has(id)), [], 'every acknowledged exchange reached the store');
  const v = await verifyChain(t.gw.storage.ledger, { checkPrivate: false });
  assert.equal(v.ok, true, v.firstBad?.detail);
  assert.equal(v.count, head!.seq);
});
