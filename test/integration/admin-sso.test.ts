/**
 * Admin sign-in through the firm's OIDC provider: a local provider (its JWKS on loopback, keys made
 * by jose) issues ID tokens; only tokens asserting MFA in amr for an existing, enabled admin give a
 * session; the session lives no longer than the ID token (a user disabled at the provider gets no
 * new one and loses access at the next check); a replayed ID token is refused.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import https from 'node:https';
import { createHash } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey } from 'jose';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { newAdminUser } from '../../src/admin/server.js';

const ISSUER = 'https://login.firm.test';

describe('admin sign-in through OIDC', () => {
  let idp: http.Server;
  let key: CryptoKey;
  let t: TestGateway;

  function login(idToken: string): Promise<{ status: number; cookie?: string; json: any }> {
    return new Promise((resolve, reject) => {
      const body = JSON.stringify({ idToken });
      const req = https.request({ host: '127.0.0.1', port: t.gw.admin!.port, method: 'POST', path: '/admin/api/login/sso', rejectUnauthorized: false, agent: false, headers: { 'content-type': 'application/json' } }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const set = res.headers['set-cookie'];
          resolve({ status: res.statusCode!, ...(set ? { cookie: set[0]!.split(';')[0] } : {}), json: JSON.parse(Buffer.concat(chunks).toString() || 'null') });
        });
      });
      req.on('error', reject);
      req.end(body);
    });
  }

  const idToken = (claims: Record<string, unknown>, exp = '10m') =>
    new SignJWT(claims).setProtectedHeader({ alg: 'RS256', kid: 'firm-1' }).setIssuer(ISSUER).setAudience('rampart-admin-client').setIssuedAt().setExpirationTime(exp).sign(key);

  before(async () => {
    const pair = await generateKeyPair('RS256');
    key = pair.privateKey;
    const jwk = { ...(await exportJWK(pair.publicKey)), kid: 'firm-1', alg: 'RS256', use: 'sig' };
    idp = http.createServer((_q, r) => {
      r.writeHead(200, { 'content-type': 'application/json' });
      r.end(JSON.stringify({ keys: [jwk] }));
    });
    await new Promise<void>((r) => idp.listen(0, '127.0.0.1', r));
    t = await startTestGateway({
      tls: true,
      yaml: {
        authThrottle: { maxFailures: 100, windowSeconds: 60 },
        admin: { listen: { port: 0 }, sso: { issuer: ISSUER, jwksUri: `http://127.0.0.1:${(idp.address() as AddressInfo).port}/jwks`, audience: 'rampart-admin-client', requireAmr: ['mfa', 'hwk'] } },
      },
    });
    for (const [name, disabled] of [['dana', false], ['gone', true]] as const) {
      const u = await newAdminUser({ username: name, password: 'an unused but long passphrase', roles: ['compliance'], createdBy: 'test' }, t.secret, Date.now());
      await t.gw.storage.admin.insertUser({ ...u.user, disabled });
    }
  });
  after(async () => {
    await t.close();
    await new Promise((r) => idp.close(r));
  });

  it('an ID token asserting MFA signs an existing admin in; the session ends when the token does', async () => {
    const tok = await idToken({ preferred_username: 'dana', amr: ['pwd', 'mfa'] }, '5m');
    const r = await login(tok);
    assert.equal(r.status, 200, JSON.stringify(r.json));
    assert.deepEqual(r.json.user.roles, ['compliance'], 'roles are Rampart\'s, not the provider\'s');
    const exp = JSON.parse(Buffer.from(tok.split('.')[1]!, 'base64url').toString()).exp * 1000;
    const s = (await t.gw.storage.admin.getSession(createHash('sha256').update(r.cookie!.split('=')[1]!).digest('hex')))!;
    assert.ok(s.expiresAt <= exp, 'no longer than the ID token: a user disabled at the provider gets no new one');
    assert.equal((await login(tok)).status, 401, 'a replayed ID token is refused');
  });

  it('refused: no MFA in amr, an unknown or disabled admin, another audience, a forged signature', async () => {
    assert.equal((await login(await idToken({ preferred_username: 'dana', amr: ['pwd'] }))).status, 401);
    assert.equal((await login(await idToken({ preferred_username: 'dana' }))).status, 401);
    assert.equal((await login(await idToken({ preferred_username: 'stranger', amr: ['mfa'] }))).status, 401);
    assert.equal((await login(await idToken({ preferred_username: 'gone', amr: ['mfa'] }))).status, 401);
    const other = await new SignJWT({ preferred_username: 'dana', amr: ['mfa'] }).setProtectedHeader({ alg: 'RS256', kid: 'firm-1' }).setIssuer(ISSUER).setAudience('someone-else').setIssuedAt().setExpirationTime('5m').sign(key);
    assert.equal((await login(other)).status, 401);
    const forged = await new SignJWT({ preferred_username: 'dana', amr: ['mfa'] }).setProtectedHeader({ alg: 'RS256', kid: 'firm-1' }).setIssuer(ISSUER).setAudience('rampart-admin-client').setIssuedAt().setExpirationTime('5m').sign((await generateKeyPair('RS256')).privateKey);
    assert.equal((await login(forged)).status, 401);
    await t.gw.ledger.flush();
    const causes = (await t.gw.storage.ledger.search({ type: 'security.event', limit: 100 })).map((x) => x.record.detail?.cause);
    for (const c of ['no-mfa-asserted', 'unknown-user', 'disabled', 'id-token-replayed']) assert.ok(causes.includes(c), `${c} recorded`);
  });
});
