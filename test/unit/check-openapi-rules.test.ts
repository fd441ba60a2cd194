/**
 * `rampart check` OpenAPI rules (issue 6): operations without security (API5), strings without
 * maxLength and arrays without maxItems (API4, ASVS 5.1.4), open request-body objects (API3),
 * unbounded numbers, API keys in the query (ASVS 8.3.1). Each fires on a crafted document at the
 * line where the node is written, in the referenced file when it lives there, and stays silent
 * on a good document.
 */
import { test, describe, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { fullFormats } from 'ajv-formats/dist/formats.js';
import { LENGTH_BOUNDED_FORMATS } from '../../src/compliance/check/openapi-rules.js';
import type { Finding } from '../../src/compliance/check/findings.js';
import { RULES, type RuleId } from '../../src/compliance/check/rules.js';
import { runCheck, type CheckResult } from '../../src/compliance/check/run-check.js';
import { tempDir } from '../helpers/tmp.js';

const tmp = tempDir('rampart-check-openapi-');
after(() => tmp.remove());

const OPENAPI_RULES = new Set((Object.keys(RULES) as RuleId[]).filter((id) => RULES[id].scope === 'openapi'));

const config = (closedObjects: boolean) => `version: 1
listen:
  host: 127.0.0.1
  port: 8443
  tls: { cert: tls/cert.pem, key: tls/key.pem }
apis:
  - name: shop
    openapi: spec.yaml
    closedObjects: ${closedObjects}
    upstream: { url: 'https://upstream.example.com' }
`;

let n = 0;
/** Writes rampart.yaml, spec.yaml and any extra files into a folder of its own. */
function write(spec: string, extra: Record<string, string> = {}, closedObjects = false): string {
  const dir = join(tmp.path, `case-${++n}`);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'spec.yaml'), spec);
  for (const [name, text] of Object.entries(extra)) writeFileSync(join(dir, name), text);
  writeFileSync(join(dir, 'rampart.yaml'), config(closedObjects));
  return join(dir, 'rampart.yaml');
}

const openapiFindings = (r: CheckResult): Finding[] => r.findings.filter((f) => OPENAPI_RULES.has(f.ruleId));
const show = (fs: Finding[]) => fs.map((f) => `${f.location.file.split('/').pop()}:${f.location.line ?? '-'} ${f.severity} ${f.ruleId} ${f.location.pointer} ${f.message}`).join('\n') || '(none)';

function lineOf(text: string, needle: string): number {
  const i = text.split('\n').findIndex((l) => l.includes(needle));
  assert.ok(i >= 0, `"${needle}" not in the text`);
  return i + 1;
}

function one(fs: Finding[], rule: RuleId, pointer: string): Finding {
  const hits = fs.filter((f) => f.ruleId === rule && f.location.pointer === pointer);
  assert.equal(hits.length, 1, `expected one ${rule} at ${pointer}; got:\n${show(fs)}`);
  return hits[0]!;
}

const GOOD_SPEC = `openapi: 3.1.0
info: { title: good, version: '1' }
security:
  - bearer: []
components:
  securitySchemes:
    bearer: { type: http, scheme: bearer }
paths:
  /things/{id}:
    parameters:
      - { name: id, in: path, required: true, schema: { type: string, format: uuid } }
    get:
      operationId: getThing
      parameters:
        - { name: day, in: query, schema: { type: string, format: date } }
        - { name: limit, in: query, schema: { type: integer, minimum: 1, maximum: 100 } }
        - { name: page, in: query, schema: { type: integer, format: int32 } }
      responses: { '200': { description: ok } }
  /things:
    post:
      operationId: createThing
      requestBody:
        required: true
        content:
          application/json:
            schema:
              type: object
              additionalProperties: false
              properties:
                name: { type: string, maxLength: 100 }
                kind: { type: string, enum: [a, b] }
                version: { const: v1 }
                tags: { type: array, maxItems: 10, items: { type: string, maxLength: 20 } }
                count: { type: integer, minimum: 0, maximum: 1000 }
                labels: { type: object, maxProperties: 5, additionalProperties: { type: string, maxLength: 20 } }
                pair: { type: array, prefixItems: [{ type: integer, minimum: 0, maximum: 9 }], items: false }
      responses: { '201': { description: created } }
`;

const BAD_SPEC = `openapi: 3.1.0
info: { title: bad, version: '1' }
paths:
  /open:
    get:
      operationId: openOp
      responses: { '200': { description: ok } }
  /public:
    get:
      operationId: publicOp
      security: []
      responses: { '200': { description: ok } }
  /optional:
    get:
      operationId: optionalOp
      security:
        - {}
        - keyInQuery: []
      parameters:
        - name: q
          in: query
          schema: { type: string }
        - name: when
          in: query
          schema: { type: string, format: date-time }
        - name: day
          in: query
          schema: { type: string, format: date }
        - name: kind
          in: query
          schema: { type: string, enum: [a, b] }
        - name: n
          in: query
          schema: { type: integer, minimum: 0 }
        - name: small
          in: query
          schema: { type: integer, format: int32 }
      responses: { '200': { description: ok } }
  /things:
    post:
      operationId: createThing
      security:
        - bearer: []
      requestBody:
        content:
          application/json:
            schema:
              $ref: 'schemas.yaml#/Thing'
      responses: { '201': { description: created } }
  /more-things:
    put:
      operationId: replaceThing
      security:
        - bearer: []
      requestBody:
        content:
          application/json:
            schema:
              $ref: 'schemas.yaml#/Thing'
      responses: { '200': { description: ok } }
components:
  securitySchemes:
    bearer: { type: http, scheme: bearer }
    keyInQuery: { type: apiKey, in: query, name: api_key }
`;

const SCHEMAS = `Thing:
  type: object
  properties:
    name: { type: string }
    tags:
      type: array
      items: { type: string, maxLength: 10 }
    meta:
      type: object
      additionalProperties: true
    bounded:
      type: object
      additionalProperties: false
      properties:
        a: { type: string, maxLength: 5 }
    composed:
      allOf:
        - $ref: '#/Base'
        - type: object
          properties:
            extra: { type: string, maxLength: 5 }
Base:
  type: object
  properties:
    b: { type: string, maxLength: 5 }
`;

describe('a good document', () => {
  for (const profile of ['default', 'finra'] as const) {
    test(`has no OpenAPI finding under profile ${profile}`, async () => {
      const r = await runCheck({ configFile: write(GOOD_SPEC), profile });
      assert.equal(r.unreadable, false);
      assert.deepEqual(openapiFindings(r), [], show(openapiFindings(r)));
    });
  }
});

describe('a bad document', () => {
  const file = write(BAD_SPEC, { 'schemas.yaml': SCHEMAS });
  const run = (profile: 'default' | 'finra' = 'default') => runCheck({ configFile: file, profile }).then(openapiFindings);

  test('operation-no-security: neither the operation nor the root declares security (API5); error under finra', async () => {
    const f = one(await run(), 'operation-no-security', '/paths/~1open/get');
    assert.equal(f.severity, 'warning');
    assert.equal(f.location.line, lineOf(BAD_SPEC, 'get:'));
    assert.match(f.message, /openOp/);
    assert.equal(one(await run('finra'), 'operation-no-security', '/paths/~1open/get').severity, 'error');
  });

  test('operation-public: security: [] is reported where it is written, as a note (a deliberate opt-out)', async () => {
    const f = one(await run(), 'operation-public', '/paths/~1public/get/security');
    assert.equal(f.severity, 'note');
    assert.equal(f.location.line, lineOf(BAD_SPEC, 'security: []'));
  });

  test('operation-public: an empty requirement {} among the alternatives', async () => {
    const f = one(await run(), 'operation-public', '/paths/~1optional/get/security/0');
    assert.equal(f.location.line, lineOf(BAD_SPEC, '- {}'));
    assert.match(f.message, /anonymous/);
  });

  test('api-key-in-query: the scheme, once, at its `in` (ASVS 8.3.1)', async () => {
    const f = one(await run(), 'api-key-in-query', '/components/securitySchemes/keyInQuery/in');
    assert.equal(f.location.line, lineOf(BAD_SPEC, 'keyInQuery: { type: apiKey'));
  });

  test('string-no-max-length: a query parameter, and a body property in the referenced file at its line', async () => {
    const fs = await run();
    one(fs, 'string-no-max-length', '/paths/~1optional/get/parameters/0/schema');
    const inRef = one(fs, 'string-no-max-length', '/Thing/properties/name');
    assert.ok(inRef.location.file.endsWith('schemas.yaml'), inRef.location.file);
    assert.equal(inRef.location.line, lineOf(SCHEMAS, 'name: { type: string }'));
    // Reached from two operations, reported once, naming the first.
    assert.equal(fs.filter((f) => f.location.pointer === '/Thing/properties/name' && f.ruleId === 'string-no-max-length').length, 1);
    assert.match(inRef.message, /createThing request body/);
  });

  test('string-no-max-length: date-time is not a bound (its fraction is unbounded); date and enum are', async () => {
    const fs = await run();
    const dt = one(fs, 'string-no-max-length', '/paths/~1optional/get/parameters/1/schema');
    assert.match(dt.message, /date-time does not bound it/);
    const flagged = fs.filter((f) => f.ruleId === 'string-no-max-length').map((f) => f.location.pointer);
    assert.ok(!flagged.includes('/paths/~1optional/get/parameters/2/schema'), 'format date is bounded');
    assert.ok(!flagged.includes('/paths/~1optional/get/parameters/3/schema'), 'an enum is bounded');
  });

  test('array-no-max-items: in the referenced file', async () => {
    const f = one(await run(), 'array-no-max-items', '/Thing/properties/tags');
    assert.equal(f.location.line, lineOf(SCHEMAS, 'tags:'));
  });

  test('number-unbounded: a minimum without a maximum; int32 is bounded', async () => {
    const fs = await run();
    const f = one(fs, 'number-unbounded', '/paths/~1optional/get/parameters/4/schema');
    assert.match(f.message, /without a maximum/);
    assert.ok(!fs.some((x) => x.location.pointer === '/paths/~1optional/get/parameters/5/schema'));
  });

  test('request-body-open-object: explicit additionalProperties: true, the object itself, the allOf composite; not the closed one or the members', async () => {
    const fs = (await run()).filter((f) => f.ruleId === 'request-body-open-object');
    assert.deepEqual(fs.map((f) => f.location.pointer).sort(), ['/Thing', '/Thing/properties/composed', '/Thing/properties/meta/additionalProperties'], show(fs));
    const meta = fs.find((f) => f.location.pointer.endsWith('/additionalProperties'))!;
    assert.equal(meta.location.line, lineOf(SCHEMAS, 'additionalProperties: true'));
    assert.match(meta.message, /additionalProperties: true/);
  });

  test('request-body-open-object: with closedObjects on, only the explicitly open object remains', async () => {
    const r = await runCheck({ configFile: write(BAD_SPEC, { 'schemas.yaml': SCHEMAS }, true) });
    const fs = openapiFindings(r).filter((f) => f.ruleId === 'request-body-open-object');
    assert.deepEqual(fs.map((f) => f.location.pointer), ['/Thing/properties/meta/additionalProperties'], show(fs));
  });

  test('every finding carries the rule\'s requirement ids and a fix', async () => {
    for (const f of await run()) {
      assert.deepEqual(f.requirements, RULES[f.ruleId].requirements);
      assert.ok(f.fix.length > 0);
    }
  });
});

describe('a document the loader refuses', () => {
  test('openapi-invalid: an undeclared security scheme, at its line; unreadable', async () => {
    const spec = `openapi: 3.1.0
info: { title: broken, version: '1' }
paths:
  /x:
    get:
      security:
        - nowhere: []
      responses: { '200': { description: ok } }
`;
    const r = await runCheck({ configFile: write(spec) });
    assert.equal(r.unreadable, true);
    const f = r.findings.find((x) => x.ruleId === 'openapi-invalid');
    assert.ok(f, show(r.findings));
    assert.equal(f.severity, 'error');
    assert.ok(f.location.file.endsWith('spec.yaml'));
    assert.equal(f.location.line, lineOf(spec, 'nowhere'));
    assert.match(f.message, /^API shop: .*nowhere/);
  });
});

describe('formats that bound a string\'s length (why they are skipped)', () => {
  const ajv = new Ajv2020({ strict: false });
  for (const [name, fmt] of Object.entries(fullFormats)) ajv.addFormat(name, fmt as never);
  const accepts = (format: string, value: string) => ajv.compile({ type: 'string', format })(value);
  const long = '9'.repeat(5000);

  test('each skipped format refuses long variants of a valid value', () => {
    const valid: Record<string, string> = { date: '2024-02-29', uuid: '123e4567-e89b-12d3-a456-426614174000', ipv4: '192.168.1.1', ipv6: '2001:db8::1', hostname: 'api.example.com' };
    assert.deepEqual([...LENGTH_BOUNDED_FORMATS].sort(), Object.keys(valid).sort());
    for (const [format, v] of Object.entries(valid)) {
      assert.ok(accepts(format, v), `${format} accepts ${v}`);
      for (const bigger of [v + long, long + v, v.repeat(500), `${v}.${long}`, `${v}:${long}`]) {
        assert.equal(accepts(format, bigger), false, `${format} accepted ${bigger.length} characters`);
      }
    }
  });

  test('date-time and time accept 5,000 digits of fractional seconds, so they are not skipped', () => {
    assert.ok(accepts('date-time', `2024-02-29T12:00:00.${long}Z`));
    assert.ok(accepts('time', `12:00:00.${long}Z`));
    assert.ok(!LENGTH_BOUNDED_FORMATS.has('date-time'));
    assert.ok(!LENGTH_BOUNDED_FORMATS.has('time'));
  });
});
