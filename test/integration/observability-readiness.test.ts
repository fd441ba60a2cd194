/**
 * Readiness reflects the upstream and the ledger (issue 7): a killed upstream turns /ready to 503
 * and rampart_upstream_up to 0, and a restarted one brings both back; passive health marks an
 * upstream down after PASSIVE_FAILURES connect failures even while a TCP probe still succeeds.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { startTestGateway } from '../helpers/gateway.js';
import { createReadiness, PASSIVE_FAILURES } from '../../src/gateway/readiness.js';

function metric(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

function listen(server: http.Server, port = 0): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve((server.address() as AddressInfo).port));
  });
}

test('a killed upstream makes /ready 503 and upstream_up 0; restarted, both recover', async () => {
  const t = await startTestGateway();
  let revived: http.Server | undefined;
  try {
    assert.equal((await t.gw.readiness.check()).ready, true);
    assert.equal((await t.request('GET', '/.rampart/ready')).status, 200);
    const port = t.upstream.port;
    await t.upstream.close();
    for (let i = 0; i < PASSIVE_FAILURES; i++) assert.equal((await t.request('GET', '/public/ping')).status, 502);
    const r = await t.request('GET', '/.rampart/ready');
    assert.equal(r.status, 503);
    assert.equal(r.json().upstreams.test, 'unavailable');
    assert.equal(r.json().ledger, 'ok', 'the ledger is not blamed for the upstream');
    const m = (await t.request('GET', '/.rampart/metrics')).body.toString();
    assert.equal(metric(m, 'rampart_upstream_up{api="test"}'), 0);
    assert.ok((metric(m, 'rampart_upstream_errors_total{api="test",kind="connect"}') ?? 0) >= PASSIVE_FAILURES);
    assert.ok((metric(m, 'rampart_requests_total{api="test",operation="ping",outcome="error",status_class="5xx"}') ?? 0) >= PASSIVE_FAILURES);

    revived = http.createServer((_req, res) => res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}'));
    await listen(revived, port);
    assert.equal((await t.gw.readiness.check()).upstreams.test, 'ok');
    assert.equal((await t.request('GET', '/public/ping')).status, 200);
    assert.equal((await t.request('GET', '/.rampart/ready')).status, 200);
    assert.equal(metric((await t.request('GET', '/.rampart/metrics')).body.toString(), 'rampart_upstream_up{api="test"}'), 1);
  } finally {
    await t.close().catch(() => {});
    if (revived) await new Promise<void>((r) => { revived!.closeAllConnections(); revived!.close(() => r()); });
  }
});

test('passive health: connect failures mark the upstream down while its port still accepts TCP; a newer probe restores it', async () => {
  // A plain HTTP server behind an https:// upstream URL: TCP connects, every TLS handshake fails.
  const plain = http.createServer((_req, res) => res.end('plain'));
  const port = await listen(plain);
  const t = await startTestGateway({ upstreamUrl: `https://127.0.0.1:${port}` });
  // Its own readiness, probing only when asked, so the passive signal is seen alone.
  const r = createReadiness({ store: t.gw.storage.ledger, current: t.gw.runtime, keysFresh: () => true, ledgerHealthy: () => true, intervalMs: 3_600_000 });
  try {
    assert.equal((await r.check()).upstreams.test, 'ok', 'the TCP probe alone sees nothing wrong');
    for (let i = 0; i < PASSIVE_FAILURES - 1; i++) assert.equal((await t.request('GET', '/public/ping')).status, 502);
    assert.equal(r.state().upstreams.test, 'ok', `below ${PASSIVE_FAILURES} failures the upstream stays up`);
    assert.equal((await t.request('GET', '/public/ping')).status, 502);
    const s = r.state();
    assert.equal(s.upstreams.test, 'unavailable');
    assert.equal(s.ready, false);
    const m = (await t.request('GET', '/.rampart/metrics')).body.toString();
    assert.ok((metric(m, 'rampart_upstream_errors_total{api="test",kind="tls"}') ?? 0) >= PASSIVE_FAILURES);
    // The most recent evidence wins: a probe that started after the last failure.
    assert.equal((await r.check()).upstreams.test, 'ok');
  } finally {
    r.close();
    await t.close();
    await new Promise<void>((res) => plain.close(() => res()));
  }
});

test('a ledger queue near its bound makes the node not ready', async () => {
  const t = await startTestGateway();
  let pending = 0;
  const r = createReadiness({ store: t.gw.storage.ledger, current: t.gw.runtime, keysFresh: () => true, ledgerHealthy: () => true, ledgerPending: () => pending, ledgerMaxQueue: 100, intervalMs: 3_600_000 });
  try {
    let s = await r.check();
    assert.equal(s.ledger, 'ok');
    assert.deepEqual(s.ledgerQueue, { pending: 0, max: 100 });
    pending = 95;
    s = r.state();
    assert.equal(s.ledger, 'unavailable');
    assert.equal(s.ready, false);
    pending = 10;
    assert.equal(r.state().ready, true);
    // The gateway's own /ready carries the queue.
    const body = (await t.request('GET', '/.rampart/ready')).json();
    assert.equal(typeof body.ledgerQueue.pending, 'number');
    assert.equal(body.ledgerQueue.max, 10_000);
  } finally {
    r.close();
    await t.close();
  }
});
