/**
 * What may be shown of a key, by the CLI and by the admin API alike (one shape for scripts that
 * use either): never its hash, let alone its secret.
 */
import type { ApiKeyRecord } from '../storage/types.js';
import { keyStatus } from './create.js';

export interface PublicKeyView {
  id: string;
  name: string;
  status: 'active' | 'revoked' | 'expired';
  scopes: string[];
  subject: string | null;
  createdAt: string;
  expiresAt: string | null;
  revokedAt: string | null;
  lastUsedAt: string | null;
  createdBy: string | null;
  /** Whether the key can authenticate with private_key_jwt (the public key itself is not secret, but not shown). */
  privateKeyJwt: boolean;
}

export function publicKeyView(k: ApiKeyRecord): PublicKeyView {
  const iso = (ms: number | undefined) => (ms === undefined ? null : new Date(ms).toISOString());
  return {
    id: k.id,
    name: k.name,
    status: keyStatus(k),
    scopes: k.scopes,
    subject: k.subject ?? null,
    createdAt: new Date(k.createdAt).toISOString(),
    expiresAt: iso(k.expiresAt),
    revokedAt: iso(k.revokedAt),
    lastUsedAt: iso(k.lastUsedAt),
    createdBy: k.createdBy ?? null,
    privateKeyJwt: k.publicKeyJwk !== undefined,
  };
}
