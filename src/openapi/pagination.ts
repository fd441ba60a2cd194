/**
 * Pagination limits (OWASP API4, unrestricted resource consumption: "a pagination maximum"): which
 * query parameter of an operation sets the page size, so that the gateway can refuse or clamp a
 * request above the configured maximum, and how many records a list response carries, for
 * data-volume quotas and for refusing a response with more items than the cap.
 *
 * Both are read from the OpenAPI document, by convention: the parameter by its name (the names
 * the large public APIs use: `limit` for Stripe, `per_page` for GitHub, `$top`/`top` for OData and
 * Microsoft Graph, `page_size`, `max_results`...) and an integer type; the records of a list as the
 * top-level array, or the array under the response object's one array-valued property (`items`,
 * `data`, `results`...).
 */
import { type Json, type JsonObject, isObject, getAt, localRefPointer } from './resolve-refs.js';

/** Recognised page-size parameter names, in order of preference when an operation has several. */
export const PAGE_SIZE_NAMES: readonly string[] = Object.freeze([
  'limit', 'per_page', 'perPage', 'page_size', 'pageSize', 'size', 'top', '$top', 'count', 'max_results', 'maxResults',
]);

/**
 * Names that say "these are the records" when a list response has several array properties
 * (`{ data: [...], warnings: [...] }`): one of them, alone among the arrays, is chosen.
 */
export const LIST_PROPERTY_NAMES: ReadonlySet<string> = new Set([
  'items', 'data', 'results', 'records', 'entries', 'values', 'value', 'elements', 'list', 'content', 'objects', 'rows', 'hits', 'nodes', 'edges',
]);

const MAX_DEPTH = 16;

/** Follows a chain of local `$ref`s (bounded). */
function resolve(doc: JsonObject, schema: Json | undefined, depth = 0): Json | undefined {
  let cur = schema;
  for (let hops = 0; isObject(cur) && typeof cur['$ref'] === 'string' && hops < 32; hops++) {
    const p = localRefPointer(cur['$ref']);
    if (p === undefined) return undefined;
    cur = getAt(doc, p) as Json | undefined;
  }
  return depth > MAX_DEPTH ? undefined : cur;
}

function typesOf(s: JsonObject): string[] {
  const t = s['type'];
  return typeof t === 'string' ? [t] : Array.isArray(t) ? t.filter((x): x is string => typeof x === 'string') : [];
}

/** Alternatives of a schema that are not just `null` (3.0 nullable, after normalisation, is `anyOf: [S, {type: null}]`). */
function nonNullAlternatives(s: JsonObject): Json[] | undefined {
  const alts = Array.isArray(s['anyOf']) ? s['anyOf'] : Array.isArray(s['oneOf']) ? s['oneOf'] : undefined;
  if (!alts) return undefined;
  return alts.filter((a) => !(isObject(a) && typesOf(a).length === 1 && typesOf(a)[0] === 'null' && Object.keys(a).length === 1));
}

/**
 * Whether a query parameter's schema is an integer (`type: integer`, also with null, behind a
 * `$ref`, or as the one non-null alternative).
 */
function isIntegerSchema(doc: JsonObject, schema: Json | undefined, depth = 0): boolean {
  const s = resolve(doc, schema, depth);
  if (!isObject(s) || depth > MAX_DEPTH) return false;
  const types = typesOf(s);
  if (types.length > 0) return types.includes('integer') && types.every((t) => t === 'integer' || t === 'null');
  const alts = nonNullAlternatives(s);
  if (alts && alts.length === 1) return isIntegerSchema(doc, alts[0], depth + 1);
  const all = s['allOf'];
  return Array.isArray(all) && all.some((m) => isIntegerSchema(doc, m, depth + 1));
}

/**
 * The query parameter of an operation that sets its page size: the first of PAGE_SIZE_NAMES
 * (in that order) that the operation declares in `query` with an integer schema. `params` are the
 * dereferenced Parameter Objects (after path- and operation-level lists were merged).
 *
 * @example
 * findPageSizeParam(doc, [{ name: 'per_page', in: 'query', schema: { type: 'integer', maximum: 100 } }]); // 'per_page'
 * findPageSizeParam(doc, [{ name: 'limit', in: 'query', schema: { type: 'string' } }]);                     // undefined
 */
export function findPageSizeParam(doc: JsonObject, params: readonly JsonObject[]): string | undefined {
  let best: string | undefined;
  let bestRank = Infinity;
  for (const p of params) {
    if (p['in'] !== 'query' || typeof p['name'] !== 'string') continue;
    const rank = PAGE_SIZE_NAMES.indexOf(p['name']);
    if (rank === -1 || rank >= bestRank) continue;
    if (!isIntegerSchema(doc, p['schema'])) continue;
    best = p['name'];
    bestRank = rank;
  }
  return best;
}

/** Where the records of a list response are: the body itself, or one property of it. */
export type ListShape = { kind: 'array' } | { kind: 'property'; name: string };

/** Whether a schema describes an array (by type, `items`/`prefixItems`, or through all its alternatives). */
function isArraySchema(doc: JsonObject, schema: Json | undefined, depth: number): boolean {
  const s = resolve(doc, schema, depth);
  if (!isObject(s) || depth > MAX_DEPTH) return false;
  const types = typesOf(s).filter((t) => t !== 'null');
  if (types.length > 0) return types.every((t) => t === 'array');
  if ('items' in s || 'prefixItems' in s) return true;
  const alts = nonNullAlternatives(s);
  if (alts && alts.length > 0) return alts.every((a) => isArraySchema(doc, a, depth + 1));
  const all = s['allOf'];
  return Array.isArray(all) && all.some((m) => isArraySchema(doc, m, depth + 1));
}

/**
 * The properties an object schema declares, with every schema given for each (own `properties`,
 * `$ref` targets, `allOf` members, and the one non-null alternative of a nullable schema).
 * Placeholders (`true`, added when closing an allOf) carry no schema and are skipped.
 */
function collectProperties(doc: JsonObject, schema: Json | undefined, out: Map<string, Json[]>, depth: number, seen: Set<object>): void {
  const s = resolve(doc, schema, depth);
  if (!isObject(s) || depth > MAX_DEPTH || seen.has(s)) return;
  seen.add(s);
  const props = s['properties'];
  if (isObject(props)) {
    for (const [name, sub] of Object.entries(props)) {
      if (typeof sub === 'boolean') {
        if (!out.has(name)) out.set(name, []);
        continue;
      }
      const list = out.get(name);
      if (list) list.push(sub);
      else out.set(name, [sub]);
    }
  }
  const all = s['allOf'];
  if (Array.isArray(all)) for (const m of all) collectProperties(doc, m, out, depth + 1, seen);
  const alts = nonNullAlternatives(s);
  if (alts && alts.length === 1) collectProperties(doc, alts[0], out, depth + 1, seen);
}

/**
 * Where the records of a list response are, from the response's schema (inside `doc`): the top
 * level when the schema is an array; else the object's only array-valued property; else, when it
 * has several, the one whose name is in LIST_PROPERTY_NAMES if exactly one is. Undefined: not a list.
 *
 * @example
 * listShape(doc, { type: 'array', items: {} });                                         // { kind: 'array' }
 * listShape(doc, { type: 'object', properties: { total_count: { type: 'integer' }, items: { type: 'array' } } }); // { kind: 'property', name: 'items' }
 */
export function listShape(doc: JsonObject, schema: Json | undefined): ListShape | undefined {
  if (isArraySchema(doc, schema, 0)) return { kind: 'array' };
  const props = new Map<string, Json[]>();
  collectProperties(doc, schema, props, 0, new Set());
  const arrays: string[] = [];
  for (const [name, schemas] of props) if (schemas.some((x) => isArraySchema(doc, x, 1))) arrays.push(name);
  if (arrays.length === 1) return { kind: 'property', name: arrays[0]! };
  const named = arrays.filter((n) => LIST_PROPERTY_NAMES.has(n));
  return named.length === 1 ? { kind: 'property', name: named[0]! } : undefined;
}

/**
 * The number of records in a response body of that shape; undefined when the body does not have it
 * (then the response fails its schema anyway, or the schema is not a list).
 *
 * @example
 * countWithShape({ kind: 'property', name: 'data' }, { data: [1, 2, 3], has_more: true }); // 3
 */
export function countWithShape(shape: ListShape, body: unknown): number | undefined {
  if (shape.kind === 'array') return Array.isArray(body) ? body.length : undefined;
  if (!isObject(body) || !Object.prototype.hasOwnProperty.call(body, shape.name)) return undefined;
  const v = body[shape.name];
  return Array.isArray(v) ? v.length : undefined;
}
