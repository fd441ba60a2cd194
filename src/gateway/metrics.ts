/**
 * Prometheus metrics, fed from diagnostics channels (STYLE point 6): stages never call metrics.
 * docs/observability.md lists every family with its type, labels and meaning.
 *
 * prom-client was measured here first: its per-request labelled inc/observe plus its default
 * process collectors cost about 330 us of CPU per request on this 2-core machine (the whole
 * pass-through gateway went from 640 to 309 us per request without them), which is several
 * times the CPU budget of all controls (DESIGN: under 50 us). So the data plane keeps its own
 * counters and renders the text exposition format (version 0.0.4) at scrape time.
 *
 * Per exchange the cost is two Map lookups to a pre-resolved child (api, operation), an index
 * computed from the outcome and status class, and a bucket search over a fixed array of 14
 * bounds: no string is built and nothing is allocated once a child exists. Label strings are
 * escaped once, when a child is created. Cardinality is bounded by what the configuration
 * declares: API names and operation ids come from the documents, rule names from rateLimits,
 * stage and reason codes from the code; anything unrouted is labelled `_unmatched`.
 */
import {
  channels,
  type ExchangeEndMessage,
  type LedgerAlertMessage,
  type LedgerCheckpointMessage,
  type LedgerCommitMessage,
  type SecurityAlertMessage,
  type UpstreamErrorMessage,
} from '../core/diagnostics.js';

export interface Metrics {
  contentType: string;
  render(): string;
  close(): void;
}

/** What the scrape reads from the running gateway (gauges are sampled, not pushed). */
export interface MetricsSources {
  ledgerHealthy: () => boolean;
  keysCount: () => number;
  /** Ledger.pending: appends queued or in flight. */
  ledgerPending?: () => number;
  /** Per API, whether the upstream is reachable (./readiness.ts). */
  upstreams?: () => Readonly<Record<string, 'ok' | 'unavailable'>>;
  /** The trace exporter's counters (../core/tracing-otlp.ts), when tracing is on. */
  tracing?: () => { exported: number; dropped: Readonly<Record<string, number>> };
}

/** Request latency: 1 ms .. 10 s (the brief's range; the default upstream timeout is 15 s). */
export const REQUEST_BUCKETS: readonly number[] = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
/** Group commit latency: an fsync on an SSD is ~0.1-2 ms; seconds mean a sick disk or database. */
export const COMMIT_BUCKETS: readonly number[] = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];
/** Records per group commit: up to ledger.maxBatch (default 256). */
export const BATCH_BUCKETS: readonly number[] = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024];

/** The label value for anything that was not routed to an operation (bounded cardinality). */
export const UNMATCHED = '_unmatched';

const OUTCOMES = ['allow', 'deny', 'error'] as const;
const STATUS_CLASSES = ['1xx', '2xx', '3xx', '4xx', '5xx'] as const;

/** A histogram with non-cumulative bucket counts (one increment per observation; cumulated at render). */
export class Histogram {
  readonly counts: Float64Array;
  sum = 0;
  count = 0;
  constructor(readonly bounds: readonly number[]) {
    this.counts = new Float64Array(bounds.length + 1);
  }
  observe(v: number): void {
    const b = this.bounds;
    const n = b.length;
    let i = 0;
    while (i < n && v > b[i]!) i++;
    this.counts[i]!++;
    this.sum += v;
    this.count++;
  }
  /** Appends the `_bucket`, `_sum` and `_count` lines; `labels` is '' or `k="v",...` (no braces). */
  render(out: string[], name: string, labels: string): void {
    const sep = labels === '' ? '' : ',';
    let cum = 0;
    for (let i = 0; i < this.bounds.length; i++) {
      cum += this.counts[i]!;
      out.push(`${name}_bucket{${labels}${sep}le="${this.bounds[i]}"} ${cum}`);
    }
    out.push(`${name}_bucket{${labels}${sep}le="+Inf"} ${this.count}`);
    const braces = labels === '' ? '' : `{${labels}}`;
    out.push(`${name}_sum${braces} ${this.sum}`, `${name}_count${braces} ${this.count}`);
  }
}

/** Escapes a label value (exposition format: backslash, double quote, newline). Runs once per child. */
export function escapeLabel(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

/** One (api, operation): its request counters by outcome and status class, and a latency histogram per outcome. */
interface OpChild {
  /** `api="..",operation=".."`, escaped once. */
  labels: string;
  requests: Float64Array;
  durations: (Histogram | undefined)[];
}

/** A counter keyed by one pre-escaped label string. */
interface Cell {
  labels: string;
  n: number;
}

/** A two-level map of counters (label a, label b), each cell's label string built once. */
class Counter2 {
  private readonly m = new Map<string, Map<string, Cell>>();
  constructor(private readonly a: string, private readonly b: string) {}
  inc(x: string, y: string, by = 1): void {
    let inner = this.m.get(x);
    if (inner === undefined) {
      inner = new Map();
      this.m.set(x, inner);
    }
    let c = inner.get(y);
    if (c === undefined) {
      c = { labels: `${this.a}="${escapeLabel(x)}",${this.b}="${escapeLabel(y)}"`, n: 0 };
      inner.set(y, c);
    }
    c.n += by;
  }
  render(out: string[], name: string): void {
    for (const inner of this.m.values()) for (const c of inner.values()) out.push(`${name}{${c.labels}} ${c.n}`);
  }
}

/** A one-label counter. */
class Counter1 {
  private readonly m = new Map<string, Cell>();
  constructor(private readonly a: string) {}
  inc(x: string, by = 1): void {
    let c = this.m.get(x);
    if (c === undefined) {
      c = { labels: `${this.a}="${escapeLabel(x)}"`, n: 0 };
      this.m.set(x, c);
    }
    c.n += by;
  }
  render(out: string[], name: string): void {
    for (const c of this.m.values()) out.push(`${name}{${c.labels}} ${c.n}`);
  }
}

function outcomeIndex(o: ExchangeEndMessage['outcome']): number {
  return o === 'allow' ? 0 : o === 'deny' ? 1 : 2;
}

function statusClassIndex(status: number): number {
  const c = (status / 100) | 0;
  return c < 1 ? 0 : c > 5 ? 4 : c - 1;
}

/** The rate-limit rule a denial names, or undefined when the denial is not a rate limit (N63-5, API4). */
function rateLimitRule(reason: string | undefined, cause: string | undefined): string | undefined {
  switch (reason) {
    case 'RAMPART_RATE_LIMITED':
    case 'RAMPART_QUOTA_EXCEEDED':
      // ../threat/limits-runtime.ts sets `rule:<name>`; the names are the configuration's.
      return cause !== undefined && cause.startsWith('rule:') ? cause.slice(5) : '_unknown';
    case 'RAMPART_AUTH_THROTTLED':
      return 'auth-throttle';
    case 'RAMPART_ANOMALY_THROTTLED':
      return 'anomaly-throttle';
    default:
      return undefined;
  }
}

export function createMetrics(opts: MetricsSources): Metrics {
  const ops = new Map<string, Map<string, OpChild>>();
  const child = (api: string, op: string): OpChild => {
    let byOp = ops.get(api);
    if (byOp === undefined) {
      byOp = new Map();
      ops.set(api, byOp);
    }
    let c = byOp.get(op);
    if (c === undefined) {
      c = { labels: `api="${escapeLabel(api)}",operation="${escapeLabel(op)}"`, requests: new Float64Array(OUTCOMES.length * STATUS_CLASSES.length), durations: [undefined, undefined, undefined] };
      byOp.set(op, c);
    }
    return c;
  };
  const denials = new Counter2('stage', 'reason');
  const rateLimited = new Counter1('rule');
  const alerts = new Counter1('kind');
  const security = new Counter1('kind');
  const anomalies = new Counter2('kind', 'action');
  const upstreamErrors = new Counter2('api', 'kind');
  const checkpoints = new Counter1('result');
  let lastPublished: number | undefined;
  const commitSeconds = new Histogram(COMMIT_BUCKETS);
  const batchRecords = new Histogram(BATCH_BUCKETS);
  const commits = { batches: 0, records: 0, seconds: 0 };
  const started = Date.now();

  const onEnd = (m: unknown) => {
    const e = m as ExchangeEndMessage;
    const c = child(e.api ?? UNMATCHED, e.operationId ?? UNMATCHED);
    const oi = outcomeIndex(e.outcome);
    c.requests[oi * STATUS_CLASSES.length + statusClassIndex(e.status)]!++;
    (c.durations[oi] ??= new Histogram(REQUEST_BUCKETS)).observe(e.durationSeconds);
    if (e.outcome === 'deny') {
      denials.inc(e.stage ?? UNMATCHED, e.reason ?? UNMATCHED);
      const rule = rateLimitRule(e.reason, e.cause);
      if (rule !== undefined) rateLimited.inc(rule);
    }
  };
  const onCommit = (m: unknown) => {
    const c = m as LedgerCommitMessage;
    commits.batches++;
    commits.records += c.count;
    commits.seconds += c.ms / 1000;
    commitSeconds.observe(c.ms / 1000);
    batchRecords.observe(c.count);
  };
  const onAlert = (m: unknown) => alerts.inc((m as LedgerAlertMessage).kind);
  const onSecurity = (m: unknown) => {
    const a = m as SecurityAlertMessage;
    // Anomalies are counted by their kind (enumeration, bulk-pull...), everything else by event.
    const isAnomaly = a.kind === 'anomaly' && typeof a.detail.kind === 'string';
    security.inc(isAnomaly ? `anomaly.${a.detail.kind as string}` : a.kind);
    // FC-3: what the model found and what was done about it (alert, throttle, block).
    if (isAnomaly) anomalies.inc(a.detail.kind as string, typeof a.detail.action === 'string' ? a.detail.action : 'alert');
  };
  const onUpstreamError = (m: unknown) => {
    const u = m as UpstreamErrorMessage;
    upstreamErrors.inc(u.api, u.kind);
  };
  const onCheckpoint = (m: unknown) => {
    const c = m as LedgerCheckpointMessage;
    checkpoints.inc(c.result);
    if (c.result === 'ok') lastPublished = c.ts;
  };
  channels.exchangeEnd.subscribe(onEnd);
  channels.ledgerAlert.subscribe(onAlert);
  channels.securityAlert.subscribe(onSecurity);
  channels.ledgerCommit.subscribe(onCommit);
  channels.upstreamError.subscribe(onUpstreamError);
  channels.ledgerCheckpoint.subscribe(onCheckpoint);

  const head = (out: string[], name: string, type: 'counter' | 'gauge' | 'histogram', help: string) => out.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
  const gauge = (out: string[], name: string, help: string, v: number) => {
    head(out, name, 'gauge', help);
    out.push(`${name} ${v}`);
  };
  const counter0 = (out: string[], name: string, help: string, v: number) => {
    head(out, name, 'counter', help);
    out.push(`${name} ${v}`);
  };

  return {
    contentType: 'text/plain; version=0.0.4; charset=utf-8',
    render() {
      const out: string[] = [];
      head(out, 'rampart_requests_total', 'counter', 'Exchanges by API, operation, outcome (allow, deny, error) and status class');
      for (const byOp of ops.values()) {
        for (const c of byOp.values()) {
          for (let o = 0; o < OUTCOMES.length; o++) {
            for (let s = 0; s < STATUS_CLASSES.length; s++) {
              const n = c.requests[o * STATUS_CLASSES.length + s]!;
              if (n > 0) out.push(`rampart_requests_total{${c.labels},outcome="${OUTCOMES[o]}",status_class="${STATUS_CLASSES[s]}"} ${n}`);
            }
          }
        }
      }
      head(out, 'rampart_request_duration_seconds', 'histogram', 'Time from arrival to the end of the exchange, by API, operation and outcome');
      for (const byOp of ops.values()) {
        for (const c of byOp.values()) {
          for (let o = 0; o < OUTCOMES.length; o++) c.durations[o]?.render(out, 'rampart_request_duration_seconds', `${c.labels},outcome="${OUTCOMES[o]}"`);
        }
      }
      head(out, 'rampart_denials_total', 'counter', 'Denied requests by the stage that denied and the reason code');
      denials.render(out, 'rampart_denials_total');
      head(out, 'rampart_rate_limited_total', 'counter', 'Requests refused by a rate limit or quota, by rule (auth-throttle and anomaly-throttle are built in)');
      rateLimited.render(out, 'rampart_rate_limited_total');
      head(out, 'rampart_anomalies_total', 'counter', 'Anomaly findings by kind and the action applied (alert, throttle, block)');
      anomalies.render(out, 'rampart_anomalies_total');
      head(out, 'rampart_security_events_total', 'counter', 'Security events: injections refused, anomalies by kind, rate-limit store outages');
      security.render(out, 'rampart_security_events_total');
      head(out, 'rampart_ledger_alerts_total', 'counter', 'Ledger append failures (AU-5); each one is an alert');
      alerts.render(out, 'rampart_ledger_alerts_total');
      head(out, 'rampart_upstream_errors_total', 'counter', 'Upstream failures by API and kind (connect, connect_timeout, tls, timeout, reset, other)');
      upstreamErrors.render(out, 'rampart_upstream_errors_total');
      head(out, 'rampart_upstream_up', 'gauge', '1 while the API\'s upstream is reachable (probe and recent proxy errors; docs/observability.md)');
      const ups = opts.upstreams?.() ?? {};
      for (const name of Object.keys(ups)) out.push(`rampart_upstream_up{api="${escapeLabel(name)}"} ${ups[name] === 'ok' ? 1 : 0}`);
      head(out, 'rampart_checkpoints_total', 'counter', 'Signed checkpoints by result (ok, publish_failed, failed)');
      checkpoints.render(out, 'rampart_checkpoints_total');
      if (lastPublished !== undefined) gauge(out, 'rampart_checkpoint_last_published_timestamp_seconds', 'When the last checkpoint was signed and taken by every publisher (AU-9(2))', lastPublished / 1000);
      else head(out, 'rampart_checkpoint_last_published_timestamp_seconds', 'gauge', 'When the last checkpoint was signed and taken by every publisher (AU-9(2)); absent until one was');
      head(out, 'rampart_ledger_commit_duration_seconds', 'histogram', 'Time the store took to make one group commit durable');
      commitSeconds.render(out, 'rampart_ledger_commit_duration_seconds', '');
      head(out, 'rampart_ledger_batch_records', 'histogram', 'Records per group commit');
      batchRecords.render(out, 'rampart_ledger_batch_records', '');
      gauge(out, 'rampart_ledger_queue_depth', 'Ledger appends queued or in flight', opts.ledgerPending?.() ?? 0);
      gauge(out, 'rampart_ledger_healthy', '1 while the last ledger append succeeded', opts.ledgerHealthy() ? 1 : 0);
      counter0(out, 'rampart_ledger_commits_total', 'Group commits (durable batches) of the ledger writer', commits.batches);
      counter0(out, 'rampart_ledger_records_total', 'Records committed to the ledger', commits.records);
      counter0(out, 'rampart_ledger_commit_seconds_total', 'Time spent making batches durable', commits.seconds);
      const tr = opts.tracing?.();
      if (tr) {
        counter0(out, 'rampart_tracing_spans_exported_total', 'Spans accepted by the OTLP collector', tr.exported);
        head(out, 'rampart_tracing_spans_dropped_total', 'counter', 'Spans dropped: queue_full (the bounded queue was full) or export_failed (the collector refused or was unreachable)');
        for (const k of Object.keys(tr.dropped)) out.push(`rampart_tracing_spans_dropped_total{reason="${escapeLabel(k)}"} ${tr.dropped[k]}`);
      }
      const mem = process.memoryUsage();
      const cpu = process.cpuUsage();
      gauge(out, 'rampart_api_keys', 'API keys known to this node', opts.keysCount());
      gauge(out, 'rampart_process_resident_memory_bytes', 'Resident set size', mem.rss);
      gauge(out, 'rampart_process_heap_used_bytes', 'V8 heap in use', mem.heapUsed);
      counter0(out, 'rampart_process_cpu_seconds_total', 'CPU time used', (cpu.user + cpu.system) / 1e6);
      gauge(out, 'rampart_process_start_time_seconds', 'Start time since the epoch', Math.floor(started / 1000));
      return `${out.join('\n')}\n`;
    },
    close() {
      channels.exchangeEnd.unsubscribe(onEnd);
      channels.ledgerAlert.unsubscribe(onAlert);
      channels.securityAlert.unsubscribe(onSecurity);
      channels.ledgerCommit.unsubscribe(onCommit);
      channels.upstreamError.unsubscribe(onUpstreamError);
      channels.ledgerCheckpoint.unsubscribe(onCheckpoint);
    },
  };
}
