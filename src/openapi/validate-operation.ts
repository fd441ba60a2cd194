/**
 * Per-operation request validation, compiled on first use (a 400-operation document must be
 * ready to serve in well under a second, and most operations of a large API are rarely called).
 *
 * One ajv instance per API holds the whole bundled document as a single schema; every validator
 * is `getSchema(<document id>#<pointer>)`, so refs inside schemas resolve against the document
 * and a schema shared by many operations (a `Limit` parameter, an `Account` body) is compiled once.
 * Bodies are never coerced; parameters are coerced here (params.ts), from the schema's types,
 * before ajv sees them, which keeps one ajv instance with `coerceTypes: false`.
 *
 * Order of checks (each returns the first failure): path → query → headers → cookies → body
 * (presence, Content-Type, syntax, schema).
 */
import { isUtf8 } from 'node:buffer';
import { Ajv, type ValidateFunction, type Options } from 'ajv';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { fullFormats } from 'ajv-formats/dist/formats.js';
import { RampartError } from '../core/errors.js';
import type { RequestParts, ValidationFailure, ValidationResult } from './types.js';
import { type Json, type JsonObject, isObject, getAt, pointerToFragment, escapeSegment } from './resolve-refs.js';
import { NON_UNICODE_PATTERN, INVALID_PATTERN, READ_ONLY, WRITE_ONLY } from './normalize-schema.js';
import { parseStrictJson, escapePointerSegment, type StrictJsonError } from './json-strict.js';
import { parseContentType, selectContentKey, bodyKind, jsonCharsetAcceptable } from './media-type.js';
import {
  type ParamSpec, type ParamLocation, type TypeInfo, type FormEncoding, ParamFailure, isFailure,
  typeInfo, shapeOf, splitPairs, readQuery, readPathParam, readHeaderParam, splitCookies, readCookieParam, readForm,
} from './params.js';
import { formatSchemaErrors, MAX_EXTRA_ERRORS } from './schema-errors.js';

/** Base URI under which the bundled document is registered with ajv (never fetched). */
export const DOCUMENT_ID = 'https://rampart.invalid/openapi.json';

/** Formats ajv-formats implements (OpenAPI's int32/int64/float/double/byte/binary/password among them). */
export const KNOWN_FORMATS: ReadonlySet<string> = new Set(Object.keys(fullFormats));

export interface SchemaStore {
  readonly doc: JsonObject;
  /** A validator for the schema at `pointer` (compiled once, then cached). Throws if ajv cannot compile it. */
  validator(pointer: string): ValidateFunction;
  readonly stats: { compiles: number; compileMs: number };
}

export interface SchemaStoreOptions {
  /**
   * Collect every failure instead of stopping at the first (response validation needs every
   * undeclared property to strip it). Same speed on valid data; default false.
   */
  allErrors?: boolean;
}

/**
 * One ajv instance over a whole bundled document (created on the first `validator()` call);
 * validators are fragments of it, compiled once and cached.
 *
 * @example
 * const store = createSchemaStore(bundle.doc, '3.0', []);
 * const v = store.validator('/components/schemas/Account');
 * v({ id: 1 }); // true or false, failures in v.errors
 */
export function createSchemaStore(doc: JsonObject, version: '3.0' | '3.1', unknownFormats: readonly string[], storeOptions: SchemaStoreOptions = {}): SchemaStore {
  let ajv: Ajv | undefined;
  const cache = new Map<string, ValidateFunction>();
  const byContent = new Map<string, ValidateFunction>();
  const stats = { compiles: 0, compileMs: 0 };
  const instance = (): Ajv => {
    if (ajv) return ajv;
    const options: Options = {
      // OpenAPI keywords (example, xml, externalDocs, discriminator leftovers, x-*) are not JSON
      // Schema keywords: ignore them instead of refusing the document.
      strict: false,
      // Speed: stop at the first failure; the message names it precisely. (Responses: all, to strip.)
      allErrors: storeOptions.allErrors === true,
      // The document was checked by our loader; validating it against the meta-schema costs load time.
      validateSchema: false,
      addUsedSchema: false,
      meta: false,
      coerceTypes: false,
      useDefaults: false,
      removeAdditional: false,
      verbose: false,
      messages: true,
      // `required` and friends look at own properties only (no prototype tricks).
      ownProperties: true,
      logger: false,
      discriminator: false,
      // Money: `multipleOf: 0.01` must accept 1.07 although 1.07 / 0.01 is not an integer in
      // binary floating point (test/regressions/multipleof-money.test.ts).
      multipleOfPrecision: 9,
    };
    const a: Ajv = version === '3.1' ? (new Ajv2020(options) as unknown as Ajv) : new Ajv(options);
    for (const [name, fmt] of Object.entries(fullFormats)) a.addFormat(name, fmt as never);
    // Formats the validator does not know are accepted as annotations (JSON Schema 2020-12 §7.2).
    for (const name of unknownFormats) if (!KNOWN_FORMATS.has(name)) a.addFormat(name, true);
    a.addKeyword({
      keyword: NON_UNICODE_PATTERN,
      type: 'string',
      schemaType: 'string',
      compile: (pattern: string) => {
        // eslint-disable-next-line security/detect-non-literal-regexp -- OpenAPI `pattern` keyword from the operator's own document (by design, as ajv does for unicode patterns); never built from request data
        const re = new RegExp(pattern);
        return (data: unknown) => re.test(data as string);
      },
    });
    a.addKeyword({ keyword: INVALID_PATTERN, type: 'string', validate: () => false });
    a.addKeyword({ keyword: READ_ONLY, validate: () => false });
    a.addKeyword({ keyword: WRITE_ONLY, validate: () => false });
    a.addSchema(doc as object, DOCUMENT_ID);
    ajv = a;
    return a;
  };
  return {
    doc,
    stats,
    validator(pointer: string): ValidateFunction {
      const hit = cache.get(pointer);
      if (hit) return hit;
      // Inline schemas without references repeat across operations (`{type: integer, minimum: 1}`
      // for every id parameter): compile each distinct one once.
      const schema = getAt(doc, pointer);
      const key = isObject(schema) && !hasRef(schema, 0) ? JSON.stringify(schema) : undefined;
      const same = key !== undefined ? byContent.get(key) : undefined;
      if (same) {
        cache.set(pointer, same);
        return same;
      }
      const t0 = performance.now();
      const fn = instance().getSchema(`${DOCUMENT_ID}#${pointerToFragment(pointer)}`);
      if (!fn) throw new Error(`no schema at ${pointer}`);
      stats.compiles++;
      stats.compileMs += performance.now() - t0;
      cache.set(pointer, fn as ValidateFunction);
      if (key !== undefined) byContent.set(key, fn as ValidateFunction);
      return fn as ValidateFunction;
    },
  };
}

/** Whether a schema holds a reference anywhere (then its meaning depends on where it sits). */
function hasRef(node: unknown, depth: number): boolean {
  if (depth > 32) return true;
  if (Array.isArray(node)) return node.some((x) => hasRef(x, depth + 1));
  if (typeof node !== 'object' || node === null) return false;
  for (const k in node) {
    if (k === '$ref' || k === '$dynamicRef' || k === '$recursiveRef') return true;
    const v = (node as Record<string, unknown>)[k];
    if (typeof v === 'object' && v !== null && hasRef(v, depth + 1)) return true;
  }
  return false;
}

// ---------------------------------------------------------------------------------------------

/** A parameter of an operation after path-level and operation-level lists were merged. */
export interface ParamDecl {
  /** Dereferenced Parameter Object. */
  param: JsonObject;
  /** Its pointer in the bundle. */
  pointer: string;
}

export interface ContentDecl {
  /** Normalised key (lower-case, no parameters; may be a range). */
  key: string;
  /** Pointer of the schema, if the media type has one. */
  schemaPointer?: string;
  encoding?: JsonObject;
}

export interface OperationPlan {
  id: string;
  params: ParamDecl[];
  /** Undefined when the operation declares no requestBody. */
  body?: { required: boolean; content: ContentDecl[] };
}

interface CompiledParam {
  spec: ParamSpec;
  validate?: ValidateFunction;
}

interface CompiledBody {
  decl: ContentDecl;
  validate?: ValidateFunction;
  info?: TypeInfo;
  encoding?: Map<string, FormEncoding>;
}

interface Compiled {
  path: CompiledParam[];
  query: CompiledParam[];
  header: CompiledParam[];
  cookie: CompiledParam[];
  bodies: Map<string, CompiledBody>;
  keys: string[];
}

/** OpenAPI 3.1 §4.8.12.1: these header parameters "SHALL be ignored" (other rules govern them). */
const IGNORED_HEADERS = new Set(['accept', 'content-type', 'authorization']);

const failure = (code: ValidationFailure['code'], pointer: string, message: string, errors?: { pointer: string; message: string }[]): ValidationResult => ({
  ok: false,
  error: errors && errors.length > 0 ? { code, pointer, message, errors: errors.slice(0, MAX_EXTRA_ERRORS) } : { code, pointer, message },
});

const fromParamFailure = (f: ParamFailure): ValidationResult => failure(f.code, f.pointer, f.message);

function jsonFailure(e: StrictJsonError, prefix: string): ParamFailure {
  switch (e.kind) {
    case 'syntax':
      return new ParamFailure('RAMPART_MALFORMED_JSON', prefix, 'must be valid JSON');
    case 'duplicate-key':
      return new ParamFailure('RAMPART_DUPLICATE_JSON_KEY', prefix + e.pointer, 'must not repeat a key');
    case 'forbidden-key':
      return new ParamFailure('RAMPART_VALIDATION_FAILED', prefix + e.pointer, 'forbidden key');
    case 'too-deep':
      return new ParamFailure('RAMPART_VALIDATION_FAILED', prefix + e.pointer, e.message);
  }
}

const parseJsonParam = (text: string, pointer: string): unknown => {
  const r = parseStrictJson(text);
  return r.ok ? r.value : jsonFailure(r.error, pointer);
};

export interface OperationValidator {
  validate(parts: RequestParts): ValidationResult;
  /** Compiles now (warm-up); throws like validate would. */
  compile(): void;
  readonly compiled: boolean;
}

export function createOperationValidator(plan: OperationPlan, store: SchemaStore, onCompileError: (opId: string, err: unknown) => void): OperationValidator {
  let compiled: Compiled | undefined;
  let compileError: RampartError | undefined;

  const ensure = (): Compiled => {
    if (compiled) return compiled;
    if (compileError) throw compileError;
    try {
      compiled = compile(plan, store);
      return compiled;
    } catch (err) {
      // A schema ajv cannot compile is a fault of the document, not of the request: fail closed
      // (the pipeline turns this into a 500 and nothing is forwarded).
      compileError = new RampartError('RAMPART_INTERNAL', `operation ${plan.id}: its request schema cannot be compiled`, { cause: err });
      onCompileError(plan.id, err);
      throw compileError;
    }
  };

  const runSchema = (fn: ValidateFunction, data: unknown, prefix: string): ValidationResult | undefined => {
    let ok: boolean;
    try {
      ok = fn(data) as boolean;
    } catch (err) {
      // Only a document fault gets here (input depth is bounded before validation).
      throw new RampartError('RAMPART_INTERNAL', `operation ${plan.id}: validation failed internally`, { cause: err });
    }
    if (ok) return undefined;
    const { first, more } = formatSchemaErrors(prefix, fn.errors);
    return failure('RAMPART_VALIDATION_FAILED', first.pointer, first.message, more);
  };

  const validate = (parts: RequestParts): ValidationResult => {
    const c = ensure();

    for (const p of c.path) {
      const pointer = `/path/${escapePointerSegment(p.spec.name)}`;
      const raw = parts.pathParams[p.spec.name];
      if (raw === undefined) return failure('RAMPART_VALIDATION_FAILED', pointer, 'is required');
      const v = readPathParam(raw, p.spec, pointer);
      if (isFailure(v)) return fromParamFailure(v);
      if (p.validate) {
        const r = runSchema(p.validate, v, pointer);
        if (r) return r;
      }
    }

    const pairs = splitPairs(parts.rawQuery, 'query');
    if (isFailure(pairs)) return fromParamFailure(pairs);
    const q = readQuery(
      pairs,
      c.query.map((p) => p.spec),
      parseJsonParam,
    );
    if (isFailure(q)) return fromParamFailure(q);
    for (const p of c.query) {
      const pointer = `/query/${escapePointerSegment(p.spec.name)}`;
      const v = q.values[p.spec.name];
      if (v === undefined) {
        if (p.spec.required) return failure('RAMPART_VALIDATION_FAILED', pointer, 'is required');
        continue;
      }
      // allowEmptyValue (3.0 §4.7.12, deprecated in 3.1): `?flag=` is accepted as given.
      if (v === '' && p.spec.allowEmptyValue) continue;
      if (p.validate) {
        const r = runSchema(p.validate, v, pointer);
        if (r) return r;
      }
    }

    for (const p of c.header) {
      const pointer = `/header/${escapePointerSegment(p.spec.name)}`;
      const raw = parts.headers[p.spec.name];
      if (raw === undefined) {
        if (p.spec.required) return failure('RAMPART_VALIDATION_FAILED', pointer, 'is required');
        continue;
      }
      const v = readHeaderParam(raw, p.spec, pointer, parseJsonParam);
      if (isFailure(v)) return fromParamFailure(v);
      if (p.validate) {
        const r = runSchema(p.validate, v, pointer);
        if (r) return r;
      }
    }

    if (c.cookie.length > 0) {
      const cookies = splitCookies(parts.headers['cookie']);
      for (const p of c.cookie) {
        const pointer = `/cookie/${escapePointerSegment(p.spec.name)}`;
        const list = cookies.get(p.spec.name);
        if (!list) {
          if (p.spec.required) return failure('RAMPART_VALIDATION_FAILED', pointer, 'is required');
          continue;
        }
        const v = readCookieParam(list, p.spec, pointer, parseJsonParam);
        if (isFailure(v)) return fromParamFailure(v);
        if (p.validate) {
          const r = runSchema(p.validate, v, pointer);
          if (r) return r;
        }
      }
    }

    const body = readBody(parts, c);
    if ('ok' in body) return body;
    return { ok: true, query: q.values, body: body.value };
  };

  const readBody = (parts: RequestParts, c: Compiled): ValidationResult | { value: unknown } => {
    const buf = parts.body;
    const present = buf !== undefined && buf.length > 0;
    if (!plan.body) {
      return present ? failure('RAMPART_VALIDATION_FAILED', '/body', 'must be empty: this operation takes no request body') : { value: undefined };
    }
    if (!present) {
      return plan.body.required ? failure('RAMPART_VALIDATION_FAILED', '/body', 'is required') : { value: undefined };
    }
    const ctHeader = parts.headers['content-type'];
    const mt = parseContentType(Array.isArray(ctHeader) ? ctHeader[0] : ctHeader);
    const accepted = c.keys.length > 0 ? `must be one of: ${c.keys.join(', ')}` : 'no media type is accepted by this operation';
    if (!mt) return failure('RAMPART_UNSUPPORTED_MEDIA_TYPE', '/header/content-type', ctHeader === undefined ? `is required; ${accepted}` : `must be a media type; ${accepted}`);
    const key = selectContentKey(c.keys, mt);
    if (key === undefined) return failure('RAMPART_UNSUPPORTED_MEDIA_TYPE', '/header/content-type', accepted);
    const cb = c.bodies.get(key)!;
    const kind = bodyKind(mt);
    if (kind === 'opaque') return { value: undefined }; // declared, passed through unparsed
    if (!jsonCharsetAcceptable(mt)) return failure('RAMPART_UNSUPPORTED_MEDIA_TYPE', '/header/content-type', 'must use charset utf-8');
    // One decoding: invalid UTF-8 is refused rather than replaced (the upstream might decode it otherwise).
    if (!isUtf8(buf)) {
      return failure(kind === 'json' ? 'RAMPART_MALFORMED_JSON' : 'RAMPART_VALIDATION_FAILED', '/body', 'must be UTF-8 text');
    }
    const text = buf.toString('utf8');
    let value: unknown;
    if (kind === 'json') {
      const r = parseStrictJson(text);
      if (!r.ok) return fromParamFailure(jsonFailure(r.error, '/body'));
      value = r.value;
    } else {
      const form = readForm(text, cb.info ?? typeInfo(store.doc, undefined), cb.encoding ?? new Map(), parseJsonParam);
      if (isFailure(form)) return fromParamFailure(form);
      value = form;
    }
    if (cb.validate) {
      const r = runSchema(cb.validate, value, '/body');
      if (r) return r;
    }
    return { value };
  };

  return {
    validate,
    compile: () => void ensure(),
    get compiled() {
      return compiled !== undefined;
    },
  };
}

function compile(plan: OperationPlan, store: SchemaStore): Compiled {
  const { doc } = store;
  const out: Compiled = { path: [], query: [], header: [], cookie: [], bodies: new Map(), keys: [] };
  for (const { param, pointer } of plan.params) {
    const where = param['in'] as ParamLocation;
    let name = param['name'] as string;
    if (where === 'header') {
      name = name.toLowerCase();
      if (IGNORED_HEADERS.has(name)) continue;
    }
    let schemaPointer: string | undefined;
    let json = false;
    if (param['schema'] !== undefined) schemaPointer = `${pointer}/schema`;
    else if (isObject(param['content'])) {
      // §4.8.12.3: `content` holds exactly one media type; a JSON one means the value is JSON.
      const [mtKey] = Object.keys(param['content']);
      if (mtKey !== undefined) {
        const mtObj = param['content'][mtKey];
        const essence = mtKey.split(';')[0]!.trim().toLowerCase();
        json = essence === 'application/json' || essence.endsWith('+json');
        if (isObject(mtObj) && mtObj['schema'] !== undefined) schemaPointer = `${pointer}/content/${escapeSegment(mtKey)}/schema`;
      }
    }
    const schema = schemaPointer ? (getAt(doc, schemaPointer) as Json) : undefined;
    const info = typeInfo(doc, schema);
    const defaultStyle = where === 'query' || where === 'cookie' ? 'form' : 'simple';
    const style = typeof param['style'] === 'string' ? param['style'] : defaultStyle;
    const spec: ParamSpec = {
      name,
      in: where,
      // §4.8.12.2: a path parameter is always required.
      required: where === 'path' || param['required'] === true,
      style,
      // §4.8.12.2 explode: "When style is form, the default value is true. For all other styles, the default value is false."
      explode: typeof param['explode'] === 'boolean' ? param['explode'] : style === 'form',
      allowEmptyValue: param['allowEmptyValue'] === true,
      json,
      info,
      shape: shapeOf(info),
    };
    const cp: CompiledParam = { spec };
    if (schemaPointer) cp.validate = store.validator(schemaPointer);
    out[where].push(cp);
  }
  if (plan.body) {
    for (const decl of plan.body.content) {
      const cb: CompiledBody = { decl };
      if (decl.schemaPointer) {
        cb.validate = store.validator(decl.schemaPointer);
        // Type information guides form parsing only (JSON carries its own types).
        cb.info = typeInfo(doc, getAt(doc, decl.schemaPointer) as Json);
      }
      if (decl.encoding) {
        cb.encoding = new Map();
        for (const [prop, enc] of Object.entries(decl.encoding)) {
          if (!isObject(enc)) continue;
          const ct = typeof enc['contentType'] === 'string' ? enc['contentType'].toLowerCase() : '';
          const e: FormEncoding = { json: ct.startsWith('application/json') || /\+json\b/.test(ct) };
          if (typeof enc['style'] === 'string') e.style = enc['style'];
          if (typeof enc['explode'] === 'boolean') e.explode = enc['explode'];
          cb.encoding.set(prop, e);
        }
      }
      out.bodies.set(decl.key, cb);
      out.keys.push(decl.key);
    }
  }
  return out;
}
