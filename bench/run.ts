/**
 * `npm run bench`: the data plane's speed as ratios, measured in one run on loopback and
 * interleaved over rounds (this machine is shared and noisy, so medians are reported):
 *
 *   direct        the upstream itself
 *   undici-proxy  a bare node:http + undici proxy
 *   passthrough   the gateway with no controls (parse + route, no ledger)
 *   no-ledger     the gateway with every control except the ledger (which records nothing), to
 *                 split the cost of the controls into the request checks and the ledger
 *   nl-token      the same process, called with an access token (client credentials) instead of the key
 *   nl-per-req    no-ledger with the identity assertion signed per request (cacheSeconds 0)
 *   sqlite        the gateway with this version's controls: key auth, scope, rate limits,
 *                 validation, injection inspection, object-level check, response contract and
 *                 DLP, the anomaly model, and both ledger records committed per request (strict
 *                 durability) on SQLite
 *   sqlite-buf    the same controls with the ledger in buffered durability (spill journal)
 *   postgres      the same on the machine's PostgreSQL
 *
 * Prints peak requests/s with ratios, the CPU time per request each gateway mode spends and what
 * the controls add, latency at a fixed rate (half the pass-through peak; autocannon's overallRate,
 * which is rate-limited closed-loop, so p99 under-reports queueing a little), the ledger's own
 * append capacity, and how long a new key takes to work on a running gateway; then the ledger on its
 * own (bench/ledger.ts): appends/s strict and buffered, batched appends, verification, export and
 * the RSP-2 query over millions of records; and threat defence (bench/threat.ts): detection and
 * false-positive rates of the injection inspector per family, the anomaly model's precision and
 * recall, and the per-call cost of each control.
 * Environment: BENCH_ROUNDS (3), BENCH_SECONDS (5), BENCH_CONNECTIONS (32), BENCH_LAT_CONNECTIONS (8), BENCH_SKIP_PG=1,
 * BENCH_QUICK=1 (peak throughput and CPU only), BENCH_PIN=target|load|0 (see below).
 */
import { fork, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { cpus, totalmem } from 'node:os';
import autocannon from 'autocannon';
import pg from 'pg';
import { randomBytes } from 'node:crypto';
import { openStorage } from '../src/storage/open.js';
import { createKey } from '../src/keys/create.js';
import { loadSecrets } from '../src/config/secrets.js';
import { ledgerBench } from './ledger.js';
import { threatBench } from './threat.js';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 32);
// The latency phase offers a fixed rate over fewer connections: with 32, the load generator's own
// queueing (it shares a core with the upstream) dominated every p99, whatever the target.
const LAT_CONNECTIONS = Number(process.env.BENCH_LAT_CONNECTIONS ?? 8);
const SKIP_PG = process.env.BENCH_SKIP_PG === '1';
const ROLE = fileURLToPath(new URL('./role.js', import.meta.url));
const PG_ADMIN = process.env.RAMPART_TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const PATH = '/accounts/acc_alice_1';

interface Proc {
  child: ChildProcess;
  info: { port: number; key?: string; token?: string; dbPath?: string; secretsFile?: string };
}

// Pinning, BENCH_PIN:
//   target (default)  load generator and upstream on core 0, the process under test on core 1:
//                     every target gets one core, so the ratios are ratios of CPU per request.
//                     The ledger's worker threads share that core with the event loop.
//   load              load generator and upstream on core 0, the process under test unpinned: its
//                     worker threads may use what core 0 has left, as they would use spare cores
//                     in a deployment (DESIGN.md: ledger work stays off the event loop).
//   0                 nothing pinned.
// PostgreSQL is never pinned.
type PinMode = 'target' | 'load' | 'off';
const PIN_ENV = process.env.BENCH_PIN ?? 'target';
const CAN_PIN = cpus().length >= 2 && spawnSync('taskset', ['-V']).status === 0;
const PIN: PinMode = !CAN_PIN || PIN_ENV === '0' ? 'off' : PIN_ENV === 'load' ? 'load' : 'target';
const PIN_TEXT = { target: 'load+upstream on core 0, target on core 1', load: 'load+upstream on core 0, target unpinned', off: 'off' }[PIN];

function spawnRole(args: string[]): Promise<Proc> {
  return new Promise((resolve, reject) => {
    // Unpinned in 'load' mode means both cores, said explicitly: a child inherits this process's
    // affinity, which is core 0 once pinning is on.
    const core = args[0] === 'upstream' ? '0' : PIN === 'target' ? '1' : '0,1';
    const child =
      PIN !== 'off'
        ? spawn('taskset', ['-c', core, process.execPath, ROLE, ...args], { stdio: ['ignore', 'pipe', 'inherit', 'ipc'] })
        : fork(ROLE, args, { stdio: ['ignore', 'pipe', 'inherit', 'ipc'] });
    let buf = '';
    child.stdout!.on('data', (d: Buffer) => {
      buf += d.toString();
      const nl = buf.indexOf('\n');
      if (nl !== -1) resolve({ child, info: JSON.parse(buf.slice(0, nl)) });
    });
    child.once('exit', (code) => reject(new Error(`${args[0]} exited with ${code}`)));
  });
}

function cpuOf(p: Proc): Promise<{ cpu: number; loop: number }> {
  return new Promise((resolve) => {
    p.child.once('message', (m) => {
      const x = m as { cpuMicros: number; loopMicros: number };
      resolve({ cpu: x.cpuMicros, loop: x.loopMicros });
    });
    p.child.send('cpu');
  });
}

const median = (xs: number[]) => {
  const s = xs.slice().sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

async function load(url: string, key: string | undefined, o: { duration: number; rate?: number; connections?: number }) {
  return autocannon({
    url,
    connections: o.connections ?? CONNECTIONS,
    duration: o.duration,
    ...(o.rate ? { overallRate: o.rate } : {}),
    ...(key ? { headers: { authorization: `Bearer ${key}` } } : {}),
  });
}

/** The gateway's peak requests/s in this run (the ledger's capacity is compared with it). */
let gatewayPeak = 0;

async function main(): Promise<void> {
  console.log(`rampart bench: ${cpus().length} cores (${cpus()[0]?.model}), ${(totalmem() / 2 ** 30).toFixed(0)} GiB, node ${process.version}`);
  if (PIN !== 'off') spawnSync('taskset', ['-cp', '0', String(process.pid)]);
  console.log(`rounds=${ROUNDS} seconds=${SECONDS} connections=${CONNECTIONS} path=GET ${PATH} pinning=${PIN_TEXT}\n`);
  const procs: Proc[] = [];
  let pgDb: string | undefined;
  try {
    const upstream = await spawnRole(['upstream']);
    procs.push(upstream);
    const upUrl = `http://127.0.0.1:${upstream.info.port}`;
    const targets: { name: string; proc?: Proc; url: string; key?: string }[] = [{ name: 'direct', url: upUrl + PATH }];
    const undiciProxy = await spawnRole(['undici-proxy', upUrl]);
    procs.push(undiciProxy);
    targets.push({ name: 'undici-proxy', proc: undiciProxy, url: `http://127.0.0.1:${undiciProxy.info.port}${PATH}` });
    const pass = await spawnRole(['gateway', 'passthrough', 'sqlite', upUrl]);
    procs.push(pass);
    targets.push({ name: 'passthrough', proc: pass, url: `http://127.0.0.1:${pass.info.port}${PATH}` });
    const nl = await spawnRole(['gateway', 'no-ledger', 'sqlite', upUrl]);
    procs.push(nl);
    targets.push({ name: 'no-ledger', proc: nl, url: `http://127.0.0.1:${nl.info.port}${PATH}`, key: nl.info.key! });
    if (!nl.info.token) throw new Error('no-ledger: the gateway issued no access token');
    // The same process, authenticated with an access token instead of the key (the JWT path).
    targets.push({ name: 'nl-token', proc: nl, url: `http://127.0.0.1:${nl.info.port}${PATH}`, key: nl.info.token });
    const np = await spawnRole(['gateway', 'no-ledger-per-request', 'sqlite', upUrl]);
    procs.push(np);
    targets.push({ name: 'nl-per-req', proc: np, url: `http://127.0.0.1:${np.info.port}${PATH}`, key: np.info.key! });
    const sq = await spawnRole(['gateway', 'controls', 'sqlite', upUrl]);
    procs.push(sq);
    targets.push({ name: 'sqlite', proc: sq, url: `http://127.0.0.1:${sq.info.port}${PATH}`, key: sq.info.key! });
    const sb = await spawnRole(['gateway', 'controls-buffered', 'sqlite', upUrl]);
    procs.push(sb);
    targets.push({ name: 'sqlite-buf', proc: sb, url: `http://127.0.0.1:${sb.info.port}${PATH}`, key: sb.info.key! });
    if (!SKIP_PG) {
      pgDb = `rampart_bench_${randomBytes(4).toString('hex')}`;
      const c = new pg.Client({ connectionString: PG_ADMIN });
      await c.connect();
      await c.query(`CREATE DATABASE ${pgDb}`);
      await c.end();
      const u = new URL(PG_ADMIN);
      u.pathname = `/${pgDb}`;
      const pgp = await spawnRole(['gateway', 'controls', 'postgres', upUrl, u.toString()]);
      procs.push(pgp);
      targets.push({ name: 'postgres', proc: pgp, url: `http://127.0.0.1:${pgp.info.port}${PATH}`, key: pgp.info.key! });
    }

    // Sanity: every target answers 200 before measuring.
    for (const t of targets) {
      const r = await load(t.url, t.key, { duration: 1 });
      if (r['2xx'] === 0 || r.non2xx > 0) throw new Error(`${t.name}: warm-up got ${r.non2xx} non-2xx of ${r.requests.total}`);
    }

    const peak: Record<string, number[]> = {};
    const cpuPerReq: Record<string, number[]> = {};
    const loopPerReq: Record<string, number[]> = {};
    for (let round = 0; round < ROUNDS; round++) {
      const order = targets.slice(round % targets.length).concat(targets.slice(0, round % targets.length));
      for (const t of order) {
        const c0 = t.proc ? await cpuOf(t.proc) : { cpu: 0, loop: 0 };
        const r = await load(t.url, t.key, { duration: SECONDS });
        const c1 = t.proc ? await cpuOf(t.proc) : { cpu: 0, loop: 0 };
        if (r.non2xx > 0 || r.errors > 0) console.warn(`  ${t.name}: ${r.non2xx} non-2xx, ${r.errors} errors`);
        (peak[t.name] ??= []).push(r.requests.total / r.duration);
        if (t.proc) {
          (cpuPerReq[t.name] ??= []).push((c1.cpu - c0.cpu) / r.requests.total);
          (loopPerReq[t.name] ??= []).push((c1.loop - c0.loop) / r.requests.total);
        }
      }
      console.log(`round ${round + 1}: ${order.map((t) => `${t.name} ${Math.round(peak[t.name]!.at(-1)!)}/s`).join(', ')}`);
    }
    const p = (n: string) => median(peak[n] ?? [0]);
    const cpu = (n: string) => median(cpuPerReq[n] ?? [0]);
    const loop = (n: string) => median(loopPerReq[n] ?? [0]);
    console.log('\nPeak throughput (median req/s) and ratios');
    console.log('target         req/s    vs direct  vs undici-proxy  vs passthrough  CPU us/req  main-thread CPU us/req');
    for (const t of targets) {
      console.log(`${t.name.padEnd(13)} ${String(Math.round(p(t.name))).padStart(6)}    ${(p(t.name) / p('direct')).toFixed(2).padStart(6)}     ${(p(t.name) / p('undici-proxy')).toFixed(2).padStart(6)}          ${(p(t.name) / p('passthrough')).toFixed(2).padStart(6)}       ${t.proc ? cpu(t.name).toFixed(0).padStart(5) : '    -'}       ${t.proc ? loop(t.name).toFixed(0).padStart(5) : '    -'}`);
    }
    for (const t of targets.filter((x) => x.name === 'sqlite' || x.name === 'postgres')) {
      const text = await (await fetch(t.url.replace(PATH, '/.rampart/metrics'))).text();
      const val = (n: string) => Number(new RegExp(`^${n} (\\S+)$`, 'm').exec(text)?.[1] ?? NaN);
      const batches = val('rampart_ledger_commits_total');
      console.log(`${t.name}: ${val('rampart_ledger_records_total')} records in ${batches} group commits, ${(val('rampart_ledger_records_total') / batches).toFixed(1)} records per commit, ${((val('rampart_ledger_commit_seconds_total') * 1000) / batches).toFixed(2)} ms per commit`);
    }
    console.log(`\nCPU the request checks add per request (no-ledger vs passthrough: key, scope, validation, object-level check, identity assertion): ${(cpu('no-ledger') - cpu('passthrough')).toFixed(0)} us, main thread ${(loop('no-ledger') - loop('passthrough')).toFixed(0)} us`);
    console.log(`  an assertion signed per request instead of reused per caller (nl-per-req vs no-ledger): +${(cpu('nl-per-req') - cpu('no-ledger')).toFixed(0)} us`);
    console.log(`  an access token instead of the key (nl-token vs no-ledger; verified once, then cached): ${(cpu('nl-token') - cpu('no-ledger')).toFixed(0)} us`);
    console.log(`CPU the controls add per request: sqlite ${(cpu('sqlite') - cpu('passthrough')).toFixed(0)} us${SKIP_PG ? '' : `, postgres ${(cpu('postgres') - cpu('passthrough')).toFixed(0)} us`} (gateway process incl. its ledger worker)`);
    console.log(`Main-thread (event-loop) CPU the controls add per request: sqlite ${(loop('sqlite') - loop('passthrough')).toFixed(0)} us${SKIP_PG ? '' : `, postgres ${(loop('postgres') - loop('passthrough')).toFixed(0)} us`} (budget 50 us, DESIGN.md)`);
    console.log(`targets: controls >= 0.75 x passthrough -> sqlite ${(p('sqlite') / p('passthrough')).toFixed(2)}${SKIP_PG ? '' : `, postgres ${(p('postgres') / p('passthrough')).toFixed(2)}`}; passthrough >= 1.0 x undici-proxy -> ${(p('passthrough') / p('undici-proxy')).toFixed(2)}`);
    console.log(`target: strict within 10% of buffered (issue 4) -> sqlite strict/buffered ${(p('sqlite') / p('sqlite-buf')).toFixed(2)}`);
    gatewayPeak = Math.max(p('sqlite'), p('sqlite-buf'));

    // Detection rates and per-control costs (issue 5); quick, so printed in quick runs too.
    await threatBench();
    if (process.env.BENCH_QUICK === '1') return;
    const rate = Math.max(100, Math.round(p('passthrough') / 2));
    console.log(`\nLatency at a fixed ${rate} req/s (half the pass-through peak) over ${LAT_CONNECTIONS} connections, ms`);
    console.log('target         p50     p90     p99');
    const lat: Record<string, { p50: number[]; p90: number[]; p99: number[] }> = {};
    for (let round = 0; round < Math.max(1, ROUNDS - 1); round++) {
      for (const t of targets) {
        const r = await load(t.url, t.key, { duration: SECONDS, rate, connections: LAT_CONNECTIONS });
        const l = (lat[t.name] ??= { p50: [], p90: [], p99: [] });
        l.p50.push(r.latency.p50);
        l.p90.push(r.latency.p90);
        l.p99.push(r.latency.p99);
      }
    }
    for (const t of targets) {
      const l = lat[t.name]!;
      console.log(`${t.name.padEnd(13)} ${median(l.p50).toFixed(2).padStart(6)}  ${median(l.p90).toFixed(2).padStart(6)}  ${median(l.p99).toFixed(2).padStart(6)}`);
    }
    console.log(`p99 the request checks add at half load (target < 1 ms): key ${(median(lat['no-ledger']!.p99) - median(lat.passthrough!.p99)).toFixed(2)} ms, access token ${(median(lat['nl-token']!.p99) - median(lat.passthrough!.p99)).toFixed(2)} ms`);
    console.log(`p99 the controls add at half load: sqlite ${(median(lat.sqlite!.p99) - median(lat.passthrough!.p99)).toFixed(2)} ms${SKIP_PG ? '' : `, postgres ${(median(lat.postgres!.p99) - median(lat.passthrough!.p99)).toFixed(2)} ms`} (target < 2 ms)`);

    // How soon a key created on another process works on the running gateway.
    const delays: number[] = [];
    const secrets = await loadSecrets(sq.info.secretsFile!);
    const store = await openStorage({ driver: 'sqlite', sqlite: { path: sq.info.dbPath! } });
    try {
      for (let i = 0; i < 5; i++) {
        // The bench's gateway checks object ownership: the key acts for the account's owner.
        const { key } = await createKey(store.keys, secrets.keyHashSecret, { name: `prop-${i}`, scopes: ['accounts:read'], subject: 'cus_alice' });
        const t0 = performance.now();
        for (;;) {
          if (performance.now() - t0 > 15_000) throw new Error('key propagation: the new key did not work within 15 s');
          const r = await fetch(`http://127.0.0.1:${sq.info.port}${PATH}`, { headers: { authorization: `Bearer ${key}` } });
          await r.arrayBuffer();
          if (r.status === 200) break;
          await new Promise((res) => setTimeout(res, 5));
        }
        delays.push(performance.now() - t0);
      }
    } finally {
      await store.close();
    }
    console.log(`\nNew key effective on the running gateway after: median ${median(delays).toFixed(0)} ms, max ${Math.max(...delays).toFixed(0)} ms (poll interval 250 ms)`);

    await ledgerBench({ pgDb, pgAdmin: PG_ADMIN, seconds: SECONDS, gatewayPeak });
  } finally {
    for (const p of procs) p.child.kill('SIGTERM');
    await new Promise((r) => setTimeout(r, 500));
    if (pgDb) {
      const c = new pg.Client({ connectionString: PG_ADMIN });
      await c.connect();
      await c.query(`DROP DATABASE IF EXISTS ${pgDb} WITH (FORCE)`);
      await c.end();
    }
  }
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
