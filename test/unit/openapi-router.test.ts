/**
 * Routing over the OpenAPI inventory (API9): 404 for unknown paths, 405 with the declared
 * methods, literal segments before templates (OpenAPI 3.1 §4.8.8.2), mixed segments
 * (`{name}.json`), percent-decoded parameters, and no implicit HEAD.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadApi } from '../../src/openapi/load.js';
import type { ApiModel, RouteMatch } from '../../src/openapi/types.js';
import { tempDir } from '../helpers/tmp.js';

const dir = tempDir('rampart-openapi-router-');
after(() => dir.remove());

const ok = { '200': { description: 'ok' } };
const op = (id: string, params: string[] = []) => ({
  operationId: id,
  parameters: params.map((name) => ({ name, in: 'path', required: true, schema: { type: 'string' } })),
  responses: ok,
});

async function api(paths: Record<string, unknown>): Promise<ApiModel> {
  const file = join(dir.path, `spec-${Math.random().toString(36).slice(2)}.json`);
  writeFileSync(file, JSON.stringify({ openapi: '3.0.3', info: { title: 't', version: '1' }, paths }));
  return loadApi({ name: 't', file, qualifyScopes: false, closedObjects: false, reservedPrefix: '/.rampart' });
}

function found(m: RouteMatch): { id: string; params: Record<string, string> } {
  assert.equal(m.kind, 'found', JSON.stringify(m));
  const f = m as Extract<RouteMatch, { kind: 'found' }>;
  return { id: f.operation.id, params: f.pathParams };
}

const model = await api({
  '/accounts': { get: op('list'), post: op('create') },
  '/accounts/me': { get: op('me') },
  '/accounts/{id}': { get: op('get', ['id']), delete: op('del', ['id']) },
  '/accounts/{id}/orders/open': { get: op('openOrders', ['id']) },
  '/accounts/{id}/statement': { get: op('statement', ['id']) },
  '/accounts/{id}/orders/{orderId}': { get: op('order', ['id', 'orderId']) },
  '/accounts/me/orders/{orderId}': { get: op('myOrder', ['orderId']) },
  '/files/{name}.json': { get: op('json', ['name']) },
  '/files/{name}.{ext}': { get: op('any', ['name', 'ext']) },
  '/files/{name}': { get: op('plain', ['name']) },
  '/v{major}/status': { get: op('status', ['major']) },
  '/': { get: op('root') },
  '/trailing/': { get: op('trailing') },
  '/café': { get: op('cafe') },
});

test('unknown path is not-found; known path with another method is method-not-allowed', () => {
  assert.deepEqual(model.match('GET', '/nope'), { kind: 'not-found' });
  assert.deepEqual(model.match('GET', '/accounts/1/orders'), { kind: 'not-found' });
  const m = model.match('PATCH', '/accounts/7');
  assert.equal(m.kind, 'method-not-allowed');
  assert.deepEqual((m as { allowed: string[] }).allowed, ['GET', 'DELETE']);
});

test('HEAD is not implied by GET (only declared methods exist)', () => {
  const m = model.match('HEAD', '/accounts');
  assert.equal(m.kind, 'method-not-allowed');
  assert.deepEqual((m as { allowed: string[] }).allowed, ['GET', 'POST']);
});

test('literal segments win over templates, with backtracking at dead ends', () => {
  assert.equal(found(model.match('GET', '/accounts/me')).id, 'me');
  assert.deepEqual(found(model.match('GET', '/accounts/42')), { id: 'get', params: { id: '42' } });
  assert.deepEqual(found(model.match('GET', '/accounts/me/orders/9')), { id: 'myOrder', params: { orderId: '9' } });
  // Precedence is decided segment by segment: 'me' (literal) before {id}, then {orderId}.
  assert.deepEqual(found(model.match('GET', '/accounts/me/orders/open')), { id: 'myOrder', params: { orderId: 'open' } });
  // 'me' is a literal, but /accounts/me/statement only exists under the template: backtrack.
  assert.deepEqual(found(model.match('GET', '/accounts/me/statement')), { id: 'statement', params: { id: 'me' } });
  assert.deepEqual(found(model.match('GET', '/accounts/5/orders/open')), { id: 'openOrders', params: { id: '5' } });
  assert.deepEqual(found(model.match('GET', '/accounts/5/orders/77')), { id: 'order', params: { id: '5', orderId: '77' } });
});

test('templates mixed with literals in one segment', () => {
  assert.deepEqual(found(model.match('GET', '/files/report.json')), { id: 'json', params: { name: 'report' } });
  assert.deepEqual(found(model.match('GET', '/files/report.csv')), { id: 'any', params: { name: 'report', ext: 'csv' } });
  assert.deepEqual(found(model.match('GET', '/files/report')), { id: 'plain', params: { name: 'report' } });
  assert.deepEqual(found(model.match('GET', '/v2/status')), { id: 'status', params: { major: '2' } });
  // A variable matches at least one character.
  assert.equal(found(model.match('GET', '/files/.json')).id, 'plain');
  assert.deepEqual(model.match('GET', '/v/status'), { kind: 'not-found' });
});

test('a template matches exactly one non-empty segment', () => {
  assert.deepEqual(model.match('GET', '/accounts/'), { kind: 'not-found' });
  assert.deepEqual(model.match('GET', '/accounts//orders/open'), { kind: 'not-found' });
  assert.deepEqual(model.match('GET', '/accounts/1/2'), { kind: 'not-found' });
});

test('root and trailing-slash paths are distinct routes', () => {
  assert.equal(found(model.match('GET', '/')).id, 'root');
  assert.equal(found(model.match('GET', '/trailing/')).id, 'trailing');
  assert.deepEqual(model.match('GET', '/trailing'), { kind: 'not-found' });
  assert.deepEqual(model.match('GET', ''), { kind: 'not-found' });
  assert.deepEqual(model.match('GET', 'accounts'), { kind: 'not-found' });
});

test('path parameters are percent-decoded; malformed encoding is not-found, never a throw', () => {
  assert.deepEqual(found(model.match('GET', '/accounts/a%20b')).params, { id: 'a b' });
  assert.deepEqual(found(model.match('GET', '/accounts/%E2%82%AC')).params, { id: '€' });
  assert.deepEqual(found(model.match('GET', '/files/a%2Fb.json')).params, { name: 'a/b' });
  assert.deepEqual(model.match('GET', '/accounts/%E2%82'), { kind: 'not-found' });
  assert.deepEqual(model.match('GET', '/accounts/%zz'), { kind: 'not-found' });
});

test('a literal with non-ASCII characters matches its canonical percent-encoded form', () => {
  assert.equal(found(model.match('GET', '/caf%C3%A9')).id, 'cafe');
});

test('templates of the same shape with different names are refused at load', async () => {
  await assert.rejects(api({ '/a/{id}': { get: op('a', ['id']) }, '/a/{key}': { post: op('b', ['key']) } }), /ambiguous/);
});

test('routing a large inventory stays a trie walk (1,200 operations)', async () => {
  const paths: Record<string, unknown> = {};
  for (let i = 0; i < 300; i++) {
    paths[`/r${i}/items`] = { get: op(`l${i}`), post: op(`c${i}`) };
    paths[`/r${i}/items/{id}`] = { get: op(`g${i}`, ['id']), put: op(`p${i}`, ['id']) };
  }
  const big = await api(paths);
  assert.equal(big.operations.length, 1200);
  for (let i = 0; i < 300; i += 37) {
    assert.equal(found(big.match('PUT', `/r${i}/items/x`)).id, `p${i}`);
    assert.equal(found(big.match('POST', `/r${i}/items`)).id, `c${i}`);
  }
});
