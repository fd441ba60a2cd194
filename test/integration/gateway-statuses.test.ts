/**
 * Every status the data plane can answer, through a real gateway, a real upstream and a real
 * SQLite ledger: what the client sees, what reached the upstream, and what the ledger recorded.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { gzipSync } from 'node:zlib';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { gatewayPrivates } from '../helpers/ledger-crypto.js';

let t: TestGateway;
let reader: string;
let writer: string;

before(async () => {
  t = await startTestGateway({ yaml: { limits: { maxBodyBytes: 4096, maxUrlLength: 512, maxHeaderBytes: 8192 }, authThrottle: { maxFailures: 100, windowSeconds: 60 } } });
  reader = (await t.key(['accounts:read'], { subject: 'cus_1' })).key;
  writer = (await t.key(['accounts:read', 'orders:write'], { subject: 'cus_1', name: 'writer' })).key;
});
after(async () => t.close());

const auth = (k: string) => ({ authorization: `Bearer ${k}` });
const seenCount = () => t.upstream.seen.length;

async function lastRecords(n: number) {
  const head = await t.gw.storage.ledger.head();
  const from = Math.max(1, (head?.seq ?? 0) - n + 1);
  return t.gw.storage.ledger.read(from, n);
}

function assertProblem(r: { status: number; headers: Record<string, unknown>; json(): any }, status: number, code: string) {
  assert.equal(r.status, status);
  assert.match(String(r.headers['content-type']), /^application\/problem\+json/);
  const b = r.json();
  assert.equal(b.status, status);
  assert.equal(b.code, code);
  assert.ok(b.requestId, 'problem carries the request id');
  assert.ok(!JSON.stringify(b).includes(' at '), 'no stack trace');
  return b;
}

test('allowed read is proxied, with security headers and without credentials or banners', async () => {
  const r = await t.request('GET', '/accounts?limit=5', { headers: { ...auth(reader), 'x-forwarded-for': '6.6.6.6', 'x-rampart-subject': 'cus_evil', 'x-rampart-identity': 'forged', 'idempotency-key': 'idem-1' } });
  assert.equal(r.status, 200);
  const echoed = r.json();
  assert.equal(echoed.url, '/accounts?limit=5');
  assert.equal(echoed.headers.authorization, undefined, 'Rampart credential never forwarded');
  assert.equal(echoed.headers['x-forwarded-for'], '127.0.0.1', 'client-supplied X-Forwarded-For dropped from an untrusted peer');
  assert.equal(echoed.headers['x-forwarded-proto'], 'http');
  assert.equal(echoed.headers['x-rampart-subject'], undefined, 'client x-rampart-* headers never pass');
  // The identity travels as an assertion signed by Rampart (checked in detail in identity-upstream.test.ts).
  const claims = JSON.parse(Buffer.from(String(echoed.headers['x-rampart-identity']).split('.')[1]!, 'base64url').toString());
  assert.equal(claims.subject_id, 'cus_1', 'the subject comes from the key, not from the client');
  assert.equal(echoed.headers['idempotency-key'], 'idem-1', 'Idempotency-Key passes through');
  assert.ok(echoed.headers['x-request-id']);
  assert.equal(r.headers['x-request-id'], echoed.headers['x-request-id']);
  assert.equal(r.headers['cache-control'], 'no-store');
  assert.equal(r.headers['x-content-type-options'], 'nosniff');
  assert.equal(r.headers.server, undefined, 'upstream Server banner stripped');
  assert.equal(r.headers['x-powered-by'], undefined);
  const [decision, completion] = await lastRecords(2);
  assert.equal(decision!.record.type, 'exchange.decision');
  assert.equal(decision!.record.outcome, 'allow');
  assert.equal(decision!.record.operationId, 'listAccounts');
  assert.equal(completion!.record.type, 'exchange.completion');
  assert.equal(completion!.record.status, 200);
  assert.equal(completion!.record.decisionSeq, decision!.record.seq);
  assert.equal(completion!.record.configHash, t.gw.runtime().hash);
  assert.ok(completion!.record.responseBodyCommit);
  assert.ok(!completion!.canonical.includes('cus_1') && !completion!.canonical.includes('127.0.0.1') && !completion!.canonical.includes('idem-1'), 'no personal data in the chained part');
  const [priv] = await gatewayPrivates(t.gw, [completion!.record.seq]);
  assert.equal(priv!.personal?.subject, 'cus_1');
  assert.equal(priv!.personal?.idempotencyKey, 'idem-1');
});

test('401 without a key, 401 with a bad key, and neither reaches the upstream', async () => {
  const before = seenCount();
  const r1 = await t.request('GET', '/accounts');
  assertProblem(r1, 401, 'RAMPART_AUTH_REQUIRED');
  assert.match(String(r1.headers['www-authenticate']), /^Bearer/);
  const r2 = await t.request('GET', '/accounts', { headers: auth('rmpk_aaaaaaaaaaaa_' + 'A'.repeat(43)) });
  assertProblem(r2, 401, 'RAMPART_AUTH_INVALID');
  const r3 = await t.request('GET', '/accounts', { headers: { authorization: 'Basic dXNlcjpwYXNz' } });
  assertProblem(r3, 401, 'RAMPART_AUTH_INVALID');
  assert.equal(seenCount(), before);
  const [rec] = await lastRecords(1);
  assert.equal(rec!.record.outcome, 'deny');
  assert.equal(rec!.record.stage, 'authenticate');
  assert.equal(rec!.record.reason, 'RAMPART_AUTH_INVALID');
  assert.deepEqual(rec!.record.detail, { cause: 'not-bearer' }, 'the sub-reason is recorded');
});

test('403 when the key lacks the scope, before validation', async () => {
  const before = seenCount();
  // The body is invalid too: the scope check comes first, so the schema does not leak.
  const r = await t.request('POST', '/accounts/acc_1/orders', { headers: { ...auth(reader), 'content-type': 'application/json' }, body: '{"nope":1}' });
  assertProblem(r, 403, 'RAMPART_SCOPE_MISSING');
  assert.match(String(r.headers['www-authenticate']), /insufficient_scope/);
  assert.equal(seenCount(), before);
});

test('400 validation with a pointer and no echo of the value', async () => {
  const r = await t.request('POST', '/accounts/acc_1/orders', { headers: { ...auth(writer), 'content-type': 'application/json' }, body: '{"symbol":"ACME","side":"buy","quantity":"SECRET-VALUE-123"}' });
  const b = assertProblem(r, 400, 'RAMPART_VALIDATION_FAILED');
  assert.equal(b.pointer, '/body/quantity');
  assert.ok(!r.body.toString().includes('SECRET-VALUE-123'));
  const r2 = await t.request('POST', '/accounts/acc_1/orders', { headers: { ...auth(writer), 'content-type': 'application/json' }, body: '{"symbol":"ACME","side":"buy","quantity":1,"isAdmin":true}' });
  assertProblem(r2, 400, 'RAMPART_VALIDATION_FAILED');
  const r3 = await t.request('GET', '/accounts?limit=1000', { headers: auth(reader) });
  assert.equal(assertProblem(r3, 400, 'RAMPART_VALIDATION_FAILED').pointer, '/query/limit');
});

test('valid order is forwarded with exactly the validated body', async () => {
  const body = '{"symbol":"ACME","side":"buy","quantity":10}';
  const r = await t.request('POST', '/accounts/acc_1/orders', { headers: { ...auth(writer), 'content-type': 'application/json' }, body });
  assert.equal(r.status, 201);
  assert.equal(r.json().body, body);
});

test('duplicate JSON keys and repeated scalar parameters are refused', async () => {
  const r = await t.request('POST', '/accounts/acc_1/orders', { headers: { ...auth(writer), 'content-type': 'application/json' }, body: '{"symbol":"ACME","side":"buy","quantity":1,"quantity":1000}' });
  assertProblem(r, 400, 'RAMPART_DUPLICATE_JSON_KEY');
  const r2 = await t.request('GET', '/accounts?limit=1&limit=100', { headers: auth(reader) });
  assertProblem(r2, 400, 'RAMPART_DUPLICATE_PARAMETER');
  const r3 = await t.request('GET', '/accounts?ids=a&ids=b', { headers: auth(reader) });
  assert.equal(r3.status, 200, 'an exploded array parameter may repeat');
});

test('415 for a wrong or missing content type and for unknown content codings', async () => {
  const r = await t.request('POST', '/accounts/acc_1/orders', { headers: { ...auth(writer), 'content-type': 'text/plain' }, body: 'hi' });
  assertProblem(r, 415, 'RAMPART_UNSUPPORTED_MEDIA_TYPE');
  const r2 = await t.request('POST', '/accounts/acc_1/orders', { headers: { ...auth(writer), 'content-type': 'application/json', 'content-encoding': 'compress' }, body: '{}' });
  assertProblem(r2, 415, 'RAMPART_UNSUPPORTED_CONTENT_ENCODING');
});

test('gzip bodies are decoded with a bound: validated when small, 413 when they expand too far', async () => {
  const good = gzipSync('{"symbol":"ACME","side":"sell","quantity":2}');
  const r = await t.request('POST', '/accounts/acc_1/orders', { headers: { ...auth(writer), 'content-type': 'application/json', 'content-encoding': 'gzip' }, body: good });
  assert.equal(r.status, 201);
  assert.equal(r.json().headers['content-encoding'], undefined, 'forwarded decoded');
  const hidden = gzipSync('{"symbol":"ACME","side":"sell","quantity":2,"isAdmin":true}');
  const r1 = await t.request('POST', '/accounts/acc_1/orders', { headers: { ...auth(writer), 'content-type': 'application/json', 'content-encoding': 'gzip' }, body: hidden });
  assertProblem(r1, 400, 'RAMPART_VALIDATION_FAILED');
  const bomb = gzipSync(Buffer.alloc(1_000_000, 0x20));
  assert.ok(bomb.length < 4096);
  const r2 = await t.request('POST', '/accounts/acc_1/orders', { headers: { ...auth(writer), 'content-type': 'application/json', 'content-encoding': 'gzip' }, body: bomb });
  assertProblem(r2, 413, 'RAMPART_BODY_TOO_LARGE');
});

test('404 for unknown routes, 405 with Allow for a wrong method', async () => {
  const before = seenCount();
  assertProblem(await t.request('GET', '/admin/users', { headers: auth(reader) }), 404, 'RAMPART_ROUTE_NOT_FOUND');
  const r = await t.request('DELETE', '/accounts', { headers: auth(reader) });
  assertProblem(r, 405, 'RAMPART_METHOD_NOT_ALLOWED');
  assert.equal(r.headers.allow, 'GET');
  assert.equal(seenCount(), before);
});

test('413 on a declared oversized body, 414 on a long URL, 431 on large headers, 501 on other methods', async () => {
  assertProblem(await t.request('POST', '/accounts/acc_1/orders', { headers: { ...auth(writer), 'content-type': 'application/json' }, body: 'x'.repeat(5000) }), 413, 'RAMPART_BODY_TOO_LARGE');
  assertProblem(await t.request('GET', `/accounts?status=${'a'.repeat(600)}`, { headers: auth(reader) }), 414, 'RAMPART_URI_TOO_LONG');
  assertProblem(await t.request('GET', '/accounts', { headers: { ...auth(reader), 'x-filler': 'y'.repeat(9000) } }), 431, 'RAMPART_HEADERS_TOO_LARGE');
  assertProblem(await t.request('PROPFIND', '/accounts', { headers: auth(reader) }), 501, 'RAMPART_METHOD_NOT_IMPLEMENTED');
});

test('path tricks are refused before routing', async () => {
  const before = seenCount();
  for (const p of ['/accounts/../admin', '/accounts/./acc_1', '/accounts/acc_1%2f..%2fadmin', '/accounts/%2e%2e/x', '/accounts//acc_1', '/accounts/acc_1;jsessionid=1', '/accounts/acc%5c1', '/accounts/acc%00', '/accounts/%zz', '/accounts/acc_1%252f']) {
    const r = await t.request('GET', p, { headers: auth(reader) });
    assertProblem(r, 400, 'RAMPART_PATH_NOT_CANONICAL');
  }
  assert.equal(seenCount(), before);
});

test('public operations need no key; the path is forwarded exactly as routed', async () => {
  const r = await t.request('GET', '/public/ping');
  assert.equal(r.status, 200);
  assert.equal(r.json().url, '/public/ping');
});

test('upstream timeout is 504 and an upstream failure 502, without upstream detail', async () => {
  const r = await t.request('GET', '/slow?ms=3000');
  assertProblem(r, 504, 'RAMPART_UPSTREAM_TIMEOUT');
  const r2 = await t.request('GET', '/broken');
  const b = assertProblem(r2, 502, 'RAMPART_UPSTREAM_UNAVAILABLE');
  assert.ok(!JSON.stringify(b).includes('ECONNRESET') && !JSON.stringify(b).includes('socket'));
  const [rec] = await lastRecords(1);
  assert.equal(rec!.record.type, 'exchange.completion');
  assert.equal(rec!.record.outcome, 'failure');
  assert.equal(rec!.record.status, 502);
});

test('large responses stream through and are committed', async () => {
  const r = await t.request('GET', '/big?bytes=3000000');
  assert.equal(r.status, 200);
  assert.equal(r.body.length, 3_000_000);
  const [rec] = await lastRecords(1);
  assert.equal(rec!.record.bytesOut, 3_000_000);
  assert.equal(rec!.record.responseBodyLength, 3_000_000);
});

test('an apiKey header scheme works and is never forwarded', async () => {
  const r = await t.request('GET', '/keyed', { headers: { 'x-api-key': reader } });
  assert.equal(r.status, 200);
  assert.equal(r.json().headers['x-api-key'], undefined);
  const r2 = await t.request('GET', '/keyed', { headers: { 'x-api-key': reader, authorization: `Bearer ${reader}` } });
  assertProblem(r2, 401, 'RAMPART_AUTH_INVALID');
});

test('health, readiness and metrics live under the reserved prefix', async () => {
  const h = await t.request('GET', '/.rampart/health');
  assert.equal(h.status, 200);
  const r = await t.request('GET', '/.rampart/ready');
  assert.equal(r.status, 200);
  assert.equal(r.json().ledger, 'ok');
  const m = await t.request('GET', '/.rampart/metrics');
  assert.equal(m.status, 200);
  assert.match(m.body.toString(), /rampart_requests_total\{/);
  assert.match(m.body.toString(), /rampart_denials_total\{stage="authenticate",reason="RAMPART_AUTH_REQUIRED"\}/);
});
