/**
 * Rampart's own OAuth 2.0 access tokens (client-credentials grant, RFC 6749 §4.4), as JWTs in the
 * RFC 9068 profile: `typ: at+jwt`, EdDSA with the gateway's signing keys (./keyset.ts), `aud` the
 * one API the token is for, a short lifetime (N63-3's spirit for machines: an expiring credential
 * limits the window of a leak), scopes narrowed to what was asked and granted.
 *
 *   header  { "alg": "EdDSA", "typ": "at+jwt", "kid": "<key thumbprint>" }
 *   payload { "iss", "sub": "<client id>", "client_id", "aud": "<API>", "iat", "exp", "jti", "scope" }
 *
 * Verification is synchronous (node:crypto Ed25519, tens of microseconds) and cached per token
 * string until the token expires, so the per-request cost is a map lookup (DESIGN.md CPU budget).
 * The client behind a token is re-checked on every request by the caller (its key may have been
 * revoked since), and a revoked jti is refused even from the cache.
 */
import { randomUUID } from 'node:crypto';
import { createCompactJws } from './compact-jws.js';
import type { Keyset } from './keyset.js';

export const ACCESS_TOKEN_TYP = 'at+jwt';
/** The longest lifetime a configuration may give access tokens: 15 minutes. */
export const MAX_TOKEN_LIFETIME_SECONDS = 900;

export interface IssueRequest {
  /** The client (an API key's id). */
  clientId: string;
  /** Scopes granted, already narrowed to those requested. */
  scopes: readonly string[];
  /** The API the token is for (its name in rampart.yaml). */
  audience: string;
  /** RFC 8705: bind the token to this client certificate (x5t#S256), when one was used. */
  certThumbprint?: string;
}

export interface IssuedToken {
  token: string;
  jti: string;
  /** Seconds (RFC 6749 §5.1 expires_in). */
  expiresIn: number;
  /** Epoch ms. */
  expiresAt: number;
}

export interface AccessTokenClaims {
  clientId: string;
  audience: string;
  scopes: string[];
  jti: string;
  /** Epoch ms. */
  expiresAt: number;
  /** RFC 8705 `cnf.x5t#S256`: usable only over a connection with this client certificate. */
  certThumbprint?: string;
}

export type TokenCheck = { ok: true; claims: AccessTokenClaims } | { ok: false; reason: 'malformed' | 'not-ours' | 'bad-signature' | 'expired' | 'not-yet-valid' | 'wrong-issuer' | 'revoked' };

export interface AccessTokens {
  issue(r: IssueRequest): IssuedToken;
  /**
   * Checks a presented token: `not-ours` when it is not a JWT signed by one of this gateway's
   * keys (another issuer may know it). The audience is the caller's to compare.
   */
  check(token: string): TokenCheck;
  /** Marks a token id revoked until `expiresAt` (RFC 7009); cached verifications honour it at once. */
  revoke(jti: string, expiresAt: number): void;
}

const SCOPE_TOKEN = /^[\x21\x23-\x5B\x5D-\x7E]+$/;
const CLOCK_SKEW_S = 5;

export function createAccessTokens(keyset: Keyset, opts: { issuer: string; lifetimeSeconds: number; now?: () => number; cacheEntries?: number }): AccessTokens {
  const { issuer } = opts;
  if (!Number.isInteger(opts.lifetimeSeconds) || opts.lifetimeSeconds < 1 || opts.lifetimeSeconds > MAX_TOKEN_LIFETIME_SECONDS) {
    throw new RangeError(`access token lifetime must be an integer from 1 to ${MAX_TOKEN_LIFETIME_SECONDS} seconds`);
  }
  const now = opts.now ?? Date.now;
  const maxEntries = opts.cacheEntries ?? 10_000;
  const verified = new Map<string, AccessTokenClaims>();
  const revoked = new Map<string, number>();
  const jws = createCompactJws(keyset, now);

  function pruneRevoked(t: number): void {
    for (const [jti, exp] of revoked) if (exp <= t) revoked.delete(jti);
  }

  return {
    issue(r) {
      if (!r.clientId) throw new TypeError('clientId is required');
      if (!r.audience) throw new TypeError('audience is required');
      for (const s of r.scopes) if (!SCOPE_TOKEN.test(s)) throw new TypeError('a scope is not an RFC 6749 scope-token');
      const iat = Math.floor(now() / 1000);
      const exp = iat + opts.lifetimeSeconds;
      const jti = randomUUID();
      const token = jws.sign(ACCESS_TOKEN_TYP, {
        iss: issuer, sub: r.clientId, client_id: r.clientId, aud: r.audience, iat, exp, jti, scope: r.scopes.join(' '),
        ...(r.certThumbprint !== undefined ? { cnf: { 'x5t#S256': r.certThumbprint } } : {}),
      });
      return { token, jti, expiresIn: opts.lifetimeSeconds, expiresAt: exp * 1000 };
    },

    check(token) {
      const t = now();
      const hit = verified.get(token);
      if (hit) {
        if (hit.expiresAt <= t) {
          verified.delete(token);
          return { ok: false, reason: 'expired' };
        }
        if (revoked.has(hit.jti)) return { ok: false, reason: 'revoked' };
        return { ok: true, claims: hit };
      }
      // Algorithm pinned by the key, never taken from the token (RFC 8725 §3.1): ./compact-jws.ts.
      const p = jws.verify(token, ACCESS_TOKEN_TYP);
      if (typeof p === 'string') return { ok: false, reason: p };
      if (p.iss !== issuer) return { ok: false, reason: 'wrong-issuer' };
      const { exp, iat, jti, client_id: clientId, aud, scope } = p;
      if (typeof exp !== 'number' || typeof iat !== 'number' || typeof jti !== 'string' || typeof clientId !== 'string' || typeof aud !== 'string' || typeof scope !== 'string') {
        return { ok: false, reason: 'malformed' };
      }
      if (exp * 1000 <= t) return { ok: false, reason: 'expired' };
      if (iat * 1000 > t + CLOCK_SKEW_S * 1000) return { ok: false, reason: 'not-yet-valid' };
      if (revoked.has(jti)) return { ok: false, reason: 'revoked' };
      const cnf = p.cnf as Record<string, unknown> | undefined;
      const bound = cnf !== undefined && typeof cnf === 'object' && cnf !== null ? cnf['x5t#S256'] : undefined;
      if (cnf !== undefined && typeof bound !== 'string') return { ok: false, reason: 'malformed' };
      const claims: AccessTokenClaims = { clientId, audience: aud, scopes: scope === '' ? [] : scope.split(' '), jti, expiresAt: exp * 1000, ...(typeof bound === 'string' ? { certThumbprint: bound } : {}) };
      if (verified.size >= maxEntries) {
        // Drop what has expired first; if still full, the oldest entry.
        for (const [k, v] of verified) if (v.expiresAt <= t) verified.delete(k);
        if (verified.size >= maxEntries) verified.delete(verified.keys().next().value!);
      }
      verified.set(token, claims);
      return { ok: true, claims };
    },

    revoke(jti, expiresAt) {
      const t = now();
      if (expiresAt <= t) return;
      if (revoked.size >= 100_000) pruneRevoked(t);
      revoked.set(jti, expiresAt);
    },

  };
}
