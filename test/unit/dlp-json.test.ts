/**
 * DLP on responses: a realistic brokerage profile (test/fixtures/dlp) masked per classification
 * and scopes, block/redact/mask/partial, detectors on what nobody classified, numbers, keys, depth,
 * hostile and odd input (never throws; fails closed), and maskJsonText's byte-for-byte pass-through.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildClassificationMap } from '../../src/openapi/classification.js';
import { compileDlpPolicy, maskJson, maskJsonText, maskText, type DlpPolicyConfig } from '../../src/threat/dlp/index.js';
import { MAX_BODY_DEPTH } from '../../src/ledger/capture.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const fixture = (name: string): string => readFileSync(join(root, 'test', 'fixtures', 'dlp', name), 'utf8');
const schema = JSON.parse(fixture('brokerage-schema.json')) as unknown;
const profileText = fixture('brokerage-profile.json');
const profile = (): Record<string, unknown> => JSON.parse(profileText) as Record<string, unknown>;
const map = buildClassificationMap(schema, '/components/schemas/CustomerProfile');
const C = 'x-rampart-classification';

const policy = compileDlpPolicy(undefined);
const scopes = (...s: string[]): ReadonlySet<string> => new Set(s);
/** The value at a path of a parsed body (tests only). */
const get = (v: unknown, ...path: (string | number)[]): unknown => path.reduce<unknown>((o, k) => (o as Record<string | number, unknown>)[k], v);
const mask = (v: unknown, cfg?: DlpPolicyConfig, granted: ReadonlySet<string> = scopes(), m = map) => maskJson(v, m, cfg ? compileDlpPolicy(cfg) : policy, granted);

test('a brokerage profile, default policy, no reveal scope: every class and every detector', () => {
  const r = mask(profile());
  assert.equal(r.blocked, false);
  assert.deepEqual(r.value, {
    customer: {
      id: 'cus_alice',
      name: 'A**** E******',
      ssn: '***-**-3456',
      dateOfBirth: '****-**-**',
      email: 'a***@example.com',
      phone: '+*******0143',
      address: { line1: '*** ********* ******', line2: '*** **', city: '*******', state: 'NY', postalCode: '*****', country: 'US' },
      createdAt: '2021-06-01T14:03:11.000Z',
    },
    accounts: [
      { id: 'acc_alice_1', customerId: 'cus_alice', type: 'cash', status: 'open', accountNumber: '********1001', currency: 'USD', cashBalance: 25400.5, openedAt: '2021-06-01' },
      { id: 'acc_alice_2', customerId: 'cus_alice', type: 'ira_roth', status: 'open', accountNumber: '********1002', currency: 'USD', cashBalance: 3120, openedAt: '2022-02-10' },
    ],
    transfers: [
      { id: 'trf_alice_1', accountId: 'acc_alice_1', direction: 'deposit', amount: 10000, bankRoutingNumber: '*****0011', bankAccountLast4: '4321', memo: 'Initial funding', createdAt: '2021-06-02T10:00:00.000Z' },
      { id: 'trf_alice_2', accountId: 'acc_alice_1', direction: 'withdrawal', amount: 1250.75, bankRoutingNumber: '*****0011', bankAccountLast4: '4321', memo: 'rent, card **** **** **** 1111 as backup', createdAt: '2024-04-20T16:30:00.000Z' },
    ],
    advisor: { name: 'B** P******', desk: 'NY-3' },
    notes: ['Called from (***) ***-0143 on 2024-05-02, verified SSN ***-**-1234.', 'Prefers e-mail: a***@example.org', 'CUSIP 037833100 position reviewed'],
    legacy: { acctNo: '*******5678', dob: '**/**/****', bankRouting: '*****0015', password: '[redacted:secret]', taxId: '**-***6789' },
    session: { lastLoginIp: '203.0.*.*', sessionKey: '[redacted:secret]' },
  });
  assert.deepEqual(r.masked, {
    name: 2,
    ssn: 1,
    'date-of-birth': 1,
    email: 1,
    phone: 1,
    address: 4,
    'account-number': 2,
    'routing-number': 2,
    'detected:card-number': 1,
    'detected:phone': 1,
    'detected:ssn': 1,
    'detected:email': 1,
    'detected:account-number': 1,
    'detected:date-of-birth': 1,
    'detected:routing-number': 1,
    'detected:tax-id': 1,
    secret: 2,
    'ip-address': 1,
  });
  assert.deepEqual(r.revealed, {});
  // Masked in place: the same object comes back.
  const v = profile();
  assert.equal(mask(v).value, v);
});

test('pii:read reveals personal data (and counts it), not card numbers (pci:read) and never secrets', () => {
  const r = mask(profile(), undefined, scopes('pii:read'));
  const v = r.value;
  const original = profile();
  assert.deepEqual(get(v, 'customer'), original['customer']);
  assert.deepEqual(get(v, 'accounts'), original['accounts']);
  assert.deepEqual(get(v, 'notes'), original['notes']);
  assert.equal(get(v, 'transfers', 1, 'memo'), 'rent, card **** **** **** 1111 as backup');
  assert.deepEqual(get(v, 'legacy'), { ...(original['legacy'] as object), password: '[redacted:secret]' });
  assert.equal(get(v, 'session', 'sessionKey'), '[redacted:secret]');
  assert.deepEqual(r.masked, { 'detected:card-number': 1, secret: 2 });
  assert.deepEqual(r.revealed, {
    name: 2, ssn: 1, 'date-of-birth': 1, email: 1, phone: 1, address: 4, 'account-number': 2, 'routing-number': 2,
    'detected:phone': 1, 'detected:ssn': 1, 'detected:email': 1, 'detected:account-number': 1, 'detected:date-of-birth': 1,
    'detected:routing-number': 1, 'detected:tax-id': 1, 'ip-address': 1,
  });
  const all = mask(profile(), undefined, scopes('pii:read', 'pci:read'));
  assert.deepEqual(all.masked, { secret: 2 });
  assert.equal(get(all.value, 'transfers', 1, 'memo'), 'rent, card 4111 1111 1111 1111 as backup');
  // A scope the policy does not name reveals nothing.
  assert.deepEqual(mask(profile(), undefined, scopes('accounts:read', 'admin')).masked, mask(profile()).masked);
});

test('block: a class or a detector refuses the whole response', () => {
  const byClass = mask(profile(), { classes: { ssn: { action: 'block' } } });
  assert.equal(byClass.blocked, true);
  assert.equal(byClass.blockedBy, 'ssn');
  assert.equal(byClass.value, undefined);
  assert.equal(byClass.masked['ssn'], 1);
  // A reveal scope lifts a block too.
  assert.equal(mask(profile(), { classes: { ssn: { action: 'block' } } }, scopes('pii:read')).blocked, false);
  const byDetector = mask(profile(), { detect: { 'card-number': 'block' } }, scopes('pii:read'));
  assert.equal(byDetector.blocked, true);
  assert.equal(byDetector.blockedBy, 'detected:card-number');
  assert.equal(mask(profile(), { classes: { secret: { action: 'block' } } }, scopes('pii:read', 'pci:read')).blockedBy, 'secret');
  const text = maskText('card 4111111111111111', compileDlpPolicy({ detect: { 'card-number': 'block' } }), scopes());
  assert.deepEqual({ value: text.value, blocked: text.blocked, blockedBy: text.blockedBy }, { value: '', blocked: true, blockedBy: 'detected:card-number' });
});

test('redact replaces the classified value whole; mask and partial reach every string and number below, not booleans', () => {
  const m = buildClassificationMap({
    type: 'object',
    properties: {
      home: {
        [C]: 'address',
        type: 'object',
        properties: { street: { type: 'string' }, zip: { type: 'integer' }, verified: { type: 'boolean' }, owner: { properties: { ssn: { [C]: 'ssn' } } } },
      },
    },
  });
  const body = () => ({ home: { street: '1 Main St', zip: 12345, verified: true, owner: { ssn: '536-22-1234', since: null }, tags: ['a b'] } });
  assert.deepEqual(mask(body(), { classes: { address: { action: 'redact' } } }, scopes(), m).value, { home: '[redacted:address]' });
  const masked = mask(body(), { classes: { ssn: { action: 'redact' } } }, scopes(), m);
  assert.deepEqual(masked.value, { home: { street: '* **** **', zip: '*****', verified: true, owner: { ssn: '[redacted:ssn]', since: null }, tags: ['* *'] } });
  assert.deepEqual(masked.masked, { address: 3, ssn: 1 });
  // The strongest class wins, whatever the nesting order.
  const partial = mask(body(), { classes: { address: { action: 'partial' }, ssn: { action: 'mask' } } }, scopes(), m);
  assert.deepEqual(get(partial.value, 'home', 'owner', 'ssn'), '***-**-****');
  assert.deepEqual(get(partial.value, 'home', 'street'), '1 M*** S*');
});

test('numbers: classified, key-named and card-shaped integers are masked (as strings); amounts are not', () => {
  const m = buildClassificationMap({ properties: { acct: { [C]: 'account-number' }, bal: { [C]: 'financial' } } });
  const r = mask({ acct: 990001001001, bal: 4111111111111111, ssn: 536221234, card: 4111111111111111, qty: 1234567890123, price: 4111111111111.11, neg: -5 }, undefined, scopes(), m);
  assert.deepEqual(r.value, { acct: '********1001', bal: '************1111', ssn: '*****1234', card: '************1111', qty: 1234567890123, price: 4111111111111.11, neg: -5 });
  assert.deepEqual(r.masked, { 'account-number': 1, 'detected:card-number': 2, 'detected:ssn': 1 });
});

test('declared classes decide: a subject id that looks like an e-mail is shown, free text and amounts are still scanned', () => {
  const m = buildClassificationMap({
    properties: {
      owner: { [C]: 'subject-id' },
      memo: { [C]: 'free-text' },
      ledger: { [C]: 'financial', properties: { note: { type: 'string' } } },
      email: { [C]: 'email' },
      custom: { [C]: 'loyalty-id' },
    },
  });
  const p = compileDlpPolicy({ classes: { 'loyalty-id': { action: 'none' } } });
  const r = maskJson({ owner: 'alice@example.com', memo: 'card 4111111111111111', ledger: { note: 'ssn 536-22-1234' }, email: 'bob@example.com', custom: 'carol@example.com' }, m, p, scopes('pii:read'));
  assert.deepEqual(r.value, { owner: 'alice@example.com', memo: 'card ************1111', ledger: { note: 'ssn 536-22-1234' }, email: 'bob@example.com', custom: 'carol@example.com' });
  assert.deepEqual(r.revealed, { 'detected:ssn': 1, email: 1 });
});

test('secret names: credentials by default, the ledger list with all, none with off (classified secrets always)', () => {
  const body = () => ({ password: 'hunter2', pin: '1234', nextPageToken: 'abc', access_token: 'tok', session: { sessionKey: 'k' } });
  const m = buildClassificationMap({ properties: { session: { properties: { sessionKey: { [C]: 'secret' } } } } });
  assert.deepEqual(mask(body(), undefined, scopes(), m).value, { password: '[redacted:secret]', pin: '[redacted:secret]', nextPageToken: 'abc', access_token: 'tok', session: { sessionKey: '[redacted:secret]' } });
  assert.deepEqual(mask(body(), { secretNames: 'all' }, scopes(), m).value, { password: '[redacted:secret]', pin: '[redacted:secret]', nextPageToken: '[redacted:secret]', access_token: '[redacted:secret]', session: { sessionKey: '[redacted:secret]' } });
  assert.deepEqual(mask(body(), { secretNames: 'off' }, scopes(), m).value, { password: 'hunter2', pin: '1234', nextPageToken: 'abc', access_token: 'tok', session: { sessionKey: '[redacted:secret]' } });
  assert.deepEqual(mask({ password: null, pin: { a: 1 } }, undefined, scopes(), undefined).value, { password: null, pin: '[redacted:secret]' });
});

test('toggles: detect false, keyNames false, detect actions', () => {
  const body = () => ({ notes: 'ssn 536-22-1234 card 4111111111111111', acctNo: '00012345678' });
  assert.deepEqual(mask(body(), { detect: { ssn: false }, keyNames: false }, scopes(), undefined).value, { notes: 'ssn 536-22-1234 card ************1111', acctNo: '00012345678' });
  assert.deepEqual(mask(body(), { detect: { ssn: 'redact', 'card-number': 'mask' } }, scopes(), undefined).value, { notes: 'ssn [redacted:ssn] card ****************', acctNo: '*******5678' });
  // Turning every detector off leaves unclassified data alone (classified data is still masked).
  const off = { detect: { ssn: false, 'tax-id': false, 'card-number': false, 'routing-number': false, 'account-number': false, email: false, phone: false, 'date-of-birth': false } } as const;
  const r = mask(profile(), off);
  assert.deepEqual(get(r.value, 'notes'), profile()['notes']);
  assert.equal(get(r.value, 'customer', 'ssn'), '***-**-3456');
});

test('object keys holding personal data are renamed in place, order kept, collisions numbered', () => {
  const v = { first: 1, 'alice@example.com': { n: 1 }, '536-22-1234': 2, '536-99-1234': 3, 'a***@example.com': 4, last: 5 };
  const r = mask(v, undefined, scopes(), undefined);
  assert.equal(r.value, v);
  assert.deepEqual(Object.keys(v), ['first', 'a***@example.com #2', '***-**-1234', '***-**-1234 #2', 'a***@example.com', 'last']);
  assert.deepEqual(Object.values(v), [1, { n: 1 }, 2, 3, 4, 5]);
  assert.deepEqual(r.masked, { 'detected:email': 1, 'detected:ssn': 2 });
});

test('depth: nesting beyond the bound is replaced, 10 000 levels do not overflow the stack', () => {
  const depth = 10_000;
  const deep = JSON.parse('{"a":'.repeat(depth) + '{"ssn":"536-22-1234"}' + '}'.repeat(depth)) as unknown;
  const r = maskJson(deep, undefined, policy, scopes());
  assert.equal(r.blocked, false);
  assert.equal(r.masked['too-deep'], 1);
  const text = JSON.stringify(r.value);
  assert.ok(!text.includes('536-22-1234'));
  assert.ok(text.endsWith('"[redacted:too-deep]"' + '}'.repeat(MAX_BODY_DEPTH)));
  const ok = '['.repeat(MAX_BODY_DEPTH) + ']'.repeat(MAX_BODY_DEPTH);
  assert.deepEqual(maskJson(JSON.parse(ok), undefined, policy, scopes()).value, JSON.parse(ok));
});

test('odd input never throws; a failure blocks (fail closed)', () => {
  const cyclic: Record<string, unknown> = { a: 1 };
  cyclic['self'] = cyclic;
  for (const v of [undefined, null, true, 0, NaN, Infinity, -0, 'x', 10n ** 15n * 4n + 111111111111111n, Symbol('s'), () => 1, new Date(0), new Map([[1, 2]]), [undefined, () => 1], cyclic]) {
    const r = maskJson(v, map, policy, scopes());
    assert.equal(typeof r.blocked, 'boolean');
  }
  // The walk changes in place: the cycle above was cut where the bound was reached. A fresh one:
  const again: Record<string, unknown> = { a: 1 };
  again['self'] = again;
  assert.equal(maskJson(again, undefined, policy, scopes()).masked['too-deep'], 1);
  assert.equal(again['self'], '[redacted:too-deep]');
  assert.equal(maskJson(4111111111111111n, undefined, policy, scopes()).value, '************1111');
  const hostile = { get ssn(): string { throw new Error('boom'); } };
  const Object_ = Object.defineProperty({}, 'x', { enumerable: true, get() { throw new Error('boom'); } });
  for (const v of [hostile, Object_]) {
    const r = maskJson(v, map, policy, scopes());
    assert.deepEqual({ blocked: r.blocked, blockedBy: r.blockedBy, value: r.value }, { blocked: true, blockedBy: 'error', value: undefined });
  }
  // A classification map from a hostile document is just a map: the walk follows it.
  const proto = JSON.parse('{"__proto__":{"ssn":"536-22-1234"},"x":"536-22-1234"}') as Record<string, unknown>;
  const r = maskJson(proto, undefined, policy, scopes());
  assert.equal(JSON.stringify(r.value), '{"__proto__":{"ssn":"***-**-1234"},"x":"***-**-1234"}');
  assert.equal(({} as Record<string, unknown>)['ssn'], undefined);
});

test('maskJsonText: nothing to mask returns the very text; changes are serialised once; big numbers verbatim', () => {
  const clean = '{ "id": "acc_1",\n  "balance": 1.50, "big": 12345678901234567890 }';
  const c = maskJsonText(clean, undefined, policy, scopes());
  assert.equal(c.value, clean);
  assert.equal(c.changed, false);
  assert.deepEqual(c.masked, {});
  // A 19-digit card number sent as a JSON number is checked on its real digits; other long literals stay verbatim.
  const cards = '{"pan":4111111111111111110,"id":12345678901234567890,"amt":1.5,"s":"4111111111111111"}';
  const m = maskJsonText(cards, undefined, policy, scopes());
  assert.equal(m.value, '{"pan":"***************1110","id":12345678901234567890,"amt":1.5,"s":"************1111"}');
  assert.equal(m.changed, true);
  assert.deepEqual(m.masked, { 'detected:card-number': 2 });
  // Revealed: unchanged, byte for byte.
  assert.equal(maskJsonText(cards, undefined, policy, scopes('pci:read')).value, cards);
  const withBom = maskJsonText('\ufeff{"ssn":"536-22-1234"}', undefined, policy, scopes());
  assert.equal(withBom.value, '{"ssn":"***-**-1234"}');
  for (const bad of ['{"ssn":"536-22-1234"', '{"a":1}{"b":2}', 'undefined', '536-22-1234']) {
    const r = maskJsonText(bad, undefined, policy, scopes());
    assert.deepEqual({ blocked: r.blocked, blockedBy: r.blockedBy, value: r.value }, { blocked: true, blockedBy: 'invalid-json', value: '' });
  }
  for (const empty of ['', ' \r\n', '\ufeff']) assert.deepEqual(maskJsonText(empty, map, policy, scopes()), { value: empty, changed: false, blocked: false, masked: {}, revealed: {} });
  // A classified number beyond 2^53 is masked from its real digits.
  const acct = buildClassificationMap({ properties: { acct: { [C]: 'account-number' } } });
  assert.equal(maskJsonText('{"acct":12345678901234567891}', acct, policy, scopes()).value, '{"acct":"****************7891"}');
  assert.equal(maskJsonText('{"acct":12345678901234567891}', acct, policy, scopes('pii:read')).value, '{"acct":12345678901234567891}');
  // The brokerage fixture through the text path gives the same as maskJson.
  assert.deepEqual(JSON.parse(maskJsonText(profileText, map, policy, scopes()).value), mask(profile()).value);
});

test('maskText: a CSV statement', () => {
  const r = maskText(fixture('brokerage-statement.csv'), policy, scopes());
  assert.equal(
    r.value,
    [
      'date,description,amount,reference',
      '2024-05-01,ACH deposit from 011000015 acct ending 4321,10000.00,REF-20240501-0001',
      '2024-05-02,Card payment ****-****-****-1111,-54.20,REF-20240502-0042',
      '2024-05-03,Wire from client a***@example.com (+* *** *** 0143),2500.00,REF-20240503-0007',
      '2024-05-04,Dividend CUSIP 037833100,12.34,REF-20240504-0100',
      '',
    ].join('\n'),
  );
  assert.deepEqual(r.masked, { 'detected:card-number': 1, 'detected:email': 1, 'detected:phone': 1 });
});

test('20 000 accounts with nothing to mask come back unchanged and uncounted', () => {
  const accounts = Array.from({ length: 20_000 }, (_, i) => ({
    id: `acc_${i}`,
    customerId: `cus_${i % 977}`,
    type: i % 3 === 0 ? 'margin' : 'cash',
    status: 'open',
    currency: 'USD',
    cashBalance: (i * 37.5) % 100_000,
    openedAt: '2021-06-01',
    updatedAt: '2024-05-02T13:31:02.000Z',
    positions: [{ symbol: 'ACME', quantity: i % 500, cusip: '037833100', lastPrice: 118.25 }],
  }));
  const before = JSON.stringify({ data: accounts });
  const m = buildClassificationMap(schema, '/components/schemas/CustomerProfile');
  const r = maskJson(JSON.parse(before), m, policy, scopes());
  assert.deepEqual(r.masked, {});
  assert.equal(JSON.stringify(r.value), before);
  const t = maskJsonText(before, m, policy, scopes());
  assert.equal(t.value, before);
});

test('qualified reveal scopes: only the qualified scope reveals; text bodies count reveals too', () => {
  const q = compileDlpPolicy(undefined, { qualifyScope: (s) => `brokerage:${s}` });
  const body = () => ({ customer: { ssn: '900-12-3456' } });
  const m = buildClassificationMap({ properties: { customer: { properties: { ssn: { [C]: 'ssn' } } } } });
  assert.equal(get(maskJson(body(), m, q, scopes('pii:read')).value, 'customer', 'ssn'), '***-**-3456');
  assert.equal(get(maskJson(body(), m, q, scopes('brokerage:pii:read')).value, 'customer', 'ssn'), '900-12-3456');
  const t = maskText('SSN 536-22-1234, card 4111 1111 1111 1111', q, scopes('brokerage:pii:read'));
  assert.equal(t.value, 'SSN 536-22-1234, card **** **** **** 1111');
  assert.deepEqual(t.revealed, { 'detected:ssn': 1 });
  assert.deepEqual(t.masked, { 'detected:card-number': 1 });
});
