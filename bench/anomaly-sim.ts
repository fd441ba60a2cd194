/**
 * The anomaly model (src/threat/anomaly, docs/anomaly.md) on seeded traffic: per attack family
 * precision, recall and median detection time over a mixed simulation, false alarms per
 * principal-day on normal traffic, and the CPU each observe() costs (FC-3, RSID-1, ASVS 8.1.4,
 * API1). Also the memory a tracked principal costs.
 *
 *   npx tsc -p tsconfig.json && node dist/bench/anomaly-sim.js
 *
 * Environment: ANOMALY_SEEDS (comma-separated, default 1,2,3). About 8 s of CPU per seed (a mixed
 * and a normal run). The simulated service accounts are declared with an hourly record limit
 * (volume.recordsPerHourOverrides), as an operator would declare them.
 *
 * usPerEvent is CPU time (process.cpuUsage, user + system) of observe() in steady state: the
 * evaluation day's events, generated beforehand and shifted by one day, replayed into the
 * detector that has just seen them, so that generating events is not counted. The rows of the
 * mixed runs give the same figure for every family (one detector sees all of them).
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { fileURLToPath } from 'node:url';
import { createAnomalyDetector, type AnomalyDetector } from '../src/threat/anomaly/index.js';
import { ATTACK_FAMILIES, buildScenario, DAY, declaredServiceAccounts, evaluate, median, T0, type Evaluation, type ScenarioOptions, type SimEvent } from '../test/helpers/anomaly-traffic.js';

export interface AnomalyReportRow {
  scenario: string;
  precision: number;
  recall: number;
  medianDetectSeconds: number;
  falseAlarmsPerPrincipalDay: number;
  usPerEvent: number;
}

/** The population of the runs: 200 principals (plus 10 created during the evaluated day). */
export const BENCH_POPULATION = { retail: 150, advisor: 40, service: 10 } as const;
/** Attacks per family in one mixed run. */
export const BENCH_ATTACKS = { enumeration: 20, 'bulk-pull': 20, 'auth-failures': 20, 'new-network': 20, 'dormant-reactivation': 10 } as const;

export function mixedScenario(seed: number, attacks: boolean): ScenarioOptions {
  return { seed, population: { ...BENCH_POPULATION }, historyDays: 5, days: 1, newPrincipals: 10, ...(attacks ? { attacks: { ...BENCH_ATTACKS } } : {}) };
}

/** CPU microseconds per observe() over `events` (already built), replayed `shift` ms later. */
export function steadyStateUs(d: AnomalyDetector, events: readonly SimEvent[], shift: number): number {
  const copy = events.map((e) => ({ ...e, t: e.t + shift }));
  const c0 = process.cpuUsage();
  for (const e of copy) d.observe(e);
  const c = process.cpuUsage(c0);
  return copy.length === 0 ? 0 : (c.user + c.system) / copy.length;
}

interface SeedRun {
  ev: Evaluation;
  us: number;
}

function runSeed(seed: number, attacks: boolean): SeedRun {
  const s = buildScenario(mixedScenario(seed, attacks));
  // Service accounts declared, as an operator would (docs/anomaly.md, FC-3 hourly limit).
  const d = createAnomalyDetector({ volume: { recordsPerHourOverrides: declaredServiceAccounts(s) } });
  const ev = evaluate(s, d, { keepEvaluationEvents: true });
  const us = steadyStateUs(d, ev.run.evaluationEvents ?? [], DAY);
  return { ev, us };
}

/** Runs the mixed and the normal-only simulations and returns one row per scenario. */
export function anomalyReport(seeds: readonly number[] = parseSeeds()): AnomalyReportRow[] {
  const rows: AnomalyReportRow[] = [];
  const mixed = seeds.map((seed) => runSeed(seed, true));
  const us = median(mixed.map((m) => m.us));
  const fa = mixed.reduce((n, m) => n + m.ev.falseAlarms.length, 0) / mixed.reduce((n, m) => n + m.ev.principalDays, 0);
  for (const family of ATTACK_FAMILIES) {
    const fs = mixed.map((m) => m.ev.families.find((f) => f.family === family)!);
    const instances = fs.reduce((n, f) => n + f.instances, 0);
    const findings = fs.reduce((n, f) => n + f.findings, 0);
    rows.push({
      scenario: `attack:${family}`,
      precision: findings === 0 ? NaN : fs.reduce((n, f) => n + f.truePositives, 0) / findings,
      recall: instances === 0 ? NaN : fs.reduce((n, f) => n + f.detected, 0) / instances,
      medianDetectSeconds: median(fs.flatMap((f) => f.delays)),
      falseAlarmsPerPrincipalDay: fa,
      usPerEvent: us,
    });
  }
  const normal = seeds.map((seed) => runSeed(seed, false));
  rows.push({
    scenario: 'normal-24h',
    precision: NaN,
    recall: NaN,
    medianDetectSeconds: NaN,
    falseAlarmsPerPrincipalDay: normal.reduce((n, m) => n + m.ev.falseAlarms.length, 0) / normal.reduce((n, m) => n + m.ev.principalDays, 0),
    usPerEvent: median(normal.map((m) => m.us)),
  });
  rows.push({
    scenario: 'normal-history (cold starts)',
    precision: NaN,
    recall: NaN,
    medianDetectSeconds: NaN,
    falseAlarmsPerPrincipalDay: normal.reduce((n, m) => n + m.ev.historyAlarms.length, 0) / normal.reduce((n, m) => n + m.ev.historyPrincipalDays, 0),
    usPerEvent: NaN,
  });
  return rows;
}

/**
 * Heap bytes per tracked principal, and per address: `n` principals with a short retail-like
 * session each (object ids, two networks, a few minutes), measured with a forced GC.
 */
export function memoryPerPrincipal(n = 20_000): { principalBytes: number; addressBytes: number } {
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;
  gc();
  const before = process.memoryUsage().heapUsed;
  const d = createAnomalyDetector({ maxPrincipals: n, maxAddresses: n });
  for (let i = 0; i < n; i++) {
    for (let k = 0; k < 12; k++) {
      d.observe({ t: T0 + i * 10 + k * 20_000, principal: `s:cus_${i}`, keyId: `key_${i}`, address: `${10 + (k % 2) * 100}.${i >> 8 & 255}.${i & 255}.7`, method: 'GET', status: 200, outcome: 'allow', objectIds: [`acc_${i}_${k % 3}`], bytesOut: 2000, records: 10 });
    }
  }
  gc();
  const mid = process.memoryUsage().heapUsed;
  for (let i = 0; i < n; i++) d.observe({ t: T0 + 400_000 + i, keyId: `key_x${i}`, address: `172.${i >> 8 & 255}.${i & 255}.9`, method: 'GET', status: 401, outcome: 'deny', reason: 'RAMPART_AUTH_INVALID', bytesOut: 200 });
  gc();
  const after = process.memoryUsage().heapUsed;
  if (d.stats().principals !== n) throw new Error('principals were evicted during the measurement');
  // The failed authentications create one address and one key entry each.
  return { principalBytes: (mid - before) / n, addressBytes: (after - mid) / n };
}

function parseSeeds(): number[] {
  const env = process.env.ANOMALY_SEEDS;
  return env ? env.split(',').map((x) => Number(x.trim())).filter((x) => Number.isFinite(x)) : [1, 2, 3];
}

function fmt(x: number, digits: number): string {
  return Number.isNaN(x) ? '-' : x.toFixed(digits);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const rows = anomalyReport();
  console.log('scenario                        precision  recall  median detect s  false alarms/principal-day  us/event (CPU)');
  for (const r of rows) {
    console.log(`${r.scenario.padEnd(32)}${fmt(r.precision, 3).padStart(9)}${fmt(r.recall, 3).padStart(8)}${fmt(r.medianDetectSeconds, 1).padStart(17)}${fmt(r.falseAlarmsPerPrincipalDay, 4).padStart(28)}${fmt(r.usPerEvent, 2).padStart(16)}`);
  }
  const m = memoryPerPrincipal();
  console.log(`memory: ${Math.round(m.principalBytes)} bytes per tracked principal, ${Math.round(m.addressBytes)} bytes per address + key tracked for failed authentications`);
}
