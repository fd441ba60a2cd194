/**
 * Audit probes, through the admin plane (`--admin`):
 * - every probe request landed in the ledger (AU-12, AU-3, R17a4-3): the records the run's
 *   marker tagged (`detail.probe`) are read back and matched by the gateway's request id. Failed
 *   TLS handshakes are left out (the gateway counts them instead of recording each), and so are
 *   requests to the reserved prefix (the JWKS), which are not exchanges of the API;
 * - the chain and the published heads verify (AU-9(2), AU-9(3), R17a4-6): a checkpoint is made
 *   and published now, then the gateway's self-verification runs (POST /admin/api/ledger/verify)
 *   and must report the chain intact, no failing checkpoint finding, and at least one head
 *   verified from outside the store (without one, a store rewritten as a whole is undetectable).
 */
import type { AdminApi } from '../admin.js';
import type { Exchange } from '../http.js';
import { result, type ControlResult } from '../types.js';

const LANDED = { id: 'audit.probes-landed', family: 'audit', title: 'Every probe request landed in the ledger', requirements: ['AU-12', 'AU-3', 'R17a4-3'] } as const;
const CHAIN = { id: 'audit.chain-verified', family: 'audit', title: 'The ledger chain, its checkpoints and the published heads verify', requirements: ['AU-9(3)', 'AU-9(2)', 'R17a4-6'] } as const;

export const AUDIT_CONTROLS = [LANDED, CHAIN] as const;

interface RunRecords {
  runId: string;
  startSeq: number;
  headSeq: number;
  scanned: number;
  truncated: boolean;
  records: { seq: number; type: string; requestId?: string; status?: number; reason?: string; operationId?: string }[];
}

export async function landedProbe(i: { admin: AdminApi; runId: string; exchanges: readonly Exchange[]; reservedPrefix: string; basePath: string }): Promise<ControlResult> {
  const expected = i.exchanges.filter((e) => !e.sent.path.startsWith(`${i.basePath}${i.reservedPrefix}/`));
  if (expected.length === 0) return result(LANDED, 'error', 'no probe request was answered, so there is nothing to look for', {});
  let r: RunRecords;
  try {
    r = await i.admin.call<RunRecords>('GET', `/admin/api/verify/runs/${i.runId}/records`);
  } catch (err) {
    return result(LANDED, 'error', (err as Error).message, { runId: i.runId });
  }
  const byId = new Map<string, RunRecords['records']>();
  for (const rec of r.records) {
    if (rec.requestId === undefined) continue;
    const list = byId.get(rec.requestId) ?? [];
    list.push(rec);
    byId.set(rec.requestId, list);
  }
  const missing = expected.filter((e) => e.response.requestId === undefined || !byId.has(e.response.requestId));
  const evidence = {
    runId: r.runId,
    scannedSeqs: `${r.startSeq}..${r.headSeq}`,
    scanned: r.scanned,
    truncated: r.truncated,
    expected: expected.length,
    landed: expected.length - missing.length,
    markedRecords: r.records.length,
    left_out: 'failed TLS handshakes (counted, not recorded) and the reserved prefix (JWKS)',
    ...(missing.length > 0 ? { missing: missing.slice(0, 20).map((e) => ({ control: e.control, request: `${e.sent.method} ${e.sent.path.slice(0, 120)}`, status: e.response.status, requestId: e.response.requestId ?? '(no x-request-id)' })) } : {}),
  };
  if (missing.length > 0) return result(LANDED, 'fail', `${missing.length} of ${expected.length} probe requests have no record carrying the run's marker${r.truncated ? ' (scan truncated)' : ''}`, evidence);
  return result(LANDED, 'pass', `${expected.length} of ${expected.length} probe requests found in ${r.records.length} marked records`, evidence);
}

interface VerifyAnswer {
  ok: boolean;
  count: number;
  head: { seq: number; chainHash: string } | null;
  firstBad?: { seq: number; problem: string; detail: string };
  checkpointsVerified: { store: number; published: number };
  findings: { problem: string; treeSize?: number; detail: string }[];
}

export async function chainProbe(i: { admin: AdminApi }): Promise<ControlResult> {
  let cp: { treeSize?: number; rootHash?: string };
  let v: VerifyAnswer;
  try {
    cp = await i.admin.call('POST', '/admin/api/ledger/checkpoint', {});
    v = await i.admin.call<VerifyAnswer>('POST', '/admin/api/ledger/verify', {});
  } catch (err) {
    return result(CHAIN, 'error', (err as Error).message, {});
  }
  const failing = (v.findings ?? []).filter((f) => f.problem !== 'inside-pruned');
  const evidence = { checkpoint: { treeSize: cp.treeSize ?? 0, rootHash: cp.rootHash }, verification: { ok: v.ok, records: v.count, head: v.head, checkpointsVerified: v.checkpointsVerified, ...(v.firstBad ? { firstBad: v.firstBad } : {}), ...(failing.length > 0 ? { findings: failing.slice(0, 10) } : {}) } };
  if (!v.ok || v.firstBad) return result(CHAIN, 'fail', `the ledger does not verify${v.firstBad ? `: seq ${v.firstBad.seq} ${v.firstBad.problem}` : ''}`, evidence);
  if (failing.length > 0) return result(CHAIN, 'fail', `checkpoint findings: ${failing.map((f) => f.problem).join(', ')}`, evidence);
  if (v.checkpointsVerified.published < 1) return result(CHAIN, 'fail', `the chain verifies (${v.count} records) but no head published outside the store was verified (ledger.checkpoints.publish, AU-9(2))`, evidence);
  return result(CHAIN, 'pass', `${v.count} records, ${v.checkpointsVerified.store} stored and ${v.checkpointsVerified.published} published checkpoints verified`, evidence);
}
