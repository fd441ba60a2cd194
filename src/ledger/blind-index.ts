/**
 * Blind index tags (RSP-2: "who accessed which customer records between t1 and t2"). The ledger
 * keeps principals, subjects and object ids only sealed (ENC-5), yet must answer by them in well
 * under a second over millions of records. Each value a record names is stored as a tag: the
 * first 16 bytes of HMAC-SHA256(index key, kind || 0x00 || value). Without the index key (a data
 * key of its own class, wrapped by the KEK like every other) a tag reveals nothing, and a guess
 * at a small value such as an account number cannot be tested offline. The kind is part of the
 * MAC so that a subject and a principal with the same text give different tags.
 *
 * 128 bits keep collisions out of reach at any realistic ledger size (2^64 values for a 50%
 * chance), and a false match would only add a record to a result, which shows its own values.
 */
import { createHmac, hash } from 'node:crypto';

export type IndexKind = 'principal' | 'subject' | 'object';

/** The data key class and "expiry day" of the index key: it never expires (purges skip it). */
export const INDEX_KEY_CLASS = 'index';
export const INDEX_KEY_DAY = 2_147_483_646; // one below HOLD_EXPIRY_DAY, which keyFor() reserves for holds

export const TAG_BYTES = 16;

/**
 * @example
 * const tag = blindTag(indexKey, 'subject', 'cust-0042'); // 16 bytes, stored in ledger_index
 */
export function blindTag(key: Buffer, kind: IndexKind, value: string): Buffer {
  return createHmac('sha256', key).update(kind).update('\u0000').update(value, 'utf8').digest().subarray(0, TAG_BYTES);
}

/** SHA-256's block size: HMAC pads its key to this (RFC 2104). */
const BLOCK = 64;
const KINDS: readonly IndexKind[] = ['principal', 'subject', 'object'];

/**
 * blindTag with the key fixed: the same tags, computed as RFC 2104 defines HMAC,
 * H((K ^ opad) || H((K ^ ipad) || message)), with the two padded keys prepared once and each
 * hash a one-shot call. The writer derives two to four tags per record on the event loop, and
 * an Hmac object per tag cost about three times as much (docs/benchmarks.md). Keys longer than
 * a block are first hashed, as HMAC does; the index key is 32 bytes.
 *
 * @example
 * const tag = blindTagger(indexKey); tag('subject', 'cust-0042').equals(blindTag(indexKey, 'subject', 'cust-0042')); // true
 */
export function blindTagger(key: Buffer): (kind: IndexKind, value: string) => Buffer {
  const k = key.length > BLOCK ? hash('sha256', key, 'buffer') : key;
  // One scratch buffer per tagger: ipad-key || kind || 0x00 || value; grown for long values.
  let inner = Buffer.alloc(BLOCK + 256);
  const outer = Buffer.alloc(BLOCK + 32);
  for (let i = 0; i < BLOCK; i++) {
    const b = i < k.length ? k[i]! : 0;
    inner[i] = b ^ 0x36;
    outer[i] = b ^ 0x5c;
  }
  const kindBytes = new Map(KINDS.map((kind) => [kind, Buffer.from(`${kind}\u0000`, 'utf8')]));
  return (kind, value) => {
    const prefix = kindBytes.get(kind);
    if (!prefix) throw new TypeError(`blind index: unknown kind '${String(kind)}'`);
    if (typeof value !== 'string') throw new TypeError('blind index: the value must be a string');
    const max = BLOCK + prefix.length + 3 * value.length;
    if (inner.length < max) {
      const grown = Buffer.alloc(max);
      inner.copy(grown, 0, 0, BLOCK);
      inner = grown;
    }
    prefix.copy(inner, BLOCK);
    const end = BLOCK + prefix.length + inner.write(value, BLOCK + prefix.length, 'utf8');
    // Hashed as latin1 ("binary") strings: a one-shot Buffer digest costs several times more on Node 20.
    outer.write(hash('sha256', new Uint8Array(inner.buffer, inner.byteOffset, end), 'binary'), BLOCK, 'latin1');
    // A buffer of its own (not a slice of the shared pool): tags cross to the storage thread.
    const tag = Buffer.alloc(TAG_BYTES);
    tag.write(hash('sha256', outer, 'binary'), 0, TAG_BYTES, 'latin1');
    return tag;
  };
}
