/**
 * Runs checkChainPage (./packed-chain.ts) on a second thread (./verify-worker.ts), or inline when
 * there is no point (a page that is not followed by another) or no thread can be had. Either way
 * the same function gives the same answer; the thread only lets the verifier read, hash and fold
 * the Merkle tree at the same time (R17a4-6: a full verification of a large ledger within the
 * hour the scheduler allows it, on a small machine).
 *
 * Fail closed: if the thread dies or refuses a page, that page is checked inline, and so is every
 * later one; an error inline is thrown to the verifier, which then reports nothing as verified.
 */
import { Worker } from 'node:worker_threads';
import type { PackedChainPage } from '../storage/types.js';
import { checkChainPage, type PageCheck } from './packed-chain.js';
import type { HashReply, HashRequest } from './verify-worker.js';

export interface ChainHasher {
  /**
   * checkChainPage(page, expected, prevChainHash). `offload` says whether the page is worth the
   * thread (the verifier has more pages to read meanwhile); the page must not change until settled.
   */
  check(page: PackedChainPage, expected: number, prevChainHash: string, offload: boolean): Promise<PageCheck>;
  /** Whether a page was checked on the thread (tests, benchmarks). */
  readonly offloaded: number;
  /** Stops the thread. */
  close(): Promise<void>;
}

/**
 * @example
 * const hasher = createChainHasher({ thread: true });
 * try { const { ok } = await hasher.check(page, expected, prev, true); } finally { await hasher.close(); }
 */
export function createChainHasher(opts: { thread: boolean }): ChainHasher {
  let worker: Worker | undefined;
  let broken = !opts.thread;
  let nextId = 1;
  let offloaded = 0;
  const pending = new Map<number, { page: PackedChainPage; resolve(r: PageCheck): void; reject(err: Error): void }>();

  const fail = (err: Error): void => {
    broken = true;
    const w = worker;
    worker = undefined;
    for (const p of pending.values()) p.reject(err);
    pending.clear();
    if (w) void w.terminate().catch(() => {});
  };

  const start = (): Worker | undefined => {
    if (broken) return undefined;
    if (worker) return worker;
    try {
      // Resolved next to this file, so it works from dist/ after tsc as well.
      const w = new Worker(new URL('./verify-worker.js', import.meta.url));
      w.on('message', (m: HashReply) => {
        const p = pending.get(m.id);
        if (!p) return;
        pending.delete(m.id);
        if (pending.size === 0) w.unref();
        // The page's bytes come back to it whatever the outcome.
        p.page.bytes = m.bytes;
        if ('error' in m) p.reject(new Error(`verify worker: ${m.error}`));
        else p.resolve({ ok: m.ok, hashes: Buffer.from(m.hashes.buffer, m.hashes.byteOffset, m.hashes.byteLength) });
      });
      w.on('error', (err) => fail(err));
      w.on('exit', (code) => {
        if (worker === w) fail(new Error(`verify worker stopped (exit code ${code})`));
      });
      w.unref();
      worker = w;
      return w;
    } catch {
      broken = true;
      return undefined;
    }
  };

  const onThread = (w: Worker, page: PackedChainPage, expected: number, prev: string): Promise<PageCheck> =>
    new Promise<PageCheck>((resolve, reject) => {
      // The bytes move to the thread and back. A view on a larger (pooled) buffer is copied first:
      // transferring it would take the rest of that buffer away from its owner.
      const b = page.bytes;
      if (b.byteOffset !== 0 || b.byteLength !== b.buffer.byteLength) page.bytes = new Uint8Array(b);
      const id = nextId++;
      if (pending.size === 0) w.ref();
      pending.set(id, { page, resolve, reject });
      try {
        w.postMessage({ id, page, expected, prev } satisfies HashRequest, [page.bytes.buffer as ArrayBuffer]);
      } catch (err) {
        pending.delete(id);
        reject(err instanceof Error ? err : new Error(String(err)));
      }
    });

  return {
    async check(page, expected, prev, offload) {
      // The whole page goes to the thread. Sharing a page between the thread and this one was
      // measured slower on the 2-core VM: this thread already folds the Merkle tree while the
      // storage thread reads the next page, and a third hashing thread only competes with them.
      const w = offload ? start() : undefined;
      if (w) {
        try {
          const r = await onThread(w, page, expected, prev);
          offloaded++;
          return r;
        } catch {
          // The thread is gone or refused the page: this page and the rest are checked inline
          // (a page whose bytes went with a thread that died is then not accepted at all: its
          // rows are left to the row-by-row check, which reads them again).
          fail(new Error('verify worker failed'));
        }
      }
      return checkChainPage(page, expected, prev);
    },
    get offloaded() {
      return offloaded;
    },
    async close() {
      broken = true;
      const w = worker;
      worker = undefined;
      for (const p of pending.values()) p.reject(new Error('verify worker closed'));
      pending.clear();
      if (w) await w.terminate();
    },
  };
}

