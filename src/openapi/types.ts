/**
 * What the data plane needs from an OpenAPI document: the inventory of operations (API9), a
 * router over it, and a per-operation request validator compiled lazily (a spec with hundreds of
 * operations must be ready to serve in well under a second).
 */
// --- body classifications (ledger body capture, DLP): type import --------------------------
import type { ClassificationMap } from './classification.js';
// --- end body classifications ---------------------------------------------------------------

/** One security scheme as used by an operation. */
export interface SecuritySchemeRef {
  /** Name of the scheme in components.securitySchemes. */
  name: string;
  type: 'apiKey' | 'http' | 'oauth2' | 'openIdConnect' | 'mutualTLS';
  /** For apiKey: where the key travels and under which name. */
  in?: 'header' | 'query' | 'cookie';
  paramName?: string;
  /** For http: the scheme (bearer, basic...). */
  scheme?: string;
}

/**
 * One alternative of an operation's `security` array: all schemes in it apply together and the
 * union of their scopes is required. An operation is satisfied by any one alternative.
 */
export interface SecurityAlternative {
  schemes: SecuritySchemeRef[];
  /** Scopes required by this alternative, already qualified by the API name when configured so. */
  scopes: string[];
}

export interface OperationModel {
  /** operationId, or a generated `METHOD /path` id when the document has none. */
  id: string;
  /** Upper-case HTTP method. */
  method: string;
  /** The path template exactly as in the document, e.g. /accounts/{accountId}. */
  route: string;
  /**
   * Security alternatives; an empty array means the operation is explicitly public
   * (`security: []`).
   */
  security: SecurityAlternative[];
  /** Media types the request body accepts (lower-case, no parameters); empty: no body allowed. */
  requestContentTypes: string[];
  requestBodyRequired: boolean;
  /** Names of the declared parameters by location (header names lower-cased). */
  parameters: { path: string[]; query: string[]; header: string[]; cookie: string[] };
  deprecated: boolean;
  /**
   * Validates the parts of a request that the router did not already check. Compiles this
   * operation's validators on first use. Never throws for bad input: returns a failure.
   */
  validate(input: RequestParts): ValidationResult;
  // --- body classifications (ledger body capture, DLP) ------------------------------------------
  /**
   * Where the request and response bodies carry personal or secret data, from
   * `x-rampart-classification` in the JSON and form media types' schemas (see classification.ts).
   * Computed on first access (a 1,200-operation document must still load fast), then cached.
   * `responses` is keyed by the document's response keys: a status code, `2XX` or `default`.
   */
  readonly classifications: { request?: ClassificationMap; responses: ReadonlyMap<string, ClassificationMap> };
  // --- end body classifications ---------------------------------------------------------------
  // --- response contract (API3, API4, API10; validate-response.ts, pagination.ts) -------------
  /**
   * Checks an upstream response against the operation's declared responses (API10): the status
   * (exact code, then `2XX`, then `default`), the Content-Type among that response's media types,
   * and for JSON media types (application/json, any `+json`) the body against the schema, with
   * objects closed and writeOnly properties refused (API3). `body` is the parsed JSON value, or
   * the raw bytes (Buffer/Uint8Array: parsed here, strictly), or undefined to check status and media
   * type only. Pass `contentType` undefined when the response has no body. In 'strip' mode,
   * undeclared properties are deleted from `body` in place and the result is checked again; in
   * 'report' mode nothing is changed and undeclared properties make the check fail (reason
   * 'schema' with `errors` empty when nothing else is wrong). The response copy of the document is
   * built on the first call for the API, this operation's schemas compiled on first use. Never
   * throws for bad input (TypeError for a `mode` or `undeclaredStatus` that is not one of the values).
   */
  validateResponse(status: number, contentType: string | undefined, body: unknown, mode: 'strip' | 'report', opts?: ResponseCheckOptions): ResponseCheck;
  /**
   * The query parameter that sets the page size (API4), when the operation has one: the first of
   * limit, per_page, perPage, page_size, pageSize, size, top, $top, count, max_results, maxResults
   * declared in the query with an integer schema.
   */
  readonly pageSizeParam?: string;
  /**
   * The number of records in a 2xx list response body: the length of the top-level array, or of
   * the array under the one array-valued property of the response object (`items`, `data`,
   * `results`...). Undefined when the status is not 2xx, the declared schema is not a list, or the
   * body does not have the declared shape. Never throws.
   */
  countRecords(status: number, body: unknown): number | undefined;
  // --- end response contract ------------------------------------------------------------------
}

// --- response contract (API3, API4, API10) -------------------------------------------------------
/** Why a response check failed. */
export type ResponseCheckReason =
  /** The status is not declared (and there is no `default`), and the undeclaredStatus policy blocks it. */
  | 'status-undeclared'
  /** The Content-Type is not one the response declares (or a body came without one, or none is declared). */
  | 'media-type-undeclared'
  /** A JSON media type, but the bytes are not UTF-8 JSON (syntax, charset, duplicate or `__proto__` key). */
  | 'not-json'
  /** Nested deeper than the JSON parser's bound (json-strict DEFAULT_MAX_DEPTH). */
  | 'too-deep'
  /**
   * The body breaks the schema. In 'report' mode, `errors` empty (and `undeclared` not) means the
   * only fault is properties the schema does not declare (or writeOnly ones); in 'strip' mode
   * those were removed and `errors` lists what is still wrong.
   */
  | 'schema'
  /** The document's response schema cannot be compiled: fails closed. */
  | 'internal';

export interface ResponseCheck {
  ok: boolean;
  /** Why not ok. */
  reason?: ResponseCheckReason;
  /**
   * JSON pointers (relative to the body) of undeclared properties found, and of writeOnly ones;
   * stripped when mode was 'strip'. Names longer than 64 characters or holding control characters
   * are shortened (safePointer), so the list is for logs; stripping is done by 'strip' mode. At most
   * MAX_UNDECLARED_LISTED entries (then `truncated`).
   */
  undeclared: string[];
  /** Schema failures other than undeclared properties (bounded: 1 + MAX_EXTRA_ERRORS); messages never echo values. */
  errors: { pointer: string; message: string }[];
  /** More undeclared properties were found than listed (in 'strip' mode all of them were stripped). */
  truncated?: boolean;
  /** The JSON value checked when there was one: the caller's (stripped in 'strip' mode) or the one parsed from bytes. */
  body?: unknown;
  /**
   * When ok although the body was not checked against a schema, why: the status is undeclared but
   * allowed, there is no body (HEAD, 204, 304, none sent or none given), the media type is not
   * JSON, or the declared media type has no schema.
   */
  unchecked?: 'status-undeclared' | 'no-body' | 'not-json-media-type' | 'no-schema';
}

export interface ResponseCheckOptions {
  /**
   * A status the operation does not declare, with no `default` response: 'block' refuses it,
   * 'allow' lets it through unchecked, 'allow-errors' (the default) lets 4xx/5xx through
   * unchecked and refuses 1xx-3xx. Many documents omit their error statuses (401, 404, 429, 500),
   * while an undeclared success or redirect carries data or a Location no contract describes.
   */
  undeclaredStatus?: 'allow' | 'block' | 'allow-errors';
  /**
   * A body on a response the document declares without `content` (`'200': { description: ok }`):
   * 'block' (the default here) is a contract break; 'allow' lets it through unchecked
   * (`unchecked: 'no-schema'`). Documents written loosely do this often; `rampart check` names them.
   */
  undocumentedBody?: 'allow' | 'block';
}
// --- end response contract ---------------------------------------------------------------------

// --- body classifications (ledger body capture, DLP) ---------------------------------------------
/**
 * The classification map of the response an operation gave with `status`: the exact code, then
 * its range (`2XX`), then `default` (OpenAPI 3.1 §4.8.16: the exact code wins over the range).
 *
 * @example
 * const map = responseClassifications(op, 201); // '201', else '2XX', else 'default'
 */
export function responseClassifications(op: Pick<OperationModel, 'classifications'>, status: number): ClassificationMap | undefined {
  const r = op.classifications.responses;
  if (r.size === 0) return undefined;
  return r.get(String(status)) ?? r.get(`${Math.floor(status / 100)}XX`) ?? r.get('default');
}
// --- end body classifications ---------------------------------------------------------------

export interface RequestParts {
  /** Decoded path parameters from the router. */
  pathParams: Record<string, string>;
  /** The raw query string without '?', as received (may be ''). */
  rawQuery: string;
  /** Lower-case header names (Node's IncomingMessage.headers). */
  headers: Record<string, string | string[] | undefined>;
  /** Raw request body (already size-bounded and decoded from any content-encoding); undefined when none. */
  body: Buffer | undefined;
}

export type ValidationResult =
  | { ok: true; query: Record<string, unknown>; body: unknown }
  | { ok: false; error: ValidationFailure };

export interface ValidationFailure {
  code:
    | 'RAMPART_VALIDATION_FAILED'
    | 'RAMPART_MALFORMED_JSON'
    | 'RAMPART_DUPLICATE_JSON_KEY'
    | 'RAMPART_DUPLICATE_PARAMETER'
    | 'RAMPART_UNSUPPORTED_MEDIA_TYPE';
  /** Where: `/query/limit`, `/body/amount`, `/header/x-request-id`, `/path/accountId`. */
  pointer: string;
  /** What was expected, never echoing the offending value whole. */
  message: string;
  /** Further failures (bounded), same form. */
  errors?: { pointer: string; message: string }[];
}

export type RouteMatch =
  | { kind: 'found'; operation: OperationModel; pathParams: Record<string, string> }
  | { kind: 'not-found' }
  | { kind: 'method-not-allowed'; allowed: string[] };

export interface ApiModel {
  /** The API's configured name. */
  name: string;
  title: string;
  version: string;
  /** '3.0.x' or '3.1.x' as declared. */
  openapi: string;
  operations: readonly OperationModel[];
  /**
   * Matches a canonical path relative to the mount prefix (always starting with '/') and an
   * upper-case method. Literal segments win over templated ones (OpenAPI 3.1 §4.8.8.2).
   */
  match(method: string, path: string): RouteMatch;
  /** Non-fatal findings while loading (unknown formats, unsupported discriminators...). */
  warnings: readonly string[];
}

export interface LoadApiOptions {
  name: string;
  /** Path to the OpenAPI document. */
  file: string;
  /** Qualify scopes as `name:scope` (when the gateway fronts more than one API). */
  qualifyScopes: boolean;
  /** Treat object schemas that do not say otherwise as `additionalProperties: false`. */
  closedObjects: boolean;
  /** Reserved prefix that no path in the document may use. */
  reservedPrefix: string;
}
