/**
 * Creating and revoking keys: the operations behind `rampart keys` (and, later, the admin API).
 * The key string is returned once and never stored.
 */
import type { ApiKeyRecord, KeyStore } from '../storage/types.js';
import { createPublicKey, type JsonWebKey, type KeyObject } from 'node:crypto';
import { hashKeySecret, newKeyString } from './format.js';

export interface CreateKeyParams {
  name: string;
  scopes: string[];
  subject?: string;
  expiresAt?: number;
  createdBy?: string;
  /** A public JWK (object or JSON) for private_key_jwt clients (RFC 7523); see publicJwkOf. */
  publicKeyJwk?: unknown;
  now?: number;
}

const SCOPE_RE = /^[A-Za-z0-9_.:\-/*]{1,128}$/;

export async function createKey(store: KeyStore, serverSecret: Buffer, p: CreateKeyParams): Promise<{ key: string; record: ApiKeyRecord }> {
  if (!p.name || p.name.length > 128) throw new TypeError('key name must be 1 to 128 characters');
  for (const s of p.scopes) {
    if (!SCOPE_RE.test(s)) throw new TypeError(`invalid scope '${s}'`);
  }
  const now = p.now ?? Date.now();
  if (p.expiresAt !== undefined && p.expiresAt <= now) throw new TypeError('expiry must be in the future');
  const { id, key, secret } = newKeyString();
  const record: ApiKeyRecord = {
    id,
    name: p.name,
    hash: hashKeySecret(serverSecret, id, secret),
    scopes: [...new Set(p.scopes)].sort(),
    createdAt: now,
    ...(p.subject !== undefined ? { subject: p.subject } : {}),
    ...(p.expiresAt !== undefined ? { expiresAt: p.expiresAt } : {}),
    ...(p.createdBy !== undefined ? { createdBy: p.createdBy } : {}),
    ...(p.publicKeyJwk !== undefined ? { publicKeyJwk: publicJwkOf(p.publicKeyJwk) } : {}),
  };
  await store.insert(record);
  return { key, record };
}

/** 'active' also while a scheduled revocation (a rotation's grace period) has not come yet. */
export function keyStatus(k: ApiKeyRecord, now = Date.now()): 'active' | 'revoked' | 'expired' {
  if (k.revokedAt !== undefined && k.revokedAt <= now) return 'revoked';
  if (k.expiresAt !== undefined && k.expiresAt <= now) return 'expired';
  return 'active';
}

/**
 * A client's public key for private_key_jwt, checked and stored as canonical JSON of its public
 * members only: EC P-256/P-384, Ed25519, or RSA of at least 2048 bits. A JWK with private members
 * is refused outright rather than trimmed: whoever sent it has leaked the private key.
 */
export function publicJwkOf(jwk: unknown): string {
  const o: unknown = typeof jwk === 'string' ? safeJson(jwk) : jwk;
  if (typeof o !== 'object' || o === null || Array.isArray(o)) throw new TypeError('publicKeyJwk must be a JSON Web Key object');
  const j = o as Record<string, unknown>;
  if ('d' in j || 'p' in j || 'q' in j) throw new TypeError('publicKeyJwk holds a private key; send only the public key');
  let key: KeyObject;
  try {
    key = createPublicKey({ key: j as JsonWebKey, format: 'jwk' });
  } catch {
    throw new TypeError('publicKeyJwk is not a usable public key');
  }
  const t = key.asymmetricKeyType;
  const d = key.asymmetricKeyDetails;
  const ok = (t === 'ec' && (d?.namedCurve === 'prime256v1' || d?.namedCurve === 'secp384r1')) || t === 'ed25519' || (t === 'rsa' && (d?.modulusLength ?? 0) >= 2048);
  if (!ok) throw new TypeError('publicKeyJwk must be EC P-256/P-384, Ed25519 or RSA of at least 2048 bits');
  return JSON.stringify(key.export({ format: 'jwk' }));
}

function safeJson(s: string): unknown {
  try {
    return JSON.parse(s);
  } catch {
    return undefined;
  }
}
