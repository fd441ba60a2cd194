/**
 * Generates a large, awkward OpenAPI 3.0 document of the kind real APIs publish: hundreds of
 * operations, several MB, 3.0 `nullable`, boolean `exclusiveMinimum`, discriminators with and
 * without mapping, oneOf/anyOf/allOf, recursive schemas, formats no validator knows, examples,
 * xml and x-* noise, deep nesting, and path templates that share prefixes with literals
 * (`/items/search` next to `/items/{itemId}`). Written to a folder as JSON (what large vendors
 * ship; optionally YAML). Each operation comes with a concrete request that must route to it and
 * validate, so a test can check the whole inventory.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify as toYaml } from 'yaml';

export interface AwkwardSample {
  id: string;
  method: string;
  route: string;
  /** A concrete path that must route to this operation. */
  path: string;
  pathParams: Record<string, string>;
  rawQuery: string;
  headers: Record<string, string>;
  body?: string;
}

export interface AwkwardSpec {
  file: string;
  bytes: number;
  operations: number;
  samples: AwkwardSample[];
}

export interface AwkwardOptions {
  /** Groups of ten operations each (default 60: 600 operations). */
  groups?: number;
  format?: 'json' | 'yaml';
  /** Characters of description per property; pads the document to a realistic size. */
  padding?: number;
}

type Obj = Record<string, unknown>;

const words = 'account balance settlement custody ledger position order trade margin collateral exposure limit statement'.split(' ');
function prose(n: number, seed: number): string {
  let s = '';
  for (let i = 0; s.length < n; i++) s += words[(seed * 7 + i * 3) % words.length] + (i % 9 === 8 ? '. ' : ' ');
  return s.trim();
}

export function writeAwkwardSpec(dir: string, options: AwkwardOptions = {}): AwkwardSpec {
  const groups = options.groups ?? 60;
  const pad = options.padding ?? 1700;
  const schemas: Obj = {};
  const paths: Obj = {};
  const samples: AwkwardSample[] = [];

  // Shared, awkward building blocks.
  schemas['Money'] = {
    type: 'object',
    required: ['amount', 'currency'],
    properties: {
      amount: { type: 'string', format: 'decimal', example: '10.00' },
      currency: { type: 'string', pattern: '^[A-Z]{3}$', xml: { attribute: true } },
    },
    example: { amount: '1.00', currency: 'USD' },
  };
  schemas['TreeNode'] = {
    type: 'object',
    required: ['label'],
    properties: {
      label: { type: 'string', maxLength: 40 },
      weight: { type: 'number', minimum: 0, exclusiveMinimum: true, nullable: true },
      children: { type: 'array', items: { $ref: '#/components/schemas/TreeNode' } },
      parent: { allOf: [{ $ref: '#/components/schemas/TreeNode' }], nullable: true },
    },
  };
  schemas['Instrument'] = {
    type: 'object',
    required: ['kind'],
    properties: { kind: { type: 'string' }, symbol: { type: 'string', format: 'ticker' } },
    discriminator: { propertyName: 'kind', mapping: { equity: '#/components/schemas/Stock', fixed: 'Bond' } },
    oneOf: [{ $ref: '#/components/schemas/Stock' }, { $ref: '#/components/schemas/Bond' }, { $ref: '#/components/schemas/Future' }],
  };
  schemas['InstrumentBase'] = { type: 'object', properties: { kind: { type: 'string' }, symbol: { type: 'string' } } };
  schemas['Stock'] = {
    allOf: [{ $ref: '#/components/schemas/InstrumentBase' }, { type: 'object', properties: { exchange: { type: 'string', enum: ['XNYS', 'XNAS'] } } }],
  };
  schemas['Bond'] = {
    allOf: [
      { $ref: '#/components/schemas/InstrumentBase' },
      { type: 'object', required: ['coupon'], properties: { coupon: { type: 'number', minimum: 0, maximum: 100, exclusiveMaximum: true } } },
    ],
  };
  schemas['Future'] = { type: 'object', properties: { kind: { type: 'string' }, expiry: { type: 'string', format: 'date' } } };
  // A discriminator with no mapping over inline alternatives: falls back to oneOf (with a warning).
  schemas['Event'] = {
    oneOf: [
      { type: 'object', required: ['type', 'at'], properties: { type: { type: 'string', enum: ['open'] }, at: { type: 'string', format: 'date-time' } } },
      { type: 'object', required: ['type', 'reason'], properties: { type: { type: 'string', enum: ['close'] }, reason: { type: 'string' } } },
    ],
    discriminator: { propertyName: 'type' },
  };
  // Deep nesting: Level0 → Level1 → ... → Level9.
  for (let d = 0; d < 10; d++) {
    schemas[`Level${d}`] = {
      type: 'object',
      properties: {
        depth: { type: 'integer', minimum: d, maximum: d },
        ...(d < 9 ? { next: { $ref: `#/components/schemas/Level${d + 1}`, nullable: true } } : {}),
      },
    };
  }

  for (let g = 0; g < groups; g++) {
    const props: Obj = {};
    for (let k = 0; k < 24; k++) {
      const name = `field${k}`;
      const base = { description: prose(pad, g * 31 + k), example: `example ${k}`, 'x-order': k };
      switch (k % 8) {
        case 0:
          props[name] = { ...base, type: 'string', nullable: true, maxLength: 64 };
          break;
        case 1:
          props[name] = { ...base, type: 'integer', minimum: 0, exclusiveMinimum: true, maximum: 1000 };
          break;
        case 2:
          props[name] = { ...base, type: 'string', format: k % 16 === 2 ? 'iban' : 'date-time' };
          break;
        case 3:
          props[name] = { ...base, anyOf: [{ type: 'string' }, { $ref: '#/components/schemas/Money' }], nullable: true };
          break;
        case 4:
          props[name] = { ...base, type: 'array', items: { type: 'string', enum: ['a', 'b', 'c'] }, maxItems: 5 };
          break;
        case 5:
          props[name] = { ...base, $ref: '#/components/schemas/Money' };
          break;
        case 6:
          props[name] = { ...base, type: 'number', minimum: -5, maximum: 5, exclusiveMaximum: false, xml: { name: 'n' } };
          break;
        default:
          props[name] = { ...base, type: 'object', properties: { inner: { type: 'object', properties: { leaf: { type: 'boolean' } } } } };
      }
    }
    schemas[`Item${g}`] = {
      type: 'object',
      required: ['name', 'instrument'],
      description: prose(pad * 2, g),
      externalDocs: { url: `https://docs.example.com/item/${g}` },
      properties: {
        id: { type: 'integer', readOnly: true },
        name: { type: 'string', minLength: 1, maxLength: 80 },
        instrument: { $ref: '#/components/schemas/Instrument' },
        levels: { $ref: '#/components/schemas/Level0' },
        ...props,
      },
      'x-generated': true,
    };
    schemas[`ItemPatch${g}`] = {
      allOf: [{ $ref: `#/components/schemas/ItemCore${g}` }, { type: 'object', properties: { note: { type: 'string', nullable: true } } }],
    };
    schemas[`ItemCore${g}`] = { type: 'object', properties: { name: { type: 'string' }, field1: { type: 'integer', minimum: 0 } } };

    const base = `/g${g}`;
    const itemRef = { $ref: `#/components/schemas/Item${g}` };
    const listResponse = {
      '200': {
        description: prose(80, g),
        content: { 'application/json': { schema: { type: 'object', properties: { data: { type: 'array', items: itemRef }, next: { type: 'string', nullable: true } } } } },
      },
      default: { description: 'error', content: { 'application/problem+json': { schema: { type: 'object', properties: { code: { type: 'string' } } } } } },
    };
    const itemId = String(1000 + g);
    const validItem = JSON.stringify({
      name: `item ${g}`,
      instrument: g % 2 === 0 ? { kind: 'equity', symbol: 'ACME', exchange: 'XNYS' } : { kind: 'fixed', coupon: 4.5 },
      field0: null,
      field1: 7,
      field3: { amount: '1.00', currency: 'EUR' },
      field4: ['a', 'c'],
      levels: { depth: 0, next: { depth: 1, next: null } },
    });

    paths[`${base}/items`] = {
      get: {
        operationId: `listItems${g}`,
        parameters: [
          { name: 'limit', in: 'query', schema: { type: 'integer', minimum: 1, maximum: 100 } },
          { name: 'status', in: 'query', schema: { type: 'array', items: { type: 'string' } } },
          { name: 'filter', in: 'query', style: 'deepObject', schema: { type: 'object', properties: { min: { type: 'number' }, max: { type: 'number' } } } },
        ],
        responses: listResponse,
      },
      post: {
        operationId: `createItem${g}`,
        requestBody: { required: true, content: { 'application/json': { schema: itemRef } } },
        responses: { '201': { description: 'created', content: { 'application/json': { schema: itemRef } } } },
      },
    };
    paths[`${base}/items/search`] = {
      get: {
        operationId: `searchItems${g}`,
        parameters: [{ name: 'q', in: 'query', required: true, schema: { type: 'string', minLength: 2 } }],
        responses: listResponse,
      },
    };
    const idParam = { name: 'itemId', in: 'path', required: true, schema: { type: 'integer', minimum: 1 } };
    paths[`${base}/items/{itemId}`] = {
      parameters: [idParam],
      get: { operationId: `getItem${g}`, responses: { '200': { description: 'ok', content: { 'application/json': { schema: itemRef } } } } },
      put: {
        operationId: `replaceItem${g}`,
        requestBody: { required: true, content: { 'application/json': { schema: itemRef } } },
        responses: { '200': { description: 'ok' } },
      },
      patch: {
        operationId: `patchItem${g}`,
        requestBody: { content: { 'application/merge-patch+json': { schema: { $ref: `#/components/schemas/ItemPatch${g}` } } } },
        responses: { '200': { description: 'ok' } },
      },
      delete: { operationId: `deleteItem${g}`, security: [], responses: { '204': { description: 'gone' } } },
    };
    paths[`${base}/items/{itemId}/lines/{lineId}`] = {
      get: {
        operationId: `getLine${g}`,
        parameters: [idParam, { name: 'lineId', in: 'path', required: true, schema: { type: 'string', format: 'line-code' } }],
        responses: { '200': { description: 'ok' } },
      },
    };
    paths[`${base}/files/{name}.json`] = {
      get: {
        operationId: `getFile${g}`,
        parameters: [{ name: 'name', in: 'path', required: true, schema: { type: 'string' } }],
        responses: { '200': { description: 'ok' } },
      },
    };
    paths[`${base}/trees`] = {
      post: {
        operationId: `postTree${g}`,
        requestBody: { required: true, content: { 'application/json': { schema: { $ref: '#/components/schemas/TreeNode' } } } },
        responses: { '204': { description: 'ok' } },
      },
    };
    paths[`${base}/events`] = {
      post: {
        operationId: `postEvent${g}`,
        requestBody: { required: true, content: { 'application/json': { schema: { $ref: '#/components/schemas/Event' } } } },
        responses: { '202': { description: 'queued' } },
      },
    };

    const json = { 'content-type': 'application/json' };
    const s = (id: string, method: string, route: string, path: string, extra: Partial<AwkwardSample> = {}): void => {
      samples.push({ id, method, route, path, pathParams: {}, rawQuery: '', headers: {}, ...extra });
    };
    s(`listItems${g}`, 'GET', `${base}/items`, `${base}/items`, { rawQuery: 'limit=10&status=a&status=b&filter[min]=1.5' });
    s(`createItem${g}`, 'POST', `${base}/items`, `${base}/items`, { headers: json, body: validItem });
    s(`searchItems${g}`, 'GET', `${base}/items/search`, `${base}/items/search`, { rawQuery: 'q=bonds' });
    s(`getItem${g}`, 'GET', `${base}/items/{itemId}`, `${base}/items/${itemId}`, { pathParams: { itemId } });
    s(`replaceItem${g}`, 'PUT', `${base}/items/{itemId}`, `${base}/items/${itemId}`, { pathParams: { itemId }, headers: json, body: validItem });
    s(`patchItem${g}`, 'PATCH', `${base}/items/{itemId}`, `${base}/items/${itemId}`, {
      pathParams: { itemId },
      headers: { 'content-type': 'application/merge-patch+json' },
      body: JSON.stringify({ name: 'x', note: null }),
    });
    s(`deleteItem${g}`, 'DELETE', `${base}/items/{itemId}`, `${base}/items/${itemId}`, { pathParams: { itemId } });
    s(`getLine${g}`, 'GET', `${base}/items/{itemId}/lines/{lineId}`, `${base}/items/${itemId}/lines/L%20${g}`, { pathParams: { itemId, lineId: `L ${g}` } });
    s(`getFile${g}`, 'GET', `${base}/files/{name}.json`, `${base}/files/report-${g}.json`, { pathParams: { name: `report-${g}` } });
    s(`postTree${g}`, 'POST', `${base}/trees`, `${base}/trees`, {
      headers: json,
      body: JSON.stringify({ label: 'root', weight: null, children: [{ label: 'a', weight: 0.5, children: [{ label: 'b' }] }] }),
    });
    s(`postEvent${g}`, 'POST', `${base}/events`, `${base}/events`, { headers: json, body: JSON.stringify({ type: 'close', reason: 'done' }) });
  }

  const doc = {
    openapi: '3.0.3',
    info: { title: 'Awkward (generated)', version: '9.9.9', description: prose(2000, 1) },
    externalDocs: { url: 'https://example.com' },
    security: [{ bearer: ['items:read'] }],
    paths,
    components: {
      schemas,
      securitySchemes: { bearer: { type: 'oauth2', flows: { clientCredentials: { tokenUrl: 'https://auth.example.com/t', scopes: { 'items:read': 'r' } } } } },
    },
    'x-generator': { name: 'awkward-spec', seed: 1 },
  };
  const format = options.format ?? 'json';
  const text = format === 'json' ? JSON.stringify(doc) : toYaml(doc);
  const file = join(dir, `awkward.${format === 'json' ? 'json' : 'yaml'}`);
  writeFileSync(file, text);
  return { file, bytes: Buffer.byteLength(text), operations: samples.length, samples };
}
