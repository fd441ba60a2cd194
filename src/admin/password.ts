/**
 * Admin-plane passwords (NIST SP 800-63B rev 4 §3.1.1, N63-7; ASVS 2.1, 2.4.1-2.4.5).
 *
 * Policy: 15 to 256 characters (Unicode code points, counted after NFKC), any printable Unicode
 * and spaces, and no composition rules (no "one digit, one symbol"). A password is refused when
 * it is on the blocklist of common/breached passwords (src/admin/common-passwords.txt), contains
 * the username, or is trivially repetitive or sequential ("aaaa…", "abcabc…", "1234567890123…",
 * "qwertyuiop…"). A blocklisted password padded with a trivial run ("password1234567",
 * "dragon!!!!!!!!!") counts as common too: the 15-character minimum invites exactly that padding.
 *
 * Every password is normalised with NFKC before it is checked or hashed (800-63B: "the verifier
 * SHOULD apply the Normalization Process for Stabilization of Strings using either the NFKC or
 * NFKD normalization"), so the same password typed with a compatibility form (full-width letters,
 * a ligature) verifies. Hashes are argon2id at the OWASP minimum (m = 19 MiB, t = 2, p = 1) with
 * a random 128-bit salt, stored as a PHC string.
 */
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { hash as argon2Hash, parseOptions, verify as argon2Verify } from '@node-rs/argon2';
import type { Algorithm } from '@node-rs/argon2';

/** 800-63B rev 4 SHOULD (SHALL is 8 for a password used with another factor); the firm default. */
export const MIN_PASSWORD_LENGTH = 15;
/** 800-63B asks for a maximum of at least 64; 256 leaves room for long passphrases. */
export const MAX_PASSWORD_LENGTH = 256;

export type PasswordPolicyReason = 'too-short' | 'too-long' | 'common' | 'contains-username' | 'repetitive';
export type PasswordPolicyResult = { ok: true } | { ok: false; reason: PasswordPolicyReason };

/** argon2id parameters (OWASP Password Storage Cheat Sheet, first option; ASVS 2.4.4 asks ≥ 15 MiB, t = 2, p = 1). */
export const ARGON2_PARAMS = Object.freeze({ memoryCost: 19_456, timeCost: 2, parallelism: 1, outputLen: 32 });

// `Algorithm` is an ambient const enum, which isolated modules cannot read; 2 is Argon2id.
const ARGON2ID = 2 as Algorithm;
const HASH_OPTIONS = { ...ARGON2_PARAMS, algorithm: ARGON2ID };

/**
 * Inputs longer than this (UTF-16 units, before normalisation) are refused without further
 * work: NFKC composition cannot bring them down to MAX_PASSWORD_LENGTH code points, and
 * normalising or hashing megabytes on an unauthenticated login is a cheap denial of service.
 */
const MAX_INPUT_UNITS = MAX_PASSWORD_LENGTH * 8;

/** The form in which passwords are checked and hashed. */
export function normalizePassword(password: string): string {
  return password.normalize('NFKC');
}

function codePoints(s: string): number {
  let n = 0;
  for (const _ of s) n++;
  return n;
}

// ---------------------------------------------------------------------------------------------
// Blocklist

/**
 * Finds common-passwords.txt from either location of this module: dist/src/admin/password.js
 * (compiled; tsc does not copy .txt, so the file is read from the package's src/admin) or
 * src/admin/password.ts (run from source).
 */
export function commonPasswordsPath(): string {
  for (const rel of ['../../../src/admin/common-passwords.txt', './common-passwords.txt']) {
    const p = fileURLToPath(new URL(rel, import.meta.url));
    if (existsSync(p)) return p;
  }
  throw new Error('src/admin/common-passwords.txt not found next to the package');
}

let blocklist: Set<string> | undefined;

/** The blocklist, read once on first use. Entries are NFKC, lower-case; '#' lines are comments. */
function commonPasswords(): Set<string> {
  if (blocklist) return blocklist;
  const set = new Set<string>();
  for (const raw of readFileSync(commonPasswordsPath(), 'utf8').split('\n')) {
    const line = raw.replace(/\r$/, '');
    if (line === '' || line.startsWith('#')) continue;
    set.add(line.normalize('NFKC').toLowerCase());
  }
  blocklist = set;
  return set;
}

/** True when the password (any case, any Unicode compatibility form) is on the blocklist. */
export function isCommonPassword(password: string): boolean {
  return commonPasswords().has(normalizePassword(password).toLowerCase());
}

// ---------------------------------------------------------------------------------------------
// Repetitive and sequential passwords

/** Keyboard rows (US QWERTY, plain and shifted), the letter rows also as one snake ("…opasd…"). */
const KEYBOARD_ROWS = ['`1234567890-=', '~!@#$%^&*()_+', 'qwertyuiop[]\\', "asdfghjkl;'", 'zxcvbnm,./', 'qwertyuiopasdfghjklzxcvbnm'];

/** Bit flags of the relations between two neighbouring characters. */
const Link = { Same: 1, Up: 2, Down: 4, KeyRight: 8, KeyLeft: 16 } as const;

/** Wrap-around successor within the digit and letter classes: '9' → '0', 'z' → 'a'. */
function successor(c: string): string | undefined {
  if (c === '9') return '0';
  if (c === 'z') return 'a';
  if ((c >= '0' && c < '9') || (c >= 'a' && c < 'z')) return String.fromCharCode(c.charCodeAt(0) + 1);
  return undefined;
}

/** Which "trivial" relations lead from a to b (both single code points, lower-case). */
function links(a: string, b: string): number {
  let l = 0;
  if (a === b) l |= Link.Same;
  const ca = a.codePointAt(0)!;
  const cb = b.codePointAt(0)!;
  if (cb === ca + 1 || successor(a) === b) l |= Link.Up;
  if (cb === ca - 1 || successor(b) === a) l |= Link.Down;
  for (const row of KEYBOARD_ROWS) {
    const i = row.indexOf(a);
    if (i < 0) continue;
    if (row[i + 1] === b) l |= Link.KeyRight;
    if (i > 0 && row[i - 1] === b) l |= Link.KeyLeft;
  }
  return l;
}

/**
 * Splits the string into maximal runs in which every step has the same trivial relation
 * (repeat, +1, -1, next key, previous key) and returns how many runs there are.
 * "aaaa" → 1, "123456789012345" → 1, "abcdefg1234567" → 2, "correct horse" → 11.
 */
function trivialRuns(chars: readonly string[]): number {
  if (chars.length === 0) return 0;
  let runs = 1;
  let kinds = 0; // relations still shared by every step of the current run; 0 = run of one char
  for (let i = 1; i < chars.length; i++) {
    const l = links(chars[i - 1]!, chars[i]!);
    const common = kinds === 0 ? l : kinds & l;
    if (common !== 0) {
      kinds = common;
    } else {
      runs++;
      kinds = 0;
    }
  }
  return runs;
}

/** True when the whole string repeats a unit at least twice ("abcabcab", "passwordpassword"). */
function hasShortPeriod(chars: readonly string[]): boolean {
  const n = chars.length;
  for (let p = 1; 2 * p <= n; p++) {
    let periodic = true;
    for (let i = p; i < n; i++) {
      if (chars[i] !== chars[i - p]) {
        periodic = false;
        break;
      }
    }
    if (periodic) return true;
  }
  return false;
}

/**
 * "Trivially repetitive or sequential", judged on the lower-cased password without whitespace:
 * fewer than 4 distinct characters, a whole-string repetition of a shorter unit, or made of
 * runs (repeats, alphabet/digit sequences, keyboard rows) 5 characters long on average. Ordinary
 * words and passphrases average well under 2 characters per run.
 */
function isTrivial(lower: string): boolean {
  const chars = [...lower.replace(/\s+/gu, '')];
  if (new Set(chars).size < 4) return true;
  if (hasShortPeriod(chars)) return true;
  return trivialRuns(chars) * 5 <= chars.length;
}

/** Leading/trailing padding that is only digits, punctuation, symbols and spaces. */
const PADDING = /^([\p{N}\p{P}\p{S}\s]*)(.*?)([\p{N}\p{P}\p{S}\s]*)$/su;

/** A blocklisted word (4+ characters) padded on each side with at most two trivial runs ("password1234567"). */
function isPaddedCommon(lower: string, list: Set<string>): boolean {
  const m = PADDING.exec(lower);
  if (!m) return false;
  const [, before = '', core = '', after = ''] = m;
  if (core === lower || codePoints(core) < 4 || !list.has(core)) return false;
  return trivialRuns([...before]) <= 2 && trivialRuns([...after]) <= 2;
}

// ---------------------------------------------------------------------------------------------
// Policy

/**
 * Checks a new password against the policy. Nothing here depends on character classes: a long
 * lower-case passphrase with spaces passes, a short "Tr0ub4dor&3" does not.
 *
 * @example
 * const r = checkPasswordPolicy(body.password, { username });
 * if (!r.ok) throw new AdminFailure('RAMPART_ADMIN_BAD_REQUEST', `password refused: ${r.reason}`);
 */
export function checkPasswordPolicy(password: string, context: { username: string }): PasswordPolicyResult {
  if (password.length > MAX_INPUT_UNITS) return { ok: false, reason: 'too-long' };
  const normalized = normalizePassword(password);
  const length = codePoints(normalized);
  if (length < MIN_PASSWORD_LENGTH) return { ok: false, reason: 'too-short' };
  if (length > MAX_PASSWORD_LENGTH) return { ok: false, reason: 'too-long' };

  const lower = normalized.toLowerCase();
  const username = normalizePassword(context.username).trim().toLowerCase();
  if (codePoints(username) >= 3 && lower.includes(username)) return { ok: false, reason: 'contains-username' };

  const list = commonPasswords();
  if (list.has(lower) || list.has(lower.replace(/\s+/gu, '')) || isPaddedCommon(lower, list)) return { ok: false, reason: 'common' };
  if (isTrivial(lower)) return { ok: false, reason: 'repetitive' };
  return { ok: true };
}

// ---------------------------------------------------------------------------------------------
// Hashing

/** argon2id PHC string of the NFKC form of the password (random 16-byte salt). */
export async function hashPassword(password: string): Promise<string> {
  return argon2Hash(normalizePassword(password), HASH_OPTIONS);
}

/**
 * Checks a password against a stored argon2id PHC string. Never throws: a malformed hash, a hash
 * of another algorithm or an absurdly long input gives false.
 */
export async function verifyPassword(hash: string, password: string): Promise<boolean> {
  if (typeof hash !== 'string' || !hash.startsWith('$argon2id$')) return false;
  if (typeof password !== 'string' || password.length > MAX_INPUT_UNITS) return false;
  try {
    return await argon2Verify(hash, normalizePassword(password));
  } catch {
    return false;
  }
}

/** True when a stored hash was made with other (older, weaker) parameters: rehash after a good login. */
export function passwordNeedsRehash(hash: string): boolean {
  try {
    const o = parseOptions(hash);
    return (
      !hash.startsWith('$argon2id$') ||
      o.memoryCost < ARGON2_PARAMS.memoryCost ||
      o.timeCost < ARGON2_PARAMS.timeCost ||
      o.parallelism < ARGON2_PARAMS.parallelism ||
      o.outputLen < ARGON2_PARAMS.outputLen ||
      o.saltLen < 16
    );
  } catch {
    return true;
  }
}

/**
 * An argon2id hash with exactly the parameters of hashPassword, of a random password nobody
 * knows (generated once with hashPassword and discarded). The unit tests pin its parameters to
 * ARGON2_PARAMS, so the dummy costs what a real verification costs.
 */
export const DUMMY_HASH = '$argon2id$v=19$m=19456,t=2,p=1$wXNiVhhaQSJkhg0u933jXA$0dy7drBcrrZtaDNvgGjo3wn+qLjDJ95TfekAuCA5Ri8';

/**
 * Spends the same argon2 work as verifyPassword on a real user, then answers false: call it for
 * an unknown username so the response time does not tell which usernames exist.
 */
export async function verifyAgainstDummy(password: string): Promise<false> {
  await verifyPassword(DUMMY_HASH, password);
  return false;
}
