/**
 * Body capture for the ledger: secrets always redacted (by class and by name), personal classes
 * kept or redacted per policy, subject ids extracted, the size cap at a UTF-8 boundary, bodies
 * that cannot be looked at not stored, forms, and hostile input (deep nesting, huge numbers).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { captureBody, TRUNCATION_MARK, MAX_BODY_DEPTH, type CapturePolicy } from '../../src/ledger/capture.js';
import { buildClassificationMap } from '../../src/openapi/classification.js';

const C = 'x-rampart-classification';
const policy = (more: Partial<CapturePolicy> = {}): CapturePolicy => ({ maxBytes: 1 << 20, personal: {}, defaultPersonal: 'keep', opaque: 'omit', ...more });
const json = (v: unknown, map = customerMap, p = policy()) => captureBody({ contentType: 'application/json', body: Buffer.from(JSON.stringify(v)), map, policy: p });

const customerMap = buildClassificationMap({
  components: {
    schemas: {
      Envelope: {
        type: 'object',
        properties: {
          customer: { $ref: '#/components/schemas/Customer' },
          accounts: { type: 'array', items: { $ref: '#/components/schemas/Account' } },
          owners: { type: 'array', [C]: 'subject-id', items: { type: 'string' } },
          pin: { type: 'string', [C]: 'name' },
          apiSecret: { type: 'string', [C]: 'secret' },
        },
      },
      Customer: {
        allOf: [
          { $ref: '#/components/schemas/Party' },
          {
            type: 'object',
            properties: {
              ssn: { type: 'string', [C]: 'ssn' },
              email: { type: 'string', [C]: 'email' },
              address: { type: 'object', [C]: 'address', properties: { city: { type: 'string' }, password: { type: 'string' } } },
            },
          },
        ],
      },
      Party: { type: 'object', properties: { id: { type: 'string', [C]: 'subject-id' }, name: { type: 'string', [C]: 'name' } } },
      Account: { type: 'object', properties: { customerId: { type: 'integer', [C]: 'subject-id' }, number: { type: 'string', [C]: 'account-number' }, balance: { type: 'number', [C]: 'financial' } } },
    },
  },
}, '/components/schemas/Envelope');

const sample = {
  customer: { id: 'cus_1', name: 'Ada Lovelace', ssn: '123-45-6789', email: 'ada@example.com', address: { city: 'London', password: 'x' } },
  accounts: [
    { customerId: 42, number: '000123', balance: 10.5 },
    { customerId: 43, number: '000124', balance: 0 },
  ],
  owners: ['cus_2', 'cus_3', 'cus_2'],
};

test('redact vs keep per class; default for unlisted classes; the key stays to show the field existed', () => {
  const c = json(sample, customerMap, policy({ personal: { ssn: 'redact', 'account-number': 'redact', email: 'keep' }, defaultPersonal: 'keep' }));
  assert.equal(c.encoding, 'json');
  assert.equal(c.truncated, false);
  const v = JSON.parse(c.stored!);
  assert.equal(v.customer.ssn, '[redacted:ssn]');
  assert.equal(v.customer.email, 'ada@example.com');
  assert.equal(v.customer.name, 'Ada Lovelace');
  assert.equal(v.accounts[1].number, '[redacted:account-number]');
  assert.equal(v.accounts[1].balance, 0);
  assert.deepEqual(c.redacted, ['/customer/ssn', '/customer/address/password', '/accounts/0/number', '/accounts/1/number']);
  assert.deepEqual(c.classesSeen, ['secret', 'ssn', 'account-number', 'email', 'name', 'address', 'subject-id', 'financial']);

  const strict = json(sample, customerMap, policy({ personal: { email: 'keep' }, defaultPersonal: 'redact' }));
  const s = JSON.parse(strict.stored!);
  assert.equal(s.customer.email, 'ada@example.com');
  assert.equal(s.customer.name, '[redacted:name]');
  // A class on an object redacts the whole object.
  assert.equal(s.customer.address, '[redacted:address]');
  assert.equal(s.accounts[0].balance, '[redacted:financial]');
  assert.equal(s.customer.id, '[redacted:subject-id]');
  // Subject ids are extracted even when the body redacts them (they go to the ledger's personal fields).
  assert.deepEqual(strict.subjects, ['cus_1', '42', '43', 'cus_2', 'cus_3']);
});

test('secrets: always redacted, by class even when the policy says keep, and by name without any classification', () => {
  const body = {
    apiSecret: 'classified-secret',
    pin: 'named pin, classified name',
    customer: { address: { password: 'hunter2' } },
    nested: [{ deeper: { Client_Secret: 's3cr3t', 'X-API-Key': 'k', refresh_token: { value: 'rt', exp: 1 } } }],
    headers: { Authorization: 'Bearer abc', cookie: 'sid=1' },
    nothing: { password: null },
  };
  const c = json(body, customerMap, policy({ personal: { secret: 'keep', name: 'keep' } as CapturePolicy['personal'] }));
  const text = c.stored!;
  for (const leaked of ['classified-secret', 'named pin', 'hunter2', 's3cr3t', '"k"', 'rt', 'Bearer abc', 'sid=1']) assert.ok(!text.includes(leaked), `${leaked} leaked: ${text}`);
  const v = JSON.parse(text);
  assert.equal(v.apiSecret, '[redacted:secret]');
  assert.equal(v.pin, '[redacted:secret]');
  assert.equal(v.nested[0].deeper.refresh_token, '[redacted:secret]');
  assert.equal(v.headers.Authorization, '[redacted:secret]');
  assert.equal(v.nothing.password, null, 'a null secret has nothing to hide');
  assert.ok(c.classesSeen.includes('secret'));
  // No map at all: names still protect.
  const bare = json(body, undefined);
  assert.ok(!bare.stored!.includes('hunter2') && !bare.stored!.includes('s3cr3t') && !bare.stored!.includes('Bearer abc'));
  assert.equal(JSON.parse(bare.stored!).apiSecret, '[redacted:secret]');
});

test('subject ids: from fields, from arrays classified as a whole, numbers as strings, distinct and bounded', () => {
  const c = json(sample);
  assert.deepEqual(c.subjects, ['cus_1', '42', '43', 'cus_2', 'cus_3']);
  const many = json({ owners: Array.from({ length: 300 }, (_, i) => `cus_${i}`), customer: { id: 'x'.repeat(1000) } });
  assert.equal(many.subjects.length, 100);
  assert.ok(many.subjects.every((s) => s.length <= 256));
  // Objects inside a subject-id array: every scalar below counts.
  const map = buildClassificationMap({ properties: { who: { [C]: 'subject-id' } } });
  assert.deepEqual(json({ who: [{ a: 'u1' }, ['u2', 7, true, null]] }, map).subjects, ['u1', 'u2', '7']);
});

test('integers beyond 2^53 are stored verbatim and extracted exactly; strings that look like them are untouched', () => {
  const text = '{"accounts":[{"customerId":12345678901234567890,"balance":1.2345678901234567}],"note":"12345678901234567890","esc":"a\\"1234567890123456789"}';
  const c = captureBody({ contentType: 'application/json', body: Buffer.from(text), map: customerMap, policy: policy() });
  assert.equal(c.stored, text);
  assert.deepEqual(c.subjects, ['12345678901234567890']);
  const red = captureBody({ contentType: 'application/json', body: Buffer.from(text), map: customerMap, policy: policy({ personal: { 'subject-id': 'redact' } }) });
  assert.equal(red.stored, text.replace('12345678901234567890,', '"[redacted:subject-id]",'));
});

test('truncation: at most maxBytes, cut at a UTF-8 boundary, marked', () => {
  const body = { text: 'é€😀'.repeat(200) };
  for (const maxBytes of [60, 61, 62, 63, 64, 65, 100, 333]) {
    const c = json(body, undefined, policy({ maxBytes }));
    assert.equal(c.truncated, true);
    const bytes = Buffer.from(c.stored!, 'utf8');
    assert.ok(bytes.length <= maxBytes, `${bytes.length} > ${maxBytes}`);
    assert.ok(bytes.length >= maxBytes - 3, 'cut at most one character short');
    assert.ok(c.stored!.endsWith(TRUNCATION_MARK));
    assert.ok(!c.stored!.includes('\ufffd'), 'no broken character');
    assert.ok(c.stored!.startsWith('{"text":"é€😀'));
  }
  const fits = json(body, undefined, policy({ maxBytes: 100_000 }));
  assert.equal(fits.truncated, false);
  assert.deepEqual(JSON.parse(fits.stored!), body);
  // Too small for the mark: just the cut.
  const tiny = json(body, undefined, policy({ maxBytes: 12 }));
  assert.equal(tiny.stored, '{"text":"é');
  assert.equal(tiny.truncated, true);
});

test('maxBytes 0: nothing stored, the facts still reported', () => {
  const c = json(sample, customerMap, policy({ maxBytes: 0, personal: { ssn: 'redact' } }));
  assert.equal(c.stored, undefined);
  assert.equal(c.encoding, 'none');
  assert.deepEqual(c.subjects, ['cus_1', '42', '43', 'cus_2', 'cus_3']);
  assert.ok(c.classesSeen.includes('ssn'));
  assert.ok(c.redacted.includes('/customer/ssn'));
});

test('invalid JSON, non-UTF-8 JSON: nothing stored, and the note says why', () => {
  for (const body of [Buffer.from('{"password":"hunter2",'), Buffer.from('{"a":1}{"b":2}'), Buffer.from([0x7b, 0x22, 0xff, 0x22, 0x3a, 0x31, 0x7d])]) {
    const c = captureBody({ contentType: 'application/json; charset=utf-8', body, map: customerMap, policy: policy({ opaque: 'store' }) });
    assert.equal(c.stored, undefined);
    assert.equal(c.encoding, 'none');
    assert.match(c.note!, /not (valid JSON|UTF-8)/);
  }
  // +json media types are JSON too; a BOM is tolerated.
  const c = captureBody({ contentType: 'application/vnd.api+json', body: Buffer.from('\ufeff{"token":"t"}'), map: undefined, policy: policy() });
  assert.equal(c.stored, '{"token":"[redacted:secret]"}');
});

test('form bodies: classes by key (/name), secrets by name and in bracketed names, subjects, JSON-encoded fields', () => {
  const map = buildClassificationMap({
    type: 'object',
    properties: {
      customerId: { type: 'string', [C]: 'subject-id' },
      ssn: { type: 'string', [C]: 'ssn' },
      ids: { type: 'array', items: { type: 'string', [C]: 'subject-id' } },
      note: { type: 'string' },
      profile: { type: 'object', properties: { email: { [C]: 'email' } } },
      'contact.name': { type: 'string', [C]: 'name' },
    },
  });
  const body = 'customerId=cus_9&ssn=123-45-6789&pass%77ord=hunter2&user%5Bpin%5D=1234&ids=a&ids=b&note=hello+world&profile=' +
    encodeURIComponent(JSON.stringify({ email: 'e@x', otp: '999111' })) + '&contact.name=Bob&profile%5Bemail%5D=p%40x&empty=&flag';
  const c = captureBody({ contentType: 'application/x-www-form-urlencoded', body: Buffer.from(body), map, policy: policy({ personal: { ssn: 'redact', name: 'redact' } }) });
  assert.equal(c.encoding, 'form');
  const out = new URLSearchParams(c.stored!);
  assert.equal(out.get('customerId'), 'cus_9');
  assert.equal(out.get('ssn'), '[redacted:ssn]');
  assert.equal(out.get('password'), '[redacted:secret]');
  assert.equal(out.get('user[pin]'), '[redacted:secret]');
  assert.deepEqual(out.getAll('ids'), ['a', 'b']);
  assert.equal(out.get('note'), 'hello world');
  assert.deepEqual(JSON.parse(out.get('profile')!), { email: 'e@x', otp: '[redacted:secret]' });
  assert.equal(out.get('contact.name'), '[redacted:name]', 'a property whose name has a dot is looked up whole');
  assert.equal(out.get('profile[email]'), 'p@x', 'deepObject names are stepped through (email is kept by this policy)');
  assert.ok(c.stored!.includes('&empty=&flag'), 'untouched pairs are kept as sent');
  assert.ok(!c.stored!.includes('hunter2') && !c.stored!.includes('1234') && !c.stored!.includes('999111'));
  assert.deepEqual(c.subjects, ['cus_9', 'a', 'b']);
  assert.deepEqual(c.redacted, ['/ssn', '/password', '/user[pin]', '/profile/otp', '/contact.name']);
  assert.deepEqual(c.classesSeen, ['secret', 'ssn', 'email', 'name', 'subject-id']);
  // A name that cannot be decoded cannot be checked: its value is redacted.
  const bad = captureBody({ contentType: 'application/x-www-form-urlencoded', body: Buffer.from('%E0%A4%A=x&a=1'), map: undefined, policy: policy() });
  assert.equal(bad.stored, '%E0%A4%A=[redacted:secret]&a=1');
});

test('text and opaque bodies follow the opaque policy', () => {
  const text = Buffer.from('password=hunter2 in free text');
  const omitted = captureBody({ contentType: 'text/plain', body: text, map: undefined, policy: policy() });
  assert.equal(omitted.stored, undefined);
  assert.equal(omitted.encoding, 'none');
  assert.match(omitted.note!, /opaque: store/);
  const stored = captureBody({ contentType: 'text/plain; charset=utf-8', body: text, map: undefined, policy: policy({ opaque: 'store', maxBytes: 20 }) });
  assert.equal(stored.encoding, 'text');
  assert.equal(stored.truncated, true);
  assert.ok(Buffer.byteLength(stored.stored!) <= 20);

  const bytes = Buffer.from([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 250, 251, 252]);
  const bin = captureBody({ contentType: 'application/octet-stream', body: bytes, map: undefined, policy: policy({ opaque: 'store' }) });
  assert.deepEqual({ stored: bin.stored, encoding: bin.encoding, truncated: bin.truncated }, { stored: bytes.toString('base64'), encoding: 'base64', truncated: false });
  const capped = captureBody({ contentType: undefined, body: bytes, map: undefined, policy: policy({ opaque: 'store', maxBytes: 9 }) });
  assert.equal(capped.stored, bytes.subarray(0, 6).toString('base64'));
  assert.ok(capped.stored!.length <= 9);
  assert.equal(capped.truncated, true);
  assert.equal(captureBody({ contentType: 'image/png', body: bytes, map: undefined, policy: policy() }).stored, undefined);
  // Latin-1 text is kept as bytes, not mis-decoded.
  assert.equal(captureBody({ contentType: 'text/plain; charset=iso-8859-1', body: Buffer.from([0xe9]), map: undefined, policy: policy({ opaque: 'store' }) }).encoding, 'base64');
  // Empty bodies: nothing to store.
  assert.deepEqual(captureBody({ contentType: 'application/json', body: Buffer.alloc(0), map: undefined, policy: policy() }), {
    encoding: 'none', truncated: false, redacted: [], subjects: [], classesSeen: [],
  });
});

test('a hostile body nested 10 000 levels deep: no stack overflow, the rest redacted', () => {
  const depth = 10_000;
  const text = '{"a":'.repeat(depth) + '{"password":"hunter2"}' + '}'.repeat(depth);
  const c = captureBody({ contentType: 'application/json', body: Buffer.from(text), map: customerMap, policy: policy() });
  assert.equal(c.encoding, 'json');
  assert.ok(!c.stored!.includes('hunter2'));
  assert.ok(c.stored!.includes('"[redacted:too-deep]"'));
  assert.match(c.note!, /deeper than 128/);
  assert.equal(c.redacted.length, 1);
  assert.equal(c.redacted[0], '/a'.repeat(MAX_BODY_DEPTH));
  const arrays = '['.repeat(depth) + ']'.repeat(depth);
  const d = captureBody({ contentType: 'application/json', body: Buffer.from(arrays), map: undefined, policy: policy() });
  assert.ok(d.stored!.endsWith('"[redacted:too-deep]"' + ']'.repeat(MAX_BODY_DEPTH)));
  // Depth up to the bound is stored as is.
  const ok = '['.repeat(MAX_BODY_DEPTH) + ']'.repeat(MAX_BODY_DEPTH);
  assert.equal(captureBody({ contentType: 'application/json', body: Buffer.from(ok), map: undefined, policy: policy() }).stored, ok);
});

test('the redacted list is bounded; __proto__ keys stay plain data', () => {
  const body = { list: Array.from({ length: 500 }, (_, i) => ({ token: `t${i}` })) };
  const c = json(body, undefined);
  assert.equal(c.redacted.length, 100);
  assert.ok(!c.stored!.includes('t499'));
  const long = json({ ['k'.repeat(1000)]: { secret: 'v' } }, undefined);
  assert.equal(long.redacted[0]!.length, 512);
  const proto = captureBody({ contentType: 'application/json', body: Buffer.from('{"__proto__":{"password":"p"},"x":1}'), map: undefined, policy: policy() });
  assert.equal(proto.stored, '{"__proto__":{"password":"[redacted:secret]"},"x":1}');
  assert.equal(({} as Record<string, unknown>)['password'], undefined);
});

test('a malformed policy is caller misuse: TypeError with a stable code', () => {
  for (const bad of [{ ...policy(), maxBytes: -1 }, { ...policy(), maxBytes: 1.5 }, { ...policy(), opaque: 'yes' }, { ...policy(), defaultPersonal: undefined }, { ...policy(), personal: null }]) {
    assert.throws(
      () => captureBody({ contentType: 'application/json', body: Buffer.from('{}'), map: undefined, policy: bad as unknown as CapturePolicy }),
      (e: unknown) => e instanceof TypeError && (e as { code?: string }).code === 'RAMPART_CAPTURE_POLICY_INVALID',
    );
  }
});
