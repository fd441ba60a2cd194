/**
 * The anomaly model's parts and rules on hand-made traffic with a controlled clock (FC-3, RSID-1,
 * ASVS 8.1.4, API1, ASVS 2.2.1): configuration checks, networks, windows, baselines, each
 * detector, deduplication, restrictions and their expiry, bounded memory, odd input. The seeded
 * simulations are in anomaly-detection.test.ts and anomaly-simulation.test.ts.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createAnomalyDetector, DEFAULT_ANOMALY_CONFIG, networkOf, resolveAnomalyConfig, type AnomalyAction, type AnomalyConfig, type ExchangeEvent } from '../../src/threat/anomaly/index.js';
import { hashId, RecentIds, SlidingCounts } from '../../src/threat/anomaly/features.js';
import { alphaForHalfLife, Baseline } from '../../src/threat/anomaly/baseline.js';
import { ratioScore, threshold } from '../../src/threat/anomaly/score.js';

const T = Date.UTC(2025, 0, 6, 12);
const MIN = 60_000;
const DAY = 24 * 60 * MIN;

function ev(over: Partial<ExchangeEvent> & { t: number }): ExchangeEvent {
  return { principal: 's:cus_1', keyId: 'key_1', address: '198.51.100.7', method: 'GET', status: 200, outcome: 'allow', bytesOut: 800, operationId: 'getAccount', ...over };
}

/** A principal's steady activity: one request every `every` ms from `from` for `ms`, `records` each. */
function steady(d: ReturnType<typeof createAnomalyDetector>, from: number, ms: number, every: number, over: Partial<ExchangeEvent> = {}): AnomalyAction[] {
  const out: AnomalyAction[] = [];
  for (let t = from; t < from + ms; t += every) out.push(...d.observe(ev({ t, records: 8, objectIds: ['acc_1'], ...over })));
  return out;
}

test('config: defaults are frozen, options merge, and a typo or a bad value throws a TypeError naming the path', () => {
  assert.ok(Object.isFrozen(DEFAULT_ANOMALY_CONFIG) && Object.isFrozen(DEFAULT_ANOMALY_CONFIG.volume));
  const c = resolveAnomalyConfig({ volume: { recordsPerHour: 5000 }, kinds: { 'rate-spike': { maxAction: 'alert' } } });
  assert.equal(c.volume.recordsPerHour, 5000);
  assert.equal(c.volume.floorRecordsPerMinute, DEFAULT_ANOMALY_CONFIG.volume.floorRecordsPerMinute);
  assert.equal(c.kinds['rate-spike'].maxAction, 'alert');
  assert.equal(c.kinds['rate-spike'].durationMs, DEFAULT_ANOMALY_CONFIG.kinds['rate-spike'].durationMs);
  // A whole Partial<AnomalyConfig> (nested objects complete) is accepted too.
  const whole: Partial<AnomalyConfig> = { volume: { ...DEFAULT_ANOMALY_CONFIG.volume, recordsPerHour: 7000 } };
  assert.equal(createAnomalyDetector(whole).config.volume.recordsPerHour, 7000);
  assert.throws(() => resolveAnomalyConfig({ volume: { recordsPerHuor: 5 } } as never), { name: 'TypeError', message: /anomaly\.volume\.recordsPerHuor: unknown setting/ });
  assert.throws(() => resolveAnomalyConfig({ cooldownMs: -1 }), /anomaly\.cooldownMs/);
  assert.throws(() => resolveAnomalyConfig({ maxPrincipals: 1.5 }), /integer/);
  assert.throws(() => resolveAnomalyConfig({ kinds: { enumeration: { maxAction: 'ban' as never } } }), /maxAction: expected one of alert, throttle, block/);
  assert.throws(() => resolveAnomalyConfig({ scores: { alert: 8, throttle: 7 } }), /alert <= throttle/);
  assert.throws(() => resolveAnomalyConfig({ objects: { deniedReasons: 'X' as never } }), /list of strings/);
  assert.throws(() => resolveAnomalyConfig({ volume: { recordsPerHourOverrides: { 's:svc': 0 } } }), /positive number/);
  assert.throws(() => resolveAnomalyConfig('yes' as never), /expected an object/);
});

test('networkOf: /24 and /16 for IPv4 (mapped too), /48 and /32 for IPv6 in any spelling; junk is its own network', () => {
  assert.deepEqual(networkOf('192.0.2.77'), { net: '192.0.2', block: '192.0' });
  assert.deepEqual(networkOf('::ffff:192.0.2.77'), { net: '192.0.2', block: '192.0' });
  assert.deepEqual(networkOf('010.000.002.1'), { net: '10.0.2', block: '10.0' });
  assert.deepEqual(networkOf('2001:DB8:0012:3::1'), { net: '2001:db8:12', block: '2001:db8' });
  assert.deepEqual(networkOf('2001:db8::1'), { net: '2001:db8:0', block: '2001:db8' });
  assert.deepEqual(networkOf('fe80::1%eth0'), { net: 'fe80:0:0', block: 'fe80:0' });
  assert.deepEqual(networkOf('::1'), { net: '0:0:0', block: '0:0' });
  for (const junk of ['', '1.2.3', '1.2.3.256', '1::2::3', 'a:b', 'x'.repeat(500), undefined as never]) {
    const n = networkOf(junk);
    assert.ok(n.net.startsWith('other:') && n.net === n.block, String(junk));
    assert.ok(n.net.length <= 70);
  }
});

test('SlidingCounts: sums over the last slots, expired slots leave, a jump past the window clears, late events count now', () => {
  const w = new SlidingCounts(2, 6, 10_000);
  w.roll(0);
  w.add(0, 1);
  w.add(1, 100);
  w.roll(25_000);
  w.add(0, 2);
  assert.equal(w.sum(0), 3);
  w.roll(55_000);
  assert.equal(w.sum(0), 3, 'slot 0 is still inside the 6 slots (0..5)');
  w.roll(60_000);
  assert.equal(w.sum(0), 2, 'slot 0 left');
  assert.equal(w.sum(1), 0);
  w.roll(10_000);
  w.add(0, 5);
  assert.equal(w.sum(0), 7, 'an earlier time counts in the current slot');
  w.roll(1_000_000);
  assert.equal(w.sum(0), 0);
  // Two windows sharing one store do not overlap.
  const store = new Float64Array(SlidingCounts.size(1, 3) * 2);
  const a = new SlidingCounts(1, 3, 1000, store, 0);
  const b = new SlidingCounts(1, 3, 1000, store, SlidingCounts.size(1, 3));
  a.roll(0);
  b.roll(0);
  a.add(0, 4);
  b.add(0, 9);
  assert.equal(a.sum(0), 4);
  assert.equal(b.sum(0), 9);
});

test('RecentIds: new vs seen, flags, expiry by time, the cap evicts the least recently seen and keeps the flag count right', () => {
  const ids = new RecentIds(4, 1000);
  assert.equal(ids.touch(1, 0, false), true);
  assert.equal(ids.touch(1, 10, true), false);
  assert.equal(ids.touch(2, 20, true), true);
  assert.deepEqual([ids.size, ids.flagged], [2, 2]);
  for (let h = 3; h <= 8; h++) ids.touch(h, 100 + h, false);
  assert.equal(ids.size, 4);
  assert.equal(ids.flagged, 0, 'the flagged entries were the oldest and gave way');
  ids.touch(9, 200, true);
  ids.expire(1_150);
  assert.deepEqual([ids.size, ids.flagged], [1, 1], 'only the entry seen at 200 is within 1000 ms');
  ids.expire(5_000);
  assert.deepEqual([ids.size, ids.flagged], [0, 0]);
  assert.notEqual(hashId('acc_1'), hashId('acc_2'));
  assert.equal(hashId('x'.repeat(10_000)), hashId('x'.repeat(10_000)));
  assert.notEqual(hashId('x'.repeat(600)), hashId('x'.repeat(601)), 'length is mixed in beyond the hashed prefix');
});

test('Baseline: running mean while young, clipped folds, an envelope that remembers a recurring peak and decays', () => {
  const b = new Baseline();
  const a = alphaForHalfLife(720);
  for (const x of [10, 12, 9, 11]) b.fold(Float64Array.of(x, 0, 0, 0, 0), a, 4);
  assert.equal(b.mean(0), 10.5);
  assert.ok(b.sd(0) > 0.5 && b.sd(0) < 2);
  b.fold(Float64Array.of(1000, 0, 0, 0, 0), a, 4);
  assert.ok(b.mean(0) < 13, `a burst is clipped before it is learned (mean ${b.mean(0)})`);
  assert.ok(b.peak(0) < 30, `and the envelope holds the clipped value (${b.peak(0)})`);
  const d = new Baseline();
  d.fold(Float64Array.of(100, 0, 0, 0, 0), a, 4, 0.5);
  d.fold(Float64Array.of(10, 0, 0, 0, 0), a, 4, 0.5);
  assert.equal(d.peak(0), 50, 'the envelope halves per fold at decay 0.5');
  assert.equal(threshold(30, 10, 5, 3, 4, 18, 1.5), 30);
  assert.equal(threshold(30, 10, 5, 3, 4, 40, 2), 80);
  assert.equal(ratioScore(1, 4, 7), 4);
  assert.equal(ratioScore(2, 4, 7), 7);
  assert.equal(ratioScore(0.99, 4, 7), 0);
  assert.equal(ratioScore(1e9, 4, 7), 10);
});

test('enumeration by a brand-new principal: alert at the 6th distinct denied id, then throttle, then a 30-minute block (API1)', () => {
  const d = createAnomalyDetector();
  const seen: { t: number; a: AnomalyAction }[] = [];
  for (let i = 0; i < 40; i++) {
    const t = T + i * 1000;
    for (const a of d.observe(ev({ t, principal: 's:mallory', keyId: 'key_m', status: 403, outcome: 'deny', reason: 'RAMPART_OBJECT_FORBIDDEN', objectIds: [`acc_${100000 + i}`], bytesOut: 290 }))) seen.push({ t, a });
  }
  const first = seen[0]!;
  assert.equal(first.a.action, 'alert');
  assert.equal(first.a.finding.kind, 'enumeration');
  assert.equal(first.t - T, 5000, 'the 6th id, 5 s after the first');
  assert.match(first.a.finding.reason, /6 distinct object ids denied/);
  assert.deepEqual(first.a.finding.subject, { principal: 's:mallory', keyId: 'key_m', address: '198.51.100.7' });
  assert.equal(first.a.finding.target, 'principal');
  assert.deepEqual(seen.map((x) => x.a.action), ['alert', 'throttle', 'block'], 'one action per level: deduplicated');
  const block = seen[2]!;
  assert.equal(block.a.until, block.t + 30 * MIN);
  const r = d.restriction({ principal: 's:mallory', address: '203.0.113.1' }, block.t + 1000);
  assert.deepEqual(r, { action: 'block', until: block.t + 30 * MIN, kind: 'enumeration', target: 'principal' });
  assert.equal(d.restriction({ principal: 's:alice', address: '198.51.100.7' }, block.t + 1000), undefined, 'the address is not blocked: the principal is');
  assert.equal(d.restriction({ principal: 's:mallory', address: 'x' }, block.t + 30 * MIN), undefined, 'expired');
  // A throttle carries the rate the gateway should allow.
  assert.equal(seen[1]!.a.perMinute, DEFAULT_ANOMALY_CONFIG.throttle.minPerMinute);
});

test('a brand-new principal doing normal things is not flagged (retail sessions; a declared batch account from its first minute)', () => {
  const d = createAnomalyDetector({ volume: { recordsPerHourOverrides: { 'c:batch': 40_000 } } });
  const actions: AnomalyAction[] = [];
  for (let day = 0; day < 3; day++) {
    for (const start of [8, 12.5, 20]) {
      let t = T + day * DAY + start * 3600_000 - 12 * 3600_000;
      const objs = ['acc_n_1', 'acc_n_2'];
      for (let i = 0; i < 10; i++) {
        t += 7000;
        actions.push(...d.observe(ev({ t, principal: 's:newbie', keyId: 'key_new', address: `203.0.113.${20 + day}`, records: (i * 7) % 40, objectIds: [objs[i % 2]!], bytesOut: 3000 })));
      }
      actions.push(...d.observe(ev({ t: t + 5000, principal: 's:newbie', keyId: 'key_new', address: `203.0.113.${20 + day}`, method: 'POST', operationId: 'createTransfer', highRisk: true, status: 201, objectIds: ['acc_n_1'] })));
      // One mistyped id and one validation error now and then.
      actions.push(...d.observe(ev({ t: t + 9000, principal: 's:newbie', address: `203.0.113.${20 + day}`, status: 404, outcome: 'deny', reason: 'RAMPART_OBJECT_NOT_FOUND', objectIds: ['acc_typo'] })));
    }
  }
  // A new service account: 8 requests a minute over 1000 accounts, 60 records each, for 3 hours.
  for (let i = 0; i < 8 * 180; i++) {
    actions.push(...d.observe(ev({ t: T + 5 * DAY + i * 7500, principal: 'c:batch', keyId: 'key_batch', address: '192.0.2.10', operationId: 'listPositions', records: 60, bytesOut: 12_000, objectIds: [`acc_${i % 1000}`] })));
  }
  assert.deepEqual(actions.map((a) => `${a.finding.kind}: ${a.finding.reason}`), []);
  assert.equal(d.inspect('c:batch')?.warm, true);
  // Undeclared, the same batch account moves 28,800 records an hour: FC-3's hourly limit (10,000)
  // alerts, once per hour, and never throttles, until 240 active minutes make its baseline count.
  const u = createAnomalyDetector();
  const fc3: AnomalyAction[] = [];
  for (let i = 0; i < 8 * 360; i++) {
    fc3.push(...u.observe(ev({ t: T + i * 7500, principal: 'c:batch', keyId: 'key_batch', address: '192.0.2.10', operationId: 'listPositions', records: 60, bytesOut: 12_000, objectIds: [`acc_${i % 1000}`] })));
  }
  assert.deepEqual(fc3.map((a) => [a.finding.kind, a.action]), [['bulk-pull', 'alert'], ['bulk-pull', 'alert'], ['bulk-pull', 'alert'], ['bulk-pull', 'alert']]);
  assert.ok(fc3.every((a, i) => i === 0 || a.finding.at - fc3[i - 1]!.finding.at >= 3600_000));
});

test('alerts are deduplicated per subject and kind for the cool-down; a lapsed restriction is renewed while the attack goes on', () => {
  const d = createAnomalyDetector({ cooldownMs: 10 * MIN, kinds: { 'auth-failures': { durationMs: 2 * MIN } } });
  const acts: { t: number; a: AnomalyAction }[] = [];
  // 1 failed authentication a second for 8 minutes from one address, against random key ids.
  for (let i = 0; i < 480; i++) {
    const t = T + i * 1000;
    for (const a of d.observe({ t, keyId: `key_${i}`, address: '203.0.113.66', method: 'GET', status: 401, outcome: 'deny', reason: 'RAMPART_AUTH_INVALID', bytesOut: 200 })) acts.push({ t, a });
  }
  const address = acts.filter((x) => x.a.finding.target === 'address');
  assert.equal(address[0]!.a.action, 'alert');
  assert.equal(address[0]!.t - T, 4000, '5 distinct key ids tried: credential stuffing');
  const blocks = address.filter((x) => x.a.action === 'block');
  assert.ok(blocks.length >= 3, `re-blocked as each 2-minute block lapsed (${blocks.length})`);
  for (let i = 1; i < blocks.length; i++) assert.ok(blocks[i]!.t >= blocks[i - 1]!.a.until!, 'never re-issued while in force');
  assert.equal(address.filter((x) => x.a.action === 'alert').length, 1, 'one alert in the 8 minutes');
  // Nothing was learned about a principal: failures have none.
  assert.equal(d.stats().principals, 0);
  assert.equal(d.restriction({ address: '203.0.113.66' }, T + 480_000)?.action, 'block');
});

test('authentication failures: brute force on one key from one address (address blocked, key alerted only), slow hourly, RAMPART_AUTH_REQUIRED not counted', () => {
  const d = createAnomalyDetector();
  const acts: { t: number; a: AnomalyAction }[] = [];
  for (let i = 0; i < 60; i++) {
    const t = T + i * 500;
    for (const a of d.observe({ t, keyId: 'key_alice', address: '203.0.113.9', method: 'GET', status: 401, outcome: 'deny', reason: 'RAMPART_AUTH_INVALID', bytesOut: 200 })) acts.push({ t, a });
  }
  const addr = acts.filter((x) => x.a.finding.target === 'address');
  const key = acts.filter((x) => x.a.finding.target === 'key');
  assert.equal(addr[0]!.t - T, 4500, 'the 10th failure in the window');
  assert.equal(addr.at(-1)!.a.action, 'block');
  assert.deepEqual(key.map((x) => x.a.action), ['alert'], 'a key is never restricted by default: others would lock its owner out');
  assert.equal(key[0]!.a.finding.subject.keyId, 'key_alice');
  assert.equal(d.restriction({ keyId: 'key_alice', address: '198.51.100.1' }, T + 31_000), undefined);
  // Missing credentials are not failed authentications.
  const d2 = createAnomalyDetector();
  let n = 0;
  for (let i = 0; i < 100; i++) n += d2.observe({ t: T + i * 100, address: '203.0.113.10', method: 'GET', status: 401, outcome: 'deny', reason: 'RAMPART_AUTH_REQUIRED', bytesOut: 200 }).length;
  assert.equal(n, 0);
  // ASVS 2.2.1: 100 failures an hour against one key, slowly, from many addresses: alert.
  const d3 = createAnomalyDetector();
  const slow: AnomalyAction[] = [];
  for (let i = 0; i < 100; i++) slow.push(...d3.observe({ t: T + i * 30_000, keyId: 'key_bob', address: `198.51.100.${i}`, method: 'GET', status: 401, outcome: 'deny', reason: 'RAMPART_AUTH_INVALID', bytesOut: 200 }));
  assert.deepEqual(slow.map((a) => [a.finding.target, a.action]), [['key', 'alert']]);
  assert.match(slow[0]!.finding.reason, /100 in the last hour/);
});

test('FC-3: a bulk download over N records per hour raises an alert (a young principal; not one with an override)', () => {
  const d = createAnomalyDetector({ volume: { recordsPerHour: 5000, recordsPerHourOverrides: { 's:svc_sync': 50_000 } } });
  const hit: { t: number; a: AnomalyAction }[] = [];
  // 200 records a minute (far under the per-minute thresholds) for 40 minutes.
  for (let i = 0; i < 160; i++) {
    const t = T + i * 15_000;
    for (const who of ['s:insider', 's:svc_sync']) for (const a of d.observe(ev({ t, principal: who, operationId: 'listOrders', records: 50, objectIds: ['acc_x'], bytesOut: 9000 }))) hit.push({ t, a });
  }
  assert.equal(hit.length, 1, hit.map((h) => h.a.finding.reason).join('\n'));
  const f = hit[0]!;
  assert.equal(f.a.finding.kind, 'bulk-pull');
  assert.equal(f.a.finding.subject.principal, 's:insider');
  assert.equal(f.a.action, 'alert');
  assert.match(f.a.finding.reason, /^5000 records .* in the last hour \(FC-3 limits 5000 records/);
  assert.equal(f.t - T, 99 * 15_000, 'the 100th response brings the hour to 5000 records');
});

test('bulk pull far above a warm baseline: detected within seconds, escalates to a block, and the pull is not learned', () => {
  const d = createAnomalyDetector();
  // 30 active minutes of 6 requests a minute, 8 records each (48 records a minute).
  assert.deepEqual(steady(d, T, 30 * MIN, 10_000), []);
  const before = d.inspect('s:cus_1')!;
  assert.equal(before.warm, true);
  assert.ok(Math.abs(before.baseline.records!.mean - 48) < 5, JSON.stringify(before.baseline.records));
  // Then 30x: 1440 records a minute (4 responses of 60 records every 10 s).
  const acts: { t: number; a: AnomalyAction }[] = [];
  const start = T + 30 * MIN;
  for (let i = 0; i < 24 * 5; i++) {
    const t = start + i * 2500;
    for (const a of d.observe(ev({ t, operationId: 'listOrders', records: 60, objectIds: ['acc_1'], bytesOut: 14_000 }))) acts.push({ t, a });
  }
  assert.ok(acts.length > 0);
  assert.equal(acts[0]!.a.finding.kind, 'bulk-pull');
  assert.ok(acts[0]!.t - start <= 15_000, `detected after ${(acts[0]!.t - start) / 1000} s`);
  assert.equal(acts.at(-1)!.a.action, 'block');
  assert.match(acts[0]!.a.finding.reason, /usual 4\d\.\d \+- \d+\.\d per active minute/);
  // Feed normal minutes again: the baseline is what it was (the flagged minutes were not folded).
  steady(d, start + 20 * MIN, 5 * MIN, 10_000);
  assert.ok(Math.abs(d.inspect('s:cus_1')!.baseline.records!.mean - 48) < 5);
});

test('request rate: an unauthenticated flood from one address; a warm principal far above its usual rate (ASVS 8.1.4)', () => {
  const d = createAnomalyDetector();
  const anon: AnomalyAction[] = [];
  for (let i = 0; i < 400; i++) anon.push(...d.observe({ t: T + i * 100, address: '203.0.113.50', method: 'GET', operationId: 'getQuote', status: 200, outcome: 'allow', bytesOut: 200 }));
  assert.equal(anon[0]?.finding.kind, 'rate-spike');
  assert.equal(anon[0]?.finding.target, 'address');
  assert.match(anon[0]!.finding.reason, /^300 unauthenticated requests/);
  steady(d, T, 30 * MIN, 10_000, { principal: 's:p2' });
  const burst: AnomalyAction[] = [];
  for (let i = 0; i < 200; i++) burst.push(...d.observe(ev({ t: T + 30 * MIN + i * 200, principal: 's:p2', operationId: 'getQuote', objectIds: ['acc_1'] })));
  const spike = burst.find((a) => a.finding.kind === 'rate-spike');
  assert.ok(spike, burst.map((a) => a.finding.kind).join());
  assert.match(spike.finding.reason, /^40 requests in the last 60 s/);
});

test('error ratio: a burst of validation failures is flagged; the gateway\'s own 429 and anomaly denials are not errors', () => {
  const d = createAnomalyDetector();
  const acts: AnomalyAction[] = [];
  for (let i = 0; i < 30; i++) acts.push(...d.observe(ev({ t: T + i * 1000, principal: 's:fuzzer', status: 400, outcome: 'deny', reason: 'RAMPART_VALIDATION_FAILED', objectIds: undefined })));
  assert.equal(acts[0]?.finding.kind, 'error-ratio');
  assert.match(acts[0]!.finding.reason, /^12 client errors in 12 requests/);
  const d2 = createAnomalyDetector();
  let n = 0;
  for (let i = 0; i < 30; i++) {
    n += d2.observe(ev({ t: T + i * 1000, principal: 's:limited', status: 429, outcome: 'deny', reason: 'RAMPART_RATE_LIMITED', objectIds: undefined })).length;
    n += d2.observe(ev({ t: T + i * 1000 + 1, principal: 's:limited', status: 403, outcome: 'deny', reason: 'RAMPART_ANOMALY_BLOCKED', objectIds: undefined })).length;
  }
  assert.equal(n, 0);
});

test('new network: a pinned key from a new block alerts at once; a new /24 in a known block or a shared carrier block does not; a transfer from it is a red flag (RSID-1)', () => {
  const d = createAnomalyDetector();
  // Five days from one /24, every 2 minutes during the day.
  for (let day = 0; day < 5; day++) steady(d, T + day * DAY, 4 * 3600_000, 2 * MIN, { principal: 'c:app', address: '192.0.2.10' });
  for (let day = 0; day < 5; day++) steady(d, T + day * DAY, 4 * 3600_000, 2 * MIN, { principal: 'c:phone', address: '192.0.2.20' });
  // Three other principals use the carrier block 172.56/16 (nobody alarmed).
  for (const p of ['s:a', 's:b', 's:c']) d.observe(ev({ t: T + 5 * DAY, principal: p, address: `172.56.${p.charCodeAt(2)}.9` }));
  const t = T + 5 * DAY + 3600_000;
  assert.deepEqual(d.observe(ev({ t: t - 1000, principal: 'c:phone', address: '172.56.200.1' })), [], 'a block three other principals use');
  assert.deepEqual(d.observe(ev({ t, principal: 'c:app', address: '192.0.7.10' })), [], 'same /16: not new');
  const alert = d.observe(ev({ t: t + 2000, principal: 'c:app', address: '45.33.1.2' }));
  assert.equal(alert.length, 1);
  assert.equal(alert[0]!.finding.kind, 'new-network');
  assert.equal(alert[0]!.action, 'alert');
  assert.match(alert[0]!.finding.reason, /outside the one network block .* over 6 days/);
  assert.deepEqual(d.observe(ev({ t: t + 3000, principal: 'c:app', address: '45.33.1.3' })), [], 'same /24 next: nothing new');
  const flag = d.observe(ev({ t: t + 5 * MIN, principal: 'c:app', address: '45.33.1.3', method: 'POST', operationId: 'createTransfer', highRisk: true, status: 201 }));
  assert.equal(flag[0]?.action, 'throttle');
  assert.match(flag[0]!.finding.reason, /RSID-1: new device followed by a high-risk action/);
  assert.equal(d.restriction({ principal: 'c:app', address: '45.33.1.3' }, t + 6 * MIN)?.action, 'throttle');
  assert.ok((d.restriction({ principal: 'c:app', address: '45.33.1.3' }, t + 6 * MIN)?.perMinute ?? 0) >= DEFAULT_ANOMALY_CONFIG.throttle.minPerMinute);
  // A principal with two days of history is not pinned yet: a new block alone is not an alert.
  const d2 = createAnomalyDetector();
  for (let day = 0; day < 2; day++) steady(d2, T + day * DAY, 3600_000, MIN, { principal: 's:young', address: '192.0.2.10' });
  assert.deepEqual(d2.observe(ev({ t: T + 2 * DAY, principal: 's:young', address: '45.33.1.2' })), []);
});

test('dormant account turning active, then a transfer: alert, then throttle; a gateway hint covers a principal the model never saw (RSID-1)', () => {
  const d = createAnomalyDetector();
  steady(d, T, 20 * MIN, MIN, { principal: 's:sleeper' });
  const back = T + 45 * DAY;
  const first = d.observe(ev({ t: back, principal: 's:sleeper' }));
  assert.equal(first[0]?.finding.kind, 'dormant-reactivation');
  assert.equal(first[0]?.action, 'alert');
  assert.match(first[0]!.finding.reason, /after 44 days idle/);
  const transfer = d.observe(ev({ t: back + 4 * MIN, principal: 's:sleeper', method: 'POST', operationId: 'createTransfer', highRisk: true, status: 201 }));
  assert.equal(transfer[0]?.action, 'throttle');
  assert.match(transfer[0]!.finding.reason, /createTransfer 4 min after reactivation of an account idle 44 days/);
  const hinted = createAnomalyDetector().observe(ev({ t: back, principal: 's:evicted', principalLastSeen: back - 100 * DAY }));
  assert.equal(hinted[0]?.finding.kind, 'dormant-reactivation');
  assert.deepEqual(createAnomalyDetector().observe(ev({ t: back, principal: 's:recent', principalLastSeen: back - DAY })), []);
});

test('off hours: a transfer at 03:00 by a principal only ever active 14:00-16:00 UTC', () => {
  const d = createAnomalyDetector();
  for (let day = 0; day < 4; day++) steady(d, Date.UTC(2025, 0, 6 + day, 14), 2 * 3600_000, 30_000, { principal: 's:office' });
  const night = Date.UTC(2025, 0, 10, 3);
  assert.deepEqual(d.observe(ev({ t: night, principal: 's:office' })), [], 'reading at night alone is not flagged');
  const a = d.observe(ev({ t: night + MIN, principal: 's:office', method: 'POST', operationId: 'createTransfer', highRisk: true, status: 201 }));
  assert.equal(a[0]?.finding.kind, 'off-hours');
  assert.equal(a[0]?.action, 'alert');
  assert.match(a[0]!.finding.reason, /at 3:00 UTC, an hour \(\+-1\) holding 0\.\d\d% of this principal's activity/);
});

test('kinds can be switched off or capped; restrictions expire with tick() and survive eviction of the principal', () => {
  const off = createAnomalyDetector({ kinds: { enumeration: { enabled: false } } });
  const capped = createAnomalyDetector({ kinds: { enumeration: { maxAction: 'alert' } } });
  const levels: string[] = [];
  let offCount = 0;
  for (let i = 0; i < 40; i++) {
    const e = ev({ t: T + i * 1000, principal: 's:m', status: 403, outcome: 'deny', reason: 'RAMPART_OBJECT_FORBIDDEN', objectIds: [`acc_${i}`] });
    offCount += off.observe(e).length;
    for (const a of capped.observe(e)) levels.push(a.action);
  }
  assert.equal(offCount, 0);
  assert.deepEqual(levels, ['alert']);

  const d = createAnomalyDetector({ maxPrincipals: 10 });
  for (let i = 0; i < 20; i++) d.observe(ev({ t: T + i * 1000, principal: 's:m', status: 403, outcome: 'deny', reason: 'RAMPART_OBJECT_FORBIDDEN', objectIds: [`acc_${i}`] }));
  assert.equal(d.restriction({ principal: 's:m', address: '' }, T + 21_000)?.action, 'block');
  for (let i = 0; i < 100; i++) d.observe(ev({ t: T + 30_000 + i, principal: `s:p${i}` }));
  assert.equal(d.stats().principals, 10, 'bounded');
  assert.equal(d.inspect('s:m'), undefined, 'evicted');
  assert.equal(d.restriction({ principal: 's:m', address: '' }, T + 31_000)?.action, 'block', 'the block outlives the state');
  assert.equal(d.stats().restrictions, 1);
  d.tick(T + 2 * 3600_000);
  assert.equal(d.stats().restrictions, 0);
});

test('addresses and keys are bounded too; odd input never throws and never moves time backwards', () => {
  const d = createAnomalyDetector({ maxAddresses: 50, maxKeys: 20 });
  for (let i = 0; i < 500; i++) d.observe({ t: T + i, keyId: `k${i}`, address: `10.0.${i >> 8}.${i & 255}`, method: 'GET', status: 401, outcome: 'deny', bytesOut: 0 });
  assert.equal(d.stats().addresses, 50);
  assert.equal(d.stats().keys, 20);
  const odd: unknown[] = [
    { t: NaN, address: undefined, method: 1, status: '200', outcome: 'x', bytesOut: -5 },
    { t: Infinity, principal: 7, address: {}, status: NaN, bytesOut: NaN, records: -1 },
    { t: -1, principal: '', keyId: '', address: '::1', method: 'GET', status: 200, outcome: 'allow', bytesOut: 1, objectIds: [1, null, {}, 'ok'] },
    { t: T, principal: 's:x', address: '1.2.3.4', method: 'GET', status: 404, outcome: 'deny', bytesOut: 1, objectIds: Array.from({ length: 100_000 }, (_, i) => `id${i}`) },
    { t: T, principal: 's:x', address: 'x'.repeat(100_000), method: 'GET', status: 200, outcome: 'allow', bytesOut: 1e308, records: 1e308, objectIds: 'acc_1' },
    { t: 1e300, principal: 's:y', address: '1.2.3.4', method: 'GET', status: 200, outcome: 'allow', bytesOut: 1, principalLastSeen: 'yesterday' },
  ];
  for (const e of odd) assert.doesNotThrow(() => d.observe(e as ExchangeEvent));
  assert.doesNotThrow(() => d.tick(NaN));
  assert.doesNotThrow(() => d.restriction({ principal: 5 as never, keyId: null as never, address: undefined as never }, NaN));
  // An event from the past is counted "now": after a day, one from an hour earlier does not reopen old windows.
  d.observe(ev({ t: T + DAY, principal: 's:z' }));
  assert.doesNotThrow(() => d.observe(ev({ t: T + DAY - 3600_000, principal: 's:z' })));
  assert.equal(d.inspect('s:z')?.events, 2);
});
