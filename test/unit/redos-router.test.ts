/**
 * ReDoS regression in the router (API4): a segment template with several variables was matched
 * with `^L0(.+?)L1(.+?)…$`, which backtracks polynomially (cubic with three variables) on a
 * segment that does not match. The hand matcher must give exactly the captures the regex gave.
 * No timing threshold: the runner's timeout fails a match that does not finish.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadApi } from '../../src/openapi/load.js';
import type { RouteMatch } from '../../src/openapi/types.js';
import { tempDir } from '../helpers/tmp.js';

const dir = tempDir('rampart-redos-router-');
after(() => dir.remove());

const ok = { '200': { description: 'ok' } };
const op = (id: string, params: string[]) => ({
  operationId: id,
  parameters: params.map((name) => ({ name, in: 'path', required: true, schema: { type: 'string' } })),
  responses: ok,
});
const file = join(dir.path, 'spec.json');
writeFileSync(
  file,
  JSON.stringify({
    openapi: '3.0.3',
    info: { title: 't', version: '1' },
    paths: {
      '/r/{a}-{b}-{c}.json': { get: op('three', ['a', 'b', 'c']) },
      '/s/{x}{y}': { get: op('glued', ['x', 'y']) },
    },
  }),
);
const model = await loadApi({ name: 't', file, qualifyScopes: false, closedObjects: false, reservedPrefix: '/.rampart' });

function params(m: RouteMatch): Record<string, string> | undefined {
  return m.kind === 'found' ? m.pathParams : undefined;
}

test('API4: a 100k-character segment of separators that does not match is answered with not-found', () => {
  assert.deepEqual(model.match('GET', '/r/' + '-'.repeat(100_000)), { kind: 'not-found' });
  assert.deepEqual(model.match('GET', '/r/' + '-'.repeat(100_000) + '.jso'), { kind: 'not-found' });
});

test('API4: a 100k-character segment that matches gets the captures the lazy regex gave', () => {
  const p = params(model.match('GET', '/r/' + '-'.repeat(100_000) + '.json'));
  assert.ok(p);
  assert.equal(p['a'], '-');
  assert.equal(p['b'], '-');
  assert.equal(p['c'], '-'.repeat(100_000 - 4));
});

test('mixed segments: each variable the shortest that lets the rest match, at least one character', () => {
  assert.deepEqual(params(model.match('GET', '/r/1-2-3.json')), { a: '1', b: '2', c: '3' });
  assert.deepEqual(params(model.match('GET', '/r/a-b-c-d.json')), { a: 'a', b: 'b', c: 'c-d' });
  assert.deepEqual(params(model.match('GET', '/r/a--b-c.json')), { a: 'a', b: '-b', c: 'c' });
  assert.deepEqual(model.match('GET', '/r/a-b-.json'), { kind: 'not-found' });
  assert.deepEqual(model.match('GET', '/r/-.json'), { kind: 'not-found' });
  assert.deepEqual(params(model.match('GET', '/s/abc')), { x: 'a', y: 'bc' });
  assert.deepEqual(model.match('GET', '/s/a'), { kind: 'not-found' });
});
