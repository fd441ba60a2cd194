/**
 * Salted commitments to what the chain must not hold in clear (DESIGN.md, the ledger): personal
 * fields and message bodies. Each commitment is HMAC-SHA256 keyed by a fresh random 256-bit
 * salt, so that a small value (an SSN, an account number) cannot be found by hashing guesses;
 * the salt is stored only in the private part, beside the value, and is purged with it. After a
 * purge the chain still verifies, but the commitment no longer reveals anything.
 */
import { createHmac, randomFillSync, timingSafeEqual, type Hmac } from 'node:crypto';
import { canonicalize } from './canonical.js';
import type { BodyCommitment, PersonalFields } from './record.js';

const SALT_BYTES = 32;

// Salts come from a pool refilled 64 at a time: one CSPRNG call per 64 salts instead of one each.
const pool = Buffer.alloc(SALT_BYTES * 64);
let poolOffset = pool.length;

/** A fresh random 256-bit salt. */
export function newSalt(): Buffer {
  if (poolOffset + SALT_BYTES > pool.length) {
    randomFillSync(pool);
    poolOffset = 0;
  }
  const salt = Buffer.from(pool.subarray(poolOffset, poolOffset + SALT_BYTES));
  pool.fill(0, poolOffset, poolOffset + SALT_BYTES);
  poolOffset += SALT_BYTES;
  return salt;
}

/** Incremental commitment to a streamed body: feed chunks as they pass, then `finish()`. */
export interface BodyCommitter {
  update(chunk: Uint8Array | string): void;
  /** The commitment; the committer cannot be used afterwards. */
  finish(): BodyCommitment;
  /** Bytes seen so far. */
  readonly length: number;
}

/**
 * Starts a body commitment keyed by a fresh salt. Nothing is buffered, so a body of any size is
 * committed as it streams through.
 *
 * @example
 * const c = newBodyCommitter();
 * req.on('data', (chunk) => c.update(chunk));
 * req.on('end', () => { input.bodies = { request: c.finish() }; });
 */
export function newBodyCommitter(): BodyCommitter {
  const salt = newSalt();
  const hmac: Hmac = createHmac('sha256', salt);
  let length = 0;
  let done = false;
  return {
    update(chunk) {
      if (done) throw new TypeError('body committer already finished');
      const buf = typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : chunk;
      hmac.update(buf);
      length += buf.byteLength;
    },
    finish() {
      if (done) throw new TypeError('body committer already finished');
      done = true;
      return { mac: hmac.digest('hex'), salt: salt.toString('hex'), length };
    },
    get length() {
      return length;
    },
  };
}

/** Commitment to a body held in memory (same result as feeding it to newBodyCommitter at once). */
export function commitBody(body: Uint8Array | string): BodyCommitment {
  const c = newBodyCommitter();
  c.update(body);
  return c.finish();
}

/** True when `body` is what `commitment` committed to. */
export function verifyBodyCommit(body: Uint8Array | string, commitment: { mac: string; salt: string }): boolean {
  const buf = typeof body === 'string' ? Buffer.from(body, 'utf8') : body;
  const mac = createHmac('sha256', Buffer.from(commitment.salt, 'hex')).update(buf).digest();
  return sameHex(mac, commitment.mac);
}

/**
 * Commitment to the personal fields of a record: hex HMAC-SHA256(salt, canonical(fields)).
 *
 * @example
 * const { commit, salt } = commitPersonal({ principal: 'alice', clientAddress: '192.0.2.7' });
 * // record.personalCommit = commit; privatePart.personalSalt = salt
 */
export function commitPersonal(fields: PersonalFields): { commit: string; salt: string } {
  const salt = newSalt();
  const commit = createHmac('sha256', salt).update(canonicalize(fields), 'utf8').digest('hex');
  return { commit, salt: salt.toString('hex') };
}

/** True when `fields` with `salt` give `commit` (used by verification and evidence export). */
export function verifyPersonalCommit(fields: PersonalFields, salt: string, commit: string): boolean {
  const mac = createHmac('sha256', Buffer.from(salt, 'hex')).update(canonicalize(fields), 'utf8').digest();
  return sameHex(mac, commit);
}

function sameHex(mac: Buffer, hex: string): boolean {
  if (!/^[0-9a-f]{64}$/.test(hex)) return false;
  return timingSafeEqual(mac, Buffer.from(hex, 'hex'));
}
