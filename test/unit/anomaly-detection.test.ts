/**
 * Each attack family on seeded traffic with a controlled clock: detected within the bound that
 * docs/anomaly.md documents, measured in seconds of simulated attack traffic from its first
 * event (FC-3, RSID-1, ASVS 8.1.4, API1, ASVS 2.2.1). One small population (40 customers,
 * 10 advisors, 4 service accounts, 5 days of history) with one attack of each kind at a known
 * hour of the evaluated day.
 *
 * Bounds asserted:
 *   enumeration, 1-2 ids/s          <= 10 s, escalates to a block
 *   bulk pull 10x (customer)        <= 60 s;  40x (service account) <= 30 s, blocked (a service
 *                                   account's threshold sits near 2x its nightly 3x peak)
 *   brute force 5/s, stuffing 2/s   <= 10 s, the address blocked
 *   distributed on one key 0.5/s    <= 60 s, the key alerted (never restricted)
 *   new network, pinned service     at its first request (0 s)
 *   new network, multi-block person at its first high-risk action from it (throttle)
 *   dormant account                 at its first request (alert), the transfer throttled
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createAnomalyDetector } from '../../src/threat/anomaly/index.js';
import { buildScenario, evaluate, HOUR, matches, type AttackInstance, type Evaluation, type ObservedAction, type Scenario } from '../helpers/anomaly-traffic.js';

const scenario: Scenario = buildScenario({
  seed: 7,
  population: { retail: 40, advisor: 10, service: 4 },
  historyDays: 5,
  days: 1,
  travelRate: 0,
  explicit: [
    { family: 'enumeration', at: 2 * HOUR, victim: 'retail', variant: 'sequential', rate: 1, durationMs: 60_000 },
    { family: 'enumeration', at: 3 * HOUR, victim: 'new', variant: 'random', rate: 2, durationMs: 60_000 },
    { family: 'bulk-pull', at: 4 * HOUR, victim: 'retail', factor: 10, durationMs: 5 * 60_000 },
    { family: 'bulk-pull', at: 5 * HOUR, victim: 'service', factor: 40, durationMs: 5 * 60_000 },
    { family: 'auth-failures', at: 7 * HOUR, variant: 'brute-force', rate: 5, durationMs: 60_000 },
    { family: 'auth-failures', at: 8 * HOUR, variant: 'stuffing', rate: 2, durationMs: 60_000 },
    { family: 'auth-failures', at: 9 * HOUR, variant: 'distributed', rate: 0.5, durationMs: 4 * 60_000 },
    { family: 'new-network', at: 10 * HOUR, victim: 'pinned service' },
    { family: 'new-network', at: 11 * HOUR, victim: 'multi-block retail' },
    { family: 'dormant-reactivation', at: 12 * HOUR },
  ],
});
const result: Evaluation = evaluate(scenario, createAnomalyDetector());

function attack(family: AttackInstance['family'], variant?: string): AttackInstance {
  const a = scenario.attacks.find((x) => x.family === family && (variant === undefined || x.variant.startsWith(variant)));
  assert.ok(a, `${family} ${variant ?? ''}`);
  return a;
}

/** Actions about this attack's subject in its window, first first. */
function found(a: AttackInstance): ObservedAction[] {
  return result.run.actions.filter((x) => matches(x.action, a));
}

/** Seconds from the attack's first event to its first finding of the expected kind. */
function delay(a: AttackInstance): number {
  const f = found(a).find((x) => x.action.finding.kind === a.expect);
  assert.ok(f, `${a.id} (${a.variant}) not detected; actions: ${found(a).map((x) => x.action.finding.kind).join(', ')}`);
  return (f.action.finding.at - a.start) / 1000;
}

test('enumeration sweeps: detected within 10 s and blocked, by an existing principal and by a brand-new one (API1)', () => {
  for (const v of ['sequential', 'random, new principal']) {
    const a = attack('enumeration', v);
    assert.ok(delay(a) <= 10, `${v}: ${delay(a)} s`);
    assert.ok(found(a).some((x) => x.action.action === 'block' && x.action.finding.kind === 'enumeration'), v);
  }
});

test('bulk pulls: 10x a customer\'s usual volume within 60 s, 40x a service account\'s within 30 s and blocked (FC-3)', () => {
  const retail = attack('bulk-pull', 'retail');
  const service = attack('bulk-pull', 'service');
  assert.equal(retail.factor, 10);
  assert.ok(delay(retail) <= 60, `10x: ${delay(retail)} s`);
  assert.ok(delay(service) <= 30, `40x: ${delay(service)} s`);
  assert.ok(found(service).some((x) => x.action.action === 'block'));
});

test('authentication failures: brute force and stuffing from one address within 10 s (address blocked); a distributed attack on one key within 60 s (key alerted only)', () => {
  for (const v of ['brute-force', 'stuffing']) {
    const a = attack('auth-failures', v);
    assert.ok(delay(a) <= 10, `${v}: ${delay(a)} s`);
    assert.ok(found(a).some((x) => x.action.finding.target === 'address' && x.action.action === 'block'), v);
  }
  const dist = attack('auth-failures', 'distributed');
  assert.ok(delay(dist) <= 60, `distributed: ${delay(dist)} s`);
  assert.deepEqual([...new Set(found(dist).map((x) => `${x.action.finding.target}:${x.action.action}`))], ['key:alert']);
});

test('new network: a pinned service key at its first request; a person already on several networks at the first transfer from the new one (RSID-1)', () => {
  const pinned = attack('new-network', 'pinned service');
  assert.equal(delay(pinned), 0);
  const multi = attack('new-network', 'multi-block retail');
  const transfer = scenarioEvent(multi, (e) => e.highRisk === true);
  const first = found(multi).find((x) => x.action.finding.kind === 'new-network')!;
  assert.equal(first.action.finding.at, transfer.t, 'reads from the new network alone are not flagged for a principal that uses several');
  assert.equal(first.action.action, 'throttle');
  assert.match(first.action.finding.reason, /RSID-1/);
});

test('dormant account: flagged at its first request, its transfer throttled (RSID-1)', () => {
  const a = attack('dormant-reactivation');
  assert.equal(delay(a), 0);
  const acts = found(a).map((x) => x.action.action);
  assert.deepEqual(acts, ['alert', 'throttle']);
});

test('normal traffic of the evaluated day: never throttled or blocked, at most one alert (the false-alarm rate is measured on 200 principals in anomaly-simulation.test.ts)', () => {
  const lines = result.falseAlarms.map((x) => `${x.action.action} ${x.action.finding.kind} ${x.action.finding.subject.principal ?? x.action.finding.subject.address}: ${x.action.finding.reason}`);
  assert.ok(result.falseAlarms.every((x) => x.action.action === 'alert'), lines.join('\n'));
  // With 40 customers a mobile carrier's block is rarely shared by 3 others yet: a customer's
  // first session from their phone looks like a new network (seed 7 has one such case).
  assert.ok(result.falseAlarms.length <= 1, lines.join('\n'));
});

/** An event of the attack (regenerated from the scenario: the simulator is deterministic). */
function scenarioEvent(a: AttackInstance, pred: (e: { t: number; highRisk?: boolean | undefined }) => boolean): { t: number } {
  for (const batch of scenario.batches()) for (const e of batch) if (e.label === a.id && pred(e)) return e;
  assert.fail(`no such event in ${a.id}`);
}
