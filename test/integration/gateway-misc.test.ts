/**
 * Trusted proxies, CORS, several APIs behind one gateway, graceful shutdown.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startTestGateway, FIXTURE_SPEC } from '../helpers/gateway.js';
import { gatewayPrivates } from '../helpers/ledger-crypto.js';

test('X-Forwarded-For is believed only from a trusted proxy, and only its untrusted hop', async () => {
  const t = await startTestGateway({ yaml: { trustedProxies: ['127.0.0.0/8'] } });
  try {
    const r = await t.request('GET', '/public/ping', { headers: { 'x-forwarded-for': '203.0.113.9, 10.0.0.1', 'x-forwarded-proto': 'https' } });
    const h = r.json().headers;
    assert.equal(h['x-forwarded-for'], '203.0.113.9, 10.0.0.1, 10.0.0.1');
    assert.equal(h['x-forwarded-proto'], 'https');
    const head = await t.gw.storage.ledger.head();
    const recs = await t.gw.storage.ledger.read(head!.seq - 1, 2);
    const [priv] = await gatewayPrivates(t.gw, [recs[0]!.record.seq]);
    assert.equal(priv!.personal?.clientAddress, '10.0.0.1', 'right-most untrusted hop is the client');
  } finally {
    await t.close();
  }
});

test('CORS only for configured origins', async () => {
  const t = await startTestGateway({ yaml: { cors: { origins: ['https://app.example.com'] } } });
  try {
    const ok = await t.request('OPTIONS', '/accounts', { headers: { origin: 'https://app.example.com', 'access-control-request-method': 'GET' } });
    assert.equal(ok.status, 204);
    assert.equal(ok.headers['access-control-allow-origin'], 'https://app.example.com');
    assert.equal(ok.headers['access-control-allow-methods'], 'GET');
    const bad = await t.request('OPTIONS', '/accounts', { headers: { origin: 'https://evil.example.net', 'access-control-request-method': 'GET' } });
    assert.equal(bad.status, 403);
    assert.equal(bad.json().code, 'RAMPART_ORIGIN_NOT_ALLOWED');
    assert.equal(bad.headers['access-control-allow-origin'], undefined);
    const simple = await t.request('GET', '/public/ping', { headers: { origin: 'null' } });
    assert.equal(simple.headers['access-control-allow-origin'], undefined, 'the null origin is never allowed');
  } finally {
    await t.close();
  }
});

test('two APIs on one gateway: mounts route apart and scopes are qualified by API name', async () => {
  const t = await startTestGateway({
    api: { name: 'retail', mount: { prefix: '/retail' } },
    extraApis: (url) => [{ name: 'inst', openapi: FIXTURE_SPEC, upstream: { url: `${url}/inst-base` }, mount: { prefix: '/inst' } }],
  });
  try {
    const unqualified = await t.key(['accounts:read']);
    const retail = await t.key(['retail:accounts:read']);
    const r0 = await t.request('GET', '/retail/accounts', { headers: { authorization: `Bearer ${unqualified.key}` } });
    assert.equal(r0.status, 403, 'an unqualified scope does not satisfy a qualified requirement');
    const r1 = await t.request('GET', '/retail/accounts', { headers: { authorization: `Bearer ${retail.key}` } });
    assert.equal(r1.status, 200);
    assert.equal(r1.json().url, '/accounts', 'mount prefix removed');
    const r2 = await t.request('GET', '/inst/accounts', { headers: { authorization: `Bearer ${retail.key}` } });
    assert.equal(r2.status, 403, 'a scope for one API does not open another');
    const r3 = await t.request('GET', '/inst/public/ping');
    assert.equal(r3.json().url, '/inst-base/public/ping', 'upstream base path kept');
    assert.equal((await t.request('GET', '/accounts')).status, 404, 'nothing outside the mounts');
  } finally {
    await t.close();
  }
});

test('graceful shutdown lets an in-flight request finish', async () => {
  const t = await startTestGateway();
  const pending = t.request('GET', '/slow?ms=300');
  await new Promise((r) => setTimeout(r, 100));
  const closing = t.close();
  const r = await pending;
  assert.equal(r.status, 200);
  await closing;
});

test('repeated upstream response headers survive, with and without CORS headers', async () => {
  const t = await startTestGateway({ yaml: { cors: { origins: ['https://app.example.com'] } } });
  try {
    for (const headers of [{}, { origin: 'https://app.example.com' }] as Record<string, string>[]) {
      const r = await t.request('GET', '/cookies', { headers });
      assert.equal(r.status, 200);
      assert.deepEqual(r.headers['set-cookie'], ['a=1; Secure', 'b=2; Secure']);
      assert.equal(r.headers['cache-control'], 'no-store', 'Rampart owns Cache-Control');
      assert.equal(r.headers.server, undefined);
    }
  } finally {
    await t.close();
  }
});
