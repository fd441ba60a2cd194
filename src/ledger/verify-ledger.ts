/**
 * Full verification of a node's ledger (AU-9(3), R17a4-6): the hash chain and private parts
 * (./verify.ts), the Merkle roots of every signed checkpoint kept in the store, and the heads
 * published outside it (./publish.ts). The chain alone only shows the store is self-consistent;
 * whoever can write it can recompute every hash. A published head is out of their reach:
 *
 * - a published (or stored) checkpoint whose root differs from the root recomputed over the
 *   stored leaves at its size: history before that size was rewritten;
 * - a published checkpoint larger than the stored ledger: records were removed from the end
 *   (truncation) or the store was rolled back to an older copy;
 * - a checkpoint whose signature does not verify under a known key: forged.
 *
 * After a prune, verification starts from the signed prune checkpoint: its signature is checked,
 * its chain hash anchors the chain and its compact range the Merkle tree, so the retained part
 * verifies alone and checkpoints above the prune point still match.
 */
import type { CheckpointStore, ChainHead, LedgerStore, RetentionStore } from '../storage/types.js';
import type { ChainBreak } from './chain.js';
import { openCheckpoint, type Checkpoint } from './checkpoint-note.js';
import { CompactRange } from './merkle.js';
import type { PublishedCheckpoint } from './publish.js';
import type { Sealer } from './sealer.js';
import { verifyChain } from './verify.js';

export interface LedgerVerifyOptions {
  ledger: LedgerStore;
  checkpoints?: CheckpointStore;
  retention?: RetentionStore;
  /** Verifier keys (C2SP note format) that may sign checkpoints: the store's history, or an examiner's key. */
  verifierKeys: readonly string[];
  /** Heads published outside the store (file sinks, an examiner's copy). */
  published?: readonly PublishedCheckpoint[];
  sealer?: Sealer;
  checkPrivate?: boolean;
  batch?: number;
  /** Re-serialise every record to prove its text is canonical (default false: see verify.ts `deep`). */
  deep?: boolean;
  /** Hash on a second thread (default true; see verify.ts `hashThread`). */
  hashThread?: boolean;
  /** Called as pages verify: the last seq verified so far (a CLI draws a progress bar from it). */
  onProgress?: (verifiedThroughSeq: number) => void;
  /**
   * Start from a checkpoint verified by an earlier run (self-verification is incremental): its
   * chain hash and compact range anchor the run instead of the prune point or genesis. Its
   * signature is checked again.
   */
  resumeFrom?: { treeSize: number; chainHash: string; compactRange: readonly string[]; note: string };
}

export type CheckpointProblem =
  | 'bad-signature'
  | 'root-mismatch'
  | 'chain-mismatch'
  | 'beyond-ledger'
  | 'malformed'
  | 'inside-pruned';

export interface CheckpointFinding {
  source: 'store' | 'published' | 'prune';
  treeSize: number;
  problem: CheckpointProblem;
  detail: string;
}

export interface LedgerVerifyResult {
  ok: boolean;
  /** Records that verified (after the prune point). */
  count: number;
  head: ChainHead | null;
  /** Records 1..seq were pruned under a signed prune checkpoint. */
  prunedThrough: number;
  firstBad?: ChainBreak;
  /** Checkpoints whose root was recomputed and matched, by source. */
  checkpointsVerified: { store: number; published: number };
  /** The newest published head that matched. */
  latestPublished?: { treeSize: number; ts: number };
  findings: CheckpointFinding[];
}

interface Target {
  source: 'store' | 'published';
  cp: Checkpoint;
}

/**
 * @example
 * const r = await verifyLedger({ ledger: s.ledger, checkpoints: s.checkpoints, retention: s.retention,
 *   verifierKeys: (await s.checkpoints.listSigningKeys()).map((k) => k.verifierKey),
 *   published: await readPublishedFile('/mnt/worm/rampart-heads.jsonl') });
 */
export async function verifyLedger(o: LedgerVerifyOptions): Promise<LedgerVerifyResult> {
  const findings: CheckpointFinding[] = [];
  const targets = new Map<number, Target[]>();
  const verified = { store: 0, published: 0 };
  let latestPublished: { treeSize: number; ts: number } | undefined;

  const addTarget = (source: 'store' | 'published', note: string, claimedSize: number): void => {
    let opened: { checkpoint: Checkpoint };
    try {
      opened = openCheckpoint(note, o.verifierKeys);
    } catch (err) {
      const code = (err as { code?: string }).code;
      findings.push({
        source,
        treeSize: claimedSize,
        problem: code === 'RAMPART_NOTE_MALFORMED' || code === 'RAMPART_CHECKPOINT_MALFORMED' ? 'malformed' : 'bad-signature',
        detail: `the ${source} checkpoint at size ${claimedSize} does not verify under the known keys (${(err as Error).message})`,
      });
      return;
    }
    const cp = opened.checkpoint;
    const list = targets.get(cp.size) ?? [];
    list.push({ source, cp });
    targets.set(cp.size, list);
  };

  // The prune point anchors what is retained.
  const prune = o.retention ? await o.retention.pruneState() : undefined;
  let range = new CompactRange();
  let after: { seq: number; chainHash: string } | undefined;
  if (prune) {
    range = CompactRange.fromNodes(prune.seq, prune.compactRange.map((h) => Buffer.from(h, 'hex')));
    try {
      const { checkpoint: cp } = openCheckpoint(prune.note, o.verifierKeys);
      if (cp.size !== prune.seq || !cp.rootHash.equals(range.root()) || cp.chainHash !== prune.chainHash) {
        findings.push({ source: 'prune', treeSize: prune.seq, problem: 'root-mismatch', detail: `the stored prune state at seq ${prune.seq} differs from its signed prune checkpoint` });
      }
    } catch (err) {
      findings.push({ source: 'prune', treeSize: prune.seq, problem: 'bad-signature', detail: `the prune checkpoint at seq ${prune.seq} does not verify (${(err as Error).message})` });
    }
    after = { seq: prune.seq, chainHash: prune.chainHash };
  }
  const prunedThrough = prune?.seq ?? 0;
  const resume = o.resumeFrom && o.resumeFrom.treeSize > prunedThrough ? o.resumeFrom : undefined;
  if (resume) {
    range = CompactRange.fromNodes(resume.treeSize, resume.compactRange.map((h) => Buffer.from(h, 'hex')));
    try {
      const { checkpoint: cp } = openCheckpoint(resume.note, o.verifierKeys);
      if (cp.size !== resume.treeSize || !cp.rootHash.equals(range.root()) || cp.chainHash !== resume.chainHash) throw new Error('its stored state differs from what it signed');
    } catch (err) {
      findings.push({ source: 'store', treeSize: resume.treeSize, problem: 'bad-signature', detail: `the checkpoint to resume from (size ${resume.treeSize}) does not verify (${(err as Error).message})` });
    }
    after = { seq: resume.treeSize, chainHash: resume.chainHash };
  }
  /** Checkpoints at or below this size are not re-checked (pruned, or verified by an earlier run). */
  const anchoredAt = resume?.treeSize ?? prunedThrough;

  if (o.checkpoints) {
    for (let from = anchoredAt; ; ) {
      const page = await o.checkpoints.listCheckpoints(from, Number.MAX_SAFE_INTEGER, 1000);
      for (const c of page) if (c.treeSize > anchoredAt) addTarget('store', c.note, c.treeSize);
      if (page.length < 1000) break;
      from = page[page.length - 1]!.treeSize + 1;
    }
  }
  for (const p of o.published ?? []) if (!resume || p.treeSize > anchoredAt) addTarget('published', p.note, p.treeSize);

  // Checkpoints inside the pruned prefix can only be compared with the prune point's root.
  for (const [size, list] of targets) {
    if (size > prunedThrough) continue;
    for (const t of list) {
      if (size === prunedThrough && t.cp.rootHash.equals(range.root())) {
        verified[t.source]++;
      } else if (t.source === 'published') {
        findings.push({ source: t.source, treeSize: size, problem: 'inside-pruned', detail: `published checkpoint at size ${size} lies in the pruned prefix (through seq ${prunedThrough}); not re-verifiable from retained records` });
      }
    }
    targets.delete(size);
  }

  const check = (size: number, chainHash: string): void => {
    const list = targets.get(size);
    if (!list) return;
    const root = range.root();
    for (const t of list) {
      if (!t.cp.rootHash.equals(root)) {
        findings.push({ source: t.source, treeSize: size, problem: 'root-mismatch', detail: `the ${t.source} checkpoint at size ${size} signed root ${t.cp.rootHash.toString('hex')}, but the stored records give ${root.toString('hex')}: records up to seq ${size} were rewritten` });
      } else if (t.cp.chainHash !== undefined && t.cp.chainHash !== chainHash) {
        findings.push({ source: t.source, treeSize: size, problem: 'chain-mismatch', detail: `the ${t.source} checkpoint at size ${size} names chain hash ${t.cp.chainHash}, the store has ${chainHash}` });
      } else {
        verified[t.source]++;
        if (t.source === 'published' && (!latestPublished || size >= latestPublished.treeSize)) latestPublished = { treeSize: size, ts: t.cp.ts ?? 0 };
      }
    }
    targets.delete(size);
  };

  // The sizes to stop at, ascending: every leaf goes into the compact range, and at a checkpoint's
  // size its root is compared (one comparison per leaf, not a map lookup).
  const stops = [...targets.keys()].sort((a, b) => a - b);
  let stop = 0;
  const chain = await verifyChain(o.ledger, {
    ...(after ? { after } : {}),
    ...(o.batch ? { batch: o.batch } : {}),
    ...(o.sealer ? { sealer: o.sealer } : {}),
    ...(o.hashThread !== undefined ? { hashThread: o.hashThread } : {}),
    checkPrivate: o.checkPrivate ?? o.sealer !== undefined,
    deep: o.deep ?? false,
    onVerified: (run) => {
      o.onProgress?.(run.firstSeq + run.count - 1);
      let next = stops[stop] ?? Number.POSITIVE_INFINITY;
      // A size below the verified range stays where it is (reported at the end as not reached).
      while (next < run.firstSeq) next = stops[++stop] ?? Number.POSITIVE_INFINITY;
      for (let i = 0; i < run.count; i++) {
        range.appendFrom(run.leaves, run.leafAt(i));
        if (run.firstSeq + i === next) {
          check(next, run.chainHash(i));
          next = stops[++stop] ?? Number.POSITIVE_INFINITY;
        }
      }
    },
  });

  // Whatever is left was signed over records the store no longer has (or never verified).
  const verifiedThrough = anchoredAt + chain.count;
  for (const [size, list] of [...targets].sort((a, b) => a[0] - b[0])) {
    for (const t of list) {
      findings.push(
        chain.ok
          ? { source: t.source, treeSize: size, problem: 'beyond-ledger', detail: `the ${t.source} checkpoint at size ${size} covers records the store does not have (it ends at seq ${verifiedThrough}): the ledger was truncated or rolled back` }
          : { source: t.source, treeSize: size, problem: 'beyond-ledger', detail: `the ${t.source} checkpoint at size ${size} could not be checked: the chain breaks at seq ${chain.firstBad?.seq}` },
      );
    }
  }
  // Heads inside the pruned prefix are superseded by the signed prune checkpoint: reported, not failed.
  const ok = chain.ok && findings.every((f) => f.problem === 'inside-pruned');
  return {
    ok,
    count: chain.count,
    head: chain.head,
    prunedThrough,
    ...(chain.firstBad ? { firstBad: chain.firstBad } : {}),
    checkpointsVerified: verified,
    ...(latestPublished ? { latestPublished } : {}),
    findings,
  };
}
