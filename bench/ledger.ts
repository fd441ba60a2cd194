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
 * Environment: BENCH_LEDGER_RECORDS, BENCH_SKIP_PG=1.
 */
import { mkdtempSync, rmSync } from 'node:fs';
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
    for (const [name, cfg] of configs) {
      for (const mode of ['strict', 'buffered'] as const) {
        const storage = await openStorage(cfg);
        const sealer = await benchSealer(storage, dir);
        const buffered = mode === 'buffered' ? await openBufferedStore(storage.ledger, { dir: join(dir, `spill-${name}`), maxBytes: 1 << 30 }) : undefined;
        const ledger = await createLedger(buffered ?? storage.ledger, { node: 'bench', maxBatch: 256, sealer });
        let n = 0;
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
        await ledger.close();
        const t0 = performance.now();
        await buffered?.close();
        const drainMs = performance.now() - t0;
        await storage.close();
        // Every request writes two records (decision and completion).
        const ratio = o.gatewayPeak > 0 ? ` = ${(rate / (2 * o.gatewayPeak)).toFixed(1)}x the gateway's peak (2 records per request; target >= 5x)` : '';
        console.log(`  ${name.padEnd(9)} ${mode.padEnd(9)} ${String(Math.round(rate)).padStart(7)} records/s${ratio}${buffered ? `; journal drained ${Math.round(drainMs)} ms after the run` : ''}`);
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
        await storage.ledger.append(items);
        appendMs += performance.now() - a;
      }
      console.log(`\nBatched appends to SQLite (sealed, 3 index tags each, batches of ${BATCH}): ${Math.round(RECORDS / (appendMs / 1000))} records/s over ${RECORDS} records (target >= 200k/s)`);
      const root = range.root();
      const note = signCheckpoint({ origin: 'rampart/bench', size: seq, rootHash: root, chainHash: prev, ts: Date.now(), kind: 'manual' }, noteKey.signerKey);
      await storage.checkpoints.insertCheckpoint({ treeSize: seq, ts: Date.now(), kind: 'manual', rootHash: root.toString('hex'), chainHash: prev, note, compactRange: range.nodes().map((n) => n.toString('hex')) });

      const v0 = performance.now();
      const v = await verifyLedger({ ledger: storage.ledger, checkpoints: storage.checkpoints, retention: storage.retention, verifierKeys: [noteKey.verifierKey], checkPrivate: false, batch: 10_000 });
      const vs = (performance.now() - v0) / 1000;
      console.log(`Verification (chain, leaf hashes, Merkle root vs the signed checkpoint): ${Math.round(v.count / vs)} records/s over ${v.count} records, ok=${v.ok} (target >= 500k/s)`);

      const e0 = performance.now();
      const exported = await exportEvidence(
        { storage, sealer, ring, signerKey: noteKey.signerKey, exporter: 'bench', includePersonal: true, includeBodies: false },
        { fromTs: t0, toTs: t0 + 1000 },
        join(dir, 'export.tar.gz'),
      );
      const es = (performance.now() - e0) / 1000;
      console.log(`Evidence export (decrypted private parts, inclusion proofs, signed manifest): ${exported.records} records in ${es.toFixed(1)} s = ${Math.round(exported.records / es)} records/s (tree of ${seq} leaves built for the proofs)`);

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
