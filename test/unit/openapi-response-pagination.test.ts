/**
 * Pagination limits from the OpenAPI document (API4): the page-size query parameter of each
 * operation, and the number of records in a list response (top-level array, or the array under
 * the response object's one array-valued property), used for data-volume quotas and to refuse a
 * response with more items than the cap.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadApi } from '../../src/openapi/load.js';
import { findPageSizeParam, listShape, countWithShape } from '../../src/openapi/pagination.js';
import type { ApiModel, OperationModel } from '../../src/openapi/types.js';
import type { JsonObject } from '../../src/openapi/resolve-refs.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const fixtures = join(root, 'test', 'fixtures', 'openapi');
const load = (file: string): Promise<ApiModel> => loadApi({ name: 'p', file, qualifyScopes: false, closedObjects: true, reservedPrefix: '/.rampart' });
const api = await load(join(fixtures, 'response-contract.yaml'));
const multi = await load(join(fixtures, 'response-multi.yaml'));
const op = (id: string, model: ApiModel = api): OperationModel => {
  const o = model.operations.find((x) => x.id === id);
  assert.ok(o, id);
  return o;
};

test('pageSizeParam: a conventional name with an integer schema, first by preference', () => {
  assert.equal(op('listAccounts').pageSizeParam, 'limit');
  // `limit` is a string there: not a page size; `per_page` is a nullable integer.
  assert.equal(op('listPositions').pageSizeParam, 'per_page');
  // Behind a $ref; preferred to `count`.
  assert.equal(op('search').pageSizeParam, 'pageSize');
  // A referenced parameter in another file, 3.1 type [integer, null].
  assert.equal(op('listCustomers', multi).pageSizeParam, 'max_results');
  assert.equal(op('getAccount').pageSizeParam, undefined);
  assert.equal('pageSizeParam' in op('getAccount'), false);
});

test('findPageSizeParam ignores path/header parameters and non-integers', () => {
  const doc = { components: { schemas: { N: { type: 'number' } } } };
  assert.equal(findPageSizeParam(doc, [{ name: 'limit', in: 'header', schema: { type: 'integer' } }]), undefined);
  assert.equal(findPageSizeParam(doc, [{ name: 'limit', in: 'query', schema: { $ref: '#/components/schemas/N' } }]), undefined);
  assert.equal(findPageSizeParam(doc, [{ name: 'top', in: 'query', schema: { type: 'boolean' } }]), undefined);
  assert.equal(findPageSizeParam(doc, [{ name: 'Limit', in: 'query', schema: { type: 'integer' } }]), undefined);
  assert.equal(
    findPageSizeParam(doc, [
      { name: 'count', in: 'query', schema: { type: 'integer' } },
      { name: '$top', in: 'query', schema: { anyOf: [{ type: 'integer' }, { type: 'null' }] } },
    ]),
    '$top',
  );
});

test('countRecords: the array under the one array property, or the top-level array', () => {
  const page = { data: [{}, {}, {}], has_more: true, next: 'c2' };
  assert.equal(op('listAccounts').countRecords(200, page), 3);
  assert.equal(op('listPositions').countRecords(200, [1, 2]), 2);
  assert.equal(op('listPositions').countRecords(206, []), 0, '2XX range');
  // Several arrays: the conventional list name wins (items over warnings).
  assert.equal(op('search').countRecords(200, { total: 9, items: [1, 2, 3, 4], warnings: ['w'] }), 4);
  assert.equal(op('listCustomers', multi).countRecords(200, { results: [{}, {}], nextPageToken: null }), 2);
});

test('countRecords is undefined for non-lists, other statuses and bodies of another shape', () => {
  assert.equal(op('getAccount').countRecords(200, { id: 1 }), undefined, 'not a list');
  assert.equal(op('listReports').countRecords(200, { daily: [1], monthly: [2] }), undefined, 'two arrays, neither conventional');
  assert.equal(op('listPositions').countRecords(500, [1, 2]), undefined, 'errors are not pages');
  assert.equal(op('listAccounts').countRecords(401, { data: [1] }), undefined);
  assert.equal(op('listAccounts').countRecords(200, [1, 2]), undefined, 'body is not the declared shape');
  assert.equal(op('listAccounts').countRecords(200, { data: 'x' }), undefined);
  assert.equal(op('listPositions').countRecords(200, { data: [1] }), undefined);
  assert.equal(op('closeAccount').countRecords(204, undefined), undefined);
});

test('a page-size cap: refuse a request above it and a response with more records than it', () => {
  const cap = 2;
  const list = op('listAccounts');
  const param = list.pageSizeParam!;
  const query = new URLSearchParams({ [param]: '50' });
  assert.ok(Number(query.get(param)) > cap, 'the integrator refuses or clamps this request');
  const response = { data: [{}, {}, {}], has_more: false };
  assert.ok(list.countRecords(200, response)! > cap, 'and refuses this response');
});

test('listShape follows $ref, allOf, nullable alternatives', () => {
  const doc: JsonObject = {
    components: {
      schemas: {
        Arr: { type: 'array', items: {} },
        Page: { allOf: [{ $ref: '#/components/schemas/Meta' }, { type: 'object', properties: { entries: { $ref: '#/components/schemas/Arr' } } }] },
        Meta: { type: 'object', properties: { total: { type: 'integer' } } },
      },
    },
  };
  assert.deepEqual(listShape(doc, { $ref: '#/components/schemas/Arr' }), { kind: 'array' });
  assert.deepEqual(listShape(doc, { anyOf: [{ $ref: '#/components/schemas/Arr' }, { type: 'null' }] }), { kind: 'array' });
  assert.deepEqual(listShape(doc, { $ref: '#/components/schemas/Page' }), { kind: 'property', name: 'entries' });
  assert.deepEqual(listShape(doc, { type: ['array', 'null'], items: {} }), { kind: 'array' });
  assert.equal(listShape(doc, { type: 'object', properties: { a: { type: 'string' } } }), undefined);
  assert.equal(listShape(doc, { oneOf: [{ type: 'array' }, { type: 'object' }] }), undefined);
  assert.equal(countWithShape({ kind: 'property', name: 'entries' }, { entries: [1] }), 1);
  assert.equal(countWithShape({ kind: 'property', name: 'entries' }, Object.create({ entries: [1] })), undefined, 'own properties only');
});
