/**
 * Classification maps from `x-rampart-classification`: $ref'd nesting, arrays, compositions,
 * additionalProperties and tuples, recursion and the depth bound, the secret-name heuristics, and
 * the maps the loader attaches to operations (lazily), with warnings for unknown classes.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  CLASSIFICATIONS, buildClassificationMap, classesAt, isSecretName, isKnownClassification, step, type ClassificationMap,
} from '../../src/openapi/classification.js';
import { loadApi } from '../../src/openapi/load.js';
import { responseClassifications } from '../../src/openapi/types.js';
import { tempDir } from '../helpers/tmp.js';

const dir = tempDir('rampart-classification-');
after(() => dir.remove());

const C = 'x-rampart-classification';
const pointers = (m: ClassificationMap): Record<string, string> =>
  Object.fromEntries(m.entries.map((e) => [e.pointer, e.classes.join(',')]));

test('the vocabulary has the fifteen classes, each with a meaning', () => {
  assert.deepEqual(Object.keys(CLASSIFICATIONS), [
    'secret', 'ssn', 'tax-id', 'account-number', 'card-number', 'routing-number', 'date-of-birth', 'email', 'phone',
    'name', 'address', 'ip-address', 'subject-id', 'financial', 'free-text',
  ]);
  for (const meaning of Object.values(CLASSIFICATIONS)) assert.ok(meaning.length > 10);
  assert.ok(isKnownClassification('ssn'));
  assert.ok(!isKnownClassification('dob'));
});

test('$ref-ed nested objects and arrays give pointer patterns with * for items', () => {
  const doc = {
    components: {
      schemas: {
        Order: {
          type: 'object',
          properties: {
            customer: { $ref: '#/components/schemas/Customer' },
            items: { type: 'array', items: { $ref: '#/components/schemas/Line' } },
            note: { type: 'string' },
          },
        },
        Customer: {
          type: 'object',
          properties: {
            id: { type: 'string', [C]: 'subject-id' },
            ssn: { type: 'string', [C]: 'ssn' },
            addresses: { type: 'array', items: { $ref: '#/components/schemas/Address' } },
          },
        },
        Address: { type: 'object', [C]: 'address', properties: { city: { type: 'string' } } },
        Line: { type: 'object', properties: { email: { type: 'string', [C]: 'email' }, qty: { type: 'integer' } } },
      },
    },
  };
  const map = buildClassificationMap(doc, '/components/schemas/Order');
  assert.deepEqual(pointers(map), {
    '/customer/id': 'subject-id',
    '/customer/ssn': 'ssn',
    '/customer/addresses/*': 'address',
    '/items/*/email': 'email',
  });
  assert.deepEqual(map.classes, ['ssn', 'email', 'address', 'subject-id']);
  assert.equal(map.complete, true);
  // A class on an object or array covers everything below it.
  assert.deepEqual(classesAt(map, ['customer', 'addresses', 3, 'city']), ['address']);
  assert.deepEqual(classesAt(map, ['items', 7, 'email']), ['email']);
  assert.deepEqual(classesAt(map, ['items', 7, 'qty']), []);
  assert.deepEqual(classesAt(map, ['note']), []);
});

test('allOf is the union of its members; oneOf/anyOf too; nullable and the normalised null form are transparent', () => {
  const doc = {
    Base: { type: 'object', properties: { id: { [C]: 'subject-id' }, email: { type: 'string' } } },
    Person: {
      allOf: [
        { $ref: '#/Base' },
        { type: 'object', properties: { email: { [C]: 'email' }, dob: { type: 'string', nullable: true, [C]: 'date-of-birth' } } },
      ],
    },
    Payment: {
      oneOf: [
        { type: 'object', properties: { card: { [C]: 'card-number' } } },
        { type: 'object', properties: { account: { [C]: 'account-number' }, routing: { [C]: 'routing-number' } } },
      ],
    },
    Wrapper: {
      type: 'object',
      properties: {
        // 3.0 `nullable` next to a $ref, as the normaliser rewrites it: anyOf [.., {type: null}].
        person: { anyOf: [{ $ref: '#/Person' }, { type: 'null' }] },
        payment: { $ref: '#/Payment', nullable: true },
      },
    },
  };
  const map = buildClassificationMap(doc, '/Wrapper');
  assert.deepEqual(pointers(map), {
    '/person/id': 'subject-id',
    '/person/email': 'email',
    '/person/dob': 'date-of-birth',
    '/payment/card': 'card-number',
    '/payment/account': 'account-number',
    '/payment/routing': 'routing-number',
  });
  // A branch's additionalProperties applies to a key another branch names without classifying.
  const mixed = buildClassificationMap({
    allOf: [{ properties: { a: { type: 'string' } } }, { additionalProperties: { [C]: 'free-text' } }],
  });
  assert.deepEqual(classesAt(mixed, ['a']), ['free-text']);
  assert.deepEqual(classesAt(mixed, ['zzz']), ['free-text']);
  // Within one schema, properties decide for their own keys.
  const own = buildClassificationMap({ properties: { a: { type: 'string' } }, additionalProperties: { [C]: 'free-text' } });
  assert.deepEqual(classesAt(own, ['a']), []);
  assert.deepEqual(pointers(own), { '/*': 'free-text' });
});

test('the same location classified twice carries both classes, secret first', () => {
  const map = buildClassificationMap({
    allOf: [{ properties: { x: { [C]: 'name' } } }, { properties: { x: { [C]: 'secret' } } }, { properties: { x: { [C]: 'passport' } } }],
  });
  assert.deepEqual(map.entries, [{ pointer: '/x', classes: ['secret', 'name', 'passport'] }]);
  assert.equal(step(map.root, 'x')?.secret, true);
});

test('additionalProperties (schema form), prefixItems and 3.0 tuple items', () => {
  const map = buildClassificationMap({
    type: 'object',
    properties: {
      contacts: { type: 'object', additionalProperties: { type: 'object', properties: { phone: { [C]: 'phone' } } } },
      pair: { type: 'array', prefixItems: [{ [C]: 'name' }, { type: 'integer' }], items: { [C]: 'free-text' } },
      legacy: { type: 'array', items: [{ type: 'string' }, { [C]: 'email' }] },
    },
  });
  assert.deepEqual(pointers(map), {
    '/contacts/*/phone': 'phone',
    '/pair/0': 'name',
    '/pair/*': 'free-text',
    '/legacy/1': 'email',
  });
  assert.deepEqual(classesAt(map, ['pair', 0]), ['name']);
  assert.deepEqual(classesAt(map, ['pair', 1]), []);
  assert.deepEqual(classesAt(map, ['pair', 5]), ['free-text']);
  assert.deepEqual(classesAt(map, ['contacts', 'home', 'phone']), ['phone']);
});

test('recursive schemas: building ends, and data at any depth is classified', () => {
  const doc = {
    Node: {
      type: 'object',
      properties: {
        owner: { [C]: 'name' },
        children: { type: 'array', items: { $ref: '#/Node' } },
        parent: { $ref: '#/Node' },
      },
    },
    Loop: { $ref: '#/Loop2' },
    Loop2: { allOf: [{ $ref: '#/Loop' }, { properties: { s: { [C]: 'ssn' } } }] },
  };
  const map = buildClassificationMap(doc, '/Node');
  assert.equal(map.complete, true);
  assert.deepEqual(pointers(map), { '/owner': 'name' });
  assert.deepEqual(classesAt(map, ['children', 3, 'owner']), ['name']);
  assert.deepEqual(classesAt(map, ['parent', 'children', 0, 'parent', 'owner']), ['name']);
  const deep: (string | number)[] = [];
  for (let i = 0; i < 200; i++) deep.push('children', 0);
  assert.deepEqual(classesAt(map, [...deep, 'parent', 'owner']), ['name']);
  // A cycle of pure references and compositions terminates too.
  assert.deepEqual(pointers(buildClassificationMap(doc, '/Loop')), { '/s': 'ssn' });
});

test('nesting of distinct schemas deeper than 32 levels is cut and reported', () => {
  let schema: Record<string, unknown> = { type: 'string', [C]: 'ssn' };
  for (let i = 0; i < 40; i++) schema = { type: 'object', properties: { [`l${i}`]: schema } };
  const map = buildClassificationMap(schema);
  assert.equal(map.complete, false);
  assert.equal(map.root, undefined);
  let ok: Record<string, unknown> = { type: 'string', [C]: 'ssn' };
  for (let i = 0; i < 20; i++) ok = { type: 'object', properties: { [`l${i}`]: ok } };
  assert.equal(buildClassificationMap(ok).complete, true);
  assert.equal(buildClassificationMap(ok).entries.length, 1);
});

test('a schema without classifications has no automaton; odd schemas do not throw', () => {
  assert.equal(buildClassificationMap({ type: 'object', properties: { a: { type: 'string' } } }).root, undefined);
  for (const odd of [true, false, null, 42, 'x', [], { $ref: '#/nowhere' }, { $ref: 'http://x/y' }, { allOf: 'no' }, { properties: [] }]) {
    const m = buildClassificationMap(odd);
    assert.equal(m.root, undefined);
  }
  // Non-string classification values become the class 'unknown' (personal).
  assert.deepEqual(pointers(buildClassificationMap({ properties: { a: { [C]: 42 }, b: { [C]: ' SSN ' } } })), { '/a': 'unknown', '/b': 'ssn' });
});

test('isSecretName: the listed terms, case and _/- insensitive, compounds, plurals; no false alarms on ordinary names', () => {
  for (const n of [
    'password', 'Password', 'PASSWD', 'passphrase', 'secret', 'client_secret', 'clientSecret', 'token', 'access_token', 'refresh-token',
    'id_token', 'apiKey', 'X-API-Key', 'api_key', 'authorization', 'Authorization', 'private_key', 'privateKey', 'pin', 'PIN', 'cvv',
    'cvc', 'otp', 'totp', 'mfa_code', 'mfaCode', 'recovery_code', 'recoveryCodes', 'session_id', 'sessionId', 'cookie', 'Cookies',
    'newPassword', 'current_password', 'passwordConfirmation', 'password2', 'card_cvv', 'webhookSecret', 'apiKeys', 'tokens', 'cardPin',
  ]) {
    assert.equal(isSecretName(n), true, n);
  }
  for (const n of [
    'name', 'email', 'ssn', 'accountNumber', 'shipping', 'opinion', 'pinned', 'tokenType', 'keyId', 'id', 'status', 'address',
    'preAuthorization', 'authorizationStatus', 'sessionTimeout', 'passengers', 'spinach', 'otpSentAt', 'description', '',
  ]) {
    assert.equal(isSecretName(n), false, n);
  }
});

// ---------------------------------------------------------------------------------------------
// Through the loader

const spec = `openapi: 3.0.3
info: { title: t, version: '1' }
paths:
  /customers/{id}:
    parameters:
      - { name: id, in: path, required: true, schema: { type: string } }
    get:
      operationId: getCustomer
      responses:
        '200':
          description: ok
          content:
            application/json:
              schema: { $ref: '#/components/schemas/Customer' }
        4XX:
          $ref: '#/components/responses/Problem'
        default:
          description: other
          content:
            application/problem+json:
              schema: { $ref: '#/components/schemas/Problem' }
    put:
      operationId: putCustomer
      requestBody:
        content:
          application/json:
            schema: { $ref: '#/components/schemas/Customer' }
          application/x-www-form-urlencoded:
            schema:
              type: object
              properties:
                pin: { type: string }
                nickname: { type: string, x-rampart-classification: name }
          text/plain:
            schema: { type: string, x-rampart-classification: free-text }
      responses:
        '204': { description: done }
  /customers:
    post:
      operationId: createCustomer
      requestBody:
        content:
          application/json:
            schema: { $ref: '#/components/schemas/Customer' }
      responses:
        '201':
          description: created
          content:
            application/json:
              schema: { $ref: '#/components/schemas/Customer' }
  /ping:
    get:
      operationId: ping
      responses:
        '200': { description: ok, content: { text/plain: { schema: { type: string } } } }
components:
  responses:
    Problem:
      description: client error
      content:
        application/json:
          schema: { $ref: '#/components/schemas/Problem' }
  schemas:
    Problem:
      type: object
      properties:
        detail: { type: string, x-rampart-classification: free-text }
    Customer:
      type: object
      nullable: true
      properties:
        id: { type: string, readOnly: true, x-rampart-classification: subject-id }
        ssn: { type: string, x-rampart-classification: ssn }
        dob: { type: string, format: date, x-rampart-classification: dob }
        emails:
          type: array
          items: { type: string, x-rampart-classification: email }
        address: { $ref: '#/components/schemas/Address' }
    Address:
      type: object
      x-rampart-classification: address
      properties:
        line1: { type: string }
        city: { type: string }
`;

test('through loadApi: request and response maps per operation, computed lazily; unknown classes warn', async () => {
  const file = join(dir.path, 'openapi.yaml');
  writeFileSync(file, spec);
  const api = await loadApi({ name: 'crm', file, qualifyScopes: false, closedObjects: true, reservedPrefix: '/.rampart' });
  const warning = api.warnings.find((w) => w.includes("'dob'"));
  assert.ok(warning, `expected a warning about 'dob' in ${JSON.stringify(api.warnings)}`);
  assert.match(warning, /\/components\/schemas\/Customer\/properties\/dob\/x-rampart-classification/);
  assert.match(warning, /treated as personal/);

  const get = api.operations.find((o) => o.id === 'getCustomer')!;
  const c = get.classifications;
  assert.equal(get.classifications, c, 'computed once');
  assert.equal(c.request, undefined);
  assert.deepEqual([...c.responses.keys()], ['200', '4XX', 'default']);
  assert.deepEqual(pointers(c.responses.get('200')!), {
    '/id': 'subject-id',
    '/ssn': 'ssn',
    '/dob': 'dob',
    '/emails/*': 'email',
    '/address': 'address',
  });
  assert.equal(responseClassifications(get, 200), c.responses.get('200'));
  assert.equal(responseClassifications(get, 404), c.responses.get('4XX'));
  assert.equal(responseClassifications(get, 503), c.responses.get('default'));
  assert.deepEqual(pointers(responseClassifications(get, 404)!), { '/detail': 'free-text' });
  // Not enumerable: spreading or serialising an operation does not compute it.
  assert.ok(!Object.keys(get).includes('classifications'));

  const put = api.operations.find((o) => o.id === 'putCustomer')!;
  // JSON and form schemas united; text/plain is not a structured body.
  assert.deepEqual(pointers(put.classifications.request!), {
    '/id': 'subject-id',
    '/ssn': 'ssn',
    '/dob': 'dob',
    '/emails/*': 'email',
    '/address': 'address',
    '/nickname': 'name',
  });
  assert.equal(put.classifications.responses.size, 0);
  assert.equal(responseClassifications(put, 204), undefined);

  // closedObjects rewrites readOnly properties of request schemas in place; the maps read the
  // schemas as written, so the readOnly subject id is still classified in responses.
  const create = api.operations.find((o) => o.id === 'createCustomer')!;
  assert.equal(create.validate({ pathParams: {}, rawQuery: '', headers: { 'content-type': 'application/json' }, body: Buffer.from('{"id":"x"}') }).ok, false);
  assert.deepEqual(classesAt(responseClassifications(create, 201), ['id']), ['subject-id']);
  assert.deepEqual(classesAt(responseClassifications(get, 200), ['id']), ['subject-id']);

  const ping = api.operations.find((o) => o.id === 'ping')!;
  assert.equal(ping.classifications.request, undefined);
  assert.equal(ping.classifications.responses.size, 0);
});

test('the demo brokerage document classifies its personal data with known classes', async () => {
  const file = fileURLToPath(new URL('../../../demo/brokerage.openapi.yaml', import.meta.url));
  const api = await loadApi({ name: 'brokerage', file, qualifyScopes: false, closedObjects: true, reservedPrefix: '/.rampart' });
  assert.deepEqual(api.warnings.filter((w) => w.includes('x-rampart-classification')), []);
  const op = (id: string) => api.operations.find((o) => o.id === id)!;
  assert.deepEqual(pointers(responseClassifications(op('getCustomer'), 200)!), {
    '/id': 'subject-id',
    '/name': 'name',
    '/ssn': 'ssn',
    '/dateOfBirth': 'date-of-birth',
    '/email': 'email',
    '/phone': 'phone',
    '/address/line1': 'address',
    '/address/line2': 'address',
    '/address/city': 'address',
    '/address/postalCode': 'address',
  });
  assert.deepEqual(pointers(responseClassifications(op('listAccounts'), 200)!), {
    '/data/*/customerId': 'subject-id',
    '/data/*/accountNumber': 'account-number',
  });
  assert.deepEqual(pointers(op('createTransfer').classifications.request!), {
    '/bankRoutingNumber': 'routing-number',
    '/bankAccountNumber': 'account-number',
    '/memo': 'free-text',
  });
});
