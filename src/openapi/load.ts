/**
 * Loads an OpenAPI 3.0/3.1 document into what the data plane needs: the inventory of operations
 * (API9), a router over it and a lazily compiled validator per operation.
 *
 *   file ──read/parse──▶ bundle (resolve-refs) ──▶ operations, security, router
 *                                              └─▶ request schemas normalised (normalize-schema)
 *   first validate() of an operation ──▶ ajv compile of its schemas (validate-operation), cached
 *   first validateResponse() of the API ──▶ response copy of the document, parsed again from the
 *                                           texts read here (validate-response), then per
 *                                           operation and status an ajv compile, cached
 *
 * Nothing is compiled here: a Stripe-sized JSON document is ready in a few tens of milliseconds.
 * Documents that cannot be served correctly are refused with a ConfigError naming file and line;
 * things that are odd but workable become warnings.
 *
 * @example
 * const api = await loadApi({ name: 'brokerage', file: 'openapi.yaml', qualifyScopes: false,
 *   closedObjects: true, reservedPrefix: '/.rampart' });
 * const m = api.match('GET', '/accounts/42');
 * if (m.kind === 'found') m.operation.validate({ pathParams: m.pathParams, rawQuery: '', headers: {}, body: undefined });
 */
import { channel } from 'node:diagnostics_channel';
import { resolve as resolvePath } from 'node:path';
import type { ApiModel, LoadApiOptions, OperationModel, SecurityAlternative } from './types.js';
import { type Bundle, type Json, type JsonObject, bundle, configIssueAt, deref, escapeSegment, isObject } from './resolve-refs.js';
import { createNormalizer } from './normalize-schema.js';
import { createRouter, RouterBuildError } from './router.js';
import { createSecurityResolver } from './security.js';
import { normalizeContentKey } from './media-type.js';
import { CLASSIFICATION_KEYWORD, classifyOperation, scanClassifications, type OperationClassifications, type WrittenSchemas } from './classification.js';
import {
  type ContentDecl, type OperationPlan, type OperationValidator, type ParamDecl, type SchemaStore,
  KNOWN_FORMATS, createOperationValidator, createSchemaStore,
} from './validate-operation.js';
// --- response contract (API3, API4, API10) ---------------------------------------------------
import { type ResponseContext, type ResponseValidator, createResponseContext, createResponseValidator } from './validate-response.js';
import { findPageSizeParam } from './pagination.js';
// --- end response contract --------------------------------------------------------------------

/** Published once per loaded document: `{ name, file, ms, operations, warnings }`. */
export const LOAD_CHANNEL = 'rampart:openapi:load';
const loadChannel = channel(LOAD_CHANNEL);

/** OpenAPI 3.1 §4.8.8 Path Item: the fixed fields that are operations. */
const METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'] as const;
const LOCATIONS = new Set(['path', 'query', 'header', 'cookie']);
/** Warnings kept; a huge document with a systematic oddity should not produce megabytes of them. */
const MAX_WARNINGS = 200;

export interface ApiStats {
  /** Wall time of loadApi, ms. */
  loadMs: number;
  /** Of which parsing files, ms. */
  parseMs: number;
  files: number;
  refs: number;
  operations: number;
  /** Operations whose validators are compiled. */
  compiledOperations: number;
  /** Schemas compiled by ajv so far (shared schemas count once). */
  schemaCompiles: number;
  compileMs: number;
  // --- response contract -----------------------------------------------------------------------
  /** Time to build the response copy of the document, ms; undefined until the first response check. */
  responseDocumentMs?: number;
  /** Response schemas compiled so far (their own ajv instance). */
  responseSchemaCompiles: number;
  responseCompileMs: number;
  // --- end response contract -------------------------------------------------------------------
}

interface Internals {
  store: SchemaStore;
  validators: OperationValidator[];
  responses: ResponseContext;
  responseValidators: ResponseValidator[];
  loadMs: number;
  parseMs: number;
  files: number;
  refs: number;
}

const internals = new WeakMap<ApiModel, Internals>();

/**
 * Loads and checks an OpenAPI 3.0.x/3.1.x document (YAML or JSON, with local file references).
 * Throws ConfigError (file, line, message) for documents that cannot be served; TypeError for
 * misuse of the options.
 */
export async function loadApi(opts: LoadApiOptions): Promise<ApiModel> {
  checkOptions(opts);
  const t0 = performance.now();
  const b = bundle(resolvePath(opts.file));
  const { doc } = b;
  const fail = (pointer: string, message: string): never => {
    throw configIssueAt(b, pointer, message);
  };
  const warnings: string[] = [];
  let dropped = 0;
  const warn = (m: string): void => {
    if (warnings.length < MAX_WARNINGS) warnings.push(m);
    else dropped++;
  };

  const version = checkVersion(b, fail, warn);
  if (b.root.format === 'yaml' && b.root.text.length > 1_000_000) {
    warn(`the document is ${(b.root.text.length / 1e6).toFixed(1)} MB of YAML, parsed in ${Math.round(b.root.parseMs)} ms; its JSON form loads many times faster`);
  }
  // --- body classifications: unknown classes are warnings; schemas as written, before the ----
  // normaliser rewrites them (classification.ts). Only documents that classify anything pay.
  let written: WrittenSchemas | undefined;
  if (b.files.some((f) => f.text.includes(CLASSIFICATION_KEYWORD))) {
    const scan = scanClassifications(doc);
    written = scan.written;
    for (const { pointer, message } of scan.issues) warn(`${pointer}: ${message}`);
  }
  // --- end body classifications ---------------------------------------------------------------
  const info = isObject(doc['info']) ? doc['info'] : {};
  const resolveSecurity = createSecurityResolver({ doc, version, apiName: opts.name, qualifyScopes: opts.qualifyScopes, fail, warn });
  const rootSecurity = doc['security'];

  const normalizer = createNormalizer(doc, { version, closedObjects: opts.closedObjects, warn });
  const plans: { op: Omit<OperationModel, 'validate' | 'classifications' | 'validateResponse' | 'countRecords'>; plan: OperationPlan; at: string }[] = [];
  const ids = new Map<string, string>();
  const implicitPublic: string[] = [];
  const prefix = opts.reservedPrefix.replace(/\/+$/, '').toLowerCase();

  const paths = doc['paths'];
  if (paths === undefined) {
    if (version === '3.0') fail('', 'paths is required in OpenAPI 3.0');
    warn('the document has no paths: no operation is published');
  } else if (!isObject(paths)) fail('/paths', 'paths must be a map of path templates');
  for (const [route, rawItem] of Object.entries(isObject(paths) ? paths : {})) {
    if (route.startsWith('x-')) continue;
    const itemPointer = `/paths/${escapeSegment(route)}`;
    if (!route.startsWith('/')) fail(itemPointer, `path ${JSON.stringify(route)} must start with '/'`);
    const lower = route.toLowerCase();
    if (prefix !== '' && (lower === prefix || lower.startsWith(prefix + '/') || lower.startsWith(prefix + '{'))) {
      fail(itemPointer, `path ${route} is under the reserved prefix ${opts.reservedPrefix}, which belongs to Rampart's own endpoints`);
    }
    const { node: item, pointer: itemAt } = derefOrFail(doc, rawItem, itemPointer, fail);
    if (!isObject(item)) fail(itemPointer, 'a path item must be an object');
    const pathParams = collectParams((item as JsonObject)['parameters'], `${itemAt}/parameters`, doc, fail, warn, route);
    const templateVars = new Set([...route.matchAll(/\{([^{}]+)\}/g)].map((m) => m[1]!));
    for (const method of METHODS) {
      const rawOp = (item as JsonObject)[method];
      if (rawOp === undefined) continue;
      const opPointer = `${itemAt}/${method}`;
      if (!isObject(rawOp)) fail(opPointer, 'an operation must be an object');
      const op = rawOp as JsonObject;
      const METHOD = method.toUpperCase();
      let id = `${METHOD} ${route}`;
      if (op['operationId'] !== undefined) {
        if (typeof op['operationId'] !== 'string' || op['operationId'] === '') fail(`${opPointer}/operationId`, 'operationId must be a non-empty string');
        id = op['operationId'] as string;
      }
      const seen = ids.get(id);
      if (seen !== undefined) fail(`${opPointer}/operationId`, `duplicate operationId '${id}' (also used by ${seen})`);
      ids.set(id, `${METHOD} ${route}`);

      // §4.8.10 parameters: operation-level entries override path-level ones with the same name and location.
      const merged = new Map<string, ParamDecl>(pathParams);
      for (const [k, v] of collectParams(op['parameters'], `${opPointer}/parameters`, doc, fail, warn, id)) merged.set(k, v);
      const params: ParamDecl[] = [];
      const declaredPath = new Set<string>();
      for (const decl of merged.values()) {
        if (decl.param['in'] === 'path') {
          const name = decl.param['name'] as string;
          if (!templateVars.has(name)) {
            warn(`${id}: path parameter '${name}' is not in the path template; ignored`);
            continue;
          }
          declaredPath.add(name);
        }
        params.push(decl);
      }
      for (const v of templateVars) if (!declaredPath.has(v)) warn(`${id}: path template variable '${v}' has no parameter definition; it is not validated`);

      let body: OperationPlan['body'];
      const requestContentTypes: string[] = [];
      if (op['requestBody'] !== undefined) {
        const { node: rb, pointer: rbAt } = derefOrFail(doc, op['requestBody'], `${opPointer}/requestBody`, fail);
        if (!isObject(rb)) fail(`${opPointer}/requestBody`, 'requestBody must be an object');
        const content = (rb as JsonObject)['content'];
        const decls: ContentDecl[] = [];
        if (isObject(content)) {
          for (const [key, rawMt] of Object.entries(content)) {
            const norm = normalizeContentKey(key);
            const mtAt = `${rbAt}/content/${escapeSegment(key)}`;
            if (norm === undefined) {
              warn(`${id}: request media type ${JSON.stringify(key)} is not a media type; ignored`);
              continue;
            }
            if (requestContentTypes.includes(norm)) continue; // `application/json; charset=utf-8` next to `application/json`
            const { node: mt, pointer: mtPtr } = derefOrFail(doc, rawMt, mtAt, fail);
            const decl: ContentDecl = { key: norm };
            if (isObject(mt)) {
              if (mt['schema'] !== undefined) decl.schemaPointer = `${mtPtr}/schema`;
              if (isObject(mt['encoding'])) decl.encoding = mt['encoding'];
            }
            decls.push(decl);
            requestContentTypes.push(norm);
          }
        } else fail(`${rbAt}/content`, 'requestBody.content is required');
        body = { required: (rb as JsonObject)['required'] === true, content: decls };
      }

      // §4.8.10 security: the operation's list replaces the root's; `[]` removes security.
      let security: SecurityAlternative[];
      if (op['security'] !== undefined) security = resolveSecurity(op['security'], `${opPointer}/security`, id);
      else if (rootSecurity !== undefined) security = resolveSecurity(rootSecurity, '/security', id);
      else {
        security = [];
        implicitPublic.push(id);
      }

      // API4: the page-size parameter, read before the request pass rewrites parameter schemas.
      const pageSizeParam = findPageSizeParam(doc, params.map((p) => p.param));
      plans.push({
        op: {
          id,
          method: METHOD,
          route,
          security,
          requestContentTypes,
          requestBodyRequired: body?.required ?? false,
          parameters: parameterNames(params),
          deprecated: op['deprecated'] === true,
          ...(pageSizeParam !== undefined ? { pageSizeParam } : {}),
        },
        plan: { id, params, body },
        at: opPointer,
      });
    }
  }
  if (implicitPublic.length > 0) {
    const shown = implicitPublic.slice(0, 20).join(', ');
    warn(`${implicitPublic.length} operation(s) declare no security (neither their own nor the document's) and are public: ${shown}${implicitPublic.length > 20 ? ', ...' : ''}`);
  }

  // Normalise exactly the schemas that request validation reaches.
  for (const { plan } of plans) {
    for (const p of plan.params) {
      if (p.param['schema'] !== undefined) normalizer.schemaAt(`${p.pointer}/schema`);
      else if (isObject(p.param['content'])) {
        for (const k of Object.keys(p.param['content'])) normalizer.schemaAt(`${p.pointer}/content/${escapeSegment(k)}/schema`);
      }
    }
    for (const c of plan.body?.content ?? []) if (c.schemaPointer) normalizer.schemaAt(c.schemaPointer);
  }
  const unknownFormats = [...normalizer.formats].filter((f) => !KNOWN_FORMATS.has(f)).sort();
  if (unknownFormats.length > 0) {
    warn(`unknown format(s) accepted without checking: ${unknownFormats.join(', ')}`);
  }
  const schemaStore = createSchemaStore(doc, version, unknownFormats);

  const validators: OperationValidator[] = [];
  const compileWarned = new Set<string>();
  // --- response contract: nothing is parsed or compiled here (validate-response.ts) -------------
  const responseWarnings = { count: 0 };
  const responses = createResponseContext({
    files: b.files,
    version,
    operationPointers: plans.map((p) => p.at),
    warn: (m) => {
      // The response pass meets many of the schemas the request pass warned about already.
      if (warnings.includes(m.replace(/^responses: /, ''))) return;
      if (responseWarnings.count++ < MAX_WARNINGS) warnings.push(m);
    },
  });
  const responseValidators: ResponseValidator[] = [];
  const responseWarned = new Set<string>();
  // --- end response contract --------------------------------------------------------------------
  const operations: OperationModel[] = plans.map(({ op, plan, at }) => {
    const v = createOperationValidator(plan, schemaStore, (opId, err) => {
      if (compileWarned.has(opId)) return;
      compileWarned.add(opId);
      warnings.push(`${opId}: request schema cannot be compiled (${err instanceof Error ? err.message : String(err)}); requests to it fail closed`);
    });
    validators.push(v);
    // --- response contract ---------------------------------------------------------------------
    const rv = createResponseValidator(responses, { id: op.id, method: op.method, at }, (opId, err) => {
      if (responseWarned.has(opId)) return;
      responseWarned.add(opId);
      if (responseWarnings.count++ < MAX_WARNINGS) {
        warnings.push(`${opId}: response schema cannot be compiled (${err instanceof Error ? err.message : String(err)}); its responses fail closed`);
      }
    });
    responseValidators.push(rv);
    // --- end response contract -----------------------------------------------------------------
    const model = {
      ...op,
      security: freezeSecurity(op.security),
      requestContentTypes: Object.freeze(op.requestContentTypes) as string[],
      validate: v.validate,
      validateResponse: rv.validateResponse,
      countRecords: rv.countRecords,
    };
    // --- body classifications: computed on first access, then cached (classification.ts) -------
    let classified: OperationClassifications | undefined;
    Object.defineProperty(model, 'classifications', {
      get: () => (classified ??= Object.freeze(classifyOperation(doc, at, written))),
      enumerable: false,
    });
    // --- end body classifications -------------------------------------------------------------
    return Object.freeze(model) as OperationModel;
  });

  let router;
  try {
    router = createRouter(operations);
  } catch (e) {
    if (e instanceof RouterBuildError) {
      const route = /path (\S+)/.exec(e.message)?.[1] ?? '';
      fail(`/paths/${escapeSegment(route)}`, e.message);
    }
    throw e;
  }
  if (dropped > 0) warnings.push(`... and ${dropped} more warning(s)`);

  const loadMs = performance.now() - t0;
  const model: ApiModel = {
    name: opts.name,
    title: typeof info['title'] === 'string' ? info['title'] : '',
    version: typeof info['version'] === 'string' ? info['version'] : String(info['version'] ?? ''),
    openapi: String(doc['openapi']),
    operations: Object.freeze(operations),
    match: router.match,
    warnings,
  };
  internals.set(model, {
    store: schemaStore,
    validators,
    responses,
    responseValidators,
    loadMs,
    parseMs: b.files.reduce((s, f) => s + f.parseMs, 0),
    files: b.files.length,
    refs: b.refCount,
  });
  if (loadChannel.hasSubscribers) {
    loadChannel.publish({ name: opts.name, file: b.root.path, ms: loadMs, operations: operations.length, warnings: warnings.length });
  }
  return model;
}

/** Load and compile figures of an ApiModel returned by loadApi (for `rampart check`, tests, benchmarks). */
export function apiStats(api: ApiModel): ApiStats {
  const i = internals.get(api);
  if (!i) throw new TypeError('apiStats: not an ApiModel returned by loadApi');
  return {
    loadMs: i.loadMs,
    parseMs: i.parseMs,
    files: i.files,
    refs: i.refs,
    operations: i.validators.length,
    compiledOperations: i.validators.filter((v) => v.compiled).length,
    schemaCompiles: i.store.stats.compiles,
    compileMs: i.store.stats.compileMs,
    ...(i.responses.built ? { responseDocumentMs: i.responses.document().buildMs } : {}),
    responseSchemaCompiles: i.responses.built ? i.responses.document().store.stats.compiles : 0,
    responseCompileMs: i.responses.built ? i.responses.document().store.stats.compileMs : 0,
  };
}

export interface WarmUpResult {
  compiled: number;
  /** Operation ids whose schemas cannot be compiled (they fail closed when called). */
  failed: string[];
  /** With `responses: true`: operations whose response schemas were compiled, and those that cannot be. */
  responsesCompiled?: number;
  responsesFailed?: string[];
}

/**
 * Compiles every operation's validators in small slices between other work (setImmediate), so
 * that first requests do not pay for compilation. Optional: validate() compiles on demand anyway.
 * `rampart check` can use it to find schemas ajv cannot compile. With `responses: true` the
 * response side too: the response copy of the document is built first (one uninterrupted step:
 * ~0.1-0.3 s for GitHub's document), then each operation's response schemas in slices.
 *
 * @example
 * const api = await loadApi(opts);
 * const { failed, responsesFailed } = await warmUp(api, { responses: true });
 */
export function warmUp(api: ApiModel, options: { sliceMs?: number; responses?: boolean } = {}): Promise<WarmUpResult> {
  const i = internals.get(api);
  if (!i) return Promise.reject(new TypeError('warmUp: not an ApiModel returned by loadApi'));
  const sliceMs = options.sliceMs ?? 5;
  const failed: string[] = [];
  const responsesFailed: string[] = [];
  let compiled = 0;
  let responsesCompiled = 0;
  let next = 0;
  // Requests first, then (optionally) responses: one list of compile steps.
  const total = i.validators.length * (options.responses === true ? 2 : 1);
  return new Promise((resolveDone) => {
    const step = (): void => {
      const end = performance.now() + sliceMs;
      while (next < total && performance.now() < end) {
        const n = next % i.validators.length;
        const request = next < i.validators.length;
        const id = api.operations[n]!.id;
        next++;
        const v = request ? i.validators[n]! : i.responseValidators[n]!;
        if (v.compiled) continue;
        try {
          v.compile();
          if (request) compiled++;
          else responsesCompiled++;
        } catch {
          (request ? failed : responsesFailed).push(id);
        }
      }
      if (next < total) setImmediate(step);
      else resolveDone(options.responses === true ? { compiled, failed, responsesCompiled, responsesFailed } : { compiled, failed });
    };
    setImmediate(step);
  });
}

// ---------------------------------------------------------------------------------------------

function checkOptions(opts: LoadApiOptions): void {
  if (typeof opts !== 'object' || opts === null) throw new TypeError('loadApi: options are required');
  if (typeof opts.name !== 'string' || opts.name === '') throw new TypeError('loadApi: name must be a non-empty string');
  if (typeof opts.file !== 'string' || opts.file === '') throw new TypeError('loadApi: file must be a non-empty string');
  if (typeof opts.reservedPrefix !== 'string' || !opts.reservedPrefix.startsWith('/')) {
    throw new TypeError("loadApi: reservedPrefix must be a path starting with '/'");
  }
}

function checkVersion(b: Bundle, fail: (p: string, m: string) => never, warn: (m: string) => void): '3.0' | '3.1' {
  const { doc } = b;
  if (doc['swagger'] !== undefined) {
    fail('/swagger', 'Swagger 2.0 documents are not supported: convert the document to OpenAPI 3.0 or 3.1 first');
  }
  const v = doc['openapi'];
  if (typeof v !== 'string') fail(v === undefined ? '' : '/openapi', 'not an OpenAPI document: the openapi field (3.0.x or 3.1.x) is missing');
  // eslint-disable-next-line security/detect-unsafe-regex -- linear: anchored; `\d+` and `[0-9A-Za-z.-]+` are separated by '-' and '.'; input is the operator's document's openapi field
  const m = /^3\.([01])(?:\.(\d+))?(-[0-9A-Za-z.-]+)?$/.exec(v as string);
  if (!m) fail('/openapi', `OpenAPI ${String(v)} is not supported: Rampart reads OpenAPI 3.0.x and 3.1.x`);
  if (m![2] === undefined) warn(`openapi: '${String(v)}' should name a patch version (e.g. ${String(v)}.0)`);
  const dialect = doc['jsonSchemaDialect'];
  if (m![1] === '1' && typeof dialect === 'string' && dialect !== 'https://spec.openapis.org/oas/3.1/dialect/base' && !dialect.includes('json-schema.org/draft/2020-12')) {
    warn(`jsonSchemaDialect ${dialect} is not supported; schemas are read as JSON Schema 2020-12`);
  }
  return m![1] === '1' ? '3.1' : '3.0';
}

function derefOrFail(doc: JsonObject, node: Json | undefined, pointer: string, fail: (p: string, m: string) => never): { node: Json | undefined; pointer: string } {
  try {
    return deref(doc, node, pointer);
  } catch {
    return fail(pointer, 'reference cycle: the $ref chain never reaches an object');
  }
}

function collectParams(
  list: Json | undefined,
  pointer: string,
  doc: JsonObject,
  fail: (p: string, m: string) => never,
  warn: (m: string) => void,
  where: string,
): Map<string, ParamDecl> {
  const out = new Map<string, ParamDecl>();
  if (list === undefined) return out;
  if (!Array.isArray(list)) fail(pointer, 'parameters must be an array');
  (list as Json[]).forEach((raw, i) => {
    const at = `${pointer}/${i}`;
    const { node, pointer: p } = derefOrFail(doc, raw, at, fail);
    if (!isObject(node)) return fail(at, 'a parameter must be an object');
    const name = node['name'];
    const loc = node['in'];
    if (typeof name !== 'string' || name === '') fail(`${p}/name`, 'a parameter needs a name');
    if (typeof loc !== 'string' || !LOCATIONS.has(loc)) fail(`${p}/in`, `parameter '${String(name)}': in must be path, query, header or cookie`);
    if (node['schema'] === undefined && node['content'] === undefined) {
      warn(`${where}: parameter '${String(name)}' has neither schema nor content; only its presence is checked`);
    }
    // Header names are case-insensitive (RFC 9110 §5.1).
    const key = `${String(loc)}\0${loc === 'header' ? String(name).toLowerCase() : String(name)}`;
    if (out.has(key)) {
      warn(`${where}: parameter '${String(name)}' in ${String(loc)} is listed twice; the first one is used`);
      return;
    }
    out.set(key, { param: node, pointer: p });
  });
  return out;
}

function freezeSecurity(alts: SecurityAlternative[]): SecurityAlternative[] {
  for (const a of alts) {
    for (const s of a.schemes) Object.freeze(s);
    Object.freeze(a.schemes);
    Object.freeze(a.scopes);
    Object.freeze(a);
  }
  return Object.freeze(alts) as SecurityAlternative[];
}

function parameterNames(params: readonly ParamDecl[]): OperationModel['parameters'] {
  const out: OperationModel['parameters'] = { path: [], query: [], header: [], cookie: [] };
  for (const { param } of params) {
    const where = param['in'];
    const name = param['name'];
    if (typeof name !== 'string') continue;
    if (where === 'path' || where === 'query' || where === 'cookie') out[where].push(name);
    else if (where === 'header') out.header.push(name.toLowerCase());
  }
  return out;
}
