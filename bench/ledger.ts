/**
 * The ledger on its own (issue 4's benchmark), printed after the gateway figures of the same run:
 *
 *   appends/s      the writer (seal, chain, group commit) with 256 concurrent producers, strict and
 *                  buffered, SQLite and PostgreSQL; compared with the gateway's peak requests/s
 *                  measured in this run (target: capacity >= 5x the peak)
 *   batched        prebuilt, sealed and indexed records appended straight to the SQLite store in
 *                  batches of 5000 (target >= 200k/s)
 *   verification   verifyLedger over those records: chain, leaf hashes, Merkle roots (target >= 500k/s)
 *   export         an evidence package over a range (records/s)
 *   RSP-2          "who accessed this customer's records" over BENCH_LEDGER_RECORDS records (default
 *                  2 000 000) spread over 20 000 customers, through the blind index
 *
 * Beside each rate, the CPU time per record of the busiest threads (Linux: /proc/self/task; the
 * main thread is `main`, the others `w1`, `w2` .. by load on each line, and `ended` the threads that
 * stopped before the end of what was measured, such as the verifier's hashing thread):
 * on a shared machine a rate says how much CPU the run was given, the CPU per record says what
 * the code costs, and 1e6 / (the busiest thread's us/record) is the rate that thread allows.
 *
 * Standalone: `node dist/bench/ledger.js` runs the same with no gateway peak to compare against
 * (PostgreSQL in a throwaway database on RAMPART_BENCH_PG_URL unless BENCH_SKIP_PG=1;
 * BENCH_SECONDS per capacity run, default 5). Environment: BENCH_LEDGER_RECORDS, BENCH_SKIP_PG=1,
 * BENCH_SKIP_EXPORT=1, BENCH_SKIP_CAPACITY=1.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { pathToFileURL } from 'node:url';
import pg from 'pg';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openBufferedStore } from '../src/ledger/buffered-store.js';
import { buildStoredRecord, GENESIS_HASH } from '../src/ledger/chain.js';
import { commitPersonal } from '../src/ledger/commit.js';
import { CompactRange } from '../src/ledger/merkle.js';
import { accessReport } from '../src/ledger/access-report.js';
import type { LedgerRecord } from '../src/ledger/record.js';
import { privateAad } from '../src/ledger/sealer.js';
import { benchCrypto, benchSealer } from './bench-sealer.js';
import { signCheckpoint } from '../src/ledger/checkpoint-note.js';
import { generateNoteKey } from '../src/ledger/signed-note.js';
import { verifyLedger } from '../src/ledger/verify-ledger.js';
import { createLedger } from '../src/ledger/writer.js';
import { exportEvidence } from '../src/evidence/export.js';
import { seal } from '../src/crypto/aead.js';
import { openStorage } from '../src/storage/open.js';
import type { AppendItem } from '../src/storage/types.js';

const RECORDS = Number(process.env.BENCH_LEDGER_RECORDS ?? 2_000_000);
const SUBJECTS = 20_000;

/** CPU ticks (utime + stime) of each thread of this process; empty where /proc is not there. */
function threadTicks(): Map<string, number> {
  const out = new Map<string, number>();
  try {
    for (const t of readdirSync('/proc/self/task')) {
      try {
        const st = readFileSync(`/proc/self/task/${t}/stat`, 'utf8');
        const f = st.slice(st.lastIndexOf(')') + 2).split(' ');
        out.set(t, Number(f[11]) + Number(f[12]));
      } catch {
        // The thread ended meanwhile.
      }
    }
  } catch {
    // Not Linux.
  }
  return out;
}

/** Accumulates thread CPU over the measured sections only (clock ticks are 10 ms: use long runs). */
class ThreadCpu {
  #total = new Map<string, number>();
  #start: Map<string, number> | undefined;
  #cpu0: NodeJS.CpuUsage | undefined;
  /** Process CPU (us) over the measured sections: threads that ended meanwhile count only here. */
  #process = 0;
  begin(): void {
    this.#start = threadTicks();
    this.#cpu0 = process.cpuUsage();
  }
  end(): void {
    const c = process.cpuUsage(this.#cpu0);
    this.#process += c.user + c.system;
    const now = threadTicks();
    for (const [t, v] of now) this.#total.set(t, (this.#total.get(t) ?? 0) + v - (this.#start?.get(t) ?? 0));
  }
  /**
   * "process 52.1 us: main 12.3 us, w1 38.0 us, ended 1.2 us" per record, busiest threads first
   * (under 0.5 us left out; w1, w2 .. in order of load, so per line, not across lines; `ended`: CPU of
   * threads that stopped before the end, such as the verifier's hashing thread).
   */
  perRecord(records: number): string {
    const us = (ticks: number): number => (ticks * 10_000) / records;
    const rows = [...this.#total].filter(([, v]) => us(v) >= 0.5).sort((a, b) => b[1] - a[1]);
    if (rows.length === 0) return 'thread CPU not available';
    let w = 0;
    const parts = rows.map(([t, v]) => `${t === String(process.pid) ? 'main' : `w${++w}`} ${us(v).toFixed(1)} us`);
    const live = [...this.#total.values()].reduce((a, b) => a + us(b), 0);
    const ended = this.#process / records - live;
    if (ended >= 0.5) parts.push(`ended ${ended.toFixed(1)} us`);
    return `process ${(this.#process / records).toFixed(1)} us: ${parts.join(', ')}`;
  }
}

export async function ledgerBench(o: { pgDb: string | undefined; pgAdmin: string; seconds: number; gatewayPeak: number }): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'rampart-bench-ledger-'));
  try {
    console.log('\nLedger append capacity (the writer: seal, chain, group commit; 256 concurrent producers)');
    const configs: [string, Parameters<typeof openStorage>[0]][] = [['sqlite', { driver: 'sqlite', sqlite: { path: join(dir, 'cap.db') } }]];
    if (o.pgDb) {
      const u = new URL(o.pgAdmin);
      u.pathname = `/${o.pgDb}`;
      configs.push(['postgres', { driver: 'postgres', postgres: { url: u.toString(), schema: 'ledger_bench', poolSize: 4 } }]);
    }
    for (const [name, cfg] of process.env.BENCH_SKIP_CAPACITY === '1' ? [] : configs) {
      for (const mode of ['strict', 'buffered'] as const) {
        const storage = await openStorage(cfg);
        const sealer = await benchSealer(storage, dir);
        const buffered = mode === 'buffered' ? await openBufferedStore(storage.ledger, { dir: join(dir, `spill-${name}`), maxBytes: 1 << 30 }) : undefined;
        const ledger = await createLedger(buffered ?? storage.ledger, { node: 'bench', maxBatch: 256, sealer });
        let n = 0;
        const cpu = new ThreadCpu();
        cpu.begin();
        const until = performance.now() + o.seconds * 1000;
        await Promise.all(
          Array.from({ length: 256 }, async () => {
            while (performance.now() < until) {
              await ledger.append({ type: 'exchange.decision', outcome: 'allow', configHash: 'sha256:bench', api: 'brokerage', operationId: 'getAccount', route: '/accounts/{accountId}', method: 'GET', stage: 'ledger', reason: 'RAMPART_OK', personal: { principal: 'bench', subject: 'cus_alice', clientAddress: '127.0.0.1', pathParams: { accountId: 'acc_alice_1' } } });
              n++;
            }
          }),
        );
        const rate = n / o.seconds;
        cpu.end();
        await ledger.close();
        const t0 = performance.now();
        await buffered?.close();
        const drainMs = performance.now() - t0;
        await storage.close();
        // Every request writes two records (decision and completion).
        const ratio = o.gatewayPeak > 0 ? ` = ${(rate / (2 * o.gatewayPeak)).toFixed(1)}x the gateway's peak (2 records per request; target >= 5x)` : '';
        console.log(`  ${name.padEnd(9)} ${mode.padEnd(9)} ${String(Math.round(rate)).padStart(7)} records/s${ratio}${buffered ? `; journal drained ${Math.round(drainMs)} ms after the run` : ''}`);
        console.log(`            CPU per record: ${cpu.perRecord(n)}`);
      }
    }

    // Batched appends straight to the store, then verification, export and the RSP-2 query.
    const storage = await openStorage({ driver: 'sqlite', sqlite: { path: join(dir, 'big.db') } });
    try {
      const { sealer, ring } = await benchCrypto(storage, dir);
      const key = await ring.keyFor('personal', Math.floor(Date.now() / 86_400_000) + sealer.retention.personal);
      const noteKey = generateNoteKey('rampart/bench');
      const range = new CompactRange();
      let prev = GENESIS_HASH;
      let seq = 0;
      const t0 = Date.now() - 3_600_000;
      let appendMs = 0;
      const appendCpu = new ThreadCpu();
      const BATCH = 5000;
      for (let done = 0; done < RECORDS; done += BATCH) {
        const items: AppendItem[] = [];
        for (let i = 0; i < BATCH && done + i < RECORDS; i++) {
          seq++;
          const subject = `cus_${seq % SUBJECTS}`;
          const personal = { principal: `app-${seq % 50}`, subject, clientAddress: '10.0.0.1', pathParams: { accountId: `acc_${seq % SUBJECTS}` } };
          const c = commitPersonal(personal);
          const rec: LedgerRecord = { v: 1, seq, ts: t0 + Math.floor(seq / 100), type: 'exchange.decision', node: 'bench', api: 'brokerage', operationId: 'getAccount', route: '/accounts/{accountId}', method: 'GET', outcome: 'allow', status: 200, stage: 'ledger', reason: 'RAMPART_OK', configHash: 'sha256:bench', personalCommit: c.commit };
          const stored = buildStoredRecord(rec, prev);
          prev = stored.chainHash;
          range.append(Buffer.from(stored.leafHash, 'hex'));
          const priv = { seq, personal, personalSalt: c.salt };
          items.push({
            stored,
            priv: { seq, dekId: key.id, sealed: seal(key.key, Buffer.from(JSON.stringify(priv)), privateAad(seq, key.id)) },
            index: [
              { seq, ts: rec.ts, tag: sealer.tag('principal', personal.principal) },
              { seq, ts: rec.ts, tag: sealer.tag('subject', subject) },
              { seq, ts: rec.ts, tag: sealer.tag('object', personal.pathParams.accountId) },
            ],
          });
        }
        const a = performance.now();
        appendCpu.begin();
        await storage.ledger.append(items);
        appendCpu.end();
        appendMs += performance.now() - a;
      }
      console.log(`\nBatched appends to SQLite (sealed, 3 index tags each, batches of ${BATCH}): ${Math.round(RECORDS / (appendMs / 1000))} records/s over ${RECORDS} records (target >= 200k/s)`);
      console.log(`  CPU per record while appending: ${appendCpu.perRecord(RECORDS)}`);
      const root = range.root();
      const note = signCheckpoint({ origin: 'rampart/bench', size: seq, rootHash: root, chainHash: prev, ts: Date.now(), kind: 'manual' }, noteKey.signerKey);
      await storage.checkpoints.insertCheckpoint({ treeSize: seq, ts: Date.now(), kind: 'manual', rootHash: root.toString('hex'), chainHash: prev, note, compactRange: range.nodes().map((n) => n.toString('hex')) });

      for (const hashThread of [true, false]) {
        const vcpu = new ThreadCpu();
        vcpu.begin();
        const v0 = performance.now();
        const v = await verifyLedger({ ledger: storage.ledger, checkpoints: storage.checkpoints, retention: storage.retention, verifierKeys: [noteKey.verifierKey], checkPrivate: false, batch: 10_000, hashThread });
        const vs = (performance.now() - v0) / 1000;
        vcpu.end();
        console.log(`Verification (chain, leaf hashes, Merkle root vs the signed checkpoint${hashThread ? '' : '; hashing on the main thread'}): ${Math.round(v.count / vs)} records/s over ${v.count} records, ok=${v.ok} (target >= 500k/s)`);
        console.log(`  CPU per record: ${vcpu.perRecord(v.count)}`);
      }

      if (process.env.BENCH_SKIP_EXPORT !== '1') {
        const e0 = performance.now();
        const exported = await exportEvidence(
          { storage, sealer, ring, signerKey: noteKey.signerKey, exporter: 'bench', includePersonal: true, includeBodies: false },
          { fromTs: t0, toTs: t0 + 1000 },
          join(dir, 'export.tar.gz'),
        );
        const es = (performance.now() - e0) / 1000;
        console.log(`Evidence export (decrypted private parts, inclusion proofs, signed manifest): ${exported.records} records in ${es.toFixed(1)} s = ${Math.round(exported.records / es)} records/s (tree of ${seq} leaves built for the proofs)`);
      }

      const q0 = performance.now();
      const r = await accessReport(storage.ledger, sealer, { fromTs: t0, toTs: t0 + RECORDS, subject: 'cus_4242' });
      const qms = performance.now() - q0;
      console.log(`RSP-2 "who accessed cus_4242, between T1 and T2": ${r.recordsExamined} records of ${RECORDS} found and decrypted in ${qms.toFixed(0)} ms (${r.rows.length} principals; target < 1 s)`);
    } finally {
      await storage.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** `node dist/bench/ledger.js`: the ledger benchmark alone (see the header). */
async function standalone(): Promise<void> {
  const pgAdmin = process.env.RAMPART_BENCH_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
  let pgDb: string | undefined;
  let admin: pg.Client | undefined;
  if (process.env.BENCH_SKIP_PG !== '1') {
    admin = new pg.Client({ connectionString: pgAdmin });
    try {
      await admin.connect();
      pgDb = `rampart_bench_${randomBytes(4).toString('hex')}`;
      await admin.query(`CREATE DATABASE ${pgDb}`);
    } catch (err) {
      console.log(`PostgreSQL: skipped (${(err as Error).message})`);
      await admin.end().catch(() => {});
      admin = undefined;
      pgDb = undefined;
    }
  }
  try {
    console.log(`ledger benchmark, ${RECORDS} records`);
    await ledgerBench({ pgDb, pgAdmin, seconds: Number(process.env.BENCH_SECONDS ?? 5), gatewayPeak: 0 });
  } finally {
    if (admin && pgDb) {
      await admin.query(`DROP DATABASE IF EXISTS ${pgDb} WITH (FORCE)`);
      await admin.end();
    }
  }
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) await standalone();
