/**
 * Signed checkpoints of this node's ledger (DESIGN.md, the ledger; AU-9(3), R17a4-6): an RFC 9162
 * Merkle root over every record's leaf hash, signed with Ed25519 as a C2SP checkpoint note, at a
 * configured interval (when records were added) and at shutdown; stored with the Merkle compact
 * range so that a restart resumes without re-reading the ledger, and published outside the store
 * (./publish.ts), which is what makes a rewritten store detectable.
 *
 * The Merkle state follows the writer's commits (onCommitted) in memory: O(log n) hashes per
 * record amortised to about one, on the event loop, far below the cost of the commit itself.
 * Records committed while a checkpoint is being signed belong to the next one.
 */
import type { CheckpointRow, CheckpointStore, LedgerStore } from '../storage/types.js';
import { channels, type LedgerCheckpointMessage } from '../core/diagnostics.js';
import { GENESIS_HASH } from './chain.js';
import { signCheckpoint } from './checkpoint-note.js';
import { CompactRange } from './merkle.js';
import type { Publisher } from './publish.js';
import type { StoredRecord } from './record.js';

export interface CheckpointerOptions {
  ledger: LedgerStore;
  checkpoints: CheckpointStore;
  origin: string;
  /** PRIVATE+KEY+... note signer key. */
  signerKey: string;
  /** Its verifier key, recorded in the store's key history. */
  verifierKey: string;
  publishers: readonly Publisher[];
  /** 0: no timer (tests and CLI tools checkpoint explicitly). */
  intervalMs: number;
  now?: () => number;
  /** Publication or signing failures (AU-5). */
  onAlert?: (err: unknown) => void;
  onCheckpoint?: (c: CheckpointRow) => void;
}

export interface Checkpointer {
  /** Give to the writer as LedgerOptions.onCommitted. */
  onCommitted(batch: readonly StoredRecord[]): void;
  /** Signs, stores and publishes a checkpoint of everything committed so far (none when nothing new, unless forced). */
  checkpoint(kind: CheckpointRow['kind'], force?: boolean): Promise<CheckpointRow | undefined>;
  /** The size and root the next checkpoint would sign. */
  state(): { size: number; root: Buffer; chainHash: string };
  /** Stops the timer and writes the shutdown checkpoint (call after the writer has flushed). */
  close(): Promise<void>;
}

/**
 * Restores the Merkle state from the latest stored checkpoint (or the prune point, or nothing)
 * and reads the leaves after it up to the store's head. Create it before the writer, so no
 * commit happens between the catch-up and the first onCommitted.
 */
export async function createCheckpointer(opts: CheckpointerOptions): Promise<Checkpointer> {
  const now = opts.now ?? Date.now;
  const alert = (err: unknown): void => {
    try {
      opts.onAlert?.(err);
    } catch {
      // An alert sink that throws must not stop checkpoints.
    }
  };
  await opts.checkpoints.insertSigningKey({ verifierKey: opts.verifierKey, createdAt: now() });

  const latest = await opts.checkpoints.latestCheckpoint();
  let range: CompactRange;
  let chainHash = GENESIS_HASH;
  if (latest) {
    range = CompactRange.fromNodes(latest.treeSize, latest.compactRange.map((h) => Buffer.from(h, 'hex')));
    chainHash = latest.chainHash;
  } else {
    range = new CompactRange();
  }
  let lastSigned = latest?.treeSize ?? -1;
  // Catch up with records committed after that checkpoint (a crash before the shutdown one).
  for (;;) {
    const page = await opts.ledger.read(range.size + 1, 5000);
    if (page.length === 0) break;
    for (const r of page) {
      if (r.record.seq !== range.size + 1) {
        throw Object.assign(new Error(`checkpointer: the ledger skips from seq ${range.size} to ${r.record.seq}; run rampart audit verify`), { code: 'RAMPART_LEDGER_BROKEN' });
      }
      range.append(Buffer.from(r.leafHash, 'hex'));
      chainHash = r.chainHash;
    }
  }

  // A signed checkpoint beyond the stored head, or another hash at the head, means the store
  // lost or rewrote acknowledged records: refuse to continue the chain over that (AU-9).
  const head = await opts.ledger.head();
  if ((head?.seq ?? 0) !== range.size || (head?.chainHash ?? GENESIS_HASH) !== chainHash) {
    throw Object.assign(
      new Error(`checkpointer: the store's head (seq ${head?.seq ?? 0}) does not match the signed checkpoints (seq ${range.size}); the ledger was truncated or rewritten — run rampart audit verify`),
      { code: 'RAMPART_LEDGER_BROKEN' },
    );
  }

  let chain: Promise<unknown> = Promise.resolve();
  let closed = false;

  async function checkpoint(kind: CheckpointRow['kind'], force = false): Promise<CheckpointRow | undefined> {
    const size = range.size;
    if (size === 0 || (size === lastSigned && !force)) return undefined;
    const root = range.root();
    const ts = now();
    const note = signCheckpoint({ origin: opts.origin, size, rootHash: root, chainHash, ts, kind }, opts.signerKey);
    const row: CheckpointRow = {
      treeSize: size,
      ts,
      kind,
      rootHash: root.toString('hex'),
      chainHash,
      note,
      compactRange: range.nodes().map((n) => n.toString('hex')),
    };
    lastSigned = size;
    await opts.checkpoints.insertCheckpoint(row);
    opts.onCheckpoint?.(row);
    const results = await Promise.allSettled(opts.publishers.map((p) => p.publish({ treeSize: size, ts, kind, note })));
    let failed = false;
    for (const r of results) {
      if (r.status === 'rejected') {
        failed = true;
        alert(r.reason);
      }
    }
    announce({ kind, result: failed ? 'publish_failed' : 'ok', treeSize: size, ts });
    return row;
  }

  /** Metrics (rampart_checkpoints_total, the last publication's time); never throws. */
  function announce(m: LedgerCheckpointMessage): void {
    if (!channels.ledgerCheckpoint.hasSubscribers) return;
    try {
      channels.ledgerCheckpoint.publish(m);
    } catch {
      // A subscriber's fault must not stop checkpoints.
    }
  }

  /** Checkpoints never overlap: each waits for the one before. */
  const serial = (kind: CheckpointRow['kind'], force?: boolean): Promise<CheckpointRow | undefined> => {
    const p = chain.then(() => checkpoint(kind, force));
    chain = p.catch((err: unknown) => {
      announce({ kind, result: 'failed', treeSize: range.size, ts: 0 });
      alert(err);
    });
    return p;
  };

  const timer = opts.intervalMs > 0
    ? setInterval(() => {
        void serial('periodic').catch(() => {});
      }, opts.intervalMs)
    : undefined;
  timer?.unref();

  return {
    onCommitted(batch) {
      for (const s of batch) {
        if (s.record.seq !== range.size + 1) {
          alert(new Error(`checkpointer: commit of seq ${s.record.seq} after ${range.size}; checkpoints stop until restart`));
          closed = true;
          return;
        }
        range.append(Buffer.from(s.leafHash, 'hex'));
        chainHash = s.chainHash;
      }
    },
    checkpoint: (kind, force) => (closed ? Promise.resolve(undefined) : serial(kind, force)),
    state: () => ({ size: range.size, root: range.root(), chainHash }),
    async close() {
      if (timer) clearInterval(timer);
      if (closed) return;
      closed = true;
      await chain;
      await checkpoint('shutdown').catch((err: unknown) => {
        announce({ kind: 'shutdown', result: 'failed', treeSize: range.size, ts: 0 });
        alert(err);
      });
    },
  };
}
