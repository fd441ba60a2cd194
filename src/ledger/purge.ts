/**
 * The purge job (RSP-7 disposal, R17a4-1, AU-11): removes what has expired and nothing else.
 *
 * 1. Legal holds first: every item an active hold matches that still sits under a data key about
 *    to go is moved under the hold's key (./holds.ts), so no held item is lost.
 * 2. Crypto-shredding: the data keys whose expiry day has passed (never the index key, never a
 *    hold key of an active hold) are deleted with every private part, body and index entry under
 *    them, in one transaction (RetentionStore.purgeDataKeys; SQLite scrubs freed pages and the
 *    WAL). Without the wrapped key the ciphertext is noise. A backup or replica holds its own copy
 *    of the wrapped key: it is shredded when that copy expires, or for all copies at once when the
 *    KEK version that wrapped it is destroyed in the HSM (after `rampart ledger rotate-kek`).
 * 3. Chained metadata: records are pruned from the start of the chain up to the first record that
 *    is still within its class's retention or under a hold. A signed prune checkpoint (Merkle root,
 *    chain hash and compact range at the prune point) is stored first, so verification runs from
 *    the retained part alone, and checkpoints above it still verify.
 * 4. A purge receipt is appended to the ledger (a deletion attestation: what went, by which keys,
 *    up to which seq), and is itself covered by the next signed checkpoint.
 *
 * Anything inside its period is refused by construction: only keys whose day is before today and
 * records whose own retention has passed are selected; `dryRun` reports without changing anything.
 */
import { HOLD_RECORD_CLASS, type DataKeyRing } from '../crypto/data-keys.js';
import type { CheckpointRow, CheckpointStore, LedgerStore, RetentionStore, WrappedDataKey } from '../storage/types.js';
import { INDEX_KEY_CLASS } from './blind-index.js';
import { signCheckpoint } from './checkpoint-note.js';
import { activeHolds, heldSeqs, resealUnder } from './holds.js';
import { CompactRange } from './merkle.js';
import { metadataClassOf, type Sealer } from './sealer.js';
import type { Ledger } from './writer.js';

const DAY_MS = 86_400_000;

export interface PurgeContext {
  ledger: LedgerStore;
  checkpoints: CheckpointStore;
  /** In PostgreSQL, a connection under the retention role (AU-9(4)). */
  retention: RetentionStore;
  dataKeys: { listDataKeys(filter?: { recordClass?: string; expiryDayBefore?: number }): Promise<WrappedDataKey[]> };
  ring: DataKeyRing;
  sealer: Sealer;
  writer: Ledger;
  configHash: string;
  /** Signs the prune checkpoint. */
  checkpointKey: { signer: string; origin: string };
  now?: () => number;
}

export interface PurgeReport {
  dryRun: boolean;
  today: number;
  keys: { id: string; recordClass: string; expiryDay: number }[];
  heldItemsMoved: number;
  removed: { keys: number; privates: number; bodies: number; index: number };
  prunedThrough: number;
  recordsPruned: number;
  receiptSeq?: number;
}

export async function runPurge(ctx: PurgeContext, opts: { dryRun?: boolean } = {}): Promise<PurgeReport> {
  const now = (ctx.now ?? Date.now)();
  const today = Math.floor(now / DAY_MS);
  const dryRun = opts.dryRun === true;
  const holds = await activeHolds(ctx.retention, ctx.ring);
  const holdKeys = new Set(holds.map((h) => h.hold.dekId));
  // A lifted hold's key expires with its lifting (liftHold): it goes with what expired while held.
  const lifted = new Set((await ctx.retention.listHolds()).filter((h) => h.liftedAt !== undefined).map((h) => h.dekId));
  const expired = [
    ...(await ctx.dataKeys.listDataKeys({ expiryDayBefore: today })).filter(
      (k) => k.recordClass !== INDEX_KEY_CLASS && k.recordClass !== HOLD_RECORD_CLASS && k.expiryDay < today,
    ),
    ...(await ctx.dataKeys.listDataKeys({ recordClass: HOLD_RECORD_CLASS })).filter((k) => lifted.has(k.id) && !holdKeys.has(k.id)),
  ];
  const expiredIds = new Set(expired.map((k) => k.id));

  // 1. Held items leave the keys that are about to go.
  const held = new Set<number>();
  let moved = 0;
  for (const h of holds) {
    const seqs = await heldSeqs(ctx.ledger, ctx.sealer, h.criteria);
    for (const s of seqs) held.add(s);
    if (dryRun || expired.length === 0) continue;
    const key = { id: h.hold.dekId, key: await ctx.ring.keyById(h.hold.dekId) };
    // Only items under an expiring key move now; the rest were moved when the hold was set.
    moved += await resealUnder(ctx, seqs, key, new Set([...holdKeys].filter((id) => !expiredIds.has(id))));
  }

  // 2. Crypto-shredding.
  let removed = { keys: 0, privates: 0, bodies: 0, index: 0 };
  if (!dryRun && expired.length > 0) {
    ctx.ring.forget(expired.map((k) => k.id));
    removed = await ctx.retention.purgeDataKeys(expired.map((k) => k.id));
  }

  // 3. Prune the expired prefix of the chain.
  const prune = await ctx.retention.pruneState();
  const from = (prune?.seq ?? 0) + 1;
  let pruneTo = from - 1;
  let pruneChainHash = prune?.chainHash;
  scan: for (let next = from; ; ) {
    const page = await ctx.ledger.read(next, 5000);
    if (page.length === 0) break;
    for (const r of page) {
      const days = ctx.sealer.retention[metadataClassOf(r.record.type)];
      if (r.record.ts + days * DAY_MS >= now || held.has(r.record.seq)) break scan;
      pruneTo = r.record.seq;
      pruneChainHash = r.chainHash;
    }
    next = page[page.length - 1]!.record.seq + 1;
  }
  let recordsPruned = 0;
  if (pruneTo >= from && pruneChainHash !== undefined) {
    recordsPruned = pruneTo - from + 1;
    if (!dryRun) {
      const range = await compactRangeAt(ctx, pruneTo, prune ? { seq: prune.seq, compactRange: prune.compactRange } : undefined);
      const root = range.root();
      const note = signCheckpoint({ origin: ctx.checkpointKey.origin, size: pruneTo, rootHash: root, chainHash: pruneChainHash, ts: now, kind: 'prune' }, ctx.checkpointKey.signer);
      const nodes = range.nodes().map((n) => n.toString('hex'));
      const row: CheckpointRow = { treeSize: pruneTo, ts: now, kind: 'prune', rootHash: root.toString('hex'), chainHash: pruneChainHash, note, compactRange: nodes };
      await ctx.checkpoints.insertCheckpoint(row);
      await ctx.retention.pruneThrough({ seq: pruneTo, chainHash: pruneChainHash, compactRange: nodes, note });
    }
  }

  const report: PurgeReport = {
    dryRun,
    today,
    keys: expired.map((k) => ({ id: k.id, recordClass: k.recordClass, expiryDay: k.expiryDay })),
    heldItemsMoved: moved,
    removed,
    prunedThrough: dryRun ? (prune?.seq ?? 0) : Math.max(prune?.seq ?? 0, pruneTo),
    recordsPruned,
  };
  // 4. The receipt (RSP-7 deletion attestation), only when something went.
  if (!dryRun && (removed.keys > 0 || recordsPruned > 0)) {
    const r = await ctx.writer.append({
      type: 'system.event',
      outcome: 'success',
      reason: 'RAMPART_OK',
      stage: 'retention',
      configHash: ctx.configHash,
      detail: {
        event: 'ledger.purged',
        keys: removed.keys,
        keyIds: expired.map((k) => k.id).join(',').slice(0, 4000),
        expiryDays: [...new Set(expired.map((k) => `${k.recordClass}:${k.expiryDay}`))].join(',').slice(0, 4000),
        privates: removed.privates,
        bodies: removed.bodies,
        indexEntries: removed.index,
        heldItemsMoved: moved,
        prunedThrough: report.prunedThrough,
        recordsPruned,
      },
    });
    report.receiptSeq = r.seq;
  }
  return report;
}

/** The Merkle compact range of records 1..size, from the nearest stored state below it. */
async function compactRangeAt(ctx: PurgeContext, size: number, prune: { seq: number; compactRange: string[] } | undefined): Promise<CompactRange> {
  let base: { size: number; nodes: string[] } = prune ? { size: prune.seq, nodes: prune.compactRange } : { size: 0, nodes: [] };
  const cps = await ctx.checkpoints.listCheckpoints(base.size, size, 100_000);
  const best = cps.filter((c) => c.treeSize <= size).pop();
  if (best && best.treeSize > base.size) base = { size: best.treeSize, nodes: best.compactRange };
  const range = base.size === 0 ? new CompactRange() : CompactRange.fromNodes(base.size, base.nodes.map((h) => Buffer.from(h, 'hex')));
  while (range.size < size) {
    const leaves = await ctx.ledger.readLeaves(range.size + 1, Math.min(10_000, size - range.size));
    if (leaves.length === 0) throw new Error(`purge: leaves after seq ${range.size} are missing; run rampart audit verify`);
    for (const l of leaves) {
      if (l.seq !== range.size + 1) throw new Error(`purge: leaf ${range.size + 1} is missing; run rampart audit verify`);
      range.append(Buffer.from(l.leafHash, 'hex'));
    }
  }
  return range;
}
