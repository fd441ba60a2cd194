/**
 * Prometheus metrics, fed from diagnostics channels (STYLE point 6): stages never call metrics.
 *
 * Counting is a Map update per exchange and the text exposition is rendered at scrape time.
 * prom-client was measured here first: its per-request labelled inc/observe plus its default
 * process collectors cost about 330 us of CPU per request on this 2-core machine (the whole
 * pass-through gateway went from 640 to 309 us per request without them), which is several
 * times the CPU budget of all controls (DESIGN: under 50 us). So the data plane keeps its own
 * counters in the Prometheus text format (version 0.0.4).
 */
import { channels, type ExchangeEndMessage, type LedgerAlertMessage, type LedgerCommitMessage, type SecurityAlertMessage } from '../core/diagnostics.js';

export interface Metrics {
  contentType: string;
  render(): string;
  close(): void;
}

const BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

interface Hist {
  labels: string;
  counts: number[];
  sum: number;
  count: number;
}

/** Escapes a label value (exposition format: backslash, double quote, newline). */
function esc(v: string): string {
  // Runs per exchange on operation names: skip the replacements in the usual case.
  if (!v.includes('\\') && !v.includes('"') && !v.includes('\n')) return v;
  return v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

export function createMetrics(opts: { ledgerHealthy: () => boolean; keysCount: () => number }): Metrics {
  const requests = new Map<string, number>();
  const denials = new Map<string, number>();
  const alerts = new Map<string, number>();
  const durations = new Map<string, Hist>();
  const started = Date.now();

  const onEnd = (m: unknown) => {
    const e = m as ExchangeEndMessage;
    const api = e.api ?? '-';
    const rk = `api="${esc(api)}",operation="${esc(e.operationId ?? '-')}",status="${e.status}",outcome="${e.outcome}"`;
    requests.set(rk, (requests.get(rk) ?? 0) + 1);
    if (e.outcome === 'deny') {
      const dk = `stage="${esc(e.stage ?? '-')}",reason="${esc(e.reason ?? '-')}"`;
      denials.set(dk, (denials.get(dk) ?? 0) + 1);
    }
    const hk = `api="${esc(api)}",outcome="${e.outcome}"`;
    let h = durations.get(hk);
    if (!h) {
      h = { labels: hk, counts: new Array<number>(BUCKETS.length).fill(0), sum: 0, count: 0 };
      durations.set(hk, h);
    }
    for (let i = 0; i < BUCKETS.length; i++) if (e.durationSeconds <= BUCKETS[i]!) h.counts[i]!++;
    h.sum += e.durationSeconds;
    h.count++;
  };
  const commits = { batches: 0, records: 0, seconds: 0 };
  const onCommit = (m: unknown) => {
    const c = m as LedgerCommitMessage;
    commits.batches++;
    commits.records += c.count;
    commits.seconds += c.ms / 1000;
  };
  const onAlert = (m: unknown) => {
    const k = `kind="${esc((m as LedgerAlertMessage).kind)}"`;
    alerts.set(k, (alerts.get(k) ?? 0) + 1);
  };
  const security = new Map<string, number>();
  const onSecurity = (m: unknown) => {
    const a = m as SecurityAlertMessage;
    // Anomalies are counted by their kind (enumeration, bulk-pull...), everything else by event.
    const kind = a.kind === 'anomaly' && typeof a.detail.kind === 'string' ? `anomaly.${a.detail.kind}` : a.kind;
    const k = `kind="${esc(kind)}"`;
    security.set(k, (security.get(k) ?? 0) + 1);
  };
  channels.exchangeEnd.subscribe(onEnd);
  channels.ledgerAlert.subscribe(onAlert);
  channels.securityAlert.subscribe(onSecurity);
  channels.ledgerCommit.subscribe(onCommit);

  function counter(out: string[], name: string, help: string, m: Map<string, number>): void {
    out.push(`# HELP ${name} ${help}`, `# TYPE ${name} counter`);
    for (const [k, v] of m) out.push(`${name}{${k}} ${v}`);
  }
  return {
    contentType: 'text/plain; version=0.0.4; charset=utf-8',
    render() {
      const out: string[] = [];
      counter(out, 'rampart_requests_total', 'Exchanges by API, operation, status and outcome', requests);
      counter(out, 'rampart_denials_total', 'Denied requests by stage and reason code', denials);
      counter(out, 'rampart_ledger_alerts_total', 'Ledger append failures (AU-5); each one is an alert', alerts);
      counter(out, 'rampart_security_events_total', 'Security events: injections refused, anomalies by kind, rate-limit store outages', security);
      out.push('# HELP rampart_request_duration_seconds Time from arrival to the end of the exchange', '# TYPE rampart_request_duration_seconds histogram');
      for (const h of durations.values()) {
        BUCKETS.forEach((b, i) => out.push(`rampart_request_duration_seconds_bucket{${h.labels},le="${b}"} ${h.counts[i]}`));
        out.push(`rampart_request_duration_seconds_bucket{${h.labels},le="+Inf"} ${h.count}`);
        out.push(`rampart_request_duration_seconds_sum{${h.labels}} ${h.sum}`, `rampart_request_duration_seconds_count{${h.labels}} ${h.count}`);
      }
      const mem = process.memoryUsage();
      const cpu = process.cpuUsage();
      out.push(
        '# HELP rampart_ledger_healthy 1 while the last ledger append succeeded', '# TYPE rampart_ledger_healthy gauge', `rampart_ledger_healthy ${opts.ledgerHealthy() ? 1 : 0}`,
        '# HELP rampart_ledger_commits_total Group commits (durable batches) of the ledger writer', '# TYPE rampart_ledger_commits_total counter', `rampart_ledger_commits_total ${commits.batches}`,
        '# HELP rampart_ledger_records_total Records committed to the ledger', '# TYPE rampart_ledger_records_total counter', `rampart_ledger_records_total ${commits.records}`,
        '# HELP rampart_ledger_commit_seconds_total Time spent making batches durable', '# TYPE rampart_ledger_commit_seconds_total counter', `rampart_ledger_commit_seconds_total ${commits.seconds}`,
        '# HELP rampart_api_keys API keys known to this node', '# TYPE rampart_api_keys gauge', `rampart_api_keys ${opts.keysCount()}`,
        '# HELP rampart_process_resident_memory_bytes Resident set size', '# TYPE rampart_process_resident_memory_bytes gauge', `rampart_process_resident_memory_bytes ${mem.rss}`,
        '# HELP rampart_process_heap_used_bytes V8 heap in use', '# TYPE rampart_process_heap_used_bytes gauge', `rampart_process_heap_used_bytes ${mem.heapUsed}`,
        '# HELP rampart_process_cpu_seconds_total CPU time used', '# TYPE rampart_process_cpu_seconds_total counter', `rampart_process_cpu_seconds_total ${(cpu.user + cpu.system) / 1e6}`,
        '# HELP rampart_process_start_time_seconds Start time since the epoch', '# TYPE rampart_process_start_time_seconds gauge', `rampart_process_start_time_seconds ${Math.floor(started / 1000)}`,
      );
      return `${out.join('\n')}\n`;
    },
    close() {
      channels.exchangeEnd.unsubscribe(onEnd);
      channels.ledgerAlert.unsubscribe(onAlert);
      channels.securityAlert.unsubscribe(onSecurity);
      channels.ledgerCommit.unsubscribe(onCommit);
    },
  };
}
