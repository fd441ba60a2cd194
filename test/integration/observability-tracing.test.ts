/**
 * OpenTelemetry tracing (issue 7): spans per request and per stage exported as OTLP/HTTP JSON to a
 * fake collector (a real HTTP server), W3C traceparent at the upstream, a client's traceparent
 * continued only from a trusted proxy, drops counted and never blocking.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { startTestGateway } from '../helpers/gateway.js';
import { formatTraceparent, parseTraceparent, SPAN_KIND, type SpanData } from '../../src/core/tracing.js';
import { createOtlpExporter, tracesUrl } from '../../src/core/tracing-otlp.js';

interface OtlpSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  kind: number;
  startTimeUnixNano: string;
  endTimeUnixNano: string;
  attributes: { key: string; value: Record<string, unknown> }[];
  status: { code: number };
}

async function collector(status = 200): Promise<{ url: string; spans: OtlpSpan[]; bodies: { path: string; contentType: string | undefined; resource: unknown }[]; close(): Promise<void> }> {
  const spans: OtlpSpan[] = [];
  const bodies: { path: string; contentType: string | undefined; resource: unknown }[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { resourceSpans: { resource: unknown; scopeSpans: { spans: OtlpSpan[] }[] }[] };
      for (const rs of body.resourceSpans) {
        bodies.push({ path: req.url!, contentType: req.headers['content-type'], resource: rs.resource });
        for (const ss of rs.scopeSpans) spans.push(...ss.spans);
      }
      res.writeHead(status, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return { url, spans, bodies, close: () => new Promise<void>((r) => { server.closeAllConnections(); server.close(() => r()); }) };
}

const attr = (s: OtlpSpan, key: string): unknown => {
  const v = s.attributes.find((a) => a.key === key)?.value;
  return v === undefined ? undefined : Object.values(v)[0];
};

test('traceparent: W3C Trace Context parsing', () => {
  const ok = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';
  assert.deepEqual(parseTraceparent(ok), { traceId: '4bf92f3577b34da6a3ce929d0e0e4736', parentId: '00f067aa0ba902b7', sampled: true });
  assert.equal(parseTraceparent(ok.replace(/-01$/, '-00'))?.sampled, false);
  assert.equal(parseTraceparent(`${ok}-extra`), undefined, 'version 00 has exactly four fields');
  assert.ok(parseTraceparent(`01-${ok.slice(3)}-future`), 'a later version may append fields (§3.2.4)');
  assert.equal(parseTraceparent(`ff-${ok.slice(3)}`), undefined, 'version ff is invalid');
  assert.equal(parseTraceparent('00-00000000000000000000000000000000-00f067aa0ba902b7-01'), undefined);
  assert.equal(parseTraceparent('00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01'), undefined);
  assert.equal(parseTraceparent(ok.toUpperCase()), undefined, 'lower-case hex only');
  assert.equal(parseTraceparent([ok, ok]), undefined, 'repeated header');
  assert.equal(parseTraceparent(undefined), undefined);
  assert.equal(formatTraceparent('4bf92f3577b34da6a3ce929d0e0e4736', '00f067aa0ba902b7', false), '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00');
  assert.equal(tracesUrl('http://c:4318'), 'http://c:4318/v1/traces');
  assert.equal(tracesUrl('http://c:4318/otel/'), 'http://c:4318/otel/v1/traces');
  assert.equal(tracesUrl('https://c/v1/traces'), 'https://c/v1/traces');
});

test('a request becomes a server span with stage, ledger and upstream children; the upstream gets its traceparent', async () => {
  const c = await collector();
  const t = await startTestGateway({ yaml: { observability: { tracing: { otlpEndpoint: c.url, serviceName: 'rampart-test' } } } });
  let forwarded: string;
  let requestId: string;
  let denied: string;
  try {
    // An untrusted client's traceparent is replaced, its tracestate dropped.
    const r = await t.request('GET', '/public/ping', { headers: { traceparent: '00-11111111111111111111111111111111-2222222222222222-01', tracestate: 'evil=1' } });
    assert.equal(r.status, 200);
    forwarded = r.json().headers.traceparent as string;
    assert.equal(r.json().headers.tracestate, undefined);
    requestId = String(r.headers['x-request-id']);
    const d = await t.request('GET', '/accounts');
    assert.equal(d.status, 401);
    denied = String(d.headers['x-request-id']);
  } finally {
    // Closing the gateway flushes the exporter.
    await t.close();
  }
  try {
    const tp = parseTraceparent(forwarded);
    assert.ok(tp, `the upstream got a valid traceparent: ${forwarded}`);
    assert.notEqual(tp.traceId, '11111111111111111111111111111111', 'an untrusted client does not choose the trace');
    assert.equal(tp.sampled, true);
    assert.equal(c.bodies[0]!.path, '/v1/traces');
    assert.equal(c.bodies[0]!.contentType, 'application/json');
    assert.deepEqual((c.bodies[0]!.resource as { attributes: { key: string; value: unknown }[] }).attributes.find((a) => a.key === 'service.name')?.value, { stringValue: 'rampart-test' });

    const trace = c.spans.filter((s) => s.traceId === tp.traceId);
    const root = trace.find((s) => s.kind === SPAN_KIND.SERVER)!;
    assert.ok(root, 'a server span');
    assert.equal(root.name, 'GET /public/ping');
    assert.equal(root.parentSpanId, undefined, 'no remote parent from an untrusted client');
    assert.equal(attr(root, 'rampart.request_id'), requestId);
    assert.equal(attr(root, 'http.response.status_code'), '200');
    assert.equal(attr(root, 'http.route'), '/public/ping');
    const children = trace.filter((s) => s !== root);
    for (const ch of children) assert.equal(ch.parentSpanId, root.spanId);
    const names = children.map((s) => s.name);
    for (const n of ['parse', 'route', 'authenticate', 'validate', 'authorize', 'ledger.decision', 'upstream GET', 'respond']) assert.ok(names.includes(n), `span ${n} in ${names.join(', ')}`);
    const upstream = children.find((s) => s.name === 'upstream GET')!;
    assert.equal(upstream.kind, SPAN_KIND.CLIENT);
    assert.equal(upstream.spanId, tp.parentId, 'the upstream\'s parent is the upstream span');
    for (const s of trace) assert.ok(BigInt(s.endTimeUnixNano) >= BigInt(s.startTimeUnixNano));
    assert.ok(BigInt(upstream.startTimeUnixNano) >= BigInt(root.startTimeUnixNano));
    // No personal data: no client address or end-user attribute on any span (server.address is
    // the upstream's host, which is configuration, not a person).
    for (const s of trace) for (const a of s.attributes) assert.ok(!a.key.startsWith('client.') && !a.key.startsWith('enduser.') && a.key !== 'url.path', `${s.name} carries ${a.key}`);

    const deniedRoot = c.spans.find((s) => s.kind === SPAN_KIND.SERVER && attr(s, 'rampart.request_id') === denied)!;
    assert.equal(attr(deniedRoot, 'rampart.reason'), 'RAMPART_AUTH_REQUIRED');
    const deniedChildren = c.spans.filter((s) => s.traceId === deniedRoot.traceId && s !== deniedRoot);
    assert.equal(attr(deniedChildren.find((s) => s.name === 'authenticate')!, 'rampart.reason'), 'RAMPART_AUTH_REQUIRED');
    assert.ok(!deniedChildren.some((s) => s.name.startsWith('upstream')), 'a denied request never reaches the upstream');
  } finally {
    await c.close();
  }
});

test('from a trusted proxy the trace and its sampling decision are continued', async () => {
  const c = await collector();
  const t = await startTestGateway({ yaml: { trustedProxies: ['127.0.0.1'], observability: { tracing: { otlpEndpoint: `${c.url}/`, sampleRatio: 0 } } } });
  let sampledUp: string;
  let unsampledUp: string;
  let freshUp: string;
  try {
    sampledUp = (await t.request('GET', '/public/ping', { headers: { traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01', tracestate: 'vendor=1' } })).json().headers.traceparent as string;
    const r2 = await t.request('GET', '/public/ping', { headers: { traceparent: '00-aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa-00f067aa0ba902b7-00', tracestate: 'vendor=2' } });
    unsampledUp = r2.json().headers.traceparent as string;
    assert.equal(r2.json().headers.tracestate, 'vendor=2', 'tracestate travels with a continued trace');
    freshUp = (await t.request('GET', '/public/ping')).json().headers.traceparent as string;
  } finally {
    await t.close();
  }
  try {
    const s = parseTraceparent(sampledUp)!;
    assert.equal(s.traceId, '4bf92f3577b34da6a3ce929d0e0e4736');
    assert.equal(s.sampled, true, 'the parent sampled it, so it is recorded although sampleRatio is 0');
    const u = parseTraceparent(unsampledUp)!;
    assert.equal(u.traceId, 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa');
    assert.equal(u.sampled, false);
    const f = parseTraceparent(freshUp)!;
    assert.equal(f.sampled, false, 'sampleRatio 0: a new trace is propagated but not recorded');
    assert.ok(c.spans.length > 0);
    assert.ok(c.spans.every((x) => x.traceId === s.traceId), 'only the sampled trace was exported');
    const root = c.spans.find((x) => x.kind === SPAN_KIND.SERVER)!;
    assert.equal(root.parentSpanId, '00f067aa0ba902b7');
  } finally {
    await c.close();
  }
});

test('the exporter bounds its queue and counts what it drops; a refusing collector costs only dropped spans', async () => {
  const span = (i: number): SpanData => ({ traceId: 'a'.repeat(32), spanId: i.toString(16).padStart(16, '0'), parentSpanId: '', name: `s${i}`, kind: SPAN_KIND.INTERNAL, startNs: 1n, endNs: 2n, attributes: [['n', i], ['ok', true], ['r', 0.5]], error: false });
  const good = await collector();
  const bad = await collector(503);
  try {
    const e = createOtlpExporter({ endpoint: good.url, serviceName: 's', maxQueue: 3, maxBatch: 2, delayMs: 3_600_000 });
    for (let i = 1; i <= 5; i++) e.enqueue(span(i));
    assert.deepEqual(e.stats().dropped, { queue_full: 2, export_failed: 0 });
    await e.flush();
    assert.equal(e.stats().exported, 3);
    assert.deepEqual(good.spans.map((s) => s.name), ['s1', 's2', 's3']);
    assert.deepEqual(good.spans[0]!.attributes, [{ key: 'n', value: { intValue: '1' } }, { key: 'ok', value: { boolValue: true } }, { key: 'r', value: { doubleValue: 0.5 } }]);
    await e.close();

    const f = createOtlpExporter({ endpoint: bad.url, serviceName: 's', delayMs: 3_600_000 });
    f.enqueue(span(1));
    f.enqueue(span(2));
    await f.flush();
    assert.deepEqual(f.stats(), { exported: 0, dropped: { queue_full: 0, export_failed: 2 } });
    await f.close();
  } finally {
    await good.close();
    await bad.close();
  }
});
