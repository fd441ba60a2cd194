/**
 * SARIF 2.1.0 output of `rampart check` (issue 6): the log is checked against the required
 * properties and value constraints of the OASIS SARIF 2.1.0 schema (sarif-schema-2.1.0.json:
 * sarifLog requires version "2.1.0" and runs; run requires tool; tool requires driver;
 * toolComponent requires name; reportingDescriptor requires id; result requires message, whose
 * text is a string; level is none|note|warning|error; region.startLine >= 1; $schema and
 * artifactLocation.uri are URI references), and against the findings it was made from.
 */
import { test, describe, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import { runCheck, type CheckResult } from '../../src/compliance/check/run-check.js';
import { SARIF_SCHEMA, toSarif } from '../../src/compliance/check/sarif.js';
import { tempDir } from '../helpers/tmp.js';

const tmp = tempDir('rampart-check-sarif-');
after(() => tmp.remove());

/** The SARIF 2.1.0 schema's required properties and constraints for what Rampart writes. */
const SARIF_SUBSET = {
  type: 'object',
  required: ['version', 'runs'],
  properties: {
    $schema: { type: 'string', format: 'uri' },
    version: { enum: ['2.1.0'] },
    runs: {
      type: 'array',
      minItems: 1,
      items: {
        type: 'object',
        required: ['tool'],
        properties: {
          tool: {
            type: 'object',
            required: ['driver'],
            properties: {
              driver: {
                type: 'object',
                required: ['name'],
                properties: {
                  name: { type: 'string', minLength: 1 },
                  version: { type: 'string' },
                  rules: {
                    type: 'array',
                    uniqueItems: true,
                    items: {
                      type: 'object',
                      required: ['id'],
                      properties: {
                        id: { type: 'string' },
                        shortDescription: { type: 'object', required: ['text'], properties: { text: { type: 'string' } } },
                        help: { type: 'object', required: ['text'], properties: { text: { type: 'string' } } },
                        defaultConfiguration: { type: 'object', properties: { level: { enum: ['none', 'note', 'warning', 'error'] } } },
                        properties: { type: 'object', properties: { tags: { type: 'array', uniqueItems: true, items: { type: 'string' } } } },
                      },
                    },
                  },
                },
              },
            },
          },
          originalUriBaseIds: { type: 'object', additionalProperties: { type: 'object', properties: { uri: { type: 'string', format: 'uri-reference' } } } },
          results: {
            type: 'array',
            items: {
              type: 'object',
              required: ['message'],
              properties: {
                ruleId: { type: 'string' },
                ruleIndex: { type: 'integer', minimum: -1 },
                level: { enum: ['none', 'note', 'warning', 'error'] },
                message: { type: 'object', anyOf: [{ required: ['text'] }, { required: ['id'] }], properties: { text: { type: 'string' } } },
                locations: {
                  type: 'array',
                  items: {
                    type: 'object',
                    properties: {
                      physicalLocation: {
                        type: 'object',
                        anyOf: [{ required: ['address'] }, { required: ['artifactLocation'] }],
                        properties: {
                          artifactLocation: { type: 'object', properties: { uri: { type: 'string', format: 'uri-reference' }, uriBaseId: { type: 'string' } } },
                          region: { type: 'object', properties: { startLine: { type: 'integer', minimum: 1 }, startColumn: { type: 'integer', minimum: 1 } } },
                        },
                      },
                      logicalLocations: { type: 'array', items: { type: 'object', properties: { fullyQualifiedName: { type: 'string' }, kind: { type: 'string' } } } },
                    },
                  },
                },
              },
            },
          },
        },
      },
    },
  },
} as const;

const ajv = new Ajv2020({ allErrors: true, strict: false });
addFormats.default(ajv);
const validateSarif = ajv.compile(SARIF_SUBSET);

/** A config with an error, warnings and notes, and a finding with no line (admin absent). */
async function result(profile: 'default' | 'finra' = 'finra'): Promise<{ r: CheckResult; dir: string }> {
  const dir = join(tmp.path, `case-${Math.random().toString(36).slice(2)}`);
  mkdirSync(dir, { recursive: true });
  writeFileSync(
    join(dir, 'spec.yaml'),
    `openapi: 3.1.0
info: { title: t, version: '1' }
paths:
  /x:
    get:
      parameters:
        - { name: q, in: query, schema: { type: string } }
        - { name: n, in: query, schema: { type: integer } }
      responses: { '200': { description: ok } }
`,
  );
  writeFileSync(
    join(dir, 'rampart.yaml'),
    `version: 1
listen: { host: 127.0.0.1, port: 8443, tls: { cert: c.pem, key: k.pem } }
ledger:
  durability: buffered
apis:
  - { name: shop, openapi: spec.yaml, upstream: { url: 'https://u.example.com' } }
`,
  );
  return { r: await runCheck({ configFile: join(dir, 'rampart.yaml'), profile }), dir };
}

describe('SARIF 2.1.0', () => {
  test('the log has the shape the SARIF 2.1.0 schema requires', async () => {
    const { r, dir } = await result();
    const log = JSON.parse(JSON.stringify(toSarif(r, dir))) as unknown;
    assert.ok(validateSarif(log), ajv.errorsText(validateSarif.errors));
  });

  test('the subset schema refuses what SARIF refuses (it can fail)', async () => {
    const { r, dir } = await result();
    const good = toSarif(r, dir);
    const broken = [
      { ...good, version: '2.0.0' },
      { ...good, runs: [{ ...good.runs[0]!, tool: { driver: {} } }] },
      { ...good, runs: [{ ...good.runs[0]!, results: [{ ...good.runs[0]!.results[0]!, level: 'fatal' }] }] },
      { ...good, runs: [{ ...good.runs[0]!, results: [{ ...good.runs[0]!.results[0]!, message: {} }] }] },
    ];
    for (const b of broken) assert.equal(validateSarif(JSON.parse(JSON.stringify(b))), false);
  });

  test('one run by "rampart"; every fired rule once, with its requirement ids as tags', async () => {
    const { r, dir } = await result();
    const log = toSarif(r, dir);
    assert.equal(log.$schema, SARIF_SCHEMA);
    assert.equal(log.runs.length, 1);
    const run = log.runs[0]!;
    assert.equal(run.tool.driver.name, 'rampart');
    const fired = [...new Set(r.findings.map((f) => f.ruleId))].sort();
    assert.deepEqual(run.tool.driver.rules.map((x) => x.id), fired);
    for (const rule of run.tool.driver.rules) {
      const f = r.findings.find((x) => x.ruleId === rule.id)!;
      assert.deepEqual(rule.properties.tags, [...f.requirements]);
      assert.ok(rule.shortDescription.text.length > 0);
      assert.equal((rule as { helpUri?: string }).helpUri, undefined);
    }
    assert.equal(run.tool.driver.rules.find((x) => x.id === 'ledger-not-strict')!.defaultConfiguration.level, 'error');
  });

  test('results mirror the findings: rule, level, message, file, line', async () => {
    const { r, dir } = await result();
    const run = toSarif(r, dir).runs[0]!;
    assert.equal(run.results.length, r.findings.length);
    assert.ok(r.errors > 0 && r.warnings > 0 && r.notes > 0, 'the case has all three levels');
    r.findings.forEach((f, i) => {
      const res = run.results[i]!;
      assert.equal(res.ruleId, f.ruleId);
      assert.equal(run.tool.driver.rules[res.ruleIndex]!.id, f.ruleId);
      assert.equal(res.level, f.severity);
      assert.equal(res.message.text, f.message);
      const loc = res.locations[0]!.physicalLocation;
      assert.equal(loc.artifactLocation.uriBaseId, '%SRCROOT%');
      assert.equal(loc.artifactLocation.uri, f.location.file.slice(dir.length + 1));
      assert.equal(loc.region?.startLine, f.location.line);
      assert.equal(res.locations[0]!.logicalLocations![0]!.fullyQualifiedName, f.location.pointer || '/');
    });
    const buffered = run.results.find((x) => x.ruleId === 'ledger-not-strict')!;
    assert.equal(buffered.locations[0]!.physicalLocation.region!.startLine, 4);
    assert.equal(buffered.level, 'error');
    const noLine = run.results.find((x) => x.ruleId === 'admin-plane-absent')!;
    assert.equal(noLine.locations[0]!.physicalLocation.region, undefined, 'no region when no line is known');
    const spec = run.results.find((x) => x.ruleId === 'string-no-max-length')!;
    assert.equal(spec.locations[0]!.physicalLocation.artifactLocation.uri, 'spec.yaml');
    assert.equal(spec.locations[0]!.physicalLocation.region!.startLine, 7);
  });

  test('a file outside the working folder gets an absolute file: URI', async () => {
    const { r } = await result();
    const elsewhere = join(tmp.path, 'unrelated-cwd');
    const loc = toSarif(r, elsewhere).runs[0]!.results[0]!.locations[0]!.physicalLocation.artifactLocation;
    assert.match(loc.uri, /^file:\/\//);
    assert.equal(loc.uriBaseId, undefined);
  });
});
