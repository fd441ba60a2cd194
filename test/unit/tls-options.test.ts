/**
 * The data plane's TLS settings against real handshakes on loopback (ENC-1, ENC-2): TLS 1.2 and
 * 1.3 connect with Mozilla-intermediate parameters; TLS 1.1 is refused. So that the refusal means
 * something, the very same TLS 1.1 client is shown to connect to a deliberately permissive
 * server on this machine (Node 20's OpenSSL 3.0 still speaks TLS 1.1 at SECLEVEL=0), and the
 * check ENC-1 names, `openssl s_client -tls1_1`, is run too when the openssl binary exists.
 *
 * Found on this machine (OpenSSL 3.0): a bare `openssl s_client -tls1_1` fails even against the
 * permissive server ("legacy sigalg disallowed", SECLEVEL 1 forbids SHA-1 signatures), so it
 * proves nothing; with `-cipher DEFAULT@SECLEVEL=0` it connects to the permissive server at
 * TLS 1.1 and gets "alert protocol version" from Rampart. Both halves are asserted below.
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import tls from 'node:tls';
import { ConfigError } from '../../src/core/errors.js';
import { generateDevCertificate } from '../../src/tls/dev-cert.js';
import { ECDH_CURVES, TLS12_CIPHERS, TLS13_CIPHERSUITES, tlsServerOptions } from '../../src/tls/server-options.js';
import { tempDir } from '../helpers/tmp.js';

const tmp = tempDir('rampart-tls-');
const certFile = join(tmp.path, 'cert.pem');
const keyFile = join(tmp.path, 'key.pem');
let certPem = '';
let keyPem = '';

/** A TLS 1.0/1.1-only client with every legacy cipher allowed. */
const TLS11_CLIENT = { minVersion: 'TLSv1', maxVersion: 'TLSv1.1', ciphers: 'DEFAULT@SECLEVEL=0' } as const;

interface Running {
  port: number;
  close(): Promise<void>;
}

async function serve(options: https.ServerOptions): Promise<Running> {
  const server = https.createServer(options, (_req, res) => res.end('hello over tls'));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

type Handshake = { ok: true; protocol: string | null; cipher: string } | { ok: false; code: string | undefined; message: string };

function handshake(port: number, opts: tls.ConnectionOptions): Promise<Handshake> {
  return new Promise((resolve) => {
    const socket = tls.connect({ host: '127.0.0.1', port, servername: 'localhost', ca: certPem, ...opts }, () => {
      const result = { ok: true as const, protocol: socket.getProtocol(), cipher: socket.getCipher().name };
      socket.end();
      resolve(result);
    });
    socket.on('error', (err: NodeJS.ErrnoException) => resolve({ ok: false, code: err.code, message: err.message }));
  });
}

function openssl(args: string[]): Promise<{ code: number; out: string }> {
  return new Promise((resolve) => {
    const child = execFile('openssl', args, { timeout: 10_000 }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? ((err as { code: number }).code) : -1) : 0;
      resolve({ code, out: `${stdout}${stderr}` });
    });
    child.stdin?.end(); // s_client exits at end of input
  });
}

async function hasOpenssl(): Promise<boolean> {
  const r = await openssl(['version']);
  return r.code === 0 && /OpenSSL/.test(r.out);
}

let rampart: Running;
let permissive: Running;

before(async () => {
  ({ certPem, keyPem } = await generateDevCertificate({ hosts: ['localhost', '127.0.0.1'] }));
  writeFileSync(certFile, certPem);
  writeFileSync(keyFile, keyPem, { mode: 0o600 });
  rampart = await serve(await tlsServerOptions({ cert: certFile, key: keyFile, minVersion: 'TLSv1.2' }));
  // Deliberately weak: exists only to prove the TLS 1.1 client below is real.
  permissive = await serve({ cert: certPem, key: keyPem, minVersion: 'TLSv1', ciphers: 'DEFAULT@SECLEVEL=0' });
});

after(async () => {
  await rampart?.close();
  await permissive?.close();
  tmp.remove();
});

describe('tlsServerOptions on a real https server', () => {
  test('the options are Mozilla intermediate (ENC-2)', async () => {
    const o = await tlsServerOptions({ cert: certFile, key: keyFile, minVersion: 'TLSv1.2' });
    assert.equal(o.minVersion, 'TLSv1.2');
    assert.equal(o.maxVersion, 'TLSv1.3');
    assert.equal(o.ciphers, [...TLS13_CIPHERSUITES, ...TLS12_CIPHERS].join(':'));
    assert.equal(
      TLS12_CIPHERS.join(':'),
      'ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305',
    );
    assert.equal(o.ecdhCurve, 'X25519:prime256v1:secp384r1');
    assert.equal(ECDH_CURVES, o.ecdhCurve);
    assert.equal(o.honorCipherOrder, false);
  });

  test('TLS 1.2 connects with an ECDHE AEAD suite, and HTTP works over it', async () => {
    const r = await handshake(rampart.port, { minVersion: 'TLSv1.2', maxVersion: 'TLSv1.2' });
    assert.ok(r.ok, JSON.stringify(r));
    assert.equal(r.protocol, 'TLSv1.2');
    assert.ok((TLS12_CIPHERS as readonly string[]).includes(r.cipher), r.cipher);
    const body = await new Promise<string>((resolve, reject) => {
      https
        .get({ host: '127.0.0.1', port: rampart.port, servername: 'localhost', ca: certPem, path: '/', maxVersion: 'TLSv1.2' }, (res) => {
          let s = '';
          res.on('data', (c: Buffer) => (s += c.toString()));
          res.on('end', () => resolve(s));
        })
        .on('error', reject);
    });
    assert.equal(body, 'hello over tls');
  });

  test('TLS 1.3 connects with a TLS 1.3 suite', async () => {
    const r = await handshake(rampart.port, { minVersion: 'TLSv1.3', maxVersion: 'TLSv1.3' });
    assert.ok(r.ok, JSON.stringify(r));
    assert.equal(r.protocol, 'TLSv1.3');
    assert.ok((TLS13_CIPHERSUITES as readonly string[]).includes(r.cipher), r.cipher);
  });

  test('the TLS 1.1 client connects to the permissive server (so the next refusal is meaningful)', async () => {
    const r = await handshake(permissive.port, TLS11_CLIENT);
    assert.ok(r.ok, `this machine cannot speak TLS 1.1 at all: ${JSON.stringify(r)}`);
    assert.equal(r.protocol, 'TLSv1.1');
  });

  test('the same TLS 1.1 client is refused by Rampart (ENC-1)', async () => {
    const r = await handshake(rampart.port, TLS11_CLIENT);
    assert.equal(r.ok, false);
    assert.equal(!r.ok && r.code, 'ERR_SSL_TLSV1_ALERT_PROTOCOL_VERSION');
  });

  test('a TLS 1.2 suite outside the Mozilla list is refused', async () => {
    // Static-RSA and CBC suites: no forward secrecy / no AEAD.
    const r = await handshake(rampart.port, { maxVersion: 'TLSv1.2', ciphers: 'AES128-GCM-SHA256:ECDHE-ECDSA-AES128-SHA:ECDHE-ECDSA-AES256-SHA384' });
    assert.equal(r.ok, false, JSON.stringify(r));
  });

  test('a key exchange group outside X25519/P-256/P-384 is refused', async () => {
    const r = await handshake(rampart.port, { ecdhCurve: 'secp521r1' });
    assert.equal(r.ok, false, JSON.stringify(r));
  });

  test('minVersion TLSv1.3 refuses TLS 1.2', async () => {
    const strict = await serve(await tlsServerOptions({ cert: certFile, key: keyFile, minVersion: 'TLSv1.3' }));
    try {
      const r12 = await handshake(strict.port, { maxVersion: 'TLSv1.2' });
      assert.equal(r12.ok, false);
      const r13 = await handshake(strict.port, {});
      assert.ok(r13.ok && r13.protocol === 'TLSv1.3');
    } finally {
      await strict.close();
    }
  });

  test('openssl s_client -tls1_1 fails against Rampart and succeeds against the permissive server', async (t) => {
    if (!(await hasOpenssl())) {
      t.skip('no openssl binary on this machine');
      return;
    }
    const args = (port: number) => ['s_client', '-connect', `127.0.0.1:${port}`, '-servername', 'localhost', '-tls1_1', '-cipher', 'DEFAULT@SECLEVEL=0'];
    const weak = await openssl(args(permissive.port));
    assert.equal(weak.code, 0, weak.out);
    // s_client prints "Protocol : TLSv1.1" even for a failed attempt; the cipher line shows success.
    assert.match(weak.out, /Protocol\s*:\s*TLSv1\.1/);
    assert.match(weak.out, /Cipher is (?!\(NONE\))\S+/);
    const refused = await openssl(args(rampart.port));
    assert.notEqual(refused.code, 0, refused.out);
    assert.match(refused.out, /Cipher is \(NONE\)/);
    assert.match(refused.out, /alert protocol version/i);
  });
});

describe('tlsServerOptions errors name the file', () => {
  test('a missing certificate', async () => {
    const missing = join(tmp.path, 'missing.pem');
    await assert.rejects(tlsServerOptions({ cert: missing, key: keyFile, minVersion: 'TLSv1.2' }), (err: unknown) => {
      assert.ok(err instanceof ConfigError);
      assert.equal(err.message, `${missing}: TLS certificate not found (listen.tls in the configuration)`);
      return true;
    });
  });

  test('a missing key', async () => {
    const missing = join(tmp.path, 'missing-key.pem');
    await assert.rejects(tlsServerOptions({ cert: certFile, key: missing, minVersion: 'TLSv1.2' }), (err: unknown) => err instanceof ConfigError && err.message.startsWith(`${missing}: TLS private key not found`));
  });

  test('an unreadable key', { skip: process.getuid?.() === 0 ? 'root reads any file' : false }, async () => {
    const locked = join(tmp.path, 'locked-key.pem');
    writeFileSync(locked, keyPem, { mode: 0o000 });
    await assert.rejects(tlsServerOptions({ cert: certFile, key: locked, minVersion: 'TLSv1.2' }), new RegExp(`${locked}: TLS private key permission denied`));
  });

  test('a directory instead of a file', async () => {
    await assert.rejects(tlsServerOptions({ cert: tmp.path, key: keyFile, minVersion: 'TLSv1.2' }), (err: unknown) => err instanceof ConfigError && err.message.startsWith(`${tmp.path}: TLS certificate cannot be read (EISDIR)`));
  });

  test('a file that is not PEM', async () => {
    await assert.rejects(tlsServerOptions({ cert: keyFile, key: keyFile, minVersion: 'TLSv1.2' }), (err: unknown) => err instanceof ConfigError && err.message.startsWith(`${keyFile}: TLS certificate is not PEM`));
  });

  test('a key that does not belong to the certificate', async () => {
    const other = join(tmp.path, 'other-key.pem');
    writeFileSync(other, (await generateDevCertificate({ hosts: ['localhost'] })).keyPem, { mode: 0o600 });
    await assert.rejects(tlsServerOptions({ cert: certFile, key: other, minVersion: 'TLSv1.2' }), (err: unknown) => {
      assert.ok(err instanceof ConfigError);
      assert.equal(err.message, `${certFile}: cannot be used with ${other}: the private key does not belong to this certificate`);
      return true;
    });
  });

  test('an RSA key under 2048 bits (ENC-2)', async () => {
    const weak = join(tmp.path, 'rsa1024.pem');
    writeFileSync(weak, generateKeyPairSync('rsa', { modulusLength: 1024 }).privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
    await assert.rejects(tlsServerOptions({ cert: certFile, key: weak, minVersion: 'TLSv1.2' }), new RegExp(`RSA key of 1024 bits; at least 2048 bits are required \\(ENC-2\\)`));
  });

  test('a minVersion below TLS 1.2 built in code is a TypeError', async () => {
    await assert.rejects(tlsServerOptions({ cert: certFile, key: keyFile, minVersion: 'TLSv1.1' as 'TLSv1.2' }), TypeError);
  });
});
