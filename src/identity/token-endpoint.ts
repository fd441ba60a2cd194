/**
 * The OAuth 2.0 endpoints under the reserved prefix:
 *
 *   POST <prefix>/oauth/token    client-credentials grant (RFC 6749 §4.4) -> access token (./access-tokens.ts)
 *   POST <prefix>/oauth/revoke   token revocation (RFC 7009)
 *
 * A client is an API key: `client_id` is the key's id and `client_secret` the whole key, sent
 * with HTTP Basic (client_secret_basic, RFC 6749 §2.3.1) or in the form (client_secret_post); or,
 * for a key registered with a public key, a signed assertion instead of any secret
 * (private_key_jwt, RFC 7523).
 * The application then sends a 15-minute token on every request instead of its long-lived key,
 * and revoking the key ends the tokens it obtained at once (the authenticate stage re-checks
 * the client on every request).
 *
 * The audience is one API: `audience=<API name>`, or `resource=<URL under the API's mount>`
 * (RFC 8707); with a single API it may be omitted. Scopes are narrowed to those requested, which
 * must all be held by the key (`invalid_scope` otherwise).
 *
 * Failed client authentications count toward the address's throttle like any other (N63-5), and
 * every issuance, refusal and revocation is a ledger record (AU-2, R17a4-3): the token is
 * released only once its record is committed.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createPublicKey, randomUUID, type JsonWebKey, type KeyObject } from 'node:crypto';
import { jwtVerify } from 'jose';
import { parseB64Json } from './compact-jws.js';
import { verifiedCertThumbprint } from './client-certs.js';
import { readBody } from '../gateway/body.js';
import { applySecurityHeaders } from '../gateway/respond.js';
import { clientInfo } from '../gateway/client-address.js';
import type { GatewayRuntime } from '../gateway/runtime.js';
import type { KeyCache } from '../keys/cache.js';
import type { Ledger } from '../ledger/writer.js';
import type { AuthThrottle } from '../pipeline/auth-throttle.js';
import type { AccessTokens } from './access-tokens.js';

export interface TokenEndpointDeps {
  keys: KeyCache;
  tokens: AccessTokens;
  throttle: AuthThrottle;
  ledger: Ledger;
  tls: boolean;
}

type OAuthError = 'invalid_request' | 'invalid_client' | 'invalid_grant' | 'unauthorized_client' | 'unsupported_grant_type' | 'invalid_scope' | 'invalid_target' | 'temporarily_unavailable';

const MAX_FORM_BYTES = 8 * 1024;
const JWT_BEARER = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';

/** The one algorithm family the registered key can make (RFC 8725 §3.1: never the header's choice). */
function algorithmsFor(key: KeyObject): string[] {
  const t = key.asymmetricKeyType;
  if (t === 'ed25519') return ['EdDSA'];
  if (t === 'ec') return key.asymmetricKeyDetails?.namedCurve === 'secp384r1' ? ['ES384'] : ['ES256'];
  return ['RS256', 'PS256'];
}
const FORM = 'application/x-www-form-urlencoded';

export function createTokenEndpoint(deps: TokenEndpointDeps) {
  const { keys, tokens, throttle, ledger, tls } = deps;
  /** private_key_jwt assertion ids already used, until they expire (RFC 7523 §3, item 7). */
  const usedAssertions = new Map<string, number>();

  function send(res: ServerResponse, rt: GatewayRuntime, status: number, body: unknown, extra: Record<string, string> = {}): void {
    const text = JSON.stringify(body);
    applySecurityHeaders(res, rt.config.headers, tls, 'no-store');
    // RFC 6749 §5.1: no caching of token responses.
    res.setHeader('pragma', 'no-cache');
    res.setHeader('content-type', 'application/json');
    res.setHeader('content-length', Buffer.byteLength(text));
    for (const [k, v] of Object.entries(extra)) res.setHeader(k, v);
    res.writeHead(status);
    res.end(text);
  }

  function oauthError(res: ServerResponse, rt: GatewayRuntime, status: number, error: OAuthError, description: string, extra: Record<string, string> = {}): void {
    send(res, rt, status, { error, error_description: description }, extra);
  }

  async function record(rt: GatewayRuntime, o: { requestId: string; outcome: 'allow' | 'deny' | 'info'; status: number; reason: string; keyId?: string; clientAddress: string; detail: Record<string, string | number> }): Promise<void> {
    await ledger.append({
      type: 'security.event',
      requestId: o.requestId,
      outcome: o.outcome,
      status: o.status,
      stage: 'authenticate',
      reason: o.reason,
      ...(o.keyId !== undefined ? { keyId: o.keyId, authMethod: 'oauth-client' } : {}),
      configHash: rt.hash,
      detail: o.detail,
      personal: { clientAddress: o.clientAddress },
    });
  }

  /** Reads the form and authenticates the client; answers the error itself and returns undefined on failure. */
  async function clientAndForm(req: IncomingMessage, res: ServerResponse, rt: GatewayRuntime, requestId: string, client: string, event: string): Promise<{ form: URLSearchParams; keyId: string; scopes: string[] } | undefined> {
    const wait = throttle.retryAfter(client);
    if (wait > 0) {
      oauthError(res, rt, 429, 'invalid_request', 'Too many failed attempts; retry later.', { 'retry-after': String(wait) });
      return undefined;
    }
    const type = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
    if (type !== FORM) {
      oauthError(res, rt, 400, 'invalid_request', `The body must be ${FORM}.`);
      return undefined;
    }
    const body = await readBody(req, MAX_FORM_BYTES, Date.now() + rt.config.limits.requestTimeoutMs);
    if (!body.ok) {
      oauthError(res, rt, body.code === 'RAMPART_REQUEST_TIMEOUT' ? 408 : 413, 'invalid_request', 'The request body could not be read.');
      return undefined;
    }
    const form = new URLSearchParams(body.body.toString('utf8'));
    // RFC 6749 §3.2: parameters MUST NOT be included more than once.
    const names = [...form.keys()];
    if (new Set(names).size !== names.length) {
      oauthError(res, rt, 400, 'invalid_request', 'A parameter is repeated.');
      return undefined;
    }
    if (form.has('client_assertion') || form.has('client_assertion_type')) {
      const r = await assertedClient(req, rt, form);
      if (typeof r === 'string') {
        throttle.fail(client);
        await record(rt, { requestId, outcome: 'deny', status: 401, reason: 'RAMPART_AUTH_INVALID', clientAddress: client, detail: { event, error: 'invalid_client', cause: r } }).catch(() => {});
        oauthError(res, rt, 401, 'invalid_client', 'Client authentication failed.');
        return undefined;
      }
      return { form, keyId: r.id, scopes: r.scopes };
    }
    let id: string | undefined;
    let secret: string | undefined;
    const auth = req.headers.authorization;
    // eslint-disable-next-line security/detect-possible-timing-attacks -- a presence check against undefined, not a comparison of the credential's value
    if (auth !== undefined) {
      const m = /^Basic +([A-Za-z0-9+/]+=*) *$/i.exec(auth);
      const decoded = m ? Buffer.from(m[1]!, 'base64').toString('utf8') : '';
      const colon = decoded.indexOf(':');
      if (colon < 1 || form.has('client_secret')) {
        throttle.fail(client);
        oauthError(res, rt, 401, 'invalid_client', 'Use exactly one client authentication method.', { 'www-authenticate': 'Basic realm="rampart"' });
        return undefined;
      }
      // RFC 6749 §2.3.1: both parts are form-urlencoded before Basic encoding.
      id = safeDecode(decoded.slice(0, colon));
      secret = safeDecode(decoded.slice(colon + 1));
    } else {
      id = form.get('client_id') ?? undefined;
      secret = form.get('client_secret') ?? undefined;
    }
    const check = secret !== undefined ? keys.check(secret) : undefined;
    if (!check?.ok || check.key.id !== id) {
      if (check?.ok === false && check.reason === 'unavailable') {
        oauthError(res, rt, 503, 'temporarily_unavailable', 'Clients cannot be checked right now.', { 'retry-after': '5' });
        return undefined;
      }
      throttle.fail(client);
      await record(rt, { requestId, outcome: 'deny', status: 401, reason: 'RAMPART_AUTH_INVALID', clientAddress: client, detail: { event, error: 'invalid_client', cause: check && !check.ok ? check.reason : id === undefined ? 'no-client' : 'client-id-mismatch' } }).catch(() => {});
      oauthError(res, rt, 401, 'invalid_client', 'Client authentication failed.', { 'www-authenticate': 'Basic realm="rampart"' });
      return undefined;
    }
    return { form, keyId: check.key.id, scopes: check.key.scopes };
  }

  /**
   * private_key_jwt (RFC 7523 §2.2, OpenID Connect Core §9): the client signs a short JWT with its
   * own key (registered as the key's publicKeyJwk) instead of sending a secret. iss and sub are the
   * client id, aud this token endpoint (or the gateway's issuer), at most 5 minutes old, and each
   * jti is accepted once. The algorithm follows the registered key, never the token's header.
   * Returns the client, or the reason for refusing it (recorded, never told to the client).
   */
  async function assertedClient(req: IncomingMessage, rt: GatewayRuntime, form: URLSearchParams): Promise<{ id: string; scopes: string[] } | string> {
    if (req.headers.authorization !== undefined || form.has('client_secret')) return 'several-methods';
    if (form.get('client_assertion_type') !== JWT_BEARER) return 'assertion-type';
    const assertion = form.get('client_assertion') ?? '';
    const claims = parseB64Json(assertion.split('.')[1] ?? '');
    const id = claims?.sub;
    if (typeof id !== 'string' || claims?.iss !== id) return 'assertion-iss-sub';
    if (form.has('client_id') && form.get('client_id') !== id) return 'client-id-mismatch';
    const k = keys.client(id);
    if (!k.ok) return `client-${k.reason}`;
    if (!k.key.publicKeyJwk) return 'no-public-key';
    const pub = createPublicKey({ key: JSON.parse(k.key.publicKeyJwk) as JsonWebKey, format: 'jwk' });
    const endpoint = `${tls ? 'https' : 'http'}://${req.headers.host ?? ''}${rt.config.reservedPrefix}/oauth/token`;
    let payload;
    try {
      ({ payload } = await jwtVerify(assertion, pub, {
        algorithms: algorithmsFor(pub),
        issuer: id,
        subject: id,
        audience: [endpoint, rt.config.identity.issuer],
        maxTokenAge: '5m',
        requiredClaims: ['jti', 'exp', 'iat'],
        clockTolerance: 5,
      }));
    } catch (err) {
      return `assertion-${(err as { code?: string }).code ?? 'invalid'}`;
    }
    const now = Date.now();
    for (const [j, exp] of usedAssertions) if (exp <= now) usedAssertions.delete(j);
    const seen = `${id}\u0000${String(payload.jti)}`;
    if (usedAssertions.has(seen)) return 'assertion-replayed';
    if (usedAssertions.size < 100_000) usedAssertions.set(seen, (payload.exp ?? 0) * 1000);
    return { id, scopes: k.key.scopes };
  }

  async function token(req: IncomingMessage, res: ServerResponse, rt: GatewayRuntime, requestId: string, client: string): Promise<void> {
    const c = await clientAndForm(req, res, rt, requestId, client, 'oauth.token');
    if (!c) return;
    const deny = async (status: number, error: OAuthError, description: string): Promise<void> => {
      await record(rt, { requestId, outcome: 'deny', status, reason: 'RAMPART_AUTH_INVALID', keyId: c.keyId, clientAddress: client, detail: { event: 'oauth.token', error } }).catch(() => {});
      oauthError(res, rt, status, error, description);
    };
    if (c.form.get('grant_type') !== 'client_credentials') return deny(400, 'unsupported_grant_type', 'Only grant_type=client_credentials is supported.');
    const api = audienceOf(rt, c.form, req);
    if (!api) return deny(400, 'invalid_target', rt.apis.length > 1 ? 'Name the API with audience=<API name> or resource=<URL>.' : 'Unknown audience or resource.');
    const requested = c.form.get('scope');
    const held = new Set(c.scopes);
    const scopes = requested === null ? [...held] : [...new Set(requested.split(' ').filter(Boolean))];
    if (scopes.some((s) => !held.has(s))) return deny(400, 'invalid_scope', 'A requested scope is not granted to this client.');
    // RFC 8705: a token obtained over a connection with a client certificate is bound to it.
    const certThumbprint = verifiedCertThumbprint(req.socket);
    const t = tokens.issue({ clientId: c.keyId, scopes, audience: api, ...(certThumbprint ? { certThumbprint } : {}) });
    try {
      await record(rt, { requestId, outcome: 'allow', status: 200, reason: 'RAMPART_OK', keyId: c.keyId, clientAddress: client, detail: { event: 'oauth.token', grant: 'client_credentials', audience: api, scope: scopes.join(' '), jti: t.jti, expiresAt: t.expiresAt, certificateBound: certThumbprint !== undefined ? 'yes' : 'no' } });
    } catch {
      // Fail closed: no token leaves unrecorded.
      oauthError(res, rt, 503, 'temporarily_unavailable', 'The token could not be recorded; retry later.', { 'retry-after': '5' });
      return;
    }
    send(res, rt, 200, { access_token: t.token, token_type: 'Bearer', expires_in: t.expiresIn, scope: scopes.join(' ') });
  }

  async function revoke(req: IncomingMessage, res: ServerResponse, rt: GatewayRuntime, requestId: string, client: string): Promise<void> {
    const c = await clientAndForm(req, res, rt, requestId, client, 'oauth.revoke');
    if (!c) return;
    const presented = c.form.get('token');
    if (presented === null) {
      oauthError(res, rt, 400, 'invalid_request', 'The token parameter is required.');
      return;
    }
    const check = tokens.check(presented);
    // RFC 7009 §2.2: an invalid or unknown token is answered 200 as well; only the client's own
    // tokens can be revoked by it.
    if (check.ok && check.claims.clientId === c.keyId) {
      try {
        await record(rt, { requestId, outcome: 'info', status: 200, reason: 'RAMPART_OK', keyId: c.keyId, clientAddress: client, detail: { event: 'oauth.revoke', jti: check.claims.jti, expiresAt: check.claims.expiresAt } });
      } catch {
        oauthError(res, rt, 503, 'temporarily_unavailable', 'The revocation could not be recorded; retry later.', { 'retry-after': '5' });
        return;
      }
      tokens.revoke(check.claims.jti, check.claims.expiresAt);
    }
    send(res, rt, 200, {});
  }

  return function handle(req: IncomingMessage, res: ServerResponse, rt: GatewayRuntime, which: 'token' | 'revoke'): void {
    const requestId = randomUUID();
    res.setHeader('x-request-id', requestId);
    if (req.method !== 'POST') {
      oauthError(res, rt, 405, 'invalid_request', 'Use POST.', { allow: 'POST' });
      return;
    }
    const client = clientInfo(req, rt.trusted, tls).client;
    const run = which === 'token' ? token : revoke;
    run(req, res, rt, requestId, client).catch(() => {
      if (!res.headersSent) oauthError(res, rt, 500, 'invalid_request', 'The request could not be processed.');
      else res.destroy();
    });
  };
}

function safeDecode(s: string): string | undefined {
  try {
    return decodeURIComponent(s.replace(/\+/g, ' '));
  } catch {
    return undefined;
  }
}

/** The API a token is for: `audience` (an API name), `resource` (a URL under a mount, RFC 8707), or the only API. */
function audienceOf(rt: GatewayRuntime, form: URLSearchParams, req: IncomingMessage): string | undefined {
  const audience = form.get('audience');
  const resource = form.get('resource');
  if (audience !== null && resource !== null) return undefined;
  if (audience !== null) return rt.apis.some((a) => a.name === audience) ? audience : undefined;
  if (resource !== null) {
    let u: URL;
    try {
      u = new URL(resource);
    } catch {
      return undefined;
    }
    // RFC 8707 §2: an absolute URI without a fragment.
    if (u.hash !== '') return undefined;
    return rt.matchApi(u.host || req.headers.host, u.pathname)?.api.name;
  }
  return rt.apis.length === 1 ? rt.apis[0]!.name : undefined;
}
