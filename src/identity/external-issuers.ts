/**
 * Access tokens (JWTs) from the firm's own identity providers: OAuth 2.0 client-credentials
 * tokens and OIDC access tokens (RFC 9068 `at+jwt`), verified against each configured issuer's
 * JWKS (RFC 8725 practices).
 *
 * - Only configured issuers exist. A token's unverified `iss` only selects one of them (exact
 *   string match); it never names a URL to fetch. The JWKS URL comes from configuration: https,
 *   or http on a loopback host.
 * - The algorithm comes from the configured allowlist (asymmetric only), checked before any key
 *   is looked at: `none` and HS* can never reach a verification, so an RSA public key can never
 *   be used as an HMAC secret.
 * - The JWKS is jose's remote set: cached (`jwksCacheMaxAgeMs`), refetched on an unknown kid at
 *   most once per `jwksCooldownMs`, each fetch bounded in time (`jwksTimeoutMs`) and size
 *   (MAX_JWKS_BYTES); after a failed fetch the next attempt waits `min(jwksCooldownMs, 5 s)`
 *   (on `opts.now`), so a failing provider is not hammered by tokens with made-up kids.
 * - Claims: `iss` exact, one accepted `aud`, `exp` and `iat` required, `nbf` honoured, all with
 *   the configured skew; `iat` not in the future beyond the skew; `exp - iat` within the
 *   configured maximum lifetime. `typ` absent, `JWT` or `at+jwt`.
 * - Verified tokens are cached (LRU, keyed by the token string) until `exp` (+ skew), re-checked
 *   against the clock on every hit, so a repeated token costs a map lookup. Failures are never
 *   cached. Concurrent verifications of one token share one signature check.
 *
 * Revocation: the result carries `tokenId` (jti) so the caller refuses revoked tokens on every
 * request, cache hit or not, exactly as for Rampart's own tokens (./access-tokens.ts).
 */
import { createRemoteJWKSet, customFetch, errors, jwtVerify } from 'jose';
import type { FetchImplementation, JWTPayload, JWTVerifyGetKey, RemoteJWKSet } from 'jose';
import { isIPv4 } from 'node:net';

export interface ExternalIssuerConfig {
  /** Exact `iss` value. */
  issuer: string;
  /** https URL of the JWKS (http allowed only for loopback hosts: 127.0.0.0/8, ::1, localhost). */
  jwksUri: string;
  /** Accepted `aud` values (at least one must be in the token's aud). */
  audiences: string[];
  /** Allowlist; only asymmetric algorithms: RS256, PS256, ES256, ES384, EdDSA. Never 'none', never HS*. */
  algorithms: string[];
  /** Allowed clock skew in seconds (0..300). */
  clockSkewSeconds: number;
  /** Longest accepted exp - iat, seconds (tokens without iat are refused). */
  maxLifetimeSeconds: number;
  claims: {
    /** Claim naming the principal (default 'sub'); client_id for client-credentials tokens is common. */
    principal: string;
    /** Claim naming the data subject (customer/tenant), optional. */
    subject?: string;
    /** Claim holding scopes: a space-separated string ('scope') or an array ('scp', 'roles'). */
    scopes: string;
  };
}

export interface VerifiedToken {
  issuer: string;
  principal: string;
  subject?: string;
  scopes: string[];
  /** exp in epoch ms. */
  expiresAt: number;
  /** jti when present. */
  tokenId?: string;
  audience: string[];
}

export type TokenFailure =
  | 'malformed'
  | 'unknown-issuer'
  | 'alg-not-allowed'
  | 'bad-signature'
  | 'unknown-key'
  | 'expired'
  | 'not-yet-valid'
  | 'issued-in-future'
  | 'lifetime-too-long'
  | 'wrong-audience'
  | 'missing-claim'
  | 'jwks-unavailable';

/** A refused token. The message never quotes the token or its claims. */
export class TokenRejected extends Error {
  readonly reason: TokenFailure;
  constructor(reason: TokenFailure, message?: string) {
    super(message ?? `token rejected: ${reason}`);
    this.name = 'TokenRejected';
    this.reason = reason;
  }
}

export interface ExternalIssuers {
  /** The unverified `iss` of a compact JWT when it is one of the configured issuers, else undefined (cheap: no signature work). */
  issuerOf(token: string): string | undefined;
  /** Verifies; resolves a VerifiedToken or rejects with TokenRejected. Verified tokens are cached (bounded LRU, keyed by the token string) until exp, so a repeated token costs a map lookup; a cached entry is re-checked against the clock on each hit. */
  verify(token: string): Promise<VerifiedToken>;
  /** Synchronous cache hit (undefined on a miss or an expired entry): lets the caller stay synchronous on the hot path. */
  cached(token: string): VerifiedToken | undefined;
}

/** The only algorithms an external issuer may be configured with (asymmetric, RFC 7518 / RFC 8037). */
const ALLOWED_EXTERNAL_ALGORITHMS: readonly string[] = Object.freeze(['RS256', 'PS256', 'ES256', 'ES384', 'EdDSA']);
/** Longest compact token accepted (characters); bigger is refused as malformed before any parsing. */
const MAX_TOKEN_CHARS = 16 * 1024;
/** Largest JWKS document accepted from an issuer. */
const MAX_JWKS_BYTES = 256 * 1024;
/** Cap of the pause after a failed JWKS fetch (the pause is min(jwksCooldownMs, this)). */
const MAX_FAILURE_BACKOFF_MS = 5_000;
const MAX_CLOCK_SKEW_S = 300;
const ACCEPTED_TYP = new Set(['jwt', 'at+jwt', 'application/jwt', 'application/at+jwt']);
const B64URL = /^[A-Za-z0-9_-]*$/;

interface IssuerState {
  readonly issuer: string;
  readonly algorithms: ReadonlySet<string>;
  readonly algorithmList: string[];
  readonly audiences: string[];
  readonly skew: number;
  readonly maxLifetime: number;
  readonly principalClaim: string;
  readonly subjectClaim: string | undefined;
  readonly scopesClaim: string;
  readonly getKey: JWTVerifyGetKey;
}

interface CacheEntry {
  readonly token: VerifiedToken;
  /** Epoch ms from which the token is acceptable (nbf / iat less the skew). */
  readonly validFrom: number;
  /** Epoch ms from which the token is refused (exp plus the skew). */
  readonly validUntil: number;
}

/** Marks an error raised while obtaining the issuer's keys (fetch, timeout, bad document). */
class JwksUnavailable extends Error {}

export function createExternalIssuers(
  configs: readonly ExternalIssuerConfig[],
  opts: { now?: () => number; cacheEntries?: number; jwksTimeoutMs?: number; jwksCooldownMs?: number; jwksCacheMaxAgeMs?: number } = {},
): ExternalIssuers {
  const now = opts.now ?? Date.now;
  const maxEntries = intOption('cacheEntries', opts.cacheEntries, 10_000, 0);
  const timeoutMs = intOption('jwksTimeoutMs', opts.jwksTimeoutMs, 5_000, 1);
  const cooldownMs = intOption('jwksCooldownMs', opts.jwksCooldownMs, 30_000, 0);
  const cacheMaxAgeMs = intOption('jwksCacheMaxAgeMs', opts.jwksCacheMaxAgeMs, 600_000, 0);
  const failureBackoffMs = Math.min(cooldownMs, MAX_FAILURE_BACKOFF_MS);

  if (!Array.isArray(configs)) throw new TypeError('external issuers: configs must be an array');
  const issuers = new Map<string, IssuerState>();
  for (const [i, cfg] of configs.entries()) {
    const state = buildIssuer(cfg, i, { now, timeoutMs, cooldownMs, cacheMaxAgeMs, failureBackoffMs });
    if (issuers.has(state.issuer)) throw new TypeError(`external issuer ${i}: issuer ${JSON.stringify(state.issuer)} is configured twice`);
    issuers.set(state.issuer, state);
  }

  const cache = new Map<string, CacheEntry>();
  const inflight = new Map<string, Promise<VerifiedToken>>();

  /** A live cache entry (moved to the LRU tail), or undefined; a stale entry is dropped. */
  function hit(token: string): VerifiedToken | undefined {
    const entry = cache.get(token);
    if (entry === undefined) return undefined;
    const t = now();
    cache.delete(token);
    if (t < entry.validFrom || t >= entry.validUntil) return undefined;
    cache.set(token, entry);
    return entry.token;
  }

  function remember(tokenString: string, entry: CacheEntry): void {
    if (maxEntries === 0) return;
    cache.delete(tokenString);
    while (cache.size >= maxEntries) {
      const oldest = cache.keys().next();
      if (oldest.done) break;
      cache.delete(oldest.value);
    }
    cache.set(tokenString, entry);
  }

  async function verifyUncached(token: string): Promise<VerifiedToken> {
    const decoded = decodeUnverified(token);
    if (decoded === undefined) throw new TokenRejected('malformed', 'not a compact JWS with JSON header and claims');
    const { header, payload } = decoded;
    const iss = payload.iss;
    const state = typeof iss === 'string' ? issuers.get(iss) : undefined;
    if (state === undefined) throw new TokenRejected('unknown-issuer', 'the token is not from a configured issuer');
    // Refused before any key is looked at (RFC 8725 §3.1): `none`, HS* and anything unlisted.
    if (typeof header.alg !== 'string' || !state.algorithms.has(header.alg)) {
      throw new TokenRejected('alg-not-allowed', `algorithm not allowed for issuer ${state.issuer}`);
    }
    if (header.typ !== undefined && (typeof header.typ !== 'string' || !ACCEPTED_TYP.has(header.typ.toLowerCase()))) {
      throw new TokenRejected('malformed', 'typ must be absent, JWT or at+jwt');
    }
    const t = now();
    const nowS = Math.floor(t / 1000);
    // Cheap refusal of a stale token (the common replay) before signature work or a key fetch.
    // Same rule jose applies below, so it never refuses what jose would accept.
    if (typeof payload.exp === 'number' && payload.exp <= nowS - state.skew) throw new TokenRejected('expired', 'the token has expired');

    let claims: JWTPayload;
    try {
      const result = await jwtVerify(token, state.getKey, {
        algorithms: state.algorithmList,
        issuer: state.issuer,
        audience: state.audiences,
        clockTolerance: state.skew,
        currentDate: new Date(t),
        requiredClaims: ['exp', 'iat'],
      });
      claims = result.payload;
    } catch (err) {
      throw mapError(err);
    }

    const exp = claims.exp!;
    const iat = claims.iat!;
    if (iat > nowS + state.skew) throw new TokenRejected('issued-in-future', 'iat is in the future beyond the allowed clock skew');
    if (exp - iat > state.maxLifetime) throw new TokenRejected('lifetime-too-long', `token lifetime exceeds ${state.maxLifetime} s`);

    const principal = claims[state.principalClaim];
    if (typeof principal !== 'string' || principal === '') {
      throw new TokenRejected('missing-claim', `principal claim ${JSON.stringify(state.principalClaim)} is missing or not a string`);
    }
    let subject: string | undefined;
    if (state.subjectClaim !== undefined) {
      const s = claims[state.subjectClaim];
      if (s !== undefined) {
        if (typeof s !== 'string' || s === '') throw new TokenRejected('missing-claim', `subject claim ${JSON.stringify(state.subjectClaim)} is not a string`);
        subject = s;
      }
    }
    const scopes = readScopes(claims[state.scopesClaim]);
    if (scopes === undefined) throw new TokenRejected('missing-claim', `scope claim ${JSON.stringify(state.scopesClaim)} is neither a string nor an array of strings`);
    const aud: unknown = claims.aud;
    const audience = typeof aud === 'string' ? [aud] : Array.isArray(aud) && aud.every((a) => typeof a === 'string') ? [...(aud as string[])] : undefined;
    if (audience === undefined) throw new TokenRejected('malformed', 'aud must be a string or an array of strings');

    const verified: VerifiedToken = { issuer: state.issuer, principal, scopes, expiresAt: exp * 1000, audience };
    if (subject !== undefined) verified.subject = subject;
    if (typeof claims.jti === 'string') verified.tokenId = claims.jti;
    Object.freeze(verified.scopes);
    Object.freeze(verified.audience);
    Object.freeze(verified);

    const nbf = typeof claims.nbf === 'number' ? claims.nbf : iat;
    remember(token, {
      token: verified,
      validFrom: Math.ceil(Math.max(nbf, iat) - state.skew) * 1000,
      validUntil: Math.ceil(exp + state.skew) * 1000,
    });
    return verified;
  }

  return {
    issuerOf(token) {
      if (typeof token !== 'string' || token.length > MAX_TOKEN_CHARS) return undefined;
      const first = token.indexOf('.');
      const second = first < 0 ? -1 : token.indexOf('.', first + 1);
      if (second < 0) return undefined;
      const payload = parseSegment(token.slice(first + 1, second));
      const iss = payload?.iss;
      return typeof iss === 'string' && issuers.has(iss) ? iss : undefined;
    },

    cached(token) {
      return hit(token);
    },

    verify(token) {
      if (typeof token !== 'string') return Promise.reject(new TokenRejected('malformed', 'token must be a string'));
      const found = hit(token);
      if (found !== undefined) return Promise.resolve(found);
      const pending = inflight.get(token);
      if (pending !== undefined) return pending;
      const p = verifyUncached(token).finally(() => inflight.delete(token));
      inflight.set(token, p);
      return p;
    },
  };
}

function buildIssuer(
  cfg: ExternalIssuerConfig,
  i: number,
  o: { now: () => number; timeoutMs: number; cooldownMs: number; cacheMaxAgeMs: number; failureBackoffMs: number },
): IssuerState {
  const where = `external issuer ${i}`;
  if (cfg === null || typeof cfg !== 'object') throw new TypeError(`${where}: must be an object`);
  if (typeof cfg.issuer !== 'string' || cfg.issuer === '') throw new TypeError(`${where}: issuer must be a non-empty string`);
  const jwksUrl = checkJwksUri(cfg.jwksUri, where);
  if (!Array.isArray(cfg.audiences) || cfg.audiences.length === 0 || cfg.audiences.some((a) => typeof a !== 'string' || a === '')) {
    throw new TypeError(`${where}: audiences must be a non-empty list of non-empty strings`);
  }
  if (!Array.isArray(cfg.algorithms) || cfg.algorithms.length === 0) throw new TypeError(`${where}: algorithms must be a non-empty list`);
  for (const alg of cfg.algorithms) {
    if (typeof alg !== 'string') throw new TypeError(`${where}: algorithms must be strings`);
    if (alg.toLowerCase() === 'none') throw new TypeError(`${where}: algorithm 'none' is never allowed`);
    if (/^HS/i.test(alg)) throw new TypeError(`${where}: symmetric algorithm ${alg} is not allowed for an external issuer`);
    if (!ALLOWED_EXTERNAL_ALGORITHMS.includes(alg)) {
      throw new TypeError(`${where}: unknown algorithm ${JSON.stringify(alg)} (allowed: ${ALLOWED_EXTERNAL_ALGORITHMS.join(', ')})`);
    }
  }
  if (!Number.isInteger(cfg.clockSkewSeconds) || cfg.clockSkewSeconds < 0 || cfg.clockSkewSeconds > MAX_CLOCK_SKEW_S) {
    throw new TypeError(`${where}: clockSkewSeconds must be an integer from 0 to ${MAX_CLOCK_SKEW_S}`);
  }
  if (!Number.isInteger(cfg.maxLifetimeSeconds) || cfg.maxLifetimeSeconds < 1) throw new TypeError(`${where}: maxLifetimeSeconds must be a positive integer`);
  const claims = cfg.claims as Partial<ExternalIssuerConfig['claims']> | undefined;
  if (claims === null || typeof claims !== 'object') throw new TypeError(`${where}: claims must be an object`);
  const principalClaim = claims.principal ?? 'sub';
  if (typeof principalClaim !== 'string' || principalClaim === '') throw new TypeError(`${where}: claims.principal must be a non-empty string`);
  if (claims.subject !== undefined && (typeof claims.subject !== 'string' || claims.subject === '')) {
    throw new TypeError(`${where}: claims.subject must be a non-empty string when set`);
  }
  if (typeof claims.scopes !== 'string' || claims.scopes === '') throw new TypeError(`${where}: claims.scopes must be a non-empty string`);

  let lastFailure: number | undefined;
  const fetchJwks: FetchImplementation = async (url, init) => {
    if (lastFailure !== undefined && o.now() < lastFailure + o.failureBackoffMs) {
      throw new JwksUnavailable('the last JWKS fetch failed moments ago');
    }
    try {
      const res = await fetch(url, init);
      if (res.status !== 200) {
        await res.body?.cancel().catch(() => undefined);
        throw new JwksUnavailable(`JWKS answered HTTP ${res.status}`);
      }
      const text = await readBounded(res, MAX_JWKS_BYTES);
      const doc = JSON.parse(text) as unknown;
      if (!isRecord(doc) || !Array.isArray(doc.keys)) throw new JwksUnavailable('JWKS document has no keys array');
      lastFailure = undefined;
      return new Response(text, { status: 200, headers: { 'content-type': 'application/json' } });
    } catch (err) {
      lastFailure = o.now();
      throw err;
    }
  };
  const remote: RemoteJWKSet = createRemoteJWKSet(jwksUrl, {
    timeoutDuration: o.timeoutMs,
    cooldownDuration: o.cooldownMs,
    cacheMaxAge: o.cacheMaxAgeMs,
    [customFetch]: fetchJwks,
  });
  const getKey: JWTVerifyGetKey = async (header, token) => {
    try {
      return await remote(header, token);
    } catch (err) {
      if (err instanceof errors.JWKSNoMatchingKey || err instanceof errors.JWKSMultipleMatchingKeys) throw err;
      throw new JwksUnavailable('the issuer keys could not be obtained', { cause: err });
    }
  };

  return {
    issuer: cfg.issuer,
    algorithms: new Set(cfg.algorithms),
    algorithmList: [...cfg.algorithms],
    audiences: [...cfg.audiences],
    skew: cfg.clockSkewSeconds,
    maxLifetime: cfg.maxLifetimeSeconds,
    principalClaim,
    subjectClaim: claims.subject,
    scopesClaim: claims.scopes,
    getKey,
  };
}

function checkJwksUri(value: unknown, where: string): URL {
  if (typeof value !== 'string') throw new TypeError(`${where}: jwksUri must be a string`);
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new TypeError(`${where}: jwksUri is not a valid URL`);
  }
  if (url.username !== '' || url.password !== '') throw new TypeError(`${where}: jwksUri must not carry credentials`);
  if (url.protocol === 'https:') return url;
  if (url.protocol === 'http:' && isLoopbackHost(url.hostname)) return url;
  throw new TypeError(`${where}: jwksUri must be https (http only for a loopback host)`);
}

function isLoopbackHost(hostname: string): boolean {
  const h = hostname.toLowerCase();
  if (h === 'localhost' || h === '[::1]') return true;
  return isIPv4(h) && h.startsWith('127.');
}

function intOption(name: string, value: number | undefined, fallback: number, min: number): number {
  if (value === undefined) return fallback;
  if (!Number.isInteger(value) || value < min) throw new TypeError(`external issuers: ${name} must be an integer >= ${min}`);
  return value;
}

async function readBounded(res: Response, max: number): Promise<string> {
  const declared = res.headers.get('content-length');
  if (declared !== null && Number(declared) > max) {
    await res.body?.cancel().catch(() => undefined);
    throw new JwksUnavailable(`JWKS larger than ${max} bytes`);
  }
  if (res.body === null) return '';
  const reader = res.body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > max) {
      await reader.cancel().catch(() => undefined);
      throw new JwksUnavailable(`JWKS larger than ${max} bytes`);
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks).toString('utf8');
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function parseSegment(segment: string): Record<string, unknown> | undefined {
  if (segment === '' || !B64URL.test(segment)) return undefined;
  try {
    const v = JSON.parse(Buffer.from(segment, 'base64url').toString('utf8')) as unknown;
    return isRecord(v) ? v : undefined;
  } catch {
    return undefined;
  }
}

function decodeUnverified(token: string): { header: Record<string, unknown>; payload: Record<string, unknown> } | undefined {
  if (token.length > MAX_TOKEN_CHARS) return undefined;
  const parts = token.split('.');
  if (parts.length !== 3 || !B64URL.test(parts[2]!)) return undefined;
  const header = parseSegment(parts[0]!);
  const payload = parseSegment(parts[1]!);
  if (header === undefined || payload === undefined) return undefined;
  return { header, payload };
}

/** Scopes from a space-separated string or an array of strings; absent means none; anything else is undefined. */
function readScopes(v: unknown): string[] | undefined {
  if (v === undefined) return [];
  let list: string[];
  if (typeof v === 'string') list = v.split(' ').filter((s) => s !== '');
  else if (Array.isArray(v) && v.every((s) => typeof s === 'string')) list = (v as string[]).filter((s) => s !== '');
  else return undefined;
  return [...new Set(list)];
}

function mapError(err: unknown): TokenRejected {
  if (err instanceof TokenRejected) return err;
  if (err instanceof JwksUnavailable) return new TokenRejected('jwks-unavailable', err.message);
  if (err instanceof errors.JWTExpired) return new TokenRejected('expired', 'the token has expired');
  if (err instanceof errors.JWTClaimValidationFailed) {
    if (err.reason === 'missing') return new TokenRejected('missing-claim', `required claim ${JSON.stringify(err.claim)} is missing`);
    if (err.reason === 'invalid') return new TokenRejected('malformed', `claim ${JSON.stringify(err.claim)} has the wrong type`);
    switch (err.claim) {
      case 'aud':
        return new TokenRejected('wrong-audience', 'the token is not for an accepted audience');
      case 'iss':
        return new TokenRejected('unknown-issuer', 'the token is not from a configured issuer');
      case 'nbf':
        return new TokenRejected('not-yet-valid', 'the token is not valid yet (nbf)');
      case 'iat':
        return new TokenRejected('issued-in-future', 'iat is in the future beyond the allowed clock skew');
      default:
        return new TokenRejected('malformed', `claim ${JSON.stringify(err.claim)} failed validation`);
    }
  }
  if (err instanceof errors.JWSSignatureVerificationFailed) return new TokenRejected('bad-signature', 'signature verification failed');
  if (err instanceof errors.JWKSNoMatchingKey) return new TokenRejected('unknown-key', 'no key of the issuer matches the token (kid/alg)');
  if (err instanceof errors.JWKSMultipleMatchingKeys) return new TokenRejected('unknown-key', 'the token names no kid and several issuer keys match');
  if (err instanceof errors.JOSEAlgNotAllowed) return new TokenRejected('alg-not-allowed', 'algorithm not allowed');
  if (err instanceof errors.JWKSTimeout) return new TokenRejected('jwks-unavailable', 'JWKS fetch timed out');
  // JWSInvalid, JWTInvalid, JOSENotSupported (e.g. an unknown crit header) and anything unforeseen:
  // refused (fail closed) as malformed.
  return new TokenRejected('malformed', 'the token could not be verified');
}
