/**
 * One record's RFC 9162 inclusion proof (§2.1.3) against the latest signed checkpoint that covers
 * it, built the way `rampart evidence export` builds its proofs (src/evidence/export.ts): the
 * Merkle tree of the store's leaves from the prune point's compact range up to the checkpoint,
 * checked against the checkpoint's signed root before any proof is taken from it. The proof is
 * verified here too (§2.1.3.2), with the checkpoint's signature checked under the store's key
 * history, so `ok` means what an examiner's offline check would say (AU-9(3), R17a4-8).
 *
 * The tree of the latest checkpoint is kept (one at a time, about 64 bytes per record) so that a
 * console showing several proofs reads the leaves once per checkpoint, not once per proof.
 */
import type { CheckpointRow, Storage } from '../storage/types.js';
import { openCheckpoint } from './checkpoint-note.js';
import { CompactRange, hashLeaf, TreeView, verifyInclusion } from './merkle.js';

export interface RecordProof {
  seq: number;
  leafIndex: number;
  treeSize: number;
  leafHash: string;
  rootHash: string;
  proof: string[];
  checkpoint: { treeSize: number; ts: number; kind: string; note: string };
  /** Leaf recomputed from the stored text, proof verified, root signed by a known key. */
  ok: boolean;
  /** What failed, when ok is false. */
  problem?: string;
}

export type ProofAnswer =
  | { found: true; proof: RecordProof }
  | { found: false; why: 'no-record' | 'pruned' | 'not-yet-checkpointed'; latestTreeSize?: number };

export interface RecordProver {
  prove(seq: number): Promise<ProofAnswer>;
}

/**
 * @example
 * const prover = createRecordProver(storage);
 * const a = await prover.prove(42); // a.found && a.proof.ok
 */
export function createRecordProver(storage: Pick<Storage, 'ledger' | 'checkpoints' | 'retention'>): RecordProver {
  let cached: { treeSize: number; rootHash: string; prunedThrough: number; view: TreeView } | undefined;
  let building: Promise<TreeView> | undefined;

  async function viewFor(cp: CheckpointRow, prune: Awaited<ReturnType<Storage['retention']['pruneState']>>): Promise<TreeView> {
    const prunedThrough = prune?.seq ?? 0;
    if (cached && cached.treeSize === cp.treeSize && cached.rootHash === cp.rootHash && cached.prunedThrough === prunedThrough) return cached.view;
    const leaves: Buffer[] = [];
    for (let next = prunedThrough + 1; next <= cp.treeSize; ) {
      const page = await storage.ledger.readLeaves(next, Math.min(50_000, cp.treeSize - next + 1));
      if (page.length === 0) break;
      for (const l of page) {
        if (l.seq !== next) throw broken(`leaf ${next} is missing from the store`);
        leaves.push(Buffer.from(l.leafHash, 'hex'));
        next++;
      }
    }
    if (prunedThrough + leaves.length !== cp.treeSize) throw broken(`the store holds ${prunedThrough + leaves.length} of the ${cp.treeSize} leaves the checkpoint signed`);
    const prefix = prune ? CompactRange.fromNodes(prune.seq, prune.compactRange.map((h) => Buffer.from(h, 'hex'))) : undefined;
    const view = new TreeView({ ...(prefix ? { prefix } : {}), leaves });
    cached = { treeSize: cp.treeSize, rootHash: cp.rootHash, prunedThrough, view };
    return view;
  }

  return {
    async prove(seq) {
      const [stored] = await storage.ledger.read(seq, 1);
      const prune = await storage.retention.pruneState();
      if (!stored || stored.record.seq !== seq) return { found: false, why: prune && seq <= prune.seq ? 'pruned' : 'no-record' };
      const cp = await storage.checkpoints.latestCheckpoint();
      if (!cp || cp.treeSize < seq) return { found: false, why: 'not-yet-checkpointed', ...(cp ? { latestTreeSize: cp.treeSize } : {}) };
      // One build at a time: concurrent proofs of one checkpoint share it.
      const p = (building ??= viewFor(cp, prune).finally(() => {
        building = undefined;
      }));
      let view = await p;
      if (view.size !== cp.treeSize) view = await viewFor(cp, prune);
      const leafIndex = seq - 1;
      const leaf = Buffer.from(stored.leafHash, 'hex');
      const root = Buffer.from(cp.rootHash, 'hex');
      const proof = view.inclusionProof(leafIndex, cp.treeSize);
      const problems: string[] = [];
      // The leaf is the hash of the exact stored text (RFC 9162 §2.1.1: SHA-256(0x00 || entry)).
      if (!hashLeaf(Buffer.from(stored.canonical, 'utf8')).equals(leaf)) problems.push('the stored leaf hash is not the hash of the stored record');
      if (!view.root(cp.treeSize).equals(root)) problems.push('the stored leaves do not give the signed root');
      if (!verifyInclusion(leaf, leafIndex, cp.treeSize, proof, root)) problems.push('the inclusion proof does not verify');
      const keys = (await storage.checkpoints.listSigningKeys()).map((k) => k.verifierKey);
      try {
        const { checkpoint } = openCheckpoint(cp.note, keys);
        if (checkpoint.size !== cp.treeSize || !checkpoint.rootHash.equals(root)) problems.push('the signed note does not name this tree size and root');
      } catch (err) {
        problems.push(`the checkpoint signature does not verify: ${(err as Error).message}`);
      }
      return {
        found: true,
        proof: {
          seq,
          leafIndex,
          treeSize: cp.treeSize,
          leafHash: stored.leafHash,
          rootHash: cp.rootHash,
          proof: proof.map((h) => h.toString('hex')),
          checkpoint: { treeSize: cp.treeSize, ts: cp.ts, kind: cp.kind, note: cp.note },
          ok: problems.length === 0,
          ...(problems.length > 0 ? { problem: problems.join('; ') } : {}),
        },
      };
    },
  };
}

function broken(why: string): Error {
  return Object.assign(new Error(`record proof: ${why}; run rampart audit verify`), { code: 'RAMPART_LEDGER_BROKEN' });
}
