/**
 * The admin routes of `rampart verify` (src/admin/verify-routes.ts) over a real HTTP listener and
 * a real gateway's storage, ledger and signing keys, without the admin plane's login (which
 * test/integration/verify-live.test.ts covers once the routes are registered): a run gets a marker
 * the data plane accepts, reads back exactly the records its marker tagged, and gets one signed
 * attestation that is a ledger record.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { compactVerify, createLocalJWKSet } from 'jose';
import { AdminFailure, type Route } from '../../src/admin/server.js';
import { ATTESTATION_TYP, verifyRoutes } from '../../src/admin/verify-routes.js';
import { ERRORS } from '../../src/core/errors.js';
import { createProbeMarkers } from '../../src/gateway/probe-marker.js';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';

const SPEC = fileURLToPath(new URL('../../../test/fixtures/verify/verify-api.yaml', import.meta.url));
const DIGEST = `sha256:${'ab'.repeat(32)}`;

describe('verify admin routes', () => {
  let t: TestGateway;
  let server: http.Server;
  let base: string;

  before(async () => {
    t = await startTestGateway({ spec: SPEC });
    const routes: Route[] = verifyRoutes({
      config: t.config,
      storage: t.gw.storage,
      ledger: t.gw.ledger,
      keyset: t.gw.keyset,
      secret: t.secret,
      configHash: () => t.gw.runtime().hash,
      now: Date.now,
      json(res, status, body) {
        res.writeHead(status, { 'content-type': 'application/json' });
        res.end(JSON.stringify(body));
      },
      // As the admin server records (src/admin/server.ts `record`).
      async record(o) {
        await t.gw.ledger.append({ type: o.type, requestId: o.requestId, outcome: o.outcome, status: o.status, stage: 'admin', reason: o.reason, authMethod: 'admin-session', configHash: t.gw.runtime().hash, detail: o.detail, personal: { clientAddress: o.client, ...(o.actor ? { principal: o.actor } : {}) } });
      },
    });
    // Dispatch like the admin server, with a fixed caller standing in for a verified admin.
    server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const path = req.url!;
        const route = routes.find((r) => r.method === req.method && r.pattern.test(path));
        if (!route) {
          res.writeHead(404);
          res.end();
          return;
        }
        assert.equal(route.action, 'verify.run', 'every verify route needs verify.run');
        const body = chunks.length > 0 ? (JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown>) : {};
        const caller = { user: { id: 'adm_1', username: 'verifier', roles: ['security'] } } as never;
        route.handler(req, res, { client: '127.0.0.1', params: route.pattern.exec(path)!.slice(1), body, caller, requestId: `req-${Math.random()}` }).catch((err: unknown) => {
          const code = err instanceof AdminFailure ? err.code : 'RAMPART_INTERNAL';
          res.writeHead(ERRORS[code].status, { 'content-type': 'application/json' });
          res.end(JSON.stringify({ code, detail: (err as AdminFailure).detailText }));
        });
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(async () => {
    server.close();
    await t.close();
  });

  async function call(method: string, path: string, body?: unknown): Promise<{ status: number; json: any }> {
    const r = await fetch(`${base}${path}`, { method, ...(body !== undefined ? { body: JSON.stringify(body), headers: { 'content-type': 'application/json' } } : {}) });
    const text = await r.text();
    return { status: r.status, json: text ? JSON.parse(text) : undefined };
  }

  it('a run: a marker the data plane accepts, the live config hash, and a verify.start record', async () => {
    const r = await call('POST', '/admin/api/verify/runs', { target: 'https://api.example.com' });
    assert.equal(r.status, 201, JSON.stringify(r.json));
    assert.match(r.json.runId, /^vr_[A-Za-z0-9_-]{22}$/);
    assert.equal(createProbeMarkers(t.secret).check(r.json.marker), r.json.runId, 'the data plane (same server secret) accepts the marker');
    assert.equal(createProbeMarkers(Buffer.alloc(32, 7)).check(r.json.marker), undefined);
    assert.equal(r.json.configHash, t.gw.runtime().hash);
    assert.ok(Date.parse(r.json.expiresAt) > Date.now() + 14 * 60_000);
    await t.gw.ledger.flush();
    const recs = await t.gw.storage.ledger.search({ type: 'admin.action', limit: 10, descending: true });
    assert.ok(recs.some((x) => x.record.detail?.action === 'verify.start' && x.record.detail?.runId === r.json.runId));
    assert.equal((await call('POST', '/admin/api/verify/runs', { ttlSeconds: 7200 })).status, 400);
    assert.equal((await call('POST', '/admin/api/verify/runs', { ttlSeconds: 10 })).status, 400);
  });

  it('records: only those the run marked, after its start, with their request ids', async () => {
    const a = (await call('POST', '/admin/api/verify/runs', {})).json;
    const b = (await call('POST', '/admin/api/verify/runs', {})).json;
    const hash = t.gw.runtime().hash;
    await t.gw.ledger.append({ type: 'exchange.decision', requestId: 'req-a1', outcome: 'deny', status: 401, stage: 'authenticate', reason: 'RAMPART_AUTH_REQUIRED', configHash: hash, detail: { probe: a.runId } });
    await t.gw.ledger.append({ type: 'exchange.decision', requestId: 'req-b1', outcome: 'deny', status: 404, stage: 'route', reason: 'RAMPART_ROUTE_NOT_FOUND', configHash: hash, detail: { probe: b.runId } });
    await t.gw.ledger.append({ type: 'exchange.decision', requestId: 'req-none', outcome: 'deny', status: 404, stage: 'route', reason: 'RAMPART_ROUTE_NOT_FOUND', configHash: hash });
    // A real unmarked request through the data plane lands without detail.probe.
    assert.equal((await t.request('GET', '/nowhere')).status, 404);
    const r = await call('GET', `/admin/api/verify/runs/${a.runId}/records`);
    assert.equal(r.status, 200);
    assert.deepEqual(r.json.records.map((x: { requestId: string; status: number; reason: string }) => [x.requestId, x.status, x.reason]), [['req-a1', 401, 'RAMPART_AUTH_REQUIRED']]);
    assert.equal(r.json.truncated, false);
    assert.ok(r.json.scanned >= 4);
    assert.deepEqual((await call('GET', `/admin/api/verify/runs/${b.runId}/records`)).json.records.map((x: { requestId: string }) => x.requestId), ['req-b1']);
    assert.equal((await call('GET', '/admin/api/verify/runs/vr_unknownunknownunknown/records')).status, 404);
  });

  it('attestation: a JWS by the gateway\'s key over the digest, recorded in the ledger, once per run', async () => {
    const run = (await call('POST', '/admin/api/verify/runs', { target: 'https://api.example.com' })).json;
    assert.equal((await call('POST', `/admin/api/verify/runs/${run.runId}/attestation`, { reportDigest: 'md5:00', summary: { passed: 1, failed: 0, skipped: 0, errors: 0 } })).status, 400);
    assert.equal((await call('POST', `/admin/api/verify/runs/${run.runId}/attestation`, { reportDigest: DIGEST, summary: { passed: -1, failed: 0, skipped: 0, errors: 0 } })).status, 400);
    const r = await call('POST', `/admin/api/verify/runs/${run.runId}/attestation`, { reportDigest: DIGEST, summary: { passed: 20, failed: 2, skipped: 0, errors: 0 } });
    assert.equal(r.status, 201, JSON.stringify(r.json));
    const { payload, protectedHeader } = await compactVerify(r.json.attestation, createLocalJWKSet(t.gw.keyset.jwks() as Parameters<typeof createLocalJWKSet>[0]));
    assert.deepEqual([protectedHeader.typ, protectedHeader.alg, protectedHeader.kid], [ATTESTATION_TYP, 'EdDSA', r.json.kid]);
    const claims = JSON.parse(new TextDecoder().decode(payload)) as Record<string, unknown>;
    assert.equal(claims.reportDigest, DIGEST);
    assert.equal(claims.runId, run.runId);
    assert.equal(claims.target, 'https://api.example.com');
    assert.equal(claims.configHash, t.gw.runtime().hash);
    assert.deepEqual(claims.summary, { passed: 20, failed: 2, skipped: 0, errors: 0 });
    await t.gw.ledger.flush();
    const recs = await t.gw.storage.ledger.search({ type: 'admin.action', limit: 10, descending: true });
    const rec = recs.find((x) => x.record.detail?.action === 'verify.attestation' && x.record.detail?.runId === run.runId);
    assert.ok(rec);
    assert.deepEqual([rec.record.detail?.reportDigest, rec.record.detail?.passed, rec.record.detail?.failed], [DIGEST, 20, 2]);
    assert.equal((await call('POST', `/admin/api/verify/runs/${run.runId}/attestation`, { reportDigest: DIGEST, summary: { passed: 22, failed: 0, skipped: 0, errors: 0 } })).status, 409, 'a run is attested once');
  });
});
