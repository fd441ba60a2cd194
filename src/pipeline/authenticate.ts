/**
 * Stage `authenticate`: who is calling. Scoped API keys in this version, presented as
 * `Authorization: Bearer <key>` (RFC 6750 §2.1) or in the header an apiKey scheme of the
 * document names. Tokens, OIDC and mTLS slot in as further authenticators with the identity work.
 *
 * - No credential on a secured operation: 401 RAMPART_AUTH_REQUIRED with WWW-Authenticate.
 * - Invalid, expired or revoked: 401 RAMPART_AUTH_INVALID, and the address's failure count grows
 *   (N63-5). The client is not told which of these it was; the ledger and logs are.
 * - More than one credential: refused, so two components never disagree about who called.
 * Credential headers are always marked so the proxy never forwards them (DESIGN: proxy).
 */
import type { Principal } from '../core/context.js';
import { deny, type Stage } from '../core/stage.js';
import type { KeyCache } from '../keys/cache.js';
import type { OperationModel } from '../openapi/types.js';
import type { ApiKeyRecord } from '../storage/types.js';
import type { AuthThrottle } from './auth-throttle.js';

const BEARER = /^Bearer +([A-Za-z0-9\-._~+/]+=*) *$/i;
const CHALLENGE = 'Bearer realm="rampart"';

export function createAuthenticateStage(keys: KeyCache, throttle: AuthThrottle): Stage {
  return {
    name: 'authenticate',
    run(ctx) {
      const api = ctx.api!;
      const op = ctx.operation!;
      const h = ctx.req.headers;
      const found: string[] = [];
      const names: string[] = [];
      const auth = h.authorization;
      if (auth !== undefined) {
        names.push('authorization');
        const m = BEARER.exec(auth);
        found.push(m ? m[1]! : '');
      }
      for (const name of api.apiKeyHeaders) {
        const v = h[name];
        if (v === undefined) continue;
        names.push(name);
        found.push(Array.isArray(v) ? '' : v);
      }
      ctx.credentialHeaders = names;
      if (op.security.length === 0) {
        ctx.principal = ANONYMOUS;
        return undefined;
      }
      if (found.length === 0) {
        // `security: [{}, ...]`: an alternative with no scheme makes authentication optional
        // (OpenAPI 3.x Security Requirement Object); a credential, when sent, is still checked.
        if (optionalAuth(op)) {
          ctx.principal = ANONYMOUS;
          return undefined;
        }
        return deny('RAMPART_AUTH_REQUIRED', { headers: { 'www-authenticate': CHALLENGE } });
      }
      if (found.length > 1 || found[0] === '') {
        throttle.fail(ctx.clientAddress);
        return deny('RAMPART_AUTH_INVALID', {
          detail: found.length > 1 ? 'Present exactly one credential.' : 'The Authorization header must use the Bearer scheme.',
          headers: { 'www-authenticate': `${CHALLENGE}, error="invalid_request"` },
          cause: found.length > 1 ? 'ambiguous' : 'not-bearer',
        });
      }
      const check = keys.check(found[0]!);
      if (!check.ok) {
        if (check.reason === 'unavailable') return deny('RAMPART_AUTH_UNAVAILABLE', { headers: { 'retry-after': '5' } });
        throttle.fail(ctx.clientAddress);
        return deny('RAMPART_AUTH_INVALID', {
          headers: { 'www-authenticate': `${CHALLENGE}, error="invalid_token"` },
          cause: check.reason,
        });
      }
      const k = check.key;
      // One shape per key, built once: no per-request allocation on the hot path.
      ctx.principal = principalOf(k);
      return undefined;
    },
  };
}

const optional = new WeakMap<OperationModel, boolean>();
function optionalAuth(op: OperationModel): boolean {
  let v = optional.get(op);
  if (v === undefined) {
    v = op.security.some((alt) => alt.schemes.length === 0);
    optional.set(op, v);
  }
  return v;
}

const ANONYMOUS: Principal = { name: 'anonymous', authMethod: 'none', scopes: new Set() };

// Principals (with their scope sets) are built once per key record, not per request; a changed
// key arrives as a new record object from the key cache, so the entry follows it.
const principals = new WeakMap<ApiKeyRecord, Principal>();
function principalOf(k: ApiKeyRecord): Principal {
  let p = principals.get(k);
  if (!p) {
    p = { name: k.name, subject: k.subject, keyId: k.id, authMethod: 'api-key', scopes: new Set(k.scopes), key: k };
    principals.set(k, p);
  }
  return p;
}
