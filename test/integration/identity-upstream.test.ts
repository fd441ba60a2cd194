/**
 * Identity to the upstream (issue 3): the client's credential never reaches the upstream; a signed
 * assertion does, verifiable with the keys the gateway publishes at /.rampart/jwks.json (checked
 * here with jose, as an upstream would, over real HTTP); key rotation on a running gateway; and
 * the reuse mode.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { verifyAssertion } from '../../src/identity/assertion.js';
import { rotateKeyset } from '../../src/identity/keyset.js';
import type { JsonWebKey } from 'node:crypto';

const bearer = (k: string) => ({ authorization: `Bearer ${k}` });

async function jwksOf(t: TestGateway): Promise<{ keys: JsonWebKey[] }> {
  const r = await t.request('GET', '/.rampart/jwks.json');
  assert.equal(r.status, 200);
  assert.match(String(r.headers['content-type']), /application\/jwk-set\+json/);
  return r.json();
}

describe('identity assertion to the upstream', () => {
  let t: TestGateway;
  let key: string;
  let keyId: string;
  before(async () => {
    t = await startTestGateway({ yaml: { identity: { issuer: 'https://gw.test', assertion: { cacheSeconds: 0 } } } });
    ({ key, id: keyId } = await t.key(['accounts:read'], { subject: 'cus_1', name: 'mobile-app' }));
  });
  after(() => t.close());

  it('replaces the credential with an assertion the upstream verifies against the published JWKS', async () => {
    const r = await t.request('GET', '/accounts?limit=1', { headers: { ...bearer(key), 'x-rampart-identity': 'forged.by.client' } });
    assert.equal(r.status, 200);
    const seen = r.json().headers as Record<string, string>;
    assert.equal(seen.authorization, undefined, 'the client credential is never forwarded');
    const token = seen['x-rampart-identity']!;
    assert.notEqual(token, 'forged.by.client');
    const jwks = await jwksOf(t);
    for (const k of jwks.keys) assert.equal((k as Record<string, unknown>).d, undefined, 'no private part published');
    const claims = await verifyAssertion(token, jwks, { issuer: 'https://gw.test', audience: 'test' });
    assert.equal(claims.sub, 'mobile-app');
    assert.equal(claims.subject_id, 'cus_1');
    assert.equal(claims.scope, 'accounts:read');
    assert.equal(claims.key_id, keyId);
    assert.equal(claims.auth_method, 'api-key');
    assert.equal(claims.jti, r.headers['x-request-id'], 'bound to this request');
    assert.ok(claims.exp! - claims.iat! <= 60);
    await assert.rejects(verifyAssertion(token, jwks, { issuer: 'https://gw.test', audience: 'another-api' }), 'bound to this API');
  });

  it('a rotated key signs from the next request on; the previous public key stays published, so earlier assertions still verify', async () => {
    const before = (await t.request('GET', '/accounts?limit=1', { headers: bearer(key) })).json().headers['x-rampart-identity'] as string;
    const oldKid = (await jwksOf(t)).keys.map((k) => (k as { kid: string }).kid);
    await rotateKeyset(t.gw.keyset.file);
    await t.gw.keyset.refresh();
    const after = (await t.request('GET', '/accounts?limit=1', { headers: bearer(key) })).json().headers['x-rampart-identity'] as string;
    const kidOf = (tok: string) => JSON.parse(Buffer.from(tok.split('.')[0]!, 'base64url').toString()).kid as string;
    assert.notEqual(kidOf(after), kidOf(before));
    const jwks = await jwksOf(t);
    assert.deepEqual(jwks.keys.map((k) => (k as { kid: string }).kid).sort(), [...oldKid, kidOf(after)].sort());
    await verifyAssertion(before, jwks, { issuer: 'https://gw.test', audience: 'test' });
    await verifyAssertion(after, jwks, { issuer: 'https://gw.test', audience: 'test' });
  });
});

describe('identity assertion reuse (identity.assertion.cacheSeconds)', () => {
  let t: TestGateway;
  before(async () => {
    t = await startTestGateway({ yaml: { identity: { assertion: { cacheSeconds: 20 } } } });
  });
  after(() => t.close());

  it('one assertion per caller and API is reused; its jti is not the request id; another caller gets its own', async () => {
    const a = (await t.key(['accounts:read'], { subject: 'cus_a' })).key;
    const b = (await t.key(['accounts:read'], { subject: 'cus_b' })).key;
    const tokens = [];
    for (const k of [a, a, b]) {
      const r = await t.request('GET', '/accounts?limit=1', { headers: bearer(k) });
      tokens.push({ token: r.json().headers['x-rampart-identity'] as string, requestId: r.headers['x-request-id'] });
    }
    assert.equal(tokens[0]!.token, tokens[1]!.token);
    assert.notEqual(tokens[0]!.token, tokens[2]!.token);
    const claims = await verifyAssertion(tokens[0]!.token, await jwksOf(t), { issuer: 'rampart', audience: 'test' });
    assert.notEqual(claims.jti, tokens[0]!.requestId);
    assert.equal(claims.subject_id, 'cus_a');
  });
});
