/**
 * deploy/grafana/rampart-dashboard.json (issue 7): every metric its expressions use is one the
 * gateway exports (read from a real exposition, not a hand-kept list), and the panels the issue
 * asks for are there.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { channels } from '../../src/core/diagnostics.js';
import { createMetrics } from '../../src/gateway/metrics.js';
import type { RequestContext } from '../../src/core/context.js';

const FILE = fileURLToPath(new URL('../../../deploy/grafana/rampart-dashboard.json', import.meta.url));

interface Panel { id: number; type: string; title: string; datasource?: unknown; targets?: { expr: string; refId: string }[]; panels?: Panel[] }

function panelsOf(list: Panel[]): Panel[] {
  return list.flatMap((p) => [p, ...panelsOf(p.panels ?? [])]);
}

/** Every series name the gateway can expose, from `# TYPE` lines of a real render. */
function exported(): Set<string> {
  const m = createMetrics({ ledgerHealthy: () => true, keysCount: () => 0, ledgerPending: () => 0, upstreams: () => ({ a: 'ok' }), tracing: () => ({ exported: 0, dropped: { queue_full: 0, export_failed: 0 } }) });
  try {
    channels.exchangeEnd.publish({ api: 'a', operationId: 'op', status: 200, outcome: 'allow', stage: 'respond', reason: 'RAMPART_OK', cause: undefined, durationSeconds: 0.01, bytesIn: 0, bytesOut: 0, context: {} as RequestContext });
    const names = new Set<string>();
    for (const [, name, type] of m.render().matchAll(/^# TYPE (\S+) (\S+)$/gm)) {
      names.add(name!);
      if (type === 'histogram') for (const s of ['_bucket', '_sum', '_count']) names.add(`${name}${s}`);
    }
    return names;
  } finally {
    m.close();
  }
}

const dashboard = JSON.parse(readFileSync(FILE, 'utf8')) as { uid: string; title: string; panels: Panel[]; templating: { list: { name: string; query?: unknown; definition?: string }[] } };
const panels = panelsOf(dashboard.panels);
const exprs = [
  ...panels.flatMap((p) => (p.targets ?? []).map((t) => t.expr)),
  ...dashboard.templating.list.map((v) => v.definition ?? '').filter(Boolean),
];

test('every metric the dashboard queries is exported by the gateway', () => {
  const names = exported();
  const used = new Set(exprs.flatMap((e) => [...e.matchAll(/\brampart_[a-z0-9_]+/g)].map((x) => x[0])));
  assert.ok(used.size >= 10, `only ${used.size} metrics used`);
  for (const u of used) assert.ok(names.has(u), `${u} is used by the dashboard but not exported`);
});

test('the panels the issue asks for are present', () => {
  const all = exprs.join('\n');
  for (const needed of [
    /rate\(rampart_requests_total/, // request rate
    /outcome="error"/, // error ratio
    /histogram_quantile\(0\.99, sum by \(le, operation\) \(rate\(rampart_request_duration_seconds_bucket/, // p99 by operation
    /histogram_quantile\(0\.5, sum by \(le, operation\)/, // p50 by operation
    /rampart_denials_total/, // denials by reason
    /histogram_quantile\(0\.99, sum by \(le\) \(rate\(rampart_ledger_commit_duration_seconds_bucket/, // ledger commit p99
    /rampart_ledger_queue_depth/,
    /time\(\) - max\(rampart_checkpoint_last_published_timestamp_seconds\)/, // checkpoint age
    /rampart_upstream_up/,
    /rampart_rate_limited_total/,
    /rampart_anomalies_total/,
  ]) assert.match(all, needed);
});

test('panels are well formed: unique ids, a title, a datasource, balanced expressions', () => {
  assert.equal(dashboard.uid, 'rampart-gateway');
  const ids = panels.map((p) => p.id);
  assert.equal(new Set(ids).size, ids.length, 'duplicate panel id');
  for (const p of panels) {
    assert.ok(p.title.length > 0);
    if (p.type === 'row') continue;
    assert.ok(p.datasource, `${p.title} has no datasource`);
    assert.ok((p.targets ?? []).length > 0, `${p.title} has no query`);
    for (const t of p.targets!) {
      let depth = 0;
      for (const ch of t.expr) {
        if (ch === '(' || ch === '{' || ch === '[') depth++;
        if (ch === ')' || ch === '}' || ch === ']') depth--;
        assert.ok(depth >= 0, `${p.title}: unbalanced ${t.expr}`);
      }
      assert.equal(depth, 0, `${p.title}: unbalanced ${t.expr}`);
    }
  }
});
