/**
 * Request validation against the OpenAPI contract: parameters (style/explode, coercion,
 * repeated-parameter refusal), content types (415), JSON bodies (duplicate keys, __proto__,
 * malformed), closed objects (API3), 3.0 nullable and boolean exclusive bounds, discriminators,
 * recursive schemas, 3.1 type arrays, and error pointers and messages that never echo the value.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadApi } from '../../src/openapi/load.js';
import type { ApiModel, RequestParts, ValidationResult } from '../../src/openapi/types.js';
import { tempDir } from '../helpers/tmp.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const fixtures = join(root, 'test', 'fixtures', 'openapi');
const dir = tempDir('rampart-openapi-validate-');
after(() => dir.remove());

const load = (file: string, closedObjects: boolean) =>
  loadApi({ name: 'b', file, qualifyScopes: false, closedObjects, reservedPrefix: '/.rampart' });

const closed = await load(join(fixtures, 'multi', 'openapi.yaml'), true);
const open = await load(join(fixtures, 'multi', 'openapi.yaml'), false);
const v31 = await load(join(fixtures, 'v31', 'openapi.yaml'), true);

interface Req {
  query?: string;
  headers?: Record<string, string | string[]>;
  body?: string | Buffer | object;
}

/** Routes and validates like the pipeline does. */
function call(api: ApiModel, method: string, path: string, req: Req = {}): ValidationResult {
  const m = api.match(method, path);
  assert.equal(m.kind, 'found', `${method} ${path}: ${JSON.stringify(m)}`);
  if (m.kind !== 'found') throw new Error('unreachable');
  const body = req.body === undefined ? undefined : Buffer.isBuffer(req.body) ? req.body : Buffer.from(typeof req.body === 'string' ? req.body : JSON.stringify(req.body));
  const parts: RequestParts = { pathParams: m.pathParams, rawQuery: req.query ?? '', headers: req.headers ?? {}, body };
  return m.operation.validate(parts);
}

function ok(r: ValidationResult): { query: Record<string, unknown>; body: unknown } {
  assert.equal(r.ok, true, r.ok ? '' : JSON.stringify(r.error));
  return r as { ok: true; query: Record<string, unknown>; body: unknown };
}

function err(r: ValidationResult, code: string, pointer: string, message?: string | RegExp): void {
  assert.equal(r.ok, false, 'expected a failure');
  if (r.ok) return;
  assert.equal(r.error.code, code, JSON.stringify(r.error));
  assert.equal(r.error.pointer, pointer, JSON.stringify(r.error));
  if (typeof message === 'string') assert.equal(r.error.message, message, JSON.stringify(r.error));
  else if (message) assert.match(r.error.message, message, JSON.stringify(r.error));
}

const json = { 'content-type': 'application/json' };
const order = { symbol: 'ACME', quantity: 5, side: 'buy' };

// ---------------------------------------------------------------------------------------------
// Path parameters

test('path parameters are coerced per schema and checked', () => {
  ok(call(closed, 'GET', '/accounts/12'));
  err(call(closed, 'GET', '/accounts/abc'), 'RAMPART_VALIDATION_FAILED', '/path/accountId', 'must be integer');
  err(call(closed, 'GET', '/accounts/0'), 'RAMPART_VALIDATION_FAILED', '/path/accountId', 'must be >= 1');
  // 3.0 boolean exclusiveMaximum with maximum 1000000
  ok(call(closed, 'GET', '/accounts/999999'));
  err(call(closed, 'GET', '/accounts/1000000'), 'RAMPART_VALIDATION_FAILED', '/path/accountId', 'must be < 1000000');
  // Lenient number forms are not coerced.
  err(call(closed, 'GET', '/accounts/0x10'), 'RAMPART_VALIDATION_FAILED', '/path/accountId', 'must be integer');
  err(call(closed, 'GET', '/accounts/1e3'), 'RAMPART_VALIDATION_FAILED', '/path/accountId', 'must be integer');
  ok(call(closed, 'GET', '/accounts/3/documents/statement.pdf'));
  err(call(closed, 'GET', '/accounts/3/documents/x.pdf'), 'RAMPART_VALIDATION_FAILED', '/path/name', /must not have fewer than 2 characters/);
  ok(call(v31, 'GET', '/payments/pay_abc'));
  err(call(v31, 'GET', '/payments/card_abc'), 'RAMPART_VALIDATION_FAILED', '/path/paymentId', /must match pattern/);
});

// ---------------------------------------------------------------------------------------------
// Query parameters

test('query parameters: coercion, bounds, and the coerced values returned', () => {
  const r = ok(call(closed, 'GET', '/accounts', { query: 'limit=5&cursor=abcdefgh' }));
  assert.deepEqual(r.query, { limit: 5, cursor: 'abcdefgh' });
  err(call(closed, 'GET', '/accounts', { query: 'limit=500' }), 'RAMPART_VALIDATION_FAILED', '/query/limit', 'must be <= 100');
  err(call(closed, 'GET', '/accounts', { query: 'limit=ten' }), 'RAMPART_VALIDATION_FAILED', '/query/limit', 'must be integer');
  err(call(closed, 'GET', '/accounts', { query: 'limit=' }), 'RAMPART_VALIDATION_FAILED', '/query/limit', 'must be integer');
  err(call(closed, 'GET', '/accounts', { query: 'cursor=short' }), 'RAMPART_VALIDATION_FAILED', '/query/cursor', /fewer than 8/);
});

test('a repeated scalar query parameter is refused; repeated values of an exploded array are fine', () => {
  err(call(closed, 'GET', '/accounts', { query: 'limit=5&limit=6' }), 'RAMPART_DUPLICATE_PARAMETER', '/query/limit', 'must not be repeated');
  err(call(closed, 'GET', '/accounts', { query: 'limit=5&limit=5' }), 'RAMPART_DUPLICATE_PARAMETER', '/query/limit');
  const r = ok(call(closed, 'GET', '/accounts', { query: 'status=open&status=closed' }));
  assert.deepEqual(r.query['status'], ['open', 'closed']);
  assert.deepEqual(ok(call(closed, 'GET', '/accounts', { query: 'status=open' })).query['status'], ['open']);
  err(call(closed, 'GET', '/accounts', { query: 'status=open&status=gone' }), 'RAMPART_VALIDATION_FAILED', '/query/status/1', 'must be one of the allowed values');
  // Not exploded: one occurrence, comma-separated.
  assert.deepEqual(ok(call(closed, 'GET', '/accounts', { query: 'ids=1,2,3' })).query['ids'], [1, 2, 3]);
  err(call(closed, 'GET', '/accounts', { query: 'ids=1&ids=2' }), 'RAMPART_DUPLICATE_PARAMETER', '/query/ids');
  err(call(closed, 'GET', '/accounts', { query: 'ids=1,x' }), 'RAMPART_VALIDATION_FAILED', '/query/ids/1', 'must be integer');
  // Undeclared parameters are allowed, once.
  ok(call(closed, 'GET', '/accounts', { query: 'utm=x' }));
  err(call(closed, 'GET', '/accounts', { query: 'utm=x&utm=y' }), 'RAMPART_DUPLICATE_PARAMETER', '/query/utm');
});

test('deepObject query parameters build nested objects, checked at depth', () => {
  const r = ok(call(closed, 'GET', '/accounts', { query: 'filter[minBalance]=10.5&filter[currency]=USD&filter%5Bowner%5D%5Bname%5D=Ann+Lee' }));
  assert.deepEqual(r.query['filter'], { minBalance: 10.5, currency: 'USD', owner: { name: 'Ann Lee' } });
  err(call(closed, 'GET', '/accounts', { query: 'filter[currency]=usd' }), 'RAMPART_VALIDATION_FAILED', '/query/filter/currency', /must match pattern/);
  err(call(closed, 'GET', '/accounts', { query: 'filter[minBalance]=1&filter[minBalance]=2' }), 'RAMPART_DUPLICATE_PARAMETER', '/query/filter/minBalance');
  err(call(closed, 'GET', '/accounts', { query: 'filter[__proto__][x]=1' }), 'RAMPART_VALIDATION_FAILED', '/query/filter', 'forbidden key');
  // closedObjects applies to query objects too.
  err(call(closed, 'GET', '/accounts', { query: 'filter[admin]=1' }), 'RAMPART_VALIDATION_FAILED', '/query/filter', "must not have property 'admin'");
  ok(call(open, 'GET', '/accounts', { query: 'filter[admin]=1' }));
});

test('pipeDelimited and spaceDelimited arrays', () => {
  assert.deepEqual(ok(call(closed, 'GET', '/accounts', { query: 'tags=a|b|c' })).query['tags'], ['a', 'b', 'c']);
  assert.deepEqual(ok(call(closed, 'GET', '/accounts', { query: 'tags=a%7Cb' })).query['tags'], ['a', 'b']);
  assert.deepEqual(ok(call(closed, 'GET', '/accounts', { query: 'words=a%20b+c' })).query['words'], ['a', 'b', 'c']);
  err(call(closed, 'GET', '/accounts', { query: 'tags=a&tags=b' }), 'RAMPART_DUPLICATE_PARAMETER', '/query/tags');
});

test('malformed percent-encoding in the query is a validation failure, not a throw', () => {
  err(call(closed, 'GET', '/accounts', { query: 'limit=%zz' }), 'RAMPART_VALIDATION_FAILED', '/query/limit', 'must use valid percent-encoding');
  err(call(closed, 'GET', '/accounts', { query: '%E2%82=1' }), 'RAMPART_VALIDATION_FAILED', '/query', 'must use valid percent-encoding');
});

test('form-style objects, exploded and not, and header/label/matrix styles', async () => {
  const file = join(dir.path, 'styles.json');
  const obj = { type: 'object', properties: { role: { type: 'string' }, age: { type: 'integer' } } };
  writeFileSync(
    file,
    JSON.stringify({
      openapi: '3.0.3',
      info: { title: 's', version: '1' },
      paths: {
        '/a': {
          get: {
            parameters: [
              { name: 'id', in: 'query', explode: false, schema: obj },
              { name: 'x-list', in: 'header', schema: { type: 'array', items: { type: 'integer' } } },
              { name: 'x-obj', in: 'header', explode: true, schema: obj },
              { name: 'x-need', in: 'header', required: true, schema: { type: 'string' } },
            ],
            responses: { '200': { description: 'ok' } },
          },
        },
        '/b': { get: { parameters: [{ name: 'p', in: 'query', schema: obj }], responses: { '200': { description: 'ok' } } } },
        '/l/{v}': { get: { parameters: [{ name: 'v', in: 'path', required: true, style: 'label', schema: { type: 'integer' } }], responses: { '200': { description: 'ok' } } } },
        '/m/{v}': {
          get: { parameters: [{ name: 'v', in: 'path', required: true, style: 'matrix', explode: true, schema: { type: 'array', items: { type: 'integer' } } }], responses: { '200': { description: 'ok' } } },
        },
      },
    }),
  );
  const api = await load(file, true);
  const need = { 'x-need': 'y' };
  assert.deepEqual(ok(call(api, 'GET', '/a', { query: 'id=role,admin,age,42', headers: need })).query['id'], { role: 'admin', age: 42 });
  err(call(api, 'GET', '/a', { query: 'id=role,admin,age', headers: need }), 'RAMPART_VALIDATION_FAILED', '/query/id', 'must be a list of name,value pairs');
  err(call(api, 'GET', '/a', { query: 'id=role,a,role,b', headers: need }), 'RAMPART_DUPLICATE_PARAMETER', '/query/id/role');
  ok(call(api, 'GET', '/a', { headers: { ...need, 'x-list': '1, 2,3', 'x-obj': 'role=admin,age=7' } }));
  err(call(api, 'GET', '/a', { headers: { ...need, 'x-list': '1,b' } }), 'RAMPART_VALIDATION_FAILED', '/header/x-list/1', 'must be integer');
  err(call(api, 'GET', '/a', { headers: { ...need, 'x-obj': 'role=admin,age=old' } }), 'RAMPART_VALIDATION_FAILED', '/header/x-obj/age', 'must be integer');
  err(call(api, 'GET', '/a'), 'RAMPART_VALIDATION_FAILED', '/header/x-need', 'is required');
  err(call(api, 'GET', '/a', { headers: { 'x-need': ['a', 'b'] } }), 'RAMPART_DUPLICATE_PARAMETER', '/header/x-need');
  // Exploded form object: properties are parameters of their own.
  assert.deepEqual(ok(call(api, 'GET', '/b', { query: 'role=admin&age=3' })).query['p'], { role: 'admin', age: 3 });
  err(call(api, 'GET', '/b', { query: 'role=admin&role=user' }), 'RAMPART_DUPLICATE_PARAMETER', '/query/p/role');
  ok(call(api, 'GET', '/l/.5'));
  err(call(api, 'GET', '/l/5'), 'RAMPART_VALIDATION_FAILED', '/path/v', 'must start with "."');
  ok(call(api, 'GET', '/m/;v=1;v=2'));
  err(call(api, 'GET', '/m/;v=1;v=x'), 'RAMPART_VALIDATION_FAILED', '/path/v/1', 'must be integer');
});

// ---------------------------------------------------------------------------------------------
// Headers and cookies

test('declared headers are checked; Accept, Content-Type and Authorization parameters are ignored', () => {
  ok(call(closed, 'GET', '/accounts', { headers: { 'x-trace': '6f1c2a4e-8b0d-4c57-9a3e-2f6b1d0c9e77' } }));
  err(call(closed, 'GET', '/accounts', { headers: { 'x-trace': 'not-a-uuid' } }), 'RAMPART_VALIDATION_FAILED', '/header/x-trace', 'must match format "uuid"');
  // The document declares a required Accept parameter with an impossible enum: ignored (§4.8.12.1).
  ok(call(closed, 'GET', '/accounts', { headers: { accept: 'application/json' } }));
});

test('cookie parameters: required, and not repeated', () => {
  ok(call(closed, 'GET', '/files/a', { headers: { cookie: 'theme=dark; session=abc123' } }));
  err(call(closed, 'GET', '/files/a'), 'RAMPART_VALIDATION_FAILED', '/cookie/session', 'is required');
  err(call(closed, 'GET', '/files/a', { headers: { cookie: 'session=a; session=b' } }), 'RAMPART_DUPLICATE_PARAMETER', '/cookie/session');
});

// ---------------------------------------------------------------------------------------------
// Content types

test('415: missing, malformed or undeclared content type; charset other than UTF-8 for JSON', () => {
  const body = { owner: 'Ann', currency: 'USD' };
  err(call(closed, 'POST', '/accounts', { body }), 'RAMPART_UNSUPPORTED_MEDIA_TYPE', '/header/content-type', /is required; must be one of: application\/json, application\/vnd.rampart\+json/);
  err(call(closed, 'POST', '/accounts', { body, headers: { 'content-type': 'text/plain' } }), 'RAMPART_UNSUPPORTED_MEDIA_TYPE', '/header/content-type');
  err(call(closed, 'POST', '/accounts', { body, headers: { 'content-type': 'json' } }), 'RAMPART_UNSUPPORTED_MEDIA_TYPE', '/header/content-type', /must be a media type/);
  err(call(closed, 'POST', '/accounts', { body, headers: { 'content-type': 'application/*' } }), 'RAMPART_UNSUPPORTED_MEDIA_TYPE', '/header/content-type');
  err(call(closed, 'POST', '/accounts', { body, headers: { 'content-type': 'application/problem+json' } }), 'RAMPART_UNSUPPORTED_MEDIA_TYPE', '/header/content-type');
  err(call(closed, 'POST', '/accounts', { body, headers: { 'content-type': 'application/json; charset=iso-8859-1' } }), 'RAMPART_UNSUPPORTED_MEDIA_TYPE', '/header/content-type', 'must use charset utf-8');
  ok(call(closed, 'POST', '/accounts', { body, headers: { 'content-type': 'Application/JSON; Charset="UTF-8"' } }));
  ok(call(closed, 'POST', '/accounts', { body, headers: { 'content-type': 'application/vnd.rampart+json' } }));
});

test('media ranges in the document; other media types pass through unparsed', () => {
  // text/plain is declared: passed through, not parsed.
  assert.equal(ok(call(closed, 'PUT', '/accounts/1/notes', { body: 'hello', headers: { 'content-type': 'text/plain' } })).body, undefined);
  // application/* covers application/xml (opaque) and application/json (validated as JSON).
  ok(call(closed, 'PUT', '/accounts/1/notes', { body: '<a/>', headers: { 'content-type': 'application/xml' } }));
  ok(call(closed, 'PUT', '/accounts/1/notes', { body: { text: 'hi' }, headers: json }));
  err(call(closed, 'PUT', '/accounts/1/notes', { body: { text: 5 }, headers: json }), 'RAMPART_VALIDATION_FAILED', '/body/text', 'must be string');
  ok(call(closed, 'PUT', '/accounts/1/notes', { body: { text: 'x' }, headers: { 'content-type': 'application/vnd.x+json' } }));
  err(call(closed, 'PUT', '/accounts/1/notes', { body: { text: 'x', extra: 1 }, headers: { 'content-type': 'application/vnd.x+json' } }), 'RAMPART_VALIDATION_FAILED', '/body', "must not have property 'extra'");
  err(call(closed, 'PUT', '/accounts/1/notes', { body: 'x', headers: { 'content-type': 'image/png' } }), 'RAMPART_UNSUPPORTED_MEDIA_TYPE', '/header/content-type', 'must be one of: text/plain, application/*');
});

// ---------------------------------------------------------------------------------------------
// Body presence and JSON syntax

test('a required body missing, and a body where none is declared', () => {
  err(call(closed, 'POST', '/accounts', { headers: json }), 'RAMPART_VALIDATION_FAILED', '/body', 'is required');
  err(call(closed, 'POST', '/accounts', { headers: json, body: Buffer.alloc(0) }), 'RAMPART_VALIDATION_FAILED', '/body', 'is required');
  err(call(closed, 'GET', '/accounts/1', { headers: json, body: '{}' }), 'RAMPART_VALIDATION_FAILED', '/body', /takes no request body/);
  // An optional body may be absent.
  assert.equal(ok(call(closed, 'PATCH', '/accounts/1')).body, undefined);
});

test('duplicate JSON keys at depth are refused with a pointer to the holding object', () => {
  const body = '{"symbol":"A","quantity":1,"side":"buy","legs":[{"amount":1},{"amount":2,"amount":900}]}';
  err(call(closed, 'POST', '/accounts/1/orders', { headers: json, body }), 'RAMPART_DUPLICATE_JSON_KEY', '/body/legs/1', 'must not repeat a key');
  err(call(closed, 'POST', '/accounts/1/orders', { headers: json, body: '{"quantity":1,"quantity":1}' }), 'RAMPART_DUPLICATE_JSON_KEY', '/body');
});

test('__proto__ in a body is refused as a forbidden key', () => {
  const body = '{"symbol":"A","quantity":1,"side":"buy","legs":[{"amount":1,"__proto__":{"isAdmin":true}}]}';
  err(call(open, 'POST', '/accounts/1/orders', { headers: json, body }), 'RAMPART_VALIDATION_FAILED', '/body/legs/0', 'forbidden key');
});

test('malformed JSON and invalid UTF-8 are refused', () => {
  err(call(closed, 'POST', '/accounts/1/orders', { headers: json, body: '{"symbol":' }), 'RAMPART_MALFORMED_JSON', '/body', 'must be valid JSON');
  err(call(closed, 'POST', '/accounts/1/orders', { headers: json, body: Buffer.from([0x7b, 0x22, 0xff, 0x22, 0x3a, 0x31, 0x7d]) }), 'RAMPART_MALFORMED_JSON', '/body', 'must be UTF-8 text');
  err(call(closed, 'POST', '/accounts/1/orders', { headers: json, body: '\ufeff{}' }), 'RAMPART_MALFORMED_JSON', '/body');
  const deep = '{"symbol":' + '['.repeat(300) + ']'.repeat(300) + '}';
  const r = call(closed, 'POST', '/accounts/1/orders', { headers: json, body: deep });
  assert.ok(!r.ok && r.error.code === 'RAMPART_VALIDATION_FAILED' && r.error.pointer.startsWith('/body/symbol/0/0'), JSON.stringify(r).slice(0, 200));
  assert.match(r.ok ? '' : r.error.message, /must not nest deeper than 128 levels/);
});

// ---------------------------------------------------------------------------------------------
// Schemas

test('3.0 nullable (type, enum, $ref) and boolean exclusiveMinimum', () => {
  ok(call(closed, 'POST', '/accounts', { headers: json, body: { owner: 'A', currency: 'USD', nickname: null, kind: null, referrer: null } }));
  ok(call(closed, 'POST', '/accounts', { headers: json, body: { owner: 'A', currency: 'USD', kind: 'cash', referrer: { id: 3 } } }));
  err(call(closed, 'POST', '/accounts', { headers: json, body: { owner: 'A', currency: 'USD', kind: 'other' } }), 'RAMPART_VALIDATION_FAILED', '/body/kind', 'must be one of the allowed values');
  err(call(closed, 'POST', '/accounts', { headers: json, body: { owner: 'A', currency: 'USD', nickname: 7 } }), 'RAMPART_VALIDATION_FAILED', '/body/nickname', 'must be string or null');
  err(call(closed, 'POST', '/accounts', { headers: json, body: { owner: 'A', currency: 'USD', referrer: 'x' } }), 'RAMPART_VALIDATION_FAILED', '/body/referrer', 'must be object or null');
  ok(call(closed, 'POST', '/accounts/1/orders', { headers: json, body: { ...order, limitPrice: null } }));
  err(call(closed, 'POST', '/accounts/1/orders', { headers: json, body: { ...order, quantity: null } }), 'RAMPART_VALIDATION_FAILED', '/body/quantity', 'must be integer');
  err(call(closed, 'POST', '/accounts/1/orders', { headers: json, body: { ...order, quantity: 0 } }), 'RAMPART_VALIDATION_FAILED', '/body/quantity', 'must be > 0');
});

test('required properties and nested pointers', () => {
  err(call(closed, 'POST', '/accounts/1/orders', { headers: json, body: { symbol: 'A', side: 'buy' } }), 'RAMPART_VALIDATION_FAILED', '/body/quantity', 'is required');
  err(call(closed, 'POST', '/accounts/1/orders', { headers: json, body: { ...order, legs: [{ amount: 1 }, { amount: 1001 }] } }), 'RAMPART_VALIDATION_FAILED', '/body/legs/1/amount', 'must be <= 1000');
  err(call(closed, 'POST', '/accounts/1/orders', { headers: json, body: { ...order, legs: [{}] } }), 'RAMPART_VALIDATION_FAILED', '/body/legs/0/amount', 'is required');
  err(call(closed, 'POST', '/accounts/1/orders', { headers: json, body: { ...order, account: { currency: 'usd', amount: '1' } } }), 'RAMPART_VALIDATION_FAILED', '/body/account/currency', /must match pattern/);
  // A schema from another file, reached through a third file (common.yaml → schemas/account.yaml).
  err(call(closed, 'POST', '/accounts/1/orders', { headers: json, body: { ...order, account: { currency: 'USD', amount: '1', heldBy: {} } } }), 'RAMPART_VALIDATION_FAILED', '/body/account/heldBy/id', 'is required');
});

test('closedObjects (API3): undeclared properties refused; open documents accept them', () => {
  const body = { ...order, isAdmin: true };
  err(call(closed, 'POST', '/accounts/1/orders', { headers: json, body }), 'RAMPART_VALIDATION_FAILED', '/body', "must not have property 'isAdmin'");
  err(call(closed, 'POST', '/accounts/1/orders', { headers: json, body: { ...order, legs: [{ amount: 1, fee: 0 }] } }), 'RAMPART_VALIDATION_FAILED', '/body/legs/0', "must not have property 'fee'");
  ok(call(open, 'POST', '/accounts/1/orders', { headers: json, body }));
});

test('an object that closes itself rejects undeclared properties even without closedObjects', async () => {
  const openV31 = await load(join(fixtures, 'v31', 'openapi.yaml'), false);
  ok(call(openV31, 'GET', '/payments', { query: `page=${encodeURIComponent('{"size":5}')}` }));
  err(call(openV31, 'GET', '/payments', { query: `page=${encodeURIComponent('{"size":5,"x":1}')}` }), 'RAMPART_VALIDATION_FAILED', '/query/page', "must not have property 'x'");
});

test('readOnly properties: not required in requests; refused with closedObjects', () => {
  ok(call(open, 'POST', '/accounts', { headers: json, body: { owner: 'A', currency: 'USD' } }));
  ok(call(open, 'POST', '/accounts', { headers: json, body: { id: 5, owner: 'A', currency: 'USD' } }));
  err(call(closed, 'POST', '/accounts', { headers: json, body: { id: 5, owner: 'A', currency: 'USD' } }), 'RAMPART_VALIDATION_FAILED', '/body/id', 'is read-only and must not be sent');
});

test('discriminator with mapping: dispatch by value, closed children, unknown values refused', () => {
  ok(call(closed, 'POST', '/pets', { headers: json, body: { petType: 'kitty', name: 'Tom', huntingSkill: 'lazy' } }));
  ok(call(closed, 'POST', '/pets', { headers: json, body: { petType: 'doggo', packSize: 3 } }));
  ok(call(closed, 'POST', '/pets', { headers: json, body: { petType: 'Lizard', lovesRocks: true } }));
  err(call(closed, 'POST', '/pets', { headers: json, body: { petType: 'doggo' } }), 'RAMPART_VALIDATION_FAILED', '/body/packSize', 'is required');
  err(call(closed, 'POST', '/pets', { headers: json, body: { petType: 'kitty', huntingSkill: 'fierce' } }), 'RAMPART_VALIDATION_FAILED', '/body/huntingSkill', 'must be one of the allowed values');
  // Mapped names replace the implicit ones.
  err(call(closed, 'POST', '/pets', { headers: json, body: { petType: 'Cat' } }), 'RAMPART_VALIDATION_FAILED', '/body/petType', 'must be one of the allowed values');
  err(call(closed, 'POST', '/pets', { headers: json, body: { name: 'x' } }), 'RAMPART_VALIDATION_FAILED', '/body/petType', 'is required');
  err(call(closed, 'POST', '/pets', { headers: json, body: { petType: 'kitty', packSize: 3 } }), 'RAMPART_VALIDATION_FAILED', '/body', "must not have property 'packSize'");
  // Without closedObjects the same child accepts extra properties (it is open).
  ok(call(open, 'POST', '/pets', { headers: json, body: { petType: 'kitty', packSize: 3 } }));
  err(call(open, 'POST', '/pets', { headers: json, body: [] }), 'RAMPART_VALIDATION_FAILED', '/body', 'must be object');
});

test('recursive schemas (whole-file ref to a file that refers to itself)', () => {
  ok(call(closed, 'POST', '/tree', { headers: json, body: { name: 'a', children: [{ name: 'b', children: [{ name: 'c' }] }] } }));
  err(call(closed, 'POST', '/tree', { headers: json, body: { name: 'a', children: [{ name: 'b', children: [{ name: 3 }] }] } }), 'RAMPART_VALIDATION_FAILED', '/body/children/0/children/0/name', 'must be string');
});

test('3.1: type arrays, const, prefixItems, numeric exclusiveMinimum, $ref with siblings, $defs', () => {
  const h = { ...json, 'idempotency-key': 'k-12345678' };
  const p = { amount: 10, currency: 'USD', kind: 'transfer' };
  ok(call(v31, 'POST', '/payments', { headers: h, body: { ...p, memo: null, route: ['a', 1], tags: ['x'] } }));
  err(call(v31, 'POST', '/payments', { headers: h, body: { ...p, memo: 5 } }), 'RAMPART_VALIDATION_FAILED', '/body/memo', 'must be string or null');
  err(call(v31, 'POST', '/payments', { headers: h, body: { ...p, amount: 0 } }), 'RAMPART_VALIDATION_FAILED', '/body/amount', 'must be > 0');
  err(call(v31, 'POST', '/payments', { headers: h, body: { ...p, kind: 'card' } }), 'RAMPART_VALIDATION_FAILED', '/body/kind', 'must be equal to the allowed value');
  err(call(v31, 'POST', '/payments', { headers: h, body: { ...p, route: ['a', 'b'] } }), 'RAMPART_VALIDATION_FAILED', '/body/route/1', 'must be integer');
  err(call(v31, 'POST', '/payments', { headers: h, body: { ...p, route: ['a', 1, 2] } }), 'RAMPART_VALIDATION_FAILED', '/body/route', 'must not have more than 2 items');
  err(call(v31, 'POST', '/payments', { headers: h, body: { ...p, currency: 'usd' } }), 'RAMPART_VALIDATION_FAILED', '/body/currency', /must match pattern/);
  err(call(v31, 'POST', '/payments', { headers: h, body: { ...p, tags: ['x'.repeat(11)] } }), 'RAMPART_VALIDATION_FAILED', '/body/tags/0', /more than 10 characters/);
  err(call(v31, 'POST', '/payments', { headers: json, body: p }), 'RAMPART_VALIDATION_FAILED', '/header/idempotency-key', 'is required');
});

test('JSON in a content parameter: parsed strictly and validated', () => {
  assert.deepEqual(ok(call(v31, 'GET', '/payments', { query: `page=${encodeURIComponent('{"size":5}')}` })).query['page'], { size: 5 });
  err(call(v31, 'GET', '/payments', { query: `page=${encodeURIComponent('{"size":500}')}` }), 'RAMPART_VALIDATION_FAILED', '/query/page/size', 'must be <= 50');
  err(call(v31, 'GET', '/payments', { query: `page=${encodeURIComponent('{"size":1,"size":2}')}` }), 'RAMPART_DUPLICATE_JSON_KEY', '/query/page');
  err(call(v31, 'GET', '/payments', { query: 'page=%7B' }), 'RAMPART_MALFORMED_JSON', '/query/page');
});

test('form bodies: coercion per schema, the same duplicate rule, closed objects', () => {
  const form = { 'content-type': 'application/x-www-form-urlencoded' };
  assert.deepEqual(ok(call(closed, 'PATCH', '/accounts/1', { headers: form, body: 'nickname=Ann+Lee&dailyLimit=5&alerts=a&alerts=b' })).body, {
    nickname: 'Ann Lee',
    dailyLimit: 5,
    alerts: ['a', 'b'],
  });
  err(call(closed, 'PATCH', '/accounts/1', { headers: form, body: 'dailyLimit=5&dailyLimit=6' }), 'RAMPART_DUPLICATE_PARAMETER', '/body/dailyLimit');
  err(call(closed, 'PATCH', '/accounts/1', { headers: form, body: 'dailyLimit=-1' }), 'RAMPART_VALIDATION_FAILED', '/body/dailyLimit', 'must be >= 0');
  err(call(closed, 'PATCH', '/accounts/1', { headers: form, body: 'isAdmin=true' }), 'RAMPART_VALIDATION_FAILED', '/body/isAdmin', 'is read-only and must not be sent');
  err(call(closed, 'PATCH', '/accounts/1', { headers: form, body: 'role=admin' }), 'RAMPART_VALIDATION_FAILED', '/body', "must not have property 'role'");
  err(call(closed, 'PATCH', '/accounts/1', { headers: form, body: '__proto__[x]=1' }), 'RAMPART_VALIDATION_FAILED', '/body', 'forbidden key');
  assert.deepEqual(ok(call(open, 'PATCH', '/accounts/1', { headers: form, body: 'alerts[]=a&alerts[]=b&meta[k]=v' })).body, { alerts: ['a', 'b'], meta: { k: 'v' } });
});

// ---------------------------------------------------------------------------------------------
// Messages

test('error messages never echo the offending value', () => {
  const secret = 'SECRET-4111111111111111';
  const cases: ValidationResult[] = [
    call(closed, 'GET', '/accounts/' + secret),
    call(closed, 'GET', '/accounts', { query: `limit=${secret}` }),
    call(closed, 'GET', '/accounts', { query: `status=${secret}` }),
    call(closed, 'GET', '/accounts', { query: `filter[currency]=${secret}` }),
    call(closed, 'GET', '/accounts', { headers: { 'x-trace': secret } }),
    call(closed, 'POST', '/accounts/1/orders', { headers: json, body: { ...order, side: secret } }),
    call(closed, 'POST', '/accounts/1/orders', { headers: json, body: { ...order, symbol: secret } }),
    call(closed, 'POST', '/accounts/1/orders', { headers: json, body: { ...order, quantity: secret } }),
    call(closed, 'POST', '/accounts/1/orders', { headers: json, body: `{"symbol":"${secret}",}` }),
    call(closed, 'POST', '/accounts/1/orders', { headers: json, body: `{"symbol":"${secret}","symbol":"${secret}"}` }),
    call(closed, 'POST', '/pets', { headers: json, body: { petType: secret } }),
    call(v31, 'GET', '/payments', { query: `page=${encodeURIComponent(`{"after":1,"size":"${secret}"}`)}` }),
  ];
  for (const r of cases) {
    assert.equal(r.ok, false);
    assert.ok(!JSON.stringify(r).includes(secret), JSON.stringify(r));
    assert.ok(!JSON.stringify(r).includes('4111'), JSON.stringify(r));
  }
});

test('client-supplied property names in messages are bounded and stripped of control characters', () => {
  const name = 'x\u0000\n'.repeat(50);
  const r = call(closed, 'POST', '/accounts/1/orders', { headers: json, body: { ...order, [name]: 1 } });
  assert.equal(r.ok, false);
  if (r.ok) return;
  assert.ok(r.error.message.length < 120, r.error.message);
  // eslint-disable-next-line no-control-regex
  assert.ok(!/[\u0000-\u001f]/.test(r.error.message));
});

test('further failures are bounded', () => {
  const r = call(closed, 'POST', '/pets', { headers: json, body: { petType: 'doggo', packSize: 'x' } });
  assert.equal(r.ok, false);
  if (!r.ok) assert.ok((r.error.errors?.length ?? 0) <= 5);
});
