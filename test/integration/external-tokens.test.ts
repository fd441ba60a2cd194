/**
 * Access tokens of an external identity provider through a real gateway: a local OIDC-style
 * issuer (its JWKS on a loopback HTTP server, its keys made by jose), tokens verified through
 * that JWKS, claims mapped to the principal, the customer and the scopes, and the object-level
 * check applied to the customer the token names.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey } from 'jose';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { brokerageOpenApiPath, startBrokerageUpstream, type BrokerageUpstream } from '../../src/demo/brokerage-server.js';

const ISSUER = 'https://idp.test';
const bearer = (k: string) => ({ authorization: `Bearer ${k}` });

describe('tokens of an external issuer (OIDC)', () => {
  let idp: http.Server;
  let hits = 0;
  let key: CryptoKey;
  let up: BrokerageUpstream;
  let t: TestGateway;

  before(async () => {
    const pair = await generateKeyPair('RS256');
    key = pair.privateKey;
    const jwk = { ...(await exportJWK(pair.publicKey)), kid: 'idp-1', alg: 'RS256', use: 'sig' };
    idp = http.createServer((_req, res) => {
      hits++;
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ keys: [jwk] }));
    });
    await new Promise<void>((r) => idp.listen(0, '127.0.0.1', r));
    up = await startBrokerageUpstream({ port: 0 });
    t = await startTestGateway({
      spec: brokerageOpenApiPath(),
      upstreamUrl: up.url,
      yaml: {
        identity: {
          issuers: [{ issuer: ISSUER, jwksUri: `http://127.0.0.1:${(idp.address() as AddressInfo).port}/jwks`, audiences: ['brokerage-api'], algorithms: ['RS256'], claims: { principal: 'client_id', subject: 'customer_id', scopes: 'scope' } }],
        },
      },
      api: {
        name: 'brokerage',
        authorization: { objects: { account: { in: ['path.accountId'], owner: { lookup: { path: '/internal/owners/accounts/{id}', pointer: '/customerId' } } } } },
      },
    });
  });
  after(async () => {
    await t.close();
    await up.close();
    await new Promise((r) => idp.close(r));
  });

  const mint = (claims: Record<string, unknown>, o: { aud?: string; exp?: string } = {}) =>
    new SignJWT(claims).setProtectedHeader({ alg: 'RS256', kid: 'idp-1', typ: 'at+jwt' }).setIssuer(ISSUER).setAudience(o.aud ?? 'brokerage-api').setIssuedAt().setExpirationTime(o.exp ?? '5m').sign(key);

  it('a valid token is accepted; its claims become the principal, the customer and the scopes the upstream sees', async () => {
    const tok = await mint({ client_id: 'partner-app', customer_id: 'cus_alice', scope: 'accounts:read' });
    const r = await t.request('GET', '/accounts/acc_alice_1', { headers: bearer(tok) });
    assert.equal(r.status, 200, r.body.toString());
    const seen = up.requests.filter((x) => x.path === '/accounts/acc_alice_1').at(-1)!;
    assert.equal(seen.headers.authorization, undefined, 'the token is not forwarded');
    const claims = JSON.parse(Buffer.from(String(seen.headers['x-rampart-identity']).split('.')[1]!, 'base64url').toString());
    assert.equal(claims.sub, 'partner-app');
    assert.equal(claims.subject_id, 'cus_alice');
    assert.equal(claims.auth_method, 'external-token');
    // Verified once, then cached: a second request does not fetch the JWKS again.
    const before = hits;
    assert.equal((await t.request('GET', '/accounts/acc_alice_2', { headers: bearer(tok) })).status, 200);
    assert.equal(hits, before);
  });

  it("object-level authorization applies to the token's customer", async () => {
    const tok = await mint({ client_id: 'partner-app', customer_id: 'cus_alice', scope: 'accounts:read' });
    assert.equal((await t.request('GET', '/accounts/acc_bob_1', { headers: bearer(tok) })).status, 403);
  });

  it('scopes come from the token: without accounts:read the read is 403', async () => {
    const tok = await mint({ client_id: 'partner-app', customer_id: 'cus_alice', scope: 'orders:read' });
    assert.equal((await t.request('GET', '/accounts/acc_alice_1', { headers: bearer(tok) })).status, 403);
  });

  it('wrong audience, expired, unknown issuer and a forged signature are 401', async () => {
    const claims = { client_id: 'partner-app', customer_id: 'cus_alice', scope: 'accounts:read' };
    assert.equal((await t.request('GET', '/accounts/acc_alice_1', { headers: bearer(await mint(claims, { aud: 'other-api' })) })).status, 401);
    const expired = await new SignJWT(claims).setProtectedHeader({ alg: 'RS256', kid: 'idp-1' }).setIssuer(ISSUER).setAudience('brokerage-api').setIssuedAt(Math.floor(Date.now() / 1000) - 7200).setExpirationTime(Math.floor(Date.now() / 1000) - 3600).sign(key);
    assert.equal((await t.request('GET', '/accounts/acc_alice_1', { headers: bearer(expired) })).status, 401);
    const stranger = await new SignJWT(claims).setProtectedHeader({ alg: 'RS256', kid: 'idp-1' }).setIssuer('https://evil.test').setAudience('brokerage-api').setIssuedAt().setExpirationTime('5m').sign(key);
    assert.equal((await t.request('GET', '/accounts/acc_alice_1', { headers: bearer(stranger) })).status, 401);
    const other = (await generateKeyPair('RS256')).privateKey;
    const forged = await new SignJWT(claims).setProtectedHeader({ alg: 'RS256', kid: 'idp-1' }).setIssuer(ISSUER).setAudience('brokerage-api').setIssuedAt().setExpirationTime('5m').sign(other);
    const r = await t.request('GET', '/accounts/acc_alice_1', { headers: bearer(forged) });
    assert.equal(r.status, 401);
    assert.match(String(r.headers['www-authenticate']), /invalid_token/);
  });
});
