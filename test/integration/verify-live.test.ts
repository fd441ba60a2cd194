/**
 * `rampart verify` against real servers (issue 6): a real gateway over TLS with its admin plane,
 * a real upstream, real SQLite; the CLI command run in-process through commander.
 *
 * - healthy: every control passes (TLS 1.0/1.1 refused by a client that really offers them,
 *   ENC-1; headers, 401/403/404/400/413/429, every probe landed in the ledger with the run's
 *   marker, chain and published heads verify, live config hash = repository's), and the signed
 *   attestation verifies with the gateway's JWKS and is a ledger record;
 * - misconfigured on purpose: the same probes against an unprotected TLS server (TLS 1.0 allowed,
 *   weak suites, an expired certificate, no headers, straight to the upstream), with the admin
 *   plane of a gateway whose ledger was tampered with and a repository configuration that differs
 *   from the live one: EACH control is reported `fail` with evidence (not skipped, not error).
 *
 * Needs the integrator's wiring (docs/verify.md "Wiring"): verifyRoutes registered in
 * src/admin/server.ts and the probe marker checked in the request handler.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import https from 'node:https';
import { createHash, KeyObject, randomBytes, webcrypto } from 'node:crypto';
import { readFileSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { Command } from 'commander';
import Database from 'better-sqlite3';
import { compactVerify, createLocalJWKSet } from 'jose';
import { authenticator } from 'otplib';
import { stringify } from 'yaml';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { adminRequest, type AdminRes } from '../helpers/admin.js';
import { newAdminUser } from '../../src/admin/server.js';
import { createAccessTokens } from '../../src/identity/access-tokens.js';
import { registerVerify } from '../../src/cli/verify.js';
import { CliExit } from '../../src/cli/exit-codes.js';
import { PROBE_HEADER } from '../../src/gateway/probe-marker.js';
import type { VerifyReport } from '../../src/verify/types.js';

const SPEC = fileURLToPath(new URL('../../../test/fixtures/verify/verify-api.yaml', import.meta.url));
const PASSWORD = 'correct horse battery staple forever';

/** Every control the run reports, in report order. */
const CONTROLS = [
  'tls.1.0-refused', 'tls.1.1-refused', 'tls.1.2-accepted', 'tls.1.3-accepted', 'tls.weak-ciphers-refused', 'tls.certificate',
  'headers.hsts', 'headers.nosniff', 'headers.cache-control', 'headers.framing',
  'authn.no-credential', 'authn.forged-token', 'authn.expired-token',
  'authz.missing-scope', 'authz.other-customer-object',
  'inject.sql', 'limits.body-size', 'routing.unknown-route', 'limits.rate',
  'audit.probes-landed', 'audit.chain-verified', 'config.hash-matches',
];

/** Runs `rampart verify ...` in-process; the exit code is 0 unless the command threw a CliExit. */
async function verifyCli(args: string[], env: Record<string, string>): Promise<number> {
  const program = new Command('rampart').exitOverride();
  registerVerify(program);
  const saved: Record<string, string | undefined> = {};
  for (const [k, v] of Object.entries(env)) {
    saved[k] = process.env[k];
    process.env[k] = v;
  }
  try {
    await program.parseAsync(['node', 'rampart', 'verify', ...args]);
    return 0;
  } catch (err) {
    if (err instanceof CliExit) return err.exitCode;
    throw err;
  } finally {
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  }
}

function adminCall(port: number, method: string, path: string, o: { cookie?: string; csrf?: string; body?: unknown } = {}): Promise<AdminRes> {
  return adminRequest(port, method, path, o);
}

/** A person logs in with password + TOTP and mints a short admin token for the verifier. */
async function adminToken(t: TestGateway): Promise<string> {
  const c = await newAdminUser({ username: 'verifier', password: PASSWORD, roles: ['security'], createdBy: 'test' }, t.secret, Date.now());
  await t.gw.storage.admin.insertUser(c.user);
  const port = t.gw.admin!.port;
  const login = await adminCall(port, 'POST', '/admin/api/login', { body: { username: 'verifier', password: PASSWORD, totp: authenticator.generate(c.totpSecret) } });
  assert.equal(login.status, 200, JSON.stringify(login.json));
  const cookie = (login.headers['set-cookie'] as string[])[0]!.split(';')[0]!;
  const minted = await adminCall(port, 'POST', '/admin/api/tokens', { cookie, csrf: login.json.csrfToken, body: { actions: ['verify.run', 'audit.read'], minutes: 30 } });
  assert.equal(minted.status, 201, JSON.stringify(minted.json));
  return minted.json.token as string;
}

/** An unprotected TLS front for the upstream: TLS 1.0-1.2 with weak suites, an expired RSA certificate, no controls. */
async function startWeakProxy(upstreamUrl: string): Promise<{ url: string; close(): Promise<void> }> {
  await import('reflect-metadata');
  const x509 = await import('@peculiar/x509');
  x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);
  const alg = { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256', publicExponent: new Uint8Array([1, 0, 1]), modulusLength: 2048 };
  const keys = (await webcrypto.subtle.generateKey(alg, true, ['sign', 'verify'])) as webcrypto.CryptoKeyPair;
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: randomBytes(8).toString('hex').replace(/^./, '1'),
    name: 'CN=misconfigured on purpose',
    notBefore: new Date(Date.now() - 30 * 86_400_000),
    notAfter: new Date(Date.now() - 86_400_000),
    signingAlgorithm: alg,
    keys,
    extensions: [new x509.SubjectAlternativeNameExtension([{ type: 'ip', value: '127.0.0.1' }])],
  });
  const up = new URL(upstreamUrl);
  const server = https.createServer(
    {
      cert: cert.toString('pem'),
      key: KeyObject.from(keys.privateKey).export({ type: 'pkcs8', format: 'pem' }).toString(),
      minVersion: 'TLSv1',
      maxVersion: 'TLSv1.2',
      ciphers: 'AES128-SHA:AES256-SHA:ECDHE-RSA-AES128-SHA:@SECLEVEL=0',
    },
    (req, res) => {
      const p = http.request({ host: up.hostname, port: up.port, method: req.method, path: req.url, headers: req.headers }, (r) => {
        res.writeHead(r.statusCode!, r.headers);
        r.pipe(res);
      });
      p.on('error', () => {
        res.writeHead(502);
        res.end();
      });
      req.pipe(p);
    },
  );
  server.on('tlsClientError', () => {});
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `https://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () => new Promise<void>((r) => { server.closeAllConnections(); server.close(() => r()); }),
  };
}

describe('rampart verify against a live gateway (issue 6)', () => {
  let t: TestGateway;
  let token: string;
  let identitiesFile: string;

  before(async () => {
    t = await startTestGateway({
      tls: true,
      spec: SPEC,
      api: { authorization: { objects: { account: { in: ['path.accountId'], owner: { table: { cus_alice: ['acc_alice_1'], cus_bob: ['acc_bob_1'] } } } } } },
      yaml: {
        admin: { listen: { port: 0 } },
        // Many 401s from one address are the point of the run; the throttle is tested elsewhere.
        authThrottle: { maxFailures: 100, windowSeconds: 60 },
        // docs/rate-limits.md: a bucket holds `burst ?? limit` requests from idle, so 3 pass and the 4th is 429.
        rateLimits: { rules: [{ name: 'verify-ping', by: 'key', limit: 3, windowSeconds: 3600, operations: ['ping'] }] },
        ledger: { checkpoints: { publish: [{ file: 'published-heads.jsonl' }] } },
      },
    });
    token = await adminToken(t);
    const alice = await t.key(['accounts:read', 'orders:write'], { subject: 'cus_alice', name: 'verify-alice' });
    const readOnly = await t.key(['accounts:read'], { subject: 'cus_alice', name: 'verify-alice-readonly' });
    // A token this gateway signed, expired an hour ago: the expiry check alone refuses it (N63-3).
    const expired = createAccessTokens(t.gw.keyset, { issuer: t.config.identity.issuer, lifetimeSeconds: 60, now: () => Date.now() - 3_600_000 }).issue({ clientId: alice.id, scopes: ['accounts:read'], audience: 'test' });
    identitiesFile = join(t.dir, 'verify-identities.yaml');
    writeFileSync(identitiesFile, stringify({
      version: 1,
      customer: { key: alice.key, ownObject: '/accounts/acc_alice_1' },
      otherObject: '/accounts/acc_bob_1',
      missingScope: { key: readOnly.key, scope: 'orders:write', method: 'POST', path: '/accounts/acc_alice_1/orders', body: { symbol: 'ABC', side: 'buy', quantity: 1 } },
      injection: { path: '/accounts/acc_alice_1/notes', param: 'q' },
      oversizedBody: { path: '/accounts/acc_alice_1/orders', method: 'POST' },
      rateLimit: { path: '/accounts/acc_alice_1/ping', budget: 3 },
      expiredToken: expired.token,
    }));
  });
  after(() => t.close());

  it('refuses to start when the plan exceeds --max-probes (exit 2), before any probe', async () => {
    const seen = t.upstream.seen.length;
    const out = join(t.dir, 'never.txt');
    const code = await verifyCli(['--target', t.gw.url, '--identities', identitiesFile, '--max-probes', '5', '--out', out], {});
    assert.equal(code, 2);
    assert.equal(existsSync(out), false);
    assert.equal(t.upstream.seen.length, seen);
  });

  it('healthy: every control passes with evidence; the attestation is signed by the gateway and recorded in the ledger', async () => {
    const out = join(t.dir, 'healthy.json');
    const code = await verifyCli(
      ['--target', t.gw.url, '--identities', identitiesFile, '--config', t.configFile, '--admin', t.gw.admin!.url, '--format', 'json', '--out', out, '--ca', join(t.dir, 'tls', 'cert.pem')],
      { RAMPART_ADMIN_TOKEN: token },
    );
    const bytes = readFileSync(out);
    const report = JSON.parse(bytes.toString('utf8')) as VerifyReport;
    const notPassing = report.results.filter((r) => r.status !== 'pass').map((r) => `${r.id}: ${r.status} ${r.summary}`);
    assert.deepEqual(notPassing, [], 'every control passes');
    assert.equal(code, 0);
    assert.deepEqual(report.results.map((r) => r.id), CONTROLS);
    const byId = new Map(report.results.map((r) => [r.id, r]));

    // ENC-1: the client really offered TLS 1.1 and the server refused with a protocol_version alert (70).
    const v11 = byId.get('tls.1.1-refused')!.evidence as { attempts: { client: string; handshake: string; alert?: number }[] };
    assert.match(v11.attempts[0]!.client, /^node:tls \(OpenSSL 3/);
    assert.equal(v11.attempts[0]!.handshake, 'failed');
    assert.equal(v11.attempts[0]!.alert, 70);
    assert.match(JSON.stringify(byId.get('tls.1.3-accepted')!.evidence), /TLS_AES_(128|256)_GCM_SHA(256|384)|TLS_CHACHA20/);
    assert.equal((byId.get('tls.certificate')!.evidence as { trusted: boolean }).trusted, true);

    // The marker never relaxes a control: the request without credentials carried it and got 401.
    const none = byId.get('authn.no-credential')!.evidence as { sent: { headers: Record<string, string> }; received: { status: number; code: string } };
    assert.match(none.sent.headers[PROBE_HEADER]!, /^vr_[A-Za-z0-9_-]+\.<expiry>\.<mac>$/);
    assert.deepEqual([none.received.status, none.received.code], [401, 'RAMPART_AUTH_REQUIRED']);
    assert.equal((byId.get('inject.sql')!.evidence as { received: { code: string } }).received.code, 'RAMPART_INJECTION_DETECTED');
    assert.equal((byId.get('authz.missing-scope')!.evidence as { received: { code: string } }).received.code, 'RAMPART_SCOPE_MISSING');
    assert.match(byId.get('limits.rate')!.summary, /^429 RAMPART_RATE_LIMITED at request 4 of at most 4$/);
    const landed = byId.get('audit.probes-landed')!.evidence as { expected: number; landed: number };
    assert.ok(landed.expected >= 12);
    assert.equal(landed.landed, landed.expected);
    // No credential was written into the report.
    for (const secret of [readFileSync(identitiesFile, 'utf8').match(/rmpk_[A-Za-z0-9_]+/g)!].flat()) assert.ok(!bytes.toString('utf8').includes(secret), 'no key in the report');

    // The attestation: a JWS by the gateway's signing key over the report's exact bytes.
    const jws = readFileSync(`${out}.attestation.jws`, 'utf8').trim();
    const { payload, protectedHeader } = await compactVerify(jws, createLocalJWKSet(t.gw.keyset.jwks() as Parameters<typeof createLocalJWKSet>[0]));
    assert.equal(protectedHeader.typ, 'rampart-verify+jwt');
    const claims = JSON.parse(new TextDecoder().decode(payload)) as { reportDigest: string; runId: string; summary: { passed: number; failed: number }; sub: string };
    assert.equal(claims.reportDigest, `sha256:${createHash('sha256').update(bytes).digest('hex')}`);
    assert.equal(claims.runId, report.runId);
    assert.deepEqual(claims.summary, { passed: CONTROLS.length, failed: 0, skipped: 0, errors: 0 });
    assert.equal(claims.sub, 'verifier');
    await t.gw.ledger.flush();
    const recs = await t.gw.storage.ledger.search({ type: 'admin.action', limit: 50, descending: true });
    const att = recs.find((r) => r.record.detail?.action === 'verify.attestation');
    assert.ok(att, 'the attestation is a ledger record');
    assert.deepEqual([att.record.detail?.runId, att.record.detail?.reportDigest, att.record.detail?.passed, att.record.detail?.failed], [report.runId, claims.reportDigest, CONTROLS.length, 0]);
  });

  it('without --admin the audit and drift controls are skipped with the reason, never passed', async () => {
    const out = join(t.dir, 'no-admin.json');
    // The rate-limit bucket of the healthy run is still empty: leave that probe out here.
    const ids = join(t.dir, 'no-rate.yaml');
    writeFileSync(ids, readFileSync(identitiesFile, 'utf8').replace(/rateLimit:[\s\S]*?budget: 3\n/, ''));
    const code = await verifyCli(['--target', t.gw.url, '--identities', ids, '--format', 'json', '--out', out, '--ca', join(t.dir, 'tls', 'cert.pem')], {});
    const report = JSON.parse(readFileSync(out, 'utf8')) as VerifyReport;
    const status = Object.fromEntries(report.results.map((r) => [r.id, r.status]));
    assert.equal(status['audit.probes-landed'], 'skipped');
    assert.equal(status['audit.chain-verified'], 'skipped');
    assert.equal(status['config.hash-matches'], 'skipped');
    assert.equal(status['limits.rate'], 'skipped');
    assert.match(report.results.find((r) => r.id === 'limits.rate')!.summary, /not given: rateLimit/);
    assert.equal(report.summary.failed + report.summary.errors, 0, JSON.stringify(report.results.filter((r) => r.status !== 'pass' && r.status !== 'skipped')));
    assert.equal(code, 0, 'skips alone do not fail the run');
  });

  it('misconfigured on purpose: each control is reported fail with evidence (JUnit out, exit 1)', async () => {
    const weak = await startWeakProxy(t.upstream.url);
    try {
      // The repository's configuration differs from the live one (drift) ...
      const drifted = join(t.dir, 'rampart-drifted.yaml');
      writeFileSync(drifted, readFileSync(t.configFile, 'utf8').replace('limit: 3', 'limit: 4'));
      // ... and the ledger was changed behind the gateway's back after its last verification.
      await t.gw.ledger.flush();
      const head = (await t.gw.storage.ledger.head())!.seq;
      const db = new Database(join(t.dir, 'rampart.db'));
      try {
        // One more byte in the hashed text: the stored leaf hash no longer matches it.
        const before = (db.prepare('SELECT canonical FROM ledger_records WHERE seq = ?').get(head) as { canonical: string }).canonical;
        db.prepare("UPDATE ledger_records SET canonical = canonical || ' ' WHERE seq = ?").run(head);
        assert.notEqual((db.prepare('SELECT canonical FROM ledger_records WHERE seq = ?').get(head) as { canonical: string }).canonical, before);
      } finally {
        db.close();
      }
      const out = join(t.dir, 'misconfigured.xml');
      const code = await verifyCli(
        ['--target', weak.url, '--identities', identitiesFile, '--config', drifted, '--admin', t.gw.admin!.url, '--format', 'junit', '--out', out, '--insecure'],
        { RAMPART_ADMIN_TOKEN: token },
      );
      assert.equal(code, 1);
      const report = JSON.parse(readFileSync(`${out}.report.json`, 'utf8')) as VerifyReport;
      assert.deepEqual(report.results.map((r) => r.id), CONTROLS);
      const notFailing = report.results.filter((r) => r.status !== 'fail').map((r) => `${r.id}: ${r.status} ${r.summary}`);
      assert.deepEqual(notFailing, [], 'every control fails');
      for (const r of report.results) assert.ok(Object.keys(r.evidence).length > 0, `${r.id} carries evidence`);
      const byId = new Map(report.results.map((r) => [r.id, r]));
      assert.match(byId.get('tls.1.0-refused')!.summary, /TLSv1 handshake completed/);
      assert.match(byId.get('tls.certificate')!.summary, /expired/);
      assert.match(byId.get('audit.probes-landed')!.summary, /^\d+ of \d+ probe requests have no record/);
      assert.match(byId.get('audit.chain-verified')!.summary, /does not verify/);
      assert.match(byId.get('config.hash-matches')!.summary, /differs/);
      const xml = readFileSync(out, 'utf8');
      assert.equal((xml.match(/<failure /g) ?? []).length, CONTROLS.length);
      assert.match(xml, /<testsuites name="rampart verify https:\/\/127\.0\.0\.1:\d+" tests="22" failures="22" errors="0" skipped="0"/);
    } finally {
      await weak.close();
    }
  });
});
