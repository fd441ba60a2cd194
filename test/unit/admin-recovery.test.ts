/**
 * Admin-plane recovery codes (look-up secrets): format, uniqueness, entropy ≥ 60 bits, and the
 * hash's normalisation (case, dashes, spaces, compatibility forms) and keying.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import {
  RECOVERY_CODE_ALPHABET,
  RECOVERY_CODE_BITS,
  hashRecoveryCode,
  newRecoveryCodes,
  normalizeRecoveryCode,
} from '../../src/admin/recovery-codes.js';

const serverSecret = Buffer.alloc(32, 0x42);
const CODE_RE = new RegExp(`^[${RECOVERY_CODE_ALPHABET}]{4}(-[${RECOVERY_CODE_ALPHABET}]{4}){3}$`);

test('ten codes by default, xxxx-xxxx-xxxx-xxxx from an unambiguous alphabet', () => {
  const codes = newRecoveryCodes();
  assert.equal(codes.length, 10);
  for (const c of codes) assert.match(c, CODE_RE);
  assert.equal(new Set(codes).size, 10);
  for (const ambiguous of '01ilo') assert.ok(!RECOVERY_CODE_ALPHABET.includes(ambiguous), ambiguous);
  assert.equal(new Set(RECOVERY_CODE_ALPHABET).size, RECOVERY_CODE_ALPHABET.length);
  assert.equal(newRecoveryCodes(3).length, 3);
});

test('each code carries at least 60 bits', () => {
  const chars = newRecoveryCodes(1)[0]!.replace(/-/g, '').length;
  const bits = chars * Math.log2(RECOVERY_CODE_ALPHABET.length);
  assert.ok(bits >= 60, `${bits} bits`);
  assert.equal(RECOVERY_CODE_BITS, bits);
});

test('codes are unique across calls and use the whole alphabet', () => {
  const all: string[] = [];
  for (let i = 0; i < 10; i++) all.push(...newRecoveryCodes(100));
  assert.equal(new Set(all).size, all.length);
  // 16 000 characters over 31 symbols (about 516 each): every symbol shows up.
  const used = new Set(all.join('').replace(/-/g, ''));
  assert.equal(used.size, RECOVERY_CODE_ALPHABET.length);
});

test('refuses a nonsensical count', () => {
  for (const n of [0, -1, 1.5, 101, Number.NaN]) assert.throws(() => newRecoveryCodes(n), RangeError, String(n));
});

test('hash normalisation: case, dashes, spaces and full-width forms give one hash', () => {
  const code = newRecoveryCodes(1)[0]!;
  const h = hashRecoveryCode(code, serverSecret);
  assert.match(h, /^[0-9a-f]{64}$/);
  const bare = code.replace(/-/g, '');
  const fullWidth = [...code.toUpperCase()].map((c) => (c === '-' ? '－' : String.fromCharCode(c.charCodeAt(0) + 0xfee0))).join('');
  for (const typed of [
    code.toUpperCase(),
    bare,
    bare.toUpperCase(),
    code.replace(/-/g, ' '),
    ` ${code} `,
    code.replace(/-/g, '\u2013'), // en dash
    `${bare.slice(0, 8)}-${bare.slice(8)}`,
    fullWidth,
  ]) {
    assert.equal(hashRecoveryCode(typed, serverSecret), h, typed);
  }
  assert.equal(normalizeRecoveryCode('ABCD-EFGH 2345\t6789'), 'abcdefgh23456789');
});

test('hash: a different code or server secret gives another hash; the key is derived, not the raw secret', () => {
  const [a, b] = newRecoveryCodes(2) as [string, string];
  assert.notEqual(hashRecoveryCode(a, serverSecret), hashRecoveryCode(b, serverSecret));
  assert.notEqual(hashRecoveryCode(a, serverSecret), hashRecoveryCode(a, Buffer.alloc(32, 0x43)));
  // The server secret also keys API-key hashes; this HMAC runs under an HKDF-derived key instead.
  const raw = createHmac('sha256', serverSecret).update(normalizeRecoveryCode(a)).digest('hex');
  assert.notEqual(hashRecoveryCode(a, serverSecret), raw);
  assert.throws(() => hashRecoveryCode(a, Buffer.alloc(4)), RangeError);
});
