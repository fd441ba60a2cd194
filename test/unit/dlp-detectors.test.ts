/**
 * DLP detectors: the validity rules against a hand-written corpus (test/fixtures/dlp/corpus.json),
 * the shapes found in free text and what is deliberately left alone (CUSIPs, timestamps, ids,
 * decimals), key-name hints, and hostile strings.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  cardBrand,
  findSensitive,
  isValidCardNumber,
  isValidItin,
  isValidPhone,
  isValidRoutingNumber,
  isValidSsn,
  luhnValid,
  mayHoldSensitive,
  KIND_BIT,
  SHAPE_KINDS,
} from '../../src/threat/dlp/detectors.js';
import { keyInfo, normalizeKey } from '../../src/threat/dlp/key-hints.js';
import { compileDlpPolicy, maskText } from '../../src/threat/dlp/index.js';

// Compiled to dist-*/test/unit; the fixtures stay in the source tree.
const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
interface Case {
  value: string;
  valid: boolean;
  why?: string;
  brand?: string;
}
const corpus = JSON.parse(readFileSync(join(root, 'test', 'fixtures', 'dlp', 'corpus.json'), 'utf8')) as {
  ssn: Case[];
  itin: Case[];
  card: Case[];
  routing: Case[];
  phone: Case[];
  text: { text: string; expect: string; why?: string }[];
};

const policy = compileDlpPolicy(undefined);
const noScopes: ReadonlySet<string> = new Set();

test('corpus: SSN, ITIN, card, routing and phone verdicts', () => {
  let n = 0;
  const check = (kind: string, c: Case, f: (v: string) => boolean): void => {
    n++;
    assert.equal(f(c.value), c.valid, `${kind} ${c.value}: ${c.why ?? ''}`);
  };
  for (const c of corpus.ssn) check('ssn', c, isValidSsn);
  for (const c of corpus.itin) check('itin', c, isValidItin);
  for (const c of corpus.card) {
    check('card', c, isValidCardNumber);
    if (c.brand) assert.equal(cardBrand(c.value.replace(/\D/g, '')), c.brand, `brand of ${c.value}`);
  }
  for (const c of corpus.routing) check('routing', c, isValidRoutingNumber);
  for (const c of corpus.phone) check('phone', c, isValidPhone);
  assert.ok(n >= 70, `corpus has ${n} cases`);
});

test('corpus: free text is masked where it should be and left alone where it should', () => {
  for (const c of corpus.text) {
    const r = maskText(c.text, policy, noScopes);
    assert.equal(r.blocked, false);
    assert.equal(r.value, c.expect, `${JSON.stringify(c.text)} ${c.why ?? ''}`);
    const changed = c.text !== c.expect;
    assert.equal(Object.keys(r.masked).length > 0, changed, `counts for ${JSON.stringify(c.text)}`);
  }
});

test('every valid corpus card, SSN and phone is found in a sentence; every invalid one is not', () => {
  const found = (text: string, kind: string): boolean => findSensitive(`paid with ${text} today`, SHAPE_KINDS).some((f) => f.kind === kind && `paid with ${text} today`.slice(f.start, f.end) === text);
  for (const c of corpus.card) if (c.value.length <= 22) assert.equal(found(c.value, 'card-number'), c.valid, `card ${c.value}`);
  // SSNs in free text need the 3-2-4 shape (bare 9 digits need context; see the next test).
  for (const c of corpus.ssn) if (/^\d{3}-\d{2}-\d{4}$/.test(c.value)) assert.equal(found(c.value, 'ssn'), c.valid, `ssn ${c.value}`);
  for (const c of corpus.phone) if (c.value !== '2025550143') assert.equal(found(c.value, 'phone'), c.valid, `phone ${c.value}`);
});

test('9 bare digits: an SSN or routing number only with context from the text or the key', () => {
  const kinds = (t: string, ctx?: { ssn?: boolean; routing?: boolean }) => findSensitive(t, SHAPE_KINDS, ctx).map((f) => f.kind);
  assert.deepEqual(kinds('536221234'), []);
  assert.deepEqual(kinds('536221234', { ssn: true }), ['ssn']);
  assert.deepEqual(kinds('Social Security: 536221234'), ['ssn']);
  assert.deepEqual(kinds('taxpayer 912701234'), ['tax-id']);
  assert.deepEqual(kinds('011000015'), []);
  assert.deepEqual(kinds('011000015', { routing: true }), ['routing-number']);
  assert.deepEqual(kinds('ABA 011000015'), ['routing-number']);
  assert.deepEqual(kinds('ABA 011000016'), [], 'checksum fails');
  // Context far away does not count (32 characters).
  assert.deepEqual(kinds(`SSN ${'x'.repeat(40)} 536221234`), []);
  // Key names give the context.
  assert.deepEqual(keyInfo('customer_ssn').ctx, { ssn: true, routing: false });
  assert.deepEqual(keyInfo('bankRouting').ctx, { ssn: false, routing: true });
  assert.equal(keyInfo('database').ctx, undefined, "'aba' inside a word is no context");
});

test('the prescreen: fewer than 7 digits and no @ cannot hold anything', () => {
  assert.equal(mayHoldSensitive('open'), false);
  assert.equal(mayHoldSensitive('acc_alice_1'), false);
  assert.equal(mayHoldSensitive('123456'), false);
  assert.equal(mayHoldSensitive('a@b.co'), true);
  assert.equal(mayHoldSensitive('1234567'), true);
  assert.equal(mayHoldSensitive('2024-05-02T13:31:02.000Z'), true);
  assert.deepEqual(findSensitive('2024-05-02T13:31:02.000Z', SHAPE_KINDS), []);
  // Kinds not asked for are not found.
  assert.deepEqual(findSensitive('536-22-1234 jane@example.com', KIND_BIT.email).map((f) => f.kind), ['email']);
  assert.deepEqual(findSensitive('536-22-1234 jane@example.com', KIND_BIT.ssn).map((f) => f.kind), ['ssn']);
  assert.deepEqual(findSensitive('536-22-1234', 0), []);
});

test('e-mail addresses: boundaries, overlaps with numbers, no unicode', () => {
  const spans = (t: string) => findSensitive(t, SHAPE_KINDS).map((f) => [f.kind, t.slice(f.start, f.end)]);
  assert.deepEqual(spans('<Jane.Doe+tag@Mail.Example.CO.UK>'), [['email', 'Jane.Doe+tag@Mail.Example.CO.UK']]);
  assert.deepEqual(spans('12025550143@txt.att.net'), [['email', '12025550143@txt.att.net']], 'the address wins over the phone inside it');
  assert.deepEqual(spans('a@b'), [], 'no dotted domain');
  assert.deepEqual(spans('user@localhost.1'), [], 'numeric TLD');
  assert.deepEqual(spans('@example.com'), []);
  assert.deepEqual(spans('x@y.co and z@w.io'), [['email', 'x@y.co'], ['email', 'z@w.io']]);
});

test('Luhn and brands on their own', () => {
  assert.equal(luhnValid('79927398713'), true);
  assert.equal(luhnValid('79927398710'), false);
  assert.equal(luhnValid('0'), false);
  assert.equal(cardBrand('4111111111111111'), 'visa');
  assert.equal(cardBrand('411111111111111'), undefined);
  assert.equal(cardBrand('9111111111111111'), undefined);
});

test('key names: account numbers and dates of birth by name only; suffixes, not prefixes', () => {
  const hint = (k: string) => keyInfo(k).hint;
  assert.equal(normalizeKey('Account_Number2'), 'accountnumber');
  for (const k of ['accountNumber', 'account_number', 'acctNo', 'bankAccountNumber', 'externalAcctNum', 'IBAN']) assert.equal(hint(k), 'account-number', k);
  for (const k of ['dob', 'dateOfBirth', 'birth_date', 'customerDob']) assert.equal(hint(k), 'date-of-birth', k);
  for (const k of ['ssn', 'SocialSecurityNumber', 'primarySsn']) assert.equal(hint(k), 'ssn', k);
  assert.equal(hint('taxId'), 'tax-id');
  assert.equal(hint('cardNumber'), 'card-number');
  assert.equal(hint('routingNumber'), 'routing-number');
  assert.equal(hint('contactEmail'), 'email');
  assert.equal(hint('mobilePhone'), 'phone');
  for (const k of ['accountId', 'accountNumberLast4', 'bankAccountLast4', 'id', 'emailVerified', 'accounts', 'birthdayParty2']) assert.equal(hint(k), undefined, k);
  assert.equal(keyInfo('password').credential, true);
  assert.equal(keyInfo('newPassword').credential, true);
  assert.equal(keyInfo('card_cvv').credential, true);
  assert.equal(keyInfo('nextPageToken').credential, false, 'cursors are not credentials');
  assert.equal(keyInfo('nextPageToken').secret, true, 'but the ledger list counts them (secretNames: all)');
  assert.equal(keyInfo('spin').credential, false);
});

test('hostile strings: long runs of digits, separators and @ are handled, and found matches are exact', () => {
  const digits = '1'.repeat(200_000);
  assert.deepEqual(findSensitive(digits, SHAPE_KINDS), []);
  const dashed = '12-'.repeat(100_000);
  assert.deepEqual(findSensitive(dashed, SHAPE_KINDS), []);
  const ats = 'a@'.repeat(100_000) + 'x@example.com';
  const f = findSensitive(ats, SHAPE_KINDS);
  assert.deepEqual(f.map((x) => ats.slice(x.start, x.end)), ['x@example.com']);
  const hyphens = 'x@' + 'a-'.repeat(50_000) + '.com';
  assert.deepEqual(findSensitive(hyphens, SHAPE_KINDS), []);
  // Long tokens are matched through a sliding window of groups: matches across its seams are found.
  for (let k = 225; k <= 275; k += 5) {
    const text = '7 '.repeat(k) + '4111 1111 1111 1111 ' + '8 '.repeat(k % 17) + '536 22 1234 ' + '+4 4 2 0 7 9 4 6 0 9 5 8' + ' 9'.repeat(300);
    const spans = findSensitive(text, SHAPE_KINDS).map((f) => [f.kind, text.slice(f.start, f.end)]);
    assert.deepEqual(spans, [['card-number', '4111 1111 1111 1111'], ['ssn', '536 22 1234'], ['phone', '+4 4 2 0 7 9 4 6 0 9 5 8 9 9 9']], `k=${k}`);
  }
  // Many matches in one text: all of them.
  const many = Array.from({ length: 5000 }, () => '536-22-1234').join(' ; ');
  const r = maskText(many, policy, noScopes);
  assert.equal(r.masked['detected:ssn'], 5000);
  assert.ok(!r.value.includes('536-22'));
});
