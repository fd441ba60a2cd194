/**
 * Response contract validation (API10, API3): status, media type and schema of upstream
 * responses; undeclared and writeOnly properties stripped in place ('strip') or refused
 * ('report'); a schema shared by a request and a response read the right way round in each;
 * bodies given as bytes parsed strictly and bounded; error lists bounded; messages that never
 * quote a value.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadApi, apiStats } from '../../src/openapi/load.js';
import { MAX_EXTRA_ERRORS } from '../../src/openapi/schema-errors.js';
import { MAX_UNDECLARED_LISTED } from '../../src/openapi/validate-response.js';
import type { ApiModel, OperationModel, ResponseCheck } from '../../src/openapi/types.js';
import { tempDir } from '../helpers/tmp.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const fixtures = join(root, 'test', 'fixtures', 'openapi');
const dir = tempDir('rampart-openapi-response-');
after(() => dir.remove());

const load = (file: string, closedObjects = true): Promise<ApiModel> =>
  loadApi({ name: 'r', file, qualifyScopes: false, closedObjects, reservedPrefix: '/.rampart' });

const api = await load(join(fixtures, 'response-contract.yaml'));
const op = (id: string, model: ApiModel = api): OperationModel => {
  const o = model.operations.find((x) => x.id === id);
  assert.ok(o, `operation ${id}`);
  return o;
};
const JSON_CT = 'application/json';

function account(): Record<string, unknown> {
  return {
    id: 7,
    createdAt: '2024-05-01T12:00:00Z',
    owner: 'Ann Example',
    balance: { amount: 1.07, currency: 'USD' },
    address: { street: '1 Main St', city: 'Springfield' },
    tags: { tier: 'gold', region: 'us-east' },
    metadata: { anything: [1, { goes: true }] },
  };
}

function ok(r: ResponseCheck): void {
  assert.equal(r.ok, true, JSON.stringify(r));
  assert.equal(r.reason, undefined);
}

function notOk(r: ResponseCheck, reason: string): void {
  assert.equal(r.ok, false, JSON.stringify(r));
  assert.equal(r.reason, reason, JSON.stringify(r));
}

test('nothing of the response side is built at load; the first response check builds it', async () => {
  const fresh = await load(join(fixtures, 'response-contract.yaml'));
  const before = apiStats(fresh);
  assert.equal(before.responseDocumentMs, undefined);
  assert.equal(before.responseSchemaCompiles, 0);
  ok(op('getAccount', fresh).validateResponse(200, JSON_CT, account(), 'report'));
  const afterFirst = apiStats(fresh);
  assert.ok(afterFirst.responseDocumentMs !== undefined && afterFirst.responseDocumentMs > 0);
  assert.ok(afterFirst.responseSchemaCompiles >= 1);
  // Request validators are untouched by it.
  assert.equal(afterFirst.schemaCompiles, 0);
});

test('a schema shared by request and response: readOnly refused in requests, writeOnly stripped from responses', () => {
  // Request side (closedObjects): the client may not send the server's id; pin is required.
  const create = op('createAccount');
  const reqBody = (b: object) => create.validate({ pathParams: {}, rawQuery: '', headers: { 'content-type': JSON_CT }, body: Buffer.from(JSON.stringify(b)) });
  const withId = reqBody({ id: 1, owner: 'Ann', pin: '1234' });
  assert.equal(withId.ok, false);
  assert.equal(withId.ok ? '' : withId.error.pointer, '/body/id');
  const noPin = reqBody({ owner: 'Ann' });
  assert.equal(noPin.ok ? '' : noPin.error.pointer, '/body/pin');
  assert.equal(reqBody({ owner: 'Ann', pin: '1234' }).ok, true);

  // Response side: id and createdAt (readOnly) are fine, pin (writeOnly, required in requests) is
  // not required and, when present, stripped like an undeclared property.
  const body: Record<string, unknown> = { ...account(), pin: '9876' };
  const r = create.validateResponse(201, JSON_CT, body, 'strip');
  ok(r);
  assert.deepEqual(r.undeclared, ['/pin']);
  assert.equal('pin' in body, false);
  assert.equal(body['id'], 7);
  const report = create.validateResponse(201, JSON_CT, { ...account(), pin: '9876' }, 'report');
  notOk(report, 'schema');
  assert.deepEqual(report.undeclared, ['/pin']);
  assert.deepEqual(report.errors, []);
  // The request side still refuses readOnly after the response pass ran (separate documents).
  assert.equal(reqBody({ id: 1, owner: 'Ann', pin: '1234' }).ok, false);
});

test("strip removes undeclared properties at every depth, in place, and the result passes", () => {
  const body: { data: Record<string, unknown>[]; [k: string]: unknown } = {
    data: [
      { ...account(), extra: 'x', address: { street: 's', city: 'c', zip: '12345' } },
      { ...account(), balance: { amount: 2, currency: 'EUR', fx: 1.1 } },
    ],
    has_more: false,
    next: null,
    debug: { sql: 'select 1' },
  };
  const same = body;
  const r = op('listAccounts').validateResponse(200, JSON_CT, body, 'strip');
  ok(r);
  assert.deepEqual(r.undeclared.sort(), ['/data/0/address/zip', '/data/0/extra', '/data/1/balance/fx', '/debug']);
  assert.equal(r.body, same, 'the caller\'s value, mutated in place');
  assert.equal('debug' in body, false);
  assert.equal('extra' in body.data[0]!, false);
  assert.deepEqual(body.data[0]!['address'], { street: 's', city: 'c' });
  assert.deepEqual(body.data[1]!['balance'], { amount: 2, currency: 'EUR' });
  // What strip produced now passes as is.
  ok(op('listAccounts').validateResponse(200, JSON_CT, body, 'report'));
});

test("report leaves the body untouched; errors empty says only undeclared properties are wrong", () => {
  const body = { ...account(), extra: 1, address: { street: 's', zip: '1' } };
  const copy = structuredClone(body);
  const r = op('getAccount').validateResponse(200, JSON_CT, body, 'report');
  notOk(r, 'schema');
  assert.deepEqual(r.undeclared.sort(), ['/address/zip', '/extra']);
  assert.deepEqual(r.errors, []);
  assert.deepEqual(body, copy);
  // Undeclared and broken: both listed.
  const broken = { ...account(), extra: 1, owner: 42 };
  const b = op('getAccount').validateResponse(200, JSON_CT, broken, 'report');
  notOk(b, 'schema');
  assert.deepEqual(b.undeclared, ['/extra']);
  assert.deepEqual(b.errors[0], { pointer: '/owner', message: 'must be string' });
  assert.equal(broken.extra, 1);
});

test('strip then re-check: a body broken otherwise is still refused, with the breaks listed', () => {
  const body: Record<string, unknown> = { ...account(), extra: true };
  delete body['owner'];
  const r = op('getAccount').validateResponse(200, JSON_CT, body, 'strip');
  notOk(r, 'schema');
  assert.deepEqual(r.undeclared, ['/extra']);
  assert.deepEqual(r.errors, [{ pointer: '/owner', message: 'is required' }]);
  assert.equal('extra' in body, false);
});

test('maps (additionalProperties: schema) stay maps, free-form objects stay open, nullable objects accept null', () => {
  const a = account();
  a['tags'] = { anything: 'goes', 'any-key': 'ok' };
  a['address'] = null;
  ok(op('getAccount').validateResponse(200, JSON_CT, a, 'report'));
  const b = account();
  b['tags'] = { tier: 3 };
  const r = op('getAccount').validateResponse(200, JSON_CT, b, 'strip');
  notOk(r, 'schema');
  assert.deepEqual(r.errors[0], { pointer: '/tags/tier', message: 'must be string' });
  assert.deepEqual(r.undeclared, []);
});

test('3.0 boolean exclusiveMinimum, multipleOf money and a discriminated oneOf in responses', () => {
  const positions = op('listPositions');
  ok(positions.validateResponse(200, JSON_CT, [{ symbol: 'ACME', quantity: 1 }], 'report'));
  const zero = positions.validateResponse(200, JSON_CT, [{ symbol: 'ACME', quantity: 0 }], 'report');
  notOk(zero, 'schema');
  assert.equal(zero.errors[0]!.pointer, '/0/quantity');
  const money = account();
  money['balance'] = { amount: 1.005, currency: 'USD' };
  notOk(op('getAccount').validateResponse(200, JSON_CT, money, 'report'), 'schema');

  const instrument = op('getInstrument');
  ok(instrument.validateResponse(200, JSON_CT, { kind: 'bond', coupon: 4.5 }, 'report'));
  // The chosen alternative is closed: a bond's field on a stock is undeclared.
  const stock = { kind: 'stock', ticker: 'ACME', coupon: 4.5 };
  const r = instrument.validateResponse(200, JSON_CT, stock, 'strip');
  ok(r);
  assert.deepEqual(r.undeclared, ['/coupon']);
  assert.deepEqual(stock, { kind: 'stock', ticker: 'ACME' });
  const unknown = instrument.validateResponse(200, JSON_CT, { kind: 'option', strike: 1 }, 'strip');
  notOk(unknown, 'schema');
  assert.equal(unknown.errors[0]!.pointer, '/kind');
});

test('the declared response is chosen by exact status, then range, then default', () => {
  const positions = op('listPositions'); // 2XX: array of positions; default: Problem
  ok(positions.validateResponse(206, JSON_CT, [], 'report'));
  notOk(positions.validateResponse(206, JSON_CT, { type: 'x', title: 'y' }, 'report'), 'schema');
  ok(positions.validateResponse(503, JSON_CT, { type: 'about:blank', title: 'Unavailable' }, 'report'));
  const bad = positions.validateResponse(503, JSON_CT, { title: 'no type' }, 'report');
  notOk(bad, 'schema');
  assert.deepEqual(bad.errors[0], { pointer: '/type', message: 'is required' });
  // 404 of getAccount: problem+json declared, schema checked (+json is JSON).
  ok(op('getAccount').validateResponse(404, 'application/problem+json', { type: 'about:blank', title: 'Not found', status: 404 }, 'report'));
  notOk(op('getAccount').validateResponse(404, 'application/problem+json', { type: 'about:blank' }, 'report'), 'schema');
});

test('an undeclared status: 4xx/5xx pass unchecked by default, 1xx-3xx are refused; allow and block override', () => {
  const get = op('getAccount'); // declares 200 and 404, no default
  const e500 = get.validateResponse(500, 'text/html', undefined, 'strip');
  ok(e500);
  assert.equal(e500.unchecked, 'status-undeclared');
  const r201 = get.validateResponse(201, JSON_CT, account(), 'strip');
  notOk(r201, 'status-undeclared');
  assert.deepEqual(r201.errors, [{ pointer: '/status', message: 'is not declared for this operation (declared: 200, 404)' }]);
  notOk(get.validateResponse(302, undefined, undefined, 'strip'), 'status-undeclared');
  notOk(get.validateResponse(500, JSON_CT, {}, 'strip', { undeclaredStatus: 'block' }), 'status-undeclared');
  const allowed = get.validateResponse(201, JSON_CT, { anything: 1 }, 'strip', { undeclaredStatus: 'allow' });
  ok(allowed);
  assert.equal(allowed.unchecked, 'status-undeclared');
  // A 304 answers a conditional GET: never a contract break, no body.
  const nm = get.validateResponse(304, undefined, undefined, 'strip', { undeclaredStatus: 'block' });
  ok(nm);
  assert.equal(nm.unchecked, 'no-body');
  // Not a status at all.
  notOk(get.validateResponse(42, JSON_CT, {}, 'strip', { undeclaredStatus: 'allow' }), 'status-undeclared');
  notOk(get.validateResponse(200.5, JSON_CT, {}, 'strip', { undeclaredStatus: 'allow' }), 'status-undeclared');
});

test('media types: undeclared ones are a contract break; non-JSON declared ones pass unchecked', () => {
  const get = op('getAccount');
  const html = get.validateResponse(200, 'text/html; charset=utf-8', undefined, 'strip');
  notOk(html, 'media-type-undeclared');
  assert.deepEqual(html.errors, [{ pointer: '/header/content-type', message: 'must be one of: application/json' }]);
  ok(get.validateResponse(200, 'Application/JSON; charset=UTF-8', account(), 'strip'));
  notOk(get.validateResponse(200, 'application/json; charset=iso-8859-1', account(), 'strip'), 'not-json');
  notOk(get.validateResponse(200, 'not a media type', account(), 'strip'), 'media-type-undeclared');
  notOk(get.validateResponse(200, undefined, account(), 'strip'), 'media-type-undeclared');
  const none = get.validateResponse(200, undefined, undefined, 'strip');
  ok(none);
  assert.equal(none.unchecked, 'no-body');
  // Media type only (body not given): checked, body not.
  const typeOnly = get.validateResponse(200, JSON_CT, undefined, 'strip');
  ok(typeOnly);
  assert.equal(typeOnly.unchecked, 'no-body');

  const statement = op('getStatement');
  const pdf = statement.validateResponse(200, 'application/pdf', undefined, 'strip');
  ok(pdf);
  assert.equal(pdf.unchecked, 'not-json-media-type');
  ok(statement.validateResponse(200, 'application/vnd.rampart.summary+json', { balance: { amount: 3, currency: 'USD' } }, 'strip'));
  notOk(statement.validateResponse(200, 'application/vnd.rampart.summary+json', { balance: { amount: 3 } }, 'strip'), 'schema');
  notOk(statement.validateResponse(200, JSON_CT, {}, 'strip'), 'media-type-undeclared');

  // A response declared without content: a body (or a Content-Type) is a break.
  const ping = op('ping');
  ok(ping.validateResponse(202, undefined, undefined, 'strip'));
  const withBody = ping.validateResponse(202, JSON_CT, { queued: true }, 'strip');
  notOk(withBody, 'media-type-undeclared');
  assert.match(withBody.errors[0]!.message, /must be absent/);
  const text = ping.validateResponse(200, 'text/plain', undefined, 'strip');
  ok(text);
  assert.equal(text.unchecked, 'not-json-media-type');
});

test('no body to check: 204, HEAD', () => {
  const del = op('closeAccount').validateResponse(204, undefined, undefined, 'strip');
  ok(del);
  assert.equal(del.unchecked, 'no-body');
  const head = op('headAccount').validateResponse(200, JSON_CT, undefined, 'strip');
  ok(head);
  assert.equal(head.unchecked, 'no-body');
  // The status is still checked.
  notOk(op('closeAccount').validateResponse(200, JSON_CT, {}, 'strip'), 'status-undeclared');
});

test('bodies given as bytes are parsed strictly: not JSON, duplicate keys, __proto__, bad UTF-8, too deep', () => {
  const get = op('getAccount');
  const bytes = Buffer.from(JSON.stringify({ ...account(), extra: 1 }));
  const r = get.validateResponse(200, JSON_CT, bytes, 'strip');
  ok(r);
  assert.deepEqual(r.undeclared, ['/extra']);
  assert.deepEqual(r.body, account());
  const u8 = new Uint8Array(Buffer.from(JSON.stringify(account())));
  ok(get.validateResponse(200, JSON_CT, u8, 'report'));

  notOk(get.validateResponse(200, JSON_CT, Buffer.from('<html>oops</html>'), 'strip'), 'not-json');
  const dup = get.validateResponse(200, JSON_CT, Buffer.from('{"owner":"a","balance":{"amount":1,"amount":1000,"currency":"USD"}}'), 'strip');
  notOk(dup, 'not-json');
  assert.deepEqual(dup.errors, [{ pointer: '/balance', message: 'must not repeat a key' }]);
  notOk(get.validateResponse(200, JSON_CT, Buffer.from('{"owner":"a","__proto__":{"isAdmin":true}}'), 'strip'), 'not-json');
  notOk(get.validateResponse(200, JSON_CT, Buffer.from([0x7b, 0x22, 0xff, 0x22, 0x3a, 0x31, 0x7d]), 'strip'), 'not-json');
  const deepText = '['.repeat(200) + ']'.repeat(200);
  notOk(get.validateResponse(200, JSON_CT, Buffer.from(deepText), 'strip'), 'too-deep');
  // The same bound for a value the caller parsed.
  notOk(get.validateResponse(200, JSON_CT, JSON.parse(deepText), 'strip'), 'too-deep');
  let nested: unknown = 1;
  for (let i = 0; i < 100; i++) nested = { a: nested };
  notOk(get.validateResponse(200, JSON_CT, nested, 'strip'), 'schema');
});

test('lists are bounded: errors to 1 + MAX_EXTRA_ERRORS, undeclared pointers to MAX_UNDECLARED_LISTED (all stripped)', () => {
  const broken = { data: Array.from({ length: 50 }, () => ({ owner: 1 })), has_more: false };
  const r = op('listAccounts').validateResponse(200, JSON_CT, broken, 'strip');
  notOk(r, 'schema');
  assert.ok(r.errors.length >= 2 && r.errors.length <= 1 + MAX_EXTRA_ERRORS, String(r.errors.length));

  const wide: Record<string, unknown> = account();
  for (let i = 0; i < 300; i++) wide[`x${i}`] = i;
  const s = op('getAccount').validateResponse(200, JSON_CT, wide, 'strip');
  ok(s);
  assert.equal(s.undeclared.length, MAX_UNDECLARED_LISTED);
  assert.equal(s.truncated, true);
  assert.deepEqual(wide, account(), 'every undeclared property stripped, listed or not');
});

test('pointers escape / and ~, shorten long or control-character names, and still strip exactly', () => {
  const long = 'k'.repeat(100);
  const body: Record<string, unknown> = { ...account(), 'a/b': 1, 'c~d': 2, [long]: 3, 'line\nbreak': 4 };
  const r = op('getAccount').validateResponse(200, JSON_CT, body, 'strip');
  ok(r);
  assert.ok(r.undeclared.includes('/a~1b'), JSON.stringify(r.undeclared));
  assert.ok(r.undeclared.includes('/c~0d'));
  assert.ok(r.undeclared.includes('/line?break'));
  const longPointer = r.undeclared.find((p) => p.startsWith('/kkk'));
  assert.ok(longPointer !== undefined && longPointer.length < 80 && longPointer.endsWith('…'));
  assert.deepEqual(body, account());
});

test('messages never quote a value from the response (property names appear, shortened, as in requests)', () => {
  const secret = 'SSN-078-05-1120';
  const body: Record<string, unknown> = { ...account(), owner: 'x'.repeat(65) + secret };
  (body['balance'] as Record<string, unknown>)['currency'] = secret;
  body['tags'] = { tier: { ssn: secret } };
  body['address'] = { street: 5, city: [secret] };
  for (const mode of ['strip', 'report'] as const) {
    const r = op('getAccount').validateResponse(200, JSON_CT, structuredClone(body), mode);
    notOk(r, 'schema');
    const text = JSON.stringify({ errors: r.errors, undeclared: r.undeclared, reason: r.reason });
    assert.ok(r.errors.length >= 2, text);
    assert.ok(!text.includes('078-05'), text);
  }
});

test('odd input never throws: strange values, arguments out of range', () => {
  const get = op('getAccount');
  notOk(get.validateResponse(200, JSON_CT, new Map([['a', 1]]), 'strip'), 'schema');
  notOk(get.validateResponse(200, JSON_CT, 'a string', 'strip'), 'schema');
  notOk(get.validateResponse(200, JSON_CT, null, 'strip'), 'schema');
  notOk(get.validateResponse(Number.NaN, JSON_CT, {}, 'strip'), 'status-undeclared');
  // Misuse by the caller is a TypeError (jose's convention), not a verdict.
  assert.throws(() => get.validateResponse(200, JSON_CT, {}, 'drop' as 'strip'), TypeError);
  assert.throws(() => get.validateResponse(200, JSON_CT, {}, 'strip', { undeclaredStatus: 'maybe' as 'allow' }), TypeError);
});

test('a response schema ajv cannot compile fails closed (reason internal) with one warning', async () => {
  const file = join(dir.path, 'uncompilable.yaml');
  writeFileSync(
    file,
    `openapi: 3.0.3
info: { title: t, version: '1' }
security: []
paths:
  /a:
    get:
      operationId: a
      responses:
        '200':
          description: ok
          content:
            application/json:
              schema: { type: object, patternProperties: { '(': { type: string } } }
  /b:
    get:
      operationId: b
      responses:
        '200':
          description: ok
          content:
            application/json:
              schema: { type: object, properties: { n: { type: integer } } }
`,
  );
  const m = await load(file);
  const a = op('a', m);
  notOk(a.validateResponse(200, JSON_CT, {}, 'strip'), 'internal');
  notOk(a.validateResponse(200, JSON_CT, {}, 'report'), 'internal');
  assert.equal(m.warnings.filter((w) => /a: response schema cannot be compiled/.test(w)).length, 1, JSON.stringify(m.warnings));
  // Other operations of the API are not affected.
  ok(op('b', m).validateResponse(200, JSON_CT, { n: 1 }, 'strip'));
});

test('3.1 with schemas in another file: type arrays with null, writeOnly, nested references', async () => {
  const m = await load(join(fixtures, 'response-multi.yaml'), false);
  const get = op('getCustomer', m);
  const body = { id: 'c1', name: 'Ann', email: null, password: 'hunter2', contact: { phone: '555', fax: '556' }, internalScore: 3 };
  const r = get.validateResponse(200, JSON_CT, body, 'strip');
  ok(r);
  assert.deepEqual(r.undeclared.sort(), ['/contact/fax', '/internalScore', '/password']);
  assert.deepEqual(body, { id: 'c1', name: 'Ann', email: null, contact: { phone: '555' } });
  notOk(get.validateResponse(200, JSON_CT, { id: 'c1', name: 'Ann', email: 'not an email' }, 'strip'), 'schema');
  ok(op('listCustomers', m).validateResponse(200, JSON_CT, { results: [{ id: 'a', name: 'b' }], nextPageToken: null }, 'report'));
});
