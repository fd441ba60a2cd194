/**
 * Stage `authenticate`: who is calling. Scoped API keys, presented as `Authorization: Bearer
 * <key>` (RFC 6750 §2.1) or in the header an apiKey scheme of the document names; Rampart's own
 * short-lived access tokens (client credentials, ../identity/token-endpoint.ts); and access
 * tokens of configured external issuers (OIDC). mTLS slots in as a further authenticator.
 *
 * - No credential on a secured operation: 401 RAMPART_AUTH_REQUIRED with WWW-Authenticate.
 * - Invalid, expired or revoked: 401 RAMPART_AUTH_INVALID, and the address's failure count grows
 *   (N63-5). The client is not told which of these it was; the ledger and logs are.
 * - More than one credential: refused, so two components never disagree about who called.
 * Credential headers are always marked so the proxy never forwards them (DESIGN: proxy).
 */
import type { Principal } from '../core/context.js';
import { parseKey } from '../keys/format.js';
import { deny, type Stage } from '../core/stage.js';
import type { KeyCache } from '../keys/cache.js';
import type { OperationModel } from '../openapi/types.js';
import type { ApiKeyRecord } from '../storage/types.js';
import type { AuthThrottle } from './auth-throttle.js';
import type { AccessTokens } from '../identity/access-tokens.js';
import type { ClientCertificates } from '../identity/client-certs.js';
import type { ExternalIssuers, VerifiedToken } from '../identity/external-issuers.js';

const BEARER = /^Bearer +([A-Za-z0-9\-._~+/]+=*) *$/i;
const CHALLENGE = 'Bearer realm="rampart"';

/** What the stage needs from external issuers (../identity/external-issuers.ts). */
export type ExternalTokenVerifier = Pick<ExternalIssuers, 'issuerOf' | 'cached' | 'verify'>;
type ExternalToken = VerifiedToken;

/** A compact JWS: three base64url parts, the first a JSON object ("eyJ"). API keys start with rmpk_. */
function looksLikeJwt(s: string): boolean {
  if (!s.startsWith('eyJ')) return false;
  const a = s.indexOf('.');
  const b = a === -1 ? -1 : s.indexOf('.', a + 1);
  return b !== -1 && s.indexOf('.', b + 1) === -1;
}

export function createAuthenticateStage(keys: KeyCache, throttle: AuthThrottle, tokens?: AccessTokens, external?: ExternalTokenVerifier, certs?: ClientCertificates): Stage {
  const invalid = (ctx: Parameters<Stage['run']>[0], cause: string) => {
    throttle.fail(ctx.clientAddress);
    return deny('RAMPART_AUTH_INVALID', { headers: { 'www-authenticate': `${CHALLENGE}, error="invalid_token"` }, cause });
  };

  /**
   * Bearer tokens: Rampart's own access tokens (verified synchronously, cached per token; the
   * client key behind one is re-checked every time, so revoking the key ends its tokens), then
   * a configured external issuer's (cached; a miss verifies asynchronously through its JWKS).
   * A token for another API is refused (audience, RFC 9068 §4).
   */
  function authToken(ctx: Parameters<Stage['run']>[0], token: string) {
    if (tokens) {
      const c = tokens.check(token);
      if (c.ok) {
        if (c.claims.audience !== ctx.api!.name) return invalid(ctx, 'wrong-audience');
        // RFC 8705: a certificate-bound token works only over a connection with that certificate.
        if (c.claims.certThumbprint !== undefined) {
          const cert = certs?.of(ctx.req.socket);
          if (cert === undefined || cert === 'untrusted' || cert.thumbprint !== c.claims.certThumbprint) return invalid(ctx, 'token-cert-mismatch');
        }
        const k = keys.client(c.claims.clientId);
        if (!k.ok) {
          if (k.reason === 'unavailable') return deny('RAMPART_AUTH_UNAVAILABLE', { headers: { 'retry-after': '5' } });
          return invalid(ctx, `client-${k.reason}`);
        }
        ctx.principal = tokenPrincipalOf(k.key, c.claims.scopes);
        return undefined;
      }
      if (c.reason !== 'not-ours') return invalid(ctx, `token-${c.reason}`);
    }
    if (!external || external.issuerOf(token) === undefined) return invalid(ctx, 'token-unknown-issuer');
    const hit = external.cached(token);
    if (hit) {
      ctx.principal = externalPrincipalOf(hit);
      return undefined;
    }
    return external.verify(token).then(
      (v) => {
        ctx.principal = externalPrincipalOf(v);
        return undefined;
      },
      (err: unknown) => {
        const reason = (err as { reason?: unknown }).reason;
        if (reason === 'jwks-unavailable') return deny('RAMPART_AUTH_UNAVAILABLE', { headers: { 'retry-after': '5' } });
        return invalid(ctx, `token-${typeof reason === 'string' ? reason : 'invalid'}`);
      },
    );
  }

  return {
    name: 'authenticate',
    run(ctx) {
      const api = ctx.api!;
      const op = ctx.operation!;
      const h = ctx.req.headers;
      const found: string[] = [];
      const names: string[] = [];
      const auth = h.authorization;
      // eslint-disable-next-line security/detect-possible-timing-attacks -- a presence check against undefined, not a comparison of the credential's value
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
      // mTLS: an operation that requires a client certificate refuses a connection without a
      // valid one, whatever else it presents.
      const mode = certModeOf(op, api.config.operations[op.id]?.requireClientCertificate === true);
      const cert = certs && mode !== 'none' ? certs.of(ctx.req.socket) : undefined;
      if (mode === 'required' && (cert === undefined || cert === 'untrusted')) {
        return deny('RAMPART_CLIENT_CERT_REQUIRED', { cause: cert === 'untrusted' ? 'cert-untrusted' : 'no-cert' });
      }
      if (op.security.length === 0) {
        ctx.principal = ANONYMOUS;
        return undefined;
      }
      if (found.length === 0) {
        // A mutualTLS-only alternative is satisfied by the certificate alone.
        if (cert !== undefined && cert !== 'untrusted' && certOnly(op)) {
          ctx.principal = certs!.principalOf(cert.identity);
          return undefined;
        }
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
      if (looksLikeJwt(found[0]!)) return authToken(ctx, found[0]!);
      const check = keys.check(found[0]!);
      if (!check.ok) {
        if (check.reason === 'unavailable') return deny('RAMPART_AUTH_UNAVAILABLE', { headers: { 'retry-after': '5' } });
        throttle.fail(ctx.clientAddress);
        // A wrong secret for a real key id: the anomaly model counts failures per key (a key
        // attacked from many addresses). Ids that exist only; a guessed id names nothing.
        if (check.reason === 'mismatch' || check.reason === 'revoked' || check.reason === 'expired') ctx.presentedKeyId = parseKey(found[0]!)?.id;
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

/**
 * Whether an operation involves client certificates: `required` when every security alternative
 * of the document names a mutualTLS scheme or the configuration requires one; `optional` when
 * some alternative does; otherwise `none` (no certificate is looked at).
 */
const certModes = new WeakMap<OperationModel, 'required' | 'optional' | 'none'>();
function certModeOf(op: OperationModel, configRequires: boolean): 'required' | 'optional' | 'none' {
  let m = certModes.get(op);
  if (m === undefined) {
    const has = op.security.map((alt) => alt.schemes.some((sch) => sch.type === 'mutualTLS'));
    m = configRequires || (has.length > 0 && has.every(Boolean)) ? 'required' : has.some(Boolean) ? 'optional' : 'none';
    certModes.set(op, m);
  }
  return m;
}

/** Some alternative consists of mutualTLS schemes only: a certificate alone authenticates. */
function certOnly(op: OperationModel): boolean {
  return op.security.some((alt) => alt.schemes.length > 0 && alt.schemes.every((sch) => sch.type === 'mutualTLS'));
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

// Token principals: one per (key record, granted scopes); the scopes are those of the token that
// the key still holds (a key whose scopes were reduced since narrows its live tokens too).
const tokenPrincipals = new WeakMap<ApiKeyRecord, Map<string, Principal>>();
function tokenPrincipalOf(k: ApiKeyRecord, scopes: readonly string[]): Principal {
  let byScopes = tokenPrincipals.get(k);
  if (!byScopes) {
    byScopes = new Map();
    tokenPrincipals.set(k, byScopes);
  }
  const sig = scopes.join(' ');
  let base = byScopes.get(sig);
  if (!base) {
    const held = new Set(k.scopes);
    base = { name: k.name, subject: k.subject, keyId: k.id, authMethod: 'access-token', scopes: new Set(scopes.filter((s) => held.has(s))), key: k };
    if (byScopes.size < 64) byScopes.set(sig, base);
  }
  return base;
}

// Verified external tokens come from the issuer module's cache as the same object each time.
const externalPrincipals = new WeakMap<ExternalToken, Principal>();
function externalPrincipalOf(v: ExternalToken): Principal {
  let p = externalPrincipals.get(v);
  if (!p) {
    p = { name: v.principal, subject: v.subject, authMethod: 'external-token', scopes: new Set(v.scopes), issuer: v.issuer, ...(v.tokenId !== undefined ? { tokenId: v.tokenId } : {}) };
    externalPrincipals.set(v, p);
  }
  return p;
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
