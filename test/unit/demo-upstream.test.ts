/**
 * The demo brokerage upstream and its OpenAPI document: the document is well formed and strict,
 * and every operation of the real server (on loopback) answers what the document promises.
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { parseDocument } from 'yaml';
import AjvModule from 'ajv';
import type { ValidateFunction } from 'ajv';
import addFormatsModule from 'ajv-formats';
import {
  brokerageOpenApiPath,
  startBrokerageUpstream,
  BROKERAGE_OPERATION_IDS,
  SUBJECT_HEADER,
  type BrokerageUpstream,
} from '../../src/demo/brokerage-server.js';
import { DEMO_ACCOUNT_IDS, DEMO_CUSTOMER_IDS, demoAccountOwners } from '../../src/demo/brokerage-data.js';
import { CLASSIFICATIONS as KNOWN_CLASSIFICATIONS } from '../../src/openapi/classification.js';

const Ajv = AjvModule.default;
const addFormats = addFormatsModule.default;

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
type Obj = { [k: string]: Json };

const EXPECTED_OPERATIONS: Record<string, { method: string; path: string; scope: string | null }> = {
  getCustomer: { method: 'get', path: '/customers/{customerId}', scope: 'customers:read' },
  listAccounts: { method: 'get', path: '/accounts', scope: 'accounts:read' },
  getAccount: { method: 'get', path: '/accounts/{accountId}', scope: 'accounts:read' },
  listPositions: { method: 'get', path: '/accounts/{accountId}/positions', scope: 'accounts:read' },
  listOrders: { method: 'get', path: '/accounts/{accountId}/orders', scope: 'orders:read' },
  placeOrder: { method: 'post', path: '/accounts/{accountId}/orders', scope: 'orders:write' },
  getOrder: { method: 'get', path: '/accounts/{accountId}/orders/{orderId}', scope: 'orders:read' },
  cancelOrder: { method: 'delete', path: '/accounts/{accountId}/orders/{orderId}', scope: 'orders:write' },
  listTransfers: { method: 'get', path: '/accounts/{accountId}/transfers', scope: 'transfers:read' },
  createTransfer: { method: 'post', path: '/accounts/{accountId}/transfers', scope: 'transfers:write' },
  getTransfer: { method: 'get', path: '/accounts/{accountId}/transfers/{transferId}', scope: 'transfers:read' },
  getQuote: { method: 'get', path: '/market/quotes/{symbol}', scope: null },
};
// The vocabulary the gateway knows (src/openapi/classification.ts): the demo uses only those.
const CLASSIFICATIONS = Object.keys(KNOWN_CLASSIFICATIONS);
const HTTP_METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'];

// ---------------------------------------------------------------------------------------------
// The document, and OpenAPI 3.0 schema objects turned into JSON Schema for ajv

const docText = readFileSync(brokerageOpenApiPath(), 'utf8');
const parsed = parseDocument(docText); // duplicate keys are errors with yaml@2's defaults
const doc = parsed.toJS() as Obj;

function obj(v: Json | undefined, where: string): Obj {
  assert.ok(v !== null && typeof v === 'object' && !Array.isArray(v), `${where} is not an object`);
  return v as Obj;
}

function resolvePointer(ref: string): Json {
  assert.ok(ref.startsWith('#/'), `only local $refs are used: ${ref}`);
  let node: Json = doc;
  for (const raw of ref.slice(2).split('/')) {
    const key = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    node = obj(node, ref)[key] as Json;
    assert.ok(node !== undefined, `$ref does not resolve: ${ref}`);
  }
  return node;
}

/** Follows a $ref (Reference Object) if there is one. */
function deref(v: Json | undefined, where: string): Obj {
  const o = obj(v, where);
  return typeof o.$ref === 'string' ? deref(resolvePointer(o.$ref), o.$ref) : o;
}

/**
 * An OpenAPI 3.0 Schema Object as a self-contained JSON Schema (draft-07): $refs inlined,
 * boolean exclusiveMinimum/Maximum made numeric, `nullable` turned into a null type, `example`
 * dropped. `x-rampart-classification` is kept (a registered keyword).
 */
function toJsonSchema(schema: Json, seen: string[] = []): Json {
  if (Array.isArray(schema)) return schema.map((s) => toJsonSchema(s, seen));
  if (schema === null || typeof schema !== 'object') return schema;
  if (typeof schema.$ref === 'string') {
    assert.ok(!seen.includes(schema.$ref), `recursive $ref ${schema.$ref}`);
    return toJsonSchema(resolvePointer(schema.$ref), [...seen, schema.$ref]);
  }
  const out: Obj = {};
  for (const [k, v] of Object.entries(schema)) {
    if (k === 'example') continue;
    if (k === 'properties') {
      out[k] = Object.fromEntries(Object.entries(obj(v, 'properties')).map(([name, s]) => [name, toJsonSchema(s, seen)]));
    } else {
      out[k] = toJsonSchema(v, seen);
    }
  }
  if (out.exclusiveMinimum === true) {
    out.exclusiveMinimum = out.minimum as number;
    delete out.minimum;
  } else if (out.exclusiveMinimum === false) delete out.exclusiveMinimum;
  if (out.exclusiveMaximum === true) {
    out.exclusiveMaximum = out.maximum as number;
    delete out.maximum;
  } else if (out.exclusiveMaximum === false) delete out.exclusiveMaximum;
  if (out.nullable === true && typeof out.type === 'string') out.type = [out.type, 'null'];
  delete out.nullable;
  // Ajv strict mode has no OpenAPI discriminator; the oneOf branches are exclusive on `type` anyway.
  delete out.discriminator;
  return out;
}

// multipleOf 0.01 on binary floats needs a tolerance (0.07 / 0.01 is not an integer in floats);
// a gateway validating this document needs the same option.
const ajv = new Ajv({ strict: true, allErrors: true, multipleOfPrecision: 9 });
addFormats(ajv);
ajv.addKeyword({ keyword: 'x-rampart-classification', schemaType: 'string', metaSchema: { enum: CLASSIFICATIONS } });

const compiled = new Map<string, ValidateFunction>();
function validatorFor(key: string, schema: () => Json): ValidateFunction {
  let v = compiled.get(key);
  if (!v) {
    v = ajv.compile(toJsonSchema(schema()) as object);
    compiled.set(key, v);
  }
  return v;
}

function operation(operationId: string): { path: string; method: string; op: Obj } {
  for (const [path, item] of Object.entries(obj(doc.paths, 'paths'))) {
    for (const [method, op] of Object.entries(obj(item, path))) {
      if (HTTP_METHODS.includes(method) && obj(op, path).operationId === operationId) return { path, method, op: op as Obj };
    }
  }
  assert.fail(`no operation ${operationId}`);
}

function assertValid(v: ValidateFunction, data: unknown, what: string): void {
  assert.ok(v(data), `${what}: ${ajv.errorsText(v.errors)}\n${JSON.stringify(data)}`);
}

function requestBodyValidator(operationId: string): ValidateFunction {
  return validatorFor(`${operationId} request`, () => {
    const body = deref(operation(operationId).op.requestBody, `${operationId}.requestBody`);
    return obj(obj(body.content, 'content')['application/json'], 'application/json').schema as Json;
  });
}

function problemValidator(): ValidateFunction {
  return validatorFor('Problem', () => resolvePointer('#/components/schemas/Problem'));
}

// ---------------------------------------------------------------------------------------------
// Calling the server and checking against the document

interface Res {
  status: number;
  headers: Headers;
  body: any;  
}

let upstream: BrokerageUpstream;
const exercised = new Set<string>();

async function call(method: string, path: string, init: { json?: unknown; body?: string; headers?: Record<string, string> } = {}): Promise<Res> {
  const headers: Record<string, string> = { ...init.headers };
  let body = init.body;
  if (init.json !== undefined) {
    body = JSON.stringify(init.json);
    headers['content-type'] ??= 'application/json';
  }
  const r = await fetch(upstream.url + path, { method, headers, ...(body !== undefined ? { body } : {}) });
  const raw = Buffer.from(await r.arrayBuffer());
  assert.equal(r.headers.get('content-length'), String(raw.length), `${method} ${path}: content-length matches the body`);
  return { status: r.status, headers: r.headers, body: JSON.parse(raw.toString('utf8')) };
}

/** Calls an operation and checks the response against that operation's documented response. */
async function op(operationId: string, method: string, path: string, init: Parameters<typeof call>[2] = {}): Promise<Res> {
  const res = await call(method, path, init);
  const { op: o } = operation(operationId);
  const responses = obj(o.responses, `${operationId}.responses`);
  assert.ok(String(res.status) in responses, `${operationId} documents status ${res.status}`);
  const response = deref(responses[String(res.status)], `${operationId} ${res.status}`);
  const ct = (res.headers.get('content-type') ?? '').split(';')[0]!.trim();
  const media = obj(response.content, `${operationId} ${res.status} content`)[ct];
  assert.ok(media, `${operationId} ${res.status} documents content type ${ct}`);
  const v = validatorFor(`${operationId} ${res.status} ${ct}`, () => obj(media, ct).schema as Json);
  assertValid(v, res.body, `${operationId} ${res.status}`);
  if (res.status >= 400) {
    assert.equal(ct, 'application/problem+json');
    assert.equal(res.body.status, res.status);
  }
  exercised.add(operationId);
  return res;
}

function lastRequest() {
  const r = upstream.requests.at(-1);
  assert.ok(r);
  return r;
}

// ---------------------------------------------------------------------------------------------

describe('demo brokerage OpenAPI document', () => {
  test('parses with the yaml package, without errors or warnings', () => {
    assert.deepEqual(parsed.errors, []);
    assert.deepEqual(parsed.warnings, []);
    assert.equal(doc.openapi, '3.0.3');
    assert.ok(obj(doc.info, 'info').title);
  });

  test('has exactly the expected operations, on the expected paths', () => {
    const found: Record<string, string> = {};
    for (const [path, item] of Object.entries(obj(doc.paths, 'paths'))) {
      for (const [method, o] of Object.entries(obj(item, path))) {
        if (!HTTP_METHODS.includes(method)) continue;
        const id = obj(o, path).operationId;
        assert.equal(typeof id, 'string', `${method} ${path} has an operationId`);
        assert.ok(!((id as string) in found), `operationId ${id} is unique`);
        found[id as string] = `${method} ${path}`;
      }
    }
    assert.deepEqual(
      found,
      Object.fromEntries(Object.entries(EXPECTED_OPERATIONS).map(([id, e]) => [id, `${e.method} ${e.path}`])),
    );
    assert.deepEqual([...BROKERAGE_OPERATION_IDS].sort(), Object.keys(EXPECTED_OPERATIONS).sort(), 'the server implements every operation');
  });

  test('security: brokerAuth client credentials with one scope per operation; quotes are public', () => {
    const schemes = obj(obj(doc.components, 'components').securitySchemes, 'securitySchemes');
    assert.deepEqual(Object.keys(schemes), ['brokerAuth'], 'no scheme that could bypass scopes');
    const broker = obj(schemes.brokerAuth, 'brokerAuth');
    assert.equal(broker.type, 'oauth2');
    const cc = obj(obj(broker.flows, 'flows').clientCredentials, 'clientCredentials');
    assert.equal(cc.tokenUrl, '/.rampart/oauth/token');
    const scopes = Object.keys(obj(cc.scopes, 'scopes')).sort();
    assert.deepEqual(scopes, ['accounts:read', 'customers:read', 'orders:read', 'orders:write', 'transfers:read', 'transfers:write']);
    assert.deepEqual(doc.security, [{ brokerAuth: [] }], 'the default is closed: authenticated');
    for (const [id, e] of Object.entries(EXPECTED_OPERATIONS)) {
      const { op: o } = operation(id);
      if (e.scope === null) assert.deepEqual(o.security, [], `${id} is public`);
      else assert.deepEqual(o.security, [{ brokerAuth: [e.scope] }], `${id} requires ${e.scope}`);
    }
    assert.match(String(obj(doc.info, 'info').description), /Bearer/);
  });

  test('is strict: closed request objects, bounded strings and arrays, limit/cursor parameters', () => {
    const problems: string[] = [];
    const walk = (s: Json, where: string, closed: boolean): void => {
      if (s === null || typeof s !== 'object' || Array.isArray(s)) return;
      if (typeof s.$ref === 'string') return walk(resolvePointer(s.$ref), s.$ref, closed);
      if ('nullable' in s) problems.push(`${where}: nullable is avoided in this document`);
      if (s.type === 'string' && s.maxLength === undefined && s.enum === undefined) problems.push(`${where}: string without maxLength`);
      if (s.type === 'array' && s.maxItems === undefined) problems.push(`${where}: array without maxItems`);
      if (s.type === 'object' && closed && s.additionalProperties !== false) problems.push(`${where}: object not closed`);
      for (const [k, v] of Object.entries(obj(s.properties ?? {}, where))) walk(v, `${where}.${k}`, closed);
      if (s.items) walk(s.items, `${where}[]`, closed);
      for (const comb of ['oneOf', 'anyOf', 'allOf'] as const) {
        for (const [i, sub] of ((s[comb] as Json[] | undefined) ?? []).entries()) walk(sub, `${where}.${comb}[${i}]`, closed);
      }
    };
    // Every schema in the document (responses too), closed except the extensible problem type.
    for (const [name, s] of Object.entries(obj(obj(doc.components, 'components').schemas, 'schemas'))) {
      walk(s, name, name !== 'Problem');
    }
    let bodies = 0;
    for (const id of Object.keys(EXPECTED_OPERATIONS)) {
      const { op: o, path } = operation(id);
      const item = obj(obj(doc.paths, 'paths')[path], path);
      const params = [...((item.parameters as Json[] | undefined) ?? []), ...((o.parameters as Json[] | undefined) ?? [])].map((p) => deref(p, id));
      for (const p of params) {
        const schema = deref(p.schema, `${id} ${p.name}`);
        walk(schema, `${id} parameter ${p.name}`, true);
        if (p.in === 'path') assert.equal(p.required, true);
        if (p.name === 'limit') assert.deepEqual([schema.type, schema.minimum, schema.maximum, p.in], ['integer', 1, 100, 'query']);
        if (p.name === 'cursor') assert.deepEqual([schema.type, p.in], ['string', 'query']);
      }
      if (id.startsWith('list') && id !== 'listPositions') {
        assert.deepEqual(params.filter((p) => p.name === 'limit' || p.name === 'cursor').map((p) => p.name).sort(), ['cursor', 'limit'], `${id} pages`);
      }
      if (o.requestBody) {
        bodies++;
        const content = obj(deref(o.requestBody, id).content, `${id} content`);
        assert.deepEqual(Object.keys(content), ['application/json']);
        walk(obj(content['application/json'], id).schema as Json, `${id} body`, true);
      }
    }
    assert.equal(bodies, 2);
    assert.deepEqual(problems, []);
  });

  test('marks personal data with x-rampart-classification', () => {
    const classified: Record<string, string> = {};
    const walk = (s: Json, where: string): void => {
      if (s === null || typeof s !== 'object' || Array.isArray(s)) return;
      if (typeof s.$ref === 'string') return walk(resolvePointer(s.$ref), where);
      if (typeof s['x-rampart-classification'] === 'string') classified[where] = s['x-rampart-classification'];
      for (const [k, v] of Object.entries(obj(s.properties ?? {}, where))) walk(v, `${where}.${k}`);
    };
    const schemas = obj(obj(doc.components, 'components').schemas, 'schemas');
    for (const name of ['Customer', 'Account', 'TransferRequest']) walk(schemas[name] as Json, name);
    assert.deepEqual(classified, {
      'Customer.name': 'name',
      'Customer.ssn': 'ssn',
      'Customer.id': 'subject-id',
      'Customer.dateOfBirth': 'date-of-birth',
      'Customer.email': 'email',
      'Customer.phone': 'phone',
      'Customer.address.line1': 'address',
      'Customer.address.line2': 'address',
      'Customer.address.city': 'address',
      'Customer.address.postalCode': 'address',
      'Account.accountNumber': 'account-number',
      'Account.customerId': 'subject-id',
      'TransferRequest.bankAccountNumber': 'account-number',
      'TransferRequest.bankRoutingNumber': 'routing-number',
      'TransferRequest.memo': 'free-text',
    });
  });

  test('every schema compiles under ajv strict mode (after the 3.0 translation)', () => {
    for (const name of Object.keys(obj(obj(doc.components, 'components').schemas, 'schemas'))) {
      validatorFor(`#${name}`, () => resolvePointer(`#/components/schemas/${name}`));
    }
  });

  test('request schemas enforce the order and transfer constraints', () => {
    const order = requestBodyValidator('placeOrder');
    const ok = { symbol: 'ACME', side: 'buy', type: 'limit', quantity: 10, limitPrice: 120.07, timeInForce: 'gtc', clientOrderId: 'c-1' };
    assertValid(order, ok, 'limit order');
    assertValid(order, { symbol: 'ACME', side: 'sell', type: 'market', quantity: 1 }, 'market order');
    const bad: [string, unknown][] = [
      ['lower-case symbol', { ...ok, symbol: 'acme' }],
      ['six-letter symbol', { ...ok, symbol: 'ABCDEF' }],
      ['side', { ...ok, side: 'short' }],
      ['type', { ...ok, type: 'stop' }],
      ['zero quantity', { ...ok, quantity: 0 }],
      ['too large quantity', { ...ok, quantity: 1_000_001 }],
      ['fractional quantity', { ...ok, quantity: 1.5 }],
      ['zero limit price', { ...ok, limitPrice: 0 }],
      ['sub-cent limit price', { ...ok, limitPrice: 1.001 }],
      ['limit order without price', { symbol: 'ACME', side: 'buy', type: 'limit', quantity: 1 }],
      ['market order with price', { symbol: 'ACME', side: 'buy', type: 'market', quantity: 1, limitPrice: 10 }],
      ['timeInForce', { ...ok, timeInForce: 'forever' }],
      ['long clientOrderId', { ...ok, clientOrderId: 'x'.repeat(49) }],
      ['extra property', { ...ok, account: 'acc_bob_1' }],
      ['prototype pollution', JSON.parse('{"symbol":"ACME","side":"buy","type":"market","quantity":1,"__proto__":{"admin":true}}')],
    ];
    for (const [what, body] of bad) assert.equal(order(body), false, `order schema refuses ${what}`);

    const transfer = requestBodyValidator('createTransfer');
    const t = { direction: 'deposit', amount: 1234.56, bankRoutingNumber: '990000011', bankAccountNumber: '12344321', memo: 'Savings' };
    assertValid(transfer, t, 'transfer');
    assertValid(transfer, { ...t, amount: 0.07 + 1, memo: 'm'.repeat(140) }, 'transfer with cents and a full memo');
    const badTransfers: [string, unknown][] = [
      ['direction', { ...t, direction: 'sideways' }],
      ['below minimum', { ...t, amount: 0.99 }],
      ['above maximum', { ...t, amount: 250_000.01 }],
      ['sub-cent amount', { ...t, amount: 10.005 }],
      ['amount as string', { ...t, amount: '10.00' }],
      ['short routing number', { ...t, bankRoutingNumber: '12345678' }],
      ['letters in routing number', { ...t, bankRoutingNumber: '12345678a' }],
      ['long memo', { ...t, memo: 'm'.repeat(141) }],
      ['missing account number', { direction: 'deposit', amount: 10, bankRoutingNumber: '990000011' }],
      ['extra property', { ...t, status: 'completed' }],
    ];
    for (const [what, body] of badTransfers) assert.equal(transfer(body), false, `transfer schema refuses ${what}`);
  });
});

describe('demo brokerage upstream', () => {
  before(async () => {
    upstream = await startBrokerageUpstream({ port: 0 });
  });
  after(async () => {
    await upstream.close();
    await upstream.close(); // idempotent
  });

  test('listens on loopback on the port it reports', () => {
    assert.ok(upstream.port > 0);
    assert.equal(upstream.url, `http://127.0.0.1:${upstream.port}`);
  });

  test('getQuote (public)', async () => {
    const r = await op('getQuote', 'GET', '/market/quotes/ACME');
    assert.equal(r.status, 200);
    assert.equal(r.body.symbol, 'ACME');
    assert.ok(r.body.bid < r.body.ask);
    const missing = await op('getQuote', 'GET', '/market/quotes/ZZZZ');
    assert.equal(missing.status, 404);
    assert.equal(missing.body.code, 'BROKERAGE_UNKNOWN_SYMBOL');
  });

  test('getCustomer returns (fictitious) personal data; unknown ids are 404', async () => {
    const r = await op('getCustomer', 'GET', `/customers/${DEMO_CUSTOMER_IDS.alice}`);
    assert.equal(r.status, 200);
    assert.match(r.body.ssn, /^9\d\d-/, 'SSNs are in the never-issued 9xx range');
    assert.match(r.body.email, /@example\.com$/);
    const bob = await op('getCustomer', 'GET', `/customers/${DEMO_CUSTOMER_IDS.bob}`);
    assert.match(bob.body.ssn, /^9\d\d-/);
    const missing = await op('getCustomer', 'GET', '/customers/cus_nobody');
    assert.equal(missing.status, 404);
    assert.equal(missing.body.code, 'BROKERAGE_NOT_FOUND');
    assert.equal(missing.body.type, 'about:blank');
  });

  test('listAccounts is scoped by X-Rampart-Subject and pages with limit/cursor', async () => {
    const all = await op('listAccounts', 'GET', '/accounts');
    assert.deepEqual(all.body.data.map((a: { id: string }) => a.id), Object.values(DEMO_ACCOUNT_IDS).sort());
    assert.equal(all.body.nextCursor, undefined);

    const bob = await op('listAccounts', 'GET', '/accounts', { headers: { [SUBJECT_HEADER]: DEMO_CUSTOMER_IDS.bob } });
    assert.deepEqual(bob.body.data.map((a: { id: string }) => a.id), [DEMO_ACCOUNT_IDS.bobBrokerage, DEMO_ACCOUNT_IDS.bobMargin]);
    assert.ok(bob.body.data.every((a: { customerId: string }) => a.customerId === DEMO_CUSTOMER_IDS.bob));
    const nobody = await op('listAccounts', 'GET', '/accounts', { headers: { [SUBJECT_HEADER]: 'cus_nobody' } });
    assert.deepEqual(nobody.body.data, []);

    const p1 = await op('listAccounts', 'GET', '/accounts?limit=3');
    assert.equal(p1.body.data.length, 3);
    assert.equal(typeof p1.body.nextCursor, 'string');
    const p2 = await op('listAccounts', 'GET', `/accounts?limit=3&cursor=${p1.body.nextCursor}`);
    assert.equal(p2.body.data.length, 1);
    assert.equal(p2.body.nextCursor, undefined);
    assert.deepEqual([...p1.body.data, ...p2.body.data], all.body.data);

    for (const q of ['limit=0', 'limit=101', 'limit=abc', 'limit=1&limit=2', 'cursor=nope', 'cursor=%3F%3F']) {
      const bad = await op('listAccounts', 'GET', `/accounts?${q}`);
      assert.equal(bad.status, 400, q);
      assert.equal(bad.body.code, 'BROKERAGE_INVALID_REQUEST');
    }
  });

  test('getAccount and listPositions', async () => {
    const a = await op('getAccount', 'GET', `/accounts/${DEMO_ACCOUNT_IDS.aliceBrokerage}`);
    assert.equal(a.body.customerId, DEMO_CUSTOMER_IDS.alice);
    assert.equal((await op('getAccount', 'GET', '/accounts/acc_9999')).status, 404);

    const p = await op('listPositions', 'GET', `/accounts/${DEMO_ACCOUNT_IDS.aliceBrokerage}/positions`);
    assert.equal(p.body.accountId, DEMO_ACCOUNT_IDS.aliceBrokerage);
    assert.deepEqual(p.body.data.map((x: { symbol: string }) => x.symbol), ['ACME', 'HOOLI']);
    for (const x of p.body.data) {
      assert.equal(x.marketValue, Math.round(x.quantity * x.lastPrice * 100) / 100);
      assert.equal(x.unrealizedGain, Math.round((x.marketValue - x.costBasis) * 100) / 100);
    }
    assert.equal((await op('listPositions', 'GET', '/accounts/acc_9999/positions')).status, 404);
  });

  test('the upstream itself does no object-level authorization (that is the gateway\'s job)', async () => {
    const r = await op('getAccount', 'GET', `/accounts/${DEMO_ACCOUNT_IDS.aliceBrokerage}`, { headers: { [SUBJECT_HEADER]: DEMO_CUSTOMER_IDS.bob } });
    assert.equal(r.status, 200);
    assert.equal(demoAccountOwners()[DEMO_ACCOUNT_IDS.aliceBrokerage], DEMO_CUSTOMER_IDS.alice);
  });

  test('listOrders, getOrder, with a status filter', async () => {
    const acc = DEMO_ACCOUNT_IDS.aliceBrokerage;
    const all = await op('listOrders', 'GET', `/accounts/${acc}/orders`);
    assert.ok(all.body.data.length >= 2);
    const times = all.body.data.map((o: { createdAt: string }) => o.createdAt);
    assert.deepEqual(times, [...times].sort().reverse(), 'newest first');
    const filled = await op('listOrders', 'GET', `/accounts/${acc}/orders?status=filled`);
    assert.ok(filled.body.data.length >= 1 && filled.body.data.every((o: { status: string }) => o.status === 'filled'));
    assert.equal((await op('listOrders', 'GET', `/accounts/${acc}/orders?status=lost`)).status, 400);
    assert.equal((await op('listOrders', 'GET', '/accounts/acc_9999/orders')).status, 404);

    const one = await op('getOrder', 'GET', `/accounts/${acc}/orders/${all.body.data[0].id}`);
    assert.deepEqual(one.body, all.body.data[0]);
    assert.equal((await op('getOrder', 'GET', `/accounts/${acc}/orders/ord_missing`)).status, 404);
    // An existing order under someone else's account is not found there.
    assert.equal((await op('getOrder', 'GET', `/accounts/${DEMO_ACCOUNT_IDS.bobBrokerage}/orders/${all.body.data[0].id}`)).status, 404);
  });

  test('placeOrder: a market buy fills at the ask and moves cash and the position', async () => {
    const acc = DEMO_ACCOUNT_IDS.aliceBrokerage;
    const quote = (await op('getQuote', 'GET', '/market/quotes/ACME')).body;
    const before = (await op('getAccount', 'GET', `/accounts/${acc}`)).body.cashBalance;
    const posBefore = (await op('listPositions', 'GET', `/accounts/${acc}/positions`)).body.data.find((x: { symbol: string }) => x.symbol === 'ACME');
    const body = { symbol: 'ACME', side: 'buy', type: 'market', quantity: 10, clientOrderId: 'test-mkt-1' };
    assertValid(requestBodyValidator('placeOrder'), body, 'request');
    const r = await op('placeOrder', 'POST', `/accounts/${acc}/orders`, { json: body });
    assert.equal(r.status, 201);
    assert.equal(r.body.status, 'filled');
    assert.equal(r.body.filledQuantity, 10);
    assert.equal(r.body.averageFillPrice, quote.ask);
    const after = (await op('getAccount', 'GET', `/accounts/${acc}`)).body.cashBalance;
    assert.equal(after, Math.round((before - 10 * quote.ask) * 100) / 100);
    const posAfter = (await op('listPositions', 'GET', `/accounts/${acc}/positions`)).body.data.find((x: { symbol: string }) => x.symbol === 'ACME');
    assert.equal(posAfter.quantity, posBefore.quantity + 10);

    const dup = await op('placeOrder', 'POST', `/accounts/${acc}/orders`, { json: body });
    assert.equal(dup.status, 409);
    assert.equal(dup.body.code, 'BROKERAGE_DUPLICATE_CLIENT_ORDER_ID');
  });

  test('placeOrder: a market sell of a whole position closes it', async () => {
    const acc = DEMO_ACCOUNT_IDS.bobBrokerage;
    const pos = (await op('listPositions', 'GET', `/accounts/${acc}/positions`)).body.data.find((x: { symbol: string }) => x.symbol === 'ACME');
    const r = await op('placeOrder', 'POST', `/accounts/${acc}/orders`, { json: { symbol: 'ACME', side: 'sell', type: 'market', quantity: pos.quantity } });
    assert.equal(r.body.status, 'filled');
    const after = (await op('listPositions', 'GET', `/accounts/${acc}/positions`)).body.data;
    assert.ok(!after.some((x: { symbol: string }) => x.symbol === 'ACME'));
  });

  test('placeOrder: a resting limit order can be cancelled once; non-marketable IOC is cancelled', async () => {
    const acc = DEMO_ACCOUNT_IDS.aliceBrokerage;
    const body = { symbol: 'HOOLI', side: 'buy', type: 'limit', quantity: 5, limitPrice: 150.25, timeInForce: 'gtc' };
    assertValid(requestBodyValidator('placeOrder'), body, 'request');
    const placed = await op('placeOrder', 'POST', `/accounts/${acc}/orders`, { json: body });
    assert.equal(placed.status, 201);
    assert.equal(placed.body.status, 'accepted');
    assert.equal(placed.body.limitPrice, 150.25);
    const got = await op('getOrder', 'GET', `/accounts/${acc}/orders/${placed.body.id}`);
    assert.equal(got.body.status, 'accepted');
    const open = await op('listOrders', 'GET', `/accounts/${acc}/orders?status=accepted`);
    assert.ok(open.body.data.some((o: { id: string }) => o.id === placed.body.id));

    const cancelled = await op('cancelOrder', 'DELETE', `/accounts/${acc}/orders/${placed.body.id}`);
    assert.equal(cancelled.status, 200);
    assert.equal(cancelled.body.status, 'canceled');
    assert.ok(cancelled.body.canceledAt);
    const again = await op('cancelOrder', 'DELETE', `/accounts/${acc}/orders/${placed.body.id}`);
    assert.equal(again.status, 409);
    assert.equal(again.body.code, 'BROKERAGE_ORDER_NOT_CANCELABLE');
    assert.equal((await op('cancelOrder', 'DELETE', `/accounts/${acc}/orders/ord_missing`)).status, 404);

    const ioc = await op('placeOrder', 'POST', `/accounts/${acc}/orders`, { json: { ...body, timeInForce: 'ioc' } });
    assert.equal(ioc.body.status, 'canceled');
  });

  test('placeOrder refuses what it cannot do, with problem+json', async () => {
    const acc = DEMO_ACCOUNT_IDS.aliceBrokerage;
    const order = requestBodyValidator('placeOrder');
    const cases: [number, string, unknown, string?][] = [
      [422, 'BROKERAGE_INSUFFICIENT_FUNDS', { symbol: 'WAYNE', side: 'buy', type: 'market', quantity: 1_000_000 }],
      [422, 'BROKERAGE_INSUFFICIENT_POSITION', { symbol: 'TYRL', side: 'sell', type: 'market', quantity: 1 }],
      [422, 'BROKERAGE_UNKNOWN_SYMBOL', { symbol: 'ZZZZ', side: 'buy', type: 'market', quantity: 1 }],
      [422, 'BROKERAGE_ACCOUNT_NOT_OPEN', { symbol: 'ACME', side: 'buy', type: 'market', quantity: 1 }, DEMO_ACCOUNT_IDS.bobMargin],
    ];
    for (const [status, code, body, account] of cases) {
      assertValid(order, body, `${code} request is valid by contract`);
      const r = await op('placeOrder', 'POST', `/accounts/${account ?? acc}/orders`, { json: body });
      assert.deepEqual([r.status, r.body.code], [status, code]);
    }
    const invalidBodies: unknown[] = [
      { symbol: 'ACME', side: 'buy', type: 'market', quantity: 1, accountId: DEMO_ACCOUNT_IDS.bobBrokerage },
      { symbol: 'acme', side: 'buy', type: 'market', quantity: 1 },
      { symbol: 'ACME', side: 'buy', type: 'limit', quantity: 1 },
      { symbol: 'ACME', side: 'buy', type: 'market', quantity: 1, limitPrice: 1 },
      { symbol: 'ACME', side: 'buy', type: 'limit', quantity: 1, limitPrice: 1.001 },
      { symbol: 'ACME', side: 'buy', type: 'market', quantity: 0 },
      [],
    ];
    for (const body of invalidBodies) {
      assert.equal(order(body), false, `contract refuses ${JSON.stringify(body)}`);
      const r = await op('placeOrder', 'POST', `/accounts/${acc}/orders`, { json: body });
      assert.deepEqual([r.status, r.body.code], [400, 'BROKERAGE_INVALID_REQUEST'], JSON.stringify(body));
    }
    const malformed = await op('placeOrder', 'POST', `/accounts/${acc}/orders`, { body: '{"symbol":', headers: { 'content-type': 'application/json' } });
    assert.equal(malformed.status, 400);
    const wrongType = await op('placeOrder', 'POST', `/accounts/${acc}/orders`, { body: 'symbol=ACME', headers: { 'content-type': 'application/x-www-form-urlencoded' } });
    assert.equal(wrongType.status, 415);
    const noAccount = await op('placeOrder', 'POST', '/accounts/acc_9999/orders', { json: { symbol: 'ACME', side: 'buy', type: 'market', quantity: 1 } });
    assert.equal(noAccount.status, 404);
  });

  test('transfers: list, create (idempotent), get', async () => {
    const acc = DEMO_ACCOUNT_IDS.aliceBrokerage;
    const list = await op('listTransfers', 'GET', `/accounts/${acc}/transfers`);
    assert.ok(list.body.data.length >= 2);
    const p1 = await op('listTransfers', 'GET', `/accounts/${acc}/transfers?limit=1`);
    assert.equal(p1.body.data.length, 1);
    assert.ok(p1.body.nextCursor);

    const cash = (await op('getAccount', 'GET', `/accounts/${acc}`)).body.cashBalance;
    const body = { direction: 'withdrawal', amount: 100.25, bankRoutingNumber: '990000011', bankAccountNumber: '000012344321', memo: 'Rent' };
    assertValid(requestBodyValidator('createTransfer'), body, 'request');
    const headers = { 'idempotency-key': 'test-withdrawal-1' };
    const created = await op('createTransfer', 'POST', `/accounts/${acc}/transfers`, { json: body, headers });
    assert.equal(created.status, 201);
    assert.equal(created.body.status, 'pending');
    assert.equal(created.body.bankAccountLast4, '4321');
    assert.ok(!JSON.stringify(created.body).includes('000012344321'), 'the full bank account number is not echoed');
    assert.equal((await op('getAccount', 'GET', `/accounts/${acc}`)).body.cashBalance, Math.round((cash - 100.25) * 100) / 100);

    const replay = await op('createTransfer', 'POST', `/accounts/${acc}/transfers`, { json: body, headers });
    assert.equal(replay.status, 201);
    assert.deepEqual(replay.body, created.body);
    assert.equal(replay.headers.get('idempotent-replayed'), 'true');
    assert.equal((await op('getAccount', 'GET', `/accounts/${acc}`)).body.cashBalance, Math.round((cash - 100.25) * 100) / 100, 'held once');
    const reused = await op('createTransfer', 'POST', `/accounts/${acc}/transfers`, { json: { ...body, amount: 5 }, headers });
    assert.deepEqual([reused.status, reused.body.code], [422, 'BROKERAGE_IDEMPOTENCY_KEY_REUSED']);

    const got = await op('getTransfer', 'GET', `/accounts/${acc}/transfers/${created.body.id}`);
    assert.deepEqual(got.body, created.body);
    assert.equal((await op('getTransfer', 'GET', `/accounts/${acc}/transfers/trf_missing`)).status, 404);
    assert.equal((await op('getTransfer', 'GET', `/accounts/${DEMO_ACCOUNT_IDS.bobBrokerage}/transfers/${created.body.id}`)).status, 404);

    const deposit = await op('createTransfer', 'POST', `/accounts/${acc}/transfers`, { json: { direction: 'deposit', amount: 0.07 + 1, bankRoutingNumber: '990000011', bankAccountNumber: '4321' } });
    assert.equal(deposit.status, 201);
    assert.equal(deposit.body.memo, undefined);

    const tooMuch = await op('createTransfer', 'POST', `/accounts/${acc}/transfers`, { json: { ...body, amount: 250_000 } });
    assert.deepEqual([tooMuch.status, tooMuch.body.code], [422, 'BROKERAGE_INSUFFICIENT_FUNDS']);
    const restricted = await op('createTransfer', 'POST', `/accounts/${DEMO_ACCOUNT_IDS.bobMargin}/transfers`, { json: { ...body, amount: 10 } });
    assert.deepEqual([restricted.status, restricted.body.code], [422, 'BROKERAGE_ACCOUNT_NOT_OPEN']);
    for (const bad of [{ ...body, amount: 10.005 }, { ...body, memo: 'm'.repeat(141) }, { ...body, bankRoutingNumber: '12345' }, { ...body, extra: 1 }]) {
      assert.equal(requestBodyValidator('createTransfer')(bad), false);
      assert.equal((await op('createTransfer', 'POST', `/accounts/${acc}/transfers`, { json: bad })).status, 400);
    }
    const badKey = await op('createTransfer', 'POST', `/accounts/${acc}/transfers`, { json: body, headers: { 'idempotency-key': 'has space' } });
    assert.equal(badKey.status, 400);
    assert.equal((await op('createTransfer', 'POST', '/accounts/acc_9999/transfers', { json: body })).status, 404);
  });

  test('every operation of the document was exercised against the server', () => {
    assert.deepEqual([...exercised].sort(), Object.keys(EXPECTED_OPERATIONS).sort());
  });

  test('unknown routes, wrong methods, oversized bodies and bad encodings get problem+json', async () => {
    const problem = problemValidator();
    const unknown = await call('GET', '/admin');
    assert.equal(unknown.status, 404);
    assertValid(problem, unknown.body, '404');
    const trailing = await call('GET', '/accounts/');
    assert.equal(trailing.status, 404);
    const wrong = await call('PUT', `/accounts/${DEMO_ACCOUNT_IDS.aliceBrokerage}/orders`, { json: {} });
    assert.equal(wrong.status, 405);
    assert.equal(wrong.headers.get('allow'), 'GET, POST');
    assertValid(problem, wrong.body, '405');
    const big = await call('POST', `/accounts/${DEMO_ACCOUNT_IDS.aliceBrokerage}/orders`, { body: 'x'.repeat(70_000), headers: { 'content-type': 'application/json' } });
    assert.equal(big.status, 413);
    assertValid(problem, big.body, '413');
    assert.equal(lastRequest().bodyLength, 70_000);
    const enc = await call('GET', '/accounts/%E0%A4%A');
    assert.equal(enc.status, 400);
    assertValid(problem, enc.body, '400');
  });

  test('logs every request it receives, with headers and body length', async () => {
    const n = upstream.requests.length;
    const body = JSON.stringify({ symbol: 'ACME', side: 'buy', type: 'limit', quantity: 1, limitPrice: 1 });
    await call('POST', `/accounts/${DEMO_ACCOUNT_IDS.aliceBrokerage}/orders?trace=1`, {
      body,
      headers: { 'content-type': 'application/json', authorization: 'Bearer should-have-been-stripped', [SUBJECT_HEADER]: DEMO_CUSTOMER_IDS.alice },
    });
    assert.equal(upstream.requests.length, n + 1);
    const r = lastRequest();
    assert.equal(r.method, 'POST');
    assert.equal(r.url, `/accounts/${DEMO_ACCOUNT_IDS.aliceBrokerage}/orders?trace=1`);
    assert.equal(r.path, `/accounts/${DEMO_ACCOUNT_IDS.aliceBrokerage}/orders`);
    assert.equal(r.operationId, 'placeOrder');
    assert.equal(r.bodyLength, Buffer.byteLength(body));
    assert.equal(r.status, 201);
    // Recorded exactly as received, so gateway tests can assert that such a header never arrives.
    assert.equal(r.headers.authorization, 'Bearer should-have-been-stripped');
    assert.equal(r.headers[SUBJECT_HEADER], DEMO_CUSTOMER_IDS.alice);
    assert.ok(r.rawHeaders.includes('authorization'));
    assert.ok(r.receivedAt > 0 && r.receivedAt <= Date.now());
  });
});

test('each upstream instance starts from its own fresh copy of the seed', async () => {
  const a = await startBrokerageUpstream();
  const b = await startBrokerageUpstream({ host: '127.0.0.1', port: 0 });
  try {
    assert.notEqual(a.port, b.port);
    const order = { symbol: 'ACME', side: 'buy', type: 'market', quantity: 1 };
    const r = await fetch(`${a.url}/accounts/${DEMO_ACCOUNT_IDS.aliceBrokerage}/orders`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(order) });
    assert.equal(r.status, 201);
    const cashA = ((await (await fetch(`${a.url}/accounts/${DEMO_ACCOUNT_IDS.aliceBrokerage}`)).json()) as { cashBalance: number }).cashBalance;
    const cashB = ((await (await fetch(`${b.url}/accounts/${DEMO_ACCOUNT_IDS.aliceBrokerage}`)).json()) as { cashBalance: number }).cashBalance;
    assert.notEqual(cashA, cashB);
    assert.equal(a.requests.length, 2);
    assert.equal(b.requests.length, 1);
  } finally {
    await a.close();
    await b.close();
  }
});
