/**
 * The admin plane (issue 3): its own TLS listener, never the data plane's, serving a JSON API
 * under /admin/api for people, with:
 *
 * - login with a password (argon2id, N63-7) AND a second factor for every admin: a TOTP code,
 *   each time step usable once (N63-4), or a one-time recovery code; one generic failure answer
 *   and the same work for an unknown username (no oracle); lockout after repeated failures per
 *   user and throttling per address (N63-5);
 * - sessions in a `__Host-` cookie (Secure, HttpOnly, SameSite=Strict, Path=/), stored hashed,
 *   with idle and absolute timeouts (N63-3, ASVS 3.3.2), a CSRF token required on every
 *   state-changing request (plus an Origin check), re-authentication for user and role changes;
 * - roles (./roles.ts), default deny;
 * - every action, failed login and lockout is a ledger record naming the acting identity
 *   (R17a4-3, AU-10).
 *
 * Routes: POST login | reauth | logout | tokens, GET me, GET|POST keys, POST keys/{id}/revoke|rotate,
 * GET|POST users, POST users/{id}/disable. Automation and the CLI use short-lived, scoped admin
 * tokens (./tokens.ts, `Authorization: Bearer`) minted by a person with a session.
 */
import https from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createHash, randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';
import type { RampartConfig } from '../config/types.js';
import { ERRORS, type ErrorCode } from '../core/errors.js';
import type { Logger } from '../core/log.js';
import { problemBody } from '../core/problem.js';
import { readBody } from '../gateway/body.js';
import { applySecurityHeaders } from '../gateway/respond.js';
import { normalizeAddress } from '../gateway/client-address.js';
import { createKey } from '../keys/create.js';
import { publicKeyView } from '../keys/public-view.js';
import type { KeyCache } from '../keys/cache.js';
import type { Ledger } from '../ledger/writer.js';
import type { RecordInput } from '../ledger/record.js';
import type { AuthThrottle } from '../pipeline/auth-throttle.js';
import type { AdminRole, AdminSession, AdminUser, Storage } from '../storage/types.js';
import { tlsServerOptions } from '../tls/server-options.js';
import { checkPasswordPolicy, hashPassword, verifyAgainstDummy, verifyPassword } from './password.js';
import { checkTotp, decryptSecret, encryptSecret, newTotpSecret, otpauthUri } from './totp.js';
import { hashRecoveryCode, newRecoveryCodes } from './recovery-codes.js';
import { ADMIN_ACTIONS, ADMIN_ROLES, may, type AdminAction } from './roles.js';
import { createAdminTokens, MAX_ADMIN_TOKEN_MINUTES, type AdminTokenClaims } from './tokens.js';
import type { RunningLedger } from '../ledger/open-ledger.js';
import { ledgerRoutes } from './ledger-routes.js';
import { configRoutes, submissionBodyLimit, type ConfigVersionDeps } from './config-routes.js';
import { verifyRoutes } from './verify-routes.js';
import { consoleStaticRoutes } from './console-static.js';
import { auditRoutes } from './audit-routes.js';
import { overviewRoutes } from './overview-routes.js';
import { activityRoutes } from './activity-routes.js';
import { retentionRoutes } from './retention-routes.js';
import type { ConsoleRouteDeps } from './console-deps.js';
import { qrSvg } from './qr-svg.js';
import type { OperationModel } from '../openapi/types.js';
import type { Keyset } from '../identity/keyset.js';
import { createExternalIssuers } from '../identity/external-issuers.js';
import {
  generateAuthenticationOptions,
  generateRegistrationOptions,
  verifyAuthenticationResponse,
  verifyRegistrationResponse,
  type AuthenticationResponseJSON,
  type AuthenticatorTransportFuture,
  type RegistrationResponseJSON,
} from '@simplewebauthn/server';

/** What an admin token may carry: everything but user changes, which need a person (reauth). */
// config.approve is not here: an approval is a person's act with a fresh second factor (AU-10, FC-1).
const TOKEN_ACTIONS: readonly AdminAction[] = [
  'keys.read', 'keys.write', 'users.read', 'audit.read', 'holds.read', 'holds.write', 'retention.write', 'evidence.export', 'evidence.personal', 'evidence.bodies',
  'config.read', 'config.submit', 'config.apply', 'verify.run',
];

export const SESSION_COOKIE = '__Host-rampart_session';
const MAX_JSON_BYTES = 16 * 1024;
/** lastSeenAt is written at most this often (the idle timeout is in minutes). */
const TOUCH_EVERY_MS = 30_000;

export interface AdminServerDeps {
  config: RampartConfig;
  storage: Storage;
  keys: KeyCache;
  ledger: Ledger;
  /** The server secret: TOTP secrets are encrypted and recovery codes keyed under it. */
  secret: Buffer;
  throttle: AuthThrottle;
  logger: Logger;
  configHash: () => string;
  /** Rampart's signing keys: admin tokens are signed with them. */
  keyset: Keyset;
  /** The ledger's encryption, checkpoints and self-verification (holds, purge, evidence routes). */
  ledgerParts?: RunningLedger;
  /** Configuration versions, approvals and live activation (issue 6, ./config-routes.ts); absent: no config routes. */
  configVersions?: ConfigVersionDeps;
  /**
   * The running version's operation models (issue 7): their body classification maps let the
   * console's DLP masking of captured bodies find classified fields, not only detected ones.
   */
  operationModel?: (api: string, operationId: string) => Pick<OperationModel, 'classifications'> | undefined;
  now?: () => number;
}

export interface AdminServer {
  url: string;
  port: number;
  /**
   * Replaces the listener's certificate and key (a configuration version activated live, issue 6:
   * 90-day certificates rotate without a restart). New handshakes get them; open connections keep
   * theirs. Throws ConfigError naming the file when the pair cannot be used (nothing changed).
   */
  setTls(tls: { cert: string; key: string; minVersion: 'TLSv1.2' | 'TLSv1.3' }): Promise<void>;
  close(): Promise<void>;
}

/** Who calls: a person with a session (cookie + CSRF), or automation with an admin token. */
export interface Caller {
  user: AdminUser;
  session?: AdminSession;
  token?: AdminTokenClaims;
}

/** An admin-plane ledger record (R17a4-3, AU-10): what every admin route writes through `record`. */
export interface AdminRecordInput {
  type: 'admin.action' | 'security.event';
  outcome: 'success' | 'deny' | 'info';
  status: number;
  reason: string;
  requestId: string;
  client: string;
  detail: NonNullable<RecordInput['detail']>;
  /** The acting admin's username (sealed in the personal part). */
  actor?: string;
  /** The caller used an admin token rather than a session (the record's authMethod). */
  viaToken?: boolean;
  /** More personal free text (comments, names), sealed with the record. */
  extra?: Record<string, string>;
}

/** The acting admin of a request, as `record` takes it. */
export function actorOf(caller: Caller): Pick<AdminRecordInput, 'actor' | 'viaToken'> {
  return { actor: caller.user.username, viaToken: caller.token !== undefined };
}

export type Handler = (req: IncomingMessage, res: ServerResponse, ctx: { client: string; params: string[]; body: Record<string, unknown>; caller?: Caller; requestId: string }) => Promise<void>;

export interface Route {
  method: 'GET' | 'POST';
  pattern: RegExp;
  /** Undefined: no session needed (login). */
  action?: AdminAction | 'self';
  reauth?: boolean;
  /** Only with a session (not with an admin token): reauth, logout, minting tokens. */
  sessionOnly?: boolean;
  /** Largest JSON body (default 16 KiB); a configuration bundle needs more. */
  maxBodyBytes?: number;
  handler: Handler;
}

export class AdminFailure extends Error {
  constructor(
    readonly code: ErrorCode,
    readonly detailText?: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(code);
  }
}

export async function startAdminServer(deps: AdminServerDeps): Promise<AdminServer> {
  const cfg = deps.config.admin!;
  const { storage, ledger, secret, throttle, logger } = deps;
  const admin = storage.admin;
  const now = deps.now ?? Date.now;
  const idleMs = cfg.sessions.idleMinutes * 60_000;
  const absoluteMs = cfg.sessions.absoluteHours * 3_600_000;
  const reauthMs = cfg.sessions.reauthMinutes * 60_000;
  const lockMs = cfg.lockout.lockMinutes * 60_000;
  const adminTokens = createAdminTokens(deps.keyset, deps.config.identity.issuer, now);
  const usedIdTokens = new Map<string, number>();
  // The provider's ID tokens, verified like any external token; amr is read as the scope claim.
  const sso = cfg.sso
    ? createExternalIssuers([{ issuer: cfg.sso.issuer, jwksUri: cfg.sso.jwksUri, audiences: [cfg.sso.audience], algorithms: cfg.sso.algorithms, clockSkewSeconds: 30, maxLifetimeSeconds: 86_400, claims: { principal: cfg.sso.usernameClaim, scopes: 'amr' } }], { now })
    : undefined;
  const tlsOpts = await tlsServerOptions({ cert: cfg.tls.cert, key: cfg.tls.key, minVersion: deps.config.listen.tls?.minVersion ?? 'TLSv1.2' });

  async function record(o: AdminRecordInput): Promise<void> {
    await ledger.append({
      type: o.type,
      requestId: o.requestId,
      outcome: o.outcome,
      status: o.status,
      stage: 'admin',
      reason: o.reason,
      authMethod: o.viaToken ? 'admin-token' : 'admin-session',
      configHash: deps.configHash(),
      detail: o.detail,
      // Names of admins and their free text are personal: sealed beside the record, committed to.
      personal: { clientAddress: o.client, ...(o.actor !== undefined ? { principal: o.actor } : {}), ...(o.extra && Object.keys(o.extra).length > 0 ? { extra: o.extra } : {}) },
    });
  }


  // -- sessions ---------------------------------------------------------------------------------

  /** A new session; it ends at the absolute timeout, or at `notAfter` when that is sooner (SSO). */
  async function newSession(user: AdminUser, notAfter = Infinity): Promise<{ token: string; session: AdminSession }> {
    const token = randomBytes(32).toString('base64url');
    const t = now();
    const session: AdminSession = { id: sha256(token), userId: user.id, createdAt: t, lastSeenAt: t, expiresAt: Math.min(t + absoluteMs, notAfter), csrfToken: randomBytes(24).toString('base64url'), authenticatedAt: t };
    await admin.createSession(session);
    return { token, session };
  }

  /** Every way in ends here: the session, its record naming the admin and the factor, the cookie. */
  async function loggedIn(res: ServerResponse, user: AdminUser, o: { requestId: string; client: string; detail: Record<string, string>; notAfter?: number }): Promise<void> {
    const { token, session } = await newSession(user, o.notAfter);
    await record({ type: 'admin.action', outcome: 'success', status: 200, reason: 'RAMPART_OK', requestId: o.requestId, client: o.client, actor: user.username, detail: { action: 'login', ...o.detail } });
    json(res, 200, { user: publicUser(user), csrfToken: session.csrfToken, expiresAt: new Date(session.expiresAt).toISOString() }, { 'set-cookie': cookieFor(token, session.expiresAt - session.createdAt) });
  }

  /** Refuses at once an address that failed too often (N63-5), before any credential is looked at. */
  function checkThrottle(client: string): void {
    const wait = throttle.retryAfter(client);
    if (wait > 0) throw new AdminFailure('RAMPART_ADMIN_LOCKED', undefined, { 'retry-after': String(wait) });
  }

  /** A failed sign-in of kind `event`: counted for the address, recorded, one generic answer. */
  function loginFailure(event: string, client: string, requestId: string) {
    return async (cause: string, actor?: string): Promise<never> => {
      throttle.fail(client);
      await record({ type: 'security.event', outcome: 'deny', status: 401, reason: 'RAMPART_ADMIN_LOGIN_FAILED', requestId, client, ...(actor ? { actor } : {}), detail: { event, cause } }).catch(() => {});
      throw new AdminFailure('RAMPART_ADMIN_LOGIN_FAILED');
    };
  }

  function cookieFor(token: string, maxAgeMs: number): string {
    // __Host- prefix: Secure, Path=/, no Domain (RFC 6265bis §4.1.3.2).
    return `${SESSION_COOKIE}=${token}; Path=/; Secure; HttpOnly; SameSite=Strict; Max-Age=${Math.max(0, Math.floor(maxAgeMs / 1000))}`;
  }

  async function callerOf(req: IncomingMessage): Promise<Caller> {
    const auth = req.headers.authorization;
    // eslint-disable-next-line security/detect-possible-timing-attacks -- a presence check against undefined, not a comparison of the credential's value
    if (auth !== undefined) {
      const m = /^Bearer +([A-Za-z0-9._-]+) *$/.exec(auth);
      const claims = m ? adminTokens.check(m[1]!) : undefined;
      if (!claims) throw new AdminFailure('RAMPART_ADMIN_SESSION_REQUIRED', 'The admin token is not valid.');
      // Re-read on every request: a disabled admin's tokens stop at once (FC-2).
      const user = await admin.getUser(claims.userId);
      if (!user || user.disabled) throw new AdminFailure('RAMPART_ADMIN_SESSION_REQUIRED', 'The admin token is not valid.');
      return { user, token: claims };
    }
    const token = cookieValue(req.headers.cookie, SESSION_COOKIE);
    if (!token) throw new AdminFailure('RAMPART_ADMIN_SESSION_REQUIRED');
    const session = await admin.getSession(sha256(token));
    const t = now();
    if (!session) throw new AdminFailure('RAMPART_ADMIN_SESSION_REQUIRED');
    if (session.expiresAt <= t || t - session.lastSeenAt > idleMs) {
      await admin.deleteSession(session.id);
      throw new AdminFailure('RAMPART_ADMIN_SESSION_REQUIRED', 'The session timed out.');
    }
    const user = await admin.getUser(session.userId);
    if (!user || user.disabled) {
      await admin.deleteSession(session.id);
      throw new AdminFailure('RAMPART_ADMIN_SESSION_REQUIRED');
    }
    if (t - session.lastSeenAt > TOUCH_EVERY_MS) await admin.touchSession(session.id, t);
    return { user, session };
  }

  function checkCsrf(req: IncomingMessage, session: AdminSession): void {
    const sent = req.headers['x-csrf-token'];
    const a = Buffer.from(typeof sent === 'string' ? sent : '');
    const b = Buffer.from(session.csrfToken);
    if (a.length !== b.length || !timingSafeEqual(a, b)) throw new AdminFailure('RAMPART_ADMIN_CSRF');
    // A browser names the page that sent the request; it must be this origin.
    const origin = req.headers.origin;
    if (origin !== undefined && origin !== `https://${req.headers.host ?? ''}`) throw new AdminFailure('RAMPART_ADMIN_CSRF');
  }

  // -- second factor ----------------------------------------------------------------------------

  /** Checks the second factor and consumes it (a TOTP step or a recovery code works once). */
  async function secondFactor(user: AdminUser, body: Record<string, unknown>): Promise<string | undefined> {
    if (typeof body.totp === 'string') {
      if (!user.totpSecretEnc) return 'no-totp-enrolled';
      const c = checkTotp(decryptSecret(user.totpSecretEnc, secret), body.totp, now());
      if (!c.ok) return 'bad-totp';
      return (await admin.useTotpStep(user.id, c.step)) ? undefined : 'totp-replayed';
    }
    if (typeof body.recoveryCode === 'string') {
      return (await admin.useRecoveryCode(user.id, hashRecoveryCode(body.recoveryCode, secret))) ? undefined : 'bad-recovery-code';
    }
    return 'no-second-factor';
  }

  // -- handlers ---------------------------------------------------------------------------------

  const login: Handler = async (_req, res, { client, body, requestId }) => {
    checkThrottle(client);
    const username = typeof body.username === 'string' ? body.username.toLowerCase() : '';
    const password = typeof body.password === 'string' ? body.password : '';
    const user = username ? await admin.getUserByName(username) : undefined;
    const fail = loginFailure('admin.login', client, requestId);
    if (!user) {
      // The same argon2 work as for a real user: the answer time says nothing about the name.
      await verifyAgainstDummy(password);
      return fail('unknown-user');
    }
    const t = now();
    if (user.lockedUntil !== undefined && user.lockedUntil > t) {
      await record({ type: 'security.event', outcome: 'deny', status: 429, reason: 'RAMPART_ADMIN_LOCKED', requestId, client, actor: user.username, detail: { event: 'admin.login', cause: 'locked' } }).catch(() => {});
      throw new AdminFailure('RAMPART_ADMIN_LOCKED', undefined, { 'retry-after': String(Math.ceil((user.lockedUntil - t) / 1000)) });
    }
    // The second factor is consumed only after the password is right, so guessing passwords
    // cannot burn someone's codes.
    const pwOk = await verifyPassword(user.passwordHash, password);
    const factor = pwOk ? await secondFactor(user, body) : 'bad-password';
    if (factor !== undefined || user.disabled) {
      const state = await admin.recordLoginFailure(user.id, t, cfg.lockout.maxFailures, lockMs);
      if (state.lockedUntil !== undefined) {
        await record({ type: 'security.event', outcome: 'deny', status: 429, reason: 'RAMPART_ADMIN_LOCKED', requestId, client, actor: user.username, detail: { event: 'admin.lockout', until: state.lockedUntil } }).catch(() => {});
      }
      return fail(user.disabled ? 'disabled' : factor!, user.username);
    }
    await admin.clearLoginFailures(user.id);
    await loggedIn(res, user, { requestId, client, detail: { factor: typeof body.totp === 'string' ? 'totp' : 'recovery-code' } });
  };

  /**
   * Sign-in through the firm's OIDC provider: an ID token verified through the provider's JWKS,
   * accepted only when its amr (RFC 8176) asserts multi-factor authentication, for an existing,
   * enabled admin. The session lives no longer than the ID token, so someone disabled at the
   * provider (who gets no new token) loses access at the next check (FC-2).
   */
  const loginSso: Handler = async (_req, res, { client, body, requestId }) => {
    if (!sso) throw new AdminFailure('RAMPART_ADMIN_NOT_FOUND', 'Single sign-on is not configured.');
    checkThrottle(client);
    const fail = loginFailure('admin.login.sso', client, requestId);
    if (typeof body.idToken !== 'string') return fail('no-id-token');
    let v;
    try {
      v = await sso.verify(body.idToken);
    } catch (err) {
      return fail(`id-token-${(err as { reason?: string }).reason ?? 'invalid'}`);
    }
    // An ID token opens one session: a copy replayed within its lifetime is refused.
    const tokenHash = sha256(body.idToken);
    const tNow = now();
    for (const [h, exp] of usedIdTokens) if (exp <= tNow) usedIdTokens.delete(h);
    if (usedIdTokens.has(tokenHash)) return fail('id-token-replayed', v.principal);
    usedIdTokens.set(tokenHash, v.expiresAt);
    // The amr claim travels in `scopes` (see the verifier's configuration below).
    if (!cfg.sso!.requireAmr.some((a) => v.scopes.includes(a))) return fail('no-mfa-asserted', v.principal);
    const user = await admin.getUserByName(v.principal.toLowerCase());
    if (!user) return fail('unknown-user', v.principal);
    if (user.disabled) return fail('disabled', user.username);
    if (user.lockedUntil !== undefined && user.lockedUntil > now()) return fail('locked', user.username);
    // The session lives no longer than the ID token (FC-2: disabled at the provider, no new one).
    await loggedIn(res, user, { requestId, client, detail: { factor: 'sso', issuer: v.issuer }, notAfter: v.expiresAt });
  };

  // -- passkeys (WebAuthn, N63-2: the phishing-resistant option) --------------------------------
  // Challenges live here for 5 minutes: per session for registration, per login id for sign-in.
  const CHALLENGE_MS = 5 * 60_000;
  const registrations = new Map<string, { challenge: string; until: number }>();
  const passkeyLogins = new Map<string, { challenge: string; until: number }>();
  const takeChallenge = (m: Map<string, { challenge: string; until: number }>, k: string): string | undefined => {
    const e = m.get(k);
    m.delete(k);
    for (const [key, v] of m) if (v.until <= now()) m.delete(key);
    return e && e.until > now() ? e.challenge : undefined;
  };
  const expectedOrigins = (): string[] => (cfg.webauthn.origins.length > 0 ? cfg.webauthn.origins : [`https://${cfg.webauthn.rpId}:${port}`]);

  const passkeyOptions: Handler = async (_req, res, { caller }) => {
    const { user, session } = caller!;
    const existing = await admin.listPasskeys(user.id);
    const options = await generateRegistrationOptions({
      rpName: 'Rampart admin',
      rpID: cfg.webauthn.rpId,
      userName: user.username,
      userID: new TextEncoder().encode(user.id),
      attestationType: 'none',
      excludeCredentials: existing.map((p) => ({ id: p.credentialId, transports: p.transports as AuthenticatorTransportFuture[] })),
      authenticatorSelection: { residentKey: 'preferred', userVerification: 'required' },
    });
    registrations.set(session!.id, { challenge: options.challenge, until: now() + CHALLENGE_MS });
    json(res, 200, options);
  };

  const passkeyRegister: Handler = async (_req, res, { body, caller, client, requestId }) => {
    const { user, session } = caller!;
    const challenge = takeChallenge(registrations, session!.id);
    if (!challenge) throw new AdminFailure('RAMPART_ADMIN_BAD_REQUEST', 'Ask for registration options first (they last 5 minutes).');
    const name = typeof body.name === 'string' && body.name.length > 0 && body.name.length <= 64 ? body.name : 'passkey';
    let v;
    try {
      v = await verifyRegistrationResponse({ response: body.response as RegistrationResponseJSON, expectedChallenge: challenge, expectedOrigin: expectedOrigins(), expectedRPID: cfg.webauthn.rpId, requireUserVerification: true });
    } catch {
      throw new AdminFailure('RAMPART_ADMIN_BAD_REQUEST', 'The passkey could not be verified.');
    }
    if (!v.verified || !v.registrationInfo) throw new AdminFailure('RAMPART_ADMIN_BAD_REQUEST', 'The passkey could not be verified.');
    const c = v.registrationInfo.credential;
    await admin.addPasskey(user.id, { credentialId: c.id, publicKey: Buffer.from(c.publicKey).toString('base64url'), counter: c.counter, transports: c.transports ?? [], name, createdAt: now() });
    await record({ type: 'admin.action', outcome: 'success', status: 201, reason: 'RAMPART_OK', requestId, client, actor: user.username, detail: { action: 'passkey.register', credentialId: c.id } });
    json(res, 201, { credentialId: c.id, name });
  };

  const passkeyLoginOptions: Handler = async (_req, res, { body }) => {
    // With a username, its passkeys are offered; without one (or an unknown one) none are, and
    // the authenticator offers its discoverable credentials: the answer says nothing about names.
    const user = typeof body.username === 'string' ? await admin.getUserByName(body.username.toLowerCase()) : undefined;
    const keys = user ? await admin.listPasskeys(user.id) : [];
    const options = await generateAuthenticationOptions({ rpID: cfg.webauthn.rpId, userVerification: 'required', allowCredentials: keys.map((p) => ({ id: p.credentialId, transports: p.transports as AuthenticatorTransportFuture[] })) });
    const loginId = randomBytes(18).toString('base64url');
    if (passkeyLogins.size > 10_000) passkeyLogins.clear();
    passkeyLogins.set(loginId, { challenge: options.challenge, until: now() + CHALLENGE_MS });
    json(res, 200, { loginId, options });
  };

  const passkeyLogin: Handler = async (_req, res, { body, client, requestId }) => {
    checkThrottle(client);
    const fail = loginFailure('admin.login.passkey', client, requestId);
    const challenge = typeof body.loginId === 'string' ? takeChallenge(passkeyLogins, body.loginId) : undefined;
    if (!challenge) return fail('no-challenge');
    const response = body.response as AuthenticationResponseJSON | undefined;
    const found = response && typeof response.id === 'string' ? await admin.getPasskey(response.id) : undefined;
    if (!found) return fail('unknown-passkey');
    const user = await admin.getUser(found.userId);
    if (!user || user.disabled) return fail('disabled', user?.username);
    if (user.lockedUntil !== undefined && user.lockedUntil > now()) return fail('locked', user.username);
    let v;
    try {
      v = await verifyAuthenticationResponse({
        response: response!,
        expectedChallenge: challenge,
        expectedOrigin: expectedOrigins(),
        expectedRPID: cfg.webauthn.rpId,
        requireUserVerification: true,
        credential: { id: found.passkey.credentialId, publicKey: new Uint8Array(Buffer.from(found.passkey.publicKey, 'base64url')), counter: found.passkey.counter, transports: found.passkey.transports as AuthenticatorTransportFuture[] },
      });
    } catch {
      // Among others: an origin that is not ours (a phishing page) or a bad signature.
      return fail('passkey-not-verified', user.username);
    }
    if (!v.verified) return fail('passkey-not-verified', user.username);
    // A counter that did not grow means a cloned authenticator (or a replay): refused.
    if (!(await admin.usePasskey(found.passkey.credentialId, v.authenticationInfo.newCounter, now()))) return fail('passkey-counter', user.username);
    await admin.clearLoginFailures(user.id);
    await loggedIn(res, user, { requestId, client, detail: { factor: 'passkey' } });
  };

  const reauth: Handler = async (_req, res, { body, caller, client, requestId }) => {
    const { user } = caller!;
    const session = caller!.session!;
    const ok = (await verifyPassword(user.passwordHash, typeof body.password === 'string' ? body.password : '')) && (await secondFactor(user, body)) === undefined;
    if (!ok) {
      await admin.recordLoginFailure(user.id, now(), cfg.lockout.maxFailures, lockMs);
      await record({ type: 'security.event', outcome: 'deny', status: 401, reason: 'RAMPART_ADMIN_LOGIN_FAILED', requestId, client, actor: user.username, detail: { event: 'admin.reauth' } }).catch(() => {});
      throw new AdminFailure('RAMPART_ADMIN_LOGIN_FAILED');
    }
    await admin.deleteSession(session.id);
    await admin.createSession({ ...session, authenticatedAt: now(), lastSeenAt: now() });
    await record({ type: 'admin.action', outcome: 'success', status: 200, reason: 'RAMPART_OK', requestId, client, actor: user.username, detail: { action: 'reauth' } });
    json(res, 200, { reauthenticatedAt: new Date(now()).toISOString() });
  };

  const logout: Handler = async (_req, res, { caller, client, requestId }) => {
    await admin.deleteSession(caller!.session!.id);
    await record({ type: 'admin.action', outcome: 'success', status: 204, reason: 'RAMPART_OK', requestId, client, ...actorOf(caller!), detail: { action: 'logout' } });
    json(res, 204, undefined, { 'set-cookie': cookieFor('', 0) });
  };

  const me: Handler = async (_req, res, { caller }) => {
    const c = caller!;
    // `actions`: what this caller may do, decided here (roles, and a token's own narrower list),
    // so the console hides what the server would refuse without a copy of the role table.
    const actions = ADMIN_ACTIONS.filter((a) => may(c.user.roles, a) && (c.token === undefined || c.token.actions.includes(a)));
    json(res, 200, { user: publicUser(c.user), actions, ...(c.session ? { sessionExpiresAt: new Date(c.session.expiresAt).toISOString() } : { tokenExpiresAt: new Date(c.token!.expiresAt).toISOString() }) });
  };

  const mintToken: Handler = async (_req, res, { body, caller, client, requestId }) => {
    const user = caller!.user;
    const minutes = body.minutes ?? 60;
    if (typeof minutes !== 'number' || !Number.isInteger(minutes) || minutes < 1 || minutes > MAX_ADMIN_TOKEN_MINUTES) throw new AdminFailure('RAMPART_ADMIN_BAD_REQUEST', `minutes: 1-${MAX_ADMIN_TOKEN_MINUTES}`);
    // ['*']: every action a token may carry that this user's roles allow (the CLI's default).
    const asked = Array.isArray(body.actions) && body.actions.length === 1 && body.actions[0] === '*' ? TOKEN_ACTIONS.filter((a) => may(user.roles, a)) : body.actions;
    if (!Array.isArray(asked) || asked.length === 0 || !asked.every((a) => TOKEN_ACTIONS.includes(a as AdminAction))) throw new AdminFailure('RAMPART_ADMIN_BAD_REQUEST', `actions: some of ${TOKEN_ACTIONS.join(', ')}, or ["*"] for all your roles allow (user changes need a person with a session)`);
    const actions = [...new Set(asked as AdminAction[])];
    if (!actions.every((a) => may(user.roles, a))) throw new AdminFailure('RAMPART_ADMIN_FORBIDDEN', 'A token cannot hold more than your roles allow.');
    const { token, claims } = adminTokens.issue(user.id, actions, minutes);
    await record({ type: 'admin.action', outcome: 'success', status: 201, reason: 'RAMPART_OK', requestId, client, actor: user.username, detail: { action: 'token.create', jti: claims.jti, actions: actions.join(' '), expiresAt: claims.expiresAt } });
    json(res, 201, { token, actions, expiresAt: new Date(claims.expiresAt).toISOString() });
  };

  const listKeys: Handler = async (_req, res) => {
    // Last use is tracked by the key cache and written in batches (every few seconds): written
    // now, so lastUsedAt is current when the list is read.
    await deps.keys.flushUses();
    json(res, 200, { keys: (await storage.keys.list()).map(publicKeyView) });
  };

  /**
   * Rotation (issue 7): a new key with the old one's name, scopes, subject, expiry and client
   * public key; the secret is shown once; the old key's revocation is scheduled `graceSeconds`
   * ahead (0 to 86400, default 0: at once), so clients can switch without an outage. Revoking the
   * old key outright later still takes effect at once (the earlier time stands).
   */
  const rotating = new Set<string>();
  const rotateKey: Handler = async (_req, res, { params, body, caller, client, requestId }) => {
    const id = params[0]!;
    const grace = body.graceSeconds;
    if (grace !== undefined && (typeof grace !== 'number' || !Number.isInteger(grace) || grace < 0 || grace > 86_400)) throw new AdminFailure('RAMPART_ADMIN_BAD_REQUEST', 'graceSeconds: an integer from 0 to 86400');
    // One rotation of a key at a time: two at once would leave two successors.
    if (rotating.has(id)) throw new AdminFailure('RAMPART_ADMIN_CONFLICT', 'This key is being rotated already.');
    rotating.add(id);
    try {
      const old = await storage.keys.get(id);
      if (!old) throw new AdminFailure('RAMPART_ADMIN_NOT_FOUND');
      if (old.revokedAt !== undefined) throw new AdminFailure('RAMPART_ADMIN_CONFLICT', 'A revoked key (or one being rotated) cannot be rotated; create a new one.');
      if (old.expiresAt !== undefined && old.expiresAt <= now()) throw new AdminFailure('RAMPART_ADMIN_CONFLICT', 'An expired key cannot be rotated; create a new one.');
      let made;
      try {
        made = await createKey(storage.keys, secret, {
          name: old.name,
          scopes: old.scopes,
          ...(old.subject !== undefined ? { subject: old.subject } : {}),
          ...(old.expiresAt !== undefined ? { expiresAt: old.expiresAt } : {}),
          ...(old.publicKeyJwk !== undefined ? { publicKeyJwk: old.publicKeyJwk } : {}),
          createdBy: `admin:${caller!.user.username}`,
          now: now(),
        });
      } catch (err) {
        if (err instanceof TypeError) throw new AdminFailure('RAMPART_ADMIN_BAD_REQUEST', err.message);
        throw err;
      }
      const graceSeconds = typeof grace === 'number' ? grace : 0;
      const revokedAt = now() + graceSeconds * 1000;
      await storage.keys.revoke(id, revokedAt);
      await deps.keys.refresh();
      await record({ type: 'admin.action', outcome: 'success', status: 201, reason: 'RAMPART_OK', requestId, client, ...actorOf(caller!), detail: { action: 'key.rotate', keyId: made.record.id, replaces: id, scopes: made.record.scopes.join(' '), graceSeconds } });
      json(res, 201, {
        key: made.key,
        ...publicKeyView(made.record),
        replaces: { id, status: graceSeconds > 0 ? 'active' : 'revoked', revokedAt: new Date(revokedAt).toISOString() },
        gracePeriodApplied: graceSeconds > 0,
      });
    } finally {
      rotating.delete(id);
    }
  };

  const createKeyH: Handler = async (_req, res, { body, caller, client, requestId }) => {
    const name = body.name;
    const scopes = body.scopes;
    if (typeof name !== 'string' || name.length === 0 || name.length > 100) throw new AdminFailure('RAMPART_ADMIN_BAD_REQUEST', 'name: a string of 1-100 characters');
    if (!Array.isArray(scopes) || scopes.length === 0 || !scopes.every((x) => typeof x === 'string' && /^[\x21\x23-\x5B\x5D-\x7E]{1,200}$/.test(x))) throw new AdminFailure('RAMPART_ADMIN_BAD_REQUEST', 'scopes: a non-empty list of scope tokens');
    const subject = body.subject;
    if (subject !== undefined && (typeof subject !== 'string' || subject.length === 0 || subject.length > 200)) throw new AdminFailure('RAMPART_ADMIN_BAD_REQUEST', 'subject: a string');
    const days = body.expiresInDays;
    if (days !== undefined && (typeof days !== 'number' || !Number.isInteger(days) || days < 1 || days > 3650)) throw new AdminFailure('RAMPART_ADMIN_BAD_REQUEST', 'expiresInDays: an integer from 1 to 3650');
    const secs = body.expiresInSeconds;
    if (secs !== undefined && (days !== undefined || typeof secs !== 'number' || !Number.isInteger(secs) || secs < 60 || secs > 3650 * 86_400)) throw new AdminFailure('RAMPART_ADMIN_BAD_REQUEST', 'expiresInSeconds: an integer from 60 to 10 years, not with expiresInDays');
    const lifeMs = secs !== undefined ? (secs as number) * 1000 : days !== undefined ? (days as number) * 86_400_000 : undefined;
    let made;
    try {
      made = await createKey(storage.keys, secret, {
        name,
        scopes: scopes as string[],
        ...(subject !== undefined ? { subject: subject as string } : {}),
        ...(lifeMs !== undefined ? { expiresAt: now() + lifeMs } : {}),
        ...(body.publicKeyJwk !== undefined ? { publicKeyJwk: body.publicKeyJwk } : {}),
        createdBy: `admin:${caller!.user.username}`,
      });
    } catch (err) {
      if (err instanceof TypeError) throw new AdminFailure('RAMPART_ADMIN_BAD_REQUEST', err.message);
      throw err;
    }
    const { key, record: rec } = made;
    await deps.keys.refresh();
    await record({ type: 'admin.action', outcome: 'success', status: 201, reason: 'RAMPART_OK', requestId, client, ...actorOf(caller!), detail: { action: 'key.create', keyId: rec.id, scopes: rec.scopes.join(' ') } });
    json(res, 201, { key, ...publicKeyView(rec) });
  };

  const revokeKey: Handler = async (_req, res, { params, caller, client, requestId }) => {
    const id = params[0]!;
    if (!(await storage.keys.revoke(id, now()))) throw new AdminFailure('RAMPART_ADMIN_NOT_FOUND');
    await deps.keys.refresh();
    await record({ type: 'admin.action', outcome: 'success', status: 200, reason: 'RAMPART_OK', requestId, client, ...actorOf(caller!), detail: { action: 'key.revoke', keyId: id } });
    json(res, 200, { id, status: 'revoked' });
  };

  const listUsers: Handler = async (_req, res) => {
    json(res, 200, { users: (await admin.listUsers()).map(publicUser) });
  };

  const createUser: Handler = async (_req, res, { body, caller, client, requestId }) => {
    const username = typeof body.username === 'string' ? body.username.toLowerCase() : '';
    if (!/^[a-z0-9][a-z0-9._-]{2,63}$/.test(username)) throw new AdminFailure('RAMPART_ADMIN_BAD_REQUEST', 'username: 3-64 characters, letters, digits, . _ -');
    const roles = body.roles;
    if (!Array.isArray(roles) || roles.length === 0 || !roles.every((r) => ADMIN_ROLES.includes(r as AdminRole))) throw new AdminFailure('RAMPART_ADMIN_BAD_REQUEST', `roles: some of ${ADMIN_ROLES.join(', ')}`);
    if ((roles as AdminRole[]).includes('owner') && !caller!.user.roles.includes('owner')) throw new AdminFailure('RAMPART_ADMIN_FORBIDDEN', 'Only an owner grants the owner role.');
    const password = typeof body.password === 'string' ? body.password : '';
    const policy = checkPasswordPolicy(password, { username });
    if (!policy.ok) throw new AdminFailure('RAMPART_ADMIN_BAD_REQUEST', `password refused: ${policy.reason}`);
    const created = await newAdminUser({ username, password, roles: roles as AdminRole[], createdBy: `admin:${caller!.user.username}` }, secret, now());
    try {
      await admin.insertUser(created.user);
    } catch (err) {
      if ((err as { code?: string }).code === 'RAMPART_ADMIN_USER_EXISTS') throw new AdminFailure('RAMPART_ADMIN_CONFLICT');
      throw err;
    }
    await record({ type: 'admin.action', outcome: 'success', status: 201, reason: 'RAMPART_OK', requestId, client, ...actorOf(caller!), detail: { action: 'user.create', userId: created.user.id, roles: created.user.roles.join(' ') } });
    // The TOTP secret and the recovery codes are shown once, to be handed to the new admin.
    json(res, 201, { user: publicUser(created.user), totp: { secret: created.totpSecret, uri: otpauthUri(created.totpSecret, { account: username, issuer: 'Rampart' }) }, recoveryCodes: created.recoveryCodes });
  };

  const disableUser: Handler = async (_req, res, { params, caller, client, requestId }) => {
    const user = await admin.getUser(params[0]!);
    if (!user) throw new AdminFailure('RAMPART_ADMIN_NOT_FOUND');
    if (user.roles.includes('owner') && !caller!.user.roles.includes('owner')) throw new AdminFailure('RAMPART_ADMIN_FORBIDDEN', 'Only an owner disables an owner.');
    await admin.updateUser({ ...user, disabled: true, updatedAt: now() });
    // FC-2: a disabled user loses access at once; every session ends.
    const ended = await admin.deleteUserSessions(user.id);
    await record({ type: 'admin.action', outcome: 'success', status: 200, reason: 'RAMPART_OK', requestId, client, ...actorOf(caller!), detail: { action: 'user.disable', userId: user.id, sessionsEnded: ended } });
    json(res, 200, { user: publicUser({ ...user, disabled: true }) });
  };

  const setRoles: Handler = async (_req, res, { params, body, caller, client, requestId }) => {
    const user = await admin.getUser(params[0]!);
    if (!user) throw new AdminFailure('RAMPART_ADMIN_NOT_FOUND');
    const roles = body.roles;
    if (!Array.isArray(roles) || roles.length === 0 || !roles.every((r) => ADMIN_ROLES.includes(r as AdminRole))) throw new AdminFailure('RAMPART_ADMIN_BAD_REQUEST', `roles: some of ${ADMIN_ROLES.join(', ')}`);
    const touchesOwner = user.roles.includes('owner') || (roles as AdminRole[]).includes('owner');
    if (touchesOwner && !caller!.user.roles.includes('owner')) throw new AdminFailure('RAMPART_ADMIN_FORBIDDEN', 'Only an owner grants or removes the owner role.');
    if (user.id === caller!.user.id && user.roles.includes('owner') && !(roles as AdminRole[]).includes('owner')) {
      const owners = (await admin.listUsers()).filter((u) => !u.disabled && u.roles.includes('owner'));
      if (owners.length <= 1) throw new AdminFailure('RAMPART_ADMIN_CONFLICT', 'The last owner cannot give up the owner role.');
    }
    const next = [...new Set(roles as AdminRole[])];
    await admin.updateUser({ ...user, roles: next, updatedAt: now() });
    // Changed privileges: the user's sessions end, the next login carries the new roles.
    const ended = await admin.deleteUserSessions(user.id);
    await record({ type: 'admin.action', outcome: 'success', status: 200, reason: 'RAMPART_OK', requestId, client, ...actorOf(caller!), detail: { action: 'user.roles', userId: user.id, from: user.roles.join(' '), to: next.join(' '), sessionsEnded: ended } });
    json(res, 200, { user: publicUser({ ...user, roles: next }) });
  };

  const changePassword: Handler = async (_req, res, { body, caller, client, requestId }) => {
    const { user, session } = caller!;
    const current = typeof body.currentPassword === 'string' ? body.currentPassword : '';
    const next = typeof body.newPassword === 'string' ? body.newPassword : '';
    if (!(await verifyPassword(user.passwordHash, current))) {
      await admin.recordLoginFailure(user.id, now(), cfg.lockout.maxFailures, lockMs);
      throw new AdminFailure('RAMPART_ADMIN_LOGIN_FAILED');
    }
    const policy = checkPasswordPolicy(next, { username: user.username });
    if (!policy.ok) throw new AdminFailure('RAMPART_ADMIN_BAD_REQUEST', `password refused: ${policy.reason}`);
    const fresh = await admin.getUser(user.id);
    await admin.updateUser({ ...fresh!, passwordHash: await hashPassword(next), updatedAt: now() });
    // Every other session ends (N63: a password change re-establishes who holds the account).
    const ended = await admin.deleteUserSessions(user.id);
    await admin.createSession({ ...session!, lastSeenAt: now() });
    await record({ type: 'admin.action', outcome: 'success', status: 200, reason: 'RAMPART_OK', requestId, client, actor: user.username, detail: { action: 'password.change', sessionsEnded: ended - 1 } });
    json(res, 200, { changed: true });
  };

  // TOTP re-enrolment in two steps: a new secret is shown, and replaces the old one only once a
  // code from it proves the authenticator app has it.
  const totpEnrolments = new Map<string, { secret: string; until: number }>();
  const totpStart: Handler = async (_req, res, { caller }) => {
    const secretNew = newTotpSecret();
    totpEnrolments.set(caller!.session!.id, { secret: secretNew, until: now() + CHALLENGE_MS });
    const uri = otpauthUri(secretNew, { account: caller!.user.username, issuer: 'Rampart' });
    // The QR code as SVG, drawn here (issue 7): the console shows it without a script of its own.
    json(res, 200, { secret: secretNew, uri, qrSvg: qrSvg(uri) });
  };
  const totpConfirm: Handler = async (_req, res, { body, caller, client, requestId }) => {
    const { user, session } = caller!;
    const pending = totpEnrolments.get(session!.id);
    totpEnrolments.delete(session!.id);
    if (!pending || pending.until <= now()) throw new AdminFailure('RAMPART_ADMIN_BAD_REQUEST', 'Start the enrolment first (it lasts 5 minutes).');
    const c = checkTotp(pending.secret, typeof body.code === 'string' ? body.code : '', now());
    if (!c.ok) throw new AdminFailure('RAMPART_ADMIN_BAD_REQUEST', 'The code does not match the new secret.');
    const fresh = (await admin.getUser(user.id))!;
    const { totpLastStep: _old, ...rest } = fresh;
    await admin.updateUser({ ...rest, totpSecretEnc: encryptSecret(pending.secret, secret), updatedAt: now() });
    await admin.useTotpStep(user.id, c.step);
    await record({ type: 'admin.action', outcome: 'success', status: 200, reason: 'RAMPART_OK', requestId, client, actor: user.username, detail: { action: 'totp.enrol' } });
    json(res, 200, { enrolled: true });
  };

  /**
   * A fresh set of recovery codes for the caller, shown once; the old set stops working at once
   * (N63-1: a look-up secret is single-use; a set that may have been seen is replaced whole).
   * A person's act with both factors proved just now (reauth), recorded without the codes.
   */
  const recoveryCodesRenew: Handler = async (_req, res, { caller, client, requestId }) => {
    const { user } = caller!;
    const codes = newRecoveryCodes();
    const fresh = (await admin.getUser(user.id))!;
    await admin.updateUser({ ...fresh, recoveryCodeHashes: codes.map((c) => hashRecoveryCode(c, secret)), updatedAt: now() });
    await record({ type: 'admin.action', outcome: 'success', status: 200, reason: 'RAMPART_OK', requestId, client, actor: user.username, detail: { action: 'recovery-codes.renew', count: codes.length } });
    json(res, 200, { recoveryCodes: codes });
  };

  // The console's read routes (issue 7) need the ledger's decryption and checkpoints.
  const consoleDeps: ConsoleRouteDeps | undefined = deps.ledgerParts
    ? {
        config: deps.config,
        liveConfig: () => deps.configVersions?.live().config ?? deps.config,
        storage, ledger, parts: deps.ledgerParts, configHash: deps.configHash, json, record, now,
        ...(deps.operationModel ? { operationModel: deps.operationModel } : {}),
      }
    : undefined;

  const routes: Route[] = [
    { method: 'POST', pattern: /^\/admin\/api\/login$/, handler: login },
    { method: 'POST', pattern: /^\/admin\/api\/login\/sso$/, handler: loginSso },
    { method: 'POST', pattern: /^\/admin\/api\/login\/passkey\/options$/, handler: passkeyLoginOptions },
    { method: 'POST', pattern: /^\/admin\/api\/login\/passkey$/, handler: passkeyLogin },
    { method: 'POST', pattern: /^\/admin\/api\/passkeys\/options$/, action: 'self', sessionOnly: true, reauth: true, handler: passkeyOptions },
    { method: 'POST', pattern: /^\/admin\/api\/passkeys$/, action: 'self', sessionOnly: true, reauth: true, handler: passkeyRegister },
    { method: 'POST', pattern: /^\/admin\/api\/reauth$/, action: 'self', sessionOnly: true, handler: reauth },
    { method: 'POST', pattern: /^\/admin\/api\/logout$/, action: 'self', sessionOnly: true, handler: logout },
    { method: 'POST', pattern: /^\/admin\/api\/tokens$/, action: 'self', sessionOnly: true, reauth: true, handler: mintToken },
    { method: 'GET', pattern: /^\/admin\/api\/me$/, action: 'self', handler: me },
    { method: 'GET', pattern: /^\/admin\/api\/keys$/, action: 'keys.read', handler: listKeys },
    { method: 'POST', pattern: /^\/admin\/api\/keys$/, action: 'keys.write', handler: createKeyH },
    { method: 'POST', pattern: /^\/admin\/api\/keys\/([A-Za-z0-9]{1,64})\/revoke$/, action: 'keys.write', handler: revokeKey },
    { method: 'POST', pattern: /^\/admin\/api\/keys\/([A-Za-z0-9]{1,64})\/rotate$/, action: 'keys.write', handler: rotateKey },
    { method: 'GET', pattern: /^\/admin\/api\/users$/, action: 'users.read', handler: listUsers },
    { method: 'POST', pattern: /^\/admin\/api\/users$/, action: 'users.write', reauth: true, handler: createUser },
    { method: 'POST', pattern: /^\/admin\/api\/users\/([A-Za-z0-9_-]{1,64})\/disable$/, action: 'users.write', reauth: true, handler: disableUser },
    { method: 'POST', pattern: /^\/admin\/api\/users\/([A-Za-z0-9_-]{1,64})\/roles$/, action: 'users.write', reauth: true, handler: setRoles },
    { method: 'POST', pattern: /^\/admin\/api\/me\/password$/, action: 'self', sessionOnly: true, reauth: true, handler: changePassword },
    { method: 'POST', pattern: /^\/admin\/api\/me\/totp$/, action: 'self', sessionOnly: true, reauth: true, handler: totpStart },
    { method: 'POST', pattern: /^\/admin\/api\/me\/totp\/confirm$/, action: 'self', sessionOnly: true, reauth: true, handler: totpConfirm },
    { method: 'POST', pattern: /^\/admin\/api\/me\/recovery-codes$/, action: 'self', sessionOnly: true, reauth: true, handler: recoveryCodesRenew },
    ...(deps.ledgerParts ? ledgerRoutes({ config: deps.config, storage, ledger, parts: deps.ledgerParts, configHash: deps.configHash, json, record, now }) : []),
    // The web console (issue 7): static files under a strict CSP, same listener, sessions and roles.
    ...consoleStaticRoutes({ headers: deps.config.headers }),
    ...verifyRoutes({ config: deps.config, storage, ledger, keyset: deps.keyset, secret: deps.secret, configHash: deps.configHash, json, record, now, ...(deps.ledgerParts ? { drained: () => deps.ledgerParts!.drained() } : {}) }),
    ...(consoleDeps ? [...auditRoutes(consoleDeps), ...overviewRoutes(consoleDeps), ...activityRoutes(consoleDeps), ...retentionRoutes(consoleDeps)] : []),
    ...(deps.configVersions ? configRoutes({ ...deps.configVersions, storage, configHash: deps.configHash, headers: deps.config.headers, maxSubmissionBytes: submissionBodyLimit(deps.config), json, record, now }) : []),
  ];

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const requestId = randomUUID();
    res.setHeader('x-request-id', requestId);
    const client = normalizeAddress(req.socket.remoteAddress ?? 'unknown');
    const path = (req.url ?? '').split('?')[0]!;
    try {
      const matches = routes.filter((r) => r.pattern.test(path));
      if (matches.length === 0) throw new AdminFailure('RAMPART_ADMIN_NOT_FOUND');
      const route = matches.find((r) => r.method === req.method);
      if (!route) throw new AdminFailure('RAMPART_ADMIN_NOT_FOUND', 'Wrong method.', { allow: matches.map((r) => r.method).join(', ') });
      const params = route.pattern.exec(path)!.slice(1);
      let body: Record<string, unknown> = {};
      // A large body (a configuration bundle) is read only once the caller is known to be allowed.
      if (req.method === 'POST' && route.maxBodyBytes === undefined) body = await jsonBody(req, deps.config.limits.requestTimeoutMs, MAX_JSON_BYTES);
      let caller: Caller | undefined;
      if (route.action !== undefined) {
        caller = await callerOf(req);
        if (route.sessionOnly && !caller.session) throw new AdminFailure('RAMPART_ADMIN_SESSION_REQUIRED', 'This needs a person logged in, not an admin token.');
        // CSRF concerns cookies, which a browser attaches on its own; a bearer token it never does.
        if (req.method !== 'GET' && caller.session) checkCsrf(req, caller.session);
        const allowed = route.action === 'self' || (may(caller.user.roles, route.action) && (caller.token === undefined || caller.token.actions.includes(route.action)));
        if (!allowed) {
          await record({ type: 'security.event', outcome: 'deny', status: 403, reason: 'RAMPART_ADMIN_FORBIDDEN', requestId, client, ...actorOf(caller), detail: { event: 'admin.forbidden', action: String(route.action) } }).catch(() => {});
          throw new AdminFailure('RAMPART_ADMIN_FORBIDDEN');
        }
        // A token was minted by a person who had just proved both factors, and carries only the
        // actions TOKEN_ACTIONS allows (never user changes): it needs no second re-authentication.
        if (route.reauth && caller.session !== undefined && now() - caller.session.authenticatedAt > reauthMs) throw new AdminFailure('RAMPART_ADMIN_REAUTH_REQUIRED');
      }
      if (req.method === 'POST' && route.maxBodyBytes !== undefined) body = await jsonBody(req, deps.config.limits.requestTimeoutMs, route.maxBodyBytes);
      await route.handler(req, res, { client, params, body, ...(caller ? { caller } : {}), requestId });
    } catch (err) {
      if (res.headersSent) {
        res.destroy();
        return;
      }
      if (err instanceof AdminFailure) {
        problem(res, err.code, requestId, err.detailText, err.headers);
        return;
      }
      logger.error({ requestId, err: err instanceof Error ? err.message : String(err) }, 'admin request failed');
      problem(res, 'RAMPART_INTERNAL', requestId);
    }
  }

  function json(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
    applySecurityHeaders(res, deps.config.headers, true, 'no-store');
    for (const [k, v] of Object.entries(headers)) res.setHeader(k, v);
    if (body === undefined) {
      res.writeHead(status);
      res.end();
      return;
    }
    // <, > and & as \u escapes: the same JSON, and a value such as "</script><script>" can never
    // be read as markup by a browser that sniffs or a page that inlines it (the console, issue 7).
    const text = JSON.stringify(body).replace(/[<>&\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
    res.setHeader('content-type', 'application/json');
    res.setHeader('content-length', Buffer.byteLength(text));
    res.writeHead(status);
    res.end(text);
  }

  function problem(res: ServerResponse, code: ErrorCode, requestId: string, detail?: string, headers: Record<string, string> = {}): void {
    const body = problemBody(code, { requestId, ...(detail ? { detail } : {}) });
    applySecurityHeaders(res, deps.config.headers, true, 'no-store');
    for (const [k, v] of Object.entries(headers)) res.setHeader(k, v);
    const text = JSON.stringify(body);
    res.setHeader('content-type', 'application/problem+json');
    res.setHeader('content-length', Buffer.byteLength(text));
    res.writeHead(ERRORS[code].status);
    res.end(text);
  }

  const server = https.createServer({ ...tlsOpts, requestTimeout: deps.config.limits.requestTimeoutMs, headersTimeout: deps.config.limits.headersTimeoutMs }, (req, res) => void handle(req, res));
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(cfg.listen.port, cfg.listen.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  const host = cfg.listen.host.includes(':') ? `[${cfg.listen.host}]` : cfg.listen.host;
  return {
    url: `https://${host}:${port}`,
    port,
    async setTls(tls) {
      server.setSecureContext(await tlsServerOptions(tls));
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/** A new admin user with its second factor: the TOTP secret and recovery codes to show once. */
export async function newAdminUser(o: { username: string; password: string; roles: AdminRole[]; createdBy: string }, secret: Buffer, at: number): Promise<{ user: AdminUser; totpSecret: string; recoveryCodes: string[] }> {
  const totpSecret = newTotpSecret();
  const recoveryCodes = newRecoveryCodes();
  const user: AdminUser = {
    id: `adm_${randomBytes(9).toString('base64url')}`,
    username: o.username.toLowerCase(),
    passwordHash: await hashPassword(o.password),
    roles: [...o.roles],
    totpSecretEnc: encryptSecret(totpSecret, secret),
    recoveryCodeHashes: recoveryCodes.map((c) => hashRecoveryCode(c, secret)),
    disabled: false,
    failedLogins: 0,
    createdAt: at,
    createdBy: o.createdBy,
    updatedAt: at,
  };
  return { user, totpSecret, recoveryCodes };
}

function publicUser(u: AdminUser) {
  return { id: u.id, username: u.username, roles: u.roles, disabled: u.disabled, createdAt: new Date(u.createdAt).toISOString(), ...(u.lockedUntil ? { lockedUntil: new Date(u.lockedUntil).toISOString() } : {}) };
}

function sha256(s: string): string {
  return createHash('sha256').update(s).digest('hex');
}

function cookieValue(header: string | undefined, name: string): string | undefined {
  if (!header) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq !== -1 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim() || undefined;
  }
  return undefined;
}

async function jsonBody(req: IncomingMessage, timeoutMs: number, maxBytes: number): Promise<Record<string, unknown>> {
  // An action without parameters (revoke, disable, logout) may come without a body.
  if (req.headers['transfer-encoding'] === undefined && (req.headers['content-length'] === undefined || req.headers['content-length'] === '0')) return {};
  // JSON only: a cross-site form cannot send it without a CORS preflight (login CSRF).
  const type = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
  if (type !== 'application/json') throw new AdminFailure('RAMPART_ADMIN_BAD_REQUEST', 'Send application/json.');
  const r = await readBody(req, maxBytes, Date.now() + timeoutMs);
  if (!r.ok) throw new AdminFailure('RAMPART_ADMIN_BAD_REQUEST', 'The body could not be read.');
  try {
    const v: unknown = JSON.parse(r.body.toString('utf8'));
    if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new Error('not an object');
    return v as Record<string, unknown>;
  } catch {
    throw new AdminFailure('RAMPART_ADMIN_BAD_REQUEST', 'The body must be a JSON object.');
  }
}
