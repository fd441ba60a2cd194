/**
 * Reading the ledger from an operator's or examiner's seat, shared by `rampart audit` (src/cli/audit.ts)
 * and the admin plane's audit routes (src/admin/audit-routes.ts), so both answer the same
 * question the same way:
 *
 * - who and whose are searched through their blind index tags, never in clear (RSP-2,
 *   ./blind-index.ts): the caller's values become tags here;
 * - private parts (principal, client address, object ids) are opened only when asked for; a part
 *   whose day key was purged (RSP-7 crypto-shredding) reads as absent, never as an error;
 * - salts are never handed out (they would let a reader test guesses against the commitments).
 */
import type { LedgerStore } from '../storage/types.js';
import type { CapturedBodyInput, PersonalFields, StoredRecord } from './record.js';
import type { Sealer } from './sealer.js';

/** Who, whose and which object a search asks about: the values the blind index answers. */
export interface PersonalFilter {
  principal?: string;
  subject?: string;
  object?: string;
}

/**
 * The blind index tags of a search (all must match a record: LedgerQuery.tags); empty when the
 * filter names nobody.
 *
 * @example
 * const q: LedgerQuery = { limit: 50, tags: searchTags(sealer, { subject: 'cus_1' }) };
 */
export function searchTags(sealer: Pick<Sealer, 'tag'>, f: PersonalFilter): Buffer[] {
  const tags: Buffer[] = [];
  if (f.principal !== undefined) tags.push(sealer.tag('principal', f.principal));
  if (f.subject !== undefined) tags.push(sealer.tag('subject', f.subject));
  if (f.object !== undefined) tags.push(sealer.tag('object', f.object));
  return tags;
}

/**
 * The decrypted personal fields of the given records by seq. A record without a private part,
 * or whose part was purged with its day key, has no entry.
 *
 * @example
 * const personal = await openPersonal(storage.ledger, sealer, rows.map((r) => r.record.seq));
 */
export async function openPersonal(store: Pick<LedgerStore, 'readPrivate'>, sealer: Pick<Sealer, 'openPrivate'>, seqs: readonly number[]): Promise<Map<number, PersonalFields>> {
  const out = new Map<number, PersonalFields>();
  if (seqs.length === 0) return out;
  for (const p of await store.readPrivate(seqs)) {
    try {
      const opened = await sealer.openPrivate(p);
      if (opened.personal) out.set(p.seq, opened.personal);
    } catch (err) {
      if ((err as { code?: string }).code !== 'RAMPART_DATA_KEY_GONE') throw err;
    }
  }
  return out;
}

/** Which of the given seqs had a private part that can no longer be opened (purged, RSP-7). */
export async function purgedPrivate(store: Pick<LedgerStore, 'readPrivate'>, sealer: Pick<Sealer, 'openPrivate'>, seqs: readonly number[]): Promise<Set<number>> {
  const out = new Set<number>();
  for (const p of await store.readPrivate(seqs)) {
    try {
      await sealer.openPrivate(p);
    } catch (err) {
      if ((err as { code?: string }).code !== 'RAMPART_DATA_KEY_GONE') throw err;
      out.add(p.seq);
    }
  }
  return out;
}

/** The captured bodies of the given records, opened (what was stored: redacted and capped per policy). */
export async function openBodies(store: Pick<LedgerStore, 'readBodies'>, sealer: Pick<Sealer, 'openBody'>, seqs: readonly number[]): Promise<{ request?: CapturedBodyInput; response?: CapturedBodyInput }> {
  const out: { request?: CapturedBodyInput; response?: CapturedBodyInput } = {};
  if (seqs.length === 0) return out;
  for (const b of await store.readBodies(seqs)) {
    try {
      out[b.part] = await sealer.openBody(b);
    } catch (err) {
      if ((err as { code?: string }).code !== 'RAMPART_DATA_KEY_GONE') throw err;
    }
  }
  return out;
}

/** A record with its personal part (undefined when there is none, or it was purged). */
export interface RecordWithPersonal {
  stored: StoredRecord;
  personal: PersonalFields | undefined;
}

/**
 * Joins the private parts (principal, address, object ids), decrypted; salts are never included.
 * A purged one (its day's key is gone) shows as absent.
 */
export async function withPersonal(store: Pick<LedgerStore, 'readPrivate'>, sealer: Pick<Sealer, 'openPrivate'>, records: readonly StoredRecord[]): Promise<RecordWithPersonal[]> {
  const bySeq = await openPersonal(store, sealer, records.map((r) => r.record.seq));
  return records.map((stored) => ({ stored, personal: bySeq.get(stored.record.seq) }));
}

/**
 * The object ids a record's personal part names: its path parameters, and the object an
 * authorization denial names (`extra.object` is `kind:id`).
 */
export function objectIdsOf(p: PersonalFields): string[] {
  const ids = p.pathParams ? Object.values(p.pathParams) : [];
  const obj = p.extra?.object;
  if (obj !== undefined) {
    const id = obj.slice(obj.indexOf(':') + 1);
    if (!ids.includes(id)) ids.push(id);
  }
  return ids;
}

/**
 * The records with the given seqs (missing ones are left out), read in runs of nearby seqs
 * rather than one by one (./holds.ts recordMeta uses it too).
 */
export async function readSeqs(store: Pick<LedgerStore, 'read'>, seqs: readonly number[]): Promise<Map<number, StoredRecord>> {
  const want = [...new Set(seqs)].sort((a, b) => a - b);
  const wanted = new Set(want);
  const out = new Map<number, StoredRecord>();
  let i = 0;
  while (i < want.length) {
    const from = want[i]!;
    let j = i;
    while (j + 1 < want.length && want[j + 1]! - want[j]! < 256 && want[j + 1]! - from < 5000) j++;
    const to = want[j]!;
    for (const r of await store.read(from, to - from + 1)) {
      if (r.record.seq > to) break;
      if (wanted.has(r.record.seq)) out.set(r.record.seq, r);
    }
    i = j + 1;
  }
  return out;
}

/** The stores answer searchIndex at most this many entries at a time (src/storage/rows.ts). */
const INDEX_PAGE = 10_000;

/**
 * The seqs that carry every one of `tags` in [fromTs, toTs] (served by the (tag, ts) index: the
 * cost is the number of those values' records, not the ledger's size), ascending. At most `max`
 * index entries are read; beyond that the answer is the oldest part and `truncated` says so.
 */
export async function indexedSeqs(store: Pick<LedgerStore, 'searchIndex'>, tags: readonly Buffer[], fromTs: number, toTs: number, max: number): Promise<{ seqs: number[]; truncated: boolean }> {
  const count = new Map<number, number>();
  let read = 0;
  let truncated = false;
  // Pages by time: each starts at the last page's final ts, skipping the entries at that
  // boundary already counted.
  let boundary = new Set<string>();
  for (let from = fromTs; ; ) {
    const page = await store.searchIndex(tags, from, toTs, INDEX_PAGE);
    let fresh = 0;
    for (const e of page) {
      const k = `${e.seq}:${Buffer.from(e.tag).toString('hex')}`;
      if (e.ts === from && boundary.has(k)) continue;
      fresh++;
      read++;
      count.set(e.seq, (count.get(e.seq) ?? 0) + 1);
    }
    if (read >= max) {
      truncated = page.length === INDEX_PAGE || read > max;
      break;
    }
    if (page.length < INDEX_PAGE) break;
    if (fresh === 0) {
      truncated = true;
      break;
    }
    const lastTs = page[page.length - 1]!.ts;
    const next = new Set<string>(lastTs === from ? boundary : []);
    for (const e of page) if (e.ts === lastTs) next.add(`${e.seq}:${Buffer.from(e.tag).toString('hex')}`);
    boundary = next;
    from = lastTs;
  }
  const seqs = [...count].filter(([, n]) => n >= tags.length).map(([s]) => s).sort((a, b) => a - b);
  return { seqs, truncated };
}
