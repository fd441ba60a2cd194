/**
 * Short-lived, scoped admin tokens for automation and the CLI (issue 3): an admin who has proved
 * both factors mints one (`POST /admin/api/tokens`), limited to some of the actions their roles
 * allow and to at most an hour, and a script or `rampart` commands then call the admin API with
 * `Authorization: Bearer <token>`. Each use still names the admin (the token's `sub`), the admin
 * is re-read on every request (a disabled admin's tokens stop at once), and the token grants no
 * more than the admin's current roles.
 *
 * A JWT signed with the gateway's keys, with its own explicit type (RFC 8725 §3.11) and audience
 * so that it can never pass for an access token or an identity assertion:
 *   header  { "alg": "EdDSA", "typ": "rampart-admin+jwt", "kid" }
 *   payload { "iss", "aud": "rampart-admin", "sub": "<admin id>", "iat", "exp", "jti", "scope": "<actions>" }
 */
import { randomUUID } from 'node:crypto';
import { createCompactJws } from '../identity/compact-jws.js';
import type { Keyset } from '../identity/keyset.js';
import { ADMIN_ACTIONS, type AdminAction } from './roles.js';

export const ADMIN_TOKEN_TYP = 'rampart-admin+jwt';
export const ADMIN_TOKEN_AUDIENCE = 'rampart-admin';
export const MAX_ADMIN_TOKEN_MINUTES = 60;
const ACTIONS: ReadonlySet<string> = new Set(ADMIN_ACTIONS);

export interface AdminTokenClaims {
  userId: string;
  actions: AdminAction[];
  jti: string;
  expiresAt: number;
}

export interface AdminTokens {
  issue(userId: string, actions: readonly AdminAction[], minutes: number): { token: string; claims: AdminTokenClaims };
  /** The claims of a valid admin token, or undefined (not one, forged, expired). */
  check(token: string): AdminTokenClaims | undefined;
}

export function createAdminTokens(keyset: Keyset, issuer: string, now: () => number = Date.now): AdminTokens {
  const cache = new Map<string, AdminTokenClaims>();
  const jws = createCompactJws(keyset, now);
  return {
    issue(userId, actions, minutes) {
      if (!Number.isInteger(minutes) || minutes < 1 || minutes > MAX_ADMIN_TOKEN_MINUTES) throw new RangeError(`minutes must be 1-${MAX_ADMIN_TOKEN_MINUTES}`);
      const iat = Math.floor(now() / 1000);
      const claims: AdminTokenClaims = { userId, actions: [...actions], jti: randomUUID(), expiresAt: (iat + minutes * 60) * 1000 };
      const token = jws.sign(ADMIN_TOKEN_TYP, { iss: issuer, aud: ADMIN_TOKEN_AUDIENCE, sub: userId, iat, exp: iat + minutes * 60, jti: claims.jti, scope: actions.join(' ') });
      return { token, claims };
    },
    check(token) {
      const t = now();
      const hit = cache.get(token);
      if (hit) {
        if (hit.expiresAt > t) return hit;
        cache.delete(token);
        return undefined;
      }
      const verified = jws.verify(token, ADMIN_TOKEN_TYP);
      if (typeof verified === 'string') return undefined;
      const p = verified;
      if (p.iss !== issuer || p.aud !== ADMIN_TOKEN_AUDIENCE || typeof p.sub !== 'string' || typeof p.exp !== 'number' || typeof p.jti !== 'string' || typeof p.scope !== 'string') return undefined;
      if (p.exp * 1000 <= t) return undefined;
      const actions = p.scope.split(' ').filter((a) => ACTIONS.has(a)) as AdminAction[];
      const claims: AdminTokenClaims = { userId: p.sub, actions, jti: p.jti, expiresAt: p.exp * 1000 };
      if (cache.size > 10_000) cache.clear();
      cache.set(token, claims);
      return claims;
    },
  };
}
