/**
 * AES-256-GCM envelopes for the ledger's private parts and captured bodies (ENC-5: at rest,
 * AES-256-GCM, an authenticated mode, a unique 96-bit IV per encryption under a key).
 *
 * Envelope (self-describing, so the format can change without guessing):
 *
 *   0x01 (format version) ‖ IV (12 random bytes) ‖ ciphertext (= plaintext length) ‖ tag (16 bytes)
 *
 * The caller's AAD (for example the record's seq, item kind and data-key id) is authenticated but
 * not stored: an envelope copied onto another row, or opened under another key, fails to open.
 * Every failure to open (wrong key, tampered byte, wrong AAD, truncated, unknown version) is the
 * same error, RAMPART_DECRYPT_FAILED, so the reason is not an oracle.
 *
 * The 2^32 bound. With random 96-bit IVs, NIST SP 800-38D §8.3 limits one key to 2^32
 * invocations, which keeps the chance of any IV repeating (which would leak the XOR of two
 * plaintexts and the GHASH key) under 2^-32. Rampart's data keys are per (record class, expiry
 * day) (../crypto/data-keys.ts), so a key only ever seals one day's items of one class. At an
 * illustrative 1 000 exchanges per second sustained for 24 hours across the whole cluster, with
 * ~4 envelopes per exchange (decision and completion private parts, request and response bodies),
 * one key seals 3.5 × 10^8 ≈ 2^28.4 items: 16 times below the bound, and the chance of an IV
 * collision is about n²/2^97 ≈ 2^-40. The bound is only approached by a single class sustaining
 * ~12 000 exchanges per second around the clock; such a deployment should split the class per
 * node (e.g. `exchange@node-2`), which gives each node its own keys. Random IVs (rather than
 * counters) are what make one key safe to share between nodes without coordination.
 *
 * Speed: the IV bytes come from a pool refilled from the CSPRNG 4 KiB at a time (what Node itself
 * does for crypto.randomUUID), because a CSPRNG call per 12 bytes costs more than the encryption
 * of a 500-byte item. Each IV slice is copied out and consumed exactly once before the pool is
 * refilled, so no IV is ever handed out twice; nothing else (no cipher context, no key schedule)
 * is reused between calls.
 */
import { createCipheriv, createDecipheriv, randomFillSync } from 'node:crypto';

/** Format version byte of the envelope produced by seal(). */
export const AEAD_FORMAT_VERSION = 0x01;
export const AEAD_KEY_BYTES = 32;
export const AEAD_IV_BYTES = 12;
export const AEAD_TAG_BYTES = 16;
/** Bytes an envelope adds to its plaintext: version + IV + tag. */
export const AEAD_OVERHEAD = 1 + AEAD_IV_BYTES + AEAD_TAG_BYTES;

/** Codes of the errors thrown by src/crypto (registered by the integrator in src/core/errors.ts). */
export type CryptoErrorCode =
  | 'RAMPART_DECRYPT_FAILED'
  | 'RAMPART_KEK_UNKNOWN'
  | 'RAMPART_KEK_NOT_FOUND'
  | 'RAMPART_KEK_INVALID'
  | 'RAMPART_KEK_INSECURE'
  | 'RAMPART_KEK_BUSY'
  | 'RAMPART_KEK_UNAVAILABLE'
  | 'RAMPART_KEK_ROTATE_UNSUPPORTED'
  | 'RAMPART_KEK_CONFIG_INVALID'
  | 'RAMPART_DATA_KEY_GONE';

/** An error of the crypto layer with a stable code; `switch (err.code)` narrows. */
export class CryptoError extends Error {
  readonly code: CryptoErrorCode;
  constructor(code: CryptoErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'CryptoError';
    this.code = code;
  }
}

const IV_POOL_BYTES = 4096 - (4096 % AEAD_IV_BYTES); // a whole number of IVs
const ivPool = Buffer.alloc(IV_POOL_BYTES);
let ivOffset = IV_POOL_BYTES; // empty: filled on first use

/** Copies 12 fresh random bytes into `out` at `at`; each pool slice is handed out once. */
function writeFreshIv(out: Buffer, at: number): void {
  if (ivOffset === IV_POOL_BYTES) {
    randomFillSync(ivPool);
    ivOffset = 0;
  }
  ivPool.copy(out, at, ivOffset, ivOffset + AEAD_IV_BYTES);
  ivPool.fill(0, ivOffset, ivOffset + AEAD_IV_BYTES); // a used slice cannot be handed out again
  ivOffset += AEAD_IV_BYTES;
}

function checkKey(key: Buffer, what: string): void {
  if (!Buffer.isBuffer(key) || key.length !== AEAD_KEY_BYTES) {
    throw new TypeError(`${what}: the key must be a Buffer of ${AEAD_KEY_BYTES} bytes (AES-256), got ${Buffer.isBuffer(key) ? `${key.length} bytes` : typeof key}`);
  }
}

/** True when every byte is 0: a data key that was forgotten (zeroed) after a purge. */
function isZero(key: Buffer): boolean {
  let acc = 0;
  for (let i = 0; i < key.length; i++) acc |= key[i]!;
  return acc === 0;
}

/**
 * Encrypts `plaintext` under `key` (32 bytes) with AES-256-GCM and a fresh random 96-bit IV,
 * authenticating `aad` too (ENC-5). Returns the self-describing envelope described above.
 * Throws TypeError on a key that is not 32 bytes, or that is all zeros (a key forgotten by the
 * data-key ring after a purge must never seal anything).
 *
 * @example
 * const key = randomBytes(32);
 * const env = seal(key, Buffer.from('{"principal":"alice"}'), Buffer.from('rampart-priv|42'));
 * open(key, env, Buffer.from('rampart-priv|42')).toString(); // '{"principal":"alice"}'
 */
export function seal(key: Buffer, plaintext: Buffer, aad: Buffer): Buffer {
  checkKey(key, 'seal');
  if (isZero(key)) throw new TypeError('seal: the key is all zeros (a forgotten data key); refusing to encrypt');
  const out = Buffer.allocUnsafe(AEAD_OVERHEAD + plaintext.length);
  out[0] = AEAD_FORMAT_VERSION;
  writeFreshIv(out, 1);
  const cipher = createCipheriv('aes-256-gcm', key, out.subarray(1, 1 + AEAD_IV_BYTES), { authTagLength: AEAD_TAG_BYTES });
  cipher.setAAD(aad);
  const body = cipher.update(plaintext);
  const rest = cipher.final(); // GCM is a stream mode: empty, but kept for correctness
  let at = 1 + AEAD_IV_BYTES;
  at += body.copy(out, at);
  at += rest.copy(out, at);
  cipher.getAuthTag().copy(out, at);
  return out;
}

/**
 * Decrypts an envelope made by seal() with the same key and AAD. Any failure (wrong key, a
 * changed byte, another AAD, a truncated envelope, an unknown format version) throws CryptoError
 * RAMPART_DECRYPT_FAILED; nothing of the plaintext is returned unless the tag verified.
 *
 * @example
 * try { open(key, envelope, aad); } catch (e) { if ((e as CryptoError).code === 'RAMPART_DECRYPT_FAILED') ... }
 */
export function open(key: Buffer, envelope: Buffer, aad: Buffer): Buffer {
  checkKey(key, 'open');
  if (envelope.length < AEAD_OVERHEAD) {
    throw new CryptoError('RAMPART_DECRYPT_FAILED', `cannot decrypt: the envelope has ${envelope.length} bytes, fewer than the ${AEAD_OVERHEAD} of an empty one (truncated)`);
  }
  if (envelope[0] !== AEAD_FORMAT_VERSION) {
    throw new CryptoError('RAMPART_DECRYPT_FAILED', `cannot decrypt: unknown envelope format version ${envelope[0]} (this build reads ${AEAD_FORMAT_VERSION})`);
  }
  const tagAt = envelope.length - AEAD_TAG_BYTES;
  let body: Buffer | undefined;
  try {
    const decipher = createDecipheriv('aes-256-gcm', key, envelope.subarray(1, 1 + AEAD_IV_BYTES), { authTagLength: AEAD_TAG_BYTES });
    decipher.setAAD(aad);
    decipher.setAuthTag(envelope.subarray(tagAt));
    body = decipher.update(envelope.subarray(1 + AEAD_IV_BYTES, tagAt));
    const rest = decipher.final(); // throws when the tag does not verify
    return rest.length === 0 ? body : Buffer.concat([body, rest]);
  } catch (err) {
    body?.fill(0); // unauthenticated plaintext is never released
    throw new CryptoError('RAMPART_DECRYPT_FAILED', 'cannot decrypt: the authentication tag does not verify (wrong key, wrong AAD or altered data)', { cause: err });
  }
}
