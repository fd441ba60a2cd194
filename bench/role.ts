/**
 * One process of the benchmark: `upstream`, `undici-proxy URL`, or `gateway MODE STORAGE URL
 * [PG_URL]` where MODE is `passthrough` (parse+route, no controls, no ledger), `no-ledger` (every control
 * but a ledger that records nothing) or `controls` (key auth, scope, validation, both ledger
 * records per request). Prints one JSON line with its port
 * (and a key), then answers 'cpu' messages with its CPU time, so the orchestrator can compute CPU
 * per request. Every process is on loopback.
 */
import { readFileSync, writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { startUpstream } from './upstream-server.js';
import { startUndiciProxy } from './undici-proxy.js';
import { loadConfig } from '../src/config/load.js';
import { ensureSecrets } from '../src/config/secrets.js';
import { startGateway } from '../src/gateway/start.js';
import { createKey } from '../src/keys/create.js';
import { silentLogger } from '../src/core/log.js';
import { brokerageOpenApiPath } from '../src/demo/brokerage-server.js';

async function main(): Promise<void> {
  const [role, ...args] = process.argv.slice(2);
  let info: Record<string, unknown>;
  if (role === 'upstream') {
    const s = await startUpstream();
    info = { port: (s.address() as AddressInfo).port };
  } else if (role === 'undici-proxy') {
    const s = await startUndiciProxy(args[0]!);
    info = { port: (s.address() as AddressInfo).port };
    process.on('SIGTERM', () => process.exit(0));
  } else if (role === 'gateway') {
    const [mode, storage, upstream, pgUrl] = args as [string, string, string, string | undefined];
    const dir = mkdtempSync(join(tmpdir(), 'rampart-bench-'));
    const file = join(dir, 'rampart.yaml');
    writeFileSync(
      file,
      [
        'version: 1',
        'listen: { host: 127.0.0.1, port: 0, plainHttp: true }',
        'secretsFile: secrets.json',
        storage === 'postgres' ? `storage: { driver: postgres, postgres: { url: "${pgUrl}" } }` : 'storage: { driver: sqlite, sqlite: { path: rampart.db } }',
        'apis:',
        '  - name: brokerage',
        `    openapi: ${JSON.stringify(brokerageOpenApiPath())}`,
        `    upstream: { url: "${upstream}", connections: 64 }`,
        '    mount: { prefix: / }',
        // Object-level authorization on every controlled request (issue 3): the account in the
        // path must belong to the key's customer; owners from a table, so the bench measures the
        // check itself and not a lookup round trip.
        '    authorization:',
        '      objects:',
        '        account: { in: [path.accountId], owner: { table: { cus_alice: [acc_alice_1, acc_alice_2] } } }',
        // The key-propagation probe polls with a not-yet-known key; do not let it throttle itself.
        'authThrottle: { maxFailures: 100, windowSeconds: 1 }',
        // Threat defence (issue 5) as a deployment runs it: injection inspection, the response
        // contract and DLP are on by default; a request-rate rule and a records quota per customer
        // are counted on every request (limits far above the bench's rate, so the cost is measured,
        // not the refusals); the anomaly model observes every exchange but does not enforce (the
        // bench's one key at thousands of requests per second is, rightly, anomalous).
        // BENCH_THREAT=off (for splitting the cost, not a deployment): inspection, response
        // contract, detectors, rules and the anomaly model off; classified fields still masked.
        ...(process.env.BENCH_THREAT === 'off'
          ? ['inspection: { enabled: false }', 'responses: { contract: off, dlp: { detect: { ssn: false, tax-id: false, card-number: false, routing-number: false, account-number: false, email: false, phone: false, date-of-birth: false } } }', 'anomaly: { enabled: false }']
          : [
              'rateLimits: { rules: [{ name: bench-rate, by: principal, limit: 100000000, windowSeconds: 60, burst: 1000000 }, { name: bench-records, by: principal, unit: records, limit: 1000000000, windowSeconds: 3600 }] }',
              'anomaly: { enforce: false }',
            ]),
        // no-ledger-per-request: the identity assertion signed for every request (jti = request id)
        // instead of reused per caller (the default).
        ...(mode === 'no-ledger-per-request' ? ['identity: { assertion: { cacheSeconds: 0 } }'] : []),
        // controls-buffered: the same controls, the ledger in buffered durability (spill journal).
        ...(mode === 'controls-buffered' ? ['ledger: { durability: buffered, selfVerify: { intervalSeconds: 0 } }'] : ['ledger: { selfVerify: { intervalSeconds: 0 } }']),
      ].join('\n'),
    );
    const config = await loadConfig(file);
    const secrets = await ensureSecrets(config.secretsFile);
    const gw = await startGateway({ config, logger: silentLogger(), benchmarkPassThrough: mode === 'passthrough', benchmarkNullLedger: mode === 'no-ledger' || mode === 'no-ledger-per-request' });
    const { key } = await createKey(gw.storage.keys, secrets.keyHashSecret, { name: 'bench', scopes: ['accounts:read', 'orders:write'], subject: 'cus_alice' });
    await gw.keys.refresh();
    // An access token for the same client (client-credentials grant on the gateway itself), for
    // the token path; valid for the token lifetime, longer than a bench round.
    const form = new URLSearchParams({ grant_type: 'client_credentials', client_id: key.split('_')[1]!, client_secret: key });
    const tr = await fetch(`http://127.0.0.1:${gw.port}/.rampart/oauth/token`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: form.toString() });
    const token = tr.ok ? ((await tr.json()) as { access_token: string }).access_token : undefined;
    info = { port: gw.port, key, token, dir, configFile: file, dbPath: join(dir, 'rampart.db'), secretsFile: config.secretsFile };
    process.on('SIGTERM', () => void gw.close().finally(() => {
      rmSync(dir, { recursive: true, force: true });
      process.exit(0);
    }));
  } else {
    throw new Error(`unknown role ${role}`);
  }
  process.on('message', (m) => {
    if (m === 'cpu') {
      const c = process.cpuUsage();
      // The main thread's own CPU time: what the controls cost the thread that serves every
      // request (the ledger's worker threads are in cpuMicros but not here). Event-loop
      // utilisation would count the time the thread waits for a core as busy.
      const loopMicros = mainThreadCpuMicros();
      process.send!({ cpuMicros: c.user + c.system, loopMicros, rss: process.memoryUsage().rss });
    }
  });
  process.stdout.write(`${JSON.stringify(info)}\n`);
}

/** utime+stime of the main thread (Linux /proc; its tid is the pid), in microseconds. */
function mainThreadCpuMicros(): number {
  try {
    const stat = readFileSync(`/proc/self/task/${process.pid}/stat`, 'utf8');
    // Fields after the parenthesised command name; utime and stime are fields 14 and 15.
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return ((Number(f[11]) + Number(f[12])) * 1e6) / TICKS_PER_SECOND;
  } catch {
    return Number.NaN;
  }
}

/** USER_HZ: 100 on every Linux this runs on (getconf CLK_TCK). */
const TICKS_PER_SECOND = 100;

main().catch((err) => {
  process.stderr.write(`bench role failed: ${(err as Error).stack}\n`);
  process.exit(1);
});
