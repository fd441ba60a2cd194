/**
 * The identity assertion: signed with node:crypto, verified with jose as an upstream would.
 * Tampering, expiry, a wrong audience or issuer, `alg: none`, HS256 algorithm confusion, a
 * foreign key and a wrong `typ` are all refused; a rotation keeps earlier assertions verifiable
 * during the overlap. Clocks are frozen (the signer's `now`, jose's `currentDate`), never waited on.
 */
import { test, describe, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { sign } from 'node:crypto';
import { join } from 'node:path';
import { SignJWT } from 'jose';
import { ASSERTION_TYP, createAssertionSigner, MAX_ASSERTION_LIFETIME_SECONDS, verifyAssertion } from '../../src/identity/assertion.js';
import type { AssertionClaims } from '../../src/identity/assertion.js';
import { loadOrCreateKeyset, RETIRED_KEY_PUBLISH_MS, rotateKeyset } from '../../src/identity/keyset.js';
import type { Keyset } from '../../src/identity/keyset.js';
import { tempDir } from '../helpers/tmp.js';

const tmp = tempDir('rampart-assertion-');
after(() => tmp.remove());
let n = 0;
const freshFile = () => join(tmp.path, `case-${++n}`, 'signing-keys.json');

const ISSUER = 'https://gateway.test';
const AUDIENCE = 'accounts-api';
/** A fixed instant (2025-01-02T03:04:05.678Z): all times below are relative to it. */
const T = Date.UTC(2025, 0, 2, 3, 4, 5, 678);
const T_S = Math.floor(T / 1000);
const at = (ms: number) => new Date(ms);

const claims: AssertionClaims = {
  principal: 'alice-app',
  subject: 'cust-1001',
  scopes: ['accounts:read', 'orders:write'],
  audience: AUDIENCE,
  requestId: '6f1c2a8e-6a55-4d0e-9d38-2b1f3c7e9a01',
  keyId: 'rk_01HZX',
  authMethod: 'apikey',
};

const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
const parts = (token: string) => {
  const [h, p, s] = token.split('.');
  return { header: JSON.parse(Buffer.from(h!, 'base64url').toString('utf8')) as Record<string, unknown>, payload: JSON.parse(Buffer.from(p!, 'base64url').toString('utf8')) as Record<string, unknown>, h: h!, p: p!, s: s! };
};

/** Resolves to jose's error code, failing the test if verification succeeded. */
async function refusal(token: string, jwks: ReturnType<Keyset['jwks']>, opts: Partial<Parameters<typeof verifyAssertion>[2]> = {}): Promise<string> {
  try {
    await verifyAssertion(token, jwks, { issuer: ISSUER, audience: AUDIENCE, currentDate: at(T + 1000), ...opts });
  } catch (err) {
    return (err as { code?: string }).code ?? String(err);
  }
  assert.fail('the token was accepted');
}

let keyset: Keyset;
before(async () => {
  keyset = await loadOrCreateKeyset(freshFile());
});

describe('sign → verify', () => {
  test('a compact EdDSA JWS with the documented header and claims, accepted by jose', async () => {
    const signer = createAssertionSigner(keyset, { issuer: ISSUER, now: () => T });
    const token = signer.sign(claims);
    assert.match(token, /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/);
    const { header, payload } = parts(token);
    assert.deepEqual(header, { alg: 'EdDSA', typ: ASSERTION_TYP, kid: keyset.active().kid });
    assert.deepEqual(payload, {
      iss: ISSUER,
      sub: 'alice-app',
      aud: AUDIENCE,
      iat: T_S,
      exp: T_S + 60,
      jti: claims.requestId,
      scope: 'accounts:read orders:write',
      subject_id: 'cust-1001',
      key_id: 'rk_01HZX',
      auth_method: 'apikey',
    });
    const verified = await verifyAssertion(token, keyset.jwks(T), { issuer: ISSUER, audience: AUDIENCE, currentDate: at(T + 1000) });
    assert.deepEqual(verified, payload);
  });

  test('optional claims are absent when not set, and an empty scope list is an empty string', async () => {
    const signer = createAssertionSigner(keyset, { issuer: ISSUER, now: () => T });
    const token = signer.sign({ principal: 'svc', scopes: [], audience: AUDIENCE, requestId: 'r-1', authMethod: 'mtls' });
    const { payload } = parts(token);
    assert.deepEqual(Object.keys(payload), ['iss', 'sub', 'aud', 'iat', 'exp', 'jti', 'scope', 'auth_method']);
    assert.equal(payload.scope, '');
    await verifyAssertion(token, keyset.jwks(T), { issuer: ISSUER, audience: AUDIENCE, currentDate: at(T) });
  });

  test('claims that cannot be encoded faithfully are refused without echoing them', () => {
    const signer = createAssertionSigner(keyset, { issuer: ISSUER });
    const bad: [Partial<AssertionClaims>, RegExp][] = [
      [{ scopes: ['accounts:read orders:write'] }, /"scopes" holds a value that is not an RFC 6749 scope-token/],
      [{ scopes: ['say"hi'] }, /"scopes"/],
      [{ scopes: [''] }, /"scopes"/],
      [{ principal: '' }, /"principal" must be a non-empty string/],
      [{ audience: '' }, /"audience"/],
      [{ requestId: '' }, /"requestId"/],
      [{ authMethod: '' }, /"authMethod"/],
      [{ subject: '' }, /"subject"/],
    ];
    for (const [patch, pattern] of bad) {
      assert.throws(() => signer.sign({ ...claims, ...patch }), (err: unknown) => {
        assert.ok(err instanceof TypeError);
        assert.match(err.message, pattern);
        assert.ok(!err.message.includes('accounts:read orders:write') && !err.message.includes('say"hi'));
        return true;
      });
    }
  });
});

describe('lifetime', () => {
  test('defaults to 60 s, accepts up to 300 s, refuses more (or nonsense) at signer creation', () => {
    assert.equal(MAX_ASSERTION_LIFETIME_SECONDS, 300);
    const p = (lifetimeSeconds?: number) => parts(createAssertionSigner(keyset, { issuer: ISSUER, now: () => T, ...(lifetimeSeconds !== undefined ? { lifetimeSeconds } : {}) }).sign(claims)).payload;
    assert.equal((p().exp as number) - (p().iat as number), 60);
    assert.equal((p(300).exp as number) - (p(300).iat as number), 300);
    assert.equal((p(1).exp as number) - (p(1).iat as number), 1);
    for (const lifetimeSeconds of [301, 3600, 0, -5, 1.5, Number.NaN, Number.POSITIVE_INFINITY]) {
      assert.throws(() => createAssertionSigner(keyset, { issuer: ISSUER, lifetimeSeconds }), RangeError, `lifetime ${lifetimeSeconds}`);
    }
    assert.throws(() => createAssertionSigner(keyset, { issuer: '' }), TypeError);
  });

  test('an expired assertion is refused (frozen clocks on both sides)', async () => {
    const signer = createAssertionSigner(keyset, { issuer: ISSUER, now: () => T });
    const token = signer.sign(claims);
    const exp = (T_S + 60) * 1000;
    await verifyAssertion(token, keyset.jwks(T), { issuer: ISSUER, audience: AUDIENCE, currentDate: at(exp - 1000) });
    assert.equal(await refusal(token, keyset.jwks(T), { currentDate: at(exp) }), 'ERR_JWT_EXPIRED');
    assert.equal(await refusal(token, keyset.jwks(T), { currentDate: at(exp + 3600_000) }), 'ERR_JWT_EXPIRED');
    // A verifier's clock tolerance is honoured, and only that much.
    await verifyAssertion(token, keyset.jwks(T), { issuer: ISSUER, audience: AUDIENCE, clockToleranceSeconds: 5, currentDate: at(exp + 4000) });
    assert.equal(await refusal(token, keyset.jwks(T), { clockToleranceSeconds: 5, currentDate: at(exp + 5000) }), 'ERR_JWT_EXPIRED');
  });
});

describe('refused by the verifier', () => {
  test('a tampered payload or signature', async () => {
    const token = createAssertionSigner(keyset, { issuer: ISSUER, now: () => T }).sign(claims);
    const { h, p, s, payload } = parts(token);
    const elevated = b64({ ...payload, scope: 'accounts:read orders:write admin' });
    assert.equal(await refusal(`${h}.${elevated}.${s}`, keyset.jwks(T)), 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED');
    const otherUser = b64({ ...payload, sub: 'bob-app' });
    assert.equal(await refusal(`${h}.${otherUser}.${s}`, keyset.jwks(T)), 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED');
    const sig = Buffer.from(s, 'base64url');
    sig[0]! ^= 1;
    assert.equal(await refusal(`${h}.${p}.${sig.toString('base64url')}`, keyset.jwks(T)), 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED');
    assert.equal(await refusal(`${h}.${p}.`, keyset.jwks(T)), 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED');
  });

  test('a wrong audience or issuer', async () => {
    const signer = createAssertionSigner(keyset, { issuer: ISSUER, now: () => T });
    const token = signer.sign(claims);
    assert.equal(await refusal(token, keyset.jwks(T), { audience: 'payments-api' }), 'ERR_JWT_CLAIM_VALIDATION_FAILED');
    assert.equal(await refusal(signer.sign({ ...claims, audience: 'payments-api' }), keyset.jwks(T)), 'ERR_JWT_CLAIM_VALIDATION_FAILED');
    assert.equal(await refusal(token, keyset.jwks(T), { issuer: 'https://evil.test' }), 'ERR_JWT_CLAIM_VALIDATION_FAILED');
  });

  test('alg none, and HS256 keyed with the public key (algorithm confusion)', async () => {
    const kid = keyset.active().kid;
    const body = { iss: ISSUER, sub: 'mallory', aud: AUDIENCE, iat: T_S, exp: T_S + 60, jti: 'r-evil', scope: 'admin', auth_method: 'apikey' };
    const none = `${b64({ alg: 'none', typ: ASSERTION_TYP, kid })}.${b64(body)}.`;
    assert.equal(await refusal(none, keyset.jwks(T)), 'ERR_JOSE_ALG_NOT_ALLOWED');
    // The attacker knows the published key; try it as an HMAC secret, raw bytes and as JSON.
    const jwk = keyset.jwks(T).keys[0]!;
    for (const secret of [Buffer.from(jwk.x!, 'base64url'), Buffer.from(JSON.stringify(jwk)), Buffer.from(jwk.x!)]) {
      const hs = await new SignJWT(body).setProtectedHeader({ alg: 'HS256', typ: ASSERTION_TYP, kid }).sign(new Uint8Array(secret));
      assert.equal(await refusal(hs, keyset.jwks(T)), 'ERR_JOSE_ALG_NOT_ALLOWED');
    }
  });

  test('a key Rampart never published, even under a published kid', async () => {
    const stranger = await loadOrCreateKeyset(freshFile());
    const foreign = createAssertionSigner(stranger, { issuer: ISSUER, now: () => T }).sign(claims);
    assert.equal(await refusal(foreign, keyset.jwks(T)), 'ERR_JWKS_NO_MATCHING_KEY');
    // A well-formed Ed25519 signature by the stranger's key over a header naming our kid.
    const input = `${b64({ alg: 'EdDSA', typ: ASSERTION_TYP, kid: keyset.active().kid })}.${parts(foreign).p}`;
    const forged = `${input}.${sign(null, Buffer.from(input), stranger.active().privateKey).toString('base64url')}`;
    assert.equal(await refusal(forged, keyset.jwks(T)), 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED');
  });

  test('a JWT signed by the right key but without the assertion typ', async () => {
    const key = keyset.active();
    const body = { iss: ISSUER, sub: 'alice-app', aud: AUDIENCE, iat: T_S, exp: T_S + 60, jti: 'r-2' };
    for (const typ of ['JWT', 'at+jwt', undefined]) {
      const token = await new SignJWT(body).setProtectedHeader({ alg: 'EdDSA', kid: key.kid, ...(typ ? { typ } : {}) }).sign(key.privateKey);
      assert.equal(await refusal(token, keyset.jwks(T)), 'ERR_JWT_CLAIM_VALIDATION_FAILED', `typ ${typ}`);
    }
    // Same key and typ but no jti: a required claim is missing.
    const noJti = await new SignJWT({ iss: ISSUER, sub: 'alice-app', aud: AUDIENCE, iat: T_S, exp: T_S + 60 }).setProtectedHeader({ alg: 'EdDSA', kid: key.kid, typ: ASSERTION_TYP }).sign(key.privateKey);
    assert.equal(await refusal(noJti, keyset.jwks(T)), 'ERR_JWT_CLAIM_VALIDATION_FAILED');
  });
});

describe('rotation', () => {
  test('an assertion signed by the old key verifies during the overlap, not after; new ones use the new key', async () => {
    const file = freshFile();
    const before = await loadOrCreateKeyset(file);
    const oldToken = createAssertionSigner(before, { issuer: ISSUER, now: () => T }).sign(claims);
    const rotatedAt = T + 10_000;
    const after = await rotateKeyset(file, rotatedAt);
    assert.notEqual(after.active().kid, before.active().kid);

    const verifyAt = { issuer: ISSUER, audience: AUDIENCE, currentDate: at(T + 20_000) };
    const old = await verifyAssertion(oldToken, after.jwks(rotatedAt), verifyAt);
    assert.equal(old.sub, 'alice-app');
    assert.equal(parts(oldToken).header.kid, before.active().kid);

    const newToken = createAssertionSigner(after, { issuer: ISSUER, now: () => T + 20_000 }).sign(claims);
    assert.equal(parts(newToken).header.kid, after.active().kid);
    await verifyAssertion(newToken, after.jwks(rotatedAt), verifyAt);

    // Once the overlap is over the old key is no longer published: the (same-clock) old token fails for that reason alone.
    assert.equal(await refusal(oldToken, after.jwks(rotatedAt + RETIRED_KEY_PUBLISH_MS), verifyAt), 'ERR_JWKS_NO_MATCHING_KEY');
    await verifyAssertion(newToken, after.jwks(rotatedAt + RETIRED_KEY_PUBLISH_MS), verifyAt);
  });

  test('one signer follows a keyset whose active key changes, re-encoding the header', async () => {
    const file = freshFile();
    let current = await loadOrCreateKeyset(file);
    const live: Keyset = { file, active: () => current.active(), all: () => current.all(), jwks: (now) => current.jwks(now) };
    const signer = createAssertionSigner(live, { issuer: ISSUER, now: () => T });
    const a = signer.sign(claims);
    current = await rotateKeyset(file, T);
    const b = signer.sign(claims);
    assert.equal(parts(a).header.kid, live.all()[0]!.kid);
    assert.equal(parts(b).header.kid, current.active().kid);
    assert.notEqual(parts(a).header.kid, parts(b).header.kid);
    for (const token of [a, b]) await verifyAssertion(token, live.jwks(T), { issuer: ISSUER, audience: AUDIENCE, currentDate: at(T) });
  });
});
