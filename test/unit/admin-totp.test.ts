/**
 * Admin-plane TOTP (RFC 6238; N63-4, ASVS 2.8): the RFC's SHA-1 test vectors, a ±1 step window
 * with the matched step reported for replay protection, strict 6-digit input, the otpauth URI,
 * and AES-256-GCM storage of the secret. Every check takes an explicit `now`: no wall clock.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  TOTP_DIGITS,
  TOTP_STEP_SECONDS,
  checkTotp,
  decryptSecret,
  encryptSecret,
  newTotpSecret,
  otpauthUri,
  terminalQr,
  totpCode,
  totpStep,
} from '../../src/admin/totp.js';

/** RFC 6238 appendix B seed for SHA-1, "12345678901234567890", in base32. */
const RFC_SECRET = 'GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ';
const NOW = 1_700_000_012_345; // a fixed instant, 12.345 s into its 30 s step
const STEP = Math.floor(NOW / 1000 / 30);
const serverSecret = Buffer.alloc(32, 0x5a);

function base32Decode(s: string): Buffer {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  let bits = '';
  for (const c of s) bits += alphabet.indexOf(c).toString(2).padStart(5, '0');
  const bytes: number[] = [];
  for (let i = 0; i + 8 <= bits.length; i += 8) bytes.push(parseInt(bits.slice(i, i + 8), 2));
  return Buffer.from(bytes);
}

test('RFC 6238 appendix B vectors (SHA-1, 30 s, last 6 of the 8 digits)', () => {
  assert.equal(TOTP_STEP_SECONDS, 30);
  assert.equal(TOTP_DIGITS, 6);
  const vectors: [number, string][] = [
    [59, '94287082'],
    [1_111_111_109, '07081804'],
    [1_111_111_111, '14050471'],
    [1_234_567_890, '89005924'],
    [2_000_000_000, '69279037'],
    [20_000_000_000, '65353130'],
  ];
  for (const [t, code8] of vectors) {
    const code = code8.slice(-6);
    assert.equal(totpCode(RFC_SECRET, t * 1000), code, `T=${t}`);
    assert.deepEqual(checkTotp(RFC_SECRET, code, t * 1000), { ok: true, step: Math.floor(t / 30) }, `T=${t}`);
  }
});

test('newTotpSecret: 160 random bits in RFC 4648 base32', () => {
  const seen = new Set<string>();
  for (let i = 0; i < 50; i++) {
    const s = newTotpSecret();
    assert.match(s, /^[A-Z2-7]{32}$/);
    assert.equal(base32Decode(s).length, 20);
    seen.add(s);
  }
  assert.equal(seen.size, 50);
});

test('accepts the codes of the previous, current and next step and reports each step number', () => {
  const secret = newTotpSecret();
  assert.equal(totpStep(NOW), STEP);
  for (const delta of [-1, 0, 1]) {
    const code = totpCode(secret, NOW + delta * 30_000);
    assert.deepEqual(checkTotp(secret, code, NOW), { ok: true, step: STEP + delta }, `delta ${delta}`);
  }
  // The step is the code's own step whatever the verifier's clock: the same code checked 30 s
  // later reports the same step, which the store then refuses as a replay.
  const code = totpCode(secret, NOW);
  const first = checkTotp(secret, code, NOW);
  const later = checkTotp(secret, code, NOW + 30_000);
  assert.ok(first.ok && later.ok);
  assert.equal(later.step, first.step);
  // Step boundaries: the last and first millisecond of a step.
  const boundary = (STEP + 1) * 30_000;
  assert.deepEqual(checkTotp(secret, totpCode(secret, boundary - 1), boundary - 1), { ok: true, step: STEP });
  assert.deepEqual(checkTotp(secret, totpCode(secret, boundary), boundary), { ok: true, step: STEP + 1 });
});

test('refuses codes from outside the window (now ± 60 s and ± 90 s)', () => {
  const secret = RFC_SECRET;
  const inWindow = new Set([-1, 0, 1].map((d) => totpCode(secret, NOW + d * 30_000)));
  for (const offset of [-90_000, -60_000, 60_000, 90_000]) {
    const code = totpCode(secret, NOW + offset);
    assert.ok(!inWindow.has(code), 'fixture: no collision with an in-window code');
    assert.deepEqual(checkTotp(secret, code, NOW), { ok: false }, `offset ${offset}`);
  }
});

test('refuses anything but exactly six ASCII digits', () => {
  const secret = RFC_SECRET;
  const good = totpCode(secret, NOW);
  assert.ok(checkTotp(secret, good, NOW).ok);
  const fullWidth = [...good].map((d) => String.fromCharCode(0xff10 + Number(d))).join('');
  const arabicIndic = [...good].map((d) => String.fromCharCode(0x0660 + Number(d))).join('');
  for (const bad of [
    '',
    good.slice(0, 5),
    `${good}0`,
    `0${good}`,
    ` ${good}`,
    `${good} `,
    `${good}\n`,
    `${good.slice(0, 3)} ${good.slice(3)}`,
    `${good.slice(0, 5)}a`,
    'abcdef',
    '12e456',
    '-12345',
    '+12345',
    fullWidth,
    arabicIndic,
    undefined as unknown as string,
    123456 as unknown as string,
  ]) {
    assert.deepEqual(checkTotp(secret, bad, NOW), { ok: false }, JSON.stringify(bad));
  }
});

test('otpauthUri: Key URI format with issuer, SHA1, 6 digits, 30 s', () => {
  const secret = newTotpSecret();
  const uri = otpauthUri(secret, { account: 'alice', issuer: 'Rampart Gateway' });
  const u = new URL(uri);
  assert.equal(u.protocol, 'otpauth:');
  assert.equal(u.host, 'totp');
  assert.equal(decodeURIComponent(u.pathname), '/Rampart Gateway:alice');
  assert.equal(u.searchParams.get('secret'), secret);
  assert.equal(u.searchParams.get('issuer'), 'Rampart Gateway');
  assert.equal(u.searchParams.get('algorithm'), 'SHA1');
  assert.equal(u.searchParams.get('digits'), '6');
  assert.equal(u.searchParams.get('period'), '30');
  assert.throws(() => otpauthUri(secret, { account: 'a:b', issuer: 'Rampart' }), RangeError);
  assert.throws(() => otpauthUri(secret, { account: 'alice', issuer: 'Ram:part' }), RangeError);
  assert.throws(() => otpauthUri(secret, { account: '', issuer: 'Rampart' }), RangeError);
});

test('encryptSecret/decryptSecret: round trip, v1 format, a fresh IV each time', () => {
  const secret = newTotpSecret();
  const blob = encryptSecret(secret, serverSecret);
  assert.match(blob, /^v1\.[A-Za-z0-9_-]{16}\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]{22}$/);
  assert.ok(!blob.includes(secret));
  assert.equal(decryptSecret(blob, serverSecret), secret);
  const again = encryptSecret(secret, serverSecret);
  assert.notEqual(again.split('.')[1], blob.split('.')[1], 'random 96-bit IV');
  assert.equal(decryptSecret(again, serverSecret), secret);
});

test('decryptSecret throws on any tampering, a malformed blob, or the wrong server secret', () => {
  const blob = encryptSecret(newTotpSecret(), serverSecret);
  const parts = blob.split('.');
  const flip = (i: number): string => {
    const p = [...parts];
    const b = Buffer.from(p[i]!, 'base64url');
    b[0] = b[0]! ^ 0x01;
    p[i] = b.toString('base64url');
    return p.join('.');
  };
  for (const i of [1, 2, 3]) assert.throws(() => decryptSecret(flip(i), serverSecret), Error, `part ${i}`);
  const truncatedTag = [...parts.slice(0, 3), Buffer.from(parts[3]!, 'base64url').subarray(0, 12).toString('base64url')].join('.');
  for (const bad of [
    '',
    'v1',
    `v2.${parts.slice(1).join('.')}`,
    parts.slice(0, 3).join('.'),
    `${blob}.x`,
    truncatedTag,
    `${parts[0]}.${parts[1]}.${parts[2]}!.${parts[3]}`,
    `${parts[0]}.${parts[1]}..${parts[3]}`,
  ]) {
    assert.throws(() => decryptSecret(bad, serverSecret), Error, bad);
  }
  assert.throws(() => decryptSecret(blob, Buffer.alloc(32, 0x5b)), /authentication failed/);
  assert.throws(() => encryptSecret('x', Buffer.alloc(8)), RangeError);
  assert.throws(() => decryptSecret(blob, Buffer.alloc(0)), RangeError);
});

test('terminalQr renders the URI as a block-character QR code', async () => {
  const uri = otpauthUri(RFC_SECRET, { account: 'alice', issuer: 'Rampart' });
  const qr = await terminalQr(uri);
  const lines = qr.split('\n');
  assert.ok(lines.length > 10);
  assert.match(qr, /[█▀▄]/);
  assert.equal(await terminalQr(uri), qr, 'deterministic');
  assert.notEqual(await terminalQr(otpauthUri(RFC_SECRET, { account: 'bob', issuer: 'Rampart' })), qr);
});
