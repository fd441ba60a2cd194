/**
 * "Whose records were accessed, by whom, between T1 and T2" (RSP-2: the incident clock runs 30
 * days; the firm must name the affected customers). One question over the data subjects records
 * name: the owner resolved by authorization (personal.subject / extra.owner) and the subject ids
 * found in bodies through their classifications, all indexed as blind tags (./blind-index.ts).
 *
 * Asked for one subject or one principal, the (tag, ts) index answers without scanning: the cost
 * is the number of that subject's records, not the size of the ledger. Asked for everyone, it
 * reads the range's records and opens their private parts (bounded by `maxRecords`).
 */
import type { LedgerStore, StoredPrivate } from '../storage/types.js';
import { recordMeta } from './holds.js';
import type { PrivatePart } from './record.js';
import type { Sealer } from './sealer.js';

export interface AccessQuery {
  fromTs: number;
  toTs: number;
  subject?: string;
  principal?: string;
  /** Records read at most (default 1 000 000). */
  maxRecords?: number;
}

export interface AccessRow {
  subject: string;
  principal: string;
  operations: string[];
  records: number;
  denied: number;
  first: number;
  last: number;
}

export interface AccessReport {
  rows: AccessRow[];
  recordsExamined: number;
  /** Records whose private part was purged (their subject and principal are gone with it). */
  purged: number;
  truncated: boolean;
}

export async function accessReport(ledger: LedgerStore, sealer: Sealer, q: AccessQuery): Promise<AccessReport> {
  const max = q.maxRecords ?? 1_000_000;
  let seqs: number[] = [];
  let truncated = false;
  if (q.subject !== undefined || q.principal !== undefined) {
    const tags = [...(q.subject !== undefined ? [sealer.tag('subject', q.subject)] : []), ...(q.principal !== undefined ? [sealer.tag('principal', q.principal)] : [])];
    // With both given, a record must carry both tags.
    const count = new Map<number, number>();
    const r = await allIndexEntries(ledger, tags, q.fromTs, q.toTs, max * tags.length);
    for (const e of r.entries) count.set(e.seq, (count.get(e.seq) ?? 0) + 1);
    seqs = [...count].filter(([, n]) => n >= tags.length).map(([s]) => s);
    truncated = r.truncated;
  } else {
    for (let afterSeq: number | undefined; seqs.length <= max; ) {
      const page = await ledger.search({ fromTs: q.fromTs, toTs: q.toTs, limit: 10_000, ...(afterSeq !== undefined ? { afterSeq } : {}) });
      for (const r of page) if (r.record.type === 'exchange.decision' || r.record.type === 'exchange.completion') seqs.push(r.record.seq);
      if (page.length < 10_000) break;
      afterSeq = page[page.length - 1]!.record.seq;
    }
    truncated = seqs.length > max;
    seqs = seqs.slice(0, max);
  }
  seqs.sort((a, b) => a - b);

  const meta = await recordMeta(ledger, seqs);
  const agg = new Map<string, AccessRow>();
  let purged = 0;
  for (let i = 0; i < seqs.length; i += 1000) {
    const chunk = seqs.slice(i, i + 1000);
    const privs = new Map<number, PrivatePart>();
    for (const p of await ledger.readPrivate(chunk)) {
      const opened = await open(sealer, p);
      if (opened) privs.set(p.seq, opened);
      else purged++;
    }
    const bodySubjects = new Map<number, string[]>();
    for (const b of await ledger.readBodies(chunk)) {
      try {
        const c = await sealer.openBody(b);
        bodySubjects.set(b.seq, [...(bodySubjects.get(b.seq) ?? []), ...c.subjects]);
      } catch (err) {
        if ((err as { code?: string }).code !== 'RAMPART_DATA_KEY_GONE') throw err;
      }
    }
    for (const seq of chunk) {
      const p = privs.get(seq)?.personal;
      const m = meta.get(seq);
      if (!p || !m) continue;
      const principal = p.principal ?? '(anonymous)';
      const subjects = new Set<string>([...(p.subject !== undefined ? [p.subject] : []), ...(p.extra?.owner !== undefined ? [p.extra.owner] : []), ...(bodySubjects.get(seq) ?? [])]);
      if (q.subject !== undefined) {
        // Only the asked-for subject is reported (a record may name others too).
        subjects.clear();
        subjects.add(q.subject);
      }
      if (q.principal !== undefined && principal !== q.principal) continue;
      const op = m;
      for (const subject of subjects) {
        const key = `${subject}\u0000${principal}`;
        let row = agg.get(key);
        if (!row) {
          row = { subject, principal, operations: [], records: 0, denied: 0, first: m.ts, last: m.ts };
          agg.set(key, row);
        }
        row.records++;
        if (op?.outcome === 'deny') row.denied++;
        if (op?.operationId && !row.operations.includes(op.operationId)) row.operations.push(op.operationId);
        row.first = Math.min(row.first, m.ts);
        row.last = Math.max(row.last, m.ts);
      }
    }
  }
  const rows = [...agg.values()].sort((a, b) => (a.subject < b.subject ? -1 : a.subject > b.subject ? 1 : a.first - b.first));
  return { rows, recordsExamined: seqs.length, purged, truncated };
}

/** The stores answer searchIndex at most this many entries at a time (src/storage/rows.ts). */
const INDEX_PAGE = 10_000;

/**
 * Every index entry with one of `tags` in [fromTs, toTs], paged by time: each page starts at the
 * last page's final ts, and the entries at that boundary already counted are skipped. More than
 * a page of entries within one millisecond, or more than `max`, is reported as truncated.
 */
async function allIndexEntries(ledger: LedgerStore, tags: readonly Buffer[], fromTs: number, toTs: number, max: number): Promise<{ entries: { seq: number; ts: number }[]; truncated: boolean }> {
  const entries: { seq: number; ts: number }[] = [];
  let boundary = new Set<string>();
  for (let from = fromTs; ; ) {
    const page = await ledger.searchIndex(tags, from, toTs, INDEX_PAGE);
    let fresh = 0;
    for (const e of page) {
      const k = `${e.seq}:${e.tag.toString('hex')}`;
      if (e.ts === from && boundary.has(k)) continue;
      fresh++;
      entries.push({ seq: e.seq, ts: e.ts });
    }
    if (entries.length > max) return { entries: entries.slice(0, max), truncated: true };
    if (page.length < INDEX_PAGE) return { entries, truncated: false };
    if (fresh === 0) return { entries, truncated: true };
    const lastTs = page[page.length - 1]!.ts;
    const next = new Set<string>(lastTs === from ? boundary : []);
    for (const e of page) if (e.ts === lastTs) next.add(`${e.seq}:${e.tag.toString('hex')}`);
    boundary = next;
    from = lastTs;
  }
}

async function open(sealer: Sealer, p: StoredPrivate): Promise<PrivatePart | undefined> {
  try {
    return await sealer.openPrivate(p);
  } catch (err) {
    if ((err as { code?: string }).code === 'RAMPART_DATA_KEY_GONE') return undefined;
    throw err;
  }
}
