/**
 * mTLS through a real TLS listener: client certificates generated in the test by a throwaway CA
 * (and a stranger CA), an OpenAPI 3.1 document with a mutualTLS scheme, a certificate alone
 * authenticating where the document allows it, a certificate required together with a key, and
 * operations without mutualTLS untouched.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { rawRequest, startTestGateway, type TestGateway, type TestResponse } from '../helpers/gateway.js';
import { createTestCa } from '../helpers/client-certs.js';
import { tempDir } from '../helpers/tmp.js';

const SPEC = `
openapi: 3.1.0
info: { title: mtls test, version: '1' }
components:
  securitySchemes:
    mtls: { type: mutualTLS }
    key: { type: http, scheme: bearer }
paths:
  /partner/report:
    get: { operationId: partnerReport, security: [{ mtls: [reports:read] }], responses: { '200': { description: ok } } }
  /both:
    get: { operationId: both, security: [{ mtls: [], key: [] }], responses: { '200': { description: ok } } }
  /open:
    get: { operationId: open, security: [{ key: [] }], responses: { '200': { description: ok } } }
`;

/** A request over TLS to the gateway, with a client certificate when given (a fresh connection each time). */
function request(port: number, path: string, o: { cert?: { certPem: string; keyPem: string }; headers?: Record<string, string>; method?: string; body?: string } = {}): Promise<TestResponse> {
  return rawRequest(`https://127.0.0.1:${port}`, o.method ?? 'GET', path, { agent: false, ...(o.headers ? { headers: o.headers } : {}), ...(o.body !== undefined ? { body: o.body } : {}), ...(o.cert ? { cert: o.cert } : {}) });
}

describe('mTLS client certificates', () => {
  const dir = tempDir('rampart-mtls-');
  let t: TestGateway;
  let partner: { certPem: string; keyPem: string };
  let unlisted: { certPem: string; keyPem: string };
  let stranger: { certPem: string; keyPem: string };
  let key: string;
  before(async () => {
    const ca = await createTestCa();
    const other = await createTestCa('Stranger TEST CA - fixture');
    partner = await ca.issue({ cn: 'partner-app', uri: 'spiffe://partners.test/acme' });
    unlisted = await ca.issue({ cn: 'someone-else' });
    stranger = await other.issue({ cn: 'partner-app', uri: 'spiffe://partners.test/acme' });
    const caFile = join(dir.path, 'client-ca.pem');
    writeFileSync(caFile, ca.certPem);
    const spec = join(dir.path, 'mtls.yaml');
    writeFileSync(spec, SPEC);
    t = await startTestGateway({
      tls: true,
      spec,
      yaml: {
        listen: { tls: { ca: caFile } },
        identity: { clientCertificates: { 'spiffe://partners.test/acme': { scopes: ['reports:read'], subject: 'cus_acme' } } },
      },
    });
    key = (await t.key([], { subject: 'cus_1' })).key;
  });
  after(async () => {
    await t.close();
    dir.remove();
  });

  it('a certificate alone authenticates where the document says mutualTLS; its identity, scopes and customer reach the upstream', async () => {
    const r = await request(t.gw.port, '/partner/report', { cert: partner });
    assert.equal(r.status, 200, r.body.toString());
    const claims = JSON.parse(Buffer.from(String(r.json().headers['x-rampart-identity']).split('.')[1]!, 'base64url').toString());
    assert.equal(claims.sub, 'spiffe://partners.test/acme');
    assert.equal(claims.auth_method, 'mtls');
    assert.equal(claims.subject_id, 'cus_acme');
    assert.equal(claims.scope, 'reports:read');
  });

  it('no certificate, or one from another CA, is refused before anything reaches the upstream', async () => {
    const seen = t.upstream.seen.length;
    const none = await request(t.gw.port, '/partner/report');
    assert.equal(none.status, 403);
    assert.equal(none.json().code, 'RAMPART_CLIENT_CERT_REQUIRED');
    const foreign = await request(t.gw.port, '/partner/report', { cert: stranger });
    assert.equal(foreign.status, 403);
    assert.equal(foreign.json().code, 'RAMPART_CLIENT_CERT_REQUIRED');
    assert.equal(t.upstream.seen.length, seen);
    await t.gw.ledger.flush();
    const recs = await t.gw.storage.ledger.search({ reason: 'RAMPART_CLIENT_CERT_REQUIRED', limit: 10 });
    assert.deepEqual(recs.map((x) => x.record.detail?.cause).sort(), ['cert-untrusted', 'no-cert']);
  });

  it('a certificate the CA signed but that is not listed authenticates with no scopes (403 at the scope check)', async () => {
    const r = await request(t.gw.port, '/partner/report', { cert: unlisted });
    assert.equal(r.status, 403);
    assert.equal(r.json().code, 'RAMPART_SCOPE_MISSING');
  });

  it('where certificate and key are both required, the key alone is not enough', async () => {
    assert.equal((await request(t.gw.port, '/both', { cert: partner, headers: { authorization: `Bearer ${key}` } })).status, 200);
    const r = await request(t.gw.port, '/both', { headers: { authorization: `Bearer ${key}` } });
    assert.equal(r.status, 403);
    assert.equal(r.json().code, 'RAMPART_CLIENT_CERT_REQUIRED');
  });

  it('operations without mutualTLS work without a certificate (the handshake asks, it does not insist)', async () => {
    assert.equal((await request(t.gw.port, '/open', { headers: { authorization: `Bearer ${key}` } })).status, 200);
  });

  it('a token obtained over a connection with a client certificate is bound to it (RFC 8705)', async () => {
    const id = key.split('_')[1]!;
    const form = new URLSearchParams({ grant_type: 'client_credentials' }).toString();
    const headers = { 'content-type': 'application/x-www-form-urlencoded', authorization: `Basic ${Buffer.from(`${id}:${key}`).toString('base64')}` };
    const got = await request(t.gw.port, '/.rampart/oauth/token', { method: 'POST', headers, body: form, cert: partner });
    assert.equal(got.status, 200, got.body.toString());
    const tok = got.json().access_token as string;
    const claims = JSON.parse(Buffer.from(tok.split('.')[1]!, 'base64url').toString());
    assert.ok(claims.cnf?.['x5t#S256'], 'the token carries the certificate thumbprint');
    const auth = { authorization: `Bearer ${tok}` };
    assert.equal((await request(t.gw.port, '/open', { headers: auth, cert: partner })).status, 200, 'with the same certificate');
    assert.equal((await request(t.gw.port, '/open', { headers: auth })).status, 401, 'without a certificate');
    assert.equal((await request(t.gw.port, '/open', { headers: auth, cert: unlisted })).status, 401, 'with another certificate of the same CA');
    const unbound = await request(t.gw.port, '/.rampart/oauth/token', { method: 'POST', headers, body: form });
    assert.equal((await request(t.gw.port, '/open', { headers: { authorization: `Bearer ${unbound.json().access_token}` } })).status, 200, 'a token obtained without a certificate is not bound');
  });
});
