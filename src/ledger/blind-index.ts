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
import { createHmac } from 'node:crypto';

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
