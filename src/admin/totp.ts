/**
 * TOTP second factor for the admin plane (RFC 6238 via otplib's authenticator; N63-1, N63-4;
 * ASVS 2.8.1-2.8.5).
 *
 * Parameters are the ones authenticator apps assume: HMAC-SHA-1, 30-second steps, 6 digits, a
 * 160-bit base32 secret (800-63B asks ≥ 112 bits of key). A code is accepted for the current step
 * and one step either side (clock drift plus typing time: a code lives at most 90 s, under the
 * 2-minute bound of N63-4). checkTotp reports the matched time step; the caller refuses that step
 * or any earlier one for the user (AdminStore.useTotpStep, atomic), so a code works once.
 *
 * The secret is stored encrypted: AES-256-GCM under a key derived with HKDF-SHA256 from the
 * server secret (info "rampart admin totp v1"; the server secret also keys API-key hashes, so
 * each use gets its own derived key), a random 96-bit IV per encryption, and the version prefix
 * authenticated as associated data. Format: v1.<iv b64url>.<ciphertext b64url>.<tag b64url>.
 */
import { createCipheriv, createDecipheriv, hkdfSync, randomBytes, timingSafeEqual } from 'node:crypto';
import { createRequire } from 'node:module';
import { authenticator } from 'otplib';

export const TOTP_STEP_SECONDS = 30;
export const TOTP_DIGITS = 6;
/** Steps accepted either side of the current one. */
export const TOTP_WINDOW = 1;
/** 20 bytes = 160 bits, the RFC 4226 recommendation (and the SHA-1 block-size sweet spot). */
const SECRET_BYTES = 20;

const CODE_RE = /^[0-9]{6}$/;
const STEP_MS = TOTP_STEP_SECONDS * 1000;

/** A fresh, private authenticator with the parameters pinned (never the shared singleton's options). */
function otp(epochMs: number): typeof authenticator {
  return authenticator.clone({ epoch: epochMs, step: TOTP_STEP_SECONDS, digits: TOTP_DIGITS, window: 0 });
}

/** A new TOTP secret: 160 random bits, RFC 4648 base32 without padding (32 characters). */
export function newTotpSecret(): string {
  return otp(Date.now()).generateSecret(SECRET_BYTES);
}

/** The time step number at `now` (epoch ms): floor(epochSeconds / 30). */
export function totpStep(now: number = Date.now()): number {
  return Math.floor(now / STEP_MS);
}

/** The code an authenticator app shows at `now` (epoch ms). For enrolment checks, the CLI and tests. */
export function totpCode(secret: string, now: number = Date.now()): string {
  return otp(now).generate(secret);
}

/**
 * The otpauth:// URI an authenticator app scans (Google Authenticator Key URI format):
 * otpauth://totp/<issuer>:<account>?secret=…&period=30&digits=6&algorithm=SHA1&issuer=<issuer>.
 * Throws RangeError when the issuer or the account is empty or contains ':' (the format forbids
 * it in either part).
 */
export function otpauthUri(secret: string, o: { account: string; issuer: string }): string {
  for (const [name, v] of [['account', o.account], ['issuer', o.issuer]] as const) {
    if (typeof v !== 'string' || v === '' || v.includes(':')) throw new RangeError(`otpauthUri: ${name} must be non-empty and must not contain ':'`);
  }
  return otp(Date.now()).keyuri(o.account, o.issuer, secret);
}

/**
 * Checks a 6-digit code against the steps now-1, now and now+1. On success returns the matched
 * time step (floor(epochSeconds / 30) + delta); the caller must then refuse this step and every
 * earlier one for the user (replay protection). All three candidates are always computed and
 * compared in constant time. Anything but exactly six ASCII digits is refused.
 */
export function checkTotp(secret: string, code: string, now: number = Date.now()): { ok: true; step: number } | { ok: false } {
  if (typeof code !== 'string' || !CODE_RE.test(code)) return { ok: false };
  const presented = Buffer.from(code, 'ascii');
  const current = totpStep(now);
  let matched: number | undefined;
  for (let delta = -TOTP_WINDOW; delta <= TOTP_WINDOW; delta++) {
    const expected = Buffer.from(totpCode(secret, now + delta * STEP_MS), 'ascii');
    // Both are 6 bytes here; the length test only guards timingSafeEqual's precondition.
    const equal = expected.length === presented.length && timingSafeEqual(expected, presented);
    // The latest matching step wins (two steps share a code once in a million): the conservative
    // choice for replay protection.
    if (equal) matched = current + delta;
  }
  return matched === undefined ? { ok: false } : { ok: true, step: matched };
}

// ---------------------------------------------------------------------------------------------
// Secret at rest

const VERSION = 'v1';
const HKDF_INFO = 'rampart admin totp v1';
const IV_BYTES = 12;
const TAG_BYTES = 16;
const B64URL_RE = /^[A-Za-z0-9_-]*$/;

function totpKey(serverSecret: Buffer): Buffer {
  if (!Buffer.isBuffer(serverSecret) || serverSecret.length < 16) throw new RangeError('server secret must be at least 16 bytes');
  return Buffer.from(hkdfSync('sha256', serverSecret, Buffer.alloc(0), HKDF_INFO, 32));
}

/** Encrypts a TOTP secret for storage: v1.<iv>.<ciphertext>.<tag>, all base64url. */
export function encryptSecret(secret: string, serverSecret: Buffer): string {
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv('aes-256-gcm', totpKey(serverSecret), iv, { authTagLength: TAG_BYTES });
  cipher.setAAD(Buffer.from(VERSION, 'ascii'));
  const ct = Buffer.concat([cipher.update(secret, 'utf8'), cipher.final()]);
  return [VERSION, iv.toString('base64url'), ct.toString('base64url'), cipher.getAuthTag().toString('base64url')].join('.');
}

function strictB64url(part: string, what: string): Buffer {
  const buf = Buffer.from(part, 'base64url');
  // Buffer.from skips characters it does not know; insist on the canonical encoding.
  if (!B64URL_RE.test(part) || buf.toString('base64url') !== part) throw new Error(`encrypted TOTP secret: malformed ${what}`);
  return buf;
}

/**
 * Decrypts what encryptSecret produced. Throws on a malformed blob, an unknown version, a wrong
 * server secret or any tampering (GCM tag mismatch).
 */
export function decryptSecret(blob: string, serverSecret: Buffer): string {
  const parts = typeof blob === 'string' ? blob.split('.') : [];
  if (parts.length !== 4 || parts[0] !== VERSION) throw new Error('encrypted TOTP secret: unknown format');
  const iv = strictB64url(parts[1]!, 'iv');
  const ct = strictB64url(parts[2]!, 'ciphertext');
  const tag = strictB64url(parts[3]!, 'tag');
  if (iv.length !== IV_BYTES || tag.length !== TAG_BYTES) throw new Error('encrypted TOTP secret: malformed iv or tag');
  const decipher = createDecipheriv('aes-256-gcm', totpKey(serverSecret), iv, { authTagLength: TAG_BYTES });
  decipher.setAAD(Buffer.from(VERSION, 'ascii'));
  decipher.setAuthTag(tag);
  try {
    return Buffer.concat([decipher.update(ct), decipher.final()]).toString('utf8');
  } catch {
    throw new Error('encrypted TOTP secret: authentication failed (wrong server secret or tampered data)');
  }
}

// ---------------------------------------------------------------------------------------------
// Terminal QR code

interface QrcodeTerminal {
  generate(input: string, opts: { small?: boolean }, cb: (qr: string) => void): void;
}

// qrcode-terminal is CommonJS without type declarations; load it through require with a local type.
const qrcodeTerminal = createRequire(import.meta.url)('qrcode-terminal') as QrcodeTerminal;

/** Renders the URI as a QR code with Unicode half blocks (qrcode-terminal "small" mode) for a terminal. */
export function terminalQr(uri: string): Promise<string> {
  return new Promise((resolve, reject) => {
    try {
      qrcodeTerminal.generate(uri, { small: true }, (qr) => resolve(qr));
    } catch (err) {
      reject(err instanceof Error ? err : new Error(String(err)));
    }
  });
}
