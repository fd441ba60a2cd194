/**
 * The signed identity assertion: instead of forwarding the client's credential (which Rampart
 * strips), the gateway tells the upstream who is calling in a short-lived JWT (RFC 7519) signed
 * with Rampart's active Ed25519 key (keyset.ts), in a configured request header.
 *
 *   header  { "alg": "EdDSA", "typ": "rampart-identity+jwt", "kid": "<signing key thumbprint>" }
 *   payload { "iss": "<gateway issuer>", "sub": "<principal>", "aud": "<API name>",
 *             "iat": <s>, "exp": <s>, "jti": "<request id>", "scope": "<scopes, space-separated>",
 *             "subject_id"?: "<data subject>", "key_id"?: "<API key id>", "auth_method": "<apikey|jwt|mtls…>" }
 *
 * The explicit `typ` (RFC 8725 §3.11) keeps an assertion from being mistaken for any other JWT
 * signed by the same keys (the OAuth access tokens to come), and `aud` binds it to one API, so an
 * upstream cannot replay it against another (API2). `scope` is the RFC 8693 §4.2 space-separated
 * list. Lifetime is 60 s by default and never more than 300 s: the assertion is a bearer token
 * for that window. `jti` is the request id, which also ties it to the ledger records of the
 * exchange; an upstream that wants replay protection keeps the jti values it saw until `exp`.
 *
 * How an upstream verifies it (Node, with jose), against the public keys Rampart publishes at
 * `GET <reservedPrefix>/jwks.json` (default prefix `/.rampart`):
 *
 * ```ts
 * import { createRemoteJWKSet, jwtVerify } from 'jose';
 *
 * // Cached by jose; an unknown kid (after a key rotation) triggers a refetch.
 * const rampartKeys = createRemoteJWKSet(new URL('https://gateway.internal/.rampart/jwks.json'));
 *
 * export async function callerOf(req: { headers: Record<string, string | string[] | undefined> }) {
 *   const token = req.headers['x-rampart-identity']; // the header name configured in rampart.yaml
 *   if (typeof token !== 'string') throw new Error('no identity assertion');
 *   const { payload } = await jwtVerify(token, rampartKeys, {
 *     algorithms: ['EdDSA'],              // never let the token choose (no "none", no HS256)
 *     typ: 'rampart-identity+jwt',
 *     issuer: 'https://gateway.internal', // the gateway's configured issuer
 *     audience: 'accounts-api',           // this API's name in rampart.yaml
 *     requiredClaims: ['sub', 'exp', 'iat', 'jti'],
 *     clockTolerance: 5,
 *   });
 *   return { principal: payload.sub, scopes: String(payload.scope ?? '').split(' ').filter(Boolean), requestId: payload.jti };
 * }
 * ```
 *
 * Signing runs once per forwarded request, so it avoids jose and its async WebCrypto path: the
 * header is encoded once per key id and the signature is one synchronous node:crypto Ed25519
 * call. Verification (verifyAssertion) deliberately uses jose, as an upstream would, to prove
 * that the tokens interoperate with a standard library.
 */
import { sign as ed25519Sign } from 'node:crypto';
import type { JsonWebKey } from 'node:crypto';
import { createLocalJWKSet, jwtVerify } from 'jose';
import type { JSONWebKeySet, JWTPayload } from 'jose';
import type { Keyset } from './keyset.js';

/** The JWT `typ` header of an identity assertion (RFC 8725 §3.11 explicit typing). */
export const ASSERTION_TYP = 'rampart-identity+jwt';
/** Default lifetime of an assertion, in seconds. */
export const DEFAULT_ASSERTION_LIFETIME_SECONDS = 60;
/** Longest lifetime a signer accepts, in seconds: an assertion is a bearer token while it lives. */
export const MAX_ASSERTION_LIFETIME_SECONDS = 300;

export interface AssertionClaims {
  /** Who is calling (the API key's name, the token's client or user): `sub`. */
  principal: string;
  /** The data subject the principal is bound to (e.g. a customer id), when there is one: `subject_id`. */
  subject?: string;
  /** Scopes the credential holds; each an RFC 6749 §3.3 scope-token. Joined by spaces into `scope`. */
  scopes: readonly string[];
  /** The API the request goes to: `aud`. */
  audience: string;
  /** The gateway's request id: `jti`. */
  requestId: string;
  /** The API key id, when the caller used one: `key_id`. */
  keyId?: string;
  /** How the caller authenticated (e.g. `apikey`, `jwt`, `mtls`): `auth_method`. */
  authMethod: string;
}

export interface AssertionSignerOptions {
  /** `iss`: the gateway's identifier, as upstreams are configured to expect it. */
  issuer: string;
  /** Default 60; an integer from 1 to 300. */
  lifetimeSeconds?: number;
  /** Clock in epoch milliseconds (default Date.now); tests freeze it. */
  now?: () => number;
}

export interface AssertionSigner {
  /** A compact JWS (three base64url parts). Throws TypeError on claims that cannot be encoded faithfully. */
  sign(c: AssertionClaims): string;
}

export interface VerifyAssertionOptions {
  issuer: string;
  audience: string;
  /** Allowed clock skew for `exp`, in seconds (default 0). */
  clockToleranceSeconds?: number;
  /** The verifier's "now" (default: the current time); tests freeze it. */
  currentDate?: Date;
}

// RFC 6749 §3.3: scope-token = 1*( %x21 / %x23-5B / %x5D-7E ). A space inside one scope would
// split it into two at the upstream, i.e. grant a scope that was never held.
const SCOPE_TOKEN = /^[\x21\x23-\x5B\x5D-\x7E]+$/;

/**
 * Creates the signer. Options are checked here, once; `sign` re-reads `keyset.active()` on every
 * call, so a keyset whose active key changes (a reloading holder) takes effect at the next request.
 *
 * @example
 * const signer = createAssertionSigner(keyset, { issuer: 'https://gateway.internal' });
 * headers['x-rampart-identity'] = signer.sign({ principal: 'alice-app', scopes: ['accounts:read'],
 *   audience: 'accounts-api', requestId: ctx.requestId, authMethod: 'apikey' });
 */
export function createAssertionSigner(keyset: Keyset, opts: AssertionSignerOptions): AssertionSigner {
  if (!keyset || typeof keyset.active !== 'function') throw new TypeError('createAssertionSigner needs a keyset');
  const { issuer } = opts;
  if (typeof issuer !== 'string' || issuer === '') throw new TypeError('issuer must be a non-empty string');
  const lifetime = opts.lifetimeSeconds ?? DEFAULT_ASSERTION_LIFETIME_SECONDS;
  if (!Number.isInteger(lifetime) || lifetime < 1 || lifetime > MAX_ASSERTION_LIFETIME_SECONDS) {
    throw new RangeError(`lifetimeSeconds must be an integer from 1 to ${MAX_ASSERTION_LIFETIME_SECONDS}`);
  }
  const now = opts.now ?? Date.now;
  // The encoded header of the key that signed last; rebuilt only when the active kid changes.
  let headerKid: string | undefined;
  let headerB64 = '';

  return {
    sign(c: AssertionClaims): string {
      checkClaims(c);
      const key = keyset.active();
      if (key.kid !== headerKid) {
        if (key.privateKey.asymmetricKeyType !== 'ed25519') throw new TypeError('the active signing key is not an Ed25519 key');
        headerB64 = b64json({ alg: 'EdDSA', typ: ASSERTION_TYP, kid: key.kid });
        headerKid = key.kid;
      }
      const ms = now();
      if (!Number.isFinite(ms)) throw new TypeError('the clock returned a non-finite time');
      const iat = Math.floor(ms / 1000);
      // Claim order is fixed; optional claims appear only when set (no nulls for an upstream to misread).
      const payload: Record<string, unknown> = { iss: issuer, sub: c.principal, aud: c.audience, iat, exp: iat + lifetime, jti: c.requestId, scope: c.scopes.join(' ') };
      if (c.subject !== undefined) payload.subject_id = c.subject;
      if (c.keyId !== undefined) payload.key_id = c.keyId;
      payload.auth_method = c.authMethod;
      const signingInput = `${headerB64}.${b64json(payload)}`;
      // RFC 8037 §3.1: EdDSA signs the JWS signing input itself (no pre-hash, hence `null`).
      const signature = ed25519Sign(null, Buffer.from(signingInput, 'latin1'), key.privateKey);
      return `${signingInput}.${signature.toString('base64url')}`;
    },
  };
}

/**
 * Verifies an assertion as an upstream would, with jose: EdDSA only, explicit `typ`, issuer,
 * audience, and `sub`, `exp`, `iat`, `jti` present. Rejects with jose's errors (`code` such as
 * ERR_JWT_EXPIRED, ERR_JWS_SIGNATURE_VERIFICATION_FAILED, ERR_JOSE_ALG_NOT_ALLOWED).
 *
 * @example
 * const payload = await verifyAssertion(token, keyset.jwks(), { issuer: 'https://gateway.internal', audience: 'accounts-api' });
 */
export async function verifyAssertion(token: string, jwks: { keys: JsonWebKey[] }, opts: VerifyAssertionOptions): Promise<JWTPayload> {
  const keys = createLocalJWKSet(jwks as JSONWebKeySet);
  const { payload } = await jwtVerify(token, keys, {
    algorithms: ['EdDSA'],
    typ: ASSERTION_TYP,
    issuer: opts.issuer,
    audience: opts.audience,
    requiredClaims: ['sub', 'exp', 'iat', 'jti'],
    clockTolerance: opts.clockToleranceSeconds ?? 0,
    ...(opts.currentDate ? { currentDate: opts.currentDate } : {}),
  });
  return payload;
}

function b64json(v: unknown): string {
  return Buffer.from(JSON.stringify(v), 'utf8').toString('base64url');
}

/** Caller misuse is a TypeError that names the claim, never its value (it can be personal data). */
function checkClaims(c: AssertionClaims): void {
  if (!nonEmpty(c.principal)) throw new TypeError('assertion claim "principal" must be a non-empty string');
  if (!nonEmpty(c.audience)) throw new TypeError('assertion claim "audience" must be a non-empty string');
  if (!nonEmpty(c.requestId)) throw new TypeError('assertion claim "requestId" must be a non-empty string');
  if (!nonEmpty(c.authMethod)) throw new TypeError('assertion claim "authMethod" must be a non-empty string');
  if (c.subject !== undefined && !nonEmpty(c.subject)) throw new TypeError('assertion claim "subject" must be a non-empty string when set');
  if (c.keyId !== undefined && !nonEmpty(c.keyId)) throw new TypeError('assertion claim "keyId" must be a non-empty string when set');
  if (!Array.isArray(c.scopes)) throw new TypeError('assertion claim "scopes" must be an array');
  for (const s of c.scopes) {
    if (typeof s !== 'string' || !SCOPE_TOKEN.test(s)) throw new TypeError('assertion claim "scopes" holds a value that is not an RFC 6749 scope-token');
  }
}

function nonEmpty(v: unknown): v is string {
  return typeof v === 'string' && v !== '';
}
