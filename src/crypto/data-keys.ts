/**
 * The ring of data keys (DEKs) that seal the ledger's private parts and bodies: one DEK per
 * (record class, expiry day) (ENC-5), each stored only wrapped by a KEK (ENC-6), together with
 * the KEK version that wrapped it, so records stay readable for their whole retention.
 *
 * Why per expiry day: disposal (RSP-7) then needs no rewrite of any record. Purging a day deletes
 * the wrapped DEK rows whose day has passed, after forget() drops the cached copies; every
 * envelope sealed under those keys becomes unreadable at once (crypto-shredding) in this store. A
 * backup or replica keeps its own wrapped copy until it expires there, or until the KEK version
 * that wrapped it is destroyed (rotate-kek, then retire the old version in the HSM). A legal hold re-seals the held items under a hold key
 * (holdKey(): record class 'hold', no expiry) before their day's key is purged.
 *
 * A wrapped DEK is bound to its identity by the wrap AAD `rampart-dek|<id>|<class>|<expiryDay>`:
 * a wrapped key copied onto another row (to make a purged day readable again under another
 * day's id, or to move data between classes) does not unwrap.
 *
 * Several nodes share one store. The first node that needs (class, day) creates the DEK; if two
 * race, the store accepts one insert (insertDataKey returns false for the other) and the loser
 * re-reads and uses the winner's key, so every node seals a day's items under the same key.
 *
 * Plaintext DEKs live only in this ring's LRU cache. forget() zeroes them (purge calls it before
 * deleting rows). An entry pushed out of the cache by newer ones is dropped without zeroing,
 * because a caller may be sealing with it at that moment; aead.seal refuses an all-zero key, so
 * a forgotten key can never silently seal data.
 */
import { randomBytes } from 'node:crypto';
import { AEAD_KEY_BYTES, CryptoError } from './aead.js';
import type { KeyEncryptionKeyProvider } from './kek/provider.js';

// The stores implement DataKeyStore (src/storage/types.ts, where the storage interfaces live).
export type { DataKeyStore, WrappedDataKey } from '../storage/types.js';
import type { DataKeyStore, WrappedDataKey } from '../storage/types.js';

/** Record class of legal-hold keys; reserved, keyFor() refuses it. */
export const HOLD_RECORD_CLASS = 'hold';
/**
 * Expiry day stored with hold keys: the largest 32-bit integer (year 5.8 million), so a purge
 * by `expiryDayBefore` never selects one. A hold key leaves only when its hold is released.
 */
export const HOLD_EXPIRY_DAY = 2_147_483_647;

const DAY_MS = 86_400_000;
const REWRAP_BATCH = 100;

/**
 * The UTC day (days since 1970-01-01) on which an item written at `ts` (UTC ms) reaches the end
 * of a `retentionDays` retention. A day may be purged once it has fully passed
 * (`expiryDay < expiryDayOf(now, 0)`), so no item is disposed of before its retention ends
 * (R17a4-1, RSP-7).
 *
 * @example
 * expiryDayOf(Date.UTC(2025, 0, 15, 13), 2191); // 22_294: 2031-01-15, six years on
 */
export function expiryDayOf(ts: number, retentionDays: number): number {
  if (!Number.isFinite(ts)) throw new TypeError(`expiryDayOf: ts must be a UTC timestamp in ms, got ${ts}`);
  if (!Number.isSafeInteger(retentionDays) || retentionDays < 0) throw new TypeError(`expiryDayOf: retentionDays must be a whole number of days ≥ 0, got ${retentionDays}`);
  return Math.floor(ts / DAY_MS) + retentionDays;
}

/** The wrap AAD that ties a wrapped DEK to its row. */
function dekAad(k: { id: string; recordClass: string; expiryDay: number }): Buffer {
  return Buffer.from(`rampart-dek|${k.id}|${k.recordClass}|${k.expiryDay}`, 'utf8');
}

function checkClass(recordClass: string, what: string): void {
  if (typeof recordClass !== 'string' || recordClass === '' || recordClass.includes('|')) {
    throw new TypeError(`${what}: recordClass must be a non-empty string without '|', got ${JSON.stringify(recordClass)}`);
  }
}

function checkDay(expiryDay: number, what: string): void {
  if (!Number.isSafeInteger(expiryDay) || expiryDay < 0 || expiryDay >= HOLD_EXPIRY_DAY) {
    throw new TypeError(`${what}: expiryDay must be a whole UTC day number (see expiryDayOf), got ${expiryDay}`);
  }
}

/** `dk_` + 16 random bytes in base64url. */
function newDataKeyId(): string {
  return `dk_${randomBytes(16).toString('base64url')}`;
}

export class DataKeyRing {
  readonly #store: DataKeyStore;
  readonly #kek: KeyEncryptionKeyProvider;
  readonly #now: () => number;
  readonly #cacheSize: number;
  /** id -> plaintext key, in LRU order (oldest first). */
  readonly #keys = new Map<string, Buffer>();
  /** `${class}|${day}` -> id of its (non-hold) key, for the entries in #keys. */
  readonly #byDay = new Map<string, string>();
  readonly #dayOf = new Map<string, string>();
  /** In-flight loads, so concurrent callers share one store round trip and one unwrap. */
  readonly #pending = new Map<string, Promise<{ id: string; key: Buffer }>>();

  /**
   * @example
   * const ring = new DataKeyRing(storage.dataKeys, await openKekProvider(config.kek));
   * const { id, key } = ring.cachedKeyFor('exchange', day) ?? await ring.keyFor('exchange', day);
   * const envelope = seal(key, privatePart, Buffer.from(`rampart-priv|${seq}|${id}`));
   */
  constructor(store: DataKeyStore, kek: KeyEncryptionKeyProvider, opts: { now?: () => number; cacheSize?: number } = {}) {
    this.#store = store;
    this.#kek = kek;
    this.#now = opts.now ?? Date.now;
    this.#cacheSize = opts.cacheSize ?? 512;
    if (!Number.isSafeInteger(this.#cacheSize) || this.#cacheSize < 1) throw new TypeError(`DataKeyRing: cacheSize must be a positive integer, got ${opts.cacheSize}`);
  }

  #remember(id: string, key: Buffer, day?: string): void {
    this.#keys.delete(id);
    this.#keys.set(id, key);
    if (day !== undefined) {
      this.#byDay.set(day, id);
      this.#dayOf.set(id, day);
    }
    while (this.#keys.size > this.#cacheSize) {
      const oldest = this.#keys.keys().next().value!;
      this.#drop(oldest); // not zeroed: a caller may hold it right now (see header)
    }
  }

  #drop(id: string): Buffer | undefined {
    const key = this.#keys.get(id);
    this.#keys.delete(id);
    const day = this.#dayOf.get(id);
    if (day !== undefined) {
      this.#dayOf.delete(id);
      if (this.#byDay.get(day) === id) this.#byDay.delete(day);
    }
    return key;
  }

  /** Synchronous cache hit or undefined (the writer's hot path calls this first). */
  cachedKeyFor(recordClass: string, expiryDay: number): { id: string; key: Buffer } | undefined {
    const id = this.#byDay.get(`${recordClass}|${expiryDay}`);
    if (id === undefined) return undefined;
    const key = this.#keys.get(id)!;
    this.#keys.delete(id); // most recently used
    this.#keys.set(id, key);
    return { id, key };
  }

  /**
   * The DEK for items of `recordClass` that expire on `expiryDay`; created (random 32 bytes,
   * wrapped, inserted) on first use; on an insert race re-reads the winner. Cached unwrapped.
   */
  keyFor(recordClass: string, expiryDay: number): Promise<{ id: string; key: Buffer }> {
    checkClass(recordClass, 'keyFor');
    if (recordClass === HOLD_RECORD_CLASS) throw new TypeError(`keyFor: record class '${HOLD_RECORD_CLASS}' is reserved for legal-hold keys (use holdKey)`);
    checkDay(expiryDay, 'keyFor');
    const hit = this.cachedKeyFor(recordClass, expiryDay);
    if (hit) return Promise.resolve(hit);
    const day = `${recordClass}|${expiryDay}`;
    const pending = this.#pending.get(`day:${day}`);
    if (pending) return pending;
    const load = (async () => {
      const found = (await this.#store.findDataKey(recordClass, expiryDay)) ?? (await this.#create(recordClass, expiryDay));
      const key = await this.#unwrap(found);
      this.#remember(found.id, key, day);
      return { id: found.id, key };
    })().finally(() => this.#pending.delete(`day:${day}`));
    this.#pending.set(`day:${day}`, load);
    return load;
  }

  /** Creates and inserts a DEK for (class, day); returns the row that won (ours or a racer's). */
  async #create(recordClass: string, expiryDay: number): Promise<WrappedDataKey> {
    const row = await this.#newRow(recordClass, expiryDay, undefined);
    if (await this.#store.insertDataKey(row.wrappedKey)) {
      row.key.fill(0); // #unwrap of the stored row proves the wrap round-trips; this copy is not needed
      return row.wrappedKey;
    }
    row.key.fill(0);
    const winner = await this.#store.findDataKey(recordClass, expiryDay);
    if (!winner) {
      // A store that breaks its contract (insertDataKey false means another key exists) is a bug.
      throw new Error(`the data-key store refused a key for (${recordClass}, day ${expiryDay}) as a duplicate but holds none for it`);
    }
    return winner;
  }

  async #newRow(recordClass: string, expiryDay: number, holdId: string | undefined): Promise<{ key: Buffer; wrappedKey: WrappedDataKey }> {
    const id = newDataKeyId();
    const key = randomBytes(AEAD_KEY_BYTES);
    const { kekId, wrapped } = await this.#kek.wrap(key, dekAad({ id, recordClass, expiryDay }));
    const wrappedKey: WrappedDataKey = { id, recordClass, expiryDay, kekId, wrapped, createdAt: this.#now() };
    if (holdId !== undefined) wrappedKey.holdId = holdId;
    return { key, wrappedKey };
  }

  async #unwrap(k: WrappedDataKey): Promise<Buffer> {
    const key = await this.#kek.unwrap(k.kekId, k.wrapped, dekAad(k));
    if (key.length !== AEAD_KEY_BYTES) {
      key.fill(0);
      throw new CryptoError('RAMPART_DECRYPT_FAILED', `data key ${k.id} unwrapped to ${key.length} bytes, not ${AEAD_KEY_BYTES}`);
    }
    return key;
  }

  /**
   * The plaintext DEK `id` (reading a record). Throws RAMPART_DATA_KEY_GONE when the key was
   * purged: whatever it sealed is crypto-shredded (RSP-7).
   */
  keyById(id: string): Promise<Buffer> {
    const cached = this.#keys.get(id);
    if (cached) return Promise.resolve(cached);
    const pending = this.#pending.get(`id:${id}`);
    if (pending) return pending.then((k) => k.key);
    const load = (async () => {
      const row = await this.#store.getDataKey(id);
      if (!row) throw new CryptoError('RAMPART_DATA_KEY_GONE', `data key ${id} no longer exists: it was purged, and what it sealed is crypto-shredded`);
      const key = await this.#unwrap(row);
      this.#remember(id, key, row.holdId === undefined ? `${row.recordClass}|${row.expiryDay}` : undefined);
      return { id, key };
    })().finally(() => this.#pending.delete(`id:${id}`));
    this.#pending.set(`id:${id}`, load);
    return load.then((k) => k.key);
  }

  /** A fresh DEK for a legal hold (recordClass 'hold', holdId set), used to re-wrap held items. */
  async holdKey(holdId: string): Promise<{ id: string; key: Buffer }> {
    if (typeof holdId !== 'string' || holdId === '') throw new TypeError('holdKey: holdId must be a non-empty string');
    const { key, wrappedKey } = await this.#newRow(HOLD_RECORD_CLASS, HOLD_EXPIRY_DAY, holdId);
    if (!(await this.#store.insertDataKey(wrappedKey))) {
      key.fill(0);
      throw new Error(`the data-key store refused hold key ${wrappedKey.id} for hold ${holdId}; insertDataKey must accept every hold key`);
    }
    this.#remember(wrappedKey.id, key);
    return { id: wrappedKey.id, key };
  }

  /**
   * Re-wraps every DEK not already under the current KEK version with it (after kek.rotate());
   * returns how many. Safe to rerun after an interruption: rows already re-wrapped are skipped.
   */
  async rewrapAll(onProgress?: (done: number, total: number) => void): Promise<number> {
    const current = this.#kek.currentKeyId();
    const stale = (await this.#store.listDataKeys()).filter((k) => k.kekId !== current);
    let done = 0;
    onProgress?.(0, stale.length);
    for (let i = 0; i < stale.length; i += REWRAP_BATCH) {
      const updates: { id: string; kekId: string; wrapped: Buffer }[] = [];
      for (const k of stale.slice(i, i + REWRAP_BATCH)) {
        const key = await this.#unwrap(k);
        try {
          const { kekId, wrapped } = await this.#kek.wrap(key, dekAad(k));
          updates.push({ id: k.id, kekId, wrapped });
        } finally {
          key.fill(0);
        }
      }
      await this.#store.rewrapDataKeys(updates);
      done += updates.length;
      onProgress?.(done, stale.length);
    }
    return done;
  }

  /** Drops cached plaintext keys (all, or those ids) and zeroes them; the purge calls it before deleting rows. */
  forget(ids?: readonly string[]): void {
    for (const id of ids ?? [...this.#keys.keys()]) this.#drop(id)?.fill(0);
  }
}
