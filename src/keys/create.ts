/**
 * Creating and revoking keys: the operations behind `rampart keys` (and, later, the admin API).
 * The key string is returned once and never stored.
 */
import type { ApiKeyRecord, KeyStore } from '../storage/types.js';
import { hashKeySecret, newKeyString } from './format.js';

export interface CreateKeyParams {
  name: string;
  scopes: string[];
  subject?: string;
  expiresAt?: number;
  createdBy?: string;
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
  };
  await store.insert(record);
  return { key, record };
}

export function keyStatus(k: ApiKeyRecord, now = Date.now()): 'active' | 'revoked' | 'expired' {
  if (k.revokedAt !== undefined) return 'revoked';
  if (k.expiresAt !== undefined && k.expiresAt <= now) return 'expired';
  return 'active';
}
