/**
 * The Prometheus exposition (issue 7): what the gateway's channels feed becomes the documented
 * families, labels and bucket counts. Messages go through the real diagnostics channels.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { channels, type ExchangeEndMessage } from '../../src/core/diagnostics.js';
import type { RequestContext } from '../../src/core/context.js';
import { createMetrics, escapeLabel, Histogram, REQUEST_BUCKETS } from '../../src/gateway/metrics.js';

const ctx = {} as RequestContext;

function end(m: Partial<ExchangeEndMessage>): void {
  channels.exchangeEnd.publish({ api: 'brokerage', operationId: 'getAccount', status: 200, outcome: 'allow', stage: 'respond', reason: 'RAMPART_OK', cause: undefined, durationSeconds: 0.003, bytesIn: 0, bytesOut: 10, context: ctx, ...m } satisfies ExchangeEndMessage);
}

function sample(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

test('requests are counted by api, operation, outcome and status class; unrouted ones are _unmatched', () => {
  const m = createMetrics({ ledgerHealthy: () => true, keysCount: () => 0 });
  try {
    end({});
    end({ status: 204 });
    end({ status: 404, outcome: 'deny', api: undefined, operationId: undefined, stage: 'route', reason: 'RAMPART_ROUTE_NOT_FOUND' });
    end({ status: 502, outcome: 'error', stage: 'proxy', reason: 'RAMPART_UPSTREAM_UNAVAILABLE' });
    const t = m.render();
    assert.equal(sample(t, 'rampart_requests_total{api="brokerage",operation="getAccount",outcome="allow",status_class="2xx"}'), 2);
    assert.equal(sample(t, 'rampart_requests_total{api="_unmatched",operation="_unmatched",outcome="deny",status_class="4xx"}'), 1);
    assert.equal(sample(t, 'rampart_requests_total{api="brokerage",operation="getAccount",outcome="error",status_class="5xx"}'), 1);
    assert.equal(sample(t, 'rampart_denials_total{stage="route",reason="RAMPART_ROUTE_NOT_FOUND"}'), 1);
    // No per-status label: the class bounds the series.
    assert.doesNotMatch(t, /status="/);
  } finally {
    m.close();
  }
});

test('the latency histogram is cumulative per operation and outcome, with +Inf, sum and count', () => {
  const m = createMetrics({ ledgerHealthy: () => true, keysCount: () => 0 });
  try {
    end({ durationSeconds: 0.0005 });
    end({ durationSeconds: 0.003 });
    end({ durationSeconds: 0.2 });
    end({ durationSeconds: 42 });
    const t = m.render();
    const l = 'api="brokerage",operation="getAccount",outcome="allow"';
    assert.equal(sample(t, `rampart_request_duration_seconds_bucket{${l},le="0.001"}`), 1);
    assert.equal(sample(t, `rampart_request_duration_seconds_bucket{${l},le="0.005"}`), 2);
    assert.equal(sample(t, `rampart_request_duration_seconds_bucket{${l},le="0.25"}`), 3);
    assert.equal(sample(t, `rampart_request_duration_seconds_bucket{${l},le="10"}`), 3);
    assert.equal(sample(t, `rampart_request_duration_seconds_bucket{${l},le="+Inf"}`), 4);
    assert.equal(sample(t, `rampart_request_duration_seconds_count{${l}}`), 4);
    assert.ok(Math.abs(sample(t, `rampart_request_duration_seconds_sum{${l}}`)! - 42.2035) < 1e-9);
    // Every bound is rendered, in order: 1 ms .. 10 s.
    const les = [...t.matchAll(new RegExp(`rampart_request_duration_seconds_bucket\\{${l.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')},le="([^"]+)"\\}`, 'g'))].map((x) => x[1]);
    assert.deepEqual(les, [...REQUEST_BUCKETS.map(String), '+Inf']);
  } finally {
    m.close();
  }
});

test('a histogram puts a value equal to a bound in that bound (le is inclusive)', () => {
  const h = new Histogram([1, 2, 3]);
  h.observe(2);
  h.observe(3.5);
  const out: string[] = [];
  h.render(out, 'x', '');
  assert.deepEqual(out, ['x_bucket{le="1"} 0', 'x_bucket{le="2"} 1', 'x_bucket{le="3"} 1', 'x_bucket{le="+Inf"} 2', 'x_sum 5.5', 'x_count 2']);
});

test('rate limits are counted by rule, anomalies by kind and action, upstream errors by kind', () => {
  const m = createMetrics({ ledgerHealthy: () => true, keysCount: () => 0, upstreams: () => ({ brokerage: 'ok', other: 'unavailable' }) });
  try {
    end({ status: 429, outcome: 'deny', stage: 'principal-limit', reason: 'RAMPART_RATE_LIMITED', cause: 'rule:per-key' });
    end({ status: 429, outcome: 'deny', stage: 'principal-limit', reason: 'RAMPART_QUOTA_EXCEEDED', cause: 'rule:daily-bytes' });
    end({ status: 429, outcome: 'deny', stage: 'address-limit', reason: 'RAMPART_AUTH_THROTTLED' });
    end({ status: 401, outcome: 'deny', stage: 'authenticate', reason: 'RAMPART_AUTH_INVALID', cause: 'unknown' });
    channels.securityAlert.publish({ kind: 'anomaly', detail: { kind: 'bulk-pull', action: 'throttle', score: 3 } });
    channels.securityAlert.publish({ kind: 'injection', detail: { family: 'sql' } });
    channels.upstreamError.publish({ context: ctx, api: 'brokerage', kind: 'connect', phase: 'request', startNs: 0n });
    channels.upstreamError.publish({ context: ctx, api: 'brokerage', kind: 'connect', phase: 'request', startNs: 0n });
    const t = m.render();
    assert.equal(sample(t, 'rampart_rate_limited_total{rule="per-key"}'), 1);
    assert.equal(sample(t, 'rampart_rate_limited_total{rule="daily-bytes"}'), 1);
    assert.equal(sample(t, 'rampart_rate_limited_total{rule="auth-throttle"}'), 1);
    assert.equal(t.match(/^rampart_rate_limited_total\{/gm)?.length, 3, 'a 401 is not a rate limit');
    assert.equal(sample(t, 'rampart_anomalies_total{kind="bulk-pull",action="throttle"}'), 1);
    assert.equal(sample(t, 'rampart_security_events_total{kind="anomaly.bulk-pull"}'), 1);
    assert.equal(sample(t, 'rampart_security_events_total{kind="injection"}'), 1);
    assert.equal(sample(t, 'rampart_upstream_errors_total{api="brokerage",kind="connect"}'), 2);
    assert.equal(sample(t, 'rampart_upstream_up{api="brokerage"}'), 1);
    assert.equal(sample(t, 'rampart_upstream_up{api="other"}'), 0);
  } finally {
    m.close();
  }
});

test('ledger commits feed the commit-latency and batch-size histograms; checkpoints their counter and timestamp', () => {
  let pending = 7;
  const m = createMetrics({ ledgerHealthy: () => true, keysCount: () => 0, ledgerPending: () => pending });
  try {
    channels.ledgerCommit.publish({ firstSeq: 1, lastSeq: 3, count: 3, ms: 0.8 });
    channels.ledgerCommit.publish({ firstSeq: 4, lastSeq: 103, count: 100, ms: 30 });
    let t = m.render();
    assert.equal(sample(t, 'rampart_ledger_commit_duration_seconds_bucket{le="0.001"}'), 1);
    assert.equal(sample(t, 'rampart_ledger_commit_duration_seconds_bucket{le="0.05"}'), 2);
    assert.equal(sample(t, 'rampart_ledger_batch_records_bucket{le="4"}'), 1);
    assert.equal(sample(t, 'rampart_ledger_batch_records_bucket{le="64"}'), 1);
    assert.equal(sample(t, 'rampart_ledger_batch_records_bucket{le="128"}'), 2);
    assert.equal(sample(t, 'rampart_ledger_records_total'), 103);
    assert.equal(sample(t, 'rampart_ledger_commits_total'), 2);
    assert.equal(sample(t, 'rampart_ledger_queue_depth'), 7);
    assert.equal(sample(t, 'rampart_checkpoint_last_published_timestamp_seconds'), undefined, 'absent until one is published');
    channels.ledgerCheckpoint.publish({ kind: 'periodic', result: 'ok', treeSize: 103, ts: 1_700_000_000_500 });
    channels.ledgerCheckpoint.publish({ kind: 'periodic', result: 'publish_failed', treeSize: 110, ts: 1_700_000_060_000 });
    pending = 0;
    t = m.render();
    assert.equal(sample(t, 'rampart_checkpoints_total{result="ok"}'), 1);
    assert.equal(sample(t, 'rampart_checkpoints_total{result="publish_failed"}'), 1);
    // The failed publication does not move the "last published" time.
    assert.equal(sample(t, 'rampart_checkpoint_last_published_timestamp_seconds'), 1_700_000_000.5);
    assert.equal(sample(t, 'rampart_ledger_queue_depth'), 0);
  } finally {
    m.close();
  }
});

test('label values are escaped once per child (backslash, quote, newline)', () => {
  assert.equal(escapeLabel('a\\b"c\nd'), 'a\\\\b\\"c\\nd');
  const m = createMetrics({ ledgerHealthy: () => true, keysCount: () => 0 });
  try {
    end({ operationId: 'we"ird' });
    assert.match(m.render(), /operation="we\\"ird"/);
  } finally {
    m.close();
  }
});

test('every family has HELP and TYPE once, and close() unsubscribes', () => {
  const m = createMetrics({ ledgerHealthy: () => true, keysCount: () => 0, tracing: () => ({ exported: 3, dropped: { queue_full: 1, export_failed: 0 } }) });
  end({});
  const t = m.render();
  const types = [...t.matchAll(/^# TYPE (\S+) (\S+)$/gm)].map((x) => x[1]!);
  assert.equal(new Set(types).size, types.length, 'a family is declared twice');
  for (const name of ['rampart_requests_total', 'rampart_request_duration_seconds', 'rampart_denials_total', 'rampart_ledger_commit_duration_seconds', 'rampart_ledger_queue_depth', 'rampart_ledger_batch_records', 'rampart_checkpoints_total', 'rampart_checkpoint_last_published_timestamp_seconds', 'rampart_upstream_up', 'rampart_upstream_errors_total', 'rampart_rate_limited_total', 'rampart_anomalies_total', 'rampart_security_events_total', 'rampart_tracing_spans_dropped_total']) {
    assert.ok(types.includes(name), `${name} is not declared`);
  }
  assert.equal(sample(t, 'rampart_tracing_spans_dropped_total{reason="queue_full"}'), 1);
  m.close();
  end({});
  assert.equal(sample(m.render(), 'rampart_requests_total{api="brokerage",operation="getAccount",outcome="allow",status_class="2xx"}'), 1);
});
