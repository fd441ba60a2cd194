/**
 * Rampart's own access tokens through a real gateway: the client-credentials grant (RFC 6749
 * §4.4) with both client authentication methods, scope narrowing, audience binding, the RFC 9068
 * shape verified with jose against the published JWKS, refusal of expired, tampered, `none` and
 * algorithm-confused tokens, a revoked client key ending its tokens at once, and RFC 7009
 * revocation that survives a restart.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createLocalJWKSet, exportJWK, generateKeyPair, jwtVerify, SignJWT, type CryptoKey } from 'jose';
import { createHmac, randomUUID } from 'node:crypto';
import { createKey } from '../../src/keys/create.js';
import { parseKey } from '../../src/keys/format.js';
import { startTestGateway, rawRequest, type TestGateway } from '../helpers/gateway.js';
import { startGateway } from '../../src/gateway/start.js';
import { silentLogger } from '../../src/core/log.js';
import { createAccessTokens } from '../../src/identity/access-tokens.js';
import { loadKeyset } from '../../src/identity/keyset.js';

const FORM = { 'content-type': 'application/x-www-form-urlencoded' };
const basic = (id: string, secret: string) => ({ authorization: `Basic ${Buffer.from(`${encodeURIComponent(id)}:${encodeURIComponent(secret)}`).toString('base64')}` });
const bearer = (k: string) => ({ authorization: `Bearer ${k}` });
// The secret is base64url and may itself contain '_': parse, never split.
const idOf = (key: string) => parseKey(key)!.id;
const secretOf = (key: string) => parseKey(key)!.secret;

async function tokenFor(t: TestGateway, key: string, form: Record<string, string> = {}) {
  return t.request('POST', '/.rampart/oauth/token', { headers: { ...FORM, ...basic(idOf(key), key) }, body: new URLSearchParams({ grant_type: 'client_credentials', ...form }).toString() });
}

describe('OAuth client credentials: issuing and using access tokens', () => {
  let t: TestGateway;
  let key: string;
  before(async () => {
    t = await startTestGateway({
      yaml: { identity: { issuer: 'https://gw.test' }, authThrottle: { maxFailures: 12, windowSeconds: 60 } },
      extraApis: (url) => [{ name: 'other', openapi: t0Spec(), upstream: { url }, mount: { prefix: '/other' } }],
    });
    key = (await t.key(['test:accounts:read', 'test:orders:write', 'other:accounts:read'], { subject: 'cus_1', name: 'mobile-app' })).key;
  });
  after(() => t.close());

  it('issues an RFC 9068 token for one API, narrowed to the requested scopes, and records it', async () => {
    const r = await tokenFor(t, key, { audience: 'test', scope: 'test:accounts:read' });
    assert.equal(r.status, 200, r.body.toString());
    assert.equal(r.headers['cache-control'], 'no-store');
    const body = r.json();
    assert.equal(body.token_type, 'Bearer');
    assert.equal(body.scope, 'test:accounts:read');
    assert.ok(body.expires_in > 0 && body.expires_in <= 900);
    const jwks = (await t.request('GET', '/.rampart/jwks.json')).json();
    const { payload, protectedHeader } = await jwtVerify(body.access_token, createLocalJWKSet(jwks), { issuer: 'https://gw.test', audience: 'test', typ: 'at+jwt', algorithms: ['EdDSA'] });
    assert.equal(protectedHeader.typ, 'at+jwt');
    assert.equal(payload.client_id, idOf(key));
    assert.equal(payload.sub, idOf(key));
    assert.equal(payload.scope, 'test:accounts:read');
    assert.ok(typeof payload.jti === 'string');
    assert.ok(!JSON.stringify(payload).includes(secretOf(key)), 'the client secret is nowhere in the token');
    await t.gw.ledger.flush();
    const recs = await t.gw.storage.ledger.search({ type: 'security.event', limit: 50, descending: true });
    const issued = recs.find((x) => x.record.detail?.event === 'oauth.token' && x.record.detail?.jti === payload.jti);
    assert.ok(issued, 'issuance is a ledger record');
    assert.equal(issued!.record.keyId, idOf(key));
    assert.ok(!issued!.canonical.includes(body.access_token), 'the token itself is never recorded');
  });

  it('the token works in place of the key; the upstream sees the client, never the token', async () => {
    const tok = (await tokenFor(t, key, { audience: 'test', scope: 'test:accounts:read' })).json().access_token as string;
    const r = await t.request('GET', '/accounts?limit=1', { headers: bearer(tok) });
    assert.equal(r.status, 200, r.body.toString());
    const seen = r.json().headers as Record<string, string>;
    assert.equal(seen.authorization, undefined);
    const claims = JSON.parse(Buffer.from(seen['x-rampart-identity']!.split('.')[1]!, 'base64url').toString());
    assert.equal(claims.auth_method, 'access-token');
    assert.equal(claims.sub, 'mobile-app');
    assert.equal(claims.subject_id, 'cus_1');
    assert.equal(claims.scope, 'test:accounts:read', 'only the narrowed scopes');
  });

  it('a narrowed token lacks the other scopes (403), and a token for another API is refused (401)', async () => {
    const narrow = (await tokenFor(t, key, { audience: 'test', scope: 'test:accounts:read' })).json().access_token as string;
    const r = await t.request('POST', '/accounts/acc_1/orders', { headers: { ...bearer(narrow), 'content-type': 'application/json' }, body: '{}' });
    assert.equal(r.status, 403);
    const other = (await tokenFor(t, key, { audience: 'other' })).json().access_token as string;
    const w = await t.request('GET', '/accounts?limit=1', { headers: bearer(other) });
    assert.equal(w.status, 401);
    assert.match(String(w.headers['www-authenticate']), /invalid_token/);
  });

  it('client_secret_post works; the OAuth errors are RFC 6749 §5.2', async () => {
    const post = await t.request('POST', '/.rampart/oauth/token', { headers: FORM, body: new URLSearchParams({ grant_type: 'client_credentials', audience: 'test', client_id: idOf(key), client_secret: key }).toString() });
    assert.equal(post.status, 200);
    const both = await t.request('POST', '/.rampart/oauth/token', { headers: { ...FORM, ...basic(idOf(key), key) }, body: new URLSearchParams({ grant_type: 'client_credentials', client_secret: key }).toString() });
    assert.equal(both.status, 401);
    assert.equal(both.json().error, 'invalid_client');
    assert.equal((await tokenFor(t, key, { audience: 'test', scope: 'admin:all' })).json().error, 'invalid_scope');
    const grant = await t.request('POST', '/.rampart/oauth/token', { headers: { ...FORM, ...basic(idOf(key), key) }, body: 'grant_type=password&username=a&password=b' });
    assert.equal(grant.json().error, 'unsupported_grant_type');
    const json = await t.request('POST', '/.rampart/oauth/token', { headers: { 'content-type': 'application/json', ...basic(idOf(key), key) }, body: '{"grant_type":"client_credentials"}' });
    assert.equal(json.json().error, 'invalid_request');
    const twice = await t.request('POST', '/.rampart/oauth/token', { headers: { ...FORM, ...basic(idOf(key), key) }, body: 'grant_type=client_credentials&scope=a&scope=b' });
    assert.equal(twice.json().error, 'invalid_request');
    assert.equal((await tokenFor(t, key, {})).json().error, 'invalid_target', 'two APIs: the audience must be named');
    assert.equal((await t.request('GET', '/.rampart/oauth/token')).status, 405);
  });

  it('expired, tampered, unsigned and algorithm-confused tokens are refused', async () => {
    const keyset = await loadKeyset(t.gw.keyset.file);
    const old = createAccessTokens(keyset, { issuer: 'https://gw.test', lifetimeSeconds: 60, now: () => Date.now() - 3_600_000 });
    const expired = old.issue({ clientId: idOf(key), scopes: ['test:accounts:read'], audience: 'test' }).token;
    assert.equal((await t.request('GET', '/accounts', { headers: bearer(expired) })).status, 401);

    const good = (await tokenFor(t, key, { audience: 'test', scope: 'test:accounts:read' })).json().access_token as string;
    const [h, p, s] = good.split('.') as [string, string, string];
    const claims = JSON.parse(Buffer.from(p, 'base64url').toString());
    const raised = Buffer.from(JSON.stringify({ ...claims, scope: 'test:accounts:read test:orders:write' })).toString('base64url');
    assert.equal((await t.request('GET', '/accounts', { headers: bearer(`${h}.${raised}.${s}`) })).status, 401, 'payload changed after signing');

    const none = `${Buffer.from(JSON.stringify({ alg: 'none', typ: 'at+jwt', kid: JSON.parse(Buffer.from(h, 'base64url').toString()).kid })).toString('base64url')}.${p}.`;
    assert.equal((await t.request('GET', '/accounts', { headers: bearer(none) })).status, 401, 'alg none');

    const jwk = (await t.request('GET', '/.rampart/jwks.json')).json().keys[0];
    const hsHeader = Buffer.from(JSON.stringify({ alg: 'HS256', typ: 'at+jwt', kid: jwk.kid })).toString('base64url');
    const hsSig = createHmac('sha256', JSON.stringify(jwk)).update(`${hsHeader}.${p}`).digest('base64url');
    assert.equal((await t.request('GET', '/accounts', { headers: bearer(`${hsHeader}.${p}.${hsSig}`) })).status, 401, 'HS256 keyed with the public key');
  });

  it('failed client authentications are throttled like any other (429 before the secret is looked at)', async () => {
    const wrong = `${key.slice(0, -4)}AAAA`;
    let last = 0;
    for (let i = 0; i < 14; i++) last = (await tokenFor(t, wrong, { audience: 'test' })).status;
    assert.equal(last, 429);
  });
});

describe('revocation: of the client key, and of a token (RFC 7009), surviving a restart', () => {
  let t: TestGateway;
  before(async () => {
    t = await startTestGateway();
  });
  after(() => t.close());

  it('revoking the key ends the tokens it obtained', async () => {
    const { key, id } = await t.key(['accounts:read'], { subject: 'cus_2' });
    const tok = (await tokenFor(t, key)).json().access_token as string;
    assert.equal((await t.request('GET', '/accounts?limit=1', { headers: bearer(tok) })).status, 200);
    await t.gw.storage.keys.revoke(id, Date.now());
    await t.gw.keys.refresh();
    assert.equal((await t.request('GET', '/accounts?limit=1', { headers: bearer(tok) })).status, 401);
  });

  it('a revoked token is refused at once, and still after a restart', async () => {
    const { key } = await t.key(['accounts:read'], { subject: 'cus_3' });
    const tok = (await tokenFor(t, key)).json().access_token as string;
    const keep = (await tokenFor(t, key)).json().access_token as string;
    assert.equal((await t.request('GET', '/accounts?limit=1', { headers: bearer(tok) })).status, 200);
    const rv = await t.request('POST', '/.rampart/oauth/revoke', { headers: { ...FORM, ...basic(idOf(key), key) }, body: new URLSearchParams({ token: tok }).toString() });
    assert.equal(rv.status, 200);
    assert.equal((await t.request('GET', '/accounts?limit=1', { headers: bearer(tok) })).status, 401);
    assert.equal((await t.request('GET', '/accounts?limit=1', { headers: bearer(keep) })).status, 200, 'only that token');

    await t.gw.close();
    const gw2 = await startGateway({ config: t.config, configDir: t.dir, logger: silentLogger(), keyPollMs: 50 });
    try {
      assert.equal((await rawRequest(gw2.url, 'GET', '/accounts?limit=1', { headers: bearer(tok) })).status, 401, 'the revocation was restored from the ledger');
      assert.equal((await rawRequest(gw2.url, 'GET', '/accounts?limit=1', { headers: bearer(keep) })).status, 200);
    } finally {
      await gw2.close();
      // t.close() closes the first gateway again (a no-op) and removes the folder.
    }
  });
});

/** The fixture document again, as a second API. */
function t0Spec(): string {
  return new URL('../../../test/fixtures/openapi/gateway-test.yaml', import.meta.url).pathname;
}

describe('private_key_jwt client authentication (RFC 7523)', () => {
  let t: TestGateway;
  let id: string;
  let clientKey: CryptoKey;
  let plainKey: string;
  before(async () => {
    t = await startTestGateway();
    const pair = await generateKeyPair('ES256');
    clientKey = pair.privateKey;
    const made = await createKey(t.gw.storage.keys, t.secret, { name: 'signing-client', scopes: ['accounts:read'], subject: 'cus_5', publicKeyJwk: await exportJWK(pair.publicKey) });
    id = made.record.id;
    plainKey = (await t.key(['accounts:read'])).key;
    await t.gw.keys.refresh();
  });
  after(() => t.close());

  const assertion = (o: { iss?: string; aud?: string; key?: CryptoKey; exp?: string } = {}) =>
    new SignJWT({}).setProtectedHeader({ alg: 'ES256' }).setIssuer(o.iss ?? id).setSubject(o.iss ?? id).setAudience(o.aud ?? 'rampart').setIssuedAt().setExpirationTime(o.exp ?? '2m').setJti(randomUUID()).sign(o.key ?? clientKey);
  const exchange = (a: string) =>
    t.request('POST', '/.rampart/oauth/token', { headers: FORM, body: new URLSearchParams({ grant_type: 'client_credentials', client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer', client_assertion: a }).toString() });

  it('a signed assertion instead of a secret gets a token that works; the same assertion twice does not', async () => {
    const a = await assertion();
    const r = await exchange(a);
    assert.equal(r.status, 200, r.body.toString());
    assert.equal((await t.request('GET', '/accounts?limit=1', { headers: bearer(r.json().access_token) })).status, 200);
    assert.equal((await exchange(a)).status, 401, 'replayed assertion');
  });

  it('the token endpoint URL is accepted as the audience as well', async () => {
    const aud = `${t.gw.url}/.rampart/oauth/token`;
    assert.equal((await exchange(await assertion({ aud }))).status, 200);
  });

  it('refused: another signer, another audience, an expired assertion, HS256 keyed with the public key, a key without a registered public key', async () => {
    const other = (await generateKeyPair('ES256')).privateKey;
    assert.equal((await exchange(await assertion({ key: other }))).status, 401);
    assert.equal((await exchange(await assertion({ aud: 'https://elsewhere.test/token' }))).status, 401);
    const old = await new SignJWT({}).setProtectedHeader({ alg: 'ES256' }).setIssuer(id).setSubject(id).setAudience('rampart').setIssuedAt(Math.floor(Date.now() / 1000) - 600).setExpirationTime(Math.floor(Date.now() / 1000) - 300).setJti(randomUUID()).sign(clientKey);
    assert.equal((await exchange(old)).status, 401);
    const jwk = JSON.parse((await t.gw.storage.keys.get(id))!.publicKeyJwk!);
    const hs = await new SignJWT({}).setProtectedHeader({ alg: 'HS256' }).setIssuer(id).setSubject(id).setAudience('rampart').setIssuedAt().setExpirationTime('2m').setJti(randomUUID()).sign(new TextEncoder().encode(JSON.stringify(jwk)));
    assert.equal((await exchange(hs)).status, 401);
    const plainId = plainKey.split('_')[1]!;
    assert.equal((await exchange(await assertion({ iss: plainId }))).status, 401);
  });

  it('only public keys of accepted kinds are registered', async () => {
    const { privateKey } = await generateKeyPair('ES256', { extractable: true });
    await assert.rejects(createKey(t.gw.storage.keys, t.secret, { name: 'x', scopes: ['a'], publicKeyJwk: await exportJWK(privateKey) }), /private key/);
    await assert.rejects(createKey(t.gw.storage.keys, t.secret, { name: 'x', scopes: ['a'], publicKeyJwk: { kty: 'oct', k: 'AAAA' } }), TypeError);
  });
});
