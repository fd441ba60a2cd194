/**
 * The one registry of client-facing error codes. A code is never reused or renumbered once
 * released: clients and SIEM rules match on it (STYLE: fastify's FST_ERR_* registry). The test in
 * test/unit/errors.test.ts pins this table; docs/errors.md lists it.
 *
 * Every denial carries one of these codes, as `code` in the RFC 9457 problem+json body and as
 * `reason` in the ledger record, together with the stage that denied it.
 */
export interface ErrorSpec {
  readonly status: number;
  readonly title: string;
  /** What the client may be told in `detail`; never the internal cause. */
  readonly detail: string;
}

export const ERRORS = {
  // parse and limits
  RAMPART_MALFORMED_REQUEST: { status: 400, title: 'Malformed request', detail: 'The request could not be parsed as HTTP/1.1.' },
  RAMPART_REQUEST_SMUGGLING: { status: 400, title: 'Ambiguous message framing', detail: 'The request framing is ambiguous (for example Content-Length with Transfer-Encoding, or a repeated Content-Length).' },
  RAMPART_HEADERS_TOO_LARGE: { status: 431, title: 'Request header fields too large', detail: 'The request headers exceed the configured limit.' },
  RAMPART_URI_TOO_LONG: { status: 414, title: 'URI too long', detail: 'The request target exceeds the configured limit.' },
  RAMPART_BODY_TOO_LARGE: { status: 413, title: 'Content too large', detail: 'The request body exceeds the configured limit.' },
  RAMPART_REQUEST_TIMEOUT: { status: 408, title: 'Request timeout', detail: 'The request was not received in time.' },
  RAMPART_METHOD_NOT_IMPLEMENTED: { status: 501, title: 'Unsupported method', detail: 'The request method is not supported by this gateway.' },
  RAMPART_PATH_NOT_CANONICAL: { status: 400, title: 'Non-canonical path', detail: 'The request path contains dot segments, encoded separators or other ambiguous forms.' },
  RAMPART_UNSUPPORTED_CONTENT_ENCODING: { status: 415, title: 'Unsupported content encoding', detail: 'The request body uses a content encoding the gateway does not accept.' },
  RAMPART_ORIGIN_NOT_ALLOWED: { status: 403, title: 'Origin not allowed', detail: 'The request origin is not in the CORS allowlist.' },
  // address limit
  RAMPART_AUTH_THROTTLED: { status: 429, title: 'Too many failed authentications', detail: 'Too many failed authentication attempts from this address; retry later.' },
  // route
  RAMPART_ROUTE_NOT_FOUND: { status: 404, title: 'Not found', detail: 'No operation of the published API matches this path.' },
  RAMPART_METHOD_NOT_ALLOWED: { status: 405, title: 'Method not allowed', detail: 'The path exists but does not support this method.' },
  // authenticate
  RAMPART_AUTH_REQUIRED: { status: 401, title: 'Authentication required', detail: 'This operation requires a credential.' },
  RAMPART_AUTH_INVALID: { status: 401, title: 'Invalid credential', detail: 'The credential is not valid, has expired or was revoked.' },
  RAMPART_AUTH_UNAVAILABLE: { status: 503, title: 'Authentication unavailable', detail: 'Credentials cannot be checked right now; retry later.' },
  RAMPART_CLIENT_CERT_REQUIRED: { status: 403, title: 'Client certificate required', detail: 'This operation requires a client certificate from a trusted authority.' },
  // scope check
  RAMPART_SCOPE_MISSING: { status: 403, title: 'Insufficient scope', detail: 'The credential does not grant the scope this operation requires.' },
  // authorize (object level, API1)
  RAMPART_OBJECT_FORBIDDEN: { status: 403, title: 'Object not permitted', detail: 'The credential may not act on an object this request names.' },
  RAMPART_OBJECT_NOT_FOUND: { status: 404, title: 'Not found', detail: 'No such object.' },
  RAMPART_AUTHZ_TOO_MANY_OBJECTS: { status: 400, title: 'Too many objects', detail: 'The request names more objects than one request may.' },
  RAMPART_AUTHZ_UNAVAILABLE: { status: 503, title: 'Authorization unavailable', detail: 'Object ownership cannot be checked right now; retry later.' },
  // validate
  RAMPART_VALIDATION_FAILED: { status: 400, title: 'Request validation failed', detail: 'The request does not match the API contract.' },
  RAMPART_MALFORMED_JSON: { status: 400, title: 'Malformed JSON', detail: 'The request body is not valid JSON.' },
  RAMPART_DUPLICATE_JSON_KEY: { status: 400, title: 'Duplicate JSON key', detail: 'An object in the request body repeats a key.' },
  RAMPART_DUPLICATE_PARAMETER: { status: 400, title: 'Repeated parameter', detail: 'A scalar parameter was given more than once.' },
  RAMPART_UNSUPPORTED_MEDIA_TYPE: { status: 415, title: 'Unsupported media type', detail: 'The request content type is missing or not accepted by this operation.' },
  // principal limit, address limit (API4, API6) and anomaly actions (FC-3)
  RAMPART_RATE_LIMITED: { status: 429, title: 'Too many requests', detail: 'A rate limit was reached; retry after the time in Retry-After.' },
  RAMPART_QUOTA_EXCEEDED: { status: 429, title: 'Data quota exceeded', detail: 'The data-volume quota for this period is spent; retry after the time in Retry-After.' },
  RAMPART_RATE_LIMIT_UNAVAILABLE: { status: 503, title: 'Rate limiting unavailable', detail: 'Rate limits cannot be checked right now, so the request was refused; retry later.' },
  RAMPART_ANOMALY_THROTTLED: { status: 429, title: 'Throttled', detail: 'Unusual activity was detected for this credential or address; requests are slowed for a while.' },
  RAMPART_ANOMALY_BLOCKED: { status: 403, title: 'Temporarily blocked', detail: 'Unusual activity was detected for this credential or address; requests are refused for a while.' },
  // inspect (ASVS 5.3.4, API7)
  RAMPART_INJECTION_DETECTED: { status: 400, title: 'Request refused by inspection', detail: 'A field of the request carries text that looks like an injection attack.' },
  RAMPART_PAGE_SIZE_EXCEEDED: { status: 400, title: 'Page too large', detail: 'The requested page size exceeds the largest this operation allows.' },
  // ledger
  RAMPART_LEDGER_UNAVAILABLE: { status: 503, title: 'Audit ledger unavailable', detail: 'The request could not be recorded, so it was not forwarded.' },
  // proxy
  RAMPART_UPSTREAM_TIMEOUT: { status: 504, title: 'Upstream timeout', detail: 'The upstream service did not answer in time.' },
  RAMPART_UPSTREAM_UNAVAILABLE: { status: 502, title: 'Upstream unavailable', detail: 'The upstream service could not be reached or answered with an invalid response.' },
  // respond (API3, API10, FC-3)
  RAMPART_RESPONSE_CONTRACT: { status: 502, title: 'Upstream response refused', detail: 'The upstream answered outside the published API contract, so the response was withheld.' },
  RAMPART_RESPONSE_UNINSPECTABLE: { status: 502, title: 'Upstream response refused', detail: 'The upstream response could not be inspected (too large, or an encoding the gateway cannot decode), so it was withheld.' },
  RAMPART_RESPONSE_WITHHELD: { status: 403, title: 'Response withheld', detail: 'The response holds data this credential may not receive.' },
  // gateway
  // admin plane
  RAMPART_ADMIN_LOGIN_FAILED: { status: 401, title: 'Login failed', detail: 'The username, password or second factor is not right.' },
  RAMPART_ADMIN_LOCKED: { status: 429, title: 'Too many failed logins', detail: 'Logins are paused for this account or address; retry later.' },
  RAMPART_ADMIN_SESSION_REQUIRED: { status: 401, title: 'Session required', detail: 'Log in first; the session may have timed out.' },
  RAMPART_ADMIN_CSRF: { status: 403, title: 'CSRF check failed', detail: 'State-changing requests need the session CSRF token in X-CSRF-Token.' },
  RAMPART_ADMIN_FORBIDDEN: { status: 403, title: 'Not permitted', detail: 'Your roles do not allow this action.' },
  RAMPART_ADMIN_REAUTH_REQUIRED: { status: 401, title: 'Re-authentication required', detail: 'Prove both factors again (POST /admin/api/reauth) for this action.' },
  RAMPART_ADMIN_BAD_REQUEST: { status: 400, title: 'Bad request', detail: 'The request is not what this endpoint expects.' },
  RAMPART_ADMIN_NOT_FOUND: { status: 404, title: 'Not found', detail: 'No such resource.' },
  RAMPART_ADMIN_CONFLICT: { status: 409, title: 'Conflict', detail: 'It exists already.' },
  // configuration versions (issue 6: rampart apply, approve, plan)
  RAMPART_CONFIG_INVALID: { status: 422, title: 'Configuration refused', detail: 'The configuration version does not validate; the running version is unchanged.' },
  RAMPART_CONFIG_BUNDLE_TOO_LARGE: { status: 413, title: 'Configuration bundle too large', detail: 'The configuration bundle exceeds changes.maxBundleBytes.' },
  RAMPART_CONFIG_VERSION_UNKNOWN: { status: 404, title: 'Unknown configuration version', detail: 'No configuration version with this hash was submitted.' },
  RAMPART_CONFIG_SELF_APPROVAL: { status: 403, title: 'Author cannot approve', detail: 'The author of a configuration version cannot approve it; another admin must.' },
  RAMPART_CONFIG_APPROVALS_MISSING: { status: 409, title: 'Approvals missing', detail: 'This configuration version needs more approvals before it can be applied.' },
  RAMPART_CONFIG_HASH_MISMATCH: { status: 409, title: 'Configuration version differs here', detail: 'Loaded on this gateway, the version has another hash (an ${ENV} value differs); submit it again.' },
  RAMPART_CONFIG_ACTIVATION_UNAVAILABLE: { status: 503, title: 'Live activation unavailable', detail: 'This gateway cannot activate configuration versions live.' },
  RAMPART_SHUTTING_DOWN: { status: 503, title: 'Shutting down', detail: 'The gateway is shutting down; retry on another node.' },
  RAMPART_INTERNAL: { status: 500, title: 'Internal error', detail: 'The gateway could not process the request; it was not forwarded.' },
} as const satisfies Record<string, ErrorSpec>;

export type ErrorCode = keyof typeof ERRORS;

/**
 * Reason codes that appear in ledger records but are not client errors: an allowed exchange,
 * a client that went away mid-response, a CORS preflight answered by the gateway.
 */
export const LEDGER_REASONS = ['RAMPART_OK', 'RAMPART_CLIENT_ABORTED', 'RAMPART_CORS_PREFLIGHT'] as const;
export type LedgerReason = (typeof LEDGER_REASONS)[number];

/** Base class for Rampart's own errors: `switch (err.code)` narrows (STYLE: jose's errors). */
export class RampartError extends Error {
  readonly code: ErrorCode;
  constructor(code: ErrorCode, message?: string, options?: { cause?: unknown }) {
    super(message ?? ERRORS[code].detail, options);
    this.name = 'RampartError';
    this.code = code;
  }
  get status(): number {
    return ERRORS[this.code].status;
  }
}

/**
 * A configuration problem found while loading. It names the file, the line and column (1-based)
 * and what was expected, so that an operator can fix it without reading code.
 */
export class ConfigError extends Error {
  readonly code = 'RAMPART_CONFIG_INVALID' as const;
  readonly issues: readonly ConfigIssue[];
  constructor(issues: readonly ConfigIssue[]) {
    super(issues.map(formatConfigIssue).join('\n'));
    this.name = 'ConfigError';
    this.issues = issues;
  }
}

export interface ConfigIssue {
  file: string;
  line?: number;
  column?: number;
  /** JSON pointer of the offending value, when known. */
  pointer?: string;
  message: string;
}

export function formatConfigIssue(i: ConfigIssue): string {
  const where = i.line ? `${i.file}:${i.line}${i.column ? `:${i.column}` : ''}` : i.file;
  return `${where}: ${i.pointer ? `${i.pointer}: ` : ''}${i.message}`;
}
