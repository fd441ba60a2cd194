/**
 * Seals what the chain must not hold in clear (DESIGN.md, the ledger; ENC-5, ENC-6, RSP-7): the
 * private part of each record and the captured bodies, each with AES-256-GCM under the data key
 * of its (record class, expiry day), and derives the blind index tags that let the ledger be
 * searched by principal, subject and object id without those values (./blind-index.ts).
 *
 * Why per (class, expiry day): purging a day then means deleting one wrapped key and its rows
 * (crypto-shredding), and retention differs per class (bodies 3 years, records 6: R17a4-1/2,
 * R4511-1). The expiry day is computed from the record's own time, so every item of a day's key
 * expires together.
 *
 * The AAD of each envelope names what it belongs to (seq, part, key id), so an envelope copied
 * onto another row does not open. Keys are fetched (and created) asynchronously by ready(), once
 * per class and day; seal() then runs synchronously inside the writer's batch loop.
 */
import { randomBytes } from 'node:crypto';
import { open as openEnvelope, seal as sealEnvelope } from '../crypto/aead.js';
import { expiryDayOf, type DataKeyRing } from '../crypto/data-keys.js';
import type { IndexEntry, SealedBody, SealedPrivate, StoredPrivate } from '../storage/types.js';
import { blindTagger, INDEX_KEY_CLASS, INDEX_KEY_DAY, type IndexKind } from './blind-index.js';
import type { CapturedBodyInput, LedgerRecord, PrivatePart, RecordType } from './record.js';

/** Retention per record class in days (R17a4-1/2, R4511-1, AU-11). */
export interface RetentionDays {
  /** Chained metadata of exchanges (decision and completion records). */
  exchange: number;
  /** Private parts of exchange records (principal, addresses, object ids). */
  personal: number;
  /** Captured request and response bodies (business communications, R17a4-2). */
  bodies: number;
  /** Admin actions, config changes, approvals: metadata and private parts. */
  admin: number;
  /** Security events: metadata and private parts. */
  security: number;
  /** System events (start, stop, checkpoints, purge receipts, verification results). */
  system: number;
}

/** Six years for records (R17a4-1, R4511-1), three for communications (R17a4-2). */
export const DEFAULT_RETENTION_DAYS: RetentionDays = {
  exchange: 6 * 365 + 2,
  personal: 6 * 365 + 2,
  bodies: 3 * 365 + 1,
  admin: 6 * 365 + 2,
  security: 6 * 365 + 2,
  system: 6 * 365 + 2,
};

export type PrivateClass = 'personal' | 'admin' | 'security' | 'system';

/** The data key class of a record's private part (exchange records: `personal`). */
export function privateClassOf(type: RecordType): PrivateClass {
  const c = metadataClassOf(type);
  return c === 'exchange' ? 'personal' : c;
}

/** The retention class of a record's chained metadata. */
export function metadataClassOf(type: RecordType): 'exchange' | 'admin' | 'security' | 'system' {
  return METADATA_CLASS[type];
}

const METADATA_CLASS: Record<RecordType, 'exchange' | 'admin' | 'security' | 'system'> = {
  'exchange.decision': 'exchange',
  'exchange.completion': 'exchange',
  'admin.action': 'admin',
  'security.event': 'security',
  'system.event': 'system',
};

export function privateAad(seq: number, dekId: string): Buffer {
  return Buffer.from(`rampart-private|${seq}|${dekId}`, 'utf8');
}

export function bodyAad(seq: number, part: 'request' | 'response', dekId: string): Buffer {
  return Buffer.from(`rampart-body|${seq}|${part}|${dekId}`, 'utf8');
}

export interface SealInput {
  record: LedgerRecord;
  priv: PrivatePart;
  captured?: { request?: CapturedBodyInput; response?: CapturedBodyInput } | undefined;
}

export interface SealedItems {
  priv?: SealedPrivate;
  bodies?: SealedBody[];
  index?: IndexEntry[];
}

export interface Sealer {
  readonly retention: Readonly<RetentionDays>;
  /** Makes the data keys these records need available to seal() (creating a day's key on first use). */
  ready(items: readonly { type: RecordType; ts: number; bodies: boolean }[]): Promise<void>;
  /** Seals one record's private part and bodies and derives its index entries; record.seq must be final. */
  seal(input: SealInput): SealedItems;
  /** Opens a stored private part (sealed, or clear from before encryption). RAMPART_DATA_KEY_GONE when purged. */
  openPrivate(row: StoredPrivate): Promise<PrivatePart>;
  openBody(b: SealedBody): Promise<CapturedBodyInput>;
  /** The blind index tag of a value (searches compute the same tags as appends). */
  tag(kind: IndexKind, value: string): Buffer;
}

/**
 * @example
 * const sealer = await createSealer(ring, DEFAULT_RETENTION_DAYS);
 * const ledger = await createLedger(storage.ledger, { node: 'gw-1', maxBatch: 256, sealer });
 */
export async function createSealer(ring: DataKeyRing, retention: RetentionDays = DEFAULT_RETENTION_DAYS, opts: { readOnly?: boolean } = {}): Promise<Sealer> {
  const indexKey = await indexKeyOf(ring, opts.readOnly === true);
  const slot = (cls: string, ts: number): { cls: string; day: number } => ({ cls, day: expiryDayOf(ts, retention[cls as keyof RetentionDays]) });
  const RESOLVED = Promise.resolve();

  // The ring's cache is the one place plaintext day keys live: a key the purge forgot is gone
  // from it, so the next record of that day fetches (or creates) its key again.
  function keyOf(cls: string, ts: number): { id: string; key: Buffer } {
    const s = slot(cls, ts);
    const k = ring.cachedKeyFor(s.cls, s.day);
    if (!k) throw new Error(`ledger sealer: no data key ready for class ${cls} at ${ts} (ready() was not awaited)`);
    return k;
  }

  // HMAC pads prepared once for the index key (./blind-index.ts): two to four tags per record.
  const tag = blindTagger(indexKey);

  return {
    retention: Object.freeze({ ...retention }),
    ready(items) {
      // Synchronous when every key is cached (every batch but the first of a day).
      let missing: Promise<unknown>[] | undefined;
      const check = (cls: string, ts: number): void => {
        const s = slot(cls, ts);
        if (!ring.cachedKeyFor(s.cls, s.day)) (missing ??= []).push(ring.keyFor(s.cls, s.day));
      };
      for (const it of items) {
        check(privateClassOf(it.type), it.ts);
        if (it.bodies) check('bodies', it.ts);
      }
      return missing ? Promise.all(missing).then(() => undefined) : RESOLVED;
    },
    seal({ record, priv, captured }) {
      const out: SealedItems = {};
      const seq = record.seq;
      const hasPrivate = priv.personal !== undefined || priv.personalSalt !== undefined || priv.requestBodySalt !== undefined || priv.responseBodySalt !== undefined;
      if (hasPrivate) {
        const k = keyOf(privateClassOf(record.type), record.ts);
        out.priv = { seq, dekId: k.id, sealed: sealEnvelope(k.key, Buffer.from(JSON.stringify(priv), 'utf8'), privateAad(seq, k.id)) };
      }
      const bodies: SealedBody[] = [];
      for (const part of ['request', 'response'] as const) {
        const c = captured?.[part];
        if (!c) continue;
        const k = keyOf('bodies', record.ts);
        bodies.push({ seq, part, dekId: k.id, sealed: sealEnvelope(k.key, Buffer.from(JSON.stringify(c), 'utf8'), bodyAad(seq, part, k.id)) });
      }
      if (bodies.length > 0) out.bodies = bodies;
      const index = indexEntries(record, priv, captured, tag);
      if (index.length > 0) out.index = index;
      return out;
    },
    async openPrivate(row) {
      if (row.plain) return row.plain;
      const s = row.sealed;
      const key = await ring.keyById(s.dekId);
      const p = JSON.parse(openEnvelope(key, s.sealed, privateAad(s.seq, s.dekId)).toString('utf8')) as PrivatePart;
      if (p.seq !== s.seq) throw Object.assign(new Error(`ledger: the private part stored for seq ${s.seq} is labelled seq ${p.seq}`), { code: 'RAMPART_DECRYPT_FAILED' });
      return p;
    },
    async openBody(b) {
      const key = await ring.keyById(b.dekId);
      return JSON.parse(openEnvelope(key, b.sealed, bodyAad(b.seq, b.part, b.dekId)).toString('utf8')) as CapturedBodyInput;
    },
    tag,
  };
}

/**
 * The index key, created with the first records. A read-only reader (the audit CLI) of a ledger
 * that has none yet cannot create it; nothing was indexed then, so a random key (matching nothing)
 * gives the right answer: no records.
 */
async function indexKeyOf(ring: DataKeyRing, readOnly: boolean): Promise<Buffer> {
  try {
    return (await ring.keyFor(INDEX_KEY_CLASS, INDEX_KEY_DAY)).key;
  } catch (err) {
    if (!readOnly) throw err;
    return randomBytes(32);
  }
}

/** The distinct principal, subject and object tags a record names. */
function indexEntries(record: LedgerRecord, priv: PrivatePart, captured: SealInput['captured'], tag: (k: IndexKind, v: string) => Buffer): IndexEntry[] {
  const out: IndexEntry[] = [];
  // A record usually names a handful of values: comparing with each is cheaper than a set of
  // keys. Bodies may name up to 100 subjects each; from 8 entries on, a set takes over.
  let seen: Set<string> | undefined;
  const add = (kind: IndexKind, value: string | undefined): void => {
    if (value === undefined || value === '') return;
    const t = tag(kind, value);
    if (seen) {
      const key = t.toString('latin1');
      if (seen.has(key)) return;
      seen.add(key);
    } else {
      for (const e of out) if (e.tag.equals(t)) return;
      if (out.length === 7) seen = new Set([...out.map((e) => e.tag.toString('latin1')), t.toString('latin1')]);
    }
    out.push({ seq: record.seq, ts: record.ts, tag: t });
  };
  const p = priv.personal;
  if (p) {
    add('principal', p.principal);
    add('subject', p.subject);
    if (p.pathParams) for (const v of Object.values(p.pathParams)) add('object', v);
    const obj = p.extra?.object;
    // extra.object is `kind:id` (authorization's denial): index the id.
    if (obj !== undefined) add('object', obj.slice(obj.indexOf(':') + 1));
    add('subject', p.extra?.owner);
  }
  for (const part of ['request', 'response'] as const) {
    for (const s of captured?.[part]?.subjects ?? []) add('subject', s);
  }
  return out;
}
