/**
 * Response contract validation (OWASP API10 "unsafe consumption": upstream responses are
 * schema-validated; API3 property-level exposure: what the contract does not declare does not
 * leave; API4: list responses are counted against a page-size cap and data-volume quotas).
 *
 *   first response of an API ──▶ response copy of the document (response-document.ts: the loaded
 *                                texts parsed again, ~70 ms for GitHub's 6.9 MB), normalised in
 *                                response mode for every operation's responses at once
 *                                (objects closed, writeOnly refused, readOnly allowed)
 *   first response of an operation/status/media type ──▶ ajv compile (allErrors), cached
 *   each response: status ─▶ media type ─▶ JSON bytes/depth ─▶ schema ─▶ strip and check again
 *
 * Why a copy: the request pass (normalize-schema.ts) rewrites the loaded document in place, and a
 * schema shared by a request and a response means different things in each direction.
 * Why all operations at once: normalising one schema can rewrite references in others
 * (discriminator children), so normalising after a validator was compiled could leave a compiled
 * validator inconsistent with the document; one pass before any compile avoids it.
 *
 * Undeclared properties are found with ajv's allErrors: every `additionalProperties: false` and
 * `unevaluatedProperties` failure names one, every WRITE_ONLY failure is a writeOnly property
 * present. 'strip' deletes them from the caller's value and validates again (a property stripped
 * inside a failing `anyOf` branch can make another branch match, so this repeats, at most
 * MAX_ROUNDS times); 'report' does the same on a copy to tell "only undeclared properties" from
 * "broken otherwise". Stripping under `oneOf`/`anyOf` of closed alternatives may remove more than
 * the matching alternative needed to lose: the result still satisfies the contract.
 *
 * Messages never quote a value: ajv runs with `verbose: false` and schema-errors.ts shortens
 * property names. Nothing here throws for bad input; a document that cannot be compiled fails
 * closed (reason 'internal').
 */
import { isUtf8 } from 'node:buffer';
import type { ErrorObject, ValidateFunction } from 'ajv';
import type { ResponseCheck, ResponseCheckOptions, ResponseCheckReason } from './types.js';
import { type Json, type JsonObject, type SourceFile, isObject, getAt, deref, escapeSegment } from './resolve-refs.js';
import { createNormalizer, WRITE_ONLY } from './normalize-schema.js';
import { type SchemaStore, KNOWN_FORMATS, createSchemaStore } from './validate-operation.js';
import { rebuildDocument } from './response-document.js';
import { parseContentType, normalizeContentKey, selectContentKey, bodyKind, jsonCharsetAcceptable } from './media-type.js';
import { parseStrictJson, escapePointerSegment, DEFAULT_MAX_DEPTH } from './json-strict.js';
import { formatSchemaErrors, safePointer, MAX_EXTRA_ERRORS } from './schema-errors.js';
import { type ListShape, listShape, countWithShape } from './pagination.js';

/** Undeclared property pointers listed in a ResponseCheck (all are stripped). */
export const MAX_UNDECLARED_LISTED = 100;
/** Strip-and-check rounds before a body that keeps showing undeclared properties is refused. */
const MAX_ROUNDS = 4;

/** One media type of one declared response. */
interface ContentEntry {
  /** Normalised key (lower-case, no parameters; may be a range). */
  key: string;
  schemaPointer?: string;
}

/** One declared response (`200`, `2XX`, `default`) of an operation. */
interface ResponseDecl {
  /** The key as written, normalised: `200`, `2XX`, `default`. */
  code: string;
  content: Map<string, ContentEntry>;
  keys: string[];
  /** The list shape of its JSON schema; null when not a list; undefined until asked. */
  shape?: ListShape | null;
}

export interface ResponseSource {
  /** The loader's source files (Bundle.files, root first): parsed again on first use. */
  files: readonly SourceFile[];
  version: '3.0' | '3.1';
  /** Bundle pointer of every operation object: their responses are normalised in one pass. */
  operationPointers: readonly string[];
  /** Non-fatal findings of the response pass (the loader adds them to ApiModel.warnings). */
  warn(message: string): void;
}

export interface ResponseDocument {
  readonly doc: JsonObject;
  readonly store: SchemaStore;
  /** Declared responses by operation pointer. */
  readonly plans: ReadonlyMap<string, ReadonlyMap<string, ResponseDecl>>;
  /** Time to parse the copy and normalise its response schemas, ms. */
  readonly buildMs: number;
}

export interface ResponseContext {
  /** The response copy of the document, built on the first call; throws (the same error each time) when it cannot be. */
  document(): ResponseDocument;
  readonly built: boolean;
}

/**
 * The per-API state of response validation, built lazily: nothing happens until the first
 * response of the API is validated (a 1,200-operation document loads as fast as without it).
 *
 * @example
 * const ctx = createResponseContext({ files: bundle.files, version: '3.0', operationPointers: ['/paths/~1accounts/get'], warn: console.warn });
 * const v = createResponseValidator(ctx, { id: 'listAccounts', method: 'GET', at: '/paths/~1accounts/get' }, () => {});
 * v.validateResponse(200, 'application/json', [{ id: 1 }], 'strip');
 */
export function createResponseContext(source: ResponseSource): ResponseContext {
  const { version, operationPointers, warn } = source;
  let built: ResponseDocument | undefined;
  let failed: Error | undefined;
  // The texts are held until the copy is built (GitHub's: 7 MB), then let go by this closure.
  let files: readonly SourceFile[] | undefined = source.files;
  return {
    document(): ResponseDocument {
      if (built) return built;
      if (failed) throw failed;
      try {
        built = buildDocument({ files: files ?? [], version, operationPointers, warn });
        files = undefined;
        return built;
      } catch (err) {
        files = undefined;
        failed = new Error(`the response copy of the OpenAPI document cannot be built: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
        warn(`responses: ${failed.message}; every response fails closed`);
        throw failed;
      }
    },
    get built() {
      return built !== undefined;
    },
  };
}

function buildDocument(source: ResponseSource): ResponseDocument {
  const t0 = performance.now();
  const doc = rebuildDocument(source.files);
  const warned = new Set<string>();
  const normalizer = createNormalizer(doc, {
    version: source.version,
    // Closing is how undeclared properties are found: always on for responses.
    closedObjects: true,
    mode: 'response',
    warn: (m) => {
      if (warned.size < 200 && !warned.has(m)) {
        warned.add(m);
        source.warn(`responses: ${m}`);
      }
    },
  });
  const plans = new Map<string, Map<string, ResponseDecl>>();
  for (const at of source.operationPointers) {
    const decls = declaredResponses(doc, at);
    plans.set(at, decls);
    for (const d of decls.values()) for (const c of d.content.values()) if (c.schemaPointer) normalizer.schemaAt(c.schemaPointer);
  }
  const unknownFormats = [...normalizer.formats].filter((f) => !KNOWN_FORMATS.has(f));
  const store = createSchemaStore(doc, source.version, unknownFormats, { allErrors: true });
  return { doc, store, plans, buildMs: performance.now() - t0 };
}

/** OpenAPI 3.1 §4.8.16 Responses: status codes, `1XX`..`5XX` ranges, `default`. */
const RESPONSE_KEY = /^(?:[1-5](?:\d\d|XX)|default)$/;

function safeDeref(doc: JsonObject, node: Json | undefined, pointer: string): { node: Json | undefined; pointer: string } {
  try {
    return deref(doc, node, pointer);
  } catch {
    return { node: undefined, pointer };
  }
}

/** The responses an operation declares, keyed `200` / `2XX` / `default`, with their media types. */
function declaredResponses(doc: JsonObject, at: string): Map<string, ResponseDecl> {
  const out = new Map<string, ResponseDecl>();
  const op = getAt(doc, at);
  if (!isObject(op) || !isObject(op['responses'])) return out;
  const base = `${at}/responses`;
  for (const [rawCode, raw] of Object.entries(op['responses'])) {
    const code = rawCode === 'default' ? rawCode : rawCode.toUpperCase();
    if (!RESPONSE_KEY.test(code)) continue;
    const { node: r, pointer } = safeDeref(doc, raw, `${base}/${escapeSegment(rawCode)}`);
    const decl: ResponseDecl = { code, content: new Map(), keys: [] };
    const content = isObject(r) ? r['content'] : undefined;
    if (isObject(content)) {
      for (const [key, rawMt] of Object.entries(content)) {
        const norm = normalizeContentKey(key);
        if (norm === undefined || decl.content.has(norm)) continue;
        const { node: mt, pointer: mtAt } = safeDeref(doc, rawMt, `${pointer}/content/${escapeSegment(key)}`);
        const entry: ContentEntry = { key: norm };
        if (isObject(mt) && mt['schema'] !== undefined) entry.schemaPointer = `${mtAt}/schema`;
        decl.content.set(norm, entry);
        decl.keys.push(norm);
      }
    }
    out.set(code, decl);
  }
  return out;
}

/** OpenAPI 3.1 §4.8.16.2: the exact code wins over its range, which wins over `default`. */
function selectResponse(decls: ReadonlyMap<string, ResponseDecl>, status: number): ResponseDecl | undefined {
  return decls.get(String(status)) ?? decls.get(`${Math.floor(status / 100)}XX`) ?? decls.get('default');
}

const isJsonKey = (key: string): boolean => key === 'application/json' || (!key.includes('*') && key.endsWith('+json'));

// ---------------------------------------------------------------------------------------------

export interface OperationResponseInfo {
  id: string;
  /** Upper-case method: HEAD responses carry no body. */
  method: string;
  /** Bundle pointer of the operation object. */
  at: string;
}

export interface ResponseValidator {
  validateResponse(status: number, contentType: string | undefined, body: unknown, mode: 'strip' | 'report', opts?: ResponseCheckOptions): ResponseCheck;
  countRecords(status: number, body: unknown): number | undefined;
  /** Builds the document copy and compiles every response schema of this operation now (warm-up); throws like a failing compile. */
  compile(): void;
  readonly compiled: boolean;
}

/** An undeclared (or writeOnly) property found by ajv: where its object is, and its name. */
interface Extra {
  parent: string;
  name: string;
}

const unescapeSegment = (s: string): string => (s.indexOf('~') === -1 ? s : s.replace(/~1/g, '/').replace(/~0/g, '~'));

/** Splits an ajv instancePath (a JSON pointer) into raw segments. */
function segmentsOf(pointer: string): string[] {
  return pointer === '' ? [] : pointer.slice(1).split('/').map(unescapeSegment);
}

function removeAt(root: unknown, e: Extra): boolean {
  let cur: unknown = root;
  for (const s of segmentsOf(e.parent)) {
    if (Array.isArray(cur)) {
      const i = Number(s);
      if (!Number.isInteger(i) || i < 0 || i >= cur.length) return false;
      cur = cur[i];
    } else if (isObject(cur) && Object.prototype.hasOwnProperty.call(cur, s)) cur = cur[s];
    else return false;
  }
  if (!isObject(cur) || !Object.prototype.hasOwnProperty.call(cur, e.name)) return false;
  delete cur[e.name];
  return true;
}

/** Whether a value nests objects/arrays deeper than `max` (iterative; values from JSON share no nodes). */
function deeperThan(value: unknown, max: number): boolean {
  if (typeof value !== 'object' || value === null) return false;
  const stack: unknown[] = [value];
  const depths: number[] = [1];
  while (stack.length > 0) {
    const v = stack.pop() as object;
    const d = depths.pop()!;
    if (d > max) return true;
    if (Array.isArray(v)) {
      for (let i = 0; i < v.length; i++) {
        const c: unknown = v[i];
        if (typeof c === 'object' && c !== null) {
          stack.push(c);
          depths.push(d + 1);
        }
      }
    } else {
      for (const k in v) {
        const c = (v as Record<string, unknown>)[k];
        if (typeof c === 'object' && c !== null) {
          stack.push(c);
          depths.push(d + 1);
        }
      }
    }
  }
  return false;
}

interface Outcome {
  /** Undeclared properties found (pointer for reporting → extra). */
  undeclared: Map<string, Extra>;
  /** ajv errors left when the undeclared ones are gone; undefined when the body is valid then. */
  remaining: ErrorObject[] | undefined;
}

/**
 * Runs `fn` over `value`; while it fails with undeclared properties, deletes them and runs again.
 * Deletes from `value` itself unless `copyBeforeStripping` (then from a copy made when the first
 * undeclared property shows up: valid bodies are never copied).
 */
function settle(fn: ValidateFunction, value: unknown, copyBeforeStripping: boolean): Outcome {
  const undeclared = new Map<string, Extra>();
  let target = value;
  let copied = !copyBeforeStripping;
  for (let round = 0; ; round++) {
    if (fn(target) as boolean) return { undeclared, remaining: undefined };
    const errors = fn.errors ?? [];
    const extras: Extra[] = [];
    const others: ErrorObject[] = [];
    for (const e of errors) {
      const p = e.params as Record<string, unknown>;
      if (e.keyword === 'additionalProperties' && typeof p['additionalProperty'] === 'string') {
        extras.push({ parent: e.instancePath, name: p['additionalProperty'] });
      } else if (e.keyword === 'unevaluatedProperties' && typeof p['unevaluatedProperty'] === 'string') {
        extras.push({ parent: e.instancePath, name: p['unevaluatedProperty'] });
      } else if (e.keyword === WRITE_ONLY && e.instancePath !== '') {
        const cut = e.instancePath.lastIndexOf('/');
        extras.push({ parent: e.instancePath.slice(0, cut), name: unescapeSegment(e.instancePath.slice(cut + 1)) });
      } else others.push(e);
    }
    if (extras.length === 0) return { undeclared, remaining: others };
    if (round + 1 >= MAX_ROUNDS) return { undeclared, remaining: errors.slice() };
    if (!copied) {
      target = structuredClone(target);
      copied = true;
    }
    let removed = 0;
    for (const x of extras) {
      const key = `${x.parent}/${escapePointerSegment(x.name)}`;
      if (removeAt(target, x)) removed++;
      if (!undeclared.has(key)) undeclared.set(key, x);
    }
    // Nothing could be removed (the error names a location that is not there): stop here.
    if (removed === 0) return { undeclared, remaining: errors.slice() };
  }
}

function result(ok: boolean, fields: Partial<ResponseCheck> & { reason?: ResponseCheckReason } = {}): ResponseCheck {
  return { ok, undeclared: [], errors: [], ...fields };
}

const fail = (reason: ResponseCheckReason, pointer: string, message: string): ResponseCheck => result(false, { reason, errors: [{ pointer, message }] });

/**
 * The response side of one operation: validateResponse and countRecords, over the API's lazily
 * built response document. `onCompileError` is told once per operation when a schema of it cannot
 * be compiled (the loader turns it into a warning).
 *
 * @example
 * const v = createResponseValidator(ctx, { id: 'getAccount', method: 'GET', at: '/paths/~1accounts~1{id}/get' }, warnOnce);
 * const body = { id: 7, owner: 'Ann', debug: 'x' };
 * v.validateResponse(200, 'application/json', body, 'strip'); // { ok: true, undeclared: ['/debug'], ... }; body.debug is gone
 * v.countRecords(200, { data: [1, 2] });                      // undefined: getAccount is not a list
 */
export function createResponseValidator(ctx: ResponseContext, op: OperationResponseInfo, onCompileError: (opId: string, err: unknown) => void): ResponseValidator {
  const validators = new Map<string, ValidateFunction>();
  let reported = false;
  let allCompiled = false;

  const plan = (): ReadonlyMap<string, ResponseDecl> => ctx.document().plans.get(op.at) ?? new Map();

  const validatorFor = (decl: ResponseDecl, entry: ContentEntry): ValidateFunction => {
    const key = `${decl.code}\0${entry.key}`;
    const hit = validators.get(key);
    if (hit) return hit;
    try {
      const fn = ctx.document().store.validator(entry.schemaPointer!);
      validators.set(key, fn);
      return fn;
    } catch (err) {
      if (!reported) {
        reported = true;
        onCompileError(op.id, err);
      }
      throw err;
    }
  };

  const validateResponse = (status: number, contentType: string | undefined, body: unknown, mode: 'strip' | 'report', opts: ResponseCheckOptions = {}): ResponseCheck => {
    if (mode !== 'strip' && mode !== 'report') throw new TypeError("validateResponse: mode must be 'strip' or 'report'");
    const policy = opts.undeclaredStatus ?? 'allow-errors';
    if (policy !== 'allow' && policy !== 'block' && policy !== 'allow-errors') throw new TypeError("validateResponse: undeclaredStatus must be 'allow', 'block' or 'allow-errors'");
    if (!Number.isInteger(status) || status < 100 || status > 599) return fail('status-undeclared', '/status', 'must be an HTTP status code');

    let decls: ReadonlyMap<string, ResponseDecl>;
    try {
      decls = plan();
    } catch {
      return fail('internal', '', 'the response contract cannot be checked (see the load warnings)');
    }
    const decl = selectResponse(decls, status);
    const noBody = op.method === 'HEAD' || status === 204 || status === 304 || status < 200;
    if (!decl) {
      // RFC 9110 §15.4.5: a 304 answers a conditional GET/HEAD and has no content; documents rarely list it.
      if (status === 304 && (op.method === 'GET' || op.method === 'HEAD')) return result(true, { unchecked: 'no-body' });
      const allowed = policy === 'allow' || (policy === 'allow-errors' && status >= 400);
      if (allowed) return result(true, { unchecked: 'status-undeclared' });
      const listed = [...decls.keys()];
      return fail('status-undeclared', '/status', listed.length > 0 ? `is not declared for this operation (declared: ${listed.join(', ')})` : 'is not declared: this operation declares no responses');
    }
    if (noBody) return result(true, { unchecked: 'no-body' });

    // A document that declares no content for this response says nothing about the body: by
    // option, that is a break or an unchecked body (the caller's DLP still reads it).
    if (decl.keys.length === 0 && opts.undocumentedBody === 'allow') return result(true, { unchecked: 'no-schema' });
    const accepted = decl.keys.length > 0 ? `must be one of: ${decl.keys.join(', ')}` : 'must be absent: this response declares no content';
    if (contentType === undefined) {
      return body === undefined ? result(true, { unchecked: 'no-body' }) : fail('media-type-undeclared', '/header/content-type', `is required; ${accepted}`);
    }
    const mt = parseContentType(contentType);
    if (!mt) return fail('media-type-undeclared', '/header/content-type', `must be a media type; ${accepted}`);
    const key = selectContentKey(decl.keys, mt);
    if (key === undefined) return fail('media-type-undeclared', '/header/content-type', accepted);
    const entry = decl.content.get(key)!;
    if (bodyKind(mt) !== 'json') return result(true, { unchecked: 'not-json-media-type' });
    if (!jsonCharsetAcceptable(mt)) return fail('not-json', '/header/content-type', 'must use charset utf-8');
    if (body === undefined) return result(true, { unchecked: 'no-body' });

    let value: unknown = body;
    if (body instanceof Uint8Array) {
      if (!isUtf8(body)) return fail('not-json', '', 'must be UTF-8 text');
      const r = parseStrictJson(Buffer.from(body.buffer, body.byteOffset, body.byteLength).toString('utf8'));
      if (!r.ok) {
        switch (r.error.kind) {
          case 'too-deep':
            return fail('too-deep', safePointer(r.error.pointer), r.error.message);
          case 'duplicate-key':
            return fail('not-json', safePointer(r.error.pointer), 'must not repeat a key');
          case 'forbidden-key':
            return fail('not-json', safePointer(r.error.pointer), 'forbidden key');
          default:
            return fail('not-json', '', 'must be valid JSON');
        }
      }
      value = r.value;
    } else if (deeperThan(body, DEFAULT_MAX_DEPTH)) {
      return fail('too-deep', '', `must not nest deeper than ${DEFAULT_MAX_DEPTH} levels`);
    }
    if (!entry.schemaPointer) return result(true, { unchecked: 'no-schema', body: value });

    let fn: ValidateFunction;
    try {
      fn = validatorFor(decl, entry);
    } catch {
      return fail('internal', '', 'the response schema cannot be compiled (see the load warnings)');
    }
    let outcome: Outcome;
    try {
      // 'report' keeps the caller's value intact: a copy is stripped to tell "only undeclared" from "broken".
      outcome = settle(fn, value, mode === 'report');
    } catch (err) {
      // ajv throws only for a document fault or a stack overflow on a recursive schema.
      return err instanceof RangeError
        ? fail('too-deep', '', 'nests too deeply for the response schema')
        : fail('internal', '', 'the response schema failed internally');
    }
    const undeclared: string[] = [];
    for (const k of outcome.undeclared.keys()) {
      if (undeclared.length >= MAX_UNDECLARED_LISTED) break;
      undeclared.push(safePointer(k));
    }
    const extra: Partial<ResponseCheck> = { undeclared, body: value };
    if (outcome.undeclared.size > MAX_UNDECLARED_LISTED) extra.truncated = true;
    if (outcome.remaining) {
      const { first, more } = formatSchemaErrors('', outcome.remaining);
      return result(false, { ...extra, reason: 'schema', errors: [first, ...more.slice(0, MAX_EXTRA_ERRORS)] });
    }
    // 'report': undeclared properties alone still break the contract; `errors` empty says so.
    if (outcome.undeclared.size > 0 && mode === 'report') return result(false, { ...extra, reason: 'schema' });
    return result(true, extra);
  };

  const countRecords = (status: number, body: unknown): number | undefined => {
    if (!Number.isInteger(status) || status < 200 || status > 299) return undefined;
    let decl: ResponseDecl | undefined;
    let doc: JsonObject;
    try {
      doc = ctx.document().doc;
      decl = selectResponse(plan(), status);
    } catch {
      return undefined;
    }
    if (!decl) return undefined;
    if (decl.shape === undefined) {
      decl.shape = null;
      for (const entry of decl.content.values()) {
        if (!isJsonKey(entry.key) || !entry.schemaPointer) continue;
        decl.shape = listShape(doc, getAt(doc, entry.schemaPointer) as Json) ?? null;
        break;
      }
    }
    return decl.shape ? countWithShape(decl.shape, body) : undefined;
  };

  return {
    validateResponse,
    countRecords,
    compile(): void {
      for (const decl of plan().values()) for (const entry of decl.content.values()) if (entry.schemaPointer) validatorFor(decl, entry);
      allCompiled = true;
    },
    get compiled() {
      return allCompiled;
    },
  };
}
