/**
 * One-time recovery codes for the admin plane (800-63B look-up secrets; N63-1; ASVS 2.6).
 *
 * A code is 16 characters in four groups, xxxx-xxxx-xxxx-xxxx, drawn uniformly (rejection
 * sampling) from a 31-character alphabet without the look-alikes 0/o, 1/l/i: about 79 bits each,
 * well above the 64 bits 800-63B rev 3 asks of look-up secrets. Only a keyed hash is stored:
 * HMAC-SHA256 over the normalised code (lower-case, NFKC, dashes and whitespace removed) under a
 * key derived with HKDF-SHA256 from the server secret (info "rampart admin recovery code v1"; the
 * server secret also keys API-key hashes). The same code typed in capitals or without dashes
 * gives the same hash, so the store can find and remove it by exact hash (each code works once).
 */
import { createHmac, hkdfSync, randomBytes } from 'node:crypto';

/** No 0, 1, i, l, o: nothing that reads as another character in any common font. */
export const RECOVERY_CODE_ALPHABET = '23456789abcdefghjkmnpqrstuvwxyz';
export const RECOVERY_CODE_GROUPS = 4;
export const RECOVERY_CODE_GROUP_LENGTH = 4;
/** Entropy of one code in bits: characters × log2(alphabet size) ≈ 79.3. */
export const RECOVERY_CODE_BITS = RECOVERY_CODE_GROUPS * RECOVERY_CODE_GROUP_LENGTH * Math.log2(RECOVERY_CODE_ALPHABET.length);

const HKDF_INFO = 'rampart admin recovery code v1';

/** n uniformly random characters of the alphabet (a byte ≥ 248 = 8 × 31 is skipped, so no modulo bias). */
function randomChars(n: number): string {
  const size = RECOVERY_CODE_ALPHABET.length;
  const limit = 256 - (256 % size);
  let out = '';
  while (out.length < n) {
    for (const b of randomBytes(n * 2)) {
      if (b >= limit) continue;
      out += RECOVERY_CODE_ALPHABET[b % size];
      if (out.length === n) break;
    }
  }
  return out;
}

/** n fresh codes, distinct from one another, formatted xxxx-xxxx-xxxx-xxxx. */
export function newRecoveryCodes(n = 10): string[] {
  if (!Number.isInteger(n) || n < 1 || n > 100) throw new RangeError('newRecoveryCodes: n must be an integer from 1 to 100');
  const codes = new Set<string>();
  while (codes.size < n) {
    const raw = randomChars(RECOVERY_CODE_GROUPS * RECOVERY_CODE_GROUP_LENGTH);
    const groups: string[] = [];
    for (let i = 0; i < raw.length; i += RECOVERY_CODE_GROUP_LENGTH) groups.push(raw.slice(i, i + RECOVERY_CODE_GROUP_LENGTH));
    codes.add(groups.join('-'));
  }
  return [...codes];
}

/** The form that is hashed: NFKC, lower-case, without dashes (any Unicode dash) or whitespace. */
export function normalizeRecoveryCode(code: string): string {
  return code.normalize('NFKC').toLowerCase().replace(/[\s\p{Pd}]+/gu, '');
}

/** Hex HMAC-SHA256 of the normalised code: what the store keeps and looks up. */
export function hashRecoveryCode(code: string, serverSecret: Buffer): string {
  if (!Buffer.isBuffer(serverSecret) || serverSecret.length < 16) throw new RangeError('server secret must be at least 16 bytes');
  const key = Buffer.from(hkdfSync('sha256', serverSecret, Buffer.alloc(0), HKDF_INFO, 32));
  return createHmac('sha256', key).update(normalizeRecoveryCode(code), 'utf8').digest('hex');
}
