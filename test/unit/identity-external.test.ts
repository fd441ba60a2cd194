/**
 * External issuers' access tokens against a REAL local issuer: a node:http server on loopback
 * serving a JWKS the test controls (RS256 and EdDSA keys from jose), tokens signed with jose's
 * SignJWT. Token times are checked against a controlled clock (`now`); JWKS refetch pacing
 * (jose's cooldown, on the wall clock) is tested with a cooldown of 0 or of an hour, never with
 * a timed threshold. JWKS hits are counted at the server.
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { SignJWT, exportJWK, exportSPKI, generateKeyPair, type CryptoKey, type JWK, type JWTPayload } from 'jose';
import { createExternalIssuers, TokenRejected, type ExternalIssuerConfig, type ExternalIssuers, type TokenFailure } from '../../src/identity/external-issuers.js';

/** 2027-01-15T08:00:00Z: the controlled "now" of most cases, in seconds. */
const T0 = 1_800_000_000;
const ISS = 'https://idp.example.test/realm';
const AUD = 'brokerage-api';

interface TestIssuer {
  url: string;
  jwksUri: string;
  /** Requests seen by the JWKS endpoint. */
  hits: () => number;
  setKeys(keys: JWK[]): void;
  /** 'ok' serves the JWKS; 'error' answers 503; 'hang' never answers; 'huge' serves 300 KiB (with a length; 'huge-chunked' without). */
  mode: 'ok' | 'error' | 'hang' | 'huge' | 'huge-chunked';
  close(): Promise<void>;
}

async function startIssuer(keys: JWK[]): Promise<TestIssuer> {
  let jwks = { keys };
  let hits = 0;
  const server = http.createServer((req, res) => {
    hits++;
    if (req.url !== '/jwks') {
      res.writeHead(404).end();
      return;
    }
    switch (issuer.mode) {
      case 'error':
        res.writeHead(503, { 'content-type': 'text/plain' }).end('down');
        return;
      case 'hang':
        return; // never answers; closed with the server
      case 'huge':
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ keys: [], pad: 'x'.repeat(300 * 1024) }));
        return;
      case 'huge-chunked':
        res.writeHead(200, { 'content-type': 'application/json' });
        res.write('{"keys":[],"pad":"');
        for (let i = 0; i < 300; i++) res.write('x'.repeat(1024));
        res.end('"}');
        return;
      default:
        res.writeHead(200, { 'content-type': 'application/jwk-set+json' }).end(JSON.stringify(jwks));
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const url = `http://127.0.0.1:${port}`;
  const issuer: TestIssuer = {
    url,
    jwksUri: `${url}/jwks`,
    hits: () => hits,
    setKeys(k) {
      jwks = { keys: k };
    },
    mode: 'ok',
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
  return issuer;
}

interface KeyPair {
  kid: string;
  alg: string;
  privateKey: CryptoKey;
  publicKey: CryptoKey;
  jwk: JWK;
}

async function makeKey(alg: 'RS256' | 'EdDSA', kid: string): Promise<KeyPair> {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
  const jwk = { ...(await exportJWK(publicKey)), kid, alg, use: 'sig' };
  return { kid, alg, privateKey, publicKey, jwk };
}

let rsa: KeyPair;
let ed: KeyPair;
let rsa2: KeyPair;
const servers: TestIssuer[] = [];

before(async () => {
  rsa = await makeKey('RS256', 'rsa-1');
  ed = await makeKey('EdDSA', 'ed-1');
  rsa2 = await makeKey('RS256', 'rsa-2');
});
after(async () => {
  for (const s of servers) await s.close();
});

async function issuerServer(keys?: JWK[]): Promise<TestIssuer> {
  const s = await startIssuer(keys ?? [rsa.jwk, ed.jwk]);
  servers.push(s);
  return s;
}

function config(s: TestIssuer, over: Partial<ExternalIssuerConfig> = {}): ExternalIssuerConfig {
  return {
    issuer: ISS,
    jwksUri: s.jwksUri,
    audiences: [AUD],
    algorithms: ['RS256', 'EdDSA'],
    clockSkewSeconds: 30,
    maxLifetimeSeconds: 3600,
    claims: { principal: 'sub', subject: 'customer_id', scopes: 'scope' },
    ...over,
  };
}

/** A controlled clock, in ms. */
function clock(startS = T0) {
  let ms = startS * 1000;
  return { now: () => ms, set: (s: number) => (ms = s * 1000), setMs: (m: number) => (ms = m) };
}

interface SignOpts {
  key?: KeyPair;
  header?: Record<string, unknown>;
  iat?: number | null;
  exp?: number | null;
  nbf?: number;
  iss?: string;
  aud?: string | string[];
}

async function sign(claims: Record<string, unknown>, o: SignOpts = {}): Promise<string> {
  const key = o.key ?? rsa;
  const payload: Record<string, unknown> = { iss: o.iss ?? ISS, aud: o.aud ?? AUD, sub: 'client-app-7', ...claims };
  if (o.iat !== null) payload.iat = o.iat ?? T0;
  if (o.exp !== null) payload.exp = o.exp ?? T0 + 300;
  if (o.nbf !== undefined) payload.nbf = o.nbf;
  return new SignJWT(payload as JWTPayload).setProtectedHeader({ alg: key.alg, kid: key.kid, typ: 'at+jwt', ...o.header }).sign(key.privateKey);
}

const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');

async function rejects(p: Promise<unknown>, reason: TokenFailure): Promise<TokenRejected> {
  try {
    await p;
  } catch (err) {
    assert.ok(err instanceof TokenRejected, `expected TokenRejected, got ${String(err)}`);
    assert.equal(err.reason, reason, `expected ${reason}, got ${err.reason}: ${err.message}`);
    return err;
  }
  assert.fail(`expected rejection with ${reason}`);
}

describe('valid tokens', () => {
  test('RS256: principal, subject, string scope, jti, audience and expiry are mapped', async () => {
    const s = await issuerServer();
    const c = clock();
    const ext = createExternalIssuers([config(s)], { now: c.now });
    const token = await sign({ scope: 'accounts:read  orders:write accounts:read', customer_id: 'cust-42', jti: 'tok-1' });
    assert.equal(ext.issuerOf(token), ISS);
    const v = await ext.verify(token);
    assert.deepEqual({ ...v }, {
      issuer: ISS,
      principal: 'client-app-7',
      subject: 'cust-42',
      scopes: ['accounts:read', 'orders:write'],
      expiresAt: (T0 + 300) * 1000,
      tokenId: 'tok-1',
      audience: [AUD],
    });
    assert.ok(Object.isFrozen(v) && Object.isFrozen(v.scopes), 'the shared cached result cannot be mutated');
  });

  test('EdDSA: array scp, principal from client_id, no subject claim, aud array', async () => {
    const s = await issuerServer();
    const c = clock();
    const ext = createExternalIssuers([config(s, { claims: { principal: 'client_id', subject: 'tenant', scopes: 'scp' } })], { now: c.now });
    const token = await sign({ client_id: 'svc-batch', scp: ['positions:read', 'customers:read'] }, { key: ed, aud: ['other-api', AUD] });
    const v = await ext.verify(token);
    assert.equal(v.principal, 'svc-batch');
    assert.equal(v.subject, undefined);
    assert.equal('subject' in v, false);
    assert.equal(v.tokenId, undefined);
    assert.deepEqual(v.scopes, ['positions:read', 'customers:read']);
    assert.deepEqual(v.audience, ['other-api', AUD]);
  });

  test('a token without the scope claim has no scopes; typ JWT and absent typ are accepted', async () => {
    const s = await issuerServer();
    const ext = createExternalIssuers([config(s)], { now: clock().now });
    assert.deepEqual((await ext.verify(await sign({}, { header: { typ: 'JWT' } }))).scopes, []);
    const noTyp = await new SignJWT({ iss: ISS, aud: AUD, sub: 'a', iat: T0, exp: T0 + 60 }).setProtectedHeader({ alg: 'RS256', kid: 'rsa-1' }).sign(rsa.privateKey);
    assert.equal((await ext.verify(noTyp)).principal, 'a');
  });
});

describe('refused tokens', () => {
  let s: TestIssuer;
  let ext: ExternalIssuers;
  before(async () => {
    s = await issuerServer();
    ext = createExternalIssuers([config(s)], { now: clock().now });
  });

  test("alg 'none' is refused before any key is fetched", async () => {
    const fresh = await issuerServer();
    const e = createExternalIssuers([config(fresh)], { now: clock().now });
    const payload = { iss: ISS, aud: AUD, sub: 'mallory', iat: T0, exp: T0 + 60, scope: 'admin' };
    for (const alg of ['none', 'None', 'NONE']) {
      await rejects(e.verify(`${b64({ alg, typ: 'JWT' })}.${b64(payload)}.`), 'alg-not-allowed');
    }
    assert.equal(fresh.hits(), 0);
  });

  test('HS256 signed with the RSA public key (PEM and JWK bytes) is refused: no HMAC/RSA confusion', async () => {
    const fresh = await issuerServer();
    const e = createExternalIssuers([config(fresh)], { now: clock().now });
    const pem = await exportSPKI(rsa.publicKey);
    for (const secret of [pem, JSON.stringify(rsa.jwk), rsa.jwk.n!]) {
      const forged = await new SignJWT({ iss: ISS, aud: AUD, sub: 'mallory', iat: T0, exp: T0 + 60, scope: 'admin' })
        .setProtectedHeader({ alg: 'HS256', kid: rsa.kid, typ: 'at+jwt' })
        .sign(new TextEncoder().encode(secret));
      await rejects(e.verify(forged), 'alg-not-allowed');
    }
    assert.equal(fresh.hits(), 0, 'the JWKS was not even consulted');
  });

  test('an algorithm outside the issuer allowlist is refused even with a valid signature', async () => {
    const e = createExternalIssuers([config(s, { algorithms: ['EdDSA'] })], { now: clock().now });
    await rejects(e.verify(await sign({})), 'alg-not-allowed');
  });

  test('a tampered payload is a bad signature; a signature by a key not in the JWKS under a known kid too', async () => {
    const token = await sign({ scope: 'accounts:read' });
    const [h, , sig] = token.split('.');
    const tampered = `${h}.${b64({ iss: ISS, aud: AUD, sub: 'client-app-7', iat: T0, exp: T0 + 300, scope: 'admin' })}.${sig}`;
    await rejects(ext.verify(tampered), 'bad-signature');
    const impostor = await sign({}, { key: { ...rsa2, kid: rsa.kid } });
    await rejects(ext.verify(impostor), 'bad-signature');
  });

  test('wrong issuer: unknown-issuer, and issuerOf says undefined', async () => {
    const token = await sign({}, { iss: 'https://evil.example/realm' });
    assert.equal(ext.issuerOf(token), undefined);
    await rejects(ext.verify(token), 'unknown-issuer');
    const noIss = await new SignJWT({ aud: AUD, sub: 'x', iat: T0, exp: T0 + 60 }).setProtectedHeader({ alg: 'RS256', kid: 'rsa-1' }).sign(rsa.privateKey);
    assert.equal(ext.issuerOf(noIss), undefined);
    await rejects(ext.verify(noIss), 'unknown-issuer');
    for (const junk of ['', 'abc', 'a.b', 'a.b.c', '....', `x.${b64({ iss: 42 })}.y`, 'Bearer x.y.z']) {
      assert.equal(ext.issuerOf(junk), undefined);
    }
  });

  test('malformed input is refused as malformed', async () => {
    for (const junk of ['', 'abc', 'a.b', 'a.b.c.d', `${b64({ alg: 'RS256' })}.${b64([1])}.AA`, `${b64({ alg: 'RS256' })}.not json.AA`, `${'A'.repeat(20000)}.B.C`]) {
      await rejects(ext.verify(junk), 'malformed');
    }
    await rejects(ext.verify(await sign({}, { header: { typ: 'dpop+jwt' } })), 'malformed');
  });

  test('wrong audience', async () => {
    await rejects(ext.verify(await sign({}, { aud: 'another-api' })), 'wrong-audience');
    await rejects(ext.verify(await sign({}, { aud: ['a', 'b'] })), 'wrong-audience');
  });

  test('expired, not yet valid, issued in the future, lifetime too long', async () => {
    await rejects(ext.verify(await sign({}, { iat: T0 - 600, exp: T0 - 120 })), 'expired');
    await rejects(ext.verify(await sign({}, { nbf: T0 + 120 })), 'not-yet-valid');
    await rejects(ext.verify(await sign({}, { iat: T0 + 120, exp: T0 + 300 })), 'issued-in-future');
    await rejects(ext.verify(await sign({}, { iat: T0, exp: T0 + 3601 })), 'lifetime-too-long');
    assert.equal((await ext.verify(await sign({}, { iat: T0, exp: T0 + 3600 }))).expiresAt, (T0 + 3600) * 1000, 'exactly the maximum lifetime is accepted');
  });

  test('missing iat or exp, and a principal that is not a non-empty string, are missing claims', async () => {
    await rejects(ext.verify(await sign({}, { iat: null })), 'missing-claim');
    await rejects(ext.verify(await sign({}, { exp: null })), 'missing-claim');
    await rejects(ext.verify(await sign({ sub: 42 })), 'missing-claim');
    await rejects(ext.verify(await sign({ sub: '' })), 'missing-claim');
    await rejects(ext.verify(await sign({ sub: undefined })), 'missing-claim');
    await rejects(ext.verify(await sign({ scope: 7 })), 'missing-claim');
    await rejects(ext.verify(await sign({ scope: ['ok', 3] })), 'missing-claim');
    await rejects(ext.verify(await sign({ customer_id: { id: 1 } })), 'missing-claim');
  });

  test('a token without kid when the JWKS holds two keys for its algorithm is refused (unknown-key)', async () => {
    const two = await issuerServer([rsa.jwk, rsa2.jwk]);
    const e = createExternalIssuers([config(two)], { now: clock().now });
    const noKid = await new SignJWT({ iss: ISS, aud: AUD, sub: 'a', iat: T0, exp: T0 + 60 }).setProtectedHeader({ alg: 'RS256' }).sign(rsa.privateKey);
    await rejects(e.verify(noKid), 'unknown-key');
  });
});

describe('clock skew edges (controlled now, skew 30 s)', () => {
  let s: TestIssuer;
  before(async () => {
    s = await issuerServer();
  });

  test('exp: accepted until exp + skew (exclusive), refused from exp + skew', async () => {
    const c = clock();
    const ext = createExternalIssuers([config(s)], { now: c.now, cacheEntries: 0 });
    const token = await sign({}, { iat: T0 - 100, exp: T0 });
    c.setMs((T0 + 30) * 1000 - 1);
    await ext.verify(token);
    c.set(T0 + 30);
    await rejects(ext.verify(token), 'expired');
  });

  test('nbf: accepted at exactly nbf - skew, refused one second earlier', async () => {
    const c = clock();
    const ext = createExternalIssuers([config(s)], { now: c.now, cacheEntries: 0 });
    const token = await sign({}, { iat: T0 - 100, nbf: T0, exp: T0 + 300 });
    c.set(T0 - 30);
    await ext.verify(token);
    c.set(T0 - 31);
    await rejects(ext.verify(token), 'not-yet-valid');
  });

  test('iat: accepted at exactly now + skew, refused one second past', async () => {
    const c = clock();
    const ext = createExternalIssuers([config(s)], { now: c.now, cacheEntries: 0 });
    await ext.verify(await sign({}, { iat: T0 + 30, exp: T0 + 300 }));
    await rejects(ext.verify(await sign({}, { iat: T0 + 31, exp: T0 + 300 })), 'issued-in-future');
  });

  test('skew 0: refused at exactly exp', async () => {
    const c = clock();
    const ext = createExternalIssuers([config(s, { clockSkewSeconds: 0 })], { now: c.now, cacheEntries: 0 });
    const token = await sign({}, { iat: T0 - 100, exp: T0 + 1 });
    await ext.verify(token);
    c.set(T0 + 1);
    await rejects(ext.verify(token), 'expired');
  });
});

describe('JWKS fetching', () => {
  test('key rotation at the issuer: a token with a new kid triggers a refetch and verifies', async () => {
    const s = await issuerServer([rsa.jwk]);
    const ext = createExternalIssuers([config(s)], { now: clock().now, jwksCooldownMs: 0 });
    await ext.verify(await sign({}));
    assert.equal(s.hits(), 1);
    await ext.verify(await sign({ jti: 'again' }));
    assert.equal(s.hits(), 1, 'a known kid is served from the cached JWKS');
    s.setKeys([rsa.jwk, rsa2.jwk]);
    const v = await ext.verify(await sign({ jti: 'rotated' }, { key: rsa2 }));
    assert.equal(v.tokenId, 'rotated');
    assert.equal(s.hits(), 2);
  });

  test('refetches for unknown kids are rate-limited by the cooldown', async () => {
    const s = await issuerServer([rsa.jwk]);
    const ext = createExternalIssuers([config(s)], { now: clock().now, jwksCooldownMs: 3_600_000 });
    await ext.verify(await sign({}));
    assert.equal(s.hits(), 1);
    s.setKeys([rsa.jwk, rsa2.jwk]);
    for (let i = 0; i < 5; i++) await rejects(ext.verify(await sign({ jti: `n${i}` }, { key: { ...rsa2, kid: `made-up-${i}` } })), 'unknown-key');
    await rejects(ext.verify(await sign({}, { key: rsa2 })), 'unknown-key');
    assert.equal(s.hits(), 1, 'no refetch inside the cooldown');

    // With no cooldown every unknown kid costs one fetch: the bound above is the cooldown's doing.
    const s2 = await issuerServer([rsa.jwk]);
    const open = createExternalIssuers([config(s2)], { now: clock().now, jwksCooldownMs: 0 });
    await open.verify(await sign({}));
    for (let i = 0; i < 3; i++) await rejects(open.verify(await sign({ jti: `m${i}` }, { key: { ...rsa2, kid: `made-up-${i}` } })), 'unknown-key');
    assert.equal(s2.hits(), 4);
  });

  test('JWKS server down, answering 503, too big, or hanging: jwks-unavailable', async () => {
    const gone = await startIssuer([rsa.jwk]);
    await gone.close();
    const e1 = createExternalIssuers([config(gone)], { now: clock().now, jwksCooldownMs: 0 });
    await rejects(e1.verify(await sign({})), 'jwks-unavailable');

    const s = await issuerServer([rsa.jwk]);
    const e2 = createExternalIssuers([config(s)], { now: clock().now, jwksCooldownMs: 0, jwksTimeoutMs: 200 });
    s.mode = 'error';
    await rejects(e2.verify(await sign({})), 'jwks-unavailable');
    s.mode = 'huge';
    await rejects(e2.verify(await sign({})), 'jwks-unavailable');
    s.mode = 'huge-chunked';
    await rejects(e2.verify(await sign({})), 'jwks-unavailable');
    s.mode = 'hang';
    await rejects(e2.verify(await sign({})), 'jwks-unavailable');
    s.mode = 'ok';
    const token = await sign({});
    assert.equal((await e2.verify(token)).principal, 'client-app-7', 'the issuer is back: the token verifies');
  });

  test('after a failed fetch, the next attempt waits min(cooldown, 5 s) on the controlled clock', async () => {
    const s = await issuerServer([rsa.jwk]);
    const c = clock();
    const ext = createExternalIssuers([config(s)], { now: c.now, jwksCooldownMs: 30_000 });
    s.mode = 'error';
    const token = await sign({});
    await rejects(ext.verify(token), 'jwks-unavailable');
    await rejects(ext.verify(token), 'jwks-unavailable');
    await rejects(ext.verify(await sign({ jti: 'other' })), 'jwks-unavailable');
    assert.equal(s.hits(), 1, 'a failing issuer is not hammered');
    s.mode = 'ok';
    c.setMs(T0 * 1000 + 4_999);
    await rejects(ext.verify(token), 'jwks-unavailable');
    assert.equal(s.hits(), 1);
    c.setMs(T0 * 1000 + 5_000);
    await ext.verify(token);
    assert.equal(s.hits(), 2);
  });
});

describe('verified-token cache', () => {
  test('a repeated token is served from the cache: no JWKS fetch, no signature check, same object; cached() returns it', async () => {
    const s = await issuerServer([rsa.jwk]);
    const c = clock();
    // cacheMaxAge 0: every verification that reaches jose refetches the JWKS, so the hit count
    // tells a cached answer (no fetch) from a verified one (one fetch).
    const ext = createExternalIssuers([config(s)], { now: c.now, jwksCacheMaxAgeMs: 0 });
    const token = await sign({ scope: 'accounts:read' });
    assert.equal(ext.cached(token), undefined);
    const first = await ext.verify(token);
    assert.equal(s.hits(), 1);
    const second = await ext.verify(token);
    assert.equal(second, first);
    assert.equal(s.hits(), 1, 'the second verify did no JWKS/crypto work');
    assert.equal(ext.cached(token), first);
    await ext.verify(await sign({ jti: 'different' }));
    assert.equal(s.hits(), 2, 'a different token is verified for real');
  });

  test('concurrent verifications of one token share one verification', async () => {
    const s = await issuerServer([rsa.jwk]);
    const ext = createExternalIssuers([config(s)], { now: clock().now, jwksCacheMaxAgeMs: 0 });
    const token = await sign({});
    const all = await Promise.all([1, 2, 3, 4, 5].map(() => ext.verify(token)));
    for (const v of all) assert.equal(v, all[0]);
    assert.equal(s.hits(), 1);
  });

  test('an expired cached token is refused on the next call (cached() and verify())', async () => {
    const s = await issuerServer([rsa.jwk]);
    const c = clock();
    const ext = createExternalIssuers([config(s)], { now: c.now, jwksCacheMaxAgeMs: 0 });
    const token = await sign({}, { iat: T0, exp: T0 + 60 });
    await ext.verify(token);
    c.setMs((T0 + 60 + 30) * 1000 - 1);
    assert.ok(ext.cached(token), 'still inside exp + skew');
    c.set(T0 + 60 + 30);
    assert.equal(ext.cached(token), undefined);
    await rejects(ext.verify(token), 'expired');
    assert.equal(s.hits(), 1, 'refused without a fetch');
  });

  test('a cached entry is also re-checked against nbf when the clock moves back', async () => {
    const s = await issuerServer([rsa.jwk]);
    const c = clock();
    const ext = createExternalIssuers([config(s)], { now: c.now });
    const token = await sign({}, { iat: T0, nbf: T0, exp: T0 + 60 });
    await ext.verify(token);
    c.set(T0 - 31);
    assert.equal(ext.cached(token), undefined);
    await rejects(ext.verify(token), 'not-yet-valid');
  });

  test('the cache is a bounded LRU', async () => {
    const s = await issuerServer([rsa.jwk]);
    const ext = createExternalIssuers([config(s)], { now: clock().now, cacheEntries: 2 });
    const [t1, t2, t3] = await Promise.all(['1', '2', '3'].map((jti) => sign({ jti })));
    await ext.verify(t1!);
    await ext.verify(t2!);
    assert.ok(ext.cached(t1!)); // t1 now most recently used
    await ext.verify(t3!);
    assert.ok(ext.cached(t1!));
    assert.equal(ext.cached(t2!), undefined, 'the least recently used entry was evicted');
    assert.ok(ext.cached(t3!));
  });

  test('failures are never cached', async () => {
    const s = await issuerServer([rsa.jwk]);
    const ext = createExternalIssuers([config(s)], { now: clock().now, jwksCooldownMs: 0 });
    s.mode = 'error';
    const token = await sign({});
    await rejects(ext.verify(token), 'jwks-unavailable');
    assert.equal(ext.cached(token), undefined);
    s.mode = 'ok';
    assert.equal((await ext.verify(token)).principal, 'client-app-7');
  });
});

describe('creation', () => {
  const base = (over: Partial<ExternalIssuerConfig>) => ({
    issuer: ISS,
    jwksUri: 'https://idp.example.test/jwks',
    audiences: [AUD],
    algorithms: ['RS256'],
    clockSkewSeconds: 30,
    maxLifetimeSeconds: 3600,
    claims: { principal: 'sub', scopes: 'scope' },
    ...over,
  });

  test("refuses 'none', HS* and unknown algorithms in the allowlist", () => {
    for (const algorithms of [['none'], ['RS256', 'none'], ['HS256'], ['RS256', 'HS512'], ['RS1'], ['ES512'], []]) {
      assert.throws(() => createExternalIssuers([base({ algorithms })]), TypeError, JSON.stringify(algorithms));
    }
    createExternalIssuers([base({ algorithms: ['RS256', 'PS256', 'ES256', 'ES384', 'EdDSA'] })]);
  });

  test('refuses a non-loopback http jwksUri; accepts https and loopback http', () => {
    for (const jwksUri of ['http://idp.example.test/jwks', 'http://10.0.0.5/jwks', 'http://127.evil.test/jwks', 'http://[::2]/jwks', 'ftp://127.0.0.1/jwks', 'file:///etc/jwks', 'https://user:pw@idp.example.test/jwks', 'not a url']) {
      assert.throws(() => createExternalIssuers([base({ jwksUri })]), TypeError, jwksUri);
    }
    for (const jwksUri of ['https://idp.example.test/jwks', 'http://127.0.0.1:8080/jwks', 'http://127.9.9.9/jwks', 'http://[::1]:9000/jwks', 'http://localhost/jwks']) {
      createExternalIssuers([base({ jwksUri })]);
    }
  });

  test('refuses bad skew, lifetime, audiences, claims and a duplicated issuer', () => {
    const bad: Partial<ExternalIssuerConfig>[] = [
      { clockSkewSeconds: 301 },
      { clockSkewSeconds: -1 },
      { maxLifetimeSeconds: 0 },
      { audiences: [] },
      { issuer: '' },
      { claims: { principal: 'sub', scopes: '' } },
    ];
    for (const over of bad) assert.throws(() => createExternalIssuers([base(over)]), TypeError, JSON.stringify(over));
    assert.throws(() => createExternalIssuers([base({}), base({ jwksUri: 'https://other.example/jwks' })]), TypeError);
    assert.throws(() => createExternalIssuers([base({})], { cacheEntries: -1 }), TypeError);
  });

  test('creation fetches nothing', async () => {
    const s = await issuerServer();
    createExternalIssuers([config(s)]);
    assert.equal(s.hits(), 0);
  });
});
