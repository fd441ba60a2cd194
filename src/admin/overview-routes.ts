/**
 * The console's first page (issue 7): traffic, denials, anomalies and the ledger's health, from
 * the ledger itself (the record of truth, R17a4-3), not from metrics that a restart resets.
 *
 *   GET /admin/api/overview?from&to&bucket=minute|hour     (audit.read; default: the last 24 h by hour)
 *
 * - requests: exchange.decision records (one per request that reached a decision); allowed and
 *   denied by their outcome; denials by the stage that denied and the reason code (DESIGN.md:
 *   every denial carries both);
 * - anomalies: security.event records in the range (the anomaly model's findings with the action
 *   taken, and the other security events: throttling, failed admin logins, failed verification);
 * - ledger: the head, the latest signed checkpoint and whether a file publication target holds it
 *   (AU-9(2); a webhook's receipt cannot be checked from here), and the latest self-verification
 *   result (R17a4-6: a system.event `ledger.verified`, or a security.event
 *   RAMPART_LEDGER_VERIFY_FAILED when it failed; ../ledger/self-verify.ts).
 *
 * Bounded: buckets are counted newest first, each exactly (paged by seq within its time slice),
 * until SCAN_LIMIT decision records were read; older buckets are then left at zero and the answer
 * says `truncated`.
 */
import { open } from 'node:fs/promises';
import type { CheckpointRow } from '../storage/types.js';
import type { ConsoleRouteDeps } from './console-deps.js';
import { iso, QueryParams } from './query-params.js';
import { AdminFailure, type Handler, type Route } from './server.js';

export const OVERVIEW_SCAN_LIMIT = 100_000;
const MAX_BUCKETS = 1_500;
const MAX_ANOMALIES = 100;
const PAGE = 10_000;
const BUCKET_MS = { minute: 60_000, hour: 3_600_000 } as const;
/** Bytes read from the end of a published-heads file (the latest heads are at its end). */
const PUBLISHED_TAIL_BYTES = 256 * 1024;

export function overviewRoutes(d: ConsoleRouteDeps): Route[] {
  const { storage } = d;

  const overview: Handler = async (req, res) => {
    const q = new QueryParams(req);
    const bucket = q.oneOf('bucket', ['minute', 'hour'] as const) ?? 'hour';
    const to = q.time('to') ?? d.now();
    const from = q.time('from') ?? to - 24 * 3_600_000;
    if (from > to) throw new AdminFailure('RAMPART_ADMIN_BAD_REQUEST', 'from is after to');
    const size = BUCKET_MS[bucket];
    const first = Math.floor(from / size) * size;
    const count = Math.floor(to / size) - Math.floor(from / size) + 1;
    if (count > MAX_BUCKETS) throw new AdminFailure('RAMPART_ADMIN_BAD_REQUEST', `at most ${MAX_BUCKETS} buckets: narrow the range or use bucket=hour`);

    const series = Array.from({ length: count }, (_, i) => ({ t: iso(first + i * size), requests: 0, allowed: 0, denied: 0 }));
    const denialsByStage: Record<string, number> = {};
    const denialsByReason: Record<string, number> = {};
    let scanned = 0;
    let truncated = false;
    // Newest bucket first, so that a truncated answer still shows the recent past.
    buckets: for (let i = count - 1; i >= 0; i--) {
      const sliceFrom = Math.max(from, first + i * size);
      const sliceTo = Math.min(to, first + (i + 1) * size - 1);
      for (let afterSeq: number | undefined; ; ) {
        const page = await storage.ledger.search({ type: 'exchange.decision', fromTs: sliceFrom, toTs: sliceTo, limit: PAGE, ...(afterSeq !== undefined ? { afterSeq } : {}) });
        for (const r of page) {
          const s = series[i]!;
          s.requests++;
          if (r.record.outcome === 'deny') {
            s.denied++;
            const stage = r.record.stage ?? 'unknown';
            const reason = r.record.reason ?? 'unknown';
            denialsByStage[stage] = (denialsByStage[stage] ?? 0) + 1;
            denialsByReason[reason] = (denialsByReason[reason] ?? 0) + 1;
          } else if (r.record.outcome === 'allow') {
            s.allowed++;
          }
        }
        scanned += page.length;
        if (page.length < PAGE) break;
        if (scanned >= OVERVIEW_SCAN_LIMIT) {
          truncated = true;
          break buckets;
        }
        afterSeq = page[page.length - 1]!.record.seq;
      }
      if (scanned >= OVERVIEW_SCAN_LIMIT && i > 0) {
        truncated = true;
        break;
      }
    }

    const anomalies = (await storage.ledger.search({ type: 'security.event', fromTs: from, toTs: to, descending: true, limit: MAX_ANOMALIES })).map((r) => {
      const x = r.record;
      const kind = x.detail?.event === 'anomaly' ? x.detail.kind : (x.detail?.event ?? x.reason);
      return { ts: iso(x.ts), kind: kind === undefined || kind === null ? 'unknown' : String(kind), action: x.detail?.action === undefined || x.detail.action === null ? x.outcome : String(x.detail.action), seq: x.seq, reason: x.reason ?? null };
    });

    d.json(res, 200, { from: iso(from), to: iso(to), bucket, series, denialsByStage, denialsByReason, anomalies, ledger: await ledgerHealth(), truncated });
  };

  async function ledgerHealth() {
    const head = await storage.ledger.head();
    const [headRec] = head ? await storage.ledger.read(head.seq, 1) : [];
    const cp = await storage.checkpoints.latestCheckpoint();
    const targets = d.config.ledger.checkpoints.publish;
    const verification = await lastVerification();
    return {
      head: head ? { seq: head.seq, ts: headRec ? iso(headRec.record.ts) : null } : { seq: 0, ts: null },
      ...(cp ? { lastCheckpoint: { treeSize: cp.treeSize, ts: iso(cp.ts), kind: cp.kind, published: await publishedToFile(cp, targets.flatMap((t) => ('file' in t ? [t.file] : []))), publishTargets: targets.length } } : {}),
      ...(verification ? { lastVerification: verification } : {}),
    };
  }

  async function lastVerification(): Promise<{ ts: string; ok: boolean; seq: number } | undefined> {
    const passed = (await storage.ledger.search({ type: 'system.event', descending: true, limit: 500 })).find((r) => r.record.detail?.event === 'ledger.verified');
    const [failed] = await storage.ledger.search({ type: 'security.event', reason: 'RAMPART_LEDGER_VERIFY_FAILED', descending: true, limit: 1 });
    const latest = [passed, failed].filter((r) => r !== undefined).sort((a, b) => b.record.seq - a.record.seq)[0];
    if (!latest) return undefined;
    return { ts: iso(latest.record.ts), ok: latest.record.type === 'system.event' && latest.record.detail?.ok === true, seq: latest.record.seq };
  }

  return [{ method: 'GET', pattern: /^\/admin\/api\/overview$/, action: 'audit.read', handler: overview }];
}

/** Whether one of the file targets holds this very checkpoint (same size and signed note). */
async function publishedToFile(cp: CheckpointRow, files: readonly string[]): Promise<boolean> {
  for (const file of files) {
    let text: string;
    try {
      const fh = await open(file, 'r');
      try {
        const { size } = await fh.stat();
        const len = Math.min(size, PUBLISHED_TAIL_BYTES);
        const buf = Buffer.alloc(len);
        await fh.read(buf, 0, len, size - len);
        text = buf.toString('utf8');
      } finally {
        await fh.close();
      }
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') continue;
      throw err;
    }
    for (const line of text.split('\n')) {
      if (!line.includes(`"treeSize":${cp.treeSize}`)) continue;
      try {
        const v = JSON.parse(line) as { treeSize?: unknown; note?: unknown };
        if (v.treeSize === cp.treeSize && v.note === cp.note) return true;
      } catch {
        // The first line of the tail may be cut; the writer's last line may be torn.
      }
    }
  }
  return false;
}
