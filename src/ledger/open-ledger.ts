/**
 * The ledger as the gateway runs it, assembled in one place (the composition root calls this):
 * encryption (./crypto-setup.ts), the Merkle checkpointer with its publishers, the writer in the
 * configured durability mode, and the scheduled self-verification. Order matters and is kept
 * here: a buffered journal is replayed into the store first, the checkpointer then catches up
 * with the store, and only then does the writer take new records; at close, the writer drains,
 * then the shutdown checkpoint is signed and published.
 */
import type { RampartConfig } from '../config/types.js';
import type { Storage } from '../storage/types.js';
import { loadCheckpointKey } from './checkpoint-key.js';
import { createCheckpointer, type Checkpointer } from './checkpointer.js';
import { openLedgerCrypto, type LedgerCrypto } from './crypto-setup.js';
import { createPublishers } from './publish.js';
import { openBufferedStore, type BufferedStore } from './buffered-store.js';
import { createRecordStream, type RecordStream } from './stream.js';
import { createSelfVerifier, type SelfVerifier } from './self-verify.js';
import { createLedger, type CommitInfo, type Ledger } from './writer.js';

export interface RunningLedger {
  ledger: Ledger;
  crypto: LedgerCrypto;
  checkpointer: Checkpointer;
  selfVerifier: SelfVerifier | undefined;
  /** The record stream to other systems (undefined when ledger.stream is empty). */
  stream: RecordStream | undefined;
  /** Buffered durability's journal state (undefined in strict mode). */
  buffered: BufferedStore | undefined;
  /** Resolves once everything acknowledged is in the store (strict: at once after flush). */
  drained(): Promise<void>;
  /** The checkpoint signing key (signs checkpoints, prune checkpoints and evidence manifests). */
  checkpointKey: { signer: string; verifier: string; origin: string };
  close(): Promise<void>;
}

export interface OpenLedgerOptions {
  /** The running configuration's hash (self-verification records carry it). */
  configHash: () => string;
  onAlert: (err: unknown) => void;
  /** Things an operator should know at start (a development KEK). */
  onWarning?: (message: string) => void;
  onCommit?: (c: CommitInfo) => void;
  /** Self-verification results (metrics, readiness). */
  onVerified?: (ok: boolean) => void;
  /**
   * False for one-off CLI work (an export or purge with the gateway stopped): no checkpoint timer,
   * no scheduled self-verification; checkpoints are still signed on demand and at close.
   */
  timers?: boolean;
}

export async function openRunningLedger(config: RampartConfig, storage: Storage, o: OpenLedgerOptions): Promise<RunningLedger> {
  const crypto = await openLedgerCrypto(config, storage);
  // ENC-6: keys in a KMS or HSM. A development provider works, and says so at every start.
  if (crypto.kek.developmentOnly) o.onWarning?.(`ledger: the key-encryption key comes from a development provider (${crypto.kek.kind}); use PKCS#11 (an HSM) in production (ENC-6)`);
  const undo: (() => Promise<void>)[] = [() => crypto.close()];
  try {
    // Buffered: the journal is replayed into the store first, so the checkpointer below catches
    // up with everything that was acknowledged.
    const buffered = config.ledger.durability === 'buffered'
      ? await openBufferedStore(storage.ledger, { dir: config.ledger.spill.dir, maxBytes: config.ledger.spill.maxBytes, onAlert: o.onAlert })
      : undefined;
    if (buffered) undo.unshift(() => buffered.close());
    // Created before the checkpointer so that it closes after it and copies the shutdown checkpoint.
    const stream = config.ledger.stream.length > 0
      ? createRecordStream(config.ledger.stream, { primary: { ledger: buffered ?? storage.ledger, dataKeys: storage.dataKeys, checkpoints: storage.checkpoints }, onAlert: o.onAlert })
      : undefined;
    if (stream) undo.unshift(() => stream.close());
    const cp = config.ledger.checkpoints;
    const key = await loadCheckpointKey(cp.signingKeyFile, cp.origin.replace(/[^A-Za-z0-9._/-]/g, '-'));
    const checkpointer = await createCheckpointer({
      ledger: storage.ledger,
      checkpoints: storage.checkpoints,
      origin: cp.origin,
      signerKey: key.signer,
      verifierKey: key.verifier,
      publishers: createPublishers(cp.publish),
      intervalMs: o.timers === false ? 0 : cp.intervalSeconds * 1000,
      onAlert: o.onAlert,
    });
    undo.unshift(() => checkpointer.close());
    const ledger = await createLedger(buffered ?? storage.ledger, {
      node: config.node,
      maxBatch: config.ledger.maxBatch,
      sealer: crypto.sealer,
      onAlert: o.onAlert,
      ...(o.onCommit ? { onCommit: o.onCommit } : {}),
      onCommitted: (items) => {
        checkpointer.onCommitted(items.map((i) => i.stored));
        stream?.onCommitted(items);
      },
    });
    undo.unshift(() => ledger.close());
    const selfVerifier = config.ledger.selfVerify.intervalSeconds > 0
      ? createSelfVerifier({ storage, ledger, ...(buffered ? { drained: () => buffered.drained() } : {}), checkpointer, sealer: crypto.sealer, config, configHash: o.configHash, intervalMs: o.timers === false ? 0 : config.ledger.selfVerify.intervalSeconds * 1000, onAlert: o.onAlert, ...(o.onVerified ? { onVerified: o.onVerified } : {}) })
      : undefined;
    if (selfVerifier) undo.unshift(() => selfVerifier.close());
    let closing: Promise<void> | undefined;
    return {
      ledger,
      crypto,
      checkpointer,
      selfVerifier,
      checkpointKey: { signer: key.signer, verifier: key.verifier, origin: cp.origin },
      buffered,
      stream,
      async drained() {
        await ledger.flush();
        await buffered?.drained();
      },
      close() {
        closing ??= (async () => {
          for (const u of undo) await u().catch(o.onAlert);
        })();
        return closing;
      },
    };
  } catch (err) {
    for (const u of undo) await u().catch(() => {});
    throw err;
  }
}
