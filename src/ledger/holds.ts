/**
 * Legal holds (R17a4-1: nothing under a hold is disposed of; DESIGN.md: a hold re-wraps the held
 * items under a hold key). A hold names a principal, a data subject, an object id, an operation
 * and/or a time range; every private part and body it matches is moved from its day's data key
 * to the hold's own key at once, so the rest of that day can still be purged on time (RSP-7)
 * while the held items survive. Setting and lifting are compliance actions, each a ledger record
 * (R17a4-3); the criteria are stored sealed under the hold's key, since they name people.
 *
 * Items that match a hold but arrive after it was set are moved by the purge job before it
 * drops their day's key (./purge.ts calls heldSeqs), so a hold covers them too.
 */
import { randomBytes } from 'node:crypto';
import { open as openEnvelope, seal as sealEnvelope } from '../crypto/aead.js';
import { expiryDayOf, type DataKeyRing } from '../crypto/data-keys.js';
import type { RecordType } from './record.js';
import type { HoldCriteria, LedgerStore, LegalHold, RetentionStore, SealedBody, SealedPrivate } from '../storage/types.js';
import { bodyAad, privateAad, privateClassOf, type Sealer } from './sealer.js';
import type { Ledger } from './writer.js';
import { readSeqs } from './audit-read.js';

export interface HoldContext {
  ledger: LedgerStore;
  retention: RetentionStore;
  ring: DataKeyRing;
  sealer: Sealer;
  /** The gateway's writer: hold records are appended by the node's single writer. */
  writer: Ledger;
  configHash: string;
  now?: () => number;
}

/** The admin request that sets or lifts a hold (AU-3: its record names the source). */
export interface HoldRequest {
  requestId?: string;
  client?: string;
}

export interface ActiveHold {
  hold: LegalHold;
  criteria: HoldCriteria;
}

function holdAad(id: string): Buffer {
  return Buffer.from(`rampart-hold|${id}`, 'utf8');
}

/** Checks criteria: at least one, each of the right type, the range in order. */
export function checkCriteria(c: HoldCriteria): HoldCriteria {
  if (typeof c !== 'object' || c === null) throw holdError('RAMPART_HOLD_INVALID', 'a legal hold needs criteria');
  const out: HoldCriteria = {};
  for (const k of ['principal', 'subject', 'objectId', 'operationId'] as const) {
    const v = c[k];
    if (v === undefined) continue;
    if (typeof v !== 'string' || v.length === 0 || v.length > 512) throw holdError('RAMPART_HOLD_INVALID', `${k} must be a non-empty string of at most 512 characters`);
    out[k] = v;
  }
  for (const k of ['fromTs', 'toTs'] as const) {
    const v = c[k];
    if (v === undefined) continue;
    if (!Number.isSafeInteger(v) || v < 0) throw holdError('RAMPART_HOLD_INVALID', `${k} must be UTC milliseconds`);
    out[k] = v;
  }
  if (out.fromTs !== undefined && out.toTs !== undefined && out.fromTs > out.toTs) throw holdError('RAMPART_HOLD_INVALID', 'fromTs is after toTs');
  if (Object.keys(out).length === 0) throw holdError('RAMPART_HOLD_INVALID', 'a legal hold needs at least one criterion (principal, subject, objectId, operationId, fromTs, toTs)');
  return out;
}

/** The seqs of every record a hold's criteria match (all criteria must match). */
export async function heldSeqs(ledger: LedgerStore, sealer: Sealer, c: HoldCriteria): Promise<number[]> {
  const tags: Buffer[] = [];
  if (c.principal !== undefined) tags.push(sealer.tag('principal', c.principal));
  if (c.subject !== undefined) tags.push(sealer.tag('subject', c.subject));
  if (c.objectId !== undefined) tags.push(sealer.tag('object', c.objectId));
  const out: number[] = [];
  let afterSeq: number | undefined;
  for (;;) {
    const page = await ledger.search({
      limit: 10_000,
      ...(tags.length ? { tags } : {}),
      ...(c.fromTs !== undefined ? { fromTs: c.fromTs } : {}),
      ...(c.toTs !== undefined ? { toTs: c.toTs } : {}),
      ...(c.operationId !== undefined ? { operationId: c.operationId } : {}),
      ...(afterSeq !== undefined ? { afterSeq } : {}),
    });
    for (const r of page) out.push(r.record.seq);
    if (page.length < 10_000) return out;
    afterSeq = page[page.length - 1]!.record.seq;
  }
}

/** The active (not lifted) holds with their criteria opened. */
export async function activeHolds(retention: RetentionStore, ring: DataKeyRing): Promise<ActiveHold[]> {
  const out: ActiveHold[] = [];
  for (const hold of await retention.listHolds()) {
    if (hold.liftedAt !== undefined) continue;
    out.push({ hold, criteria: await openCriteria(hold, ring) });
  }
  return out;
}

/** A hold's criteria, opened with its own key (RAMPART_DATA_KEY_GONE once a lifted hold's key was purged). */
export async function openCriteria(hold: LegalHold, ring: Pick<DataKeyRing, 'keyById'>): Promise<HoldCriteria> {
  const key = await ring.keyById(hold.dekId);
  return JSON.parse(openEnvelope(key, hold.criteriaSealed, holdAad(hold.id)).toString('utf8')) as HoldCriteria;
}

/**
 * Moves the private parts and bodies of `seqs` that are not already under `target` to it,
 * except those whose key is in `keep` (another hold's). `from` limits it to items under that key
 * and `only` to one of the two parts (a lifted hold sends each back under its own class's day
 * key). Returns how many items moved.
 */
export async function resealUnder(
  ctx: Pick<HoldContext, 'ledger' | 'retention' | 'ring'>,
  seqs: readonly number[],
  target: { id: string; key: Buffer },
  keep: ReadonlySet<string> = new Set(),
  o: { from?: string; only?: 'private' | 'bodies' } = {},
): Promise<number> {
  const moves = (dekId: string): boolean => dekId !== target.id && !keep.has(dekId) && (o.from === undefined || dekId === o.from);
  let moved = 0;
  for (let i = 0; i < seqs.length; i += 1000) {
    const chunk = seqs.slice(i, i + 1000);
    const privates: SealedPrivate[] = [];
    const bodies: SealedBody[] = [];
    for (const p of o.only === 'bodies' ? [] : await ctx.ledger.readPrivate(chunk)) {
      const s = p.sealed;
      if (!s || !moves(s.dekId)) continue;
      const plain = openEnvelope(await ctx.ring.keyById(s.dekId), s.sealed, privateAad(s.seq, s.dekId));
      privates.push({ seq: s.seq, dekId: target.id, sealed: sealEnvelope(target.key, plain, privateAad(s.seq, target.id)) });
    }
    for (const b of o.only === 'private' ? [] : await ctx.ledger.readBodies(chunk)) {
      if (!moves(b.dekId)) continue;
      const plain = openEnvelope(await ctx.ring.keyById(b.dekId), b.sealed, bodyAad(b.seq, b.part, b.dekId));
      bodies.push({ seq: b.seq, part: b.part, dekId: target.id, sealed: sealEnvelope(target.key, plain, bodyAad(b.seq, b.part, target.id)) });
    }
    if (privates.length + bodies.length > 0) await ctx.retention.resealItems({ privates, bodies });
    moved += privates.length + bodies.length;
  }
  return moved;
}

/**
 * Sets a hold: stores it, moves what it matches under its key, and records it.
 *
 * @example
 * await setHold(ctx, { subject: 'cust-0042', fromTs: Date.parse('2026-01-01') }, 'alice', 'SEC inquiry 2026-17');
 */
export async function setHold(ctx: HoldContext, criteria: HoldCriteria, by: string, reason: string, req: HoldRequest = {}): Promise<{ hold: LegalHold; items: number }> {
  const c = checkCriteria(criteria);
  const now = (ctx.now ?? Date.now)();
  const id = `hold_${randomBytes(12).toString('base64url')}`;
  const key = await ctx.ring.holdKey(id);
  const hold: LegalHold = { id, criteriaSealed: sealEnvelope(key.key, Buffer.from(JSON.stringify(c), 'utf8'), holdAad(id)), dekId: key.id, createdAt: now, createdBy: by };
  await ctx.retention.insertHold(hold);
  const seqs = await heldSeqs(ctx.ledger, ctx.sealer, c);
  // Items already under another active hold stay there: lifting one hold must not release them.
  const others = new Set((await activeHolds(ctx.retention, ctx.ring)).filter((h) => h.hold.id !== id).map((h) => h.hold.dekId));
  const items = await resealUnder(ctx, seqs, key, others);
  await ctx.writer.append({
    type: 'admin.action',
    ...(req.requestId !== undefined ? { requestId: req.requestId } : {}),
    outcome: 'success',
    reason: 'RAMPART_OK',
    stage: 'admin',
    configHash: ctx.configHash,
    detail: { action: 'hold.set', holdId: id, records: seqs.length, items, fromTs: c.fromTs ?? null, toTs: c.toTs ?? null, operationId: c.operationId ?? null },
    personal: { principal: by, ...(req.client !== undefined ? { clientAddress: req.client } : {}), extra: { reason, ...(c.principal ? { heldPrincipal: c.principal } : {}), ...(c.subject ? { heldSubject: c.subject } : {}), ...(c.objectId ? { heldObject: c.objectId } : {}) } },
  });
  return { hold, items };
}

/**
 * Lifts a hold: its items go back under their day's key, or under another active hold that also
 * matches them; items whose day has passed stay under the hold key, which is then purged with
 * them by the next purge (the hold key's expiry is its lifting).
 */
export async function liftHold(ctx: HoldContext, id: string, by: string, reason: string, req: HoldRequest = {}): Promise<{ released: number }> {
  const now = (ctx.now ?? Date.now)();
  const holds = await activeHolds(ctx.retention, ctx.ring);
  const h = holds.find((x) => x.hold.id === id);
  if (!h) throw holdError('RAMPART_HOLD_NOT_FOUND', `no active legal hold '${id}'`);
  const seqs = await heldSeqs(ctx.ledger, ctx.sealer, h.criteria);
  let released = 0;
  const others = holds.filter((x) => x.hold.id !== id);
  const otherSeqs = new Map<number, ActiveHold>();
  for (const o of others) for (const s of await heldSeqs(ctx.ledger, ctx.sealer, o.criteria)) if (!otherSeqs.has(s)) otherSeqs.set(s, o);
  const records = await recordMeta(ctx.ledger, seqs);
  const today = Math.floor(now / 86_400_000);
  for (const seq of seqs) {
    const other = otherSeqs.get(seq);
    const rec = records.get(seq);
    if (!rec) continue;
    let target: { id: string; key: Buffer } | undefined;
    if (other) target = { id: other.hold.dekId, key: await ctx.ring.keyById(other.hold.dekId) };
    else {
      const cls = privateClassOf(rec.type);
      const day = expiryDayOf(rec.ts, ctx.sealer.retention[cls]);
      if (day < today) continue; // expired while held: leaves with the hold key
      target = await ctx.ring.keyFor(cls, day);
    }
    released += await resealUnder(ctx, [seq], target, undefined, { from: h.hold.dekId, only: 'private' });
    // Bodies have their own class and day.
    const bodyDay = expiryDayOf(rec.ts, ctx.sealer.retention.bodies);
    const bodyTarget = other ? target : bodyDay < today ? undefined : await ctx.ring.keyFor('bodies', bodyDay);
    if (bodyTarget) released += await resealUnder(ctx, [seq], bodyTarget, undefined, { from: h.hold.dekId, only: 'bodies' });
  }
  if (!(await ctx.retention.liftHold(id, now, by))) throw holdError('RAMPART_HOLD_NOT_FOUND', `no active legal hold '${id}'`);
  await ctx.writer.append({
    type: 'admin.action',
    ...(req.requestId !== undefined ? { requestId: req.requestId } : {}),
    outcome: 'success',
    reason: 'RAMPART_OK',
    stage: 'admin',
    configHash: ctx.configHash,
    detail: { action: 'hold.lifted', holdId: id, released },
    personal: { principal: by, ...(req.client !== undefined ? { clientAddress: req.client } : {}), extra: { reason } },
  });
  return { released };
}

/** Type and time of the given records, read in runs of nearby seqs rather than one by one. */
export interface RecordMeta {
  type: RecordType;
  ts: number;
  outcome: string;
  operationId?: string;
}

export async function recordMeta(ledger: LedgerStore, seqs: readonly number[]): Promise<Map<number, RecordMeta>> {
  const out = new Map<number, RecordMeta>();
  for (const [seq, r] of await readSeqs(ledger, seqs)) {
    out.set(seq, { type: r.record.type, ts: r.record.ts, outcome: r.record.outcome, ...(r.record.operationId !== undefined ? { operationId: r.record.operationId } : {}) });
  }
  return out;
}

function holdError(code: string, message: string): Error {
  return Object.assign(new Error(message), { code });
}
