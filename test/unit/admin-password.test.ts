/**
 * Admin-plane password policy and hashing (N63-7, ASVS 2.1 / 2.4): length in code points after
 * NFKC, no composition rules, blocklist, username, repetitive/sequential, argon2id parameters,
 * NFKC-equivalent verification, and the dummy hash for unknown usernames.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { hash as argon2Hash, parseOptions } from '@node-rs/argon2';
import type { Algorithm } from '@node-rs/argon2';
import {
  ARGON2_PARAMS,
  DUMMY_HASH,
  MAX_PASSWORD_LENGTH,
  MIN_PASSWORD_LENGTH,
  checkPasswordPolicy,
  commonPasswordsPath,
  hashPassword,
  isCommonPassword,
  normalizePassword,
  passwordNeedsRehash,
  verifyAgainstDummy,
  verifyPassword,
} from '../../src/admin/password.js';

const ctx = { username: 'alice' };
const reason = (pw: string, c = ctx): string => {
  const r = checkPasswordPolicy(pw, c);
  return r.ok ? 'ok' : r.reason;
};

function blocklistEntries(): string[] {
  return readFileSync(commonPasswordsPath(), 'utf8')
    .split('\n')
    .filter((l) => l !== '' && !l.startsWith('#'));
}

/** n code points of CJK ideographs, stepping 7919 apart: no repeats, no sequences, not on any list. */
function ideographs(n: number): string {
  return Array.from({ length: n }, (_, i) => String.fromCodePoint(0x4e00 + ((i * 7919) % 20_000))).join('');
}

test('limits follow 800-63B rev 4: at least 15, at most 256', () => {
  assert.equal(MIN_PASSWORD_LENGTH, 15);
  assert.equal(MAX_PASSWORD_LENGTH, 256);
});

test('the blocklist ships with the repository: ≥ 10 000 lower-case entries, source and MIT licence noted', () => {
  const text = readFileSync(commonPasswordsPath(), 'utf8');
  const header = text.split('\n').filter((l) => l.startsWith('#')).join('\n');
  assert.match(header, /@zxcvbn-ts\/language-common@4/);
  assert.match(header, /MIT/);
  const entries = blocklistEntries();
  assert.ok(entries.length >= 10_000, `only ${entries.length} entries`);
  assert.equal(new Set(entries).size, entries.length, 'entries are unique');
  for (const e of entries) assert.equal(e, e.normalize('NFKC').toLowerCase(), `entry not NFKC lower-case: ${e}`);
});

test('accepts long passphrases: lower-case only, spaces, Unicode, emoji (no composition rules)', () => {
  for (const pw of [
    'correct horse battery staple',
    'Ünïcödé pässphrase mit Leerzeichen',
    'ほしいのは静かな朝と熱いコーヒー',
    'grüne 🦄 tanzen über 🐉 brücken',
    '   leading and trailing spaces count   ',
    'Tr0ub4dor&3 plus more words',
  ]) {
    assert.equal(reason(pw), 'ok', pw);
  }
});

test('length is counted in code points after NFKC, with a 15 minimum', () => {
  assert.equal(reason('Tr0ub4dor&3'), 'too-short');
  assert.equal(reason('nine words fit'), 'too-short'); // 14
  assert.equal(reason('nine words fitx'), 'ok'); // 15
  // 14 code points but 16 UTF-16 units: still too short.
  const astral = 'gray 🦄 fox 🐉 z';
  assert.equal([...astral].length, 14);
  assert.ok(astral.length > 15);
  assert.equal(reason(astral), 'too-short');
  // The ligature "ﬃ" is one code point typed, three after NFKC: 13 typed, 15 counted.
  const ligature = 'ﬃ tiny wordsx';
  assert.equal([...ligature].length, 13);
  assert.equal([...ligature.normalize('NFKC')].length, 15);
  assert.equal(reason(ligature), 'ok');
  assert.equal(reason(''), 'too-short');
});

test('refuses over-long passwords (256 code points is the maximum), even huge ones', () => {
  assert.equal(reason(ideographs(256)), 'ok');
  assert.equal(reason(ideographs(257)), 'too-long');
  assert.equal(reason('x'.repeat(1_000_000)), 'too-long');
});

test('refuses blocklisted passwords in any case and compatibility form', () => {
  const long = blocklistEntries().filter((e) => [...e].length >= MIN_PASSWORD_LENGTH);
  assert.ok(long.length >= 10, 'the list has entries long enough to reach the blocklist check');
  for (const e of long) {
    const mixed = [...e].map((c, i) => (i % 2 ? c.toUpperCase() : c)).join('');
    assert.equal(reason(mixed), 'common', mixed);
    assert.equal(reason(e.toUpperCase()), 'common', e.toUpperCase());
  }
  // Full-width letters are NFKC-equivalent to the list's "passwordpassword".
  assert.equal(reason('ＰＡＳＳＷＯＲＤｐａｓｓｗｏｒｄ'), 'common');
  // Shorter entries never reach the policy (too short) but are still recognised.
  const entries = blocklistEntries();
  for (let i = 0; i < entries.length; i += 997) assert.ok(isCommonPassword(entries[i]!.toUpperCase()), entries[i]);
  assert.ok(isCommonPassword('PassWord'));
  assert.ok(!isCommonPassword('correct horse battery staple'));
});

test('refuses a common password padded with a trivial run to reach the minimum', () => {
  assert.equal(reason('Password1234567'), 'common');
  assert.equal(reason('DRAGON!!!!!!!!!'), 'common');
  assert.equal(reason('!!!!!Monkey12345'), 'common');
  // Padding that is not a trivial run is not this rule's business.
  assert.equal(reason('monkey 8271!@#x9%&$'), 'ok');
});

test('refuses passwords containing the username (case-insensitive, usernames of 3+ characters)', () => {
  assert.equal(reason('my name is ALICE and I like tea'), 'contains-username');
  assert.equal(reason('my name is alice and i like tea', { username: 'Alice' }), 'contains-username');
  assert.equal(reason('ｍｙ ａｌｉｃｅ ｉｓ ｌｏｎｇ ｅｎｏｕｇｈ'), 'contains-username');
  assert.equal(reason('al is a perfectly fine passphrase', { username: 'al' }), 'ok');
  assert.equal(reason('correct horse battery staple', { username: 'bob' }), 'ok');
});

test('refuses trivially repetitive or sequential passwords', () => {
  for (const pw of [
    'aaaaaaaaaaaaaaa',
    'abcabcabcabcabc',
    '123456789012345',
    'zyxwvutsrqponmlkj',
    'abcdefghij12345',
    'qwertyuiopasdfg',
    'aaaaabbbbbccccc',
    '121212121212121',
    'horse horse horse horse',
    '               ',
    'ZZZZZZZZZZZZZZZZZZZZZZZZZ',
  ]) {
    assert.ok(!isCommonPassword(pw), `${pw} is on the blocklist; pick another example`);
    assert.equal(reason(pw), 'repetitive', pw);
  }
});

test('NFKC: normalisation maps compatibility forms to one password', () => {
  assert.equal(normalizePassword('ﬁne ｆｕｌｌ-width'), 'fine full-width');
  assert.equal(normalizePassword('e\u0301'), '\u00e9');
});

test('hash/verify round trip; a wrong password and any case change are false', async () => {
  const pw = 'correct horse battery staple';
  const h = await hashPassword(pw);
  assert.ok(await verifyPassword(h, pw));
  assert.equal(await verifyPassword(h, 'correct horse battery stapler'), false);
  assert.equal(await verifyPassword(h, 'Correct horse battery staple'), false);
  assert.equal(await verifyPassword(h, ''), false);
  assert.notEqual(await hashPassword(pw), h, 'a random salt per hash');
});

test('a password typed with a compatibility form verifies against the hash of its NFKC form, and back', async () => {
  const h = await hashPassword('fine financial office pass');
  assert.ok(await verifyPassword(h, 'ﬁne ﬁnancial oﬃce pass'));
  assert.ok(await verifyPassword(h, 'ｆｉｎｅ ｆｉｎａｎｃｉａｌ ｏｆｆｉｃｅ ｐａｓｓ'));
  const h2 = await hashPassword('ﬁne ﬁnancial oﬃce pass');
  assert.ok(await verifyPassword(h2, 'fine financial office pass'));
  // Composed and decomposed accents are the same password.
  const h3 = await hashPassword('caf\u00e9 au lait every morning');
  assert.ok(await verifyPassword(h3, 'cafe\u0301 au lait every morning'));
});

test('hashes are argon2id PHC strings with at least the OWASP parameters and a 128-bit salt', async () => {
  const h = await hashPassword('correct horse battery staple');
  assert.match(h, /^\$argon2id\$v=19\$m=\d+,t=\d+,p=\d+\$/);
  const o = parseOptions(h);
  assert.ok(o.memoryCost >= 19_456);
  assert.ok(o.timeCost >= 2);
  assert.equal(o.parallelism, 1);
  assert.ok(o.saltLen >= 16);
  assert.equal(passwordNeedsRehash(h), false);
});

test('verifyPassword never throws on a malformed or foreign hash: false', async () => {
  const pw = 'correct horse battery staple';
  const argon2i = await argon2Hash(pw, { ...ARGON2_PARAMS, algorithm: 1 as Algorithm });
  for (const bad of [
    '',
    'not a hash',
    '$argon2id$',
    '$argon2id$v=19$m=19456,t=2,p=1$',
    '$argon2id$v=19$m=19456,t=2,p=1$!!!$!!!',
    '$argon2id$v=19$m=0,t=0,p=0$c2FsdHNhbHQ$aGFzaA',
    '$2b$10$N9qo8uLOickgx2ZMRZoMyeIjZAgcfl7p92ldGxad68LJZdL17lhWy',
    argon2i,
    DUMMY_HASH.slice(0, -5),
    undefined as unknown as string,
  ]) {
    assert.equal(await verifyPassword(bad, pw), false, String(bad));
  }
  assert.equal(await verifyPassword(await hashPassword(pw), 'x'.repeat(1_000_000)), false);
});

test('DUMMY_HASH costs what a real hash costs; verifyAgainstDummy answers false', async () => {
  const o = parseOptions(DUMMY_HASH);
  assert.ok(DUMMY_HASH.startsWith('$argon2id$'));
  assert.equal(o.memoryCost, ARGON2_PARAMS.memoryCost);
  assert.equal(o.timeCost, ARGON2_PARAMS.timeCost);
  assert.equal(o.parallelism, ARGON2_PARAMS.parallelism);
  assert.equal(o.outputLen, ARGON2_PARAMS.outputLen);
  assert.equal(passwordNeedsRehash(DUMMY_HASH), false);
  assert.equal(await verifyAgainstDummy('correct horse battery staple'), false);
  assert.equal(await verifyAgainstDummy(''), false);
});

test('passwordNeedsRehash flags weaker or foreign hashes', async () => {
  const weak = await argon2Hash('correct horse battery staple', { memoryCost: 4096, timeCost: 1, parallelism: 1, algorithm: 2 as Algorithm });
  assert.equal(passwordNeedsRehash(weak), true);
  assert.equal(passwordNeedsRehash('garbage'), true);
});
