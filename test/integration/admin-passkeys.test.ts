/**
 * Passkeys for admins (WebAuthn, N63-2: the phishing-resistant option) against the real admin
 * listener and the real @simplewebauthn verification, with a software authenticator doing the
 * authenticator's cryptography (test/helpers/webauthn.ts): registration by a logged-in admin,
 * sign-in with the passkey alone (possession + user verification), and refusals of a phishing
 * origin, a replayed assertion, a cloned authenticator's counter and a disabled admin.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import https from 'node:https';
import { authenticator } from 'otplib';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { SoftAuthenticator } from '../helpers/webauthn.js';
import { newAdminUser } from '../../src/admin/server.js';

const PASSWORD = 'a passphrase for the passkey tests';

describe('admin passkeys (WebAuthn)', () => {
  let t: TestGateway;
  let port: number;
  let soft: SoftAuthenticator;
  let totp: string;

  function call(method: string, path: string, o: { cookie?: string; csrf?: string; body?: unknown } = {}): Promise<{ status: number; cookie?: string; json: any }> {
    const body = o.body === undefined ? undefined : JSON.stringify(o.body);
    return new Promise((resolve, reject) => {
      const req = https.request(
        { host: '127.0.0.1', port, method, path, rejectUnauthorized: false, agent: false, headers: { ...(body ? { 'content-type': 'application/json' } : {}), ...(o.cookie ? { cookie: o.cookie } : {}), ...(o.csrf ? { 'x-csrf-token': o.csrf } : {}) } },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => {
            const set = res.headers['set-cookie'];
            const text = Buffer.concat(chunks).toString();
            resolve({ status: res.statusCode!, ...(set ? { cookie: set[0]!.split(';')[0] } : {}), json: text ? JSON.parse(text) : undefined });
          });
        },
      );
      req.on('error', reject);
      req.end(body);
    });
  }

  async function passkeyLogin(o: { origin?: string } = {}) {
    const opts = await call('POST', '/admin/api/login/passkey/options', { body: { username: 'keyholder' } });
    assert.equal(opts.status, 200);
    const response = soft.get(opts.json.options, o);
    return { res: await call('POST', '/admin/api/login/passkey', { body: { loginId: opts.json.loginId, response } }), loginId: opts.json.loginId, response };
  }

  before(async () => {
    t = await startTestGateway({ tls: true, yaml: { admin: { listen: { port: 0 } }, authThrottle: { maxFailures: 100, windowSeconds: 60 } } });
    port = t.gw.admin!.port;
    soft = new SoftAuthenticator(`https://localhost:${port}`, 'localhost');
    const u = await newAdminUser({ username: 'keyholder', password: PASSWORD, roles: ['security'], createdBy: 'test' }, t.secret, Date.now());
    await t.gw.storage.admin.insertUser(u.user);
    totp = u.totpSecret;
  });
  after(() => t.close());

  it('a logged-in admin registers a passkey (fresh proof of both factors and the CSRF token required)', async () => {
    const s = await call('POST', '/admin/api/login', { body: { username: 'keyholder', password: PASSWORD, totp: authenticator.generate(totp) } });
    assert.equal(s.status, 200);
    assert.equal((await call('POST', '/admin/api/passkeys/options', { cookie: s.cookie!, body: {} })).status, 403, 'no CSRF token');
    const options = await call('POST', '/admin/api/passkeys/options', { cookie: s.cookie!, csrf: s.json.csrfToken, body: {} });
    assert.equal(options.status, 200, JSON.stringify(options.json));
    assert.equal(options.json.rp.id, 'localhost');
    assert.equal(options.json.authenticatorSelection.userVerification, 'required');
    const reg = await call('POST', '/admin/api/passkeys', { cookie: s.cookie!, csrf: s.json.csrfToken, body: { name: 'laptop', response: soft.create(options.json) } });
    assert.equal(reg.status, 201, JSON.stringify(reg.json));
    assert.equal((await t.gw.storage.admin.listPasskeys((await t.gw.storage.admin.getUserByName('keyholder'))!.id)).length, 1);
  });

  it('the passkey alone signs in (possession plus user verification)', async () => {
    const { res } = await passkeyLogin();
    assert.equal(res.status, 200, JSON.stringify(res.json));
    assert.equal((await call('GET', '/admin/api/me', { cookie: res.cookie! })).status, 200);
  });

  it('refused: an assertion made for a phishing origin, a replayed assertion, a cloned authenticator', async () => {
    const phished = await passkeyLogin({ origin: 'https://rampart-login.evil.test' });
    assert.equal(phished.res.status, 401, 'the origin binding is what makes passkeys phishing-resistant');
    const ok = await passkeyLogin();
    assert.equal(ok.res.status, 200);
    assert.equal((await call('POST', '/admin/api/login/passkey', { body: { loginId: ok.loginId, response: ok.response } })).status, 401, 'the challenge works once');
    const fresh = await call('POST', '/admin/api/login/passkey/options', { body: { username: 'keyholder' } });
    assert.equal((await call('POST', '/admin/api/login/passkey', { body: { loginId: fresh.json.loginId, response: ok.response } })).status, 401, 'an old assertion does not answer a new challenge');
    const id = ok.response.id as string;
    soft.rewind(id, 1);
    assert.equal((await passkeyLogin()).res.status, 401, 'a counter that did not grow: a cloned authenticator');
    await t.gw.ledger.flush();
    const causes = (await t.gw.storage.ledger.search({ type: 'security.event', limit: 100 })).map((r) => r.record.detail?.cause);
    // The clone is refused by the verification's own counter check; the store's atomic counter
    // update (usePasskey) is what stops two uses of one assertion racing each other.
    for (const c of ['passkey-not-verified', 'no-challenge']) assert.ok(causes.includes(c), `${c} recorded`);
  });

  it('a disabled admin cannot sign in with a passkey', async () => {
    soft.rewind((await t.gw.storage.admin.listPasskeys((await t.gw.storage.admin.getUserByName('keyholder'))!.id))[0]!.credentialId, 1000);
    const user = (await t.gw.storage.admin.getUserByName('keyholder'))!;
    await t.gw.storage.admin.updateUser({ ...user, disabled: true, updatedAt: Date.now() });
    assert.equal((await passkeyLogin()).res.status, 401);
  });
});
