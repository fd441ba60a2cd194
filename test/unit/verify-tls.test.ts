/**
 * The TLS probes of `rampart verify` against real local servers (ENC-1, ENC-2): a refusal counts
 * only when the server refused after a real ClientHello; an unreachable port or a server that
 * speaks no TLS at all is an `error`, never a `pass`; a server that accepts TLS 1.0 fails; the
 * certificate control reads trust, name, expiry and lifespan, and warns under 30 days.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import tls from 'node:tls';
import type { AddressInfo } from 'node:net';
import { generateDevCertificate } from '../../src/tls/dev-cert.js';
import { TLS12_CIPHERS, TLS13_CIPHERSUITES } from '../../src/tls/server-options.js';
import { createBudget } from '../../src/verify/http.js';
import { tlsProbes } from '../../src/verify/probes/tls.js';
import type { ControlResult } from '../../src/verify/types.js';

function listen(server: net.Server): Promise<number> {
  return new Promise((r) => server.listen(0, '127.0.0.1', () => r((server.address() as AddressInfo).port)));
}
const status = (rs: ControlResult[]) => Object.fromEntries(rs.map((r) => [r.id, r.status]));

describe('verify TLS probes', () => {
  let cert: { certPem: string; keyPem: string };
  const servers: net.Server[] = [];
  before(async () => {
    cert = await generateDevCertificate({ hosts: ['127.0.0.1'], days: 10 });
  });
  after(() => {
    for (const s of servers) s.close();
  });

  it('a modern server (TLS 1.2+, ENC-2 suites): old versions and weak suites refused, certificate trusted with --ca, warned under 30 days', async () => {
    const s = tls.createServer({ cert: cert.certPem, key: cert.keyPem, minVersion: 'TLSv1.2', ciphers: [...TLS13_CIPHERSUITES, ...TLS12_CIPHERS].join(':') }, (c) => c.end());
    s.on('tlsClientError', () => {});
    servers.push(s);
    const port = await listen(s);
    const budget = createBudget(20);
    const rs = await tlsProbes({ host: '127.0.0.1', port, ca: [cert.certPem], timeoutMs: 5000, budget });
    assert.deepEqual(status(rs), { 'tls.1.0-refused': 'pass', 'tls.1.1-refused': 'pass', 'tls.1.2-accepted': 'pass', 'tls.1.3-accepted': 'pass', 'tls.weak-ciphers-refused': 'pass', 'tls.certificate': 'pass' });
    const c = rs.find((r) => r.id === 'tls.certificate')!;
    assert.match(c.warnings?.[0] ?? '', /^expires in (9|10) days \(under 30\)$/);
    assert.equal(budget.used, 5, 'five handshakes, no fallback needed with this OpenSSL');
    // Without the private authority the same certificate is not trusted: fail, saying why.
    const untrusted = await tlsProbes({ host: '127.0.0.1', port, ca: [], timeoutMs: 5000, budget: createBudget(20) });
    assert.equal(status(untrusted)['tls.certificate'], 'fail');
    assert.match(untrusted.find((r) => r.id === 'tls.certificate')!.summary, /not trusted/);
    // Node's default suites include CBC ones: that server fails the weak-suite control.
    const loose = tls.createServer({ cert: cert.certPem, key: cert.keyPem, minVersion: 'TLSv1.2' }, (c) => c.end());
    loose.on('tlsClientError', () => {});
    servers.push(loose);
    const looseRs = await tlsProbes({ host: '127.0.0.1', port: await listen(loose), ca: [cert.certPem], timeoutMs: 5000, budget: createBudget(20) });
    assert.equal(status(looseRs)['tls.weak-ciphers-refused'], 'fail');
    assert.match(looseRs.find((r) => r.id === 'tls.weak-ciphers-refused')!.summary, /^a handshake offering only weak suites completed with ECDHE-ECDSA-AES\d+-SHA/);
  });

  it('a certificate for another name fails, even from a trusted authority', async () => {
    const other = await generateDevCertificate({ hosts: ['other.example'], days: 10 });
    const s = tls.createServer({ cert: other.certPem, key: other.keyPem }, (c) => c.end());
    s.on('tlsClientError', () => {});
    servers.push(s);
    const rs = await tlsProbes({ host: '127.0.0.1', port: await listen(s), ca: [other.certPem], timeoutMs: 5000, budget: createBudget(20) });
    const c = rs.find((r) => r.id === 'tls.certificate')!;
    assert.equal(c.status, 'fail');
    assert.match(c.summary, /does not name 127\.0\.0\.1/);
  });

  it('a server that accepts TLS 1.0 and 1.1 fails those controls, with the negotiated protocol as evidence', async () => {
    const s = tls.createServer({ cert: cert.certPem, key: cert.keyPem, minVersion: 'TLSv1', ciphers: 'DEFAULT@SECLEVEL=0' }, (c) => c.end());
    servers.push(s);
    const port = await listen(s);
    const rs = await tlsProbes({ host: '127.0.0.1', port, ca: [cert.certPem], timeoutMs: 5000, budget: createBudget(20) });
    assert.equal(status(rs)['tls.1.0-refused'], 'fail');
    assert.equal(status(rs)['tls.1.1-refused'], 'fail');
    assert.match(rs[0]!.summary, /^a TLSv1 handshake completed \(TLSv1, /);
    assert.equal(status(rs)['tls.weak-ciphers-refused'], 'fail');
  });

  it('nothing listening, or a server that speaks no TLS: errors, never a pass', async () => {
    const probe = net.createServer();
    const closedPort = await listen(probe);
    await new Promise<void>((r) => probe.close(() => r()));
    const closed = await tlsProbes({ host: '127.0.0.1', port: closedPort, ca: [], timeoutMs: 2000, budget: createBudget(20) });
    assert.ok(closed.every((r) => r.status === 'error' || (r.status === 'fail' && r.id !== 'tls.1.0-refused' && r.id !== 'tls.1.1-refused')), JSON.stringify(status(closed)));
    assert.equal(status(closed)['tls.1.0-refused'], 'error');
    assert.equal(status(closed)['tls.weak-ciphers-refused'], 'error');

    const plain = net.createServer((c) => c.end('HTTP/1.1 400 Bad Request\r\n\r\n'));
    servers.push(plain);
    const port = await listen(plain);
    const rs = await tlsProbes({ host: '127.0.0.1', port, ca: [], timeoutMs: 2000, budget: createBudget(20) });
    const st = status(rs);
    assert.deepEqual([st['tls.1.0-refused'], st['tls.1.1-refused'], st['tls.weak-ciphers-refused']], ['error', 'error', 'error']);
    assert.match(rs[0]!.summary, /so were TLS 1.2 and 1.3/);
    assert.equal(st['tls.1.2-accepted'], 'fail');
  });

  it('stops at the budget: a run never makes more handshakes than allowed', async () => {
    const s = tls.createServer({ cert: cert.certPem, key: cert.keyPem }, (c) => c.end());
    servers.push(s);
    const port = await listen(s);
    await assert.rejects(tlsProbes({ host: '127.0.0.1', port, ca: [], timeoutMs: 2000, budget: createBudget(3) }), /probe budget of 3/);
  });
});
