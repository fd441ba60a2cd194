/**
 * The response copy of a document (response-document.ts): rebuilt in memory from the texts the
 * loader read, equal to the bundle before normalisation (single and multi-file, YAML and JSON,
 * self references by file name, discriminator mappings to files), independent of the files on
 * disk after load, and warm-up of the response side.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync, mkdirSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { bundle } from '../../src/openapi/resolve-refs.js';
import { rebuildDocument } from '../../src/openapi/response-document.js';
import { loadApi, apiStats, warmUp } from '../../src/openapi/load.js';
import { writeAwkwardSpec } from '../helpers/awkward-spec.js';
import { tempDir } from '../helpers/tmp.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const fixtures = join(root, 'test', 'fixtures', 'openapi');
const dir = tempDir('rampart-openapi-response-doc-');
after(() => dir.remove());

const opts = (file: string) => ({ name: 'd', file, qualifyScopes: false, closedObjects: true, reservedPrefix: '/.rampart' });

function sameAsBundle(file: string): void {
  const b = bundle(file);
  const fresh = bundle(file).doc;
  const rebuilt = rebuildDocument(b.files);
  assert.deepEqual(rebuilt, fresh, file);
  assert.notEqual(rebuilt, b.doc);
}

test('rebuilt documents equal the bundle: every OpenAPI fixture', () => {
  for (const f of ['gateway-test.yaml', 'multi/openapi.yaml', 'v31/openapi.yaml', 'response-contract.yaml', 'response-multi.yaml']) sameAsBundle(join(fixtures, f));
});

test('rebuilt documents equal the bundle: the generated awkward document, as JSON and as YAML', () => {
  const json = writeAwkwardSpec(join(dir.path), { groups: 12, padding: 100 });
  sameAsBundle(json.file);
  const yamlDir = join(dir.path, 'yaml');
  mkdirSync(yamlDir);
  const yaml = writeAwkwardSpec(yamlDir, { groups: 6, padding: 50, format: 'yaml' });
  sameAsBundle(yaml.file);
});

test('rebuilt documents equal the bundle: references by file name, to other files, and discriminator mappings to files', () => {
  const d = join(dir.path, 'refs');
  mkdirSync(join(d, 'sub'), { recursive: true });
  const pet = { type: 'object', properties: { kind: { type: 'string' } } };
  writeFileSync(
    join(d, 'api.json'),
    JSON.stringify({
      openapi: '3.0.3',
      info: { title: 't', version: '1' },
      paths: {
        '/p': {
          get: {
            responses: {
              '200': {
                description: 'ok',
                content: {
                  'application/json': {
                    schema: {
                      oneOf: [{ $ref: 'api.json#/components/schemas/Cat' }, { $ref: './sub/dog.json#/Dog' }],
                      discriminator: { propertyName: 'kind', mapping: { cat: 'api.json#/components/schemas/Cat', dog: './sub/dog.json#/Dog' } },
                    },
                  },
                },
              },
            },
          },
        },
      },
      components: { schemas: { Cat: pet, Example: { example: { $ref: 'not-a-reference.json' } } } },
    }),
  );
  writeFileSync(join(d, 'sub', 'dog.json'), JSON.stringify({ Dog: { allOf: [{ $ref: '../api.json#/components/schemas/Cat' }] } }));
  sameAsBundle(join(d, 'api.json'));
  // One file referring to itself by name: still rewritten.
  writeFileSync(
    join(d, 'self.json'),
    JSON.stringify({
      openapi: '3.0.3',
      info: { title: 't', version: '1' },
      paths: { '/p': { get: { responses: { '200': { description: 'ok', content: { 'application/json': { schema: { $ref: 'self.json#/components/schemas/A' } } } } } } } },
      components: { schemas: { A: { type: 'object', properties: { a: { type: 'string' } } } } },
    }),
  );
  const b = bundle(join(d, 'self.json'));
  const rebuilt = rebuildDocument(b.files);
  assert.deepEqual(rebuilt, bundle(join(d, 'self.json')).doc);
  const schema = (rebuilt['paths'] as never)['/p']['get']['responses']['200']['content']['application/json']['schema'];
  assert.deepEqual(schema, { $ref: '#/components/schemas/A' });
});

test('the response copy comes from the texts read at load, not from the files as they are now', async () => {
  const d = join(dir.path, 'changing');
  mkdirSync(d);
  const file = join(d, 'api.yaml');
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
              schema: { type: object, required: [n], properties: { n: { type: integer } } }
`,
  );
  const api = await loadApi(opts(file));
  writeFileSync(file, 'this: [is not, the document any more');
  const o = api.operations[0]!;
  assert.equal(o.validateResponse(200, 'application/json', { n: 1 }, 'report').ok, true);
  assert.equal(o.validateResponse(200, 'application/json', { n: 'x' }, 'report').reason, 'schema');
});

test('warmUp with responses compiles every response schema (none failing); without, none', async () => {
  const api = await loadApi(opts(join(fixtures, 'response-contract.yaml')));
  const plain = await warmUp(api, { sliceMs: 1 });
  assert.equal(plain.responsesCompiled, undefined);
  assert.equal(apiStats(api).responseDocumentMs, undefined);
  const r = await warmUp(api, { sliceMs: 1, responses: true });
  assert.equal(r.responsesCompiled, api.operations.length);
  assert.deepEqual(r.responsesFailed, []);
  const st = apiStats(api);
  assert.ok(st.responseDocumentMs !== undefined);
  // Every declared response schema, shared ones once.
  assert.ok(st.responseSchemaCompiles >= 8, String(st.responseSchemaCompiles));
  assert.equal(api.warnings.length, 0, JSON.stringify(api.warnings));
});

test("the awkward document: every operation's response schemas compile", async () => {
  mkdirSync(join(dir.path, 'awk2'));
  const spec = writeAwkwardSpec(join(dir.path, 'awk2'), { groups: 6, padding: 50 });
  const api = await loadApi(opts(spec.file));
  const r = await warmUp(api, { sliceMs: 5, responses: true });
  assert.deepEqual(r.responsesFailed, []);
  assert.equal(r.responsesCompiled, api.operations.length);
});
