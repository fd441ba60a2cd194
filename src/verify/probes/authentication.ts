/**
 * Authentication probes (API2, N63-3): on a path that needs a credential (the customer's own
 * object), no credential, a forged token and an expired token must each get 401.
 *
 * The forged token is an RFC 9068 access token in every respect but its signature: the
 * gateway's issuer, audience and key id (read from its public JWKS), the test customer as client,
 * signed by a fresh Ed25519 key made for this run (jose). The expired token is, when the operator
 * gives one, a token the gateway itself issued that has since expired: that proves the expiry
 * check alone. Without one, a jose-built token expired an hour ago is sent; its signature is not
 * the gateway's either, and the evidence says so (it shows refusal, not the expiry check alone).
 */
import { generateKeyPair, SignJWT } from 'jose';
import { randomUUID } from 'node:crypto';
import { parseKey } from '../../keys/format.js';
import { exchangeEvidence, type Exchange, type ProbeClient } from '../http.js';
import type { Identities } from '../identities.js';
import { result, type ControlResult } from '../types.js';

const C = {
  none: { id: 'authn.no-credential', family: 'authentication', title: 'No credential: 401', requirements: ['API2'] },
  forged: { id: 'authn.forged-token', family: 'authentication', title: 'A token signed by a key that is not the gateway\'s: 401', requirements: ['API2'] },
  expired: { id: 'authn.expired-token', family: 'authentication', title: 'An expired token: 401', requirements: ['API2', 'N63-3'] },
} as const;

export interface AuthenticationInput {
  client: ProbeClient;
  identities: Identities;
  /** The gateway's reserved prefix (JWKS at <prefix>/jwks.json). */
  reservedPrefix: string;
  /** Claims the forged token copies: from --config when given, else the identities file. */
  issuer?: string;
  audience?: string;
}

export interface AuthenticationOutput {
  results: ControlResult[];
  /** The unauthenticated request's answer (the headers family reads it). */
  denial?: Exchange;
}

const SCOPE_HINT = 'accounts:read orders:read orders:write';

export async function authenticationProbes(i: AuthenticationInput): Promise<AuthenticationOutput> {
  const path = i.identities.customer?.ownObject;
  if (path === undefined) {
    const why = 'no protected path: give customer.ownObject (identities file)';
    return { results: Object.values(C).map((c) => result(c, 'skipped', why)) };
  }
  const results: ControlResult[] = [];
  const expect401 = (c: (typeof C)[keyof typeof C], ex: Exchange, extra: Record<string, unknown> = {}, caveat = ''): ControlResult => {
    const ev = { ...exchangeEvidence(ex, ['www-authenticate']), ...extra };
    const r = ex.response;
    if (r.status === 401) return result(c, 'pass', `401${r.code ? ` ${r.code}` : ''}${caveat}`, ev);
    return result(c, 'fail', `expected 401, got ${r.status}${r.code ? ` ${r.code}` : ''}`, ev);
  };

  // -- no credential ------------------------------------------------------------------------------
  let denial: Exchange | undefined;
  try {
    denial = await i.client.request(C.none.id, { method: 'GET', path });
    results.push(expect401(C.none, denial));
  } catch (err) {
    results.push(result(C.none, 'error', (err as Error).message, { path }));
  }

  // -- forged -------------------------------------------------------------------------------------
  let kid: string | undefined;
  let jwksNote: string;
  try {
    const ex = await i.client.request(C.forged.id, { method: 'GET', path: `${i.reservedPrefix}/jwks.json` });
    const keys = ex.response.status === 200 ? (JSON.parse(ex.response.body.toString('utf8')) as { keys?: { kid?: unknown }[] }).keys : undefined;
    kid = keys?.map((k) => k.kid).find((k): k is string => typeof k === 'string');
    jwksNote = kid ? `kid ${kid} from ${i.reservedPrefix}/jwks.json` : `no key id at ${i.reservedPrefix}/jwks.json (status ${ex.response.status}): a random kid`;
  } catch (err) {
    jwksNote = `JWKS not readable (${(err as Error).message}): a random kid`;
  }
  const customerKey = i.identities.customer?.credential.value;
  const clientId = (customerKey !== undefined ? parseKey(customerKey)?.id : undefined) ?? 'rampart-verify';
  const claims = { iss: i.issuer ?? i.identities.token.issuer ?? 'rampart', aud: i.audience ?? i.identities.token.audience ?? 'rampart-verify', sub: clientId, client_id: clientId, scope: SCOPE_HINT, jti: randomUUID() };
  try {
    const { privateKey } = await generateKeyPair('EdDSA', { crv: 'Ed25519' });
    const t = Math.floor(Date.now() / 1000);
    const forged = await new SignJWT(claims).setProtectedHeader({ alg: 'EdDSA', typ: 'at+jwt', kid: kid ?? randomUUID() }).setIssuedAt(t).setExpirationTime(t + 300).sign(privateKey);
    const ex = await i.client.request(C.forged.id, { method: 'GET', path, credential: { source: 'forged token (fresh Ed25519 key)', value: forged } });
    results.push(expect401(C.forged, ex, { token: { header: { alg: 'EdDSA', typ: 'at+jwt', kid: kid ?? '(random)' }, claims: { ...claims, exp: t + 300 }, signedBy: 'a fresh Ed25519 key made for this run', jwks: jwksNote } }));
  } catch (err) {
    results.push(result(C.forged, 'error', (err as Error).message, { path }));
  }

  // -- expired ------------------------------------------------------------------------------------
  try {
    const given = i.identities.expiredToken;
    if (given) {
      const ex = await i.client.request(C.expired.id, { method: 'GET', path, credential: given });
      results.push(expect401(C.expired, ex, { token: { source: given.source, gatewaySigned: 'as given by the operator' } }, ' (a gateway-issued token past its expiry)'));
    } else {
      const { privateKey } = await generateKeyPair('EdDSA', { crv: 'Ed25519' });
      const t = Math.floor(Date.now() / 1000);
      const expired = await new SignJWT({ ...claims, jti: randomUUID() }).setProtectedHeader({ alg: 'EdDSA', typ: 'at+jwt', kid: kid ?? randomUUID() }).setIssuedAt(t - 7200).setExpirationTime(t - 3600).sign(privateKey);
      const ex = await i.client.request(C.expired.id, { method: 'GET', path, credential: { source: 'expired token (fresh Ed25519 key)', value: expired } });
      results.push(expect401(C.expired, ex, { token: { exp: new Date((t - 3600) * 1000).toISOString(), gatewaySigned: false, note: 'no expiredToken was given: the signature is not the gateway\'s either' } }, ' (not gateway-signed: give expiredToken to prove the expiry check alone)'));
    }
  } catch (err) {
    results.push(result(C.expired, 'error', (err as Error).message, { path }));
  }
  return { results, ...(denial ? { denial } : {}) };
}
