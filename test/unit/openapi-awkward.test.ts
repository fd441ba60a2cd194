/**
 * A large, awkward generated document (660 operations, ~3 MB; see test/helpers/awkward-spec.ts):
 * it loads without compiling anything, reports its load time, routes every operation and
 * validates a real request for each. No wall-clock assertions (DESIGN: speed is measured by
 * bench/openapi-micro.ts, never by a timed test).
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { loadApi, apiStats, LOAD_CHANNEL } from '../../src/openapi/load.js';
import type { ApiModel, RouteMatch } from '../../src/openapi/types.js';
import { writeAwkwardSpec } from '../helpers/awkward-spec.js';
import { tempDir } from '../helpers/tmp.js';

const dir = tempDir('rampart-openapi-awkward-');
after(() => dir.remove());
const spec = writeAwkwardSpec(dir.path);

const events: { name: string; ms: number; operations: number }[] = [];
const onLoad = (m: unknown): void => void events.push(m as { name: string; ms: number; operations: number });
subscribe(LOAD_CHANNEL, onLoad);
const api = await loadApi({ name: 'awkward', file: spec.file, qualifyScopes: false, closedObjects: true, reservedPrefix: '/.rampart' });
unsubscribe(LOAD_CHANNEL, onLoad);

function found(m: RouteMatch) {
  assert.equal(m.kind, 'found', JSON.stringify(m));
  return m as Extract<RouteMatch, { kind: 'found' }>;
}

test('the generated document is large and awkward', () => {
  assert.ok(spec.bytes > 2_500_000, `${spec.bytes} bytes`);
  assert.equal(spec.operations, 660);
});

test('it loads with nothing compiled, and the load time is reported', (t) => {
  const st = apiStats(api);
  assert.equal(st.operations, 660);
  assert.equal(st.schemaCompiles, 0);
  assert.equal(st.compiledOperations, 0);
  assert.ok(st.loadMs > 0 && st.parseMs > 0);
  assert.equal(events.length, 1);
  assert.equal(events[0]!.name, 'awkward');
  assert.equal(events[0]!.operations, 660);
  assert.ok(events[0]!.ms > 0);
  // Shown in the test output, not asserted.
  t.diagnostic(`awkward spec: ${(spec.bytes / 1e6).toFixed(2)} MB, ${st.operations} operations, load ${st.loadMs.toFixed(1)} ms (parse ${st.parseMs.toFixed(1)} ms)`);
});

test('unknown formats and the unusable discriminator are warnings, not failures', () => {
  assert.ok(api.warnings.some((w) => /unknown format.*decimal.*iban.*line-code.*ticker/.test(w)), api.warnings.join('\n'));
  assert.ok(api.warnings.some((w) => /Event: discriminator/.test(w)), api.warnings.join('\n'));
});

test('every operation routes to itself with its path parameters', () => {
  for (const s of spec.samples) {
    const m = found(api.match(s.method, s.path));
    assert.equal(m.operation.id, s.id, s.path);
    assert.equal(m.operation.route, s.route);
    assert.deepEqual(m.pathParams, s.pathParams, s.path);
  }
});

test('every operation validates its sample request, compiling lazily', (t) => {
  for (const s of spec.samples) {
    const m = found(api.match(s.method, s.path));
    const r = m.operation.validate({ pathParams: m.pathParams, rawQuery: s.rawQuery, headers: s.headers, body: s.body === undefined ? undefined : Buffer.from(s.body) });
    assert.ok(r.ok, `${s.id}: ${r.ok ? '' : JSON.stringify(r.error)}`);
  }
  const st = apiStats(api);
  assert.equal(st.compiledOperations, 660);
  // Shared schemas are compiled once, not once per operation.
  assert.ok(st.schemaCompiles < 660, `${st.schemaCompiles} compiles`);
  t.diagnostic(`compiled ${st.schemaCompiles} schemas in ${st.compileMs.toFixed(0)} ms`);
});

test('literal vs template, 404 and 405 across shared prefixes', () => {
  assert.equal(found(api.match('GET', '/g7/items/search')).operation.id, 'searchItems7');
  assert.equal(found(api.match('GET', '/g7/items/77')).operation.id, 'getItem7');
  assert.equal(found(api.match('GET', '/g7/files/x.json')).operation.id, 'getFile7');
  assert.deepEqual(api.match('GET', '/g7/files/x.xml'), { kind: 'not-found' });
  assert.deepEqual(api.match('GET', '/g7/unknown'), { kind: 'not-found' });
  assert.deepEqual(api.match('GET', '/g999/items'), { kind: 'not-found' });
  const m = api.match('POST', '/g7/items/search');
  assert.deepEqual(m, { kind: 'method-not-allowed', allowed: ['GET'] });
});

function validate(method: string, path: string, rawQuery = '', body?: unknown, ct = 'application/json') {
  const m = found(api.match(method, path));
  return m.operation.validate({
    pathParams: m.pathParams,
    rawQuery,
    headers: body === undefined ? {} : { 'content-type': ct },
    body: body === undefined ? undefined : Buffer.from(typeof body === 'string' ? body : JSON.stringify(body)),
  });
}

function failsAt(r: ReturnType<typeof validate>, pointer: string, message?: RegExp) {
  assert.equal(r.ok, false);
  if (r.ok) return;
  assert.equal(r.error.pointer, pointer, JSON.stringify(r.error));
  if (message) assert.match(r.error.message, message);
}

test('awkward schemas reject what they should', () => {
  const item = { name: 'n', instrument: { kind: 'equity', symbol: 'X' } };
  failsAt(validate('GET', '/g3/items/search'), '/query/q', /is required/);
  failsAt(validate('GET', '/g3/items/0'), '/path/itemId', /must be >= 1/);
  failsAt(validate('POST', '/g3/items', '', { ...item, instrument: { kind: 'crypto' } }), '/body/instrument/kind', /allowed values/);
  failsAt(validate('POST', '/g3/items', '', { ...item, instrument: { kind: 'fixed' } }), '/body/instrument/coupon', /is required/);
  failsAt(validate('POST', '/g3/items', '', { ...item, instrument: { kind: 'fixed', coupon: 100 } }), '/body/instrument/coupon', /must be < 100/);
  failsAt(validate('POST', '/g3/items', '', { ...item, field1: 0 }), '/body/field1', /must be > 0/);
  failsAt(validate('POST', '/g3/items', '', { ...item, field0: 5 }), '/body/field0', /string or null/);
  failsAt(validate('POST', '/g3/items', '', { ...item, field3: 5 }), '/body/field3', /must be/);
  failsAt(validate('POST', '/g3/items', '', { ...item, field6: 6 }), '/body/field6', /must be <= 5/);
  // exclusiveMaximum: false keeps the bound inclusive.
  assert.ok(validate('POST', '/g3/items', '', { ...item, field6: 5 }).ok);
  failsAt(validate('POST', '/g3/items', '', { ...item, id: 1 }), '/body/id', /read-only/);
  failsAt(validate('POST', '/g3/items', '', { ...item, levels: { depth: 0, next: { depth: 1, next: { depth: 3 } } } }), '/body/levels/next/next/depth', /must be <= 2|must be >= 2/);
  failsAt(validate('POST', '/g3/items', '', { ...item, instrument: { kind: 'equity', exchange: 'XLON' } }), '/body/instrument/exchange', /allowed values/);
  failsAt(validate('POST', '/g3/items', '', { ...item, field7: { inner: { leaf: true, extra: 1 } } }), '/body/field7/inner', /must not have property 'extra'/);
  failsAt(validate('POST', '/g3/trees', '', { label: 'r', children: [{ label: 'a', weight: 0 }] }), '/body/children/0/weight', /must be > 0/);
  failsAt(validate('POST', '/g3/trees', '', { label: 'r', parent: { label: 5 } }), '/body/parent/label', /must be string/);
  failsAt(validate('POST', '/g3/events', '', { type: 'open' }), '/body/at', /is required/);
  failsAt(validate('PATCH', '/g3/items/5', '', { name: 'x', field1: -1 }, 'application/merge-patch+json'), '/body/field1', /must be >= 0/);
  failsAt(validate('PATCH', '/g3/items/5', '', { name: 'x', isAdmin: true }, 'application/merge-patch+json'), '/body', /must not have property 'isAdmin'/);
});

test('the same document without closedObjects accepts undeclared properties', async () => {
  const openApi: ApiModel = await loadApi({ name: 'awkward', file: spec.file, qualifyScopes: false, closedObjects: false, reservedPrefix: '/.rampart' });
  const m = found(openApi.match('PATCH', '/g3/items/5'));
  const r = m.operation.validate({ pathParams: m.pathParams, rawQuery: '', headers: { 'content-type': 'application/merge-patch+json' }, body: Buffer.from('{"name":"x","isAdmin":true}') });
  assert.ok(r.ok);
});
