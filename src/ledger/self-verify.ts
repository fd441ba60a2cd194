/**
 * Scheduled self-verification (R17a4-6: the system verifies automatically the completeness and
 * accuracy of storing and retaining): each run re-verifies the chain, the private parts, every
 * stored checkpoint and the heads published to file targets, reconciles the writer's committed
 * head with the store's, writes the result as a ledger record and signs it with a checkpoint of
 * kind `verify` (which covers the result record), and raises an alert on any mismatch (AU-5).
 *
 * Runs are incremental: each resumes from the `verify` checkpoint of the previous successful run
 * (anchored by its signed root and chain hash); the first run after start is a full one, so a
 * tampered prefix is found at the latest one start later.
 */
import type { RampartConfig } from '../config/types.js';
import type { CheckpointRow, Storage } from '../storage/types.js';
import type { Checkpointer } from './checkpointer.js';
import { readPublishedFile, type PublishedCheckpoint } from './publish.js';
import type { Sealer } from './sealer.js';
import { verifyLedger, type LedgerVerifyResult } from './verify-ledger.js';
import type { Ledger } from './writer.js';

export interface SelfVerifierOptions {
  storage: Storage;
  ledger: Ledger;
  /** Buffered durability: resolves once the journal has drained into the store. */
  drained?: () => Promise<void>;
  checkpointer: Checkpointer;
  sealer: Sealer;
  config: RampartConfig;
  /** The running configuration's hash, written on the result record. */
  configHash: () => string;
  /** 0: no timer (tests call run()). */
  intervalMs: number;
  onAlert: (err: unknown) => void;
  onVerified?: (ok: boolean) => void;
}

export interface SelfVerifier {
  run(): Promise<LedgerVerifyResult>;
  readonly last: { at: number; ok: boolean; result: LedgerVerifyResult } | undefined;
  close(): Promise<void>;
}

export function createSelfVerifier(o: SelfVerifierOptions): SelfVerifier {
  let last: SelfVerifier['last'];
  let resume: CheckpointRow | undefined;
  let running: Promise<LedgerVerifyResult> | undefined;
  let closed = false;

  async function published(): Promise<PublishedCheckpoint[]> {
    const out: PublishedCheckpoint[] = [];
    for (const t of o.config.ledger.checkpoints.publish) {
      if (!('file' in t)) continue;
      try {
        out.push(...(await readPublishedFile(t.file)));
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      }
    }
    return out;
  }

  async function runOnce(): Promise<LedgerVerifyResult> {
    const started = Date.now();
    // Everything acknowledged so far is in the store before we compare.
    await o.ledger.flush();
    await o.drained?.();
    const writerHead = o.ledger.head();
    const verifierKeys = (await o.storage.checkpoints.listSigningKeys()).map((k) => k.verifierKey);
    const r = await verifyLedger({
      ledger: o.storage.ledger,
      checkpoints: o.storage.checkpoints,
      retention: o.storage.retention,
      verifierKeys,
      published: await published(),
      sealer: o.sealer,
      ...(resume ? { resumeFrom: resume } : {}),
    });
    // Reconciliation: the store holds at least what the writer acknowledged, ending in the same hash.
    const storeHead = r.head;
    const reconciled = writerHead === null || (storeHead !== null && (storeHead.seq > writerHead.seq || (storeHead.seq === writerHead.seq && storeHead.chainHash === writerHead.chainHash)));
    const ok = r.ok && reconciled;
    const detail = {
      event: 'ledger.verified',
      ok,
      full: resume === undefined,
      records: r.count,
      fromSeq: (resume?.treeSize ?? r.prunedThrough) + 1,
      headSeq: storeHead?.seq ?? 0,
      checkpointsStore: r.checkpointsVerified.store,
      checkpointsPublished: r.checkpointsVerified.published,
      findings: r.findings.length,
      firstBadSeq: r.firstBad?.seq ?? null,
      problem: r.firstBad?.problem ?? r.findings.find((f) => f.problem !== 'inside-pruned')?.problem ?? (reconciled ? null : 'head-behind-writer'),
      ms: Date.now() - started,
    };
    await o.ledger.append({ type: ok ? 'system.event' : 'security.event', outcome: ok ? 'info' : 'failure', configHash: o.configHash(), reason: ok ? 'RAMPART_OK' : 'RAMPART_LEDGER_VERIFY_FAILED', detail });
    await o.ledger.flush();
    await o.drained?.();
    // The signed result: a checkpoint covering the result record.
    const cp = await o.checkpointer.checkpoint('verify', true);
    if (ok && cp) resume = cp;
    if (!ok) {
      resume = undefined;
      o.onAlert(Object.assign(new Error(`ledger self-verification failed: ${r.firstBad?.detail ?? (r.findings.map((f) => f.detail).join('; ') || `the store's head (seq ${storeHead?.seq ?? 0}) is behind or differs from what the writer acknowledged (seq ${writerHead?.seq ?? 0})`)}`), { code: 'RAMPART_LEDGER_VERIFY_FAILED' }));
    }
    last = { at: Date.now(), ok, result: r };
    o.onVerified?.(ok);
    return r;
  }

  const run = (): Promise<LedgerVerifyResult> => {
    running ??= runOnce().finally(() => {
      running = undefined;
    });
    return running;
  };

  const timer = o.intervalMs > 0
    ? setInterval(() => {
        if (!closed) run().catch(o.onAlert);
      }, o.intervalMs)
    : undefined;
  timer?.unref();

  return {
    run,
    get last() {
      return last;
    },
    async close() {
      closed = true;
      if (timer) clearInterval(timer);
      await running?.catch(() => {});
    },
  };
}
