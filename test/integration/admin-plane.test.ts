/**
 * The admin plane through its real TLS listener: password AND TOTP for every login, TOTP replay
 * refused, lockout after repeated failures, `__Host-` session cookies with idle and absolute
 * expiry, CSRF on state-changing requests, roles, re-authentication for user changes, a disabled
 * admin losing access at once, keys created through the admin API working on the data plane, and
 * every action a ledger record naming its actor.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import https from 'node:https';
import { authenticator } from 'otplib';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { addTestAdmin, adminRequest } from '../helpers/admin.js';
import type { AdminRole } from '../../src/storage/types.js';
import { gatewayPrivates } from '../helpers/ledger-crypto.js';

interface Res {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  json: any;
}

const PASSWORD = 'correct horse battery staple forever';

function totpAt(secret: string, offsetMs = 0): string {
  return authenticator.clone({ epoch: Date.now() + offsetMs }).generate(secret);
}

describe('admin plane', () => {
  let t: TestGateway;
  let port: number;
  const users: Record<string, { id: string; totp: string; codes: string[] }> = {};

  function call(method: string, path: string, o: { cookie?: string; csrf?: string; body?: unknown; origin?: string } = {}): Promise<Res> {
    return adminRequest(port, method, path, o);
  }


  async function login(username: string, factor: { totp?: string; recoveryCode?: string }, password = PASSWORD): Promise<{ res: Res; cookie?: string; csrf?: string }> {
    const res = await call('POST', '/admin/api/login', { body: { username, password, ...factor } });
    const set = res.headers['set-cookie'];
    const cookie = Array.isArray(set) ? set[0]!.split(';')[0] : undefined;
    return { res, ...(cookie ? { cookie } : {}), ...(res.json?.csrfToken ? { csrf: res.json.csrfToken as string } : {}) };
  }

  async function addUser(username: string, roles: AdminRole[]): Promise<void> {
    users[username] = await addTestAdmin(t, username, roles);
  }

  before(async () => {
    t = await startTestGateway({ tls: true, yaml: { admin: { listen: { port: 0 }, lockout: { maxFailures: 3, lockMinutes: 15 } }, authThrottle: { maxFailures: 100, windowSeconds: 60 } } });
    port = t.gw.admin!.port;
    await addUser('owner1', ['owner']);
    await addUser('examiner1', ['examiner']);
    await addUser('compliance1', ['compliance']);
    await addUser('locky', ['security']);
    await addUser('victim', ['security']);
  });
  after(() => t.close());

  it('a password alone, or a wrong code, is refused with one generic answer; both factors give a __Host- session', async () => {
    const none = await login('owner1', {});
    assert.equal(none.res.status, 401);
    assert.equal(none.res.json.code, 'RAMPART_ADMIN_LOGIN_FAILED');
    const wrong = await login('owner1', { totp: '000000' });
    assert.equal(wrong.res.status, 401);
    const unknown = await login('nobody', { totp: '123456' });
    assert.deepEqual([unknown.res.status, unknown.res.json.code, unknown.res.json.title], [401, 'RAMPART_ADMIN_LOGIN_FAILED', wrong.res.json.title], 'no username oracle');
    const ok = await login('owner1', { totp: totpAt(users.owner1!.totp) });
    assert.equal(ok.res.status, 200, JSON.stringify(ok.res.json));
    const cookie = (ok.res.headers['set-cookie'] as string[])[0]!;
    assert.match(cookie, /^__Host-rampart_session=[A-Za-z0-9_-]{43}; Path=\/; Secure; HttpOnly; SameSite=Strict; Max-Age=43200$/);
    const me = await call('GET', '/admin/api/me', { cookie: ok.cookie! });
    assert.equal(me.status, 200);
    assert.deepEqual(me.json.user.roles, ['owner']);
    assert.equal((await call('GET', '/admin/api/me')).status, 401);
  });

  it('a TOTP code works once (N63-4): the same code again is refused', async () => {
    const code = totpAt(users.compliance1!.totp);
    assert.equal((await login('compliance1', { totp: code })).res.status, 200);
    assert.equal((await login('compliance1', { totp: code })).res.status, 401);
    await t.gw.ledger.flush();
    const recs = await t.gw.storage.ledger.search({ type: 'security.event', limit: 100, descending: true });
    assert.ok(recs.some((r) => r.record.detail?.cause === 'totp-replayed'), 'the replay is recorded');
  });

  it('recovery codes log in once each', async () => {
    const code = users.examiner1!.codes[0]!;
    assert.equal((await login('examiner1', { recoveryCode: code })).res.status, 200);
    assert.equal((await login('examiner1', { recoveryCode: code })).res.status, 401);
  });

  it('a person renews their recovery codes (fresh factors, never a token): the old set stops working at once', async () => {
    await addUser('renewer', ['security']);
    const old = users.renewer!.codes;
    const s = await login('renewer', { recoveryCode: old[0]! });
    assert.equal(s.res.status, 200);
    const r = await call('POST', '/admin/api/me/recovery-codes', { cookie: s.cookie!, csrf: s.csrf!, origin: `https://127.0.0.1:${port}` });
    assert.equal(r.status, 200, JSON.stringify(r.json));
    const fresh = r.json.recoveryCodes as string[];
    assert.equal(fresh.length, old.length);
    assert.ok(fresh.every((c) => !old.includes(c)));
    assert.equal((await login('renewer', { recoveryCode: old[1]! })).res.status, 401, 'an unused code of the old set is dead');
    assert.equal((await login('renewer', { recoveryCode: fresh[0]! })).res.status, 200, 'a new one works');
    await t.gw.ledger.flush();
    const recs = await t.gw.storage.ledger.search({ type: 'admin.action', limit: 20, descending: true });
    const rec = recs.find((x) => x.record.detail?.action === 'recovery-codes.renew');
    assert.ok(rec, 'the renewal is a ledger record');
    assert.ok(!JSON.stringify(rec).includes(fresh[1]!), 'without the codes');
  });

  it('repeated failures lock the user (429 with Retry-After), even for the right credentials', async () => {
    for (let i = 0; i < 3; i++) assert.equal((await login('locky', { totp: '000000' }, 'wrong password wrong password')).res.status, 401);
    const locked = await login('locky', { totp: totpAt(users.locky!.totp) });
    assert.equal(locked.res.status, 429);
    assert.equal(locked.res.json.code, 'RAMPART_ADMIN_LOCKED');
    assert.ok(Number(locked.res.headers['retry-after']) > 0);
  });

  it('state-changing requests need the CSRF token and the same origin; a created key works on the data plane', async () => {
    const s = await login('owner1', { recoveryCode: users.owner1!.codes[0]! });
    const body = { name: 'from-admin', scopes: ['accounts:read'], subject: 'cus_9', expiresInDays: 1 };
    assert.equal((await call('POST', '/admin/api/keys', { cookie: s.cookie!, body })).status, 403, 'no CSRF token');
    assert.equal((await call('POST', '/admin/api/keys', { cookie: s.cookie!, csrf: 'wrong', body })).status, 403);
    assert.equal((await call('POST', '/admin/api/keys', { cookie: s.cookie!, csrf: s.csrf!, body, origin: 'https://evil.test' })).status, 403, 'another origin');
    const created = await call('POST', '/admin/api/keys', { cookie: s.cookie!, csrf: s.csrf!, body });
    assert.equal(created.status, 201, JSON.stringify(created.json));
    assert.match(created.json.key, /^rmpk_/);
    assert.equal(created.json.createdBy, 'admin:owner1');
    const r = await t.request('GET', '/accounts?limit=1', { headers: { authorization: `Bearer ${created.json.key}` } });
    assert.equal(r.status, 200, 'the key works at once');
    const list = await call('GET', '/admin/api/keys', { cookie: s.cookie! });
    assert.ok(!JSON.stringify(list.json).includes(created.json.key), 'a listing never shows a secret');
    await t.gw.ledger.flush();
    const recs = await t.gw.storage.ledger.search({ type: 'admin.action', limit: 50, descending: true });
    const rec = recs.find((x) => x.record.detail?.action === 'key.create' && x.record.detail?.keyId === created.json.id)!;
    const [priv] = await gatewayPrivates(t.gw, [rec.record.seq]);
    assert.equal(priv!.personal!.principal, 'owner1', 'the record names the actor');
  });

  it('roles: an examiner cannot list keys; compliance can read but not create', async () => {
    const ex = await login('examiner1', { recoveryCode: users.examiner1!.codes[1]! });
    const r = await call('GET', '/admin/api/keys', { cookie: ex.cookie! });
    assert.equal(r.status, 403);
    assert.equal(r.json.code, 'RAMPART_ADMIN_FORBIDDEN');
    const co = await login('compliance1', { recoveryCode: users.compliance1!.codes[0]! });
    assert.equal((await call('GET', '/admin/api/keys', { cookie: co.cookie! })).status, 200);
    assert.equal((await call('POST', '/admin/api/keys', { cookie: co.cookie!, csrf: co.csrf!, body: { name: 'x', scopes: ['a'] } })).status, 403);
  });

  it('sessions end after the idle and the absolute timeout', async () => {
    const store = t.gw.storage.admin;
    const idle = await login('owner1', { recoveryCode: users.owner1!.codes[1]! });
    const absolute = await login('owner1', { recoveryCode: users.owner1!.codes[2]! });
    const idOf = async (cookie: string) => {
      const { createHash } = await import('node:crypto');
      return createHash('sha256').update(cookie.split('=')[1]!).digest('hex');
    };
    const si = (await store.getSession(await idOf(idle.cookie!)))!;
    await store.deleteSession(si.id);
    await store.createSession({ ...si, lastSeenAt: Date.now() - 31 * 60_000 });
    assert.equal((await call('GET', '/admin/api/me', { cookie: idle.cookie! })).status, 401, 'idle for 31 minutes');
    const sa = (await store.getSession(await idOf(absolute.cookie!)))!;
    await store.deleteSession(sa.id);
    await store.createSession({ ...sa, expiresAt: Date.now() - 1000 });
    assert.equal((await call('GET', '/admin/api/me', { cookie: absolute.cookie! })).status, 401, 'past the absolute expiry');
  });

  it('user changes need a recent re-authentication; a disabled admin loses access at once', async () => {
    const owner = await login('owner1', { recoveryCode: users.owner1!.codes[3]! });
    const victim = await login('victim', { totp: totpAt(users.victim!.totp) });
    assert.equal((await call('GET', '/admin/api/me', { cookie: victim.cookie! })).status, 200);
    // Make the owner's proof of both factors old.
    const { createHash } = await import('node:crypto');
    const sid = createHash('sha256').update(owner.cookie!.split('=')[1]!).digest('hex');
    const s = (await t.gw.storage.admin.getSession(sid))!;
    await t.gw.storage.admin.deleteSession(sid);
    await t.gw.storage.admin.createSession({ ...s, authenticatedAt: Date.now() - 10 * 60_000 });
    const stale = await call('POST', `/admin/api/users/${users.victim!.id}/disable`, { cookie: owner.cookie!, csrf: owner.csrf! });
    assert.equal(stale.status, 401);
    assert.equal(stale.json.code, 'RAMPART_ADMIN_REAUTH_REQUIRED');
    const re = await call('POST', '/admin/api/reauth', { cookie: owner.cookie!, csrf: owner.csrf!, body: { password: PASSWORD, recoveryCode: users.owner1!.codes[4]! } });
    assert.equal(re.status, 200, JSON.stringify(re.json));
    assert.equal((await call('POST', `/admin/api/users/${users.victim!.id}/disable`, { cookie: owner.cookie!, csrf: owner.csrf! })).status, 200);
    assert.equal((await call('GET', '/admin/api/me', { cookie: victim.cookie! })).status, 401, 'the session ended');
    assert.equal((await login('victim', { totp: totpAt(users.victim!.totp, 30_000) })).res.status, 401, 'and no new login');
  });

  it('a new admin gets a TOTP secret and recovery codes once; a weak password is refused', async () => {
    const owner = await login('owner1', { recoveryCode: users.owner1!.codes[5]! });
    const weak = await call('POST', '/admin/api/users', { cookie: owner.cookie!, csrf: owner.csrf!, body: { username: 'newbie', password: 'password', roles: ['security'] } });
    assert.equal(weak.status, 400);
    const made = await call('POST', '/admin/api/users', { cookie: owner.cookie!, csrf: owner.csrf!, body: { username: 'newbie', password: 'a perfectly long passphrase here', roles: ['security'] } });
    assert.equal(made.status, 201, JSON.stringify(made.json));
    assert.match(made.json.totp.uri, /^otpauth:\/\/totp\//);
    assert.equal(made.json.recoveryCodes.length, 10);
    assert.equal((await login('newbie', { totp: totpAt(made.json.totp.secret) }, 'a perfectly long passphrase here')).res.status, 200);
    const again = await call('POST', '/admin/api/users', { cookie: owner.cookie!, csrf: owner.csrf!, body: { username: 'NEWBIE', password: 'another perfectly long passphrase', roles: ['security'] } });
    assert.equal(again.status, 409);
  });

  it('admin tokens for automation: bearer instead of cookie+CSRF, scoped, never beyond the roles, never user changes, ended by disabling the admin', async () => {
    await addUser('robot-owner', ['security']);
    const s = await login('robot-owner', { totp: totpAt(users['robot-owner']!.totp) });
    const mint = (body: unknown) => call('POST', '/admin/api/tokens', { cookie: s.cookie!, csrf: s.csrf!, body });
    assert.equal((await mint({ actions: ['users.write'], minutes: 10 })).status, 400, 'user changes need a person');
    assert.equal((await mint({ actions: ['users.read'], minutes: 10 })).status, 403, 'security may not read users, nor may its token');
    assert.equal((await mint({ actions: ['keys.read'], minutes: 61 })).status, 400);
    const m = await mint({ actions: ['keys.read'], minutes: 10 });
    assert.equal(m.status, 201, JSON.stringify(m.json));
    const bearer = (method: string, path: string, body?: unknown) =>
      new Promise<Res>((resolve, reject) => {
        const text = body === undefined ? undefined : JSON.stringify(body);
        const req = https.request({ host: '127.0.0.1', port, method, path, rejectUnauthorized: false, agent: false, headers: { authorization: `Bearer ${m.json.token}`, ...(text ? { 'content-type': 'application/json' } : {}) } }, (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => {
            const t2 = Buffer.concat(chunks).toString('utf8');
            resolve({ status: res.statusCode!, headers: res.headers, json: t2 ? JSON.parse(t2) : undefined });
          });
        });
        req.on('error', reject);
        req.end(text);
      });
    assert.equal((await bearer('GET', '/admin/api/keys')).status, 200, 'no cookie, no CSRF token needed');
    assert.equal((await bearer('POST', '/admin/api/keys', { name: 'x', scopes: ['a'] })).status, 403, 'keys.write was not in the token');
    assert.equal((await bearer('POST', '/admin/api/tokens', { actions: ['keys.read'] })).status, 401, 'a token cannot mint tokens');
    const owner = await login('owner1', { recoveryCode: users.owner1!.codes[7]! });
    assert.equal((await call('POST', `/admin/api/users/${users['robot-owner']!.id}/disable`, { cookie: owner.cookie!, csrf: owner.csrf! })).status, 200);
    assert.equal((await bearer('GET', '/admin/api/keys')).status, 401, 'the disabled admin\'s token stops at once');
  });

  it('role changes (owner role only by an owner, never the last owner) end the user\'s sessions; password change and TOTP re-enrolment', async () => {
    await addUser('rolly', ['compliance']);
    await addUser('passy', ['security']);
    const owner = await login('owner1', { recoveryCode: users.owner1!.codes[8]! });
    const rolly = await login('rolly', { totp: totpAt(users.rolly!.totp) });
    const setRoles = (s: { cookie?: string; csrf?: string }, id: string, roles: string[]) => call('POST', `/admin/api/users/${id}/roles`, { cookie: s.cookie!, csrf: s.csrf!, body: { roles } });
    assert.equal((await setRoles(owner, users.rolly!.id, ['security'])).status, 200);
    assert.equal((await call('GET', '/admin/api/me', { cookie: rolly.cookie! })).status, 401, 'changed privileges end the session');
    assert.equal((await setRoles(owner, users.owner1!.id, ['admin'])).status, 409, 'the last owner keeps the role');

    const passy = await login('passy', { totp: totpAt(users.passy!.totp) });
    const other = await login('passy', { recoveryCode: users.passy!.codes[0]! });
    const change = (body: unknown) => call('POST', '/admin/api/me/password', { cookie: passy.cookie!, csrf: passy.csrf!, body });
    assert.equal((await change({ currentPassword: 'wrong wrong wrong wrong', newPassword: 'a brand new long passphrase' })).status, 401);
    assert.equal((await change({ currentPassword: PASSWORD, newPassword: 'password' })).status, 400);
    assert.equal((await change({ currentPassword: PASSWORD, newPassword: 'a brand new long passphrase' })).status, 200);
    assert.equal((await call('GET', '/admin/api/me', { cookie: other.cookie! })).status, 401, 'other sessions end');
    assert.equal((await call('GET', '/admin/api/me', { cookie: passy.cookie! })).status, 200, 'this one stays');
    assert.equal((await login('passy', { recoveryCode: users.passy!.codes[1]! }, 'a brand new long passphrase')).res.status, 200);

    const start = await call('POST', '/admin/api/me/totp', { cookie: passy.cookie!, csrf: passy.csrf!, body: {} });
    assert.equal(start.status, 200);
    assert.equal((await call('POST', '/admin/api/me/totp/confirm', { cookie: passy.cookie!, csrf: passy.csrf!, body: { code: '000000' } })).status, 400);
    const again = await call('POST', '/admin/api/me/totp', { cookie: passy.cookie!, csrf: passy.csrf!, body: {} });
    assert.equal((await call('POST', '/admin/api/me/totp/confirm', { cookie: passy.cookie!, csrf: passy.csrf!, body: { code: totpAt(again.json.secret) } })).status, 200);
    assert.equal((await login('passy', { totp: totpAt(users.passy!.totp, 30_000) }, 'a brand new long passphrase')).res.status, 401, 'the old secret is gone');
    assert.equal((await login('passy', { totp: totpAt(again.json.secret, 30_000) }, 'a brand new long passphrase')).res.status, 200, 'the new one works');
  });

  it('logout ends the session', async () => {
    const s = await login('owner1', { recoveryCode: users.owner1!.codes[6]! });
    assert.equal((await call('POST', '/admin/api/logout', { cookie: s.cookie!, csrf: s.csrf!, body: {} })).status, 204);
    assert.equal((await call('GET', '/admin/api/me', { cookie: s.cookie! })).status, 401);
  });
});
