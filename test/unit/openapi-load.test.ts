/**
 * Loading OpenAPI documents: multi-file $refs, 3.0 and 3.1, the operation inventory, security
 * requirements, and ConfigErrors that name the file and the line for documents that cannot be
 * served.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ConfigError } from '../../src/core/errors.js';
import { loadApi, apiStats, warmUp } from '../../src/openapi/load.js';
import type { LoadApiOptions } from '../../src/openapi/types.js';
import { tempDir } from '../helpers/tmp.js';

// Compiled to dist/test/unit; the fixtures stay in the source tree.
const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const fixtures = join(root, 'test', 'fixtures', 'openapi');
const dir = tempDir('rampart-openapi-load-');
after(() => dir.remove());

const base = (file: string, more: Partial<LoadApiOptions> = {}): LoadApiOptions => ({
  name: 'brokerage',
  file,
  qualifyScopes: false,
  closedObjects: false,
  reservedPrefix: '/.rampart',
  ...more,
});

function write(name: string, text: string): string {
  const file = join(dir.path, name);
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, text);
  return file;
}

async function configError(p: Promise<unknown>): Promise<ConfigError> {
  try {
    await p;
  } catch (e) {
    assert.ok(e instanceof ConfigError, `expected ConfigError, got ${String(e)}`);
    return e;
  }
  assert.fail('expected a ConfigError');
}

const minimal = (paths: string) => `openapi: 3.0.3
info: { title: t, version: '1' }
paths:
${paths}`;

test('a multi-file 3.0 document loads: inventory, routes, file refs in both directions', async () => {
  const api = await loadApi(base(join(fixtures, 'multi', 'openapi.yaml')));
  assert.equal(api.openapi, '3.0.3');
  assert.equal(api.title, 'Brokerage (fixture)');
  assert.equal(api.version, '1.2.0');
  const ids = api.operations.map((o) => o.id).sort();
  assert.deepEqual(ids, [
    'addPet', 'closeAccount', 'getAccount', 'getDocument', 'getFile', 'getMyAccount', 'listAccounts', 'openAccount',
    'placeOrder', 'postTree', 'putNote', 'updateAccount',
  ]);
  const open = api.operations.find((o) => o.id === 'openAccount')!;
  assert.equal(open.method, 'POST');
  assert.equal(open.route, '/accounts');
  assert.deepEqual(open.requestContentTypes, ['application/json', 'application/vnd.rampart+json']);
  assert.equal(open.requestBodyRequired, true);
  assert.deepEqual(api.operations.find((o) => o.id === 'putNote')!.requestContentTypes, ['text/plain', 'application/*']);
  assert.ok(api.warnings.some((w) => /unknown format.*decimal.*x-firm-ref/.test(w)), api.warnings.join('\n'));
  const st = apiStats(api);
  assert.equal(st.files, 5);
  assert.equal(st.schemaCompiles, 0, 'nothing is compiled at load');
  assert.equal(st.compiledOperations, 0);
  assert.ok(st.loadMs > 0);
});

test('operations are frozen (later stages cannot change the contract)', async () => {
  const api = await loadApi(base(join(fixtures, 'multi', 'openapi.yaml')));
  assert.ok(Object.isFrozen(api.operations));
  assert.ok(Object.isFrozen(api.operations[0]));
  assert.ok(Object.isFrozen(api.operations[0]!.security));
});

test('security: root default, operation override, explicit [] public, scheme details', async () => {
  const api = await loadApi(base(join(fixtures, 'multi', 'openapi.yaml')));
  const by = (id: string) => api.operations.find((o) => o.id === id)!;
  assert.deepEqual(by('getAccount').security, [{ schemes: [{ name: 'apiKey', type: 'apiKey', in: 'header', paramName: 'x-api-key' }], scopes: [] }]);
  assert.deepEqual(by('openAccount').security, [{ schemes: [{ name: 'oauth', type: 'oauth2' }], scopes: ['accounts:write'] }]);
  assert.deepEqual(by('closeAccount').security, []);
  assert.ok(!api.warnings.some((w) => /declare no security/.test(w)), 'root security covers every operation');
});

test('qualifyScopes prefixes scopes with the API name', async () => {
  const api = await loadApi(base(join(fixtures, 'multi', 'openapi.yaml'), { qualifyScopes: true }));
  assert.deepEqual(api.operations.find((o) => o.id === 'openAccount')!.security[0]!.scopes, ['brokerage:accounts:write']);
});

test('3.1: roles on any scheme type, AND-ed schemes, anonymous alternative, mutualTLS, http scheme', async () => {
  const api = await loadApi(base(join(fixtures, 'v31', 'openapi.yaml'), { qualifyScopes: true, name: 'pay' }));
  assert.equal(api.openapi, '3.1.0');
  const by = (id: string) => api.operations.find((o) => o.id === id)!;
  assert.deepEqual(by('createPayment').security, [
    {
      schemes: [
        { name: 'bearer', type: 'http', scheme: 'bearer' },
        { name: 'apiKey', type: 'apiKey', in: 'query', paramName: 'api_key' },
      ],
      scopes: ['pay:payments:write', 'pay:teller'],
    },
    { schemes: [{ name: 'mtls', type: 'mutualTLS' }], scopes: [] },
  ]);
  assert.deepEqual(by('listPayments').security, [{ schemes: [{ name: 'bearer', type: 'http', scheme: 'bearer' }], scopes: ['pay:payments:read'] }]);
  assert.deepEqual(by('getPayment').security, [
    { schemes: [], scopes: [] },
    { schemes: [{ name: 'apiKey', type: 'apiKey', in: 'query', paramName: 'api_key' }], scopes: [] },
  ]);
  // webhooks are not operations of the gateway
  assert.equal(api.operations.length, 3);
});

test('no security anywhere: public, as an empty array, with a warning that lists the operations', async () => {
  const file = write('nosec.yaml', minimal(`  /a:
    get: { operationId: getA, responses: { '200': { description: ok } } }
  /b:
    post: { responses: { '200': { description: ok } } }`));
  const api = await loadApi(base(file));
  assert.deepEqual(api.operations.map((o) => o.security), [[], []]);
  const w = api.warnings.find((x) => /declare no security/.test(x));
  assert.ok(w && w.includes('getA') && w.includes('POST /b'), String(w));
});

test('3.0: roles listed for a non-OAuth scheme are kept (fail closed) with a warning', async () => {
  const file = write('roles30.yaml', `openapi: 3.0.3
info: { title: t, version: '1' }
security: [{ key: [admin] }]
paths:
  /a: { get: { responses: { '200': { description: ok } } } }
components:
  securitySchemes:
    key: { type: apiKey, in: cookie, name: sid }`);
  const api = await loadApi(base(file));
  assert.deepEqual(api.operations[0]!.security, [{ schemes: [{ name: 'key', type: 'apiKey', in: 'cookie', paramName: 'sid' }], scopes: ['admin'] }]);
  assert.ok(api.warnings.some((w) => /roles/.test(w)));
});

test('an undeclared security scheme is a ConfigError', async () => {
  const file = write('undeclared.yaml', minimal(`  /a:
    get:
      security: [{ nope: [] }]
      responses: { '200': { description: ok } }`));
  const e = await configError(loadApi(base(file)));
  assert.match(e.message, /security scheme 'nope' is not declared/);
  assert.equal(e.issues[0]!.line, 6);
});

test('generated ids: METHOD /path when operationId is absent', async () => {
  const file = write('noid.yaml', minimal(`  /a/{x}:
    get:
      parameters: [{ name: x, in: path, required: true, schema: { type: string } }]
      responses: { '200': { description: ok } }`));
  const api = await loadApi(base(file));
  assert.equal(api.operations[0]!.id, 'GET /a/{x}');
});

test('bad YAML names the line', async () => {
  const file = write('bad.yaml', `openapi: 3.0.3
info: { title: t, version: '1' }
paths:
  /a:
    get: [unclosed
`);
  const e = await configError(loadApi(base(file)));
  assert.equal(e.issues[0]!.file, file);
  assert.ok(e.issues[0]!.line! >= 5, String(e.issues[0]!.line));
  assert.match(e.message, /invalid YAML/);
});

test('a duplicate key in YAML or JSON is refused with its line', async () => {
  const y = write('dupkey.yaml', minimal(`  /a:
    get: { responses: { '200': { description: ok } } }
  /a:
    post: { responses: { '200': { description: ok } } }`));
  const e1 = await configError(loadApi(base(y)));
  assert.equal(e1.issues[0]!.line, 6);
  const j = write('dupkey.json', '{\n "openapi": "3.0.3",\n "info": {"title": "t", "version": "1"},\n "paths": {},\n "paths": {}\n}');
  const e2 = await configError(loadApi(base(j)));
  assert.equal(e2.issues[0]!.line, 5);
  assert.match(e2.message, /repeats the key 'paths'/);
});

test('bad JSON names the line and column', async () => {
  const j = write('bad.json', '{\n  "openapi": "3.0.3",\n  "info": {"title": "t" "version": "1"}\n}');
  const e = await configError(loadApi(base(j)));
  assert.deepEqual([e.issues[0]!.line, e.issues[0]!.column], [3, 25]);
  assert.match(e.message, /not valid JSON/);
});

test('a missing $ref target names the referring file and line', async () => {
  write('refs/schemas.yaml', 'Known:\n  type: string\n');
  const file = write('refs/main.yaml', minimal(`  /a:
    post:
      requestBody:
        content:
          application/json:
            schema: { $ref: './schemas.yaml#/Unknown' }
      responses: { '200': { description: ok } }`));
  const e = await configError(loadApi(base(file)));
  assert.equal(e.issues[0]!.file, file);
  assert.equal(e.issues[0]!.line, 9);
  assert.match(e.message, /\$ref target not found: ".\/schemas.yaml#\/Unknown"/);
});

test('a missing $ref target inside a referenced file names that file', async () => {
  write('refs2/schemas.yaml', 'A:\n  type: object\n  properties:\n    b: { $ref: "#/B" }\n');
  const file = write('refs2/main.yaml', minimal(`  /a:
    post:
      requestBody:
        content: { application/json: { schema: { $ref: './schemas.yaml#/A' } } }
      responses: { '200': { description: ok } }`));
  const e = await configError(loadApi(base(file)));
  assert.equal(e.issues[0]!.file, join(dir.path, 'refs2', 'schemas.yaml'));
  assert.equal(e.issues[0]!.line, 4);
});

test('a missing referenced file is a ConfigError at the $ref', async () => {
  const file = write('refs3/main.yaml', minimal(`  /a:
    get:
      parameters: [{ $ref: './nope.yaml#/P' }]
      responses: { '200': { description: ok } }`));
  const e = await configError(loadApi(base(file)));
  assert.match(e.message, /nope\.yaml file not found/);
  assert.equal(e.issues[0]!.line, 6);
});

test('network references are refused with a clear error', async () => {
  for (const ref of ['https://example.com/schemas.yaml#/A', 'http://example.com/a.json', '//example.com/a.json']) {
    const file = write('net.yaml', minimal(`  /a:
    post:
      requestBody:
        content: { application/json: { schema: { $ref: '${ref}' } } }
      responses: { '200': { description: ok } }`));
    const e = await configError(loadApi(base(file)));
    assert.match(e.message, /network references are not supported/);
  }
});

test('a path under the reserved prefix is refused', async () => {
  for (const p of ['/.rampart/health', '/.rampart', '/.RAMPART/x']) {
    const file = write('reserved.yaml', minimal(`  /ok:
    get: { responses: { '200': { description: ok } } }
  ${p}:
    get: { responses: { '200': { description: ok } } }`));
    const e = await configError(loadApi(base(file)));
    assert.match(e.message, /reserved prefix/);
    assert.equal(e.issues[0]!.line, 6);
  }
  // A path that merely starts with the same characters is fine.
  const file = write('reserved-ok.yaml', minimal(`  /.rampartish:
    get: { responses: { '200': { description: ok } } }`));
  await loadApi(base(file));
});

test('not OpenAPI 3.0/3.1 is refused', async () => {
  const cases: [string, RegExp][] = [
    ['swagger: "2.0"\ninfo: { title: t, version: "1" }\npaths: {}\n', /Swagger 2.0/],
    ['openapi: 3.2.0\ninfo: { title: t, version: "1" }\npaths: {}\n', /3\.2\.0 is not supported/],
    ['openapi: 2.5.0\ninfo: { title: t, version: "1" }\npaths: {}\n', /not supported/],
    ['info: { title: t, version: "1" }\npaths: {}\n', /openapi field/],
    ['- just\n- a list\n', /mapping/],
  ];
  for (const [text, re] of cases) {
    const e = await configError(loadApi(base(write('version.yaml', text))));
    assert.match(e.message, re);
  }
});

test('a duplicate operationId is refused, naming the second one', async () => {
  const file = write('dupid.yaml', minimal(`  /a:
    get: { operationId: same, responses: { '200': { description: ok } } }
  /b:
    get:
      operationId: same
      responses: { '200': { description: ok } }`));
  const e = await configError(loadApi(base(file)));
  assert.match(e.message, /duplicate operationId 'same'/);
  assert.equal(e.issues[0]!.line, 8);
});

test('__proto__ keys in a document are refused', async () => {
  const j = write('proto.json', '{"openapi":"3.0.3","info":{"title":"t","version":"1"},"paths":{},"__proto__":{"x":1}}');
  await configError(loadApi(base(j)));
  const y = write('proto.yaml', minimal(`  /a:
    get:
      __proto__: { polluted: true }
      responses: { '200': { description: ok } }`));
  const e = await configError(loadApi(base(y)));
  assert.match(e.message, /__proto__/);
  assert.equal(({} as Record<string, unknown>)['polluted'], undefined);
});

test('misuse of the options is a TypeError, not a ConfigError', async () => {
  await assert.rejects(loadApi({ ...base('x.yaml'), reservedPrefix: 'rampart' }), TypeError);
  await assert.rejects(loadApi({ ...base(''), name: 'n' }), TypeError);
});

test('a JSON document with refs to YAML files and a whole-file ref', async () => {
  write('mixed/types.yaml', 'type: object\nrequired: [id]\nproperties:\n  id: { type: integer }\n');
  const file = write(
    'mixed/api.json',
    JSON.stringify({
      openapi: '3.1.0',
      info: { title: 'm', version: '1' },
      paths: {
        '/x': {
          post: {
            requestBody: { required: true, content: { 'application/json': { schema: { $ref: 'types.yaml' } } } },
            responses: { '200': { description: 'ok' } },
          },
        },
      },
    }),
  );
  const api = await loadApi(base(file));
  const r = api.operations[0]!.validate({ pathParams: {}, rawQuery: '', headers: { 'content-type': 'application/json' }, body: Buffer.from('{"id":"1"}') });
  assert.deepEqual(r.ok ? null : [r.error.pointer, r.error.message], ['/body/id', 'must be integer']);
});

test('warmUp compiles every operation in slices and reports none failing', async () => {
  const api = await loadApi(base(join(fixtures, 'multi', 'openapi.yaml')));
  const r = await warmUp(api, { sliceMs: 1 });
  assert.equal(r.compiled, api.operations.length);
  assert.deepEqual(r.failed, []);
  assert.equal(apiStats(api).compiledOperations, api.operations.length);
});

test('a schema ajv cannot compile fails closed at validate time, with a warning', async () => {
  const file = write('uncompilable.yaml', minimal(`  /a:
    post:
      requestBody:
        content:
          application/json:
            schema: { type: object, patternProperties: { '(': { type: string } } }
      responses: { '200': { description: ok } }`));
  const api = await loadApi(base(file));
  const op = api.operations[0]!;
  const parts = { pathParams: {}, rawQuery: '', headers: { 'content-type': 'application/json' }, body: Buffer.from('{}') };
  assert.throws(() => op.validate(parts), (e: unknown) => (e as { code?: string }).code === 'RAMPART_INTERNAL');
  assert.throws(() => op.validate(parts), (e: unknown) => (e as { code?: string }).code === 'RAMPART_INTERNAL');
  assert.ok(api.warnings.some((w) => /cannot be compiled/.test(w)));
});
