/**
 * Past admin actions of one kind, read back from the ledger for the console (issue 7): what was
 * exported to whom (R17a4-8, R17a4-10: the export's record names the manifest digest, so what an
 * examiner received can be identified) and the latest `rampart verify` attestations (R17a4-6).
 *
 *   GET /admin/api/evidence/exports?limit    (evidence.export) {exports: [{seq, ts, by, from, to, filters, manifestDigest, records}]}
 *   GET /admin/api/verify/latest?limit       (config.read)     {attestations: [{seq, runId, ts, by, passed, failed, skipped, errors, reportDigest}]}
 *
 * Newest first. `by` is the admin's username from the record's sealed part (admin identities are
 * shown to admins, as the holds list does; customers' data is not involved). Bounded: at most
 * SCAN_LIMIT admin.action records are read; `truncated` says when older ones were not.
 */
import { openPersonal } from '../ledger/audit-read.js';
import type { StoredRecord } from '../ledger/record.js';
import type { ConsoleRouteDeps } from './console-deps.js';
import { iso, QueryParams } from './query-params.js';
import type { Handler, Route } from './server.js';

export const ACTIVITY_SCAN_LIMIT = 50_000;
const PAGE = 5_000;
const TS_SLACK_MS = 60_000;

export function activityRoutes(d: ConsoleRouteDeps): Route[] {
  const { storage, parts } = d;

  /** The newest admin.action records whose detail.action is `action`, at most `limit`. */
  async function newestActions(action: string, limit: number): Promise<{ found: StoredRecord[]; by: Map<number, string>; truncated: boolean }> {
    const found: StoredRecord[] = [];
    let scanned = 0;
    let toTs: number | undefined;
    const seen = new Set<number>();
    let truncated = false;
    // Newest first by time windows (the store has no upper seq bound): it orders by seq within
    // `toTs`; seqs already seen are skipped.
    for (;;) {
      const page = await storage.ledger.search({ type: 'admin.action', descending: true, limit: PAGE, ...(toTs !== undefined ? { toTs } : {}) });
      let fresh = 0;
      for (const r of page) {
        if (seen.has(r.record.seq)) continue;
        seen.add(r.record.seq);
        fresh++;
        if (r.record.detail?.action === action && found.length < limit) found.push(r);
      }
      scanned += fresh;
      if (found.length >= limit || page.length < PAGE) break;
      if (fresh === 0 || scanned >= ACTIVITY_SCAN_LIMIT) {
        truncated = true;
        break;
      }
      // Records are stamped before the writer orders them: a little slack so none is skipped.
      const oldest = Math.min(...page.map((r) => r.record.ts));
      toTs = toTs === undefined || oldest + TS_SLACK_MS < toTs ? oldest + TS_SLACK_MS : oldest;
    }
    found.sort((a, b) => b.record.seq - a.record.seq);
    const personal = await openPersonal(storage.ledger, parts.crypto.sealer, found.map((r) => r.record.seq));
    const by = new Map<number, string>();
    for (const [seq, p] of personal) if (p.principal !== undefined) by.set(seq, p.principal);
    return { found, by, truncated };
  }

  const exportsH: Handler = async (req, res) => {
    const limit = new QueryParams(req).int('limit', 1, 100) ?? 20;
    const { found, by, truncated } = await newestActions('evidence.export', limit);
    d.json(res, 200, {
      exports: found.map((r) => {
        const x = r.record.detail ?? {};
        return {
          seq: r.record.seq,
          ts: iso(r.record.ts),
          by: by.get(r.record.seq) ?? null,
          from: typeof x.fromTs === 'number' ? iso(x.fromTs) : null,
          to: typeof x.toTs === 'number' ? iso(x.toTs) : null,
          // The filter values name people: the record keeps only whether there were any (RSP-2).
          filters: { filtered: x.filtered === true, personal: x.personal === true, bodies: x.bodies === true },
          manifestDigest: typeof x.manifestSha256 === 'string' ? `sha256:${x.manifestSha256}` : null,
          records: typeof x.records === 'number' ? x.records : null,
          proofTreeSize: typeof x.proofTreeSize === 'number' ? x.proofTreeSize : null,
        };
      }),
      ...(truncated ? { truncated: true } : {}),
    });
  };

  const verifyLatest: Handler = async (req, res) => {
    const limit = new QueryParams(req).int('limit', 1, 10) ?? 10;
    const { found, by, truncated } = await newestActions('verify.attestation', limit);
    d.json(res, 200, {
      attestations: found.map((r) => {
        const x = r.record.detail ?? {};
        const n = (k: string): number | null => (typeof x[k] === 'number' ? (x[k] as number) : null);
        return { seq: r.record.seq, runId: String(x.runId ?? ''), ts: iso(r.record.ts), by: by.get(r.record.seq) ?? null, passed: n('passed'), failed: n('failed'), skipped: n('skipped'), errors: n('errors'), reportDigest: typeof x.reportDigest === 'string' ? x.reportDigest : null };
      }),
      ...(truncated ? { truncated: true } : {}),
    });
  };

  return [
    { method: 'GET', pattern: /^\/admin\/api\/evidence\/exports$/, action: 'evidence.export', handler: exportsH },
    { method: 'GET', pattern: /^\/admin\/api\/verify\/latest$/, action: 'config.read', handler: verifyLatest },
  ];
}
