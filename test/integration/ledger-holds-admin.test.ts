/**
 * Legal holds and the purge through the admin plane's real TLS listener (R17a4-1, RSP-7, issue 4:
 * holds are "set and lifted only by the compliance role"; R17a4-3: every action is a record).
 * Admins log in with password and TOTP and call with the session cookie and the CSRF token.
 * What is guaranteed:
 * - compliance sets a hold (a reason is required), sees it with its criteria, and lifts it;
 * - examiner and owner get 403 for setting a hold, examiner 403 for the purge; each refusal is a
 *   security.event naming the admin and the refused action;
 * - compliance runs the purge as a dry run (nothing goes, inside the retention period);
 * - every hold, lifting and purge run is a ledger record naming the admin.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { authenticator } from 'otplib';
import { newAdminUser } from '../../src/admin/server.js';
import type { StoredRecord } from '../../src/ledger/record.js';
import type { AdminRole } from '../../src/storage/types.js';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { adminRequest } from '../helpers/admin.js';
import { gatewayPrivates } from '../helpers/ledger-crypto.js';

interface Res {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  json: any;
}

interface Session {
  cookie: string;
  csrf: string;
}

const PASSWORD = 'correct horse battery staple forever';


describe('legal holds and the purge through the admin API', () => {
  let t: TestGateway;
  let port: number;
  const sessions: Record<string, Session> = {};
  let holdId = '';

  function call(method: string, path: string, o: { s?: Session; body?: unknown } = {}): Promise<Res> {
    return adminRequest(port, method, path, { ...(o.s ? { cookie: o.s.cookie, ...(method !== 'GET' ? { csrf: o.s.csrf } : {}) } : {}), ...(o.body !== undefined ? { body: o.body } : {}) });
  }


  /** Creates the admin and logs in once with password and TOTP. */
  async function admin(username: string, roles: AdminRole[]): Promise<Session> {
    const c = await newAdminUser({ username, password: PASSWORD, roles, createdBy: 'test' }, t.secret, Date.now());
    await t.gw.storage.admin.insertUser(c.user);
    const res = await call('POST', '/admin/api/login', { body: { username, password: PASSWORD, totp: authenticator.generate(c.totpSecret) } });
    assert.equal(res.status, 200, JSON.stringify(res.json));
    const set = res.headers['set-cookie'];
    assert.ok(Array.isArray(set) && typeof res.json?.csrfToken === 'string', 'a session cookie and a CSRF token');
    return { cookie: set[0]!.split(';')[0]!, csrf: res.json.csrfToken as string };
  }

  /** The records the admin request with this x-request-id wrote. */
  async function recordsOf(r: Res): Promise<StoredRecord[]> {
    await t.gw.ledger.flush();
    return t.gw.storage.ledger.search({ requestId: String(r.headers['x-request-id']), limit: 10 });
  }

  async function actorOf(rec: StoredRecord): Promise<string | undefined> {
    const [priv] = await gatewayPrivates(t.gw, [rec.record.seq]);
    return priv?.personal?.principal;
  }

  async function holdRecord(action: 'hold.set' | 'hold.lifted', id: string): Promise<StoredRecord | undefined> {
    await t.gw.ledger.flush();
    const recs = await t.gw.storage.ledger.search({ type: 'admin.action', limit: 1000 });
    return recs.find((r) => r.record.detail?.action === action && r.record.detail?.holdId === id);
  }

  /** A refusal: 403 for the caller, and a security.event naming the admin and the action. */
  async function assertForbidden(r: Res, actor: string, action: string): Promise<void> {
    assert.equal(r.status, 403, JSON.stringify(r.json));
    assert.equal(r.json.code, 'RAMPART_ADMIN_FORBIDDEN');
    const [rec] = await recordsOf(r);
    assert.ok(rec, 'the refusal is a ledger record');
    assert.equal(rec.record.type, 'security.event');
    assert.equal(rec.record.outcome, 'deny');
    assert.deepEqual(rec.record.detail, { event: 'admin.forbidden', action });
    assert.equal(await actorOf(rec), actor);
  }

  before(async () => {
    t = await startTestGateway({ tls: true, yaml: { admin: { listen: { port: 0 } }, ledger: { selfVerify: { intervalSeconds: 0 } } } });
    port = t.gw.admin!.port;
    sessions.compliance = await admin('compliance1', ['compliance']);
    sessions.examiner = await admin('examiner1', ['examiner']);
    sessions.owner = await admin('owner1', ['owner']);
    // Something for the hold to hold.
    const { key } = await t.key(['accounts:read'], { subject: 'cus_1' });
    assert.equal((await t.request('GET', '/accounts?limit=1', { headers: { authorization: `Bearer ${key}` } })).status, 200);
  });
  after(() => t?.close());

  it('compliance sets a hold (with a reason) and it is a ledger record naming the admin', async () => {
    const noReason = await call('POST', '/admin/api/holds', { s: sessions.compliance, body: { subject: 'cus_1' } });
    assert.equal(noReason.status, 400, 'a hold needs a reason');
    const noCriteria = await call('POST', '/admin/api/holds', { s: sessions.compliance, body: { reason: 'SEC inquiry 17' } });
    assert.equal(noCriteria.status, 400, 'a hold needs a criterion');

    const r = await call('POST', '/admin/api/holds', { s: sessions.compliance, body: { subject: 'cus_1', reason: 'SEC inquiry 17' } });
    assert.equal(r.status, 201, JSON.stringify(r.json));
    assert.match(r.json.id, /^hold_[A-Za-z0-9_-]+$/);
    assert.ok(r.json.items >= 2, `the decision and completion of cus_1 are held (${r.json.items} items)`);
    holdId = r.json.id as string;

    const rec = await holdRecord('hold.set', holdId);
    assert.ok(rec, 'hold.set is a ledger record');
    assert.equal(rec.record.outcome, 'success');
    assert.ok(!rec.canonical.includes('cus_1'), 'the held subject stays out of the chained part');
    const [priv] = await gatewayPrivates(t.gw, [rec.record.seq]);
    assert.equal(priv?.personal?.principal, 'compliance1');
    assert.equal(priv?.personal?.extra?.reason, 'SEC inquiry 17');
  });

  it('examiner and owner may not set a hold: 403, recorded', async () => {
    const body = { subject: 'cus_2', reason: 'not mine to set' };
    await assertForbidden(await call('POST', '/admin/api/holds', { s: sessions.examiner, body }), 'examiner1', 'holds.write');
    await assertForbidden(await call('POST', '/admin/api/holds', { s: sessions.owner, body }), 'owner1', 'holds.write');
    await assertForbidden(await call('POST', `/admin/api/holds/${holdId}/lift`, { s: sessions.owner, body: { reason: 'no' } }), 'owner1', 'holds.write');
    const holds = (await t.gw.storage.retention.listHolds()).filter((h) => h.liftedAt === undefined);
    assert.deepEqual(holds.map((h) => h.id), [holdId], 'no other hold was placed, and this one stands');
  });

  it('GET /admin/api/holds lists the hold with its criteria', async () => {
    const r = await call('GET', '/admin/api/holds', { s: sessions.compliance });
    assert.equal(r.status, 200, JSON.stringify(r.json));
    const h = (r.json.holds as { id: string; criteria: unknown; createdBy: string; liftedAt?: string }[]).find((x) => x.id === holdId);
    assert.ok(h, 'the hold is listed');
    assert.deepEqual(h.criteria, { subject: 'cus_1' });
    assert.equal(h.createdBy, 'compliance1');
    assert.equal(h.liftedAt, undefined);
  });

  it('compliance runs the purge as a dry run (nothing goes inside the retention period); examiner gets 403', async () => {
    const before = await t.gw.storage.dataKeys.listDataKeys();
    const r = await call('POST', '/admin/api/ledger/purge', { s: sessions.compliance, body: { dryRun: true } });
    assert.equal(r.status, 200, JSON.stringify(r.json));
    assert.equal(r.json.dryRun, true);
    assert.deepEqual(r.json.keys, []);
    assert.equal(r.json.recordsPruned, 0);
    assert.deepEqual(r.json.removed, { keys: 0, privates: 0, bodies: 0, index: 0 });
    assert.deepEqual((await t.gw.storage.dataKeys.listDataKeys()).map((k) => k.id), before.map((k) => k.id));
    const [rec] = await recordsOf(r);
    assert.ok(rec, 'the purge run is a ledger record');
    assert.equal(rec.record.type, 'admin.action');
    assert.equal(rec.record.detail?.action, 'ledger.purge.plan');
    assert.equal(await actorOf(rec), 'compliance1');

    await assertForbidden(await call('POST', '/admin/api/ledger/purge', { s: sessions.examiner, body: { dryRun: true } }), 'examiner1', 'retention.write');
  });

  it('compliance lifts the hold; the lifting is a ledger record, and a second lift is 404', async () => {
    const noReason = await call('POST', `/admin/api/holds/${holdId}/lift`, { s: sessions.compliance, body: {} });
    assert.equal(noReason.status, 400, 'lifting needs a reason');
    const r = await call('POST', `/admin/api/holds/${holdId}/lift`, { s: sessions.compliance, body: { reason: 'inquiry closed' } });
    assert.equal(r.status, 200, JSON.stringify(r.json));
    assert.equal(r.json.lifted, true);
    assert.ok(r.json.released >= 2, `the held items went back to their day keys (${r.json.released})`);
    const rec = await holdRecord('hold.lifted', holdId);
    assert.ok(rec, 'hold.lifted is a ledger record');
    assert.equal(await actorOf(rec), 'compliance1');

    const list = await call('GET', '/admin/api/holds', { s: sessions.compliance });
    const h = (list.json.holds as { id: string; liftedAt?: string; liftedBy?: string }[]).find((x) => x.id === holdId);
    assert.ok(h?.liftedAt, 'listed as lifted');
    assert.equal(h.liftedBy, 'compliance1');
    const again = await call('POST', `/admin/api/holds/${holdId}/lift`, { s: sessions.compliance, body: { reason: 'twice' } });
    assert.equal(again.status, 404);
  });

  it('hold records name the request and the client address like every other admin action', async () => {
    const rec = await holdRecord('hold.set', holdId);
    assert.ok(rec?.record.requestId, 'hold.set carries the request id');
    const [priv] = await gatewayPrivates(t.gw, [rec.record.seq]);
    assert.equal(priv?.personal?.clientAddress, '127.0.0.1');
  });
});
