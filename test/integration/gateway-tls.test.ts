/**
 * TLS on the data plane (ENC-1, ENC-2, ENC-3): 1.2 and 1.3 accepted with the intermediate suites,
 * 1.1 refused for a client that really offers it (shown able to connect to a deliberately
 * permissive server, so the refusal means something), HSTS on every response.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import tls from 'node:tls';
import https from 'node:https';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';

let t: TestGateway;
before(async () => {
  t = await startTestGateway({ tls: true });
});
after(async () => t.close());

function handshake(port: number, o: tls.ConnectionOptions): Promise<{ ok: true; protocol: string | null; cipher: string } | { ok: false; error: string }> {
  return new Promise((resolve) => {
    const s = tls.connect({ host: '127.0.0.1', port, rejectUnauthorized: false, ...o }, () => {
      const r = { ok: true as const, protocol: s.getProtocol(), cipher: s.getCipher().name };
      s.end();
      resolve(r);
    });
    s.on('error', (e) => resolve({ ok: false, error: (e as NodeJS.ErrnoException).code ?? e.message }));
  });
}

test('TLS 1.3 and 1.2 are accepted with intermediate suites', async () => {
  const a = await handshake(t.gw.port, { minVersion: 'TLSv1.3' });
  assert.equal(a.ok && a.protocol, 'TLSv1.3');
  const b = await handshake(t.gw.port, { maxVersion: 'TLSv1.2' });
  assert.ok(b.ok);
  assert.equal(b.protocol, 'TLSv1.2');
  assert.match(b.cipher, /^ECDHE-(ECDSA|RSA)-(AES(128|256)-GCM-SHA(256|384)|CHACHA20-POLY1305)$/);
  const weak = await handshake(t.gw.port, { maxVersion: 'TLSv1.2', ciphers: 'AES128-SHA' });
  assert.equal(weak.ok, false, 'a non-forward-secret suite is refused');
});

test('a client that really offers only TLS 1.1 is refused', async () => {
  const dir = t.dir;
  // The same client connects to a deliberately permissive server: the client works.
  const permissive = https.createServer({
    cert: readFileSync(join(dir, 'tls', 'cert.pem')),
    key: readFileSync(join(dir, 'tls', 'key.pem')),
    minVersion: 'TLSv1',
    ciphers: 'DEFAULT@SECLEVEL=0',
  }, (_q, s) => s.end('ok'));
  await new Promise<void>((r) => permissive.listen(0, '127.0.0.1', r));
  const old = { minVersion: 'TLSv1' as const, maxVersion: 'TLSv1.1' as const, ciphers: 'DEFAULT@SECLEVEL=0' };
  try {
    const ok = await handshake((permissive.address() as AddressInfo).port, old);
    assert.ok(ok.ok, `TLS 1.1 client should reach a permissive server: ${JSON.stringify(ok)}`);
    assert.equal(ok.ok && ok.protocol, 'TLSv1.1');
  } finally {
    permissive.close();
  }
  const refused = await handshake(t.gw.port, old);
  assert.equal(refused.ok, false, 'the gateway refuses TLS 1.1');
});

test('HSTS on every response, denials included', async () => {
  const r = await t.request('GET', '/nope');
  assert.equal(r.status, 404);
  assert.equal(r.headers['strict-transport-security'], 'max-age=63072000; includeSubDomains');
  const ok = await t.request('GET', '/public/ping');
  assert.equal(ok.status, 200);
  assert.equal(ok.headers['strict-transport-security'], 'max-age=63072000; includeSubDomains');
  assert.equal(ok.json().headers['x-forwarded-proto'], 'https');
});
