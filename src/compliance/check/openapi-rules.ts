/**
 * Rules over an API's OpenAPI document, read through the loader's bundler
 * (src/openapi/resolve-refs.ts `bundle`: the root file plus every local file it references, one
 * document with internal refs). Findings point into the file where the offending node is
 * written, so a shared schema in `schemas/common.yaml` is reported there, once, naming the first
 * operation that reaches it.
 *
 * What is looked at, and why only that:
 * - Security per operation (OpenAPI 3.1 §4.8.10): the operation's `security` replaces the
 *   root's; `[]` removes it (an explicit opt-out, reported where it is written); an empty
 *   requirement `{}` among the alternatives makes the operation optionally anonymous.
 * - Request schemas only (parameters and request bodies): they bound what reaches the upstream
 *   (API4, ASVS 5.1.4); the response contract is a separate control (API3, API10).
 * - Strings without maxLength, except where the value's length is bounded anyway:
 *   `enum`/`const` (a fixed set), and the formats whose validator (ajv-formats' full formats, as
 *   src/openapi/validate-operation.ts registers them) only accepts strings of bounded length:
 *   date (10), uuid (45 with `urn:uuid:`), ipv4 (15), ipv6 (45), hostname (253). `date-time`
 *   and `time` are NOT skipped: their fractional seconds (`\.\d+`) are unbounded, and a
 *   5,000-digit fraction passes them. `email`, `uri`, `byte` and the rest are unbounded too.
 * - Arrays without maxItems, except a tuple closed by `items: false` after `prefixItems`.
 * - Objects in request bodies whose undeclared properties are accepted (API3): explicitly
 *   (`additionalProperties: true` or `{}`) always; implicitly (no additionalProperties,
 *   patternProperties or unevaluatedProperties) only when the API's `closedObjects` is false,
 *   since with it on the loader closes them (src/openapi/normalize-schema.ts). `allOf` members
 *   are judged through their composite, as the normaliser closes the composite.
 * - Numbers (integer and number) without a minimum or a maximum; `format: int32` bounds them.
 * Not walked: `not`, `if`/`then`/`else` (they constrain, they do not admit new values).
 */
import type { Bundle, Json, JsonObject } from '../../openapi/resolve-refs.js';
import { FILES_KEY, deref, escapeSegment, isObject } from '../../openapi/resolve-refs.js';
import type { RawFinding } from './findings.js';
import type { RuleId } from './rules.js';

/** Formats whose validator accepts only strings of bounded length (see above; tested). */
export const LENGTH_BOUNDED_FORMATS: ReadonlySet<string> = new Set(['date', 'uuid', 'ipv4', 'ipv6', 'hostname']);

/** A bundle pointer inside a referenced file: `/x-rampart-files/<n>/...` (FILES_KEY). */
const MOUNTED = /^\/x-rampart-files\/(\d+)(.*)$/;

const METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'] as const;

export interface ApiCheckOptions {
  /** The API's configured name (in messages). */
  name: string;
  closedObjects: boolean;
}

/**
 * Every OpenAPI rule over one bundled document.
 *
 * @example
 * const raw = checkOpenApi(bundle(api.openapi), { name: api.name, closedObjects: api.closedObjects });
 */
export function checkOpenApi(b: Bundle, opts: ApiCheckOptions): RawFinding[] {
  const out: RawFinding[] = [];
  const reported = new Set<string>();
  const add = (ruleId: RuleId, bundlePointer: string, message: string, fix?: string): void => {
    const key = `${ruleId} ${bundlePointer}`;
    if (reported.has(key)) return;
    reported.add(key);
    const { file, pointer } = sourceOf(b, bundlePointer);
    out.push({ ruleId, file, pointer, message, ...(fix !== undefined ? { fix } : {}) });
  };
  const { doc } = b;
  const walker = createSchemaWalker(doc, opts, add);
  const rootSecurity = doc['security'];
  const paths = isObject(doc['paths']) ? doc['paths'] : {};

  for (const [route, rawItem] of Object.entries(paths)) {
    if (route.startsWith('x-')) continue;
    const { node: item, pointer: itemAt } = safeDeref(doc, rawItem, `/paths/${escapeSegment(route)}`);
    if (!isObject(item)) continue;
    const pathParams = paramList(doc, item['parameters'], `${itemAt}/parameters`);
    for (const method of METHODS) {
      const op = item[method];
      if (!isObject(op)) continue;
      const opAt = `${itemAt}/${method}`;
      const id = typeof op['operationId'] === 'string' && op['operationId'] !== '' ? op['operationId'] : `${method.toUpperCase()} ${route}`;

      security(doc, op, opAt, rootSecurity, id, opts, add);

      // §4.8.10: operation parameters override path-item ones with the same name and location.
      const merged = new Map<string, { param: JsonObject; at: string }>();
      for (const p of [...pathParams, ...paramList(doc, op['parameters'], `${opAt}/parameters`)]) merged.set(`${String(p.param['in'])}\0${String(p.param['name'])}`, p);
      for (const { param, at } of merged.values()) {
        const where = `${id} ${String(param['in'])} parameter ${String(param['name'])}`;
        if (param['schema'] !== undefined) walker.walk(param['schema'], `${at}/schema`, where, false);
        if (isObject(param['content'])) {
          for (const [mt, media] of Object.entries(param['content'])) {
            if (isObject(media) && media['schema'] !== undefined) walker.walk(media['schema'], `${at}/content/${escapeSegment(mt)}/schema`, where, false);
          }
        }
      }

      if (op['requestBody'] !== undefined) {
        const { node: rb, pointer: rbAt } = safeDeref(doc, op['requestBody'], `${opAt}/requestBody`);
        if (isObject(rb) && isObject(rb['content'])) {
          for (const [mt, rawMedia] of Object.entries(rb['content'])) {
            const { node: media, pointer: mediaAt } = safeDeref(doc, rawMedia, `${rbAt}/content/${escapeSegment(mt)}`);
            if (isObject(media) && media['schema'] !== undefined) walker.walk(media['schema'], `${mediaAt}/schema`, `${id} request body (${mt})`, true);
          }
        }
      }
    }
  }
  return out;
}

type Add = (ruleId: RuleId, bundlePointer: string, message: string, fix?: string) => void;

/** API5 default-deny: who may call the operation, and how the credential travels (ASVS 8.3.1). */
function security(doc: JsonObject, op: JsonObject, opAt: string, rootSecurity: Json | undefined, id: string, opts: ApiCheckOptions, add: Add): void {
  const own = op['security'];
  if (own === undefined && rootSecurity === undefined) {
    add('operation-no-security', opAt, `API ${opts.name}: ${id} declares no security requirement and the document has none at its root, so anyone can call it`);
    return;
  }
  const effective = own !== undefined ? own : rootSecurity;
  const secAt = own !== undefined ? `${opAt}/security` : '/security';
  if (!Array.isArray(effective)) return; // the loader refuses it
  if (effective.length === 0) {
    add(
      'operation-public',
      own !== undefined ? secAt : opAt,
      own !== undefined
        ? `API ${opts.name}: ${id} opts out of authentication (security: [])`
        : `API ${opts.name}: ${id} is public: the document's root security is [] and the operation declares none`,
    );
    return;
  }
  effective.forEach((alt, i) => {
    if (!isObject(alt)) return;
    if (Object.keys(alt).length === 0) {
      add('operation-public', `${secAt}/${i}`, `API ${opts.name}: ${id} accepts anonymous calls: its security lists an empty requirement {} as an alternative`);
      return;
    }
    const schemes = isObject(doc['components']) && isObject(doc['components']['securitySchemes']) ? doc['components']['securitySchemes'] : {};
    for (const name of Object.keys(alt)) {
      const { node: scheme, pointer: schemeAt } = safeDeref(doc, schemes[name], `/components/securitySchemes/${escapeSegment(name)}`);
      if (isObject(scheme) && scheme['type'] === 'apiKey' && scheme['in'] === 'query') {
        add('api-key-in-query', `${schemeAt}/in`, `API ${opts.name}: security scheme ${name} sends the API key in the query string, where proxies, logs and browser history keep it (first used by ${id})`);
      }
    }
  });
}

interface SchemaWalker {
  /** Walks the schema `node` written at bundle pointer `at`, reached from `where`; `body`: inside a request body. */
  walk(node: Json | undefined, at: string, where: string, body: boolean): void;
}

function createSchemaWalker(doc: JsonObject, opts: ApiCheckOptions, add: Add): SchemaWalker {
  const visited = new Set<string>();

  const visit = (raw: Json | undefined, at: string, where: string, body: boolean, allOfMember: boolean): void => {
    const { node, pointer } = safeDeref(doc, raw, at);
    if (!isObject(node)) return; // boolean schemas, broken refs (the loader reports those)
    const key = `${pointer}\0${body ? 1 : 0}${allOfMember ? 1 : 0}`;
    if (visited.has(key)) return;
    visited.add(key);

    const types = typesOf(node);
    const fixed = 'enum' in node || 'const' in node;
    const format = typeof node['format'] === 'string' ? node['format'] : undefined;

    if (types.has('string') && !fixed && node['maxLength'] === undefined && !(format !== undefined && LENGTH_BOUNDED_FORMATS.has(format))) {
      const why = format === 'date-time' || format === 'time' ? ` (format ${format} does not bound it: its fractional seconds may be any length)` : format !== undefined ? ` (format ${format} does not bound its length)` : '';
      add('string-no-max-length', pointer, `API ${opts.name}: string without maxLength${why}, in ${where}`);
    }
    if (types.has('array') && node['maxItems'] === undefined && !(node['items'] === false && Array.isArray(node['prefixItems']))) {
      add('array-no-max-items', pointer, `API ${opts.name}: array without maxItems, in ${where}`);
    }
    if ((types.has('integer') || types.has('number')) && !fixed && format !== 'int32') {
      const low = node['minimum'] !== undefined || typeof node['exclusiveMinimum'] === 'number';
      const high = node['maximum'] !== undefined || typeof node['exclusiveMaximum'] === 'number';
      if (!low || !high) {
        add('number-unbounded', pointer, `API ${opts.name}: ${types.has('integer') ? 'integer' : 'number'} without ${!low && !high ? 'minimum or maximum' : !low ? 'a minimum' : 'a maximum'}, in ${where}`);
      }
    }
    if (body && !allOfMember && isObjectSchema(node, types)) openObject(node, pointer, where);

    // Children that admit values. $ref siblings (3.1) are not walked: the loader follows the ref.
    const props = node['properties'];
    if (isObject(props)) for (const [k, v] of Object.entries(props)) visit(v, `${pointer}/properties/${escapeSegment(k)}`, where, body, false);
    const pattern = node['patternProperties'];
    if (isObject(pattern)) for (const [k, v] of Object.entries(pattern)) visit(v, `${pointer}/patternProperties/${escapeSegment(k)}`, where, body, false);
    if (isObject(node['additionalProperties'])) visit(node['additionalProperties'], `${pointer}/additionalProperties`, where, body, false);
    const items = node['items'];
    if (isObject(items)) visit(items, `${pointer}/items`, where, body, false);
    else if (Array.isArray(items)) items.forEach((s, i) => visit(s, `${pointer}/items/${i}`, where, body, false));
    if (Array.isArray(node['prefixItems'])) node['prefixItems'].forEach((s, i) => visit(s, `${pointer}/prefixItems/${i}`, where, body, false));
    for (const k of ['anyOf', 'oneOf'] as const) {
      const list = node[k];
      if (Array.isArray(list)) list.forEach((s, i) => visit(s, `${pointer}/${k}/${i}`, where, body, false));
    }
    if (Array.isArray(node['allOf'])) node['allOf'].forEach((s, i) => visit(s, `${pointer}/allOf/${i}`, where, body, true));
  };

  /** API3: does this request-body object accept properties the document does not declare? */
  const openObject = (node: JsonObject, pointer: string, where: string): void => {
    const ap = node['additionalProperties'];
    if (ap === true || (isObject(ap) && Object.keys(ap).length === 0)) {
      add('request-body-open-object', `${pointer}/additionalProperties`, `API ${opts.name}: object accepts any undeclared property (additionalProperties: ${ap === true ? 'true' : '{}'}), in ${where}`, 'remove additionalProperties: true (or type the extra properties with a schema)');
      return;
    }
    if (ap !== undefined || 'patternProperties' in node || 'unevaluatedProperties' in node || opts.closedObjects) return;
    if ('oneOf' in node || 'anyOf' in node) return; // judged per alternative
    const declared = isObject(node['properties']) || Array.isArray(node['allOf']);
    add(
      'request-body-open-object',
      pointer,
      declared
        ? `API ${opts.name}: object without additionalProperties accepts undeclared properties because closedObjects is false, in ${where}`
        : `API ${opts.name}: free-form object (no properties, no additionalProperties) accepts any property, in ${where}`,
      declared ? undefined : 'declare the properties and additionalProperties: false, or type the values with additionalProperties: { ... }',
    );
  };

  return { walk: (node, at, where, body) => visit(node, at, where, body, false) };
}

function typesOf(node: JsonObject): Set<string> {
  const t = node['type'];
  if (typeof t === 'string') return new Set([t]);
  if (Array.isArray(t)) return new Set(t.filter((x): x is string => typeof x === 'string'));
  return new Set();
}

function isObjectSchema(node: JsonObject, types: Set<string>): boolean {
  if (types.has('object')) return true;
  return types.size === 0 && (isObject(node['properties']) || (Array.isArray(node['allOf']) && node['allOf'].some((m) => isObject(m))));
}

function paramList(doc: JsonObject, list: Json | undefined, at: string): { param: JsonObject; at: string }[] {
  if (!Array.isArray(list)) return [];
  const out: { param: JsonObject; at: string }[] = [];
  list.forEach((raw, i) => {
    const { node, pointer } = safeDeref(doc, raw, `${at}/${i}`);
    if (isObject(node)) out.push({ param: node, at: pointer });
  });
  return out;
}

/** deref that returns nothing for a reference cycle (the loader refuses those with a line). */
function safeDeref(doc: JsonObject, node: Json | undefined, pointer: string): { node: Json | undefined; pointer: string } {
  try {
    return deref(doc, node, pointer);
  } catch {
    return { node: undefined, pointer };
  }
}

/**
 * The file a bundle pointer lives in and the pointer inside it: referenced files are mounted at
 * `/x-rampart-files/<n>` of the bundle (resolve-refs.ts), as configIssueAt reads them back.
 */
export function sourceOf(b: Bundle, bundlePointer: string): { file: string; pointer: string } {
  const m = MOUNTED.exec(bundlePointer);
  if (m) {
    const f = b.files.find((x) => x.mount === `/${FILES_KEY}/${m[1]}`);
    if (f) return { file: f.path, pointer: m[2] ?? '' };
  }
  return { file: b.root.path, pointer: bundlePointer };
}

