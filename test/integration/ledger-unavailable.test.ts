/**
 * Fail closed on the ledger: when the decision record cannot be committed the client gets 503
 * and the upstream is never touched. The outage is real: the gateway's PostgreSQL connection runs
 * through a TCP proxy on a throwaway database, and the test cuts the proxy (the shared server is
 * never stopped).
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createTempDatabase, type TempDatabase } from '../helpers/pg.js';
import { startTcpProxy, type TcpProxy } from '../helpers/tcp-proxy.js';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { verifyChain } from '../../src/ledger/verify.js';

let db: TempDatabase;
let proxy: TcpProxy;
let t: TestGateway;
before(async () => {
  db = await createTempDatabase('rampart_outage');
  proxy = await startTcpProxy('127.0.0.1', 5432);
  const u = new URL(db.url);
  u.port = String(proxy.port);
  t = await startTestGateway({ postgresUrl: u.toString() });
});
after(async () => {
  proxy.restore();
  await t.close();
  await proxy.close();
  await db.drop();
});

test('503 with an untouched upstream while the ledger is down, and recovery afterwards', async () => {
  const { key } = await t.key(['accounts:read']);
  const headers = { authorization: `Bearer ${key}` };
  assert.equal((await t.request('GET', '/accounts', { headers })).status, 200);
  const seenBefore = t.upstream.seen.length;

  proxy.cut();
  const r = await t.request('GET', '/accounts', { headers });
  assert.equal(r.status, 503);
  assert.equal(r.json().code, 'RAMPART_LEDGER_UNAVAILABLE');
  assert.equal(t.upstream.seen.length, seenBefore, 'the upstream was never touched');
  const ready = await t.gw.readiness.check();
  assert.equal(ready.ready, false);
  assert.equal(ready.ledger, 'unavailable');

  proxy.restore();
  let status = 0;
  for (let i = 0; i < 100 && status !== 200; i++) {
    status = (await t.request('GET', '/accounts', { headers })).status;
    if (status !== 200) await new Promise((res) => setTimeout(res, 50));
  }
  assert.equal(status, 200, 'serves again once the ledger is back');
  const v = await verifyChain(t.gw.storage.ledger);
  assert.equal(v.ok, true, 'no gap or fork in the chain after the outage');
});

test('when the completion record cannot be committed the response is aborted, not completed', async () => {
  const { key } = await t.key(['accounts:read']);
  await new Promise((r) => setTimeout(r, 10));
  // /slow answers after 400 ms; the ledger goes away after the decision was committed.
  const pending = t.request('GET', '/slow?ms=400', { headers: { authorization: `Bearer ${key}` } });
  await new Promise((r) => setTimeout(r, 150));
  proxy.cut();
  await assert.rejects(pending, /socket hang up|ECONNRESET|aborted/i);
  proxy.restore();
});
