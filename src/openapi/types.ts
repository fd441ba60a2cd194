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
}

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
