/**
 * The admin API the web console reads (issue 7), through the admin plane's real TLS listener,
 * with admins logged in by password and TOTP (sessions, CSRF) and a real gateway writing the
 * ledger. What is guaranteed:
 * - the audit list is newest first, filters (blind index for who/whose/which object, RSP-2),
 *   pages without overlap, refuses bad parameters, and shows personal fields only to a caller
 *   with evidence.personal (a token without it gets none); viewing them is a ledger record
 *   (ASVS 8.3.5, RSP-6);
 * - a hostile value (`<script>` in an object id) comes back as data, JSON-escaped;
 * - a record's detail has the decision trace, personal data and DLP-masked bodies only as the
 *   roles allow, and the view is recorded;
 * - inclusion proofs verify (RFC 9162 §2.1.3.2) against the signed checkpoint;
 * - the overview counts what the ledger holds; past exports and attestations are listed;
 * - the retention dry run (30 days ahead) reports what would go and changes nothing;
 * - keys show lastUsedAt; rotation keeps name, scopes, subject and expiry, revokes the old key,
 *   and is refused to an examiner; the TOTP enrolment answer carries the QR code as SVG.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import https from 'node:https';
import { authenticator } from 'otplib';
import { qrSvg } from '../../src/admin/qr-svg.js';
import { hashLeaf, verifyInclusion } from '../../src/ledger/merkle.js';
import type { StoredRecord } from '../../src/ledger/record.js';
import type { AdminRole } from '../../src/storage/types.js';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { adminRequest, addTestAdmin, TEST_ADMIN_PASSWORD, type AdminRes } from '../helpers/admin.js';
import { gatewayPrivates } from '../helpers/ledger-crypto.js';

interface Session {
  cookie: string;
  csrf: string;
}

const HOSTILE = '<script>alert(1)</script>';
const SSN = '536-22-8814';

describe('console admin API (issue 7)', () => {
  let t: TestGateway;
  let port: number;
  const s: Record<string, Session> = {};
  let readKey: { key: string; id: string };
  let unusedKey: { key: string; id: string };

  function call(method: string, path: string, o: { s?: Session; token?: string; body?: unknown } = {}): Promise<AdminRes> {
    return adminRequest(port, method, path, { ...(o.s ? { cookie: o.s.cookie, ...(method !== 'GET' ? { csrf: o.s.csrf } : {}) } : {}), ...(o.token ? { token: o.token } : {}), ...(o.body !== undefined ? { body: o.body } : {}) });
  }

  /** The raw answer text (to see how it is escaped, not just what it parses to). */
  function rawGet(path: string, sess: Session): Promise<{ status: number; type: string; nosniff: string; text: string }> {
    return new Promise((resolve, reject) => {
      const req = https.request({ host: '127.0.0.1', port, method: 'GET', path, rejectUnauthorized: false, agent: false, headers: { cookie: sess.cookie } }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode!, type: String(res.headers['content-type']), nosniff: String(res.headers['x-content-type-options']), text: Buffer.concat(chunks).toString('utf8') }));
      });
      req.on('error', reject);
      req.end();
    });
  }

  async function login(username: string, roles: AdminRole[]): Promise<Session> {
    const a = await addTestAdmin(t, username, roles);
    const res = await call('POST', '/admin/api/login', { body: { username, password: TEST_ADMIN_PASSWORD, totp: authenticator.generate(a.totp) } });
    assert.equal(res.status, 200, JSON.stringify(res.json));
    const set = res.headers['set-cookie'];
    assert.ok(Array.isArray(set));
    return { cookie: set[0]!.split(';')[0]!, csrf: res.json.csrfToken as string };
  }

  async function adminActions(action: string): Promise<StoredRecord[]> {
    await t.gw.ledger.flush();
    return (await t.gw.storage.ledger.search({ type: 'admin.action', limit: 10_000 })).filter((r) => r.record.detail?.action === action);
  }

  async function actorOf(rec: StoredRecord): Promise<string | undefined> {
    const [priv] = await gatewayPrivates(t.gw, [rec.record.seq]);
    return priv?.personal?.principal;
  }

  async function assertForbidden(r: AdminRes, actor: string, action: string): Promise<void> {
    assert.equal(r.status, 403, JSON.stringify(r.json));
    assert.equal(r.json.code, 'RAMPART_ADMIN_FORBIDDEN');
    await t.gw.ledger.flush();
    const [rec] = await t.gw.storage.ledger.search({ requestId: String(r.headers['x-request-id']), limit: 5 });
    assert.ok(rec, 'the refusal is a ledger record');
    assert.equal(rec.record.type, 'security.event');
    assert.deepEqual(rec.record.detail, { event: 'admin.forbidden', action });
    assert.equal(await actorOf(rec), actor);
  }

  before(async () => {
    t = await startTestGateway({
      tls: true,
      yaml: {
        admin: { listen: { port: 0 } },
        ledger: {
          selfVerify: { intervalSeconds: 3600 },
          checkpoints: { intervalSeconds: 3600 },
          // Short periods, so that a purge 30 days ahead has something to report.
          retention: { exchange: 20, personal: 20, bodies: 10, admin: 20, security: 20, system: 20 },
        },
      },
    });
    port = t.gw.admin!.port;
    s.owner = await login('owner1', ['owner']);
    s.compliance = await login('compliance1', ['compliance']);
    s.examiner = await login('examiner1', ['examiner']);
    s.security = await login('security1', ['security']);

    readKey = await t.key(['accounts:read'], { subject: 'cus_1', name: 'reader', expiresAt: Date.now() + 30 * 86_400_000 });
    unusedKey = await t.key(['accounts:read'], { name: 'idle' });
    const orders = await t.key(['orders:write'], { subject: 'cus_2', name: 'trader' });
    assert.equal((await t.request('GET', '/accounts?limit=1', { headers: { authorization: `Bearer ${readKey.key}` } })).status, 200);
    assert.equal((await t.request('GET', '/accounts?limit=1')).status, 401);
    const hostile = await t.request('POST', `/accounts/${encodeURIComponent(HOSTILE).replace(/%2F/g, '')}/orders`, {
      headers: { authorization: `Bearer ${orders.key}`, 'content-type': 'application/json' },
      body: JSON.stringify({ symbol: 'ACME', side: 'buy', quantity: 1 }),
    });
    assert.ok(hostile.status === 201 || hostile.status === 400, `the hostile path is answered (${hostile.status})`);
    const echo = await t.request('POST', '/public/echo', { headers: { 'content-type': 'application/json' }, body: JSON.stringify({ note: `my ssn is ${SSN}` }) });
    assert.equal(echo.status, 200, echo.body.toString());
    assert.ok(!echo.body.toString().includes(SSN), 'the client itself got the SSN masked');
    await t.gw.ledger.flush();
  });
  after(() => t?.close());

  describe('GET /admin/api/audit/records', () => {
    it('newest first; personal fields only with evidence.personal', async () => {
      const sec = await call('GET', '/admin/api/audit/records?limit=20', { s: s.security });
      assert.equal(sec.status, 200, JSON.stringify(sec.json));
      const seqs = (sec.json.records as { seq: number }[]).map((r) => r.seq);
      assert.deepEqual(seqs, [...seqs].sort((a, b) => b - a), 'newest first');
      assert.equal(seqs[0], (await t.gw.storage.ledger.head())!.seq, 'the first row is the head');
      for (const r of sec.json.records) {
        for (const k of ['principal', 'subject', 'objectIds', 'clientAddress']) assert.ok(!(k in r), `${k} is absent for security`);
        assert.match(r.ts, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
      }
      const comp = await call('GET', '/admin/api/audit/records?limit=20&type=exchange.decision', { s: s.compliance });
      assert.equal(comp.status, 200);
      const withPrincipal = (comp.json.records as { principal?: string; subject?: string }[]).filter((r) => r.subject === 'cus_1');
      assert.ok(withPrincipal.length >= 1 && typeof withPrincipal[0]!.principal === 'string', 'compliance sees who and whose');
      assert.ok((comp.json.records as { type: string }[]).every((r) => r.type === 'exchange.decision'));
      // Seeing personal data is itself recorded (ASVS 8.3.5), naming the admin.
      const views = await adminActions('audit.view');
      assert.ok(views.length >= 1);
      assert.equal(await actorOf(views[views.length - 1]!), 'compliance1');
    });

    it('an admin token without evidence.personal gets no personal fields, even for compliance', async () => {
      const minted = await call('POST', '/admin/api/tokens', { s: s.compliance, body: { actions: ['audit.read'], minutes: 5 } });
      assert.equal(minted.status, 201, JSON.stringify(minted.json));
      const r = await call('GET', '/admin/api/audit/records?subject=cus_1', { token: minted.json.token });
      assert.equal(r.status, 200);
      assert.ok(r.json.records.length >= 2, 'the blind-index filter still works');
      for (const rec of r.json.records) assert.ok(!('principal' in rec) && !('subject' in rec));
    });

    it('filters by subject through the blind index, and by stage', async () => {
      const r = await call('GET', '/admin/api/audit/records?subject=cus_1', { s: s.compliance });
      assert.equal(r.status, 200);
      assert.ok(r.json.records.length >= 2, 'decision and completion of cus_1');
      for (const rec of r.json.records) assert.equal(rec.subject, 'cus_1');
      const none = await call('GET', '/admin/api/audit/records?subject=cus_nobody', { s: s.compliance });
      assert.deepEqual(none.json.records, []);
      const denied = await call('GET', '/admin/api/audit/records?stage=authenticate&type=exchange.decision', { s: s.security });
      assert.equal(denied.status, 200);
      assert.ok(denied.json.records.length >= 1);
      for (const rec of denied.json.records) assert.equal(rec.stage, 'authenticate');
    });

    it('pages with next/before without overlap or gap', async () => {
      const all = (await call('GET', '/admin/api/audit/records?limit=200', { s: s.security })).json.records.map((r: { seq: number }) => r.seq) as number[];
      const paged: number[] = [];
      let before: number | undefined;
      for (let i = 0; i < 100; i++) {
        const r = await call('GET', `/admin/api/audit/records?limit=3${before !== undefined ? `&before=${before}` : ''}`, { s: s.security });
        assert.equal(r.status, 200);
        paged.push(...r.json.records.map((x: { seq: number }) => x.seq));
        if (r.json.next === undefined) break;
        before = r.json.next;
      }
      // Records appended by the paging itself (none: security sees no personal data) would show as a difference.
      assert.deepEqual(paged, all.slice(0, paged.length));
      assert.equal(paged.length, all.length);
    });

    it('pages through the blind index and through a stage filter the same way', async () => {
      for (const q of ['subject=cus_1', 'stage=respond']) {
        const all = (await call('GET', `/admin/api/audit/records?limit=200&${q}`, { s: s.security })).json.records.map((r: { seq: number }) => r.seq) as number[];
        assert.ok(all.length >= 2, q);
        const paged: number[] = [];
        let before: number | undefined;
        for (let i = 0; i < 50; i++) {
          const r = await call('GET', `/admin/api/audit/records?limit=1&${q}${before !== undefined ? `&before=${before}` : ''}`, { s: s.security });
          assert.equal(r.status, 200);
          paged.push(...r.json.records.map((x: { seq: number }) => x.seq));
          if (r.json.next === undefined) break;
          before = r.json.next;
        }
        assert.deepEqual(paged, all, q);
      }
    });

    it('refuses bad parameters with 400 naming them', async () => {
      for (const q of ['limit=0', 'limit=201', 'type=bogus', 'status=abc', 'from=2025-02-01T00:00:00Z&to=2025-01-01T00:00:00Z', 'limit=5&limit=6', 'before=-1']) {
        const r = await call('GET', `/admin/api/audit/records?${q}`, { s: s.security });
        assert.equal(r.status, 400, q);
        assert.equal(r.json.code, 'RAMPART_ADMIN_BAD_REQUEST');
        assert.equal(r.headers['content-type'], 'application/problem+json');
      }
    });

    it('a hostile object id comes back as data, JSON-escaped', async () => {
      const id = HOSTILE.replace('/', '');
      const r = await rawGet(`/admin/api/audit/records?object=${encodeURIComponent(id)}`, s.compliance!);
      assert.equal(r.status, 200);
      assert.equal(r.type, 'application/json');
      assert.equal(r.nosniff, 'nosniff');
      assert.ok(!r.text.includes('<script'), 'no raw markup in the answer');
      assert.ok(r.text.includes('\\u003cscript\\u003e'), 'escaped as JSON');
      const parsed = JSON.parse(r.text) as { records: { objectIds?: string[] }[] };
      assert.ok(parsed.records.length >= 1, 'found through the object index');
      assert.ok(parsed.records.every((x) => x.objectIds?.includes(id)), 'the exact value, as data');
    });
  });

  describe('GET /admin/api/audit/records/:seq', () => {
    async function echoCompletion(): Promise<StoredRecord> {
      const recs = await t.gw.storage.ledger.search({ operationId: 'echo', type: 'exchange.completion', limit: 5 });
      assert.ok(recs[0]);
      return recs[0];
    }

    it('compliance: trace, personal part and DLP-masked bodies; the view is recorded', async () => {
      const c = await echoCompletion();
      const before = (await adminActions('audit.record.view')).length;
      const r = await call('GET', `/admin/api/audit/records/${c.record.seq}`, { s: s.compliance });
      assert.equal(r.status, 200, JSON.stringify(r.json));
      assert.equal(r.json.record.seq, c.record.seq);
      assert.equal(r.json.chain.leafHash, c.leafHash);
      assert.equal(r.json.trace.completion.seq, c.record.seq);
      assert.equal(r.json.trace.decision.seq, c.record.decisionSeq);
      assert.equal(r.json.trace.decision.stage !== undefined, true);
      assert.ok(r.json.personal && typeof r.json.personal.clientAddress === 'string');
      const body = JSON.stringify(r.json.bodies);
      assert.ok(r.json.bodies?.request?.text?.includes('my ssn is'), `the request body is shown (${body})`);
      assert.ok(!body.includes(SSN), 'the SSN is masked as the client would have received it');
      const views = await adminActions('audit.record.view');
      assert.equal(views.length, before + 1);
      const v = views[views.length - 1]!;
      assert.deepEqual(v.record.detail, { action: 'audit.record.view', seq: c.record.seq, personal: true, bodies: true });
      assert.equal(await actorOf(v), 'compliance1');
    });

    it('examiner: personal part without bodies; security: neither, and nothing to record', async () => {
      const c = await echoCompletion();
      const ex = await call('GET', `/admin/api/audit/records/${c.record.seq}`, { s: s.examiner });
      assert.equal(ex.status, 200);
      assert.ok(ex.json.personal);
      assert.equal(ex.json.bodies, undefined);
      const before = (await adminActions('audit.record.view')).length;
      const sec = await call('GET', `/admin/api/audit/records/${c.record.seq}`, { s: s.security });
      assert.equal(sec.status, 200);
      assert.equal(sec.json.personal, undefined);
      assert.equal(sec.json.bodies, undefined);
      assert.ok(sec.json.trace.decision);
      assert.equal((await adminActions('audit.record.view')).length, before);
      assert.equal((await call('GET', '/admin/api/audit/records/99999999', { s: s.security })).status, 404);
    });
  });

  describe('GET /admin/api/audit/records/:seq/proof', () => {
    it('409 before a checkpoint covers the record; then a proof that verifies', async () => {
      const head = (await t.gw.storage.ledger.head())!.seq;
      const latest = await t.gw.storage.checkpoints.latestCheckpoint();
      if (!latest || latest.treeSize < head) {
        const early = await call('GET', `/admin/api/audit/records/${head}/proof`, { s: s.examiner });
        assert.equal(early.status, 409, JSON.stringify(early.json));
      }
      const cp = await call('POST', '/admin/api/ledger/checkpoint', { s: s.examiner });
      assert.equal(cp.status, 200, JSON.stringify(cp.json));
      for (const seq of [1, 2, Math.ceil(head / 2), head]) {
        const r = await call('GET', `/admin/api/audit/records/${seq}/proof`, { s: s.examiner });
        assert.equal(r.status, 200, JSON.stringify(r.json));
        assert.equal(r.json.ok, true, r.json.problem);
        assert.equal(r.json.leafIndex, seq - 1);
        assert.ok(r.json.treeSize >= head);
        const [stored] = await t.gw.storage.ledger.read(seq, 1);
        assert.equal(r.json.leafHash, hashLeaf(Buffer.from(stored!.canonical, 'utf8')).toString('hex'));
        const proof = (r.json.proof as string[]).map((h) => Buffer.from(h, 'hex'));
        const root = Buffer.from(r.json.rootHash as string, 'hex');
        assert.ok(verifyInclusion(Buffer.from(r.json.leafHash, 'hex'), seq - 1, r.json.treeSize, proof, root), 'RFC 9162 §2.1.3.2');
        // The check can fail: another leaf does not verify with this proof.
        assert.equal(verifyInclusion(hashLeaf(Buffer.from('forged')), seq - 1, r.json.treeSize, proof, root), false);
        assert.match(r.json.checkpoint.note, new RegExp(`^[^\\n]+\\n${r.json.treeSize}\\n`));
      }
      assert.equal((await call('GET', '/admin/api/audit/records/99999999/proof', { s: s.examiner })).status, 404);
    });
  });

  describe('GET /admin/api/overview', () => {
    it('counts decisions by outcome, stage and reason, and shows the ledger health', async () => {
      const v = await call('POST', '/admin/api/ledger/verify', { s: s.security });
      assert.equal(v.status, 200, JSON.stringify(v.json));
      const r = await call('GET', '/admin/api/overview', { s: s.examiner });
      assert.equal(r.status, 200, JSON.stringify(r.json));
      assert.equal(r.json.bucket, 'hour');
      const decisions = await t.gw.storage.ledger.search({ type: 'exchange.decision', limit: 10_000 });
      const sum = (k: 'requests' | 'allowed' | 'denied') => (r.json.series as Record<string, number>[]).reduce((a, b) => a + b[k]!, 0);
      assert.equal(sum('requests'), decisions.length);
      assert.equal(sum('denied'), decisions.filter((d) => d.record.outcome === 'deny').length);
      assert.equal(sum('allowed'), decisions.filter((d) => d.record.outcome === 'allow').length);
      assert.ok(r.json.denialsByStage.authenticate >= 1, JSON.stringify(r.json.denialsByStage));
      assert.ok(r.json.denialsByReason.RAMPART_AUTH_REQUIRED >= 1, JSON.stringify(r.json.denialsByReason));
      assert.equal(r.json.truncated, false);
      const head = (await t.gw.storage.ledger.head())!;
      assert.ok(r.json.ledger.head.seq >= head.seq - 1);
      assert.ok(r.json.ledger.lastCheckpoint && typeof r.json.ledger.lastCheckpoint.published === 'boolean');
      assert.equal(r.json.ledger.lastVerification.ok, true);
      const bad = await call('GET', '/admin/api/overview?bucket=minute&from=2025-01-01T00:00:00Z&to=2025-02-01T00:00:00Z', { s: s.examiner });
      assert.equal(bad.status, 400);
    });
  });

  describe('GET /admin/api/evidence/exports and /admin/api/verify/latest', () => {
    it('lists a past export with its manifest digest and exporter', async () => {
      const from = new Date(Date.now() - 3_600_000).toISOString();
      const to = new Date(Date.now() + 60_000).toISOString();
      const exp = await new Promise<{ status: number; digest: string; records: string }>((resolve, reject) => {
        const body = JSON.stringify({ from, to });
        const req = https.request({ host: '127.0.0.1', port, method: 'POST', path: '/admin/api/evidence/export', rejectUnauthorized: false, agent: false, headers: { cookie: s.compliance!.cookie, "x-csrf-token": s.compliance!.csrf, 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } }, (res) => {
          res.resume();
          res.on('end', () => resolve({ status: res.statusCode!, digest: String(res.headers['x-rampart-manifest-sha256']), records: String(res.headers['x-rampart-records']) }));
        });
        req.on('error', reject);
        req.end(body);
      });
      assert.equal(exp.status, 200);
      const r = await call('GET', '/admin/api/evidence/exports', { s: s.examiner });
      assert.equal(r.status, 200, JSON.stringify(r.json));
      const first = r.json.exports[0];
      assert.equal(first.manifestDigest, `sha256:${exp.digest}`);
      assert.equal(first.records, Number(exp.records));
      assert.equal(first.by, 'compliance1');
      assert.equal(first.from, new Date(Date.parse(from)).toISOString());
      await assertForbidden(await call('GET', '/admin/api/evidence/exports', { s: s.security }), 'security1', 'evidence.export');
    });

    it('lists the latest verify attestations, newest first', async () => {
      const run = await call('POST', '/admin/api/verify/runs', { s: s.security, body: {} });
      assert.equal(run.status, 201, JSON.stringify(run.json));
      const digest = `sha256:${'a'.repeat(64)}`;
      const att = await call('POST', `/admin/api/verify/runs/${run.json.runId}/attestation`, { s: s.security, body: { summary: { passed: 7, failed: 1, skipped: 0, errors: 0 }, reportDigest: digest } });
      assert.equal(att.status, 201, JSON.stringify(att.json));
      const r = await call('GET', '/admin/api/verify/latest', { s: s.examiner });
      assert.equal(r.status, 200);
      assert.deepEqual({ ...r.json.attestations[0], seq: 0, ts: '' }, { seq: 0, ts: '', runId: run.json.runId, by: 'security1', passed: 7, failed: 1, skipped: 0, errors: 0, reportDigest: digest });
    });
  });

  describe('GET /admin/api/retention', () => {
    it('reports what a purge 30 days ahead would remove, and changes nothing', async () => {
      const st = t.gw.storage;
      await t.gw.ledger.flush();
      const snapshot = async () => ({
        keys: (await st.dataKeys.listDataKeys()).map((k) => k.id).sort(),
        items: await Promise.all((await st.dataKeys.listDataKeys()).map((k) => st.retention.itemsUnderKey(k.id))),
        head: await st.ledger.head(),
        first: (await st.ledger.read(1, 1))[0]?.record.seq,
        prune: await st.retention.pruneState(),
        checkpoint: await st.checkpoints.latestCheckpoint(),
      });
      const before = await snapshot();
      const r = await call('GET', '/admin/api/retention', { s: s.compliance });
      assert.equal(r.status, 200, JSON.stringify(r.json));
      assert.equal(r.json.policies.bodies, 10);
      assert.equal(r.json.policies.exchange, 20);
      assert.ok(r.json.upcoming.keys >= 2, `day keys expire within 30 days (${JSON.stringify(r.json.upcoming)})`);
      assert.ok(r.json.upcoming.byClass.bodies?.keys >= 1 && r.json.upcoming.byClass.bodies.bodies >= 1);
      assert.ok(r.json.upcoming.records >= before.head!.seq - 5, 'nearly every record would be pruned');
      assert.equal(r.json.holds, 0);
      assert.deepEqual(await snapshot(), before, 'the dry run changed nothing');
      await assertForbidden(await call('GET', '/admin/api/retention', { s: s.security }), 'security1', 'holds.read');
    });
  });

  describe('keys: lastUsedAt and rotation', () => {
    it('GET /admin/api/keys shows when a key was last used', async () => {
      const r = await call('GET', '/admin/api/keys', { s: s.owner });
      assert.equal(r.status, 200);
      const used = r.json.keys.find((k: { id: string }) => k.id === readKey.id);
      const idle = r.json.keys.find((k: { id: string }) => k.id === unusedKey.id);
      assert.ok(used.lastUsedAt && Date.parse(used.lastUsedAt) > Date.now() - 600_000, JSON.stringify(used));
      assert.equal(idle.lastUsedAt, null);
    });

    it('an examiner may not rotate a key: 403, recorded', async () => {
      await assertForbidden(await call('POST', `/admin/api/keys/${readKey.id}/rotate`, { s: s.examiner }), 'examiner1', 'keys.write');
      assert.equal((await t.gw.storage.keys.get(readKey.id))!.revokedAt, undefined);
    });

    it('rotation: same name, scopes, subject and expiry; the old key works through its grace period, then a revocation ends it at once; a ledger record', async () => {
      assert.equal((await call('POST', `/admin/api/keys/${readKey.id}/rotate`, { s: s.security, body: { graceSeconds: 86_401 } })).status, 400);
      const old = (await t.gw.storage.keys.get(readKey.id))!;
      const r = await call('POST', `/admin/api/keys/${readKey.id}/rotate`, { s: s.security, body: { graceSeconds: 600 } });
      assert.equal(r.status, 201, JSON.stringify(r.json));
      assert.equal(typeof r.json.key, 'string');
      assert.notEqual(r.json.id, readKey.id);
      assert.equal(r.json.name, old.name);
      assert.deepEqual(r.json.scopes, old.scopes);
      assert.equal(r.json.subject, 'cus_1');
      assert.equal(r.json.expiresAt, new Date(old.expiresAt!).toISOString());
      assert.equal(r.json.replaces.id, readKey.id);
      assert.equal(r.json.gracePeriodApplied, true);
      assert.equal(r.json.replaces.status, 'active');
      assert.ok(Date.parse(r.json.replaces.revokedAt) > Date.now() + 590_000, 'revocation scheduled 600 s ahead');
      assert.equal((await t.request('GET', '/accounts?limit=1', { headers: { authorization: `Bearer ${readKey.key}` } })).status, 200, 'the old key works during the grace period');
      assert.equal((await t.request('GET', '/accounts?limit=1', { headers: { authorization: `Bearer ${r.json.key}` } })).status, 200, 'the new key works');
      // Revoking outright overrides the scheduled time: refused at once.
      assert.equal((await call('POST', `/admin/api/keys/${readKey.id}/revoke`, { s: s.security })).status, 200);
      assert.equal((await t.request('GET', '/accounts?limit=1', { headers: { authorization: `Bearer ${readKey.key}` } })).status, 401, 'the old key is refused');
      const [rec] = (await adminActions('key.rotate')).slice(-1);
      assert.ok(rec);
      assert.equal(rec.record.detail?.replaces, readKey.id);
      assert.equal(rec.record.detail?.keyId, r.json.id);
      assert.ok(!rec.canonical.includes(r.json.key), 'the secret is not in the ledger');
      assert.equal(await actorOf(rec), 'security1');
      assert.equal((await call('POST', `/admin/api/keys/${readKey.id}/rotate`, { s: s.security })).status, 409, 'a revoked key is not rotated again');
    });
  });

  it('POST /admin/api/me/totp carries the QR code as SVG', async () => {
    const r = await call('POST', '/admin/api/me/totp', { s: s.examiner });
    assert.equal(r.status, 200, JSON.stringify(r.json));
    assert.match(r.json.qrSvg, /^<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg"/);
    assert.equal(r.json.qrSvg, qrSvg(r.json.uri), 'the code of the URI given beside it');
  });
});
