/**
 * Ledger append throughput with strict durability: N concurrent producers, each awaiting its own
 * append before the next (as request handlers do), against SQLite (WAL, synchronous=FULL, worker
 * thread) and PostgreSQL (synchronous_commit=on). Prints appends/s, how many records group commit
 * put in each store append, per-append latency, and the ratio to a single producer.
 *
 *   npx tsc -p tsconfig.json && node dist/bench/ledger-append.js [seconds-per-run]
 *
 * PostgreSQL: a throwaway database on RAMPART_BENCH_PG_URL (default the local server), dropped
 * afterwards. Not a test: numbers depend on the disk's fsync latency.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { createLedger } from '../src/ledger/writer.js';
import type { RecordInput } from '../src/ledger/record.js';
import { openSqliteStorage } from '../src/storage/sqlite/store.js';
import { openPostgresStorage } from '../src/storage/postgres/store.js';
import type { Storage } from '../src/storage/types.js';
import { benchSealer } from './bench-sealer.js';

const SECONDS = Number(process.argv[2] ?? 3);
const PRODUCERS = [1, 8, 64, 256];
const MAX_BATCH = 256;
const PG_ADMIN = process.env.RAMPART_BENCH_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

/** A decision record shaped like the gateway's (personal fields and a body commitment). */
function input(i: number): RecordInput {
  return {
    type: 'exchange.decision',
    outcome: 'allow',
    status: 200,
    stage: 'ledger',
    reason: 'RAMPART_OK',
    configHash: 'cf'.repeat(32),
    requestId: `req-${i}`,
    api: 'brokerage',
    operationId: 'getAccount',
    method: 'GET',
    route: '/accounts/{accountId}',
    keyId: 'k_01HXYZ',
    authMethod: 'api-key',
    personal: { principal: 'app-1', subject: 'cust-42', clientAddress: '192.0.2.10', pathParams: { accountId: `ACC-${i % 1000}` } },
  };
}

interface Result {
  producers: number;
  appendsPerSec: number;
  avgBatch: number;
  p50: number;
  p99: number;
}

async function run(storage: Storage, producers: number): Promise<Result> {
  let batches = 0;
  let records = 0;
  const ledger = await createLedger(storage.ledger, {
    node: 'bench',
    maxBatch: MAX_BATCH,
    sealer: await benchSealer(storage, mkdtempSync(join(tmpdir(), 'rampart-bench-kek-'))),
    onCommit: (c) => {
      batches++;
      records += c.count;
    },
  });
  const latencies: number[] = [];
  const deadline = performance.now() + SECONDS * 1000;
  let n = 0;
  await Promise.all(
    Array.from({ length: producers }, async () => {
      while (performance.now() < deadline) {
        const t0 = performance.now();
        await ledger.append(input(n++));
        latencies.push(performance.now() - t0);
      }
    }),
  );
  await ledger.close();
  latencies.sort((a, b) => a - b);
  const pct = (p: number): number => latencies[Math.min(latencies.length - 1, Math.floor(latencies.length * p))] ?? 0;
  return { producers, appendsPerSec: latencies.length / SECONDS, avgBatch: records / Math.max(1, batches), p50: pct(0.5), p99: pct(0.99) };
}

function print(name: string, rows: Result[]): void {
  const base = rows[0]!.appendsPerSec;
  console.log(`\n${name}`);
  console.log('producers  appends/s  vs 1 producer  records/commit  p50 ms  p99 ms');
  for (const r of rows) {
    console.log(
      [
        String(r.producers).padStart(9),
        r.appendsPerSec.toFixed(0).padStart(10),
        `${(r.appendsPerSec / base).toFixed(1)}x`.padStart(14),
        r.avgBatch.toFixed(1).padStart(15),
        r.p50.toFixed(2).padStart(7),
        r.p99.toFixed(2).padStart(7),
      ].join('  '),
    );
  }
}

async function benchSqlite(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'rampart-bench-'));
  try {
    const rows: Result[] = [];
    for (const p of PRODUCERS) {
      const storage = await openSqliteStorage(join(dir, `bench-${p}.db`));
      try {
        rows.push(await run(storage, p));
      } finally {
        await storage.close();
      }
    }
    print(`SQLite strict (WAL, synchronous=FULL, worker thread), ${dir}`, rows);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

async function benchPostgres(): Promise<void> {
  const name = `rampart_bench_${randomBytes(4).toString('hex')}`;
  const admin = new pg.Client({ connectionString: PG_ADMIN });
  try {
    await admin.connect();
  } catch (err) {
    console.log(`\nPostgreSQL: skipped (${(err as Error).message})`);
    return;
  }
  await admin.query(`CREATE DATABASE ${name}`);
  const u = new URL(PG_ADMIN);
  u.pathname = `/${name}`;
  try {
    const rows: Result[] = [];
    for (const p of PRODUCERS) {
      const storage = await openPostgresStorage({ url: u.toString(), schema: `run_${p}`, poolSize: 4 });
      try {
        rows.push(await run(storage, p));
      } finally {
        await storage.close();
      }
    }
    print(`PostgreSQL strict (synchronous_commit=on), ${u.host}`, rows);
  } finally {
    await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    await admin.end();
  }
}

console.log(`ledger append, ${SECONDS} s per run, maxBatch ${MAX_BATCH}, each producer awaits its append before the next`);
await benchSqlite();
await benchPostgres();
