/**
 * Pins the error registry: codes are a public contract (clients and SIEM rules match on them),
 * so a code is never renamed, renumbered or dropped without this test changing on purpose.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { ERRORS, LEDGER_REASONS } from '../../src/core/errors.js';
import { problemBody } from '../../src/core/problem.js';

const PINNED: Record<string, number> = {
  RAMPART_MALFORMED_REQUEST: 400,
  RAMPART_REQUEST_SMUGGLING: 400,
  RAMPART_HEADERS_TOO_LARGE: 431,
  RAMPART_URI_TOO_LONG: 414,
  RAMPART_BODY_TOO_LARGE: 413,
  RAMPART_REQUEST_TIMEOUT: 408,
  RAMPART_METHOD_NOT_IMPLEMENTED: 501,
  RAMPART_PATH_NOT_CANONICAL: 400,
  RAMPART_UNSUPPORTED_CONTENT_ENCODING: 415,
  RAMPART_ORIGIN_NOT_ALLOWED: 403,
  RAMPART_AUTH_THROTTLED: 429,
  RAMPART_ROUTE_NOT_FOUND: 404,
  RAMPART_METHOD_NOT_ALLOWED: 405,
  RAMPART_AUTH_REQUIRED: 401,
  RAMPART_AUTH_INVALID: 401,
  RAMPART_AUTH_UNAVAILABLE: 503,
  RAMPART_CLIENT_CERT_REQUIRED: 403,
  RAMPART_SCOPE_MISSING: 403,
  RAMPART_OBJECT_FORBIDDEN: 403,
  RAMPART_OBJECT_NOT_FOUND: 404,
  RAMPART_AUTHZ_TOO_MANY_OBJECTS: 400,
  RAMPART_AUTHZ_UNAVAILABLE: 503,
  RAMPART_VALIDATION_FAILED: 400,
  RAMPART_MALFORMED_JSON: 400,
  RAMPART_DUPLICATE_JSON_KEY: 400,
  RAMPART_DUPLICATE_PARAMETER: 400,
  RAMPART_UNSUPPORTED_MEDIA_TYPE: 415,
  RAMPART_RATE_LIMITED: 429,
  RAMPART_QUOTA_EXCEEDED: 429,
  RAMPART_RATE_LIMIT_UNAVAILABLE: 503,
  RAMPART_ANOMALY_THROTTLED: 429,
  RAMPART_ANOMALY_BLOCKED: 403,
  RAMPART_INJECTION_DETECTED: 400,
  RAMPART_PAGE_SIZE_EXCEEDED: 400,
  RAMPART_LEDGER_UNAVAILABLE: 503,
  RAMPART_UPSTREAM_TIMEOUT: 504,
  RAMPART_UPSTREAM_UNAVAILABLE: 502,
  RAMPART_RESPONSE_CONTRACT: 502,
  RAMPART_RESPONSE_UNINSPECTABLE: 502,
  RAMPART_RESPONSE_WITHHELD: 403,
  RAMPART_ADMIN_LOGIN_FAILED: 401,
  RAMPART_ADMIN_LOCKED: 429,
  RAMPART_ADMIN_SESSION_REQUIRED: 401,
  RAMPART_ADMIN_CSRF: 403,
  RAMPART_ADMIN_FORBIDDEN: 403,
  RAMPART_ADMIN_REAUTH_REQUIRED: 401,
  RAMPART_ADMIN_BAD_REQUEST: 400,
  RAMPART_ADMIN_NOT_FOUND: 404,
  RAMPART_ADMIN_CONFLICT: 409,
  RAMPART_CONFIG_INVALID: 422,
  RAMPART_CONFIG_BUNDLE_TOO_LARGE: 413,
  RAMPART_CONFIG_VERSION_UNKNOWN: 404,
  RAMPART_CONFIG_SELF_APPROVAL: 403,
  RAMPART_CONFIG_APPROVALS_MISSING: 409,
  RAMPART_CONFIG_HASH_MISMATCH: 409,
  RAMPART_CONFIG_ACTIVATION_UNAVAILABLE: 503,
  RAMPART_SHUTTING_DOWN: 503,
  RAMPART_INTERNAL: 500,
};

test('the error registry is pinned', () => {
  const actual = Object.fromEntries(Object.entries(ERRORS).map(([k, v]) => [k, v.status]));
  assert.deepEqual(actual, PINNED);
});

test('every code is documented in docs/errors.md', () => {
  const doc = readFileSync(fileURLToPath(new URL('../../../docs/errors.md', import.meta.url)), 'utf8');
  for (const code of [...Object.keys(ERRORS), ...LEDGER_REASONS]) assert.ok(doc.includes(`\`${code}\``), `${code} missing from docs/errors.md`);
});

test('problem bodies follow RFC 9457 and carry the stable code', () => {
  const b = problemBody('RAMPART_SCOPE_MISSING', { requestId: 'r1' });
  assert.equal(b.status, 403);
  assert.equal(b.code, 'RAMPART_SCOPE_MISSING');
  assert.equal(b.type, 'https://rampart.dev/problems/scope-missing');
  assert.equal(b.title, 'Insufficient scope');
  assert.equal(b.requestId, 'r1');
});
