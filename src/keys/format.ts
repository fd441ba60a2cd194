/**
 * API key format: `rmpk_<id>_<secret>` where id is 12 lower-case base32 characters (public,
 * also the key's identifier in `keys list` and in ledger records) and secret is 32 random bytes
 * in base64url (256 bits). The fixed `rmpk_` prefix and the checkable shape let secret scanners
 * find leaked keys (as GitHub's `ghp_` tokens do).
 *
 * Only a keyed hash of the secret is stored: HMAC-SHA256(server secret, id + '.' + secret). A
 * stolen database alone cannot test guesses without the server secret; binding the id into the
 * MAC stops a hash from being moved onto another key row.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

export const KEY_PREFIX = 'rmpk_';
const ID_ALPHABET = 'abcdefghijklmnopqrstuvwxyz234567';
const KEY_RE = /^rmpk_([a-z2-7]{12})_([A-Za-z0-9_-]{43})$/;

export interface ParsedKey {
  id: string;
  secret: string;
}

export function newKeyId(): string {
  const bytes = randomBytes(12);
  let id = '';
  for (const b of bytes) id += ID_ALPHABET[b & 31];
  return id;
}

export function newKeyString(id: string = newKeyId()): { id: string; key: string; secret: string } {
  const secret = randomBytes(32).toString('base64url');
  return { id, secret, key: `${KEY_PREFIX}${id}_${secret}` };
}

/** Parses a presented key; undefined when it does not have the Rampart key shape. */
export function parseKey(presented: string): ParsedKey | undefined {
  if (presented.length !== 61) return undefined;
  const m = KEY_RE.exec(presented);
  return m ? { id: m[1]!, secret: m[2]! } : undefined;
}

export function hashKeySecret(serverSecret: Buffer, id: string, secret: string): string {
  return createHmac('sha256', serverSecret).update(id).update('.').update(secret).digest('hex');
}

/** Constant-time comparison of a presented secret against the stored hash. */
export function keyMatches(serverSecret: Buffer, id: string, secret: string, storedHashHex: string): boolean {
  const computed = createHmac('sha256', serverSecret).update(id).update('.').update(secret).digest();
  const stored = Buffer.from(storedHashHex, 'hex');
  return stored.length === computed.length && timingSafeEqual(stored, computed);
}
