/**
 * The upstream side: TLS certificates of the upstream are verified (ASVS 9.2.2: a gateway that
 * accepted any certificate would hand customer data to whoever sits in between), readiness
 * follows the upstream, and a slow request body gets 408.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import https from 'node:https';
import net from 'node:net';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { generateDevCertificate } from '../../src/tls/dev-cert.js';
import { startTestGateway } from '../helpers/gateway.js';
import { tempDir } from '../helpers/tmp.js';
import { createTestCa } from '../helpers/client-certs.js';

async function startHttpsUpstream(o: { requireClientCertFrom?: string } = {}): Promise<{ url: string; certPem: string; close(): Promise<void> }> {
  const c = await generateDevCertificate({ hosts: ['localhost', '127.0.0.1'] });
  // With requireClientCertFrom, an upstream that accepts only clients with a certificate from that CA.
  const mtls = o.requireClientCertFrom ? { ca: o.requireClientCertFrom, requestCert: true, rejectUnauthorized: true } : {};
  const server = https.createServer({ cert: c.certPem, key: c.keyPem, ...mtls }, (req, res) => {
    req.resume();
    req.on('end', () => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ tls: true, url: req.url }));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `https://127.0.0.1:${(server.address() as AddressInfo).port}`,
    certPem: c.certPem,
    close: () => new Promise<void>((r) => {
      server.closeAllConnections();
      server.close(() => r());
    }),
  };
}

test('an upstream certificate that does not chain to a trusted CA is refused with 502', async () => {
  const up = await startHttpsUpstream();
  const t = await startTestGateway({ upstreamUrl: up.url });
  try {
    const r = await t.request('GET', '/public/ping');
    assert.equal(r.status, 502);
    assert.equal(r.json().code, 'RAMPART_UPSTREAM_UNAVAILABLE');
    assert.ok(!r.body.toString().toLowerCase().includes('certificate'), 'no TLS detail leaks to the client');
  } finally {
    await t.close();
    await up.close();
  }
});

test('the same upstream is reached once its CA is configured', async () => {
  const up = await startHttpsUpstream();
  const dir = tempDir('rampart-ca-');
  const caFile = join(dir.path, 'upstream-ca.pem');
  writeFileSync(caFile, up.certPem);
  const t = await startTestGateway({ upstreamUrl: up.url, api: { upstream: { url: up.url, ca: caFile } } });
  try {
    const r = await t.request('GET', '/public/ping');
    assert.equal(r.status, 200);
    assert.deepEqual(r.json(), { tls: true, url: '/public/ping' });
  } finally {
    await t.close();
    await up.close();
    dir.remove();
  }
});

test('readiness turns false while the upstream is down', async () => {
  // A port with nothing listening: bind, note the port, close.
  const probe = net.createServer();
  await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
  const port = (probe.address() as AddressInfo).port;
  await new Promise<void>((r) => probe.close(() => r()));
  const t = await startTestGateway({ upstreamUrl: `http://127.0.0.1:${port}` });
  try {
    const s = await t.gw.readiness.check();
    assert.equal(s.ready, false);
    assert.equal(s.upstreams.test, 'unavailable');
    const r = await t.request('GET', '/.rampart/ready');
    assert.equal(r.status, 503);
    assert.equal(r.json().ledger, 'ok');
    assert.equal((await t.request('GET', '/public/ping')).status, 502);
  } finally {
    await t.close();
  }
});

test('a request body that arrives too slowly gets 408 and is not forwarded', async () => {
  const t = await startTestGateway({ yaml: { limits: { requestTimeoutMs: 400, headersTimeoutMs: 300 } } });
  try {
    const before = t.upstream.seen.length;
    const resp = await new Promise<string>((resolve, reject) => {
      const s = net.connect(t.gw.port, '127.0.0.1');
      let got = '';
      s.on('data', (c: Buffer) => (got += c.toString('latin1')));
      s.on('close', () => resolve(got));
      s.on('error', reject);
      // Declares 20 bytes, sends 2, then goes quiet.
      s.write('POST /public/echo HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 20\r\n\r\n{"');
      setTimeout(() => s.destroy(), 5000);
    });
    assert.match(resp, /^HTTP\/1\.1 408 /, resp);
    assert.match(resp, /"code":"RAMPART_REQUEST_TIMEOUT"/);
    assert.equal(t.upstream.seen.length, before);
  } finally {
    await t.close();
  }
});

test('mTLS to the upstream: an upstream that requires client certificates accepts the gateway with its configured certificate, and refuses it without', async () => {
  const ca = await createTestCa();
  const up = await startHttpsUpstream({ requireClientCertFrom: ca.certPem });
  const dir = tempDir('rampart-upstream-mtls-');
  const gwCert = await ca.issue({ cn: 'rampart-gateway', uri: 'spiffe://bank.test/rampart' });
  writeFileSync(join(dir.path, 'upstream-ca.pem'), up.certPem);
  writeFileSync(join(dir.path, 'gw-cert.pem'), gwCert.certPem);
  writeFileSync(join(dir.path, 'gw-key.pem'), gwCert.keyPem, { mode: 0o600 });
  const without = await startTestGateway({ upstreamUrl: up.url, api: { upstream: { url: up.url, ca: join(dir.path, 'upstream-ca.pem') } } });
  const withCert = await startTestGateway({
    upstreamUrl: up.url,
    api: { upstream: { url: up.url, ca: join(dir.path, 'upstream-ca.pem'), clientCertificate: { cert: join(dir.path, 'gw-cert.pem'), key: join(dir.path, 'gw-key.pem') } } },
  });
  try {
    assert.equal((await without.request('GET', '/public/ping')).status, 502, 'the upstream refuses a caller without a certificate');
    const r = await withCert.request('GET', '/public/ping');
    assert.equal(r.status, 200, r.body.toString());
    assert.deepEqual(r.json(), { tls: true, url: '/public/ping' });
  } finally {
    await without.close();
    await withCert.close();
    await up.close();
    dir.remove();
  }
});
