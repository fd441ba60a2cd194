/**
 * The metrics endpoint on a running gateway (issue 7): request counters and latency by operation,
 * denials, rate limits by rule, ledger commit latency, batch sizes and queue depth, checkpoint
 * publication (a publisher that fails counts as publish_failed), upstream health.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { startTestGateway } from '../helpers/gateway.js';
import { tempDir } from '../helpers/tmp.js';

function metric(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

test('requests, denials, rate limits, ledger and checkpoints show on /.rampart/metrics', async () => {
  const out = tempDir('rampart-obs-pub-');
  // A directory where a file is expected: every publication to it fails (EISDIR).
  const notAFile = join(out.path, 'published.jsonl');
  mkdirSync(notAFile);
  const t = await startTestGateway({
    yaml: {
      rateLimits: { rules: [{ name: 'two-per-minute', by: 'operation', limit: 2, windowSeconds: 60, operations: ['ping'] }] },
      ledger: { checkpoints: { intervalSeconds: 3600, publish: [{ file: join(out.path, 'ok.jsonl') }] } },
    },
  });
  try {
    const key = (await t.key(['accounts:read'], { subject: 'cus_1' })).key;
    assert.equal((await t.request('GET', '/accounts', { headers: { 'x-api-key': key } })).status, 200);
    assert.equal((await t.request('GET', '/accounts')).status, 401);
    assert.equal((await t.request('GET', '/nowhere')).status, 404);
    const statuses = [];
    for (let i = 0; i < 3; i++) statuses.push((await t.request('GET', '/public/ping')).status);
    assert.deepEqual(statuses, [200, 200, 429]);
    await t.gw.ledger.flush();
    const cp = await t.gw.ledgerParts!.checkpointer.checkpoint('manual', true);
    assert.ok(cp);
    await t.gw.readiness.check();

    const m = (await t.request('GET', '/.rampart/metrics')).body.toString();
    assert.equal(metric(m, 'rampart_requests_total{api="test",operation="listAccounts",outcome="allow",status_class="2xx"}'), 1);
    assert.equal(metric(m, 'rampart_requests_total{api="test",operation="listAccounts",outcome="deny",status_class="4xx"}'), 1);
    assert.equal(metric(m, 'rampart_requests_total{api="test",operation="_unmatched",outcome="deny",status_class="4xx"}'), 1, 'an unknown route is _unmatched, not its path');
    assert.doesNotMatch(m, /nowhere/);
    assert.equal(metric(m, 'rampart_request_duration_seconds_count{api="test",operation="ping",outcome="allow"}'), 2);
    assert.equal(metric(m, 'rampart_denials_total{stage="authenticate",reason="RAMPART_AUTH_REQUIRED"}'), 1);
    assert.equal(metric(m, 'rampart_rate_limited_total{rule="two-per-minute"}'), 1);
    assert.ok(metric(m, 'rampart_ledger_commit_duration_seconds_count')! >= 1);
    assert.equal(metric(m, 'rampart_ledger_commit_duration_seconds_count'), metric(m, 'rampart_ledger_commits_total'));
    assert.equal(metric(m, 'rampart_ledger_batch_records_sum'), metric(m, 'rampart_ledger_records_total'));
    assert.equal(metric(m, 'rampart_ledger_queue_depth'), 0);
    assert.equal(metric(m, 'rampart_checkpoints_total{result="ok"}'), 1);
    assert.equal(metric(m, 'rampart_checkpoint_last_published_timestamp_seconds'), cp.ts / 1000);
    assert.equal(metric(m, 'rampart_upstream_up{api="test"}'), 1);
  } finally {
    await t.close();
  }

  // The same gateway shape with a publisher that cannot write.
  const u = await startTestGateway({ yaml: { ledger: { checkpoints: { intervalSeconds: 3600, publish: [{ file: notAFile }] } } } });
  try {
    assert.equal((await u.request('GET', '/public/ping')).status, 200);
    await u.gw.ledger.flush();
    await u.gw.ledgerParts!.checkpointer.checkpoint('manual', true);
    const m = (await u.request('GET', '/.rampart/metrics')).body.toString();
    assert.equal(metric(m, 'rampart_checkpoints_total{result="publish_failed"}'), 1);
    assert.equal(metric(m, 'rampart_checkpoints_total{result="ok"}'), undefined);
    assert.equal(metric(m, 'rampart_checkpoint_last_published_timestamp_seconds'), undefined);
  } finally {
    await u.close();
    out.remove();
  }
});
