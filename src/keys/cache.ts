/**
 * The gateway's view of the key store: every key in memory, refreshed by polling the store's
 * change counter, so keys created or revoked by the CLI on another process take effect on a
 * running gateway within one poll interval, without a restart and without a database round trip
 * per request.
 *
 * Fail closed: if the store cannot be read for longer than `maxStalenessMs`, a revocation might
 * have been missed, so every key is refused until a refresh succeeds.
 */
import type { ApiKeyRecord, KeyStore } from '../storage/types.js';
import { channels } from '../core/diagnostics.js';
import { keyMatches, parseKey } from './format.js';

export type KeyCheck =
  | { ok: true; key: ApiKeyRecord }
  | { ok: false; reason: 'malformed' | 'unknown' | 'mismatch' | 'revoked' | 'expired' | 'unavailable' };

export interface KeyCacheOptions {
  pollMs?: number;
  maxStalenessMs?: number;
  touchFlushMs?: number;
  onError?: (err: unknown) => void;
  now?: () => number;
}

export class KeyCache {
  readonly #store: KeyStore;
  readonly #secret: Buffer;
  readonly #keys = new Map<string, ApiKeyRecord>();
  readonly #uses = new Map<string, number>();
  readonly #pollMs: number;
  readonly #maxStalenessMs: number;
  readonly #touchFlushMs: number;
  readonly #onError: (err: unknown) => void;
  readonly #now: () => number;
  #cursor = 0;
  #lastRefresh = 0;
  #pollTimer: NodeJS.Timeout | undefined;
  #touchTimer: NodeJS.Timeout | undefined;
  #refreshing: Promise<void> | undefined;
  #queued: Promise<void> | undefined;
  #closed = false;

  private constructor(store: KeyStore, secret: Buffer, o: KeyCacheOptions) {
    this.#store = store;
    this.#secret = secret;
    this.#pollMs = o.pollMs ?? 250;
    this.#maxStalenessMs = o.maxStalenessMs ?? 30_000;
    this.#touchFlushMs = o.touchFlushMs ?? 5_000;
    this.#onError = o.onError ?? (() => {});
    this.#now = o.now ?? Date.now;
  }

  static async start(store: KeyStore, secret: Buffer, opts: KeyCacheOptions = {}): Promise<KeyCache> {
    const c = new KeyCache(store, secret, opts);
    await c.refresh();
    c.#schedule();
    return c;
  }

  #schedule(): void {
    if (this.#closed) return;
    this.#pollTimer = setTimeout(() => {
      this.refresh().catch(this.#onError).finally(() => this.#schedule());
    }, this.#pollMs);
    this.#pollTimer.unref();
    if (!this.#touchTimer) {
      this.#touchTimer = setInterval(() => void this.flushUses(), this.#touchFlushMs);
      this.#touchTimer.unref();
    }
  }

  /**
   * Pulls changes since the last cursor. A poll already in flight may have started before the
   * caller's change was written, so a caller always gets a poll that starts after its call;
   * callers arriving while one is queued share it.
   */
  refresh(): Promise<void> {
    if (this.#queued) return this.#queued;
    if (!this.#refreshing) return this.#startRefresh();
    this.#queued = this.#refreshing.catch(() => {}).then(() => {
      this.#queued = undefined;
      return this.#startRefresh();
    });
    return this.#queued;
  }

  #startRefresh(): Promise<void> {
    const p = (async () => {
      try {
        const { cursor, keys } = await this.#store.changesSince(this.#cursor);
        for (const k of keys) this.#keys.set(k.id, k);
        this.#cursor = cursor;
        this.#lastRefresh = this.#now();
        if (keys.length > 0) channels.keysRefresh.publish({ changed: keys.length, cursor });
      } finally {
        this.#refreshing = undefined;
      }
    })();
    this.#refreshing = p;
    return p;
  }

  get fresh(): boolean {
    return this.#now() - this.#lastRefresh <= this.#maxStalenessMs;
  }

  get size(): number {
    return this.#keys.size;
  }

  /** Checks a presented key string. Constant-time on the secret; records last use (batched). */
  check(presented: string): KeyCheck {
    const parsed = parseKey(presented);
    if (!parsed) return { ok: false, reason: 'malformed' };
    if (!this.fresh) return { ok: false, reason: 'unavailable' };
    const key = this.#keys.get(parsed.id);
    if (!key) return { ok: false, reason: 'unknown' };
    if (!keyMatches(this.#secret, parsed.id, parsed.secret, key.hash)) return { ok: false, reason: 'mismatch' };
    const now = this.#now();
    // A revocation may be scheduled (a rotation's grace period): it takes effect at revokedAt.
    if (key.revokedAt !== undefined && key.revokedAt <= now) return { ok: false, reason: 'revoked' };
    if (key.expiresAt !== undefined && key.expiresAt <= now) return { ok: false, reason: 'expired' };
    this.#uses.set(key.id, now);
    return { ok: true, key };
  }

  /**
   * The key record behind an already verified credential (an access token names its client, the
   * key it was issued to): refused when that key has been revoked or has expired since, so
   * revoking a key ends its tokens at once. Records the use like check() does.
   */
  client(id: string): KeyCheck {
    if (!this.fresh) return { ok: false, reason: 'unavailable' };
    const key = this.#keys.get(id);
    if (!key) return { ok: false, reason: 'unknown' };
    const now = this.#now();
    if (key.revokedAt !== undefined && key.revokedAt <= now) return { ok: false, reason: 'revoked' };
    if (key.expiresAt !== undefined && key.expiresAt <= now) return { ok: false, reason: 'expired' };
    this.#uses.set(key.id, now);
    return { ok: true, key };
  }

  async flushUses(): Promise<void> {
    if (this.#uses.size === 0) return;
    const batch = new Map(this.#uses);
    this.#uses.clear();
    try {
      await this.#store.touch(batch);
    } catch (err) {
      this.#onError(err);
    }
  }

  async close(): Promise<void> {
    this.#closed = true;
    if (this.#pollTimer) clearTimeout(this.#pollTimer);
    if (this.#touchTimer) clearInterval(this.#touchTimer);
    if (this.#refreshing) await this.#refreshing.catch(() => {});
    await this.flushUses();
  }
}
