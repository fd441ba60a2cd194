/**
 * The threat-defence part of `npm run bench` (issue 5): the injection inspector's detection and
 * false-positive rates per family over the corpora in test/fixtures/injection, the anomaly
 * model's precision, recall and detection delay on seeded traffic (bench/anomaly-sim.ts), and
 * the CPU each control costs per call in this process (rate-limit take, response contract,
 * DLP masking), each against a baseline measured in the same run (JSON.parse of the same body).
 * The gateway modes in bench/run.ts carry every control, so their ratios already include these.
 *
 * Environment: ANOMALY_SEEDS (default 1 here; the unit tests run 1,2,3).
 */
import { fileURLToPath } from 'node:url';
import { inspectCorpusReport } from './inspect-corpus.js';
import { anomalyReport } from './anomaly-sim.js';
import { createLimiter } from '../src/threat/ratelimit/index.js';
import { compileDlpPolicy, maskJson } from '../src/threat/dlp/index.js';
import { loadApi } from '../src/openapi/load.js';
import { responseClassifications } from '../src/openapi/types.js';
import { brokerageOpenApiPath } from '../src/demo/brokerage-server.js';

function median(xs: number[]): number {
  const s = xs.slice().sort((a, b) => a - b);
  return s[s.length >> 1]!;
}

/** Median CPU µs per call over 5 rounds of `n` calls. */
async function cpuUs(fn: () => unknown | Promise<unknown>, n: number): Promise<number> {
  for (let i = 0; i < Math.min(n, 500); i++) await fn();
  const rounds: number[] = [];
  for (let r = 0; r < 5; r++) {
    const c0 = process.cpuUsage();
    for (let i = 0; i < n; i++) await fn();
    const c = process.cpuUsage(c0);
    rounds.push((c.user + c.system) / n);
  }
  return median(rounds);
}

export async function threatBench(): Promise<void> {
  console.log('\nInjection inspection: the corpora in test/fixtures/injection (attacks caught / attacks, benign refused / benign)');
  console.log('family                 detected          false positives     us/string  us/benign');
  let att = 0;
  let det = 0;
  let ben = 0;
  let fp = 0;
  for (const r of inspectCorpusReport()) {
    att += r.attacks;
    det += r.detected;
    ben += r.benign;
    fp += r.falsePositives;
    const rate = (a: number, b: number) => (b === 0 ? '    -' : `${((100 * a) / b).toFixed(1).padStart(5)}%`);
    console.log(`${r.family.padEnd(20)} ${`${r.detected}/${r.attacks}`.padStart(9)} ${rate(r.detected, r.attacks)}   ${`${r.falsePositives}/${r.benign}`.padStart(9)} ${rate(r.falsePositives, r.benign)}   ${r.usPerString.toFixed(2).padStart(8)}  ${r.usPerBenign.toFixed(2).padStart(8)}`);
  }
  console.log(`all families         ${`${det}/${att}`.padStart(9)} ${((100 * det) / att).toFixed(1).padStart(5)}%   ${`${fp}/${ben}`.padStart(9)} ${((100 * fp) / ben).toFixed(2).padStart(5)}%   (targets: detection >= 99%, false positives <= 0.5%)`);
  console.log('  sqlmap through the gateway against an injectable upstream: test/integration/sqlmap.test.ts (in npm test)');

  const seeds = (process.env.ANOMALY_SEEDS ?? '1').split(',').map(Number).filter(Number.isFinite);
  console.log(`\nAnomaly model on seeded traffic (200 principals, 5 days of history, seeds ${seeds.join(',')})`);
  console.log('scenario                        precision  recall  median detect s  false alarms/principal-day  us/event');
  const f = (x: number, d: number) => (Number.isNaN(x) ? '-' : x.toFixed(d));
  for (const r of anomalyReport(seeds)) {
    console.log(`${r.scenario.padEnd(32)}${f(r.precision, 3).padStart(9)}${f(r.recall, 3).padStart(8)}${f(r.medianDetectSeconds, 1).padStart(17)}${f(r.falseAlarmsPerPrincipalDay, 4).padStart(28)}${f(r.usPerEvent, 2).padStart(10)}`);
  }

  // Per-call costs against a baseline from the same run.
  const api = await loadApi({ name: 'brokerage', file: brokerageOpenApiPath(), qualifyScopes: false, closedObjects: false, reservedPrefix: '/.rampart' });
  const op = api.operations.find((o) => o.id === 'getCustomer')!;
  const customer = {
    id: 'cus_alice', name: 'Alice Example', ssn: '536-22-8147', dateOfBirth: '1984-03-14', email: 'alice@example.com', phone: '+12125550143',
    address: { line1: '100 Fictional Avenue', line2: 'Apt 4B', city: 'Anytown', state: 'NY', postalCode: '12345', country: 'US' },
    createdAt: '2021-06-01T14:03:11.000Z', status: 'active',
  };
  const text = JSON.stringify(customer);
  const bytes = Buffer.from(text);
  const policy = compileDlpPolicy(undefined);
  const map = responseClassifications(op, 200);
  const none = new Set<string>();
  const parseUs = await cpuUs(() => JSON.parse(text), 20_000);
  const contractUs = await cpuUs(() => op.validateResponse(200, 'application/json', bytes, 'strip', { undocumentedBody: 'allow' }), 20_000);
  const maskUs = await cpuUs(() => maskJson(JSON.parse(text), map, policy, none), 20_000);
  const mem = createLimiter({ backend: { kind: 'memory' } });
  const rule = { name: 'bench', unit: 'requests' as const, limit: 1e9, windowSeconds: 60 };
  let i = 0;
  const takeUs = await cpuUs(() => mem.take(rule, `k${i++ % 1000}`), 20_000);
  await mem.close();
  console.log(`\nPer-call CPU (this process, ${text.length}-byte customer record): JSON.parse ${parseUs.toFixed(2)} us (baseline);`);
  console.log(`  response contract (strict parse + schema + strip) ${contractUs.toFixed(2)} us = ${(contractUs / parseUs).toFixed(1)}x parse; DLP parse + mask ${maskUs.toFixed(2)} us = ${(maskUs / parseUs).toFixed(1)}x parse; memory rate-limit take ${takeUs.toFixed(2)} us`);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  threatBench().catch((err) => {
    console.error(err);
    process.exitCode = 1;
  });
}
