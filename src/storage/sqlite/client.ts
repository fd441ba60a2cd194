/**
 * Main-thread side of the SQLite worker: a request id per call, a promise per id.
 *
 * The worker is unref'd whenever no call is pending, so an idle storage that nobody closed never
 * keeps the process alive, while a pending commit always finishes. If the worker dies (an
 * uncaught error, a crash of the thread), every pending call rejects and the next call starts a
 * new worker, which reopens the file (SQLite rolls back whatever was half done).
 */
import { Worker } from 'node:worker_threads';
import { deserializeError, type WorkerInit, type WorkerReady, type WorkerReply } from './protocol.js';

interface Pending {
  resolve(v: unknown): void;
  reject(err: Error): void;
}

export class SqliteWorkerClient {
  readonly #init: WorkerInit;
  #worker: Worker | undefined;
  #starting: Promise<Worker> | undefined;
  #pending = new Map<number, Pending>();
  #nextId = 1;
  #closed = false;

  private constructor(init: WorkerInit) {
    this.#init = init;
  }

  /** Starts the worker and waits until the database is open (and, for the writer, migrated). */
  static async start(init: WorkerInit): Promise<SqliteWorkerClient> {
    const c = new SqliteWorkerClient(init);
    await c.#ensure();
    return c;
  }

  get role(): WorkerInit['role'] {
    return this.#init.role;
  }

  #ensure(): Promise<Worker> {
    if (this.#worker) return Promise.resolve(this.#worker);
    if (!this.#starting) {
      this.#starting = this.#spawn().finally(() => {
        this.#starting = undefined;
      });
    }
    return this.#starting;
  }

  #spawn(): Promise<Worker> {
    return new Promise<Worker>((resolve, reject) => {
      // Resolved next to this file, so it works from dist/ after tsc as well.
      const w = new Worker(new URL('./worker.js', import.meta.url), { workerData: this.#init });
      let ready = false;
      w.once('message', (m: WorkerReady) => {
        if (m.ready) {
          ready = true;
          this.#worker = w;
          w.on('message', (r: WorkerReply) => this.#onReply(r));
          w.unref();
          resolve(w);
        } else {
          reject(deserializeError(m.error));
        }
      });
      w.on('error', (err) => {
        if (!ready) reject(err);
        this.#fail(w, err);
      });
      w.on('exit', (code) => {
        if (!ready) reject(new Error(`sqlite worker exited with code ${code} before opening ${this.#init.path}`));
        this.#fail(w, new Error(`sqlite worker stopped (exit code ${code})`));
      });
    });
  }

  #onReply(r: WorkerReply): void {
    const p = this.#pending.get(r.id);
    if (!p) return;
    this.#pending.delete(r.id);
    if (this.#pending.size === 0) this.#worker?.unref();
    if (r.ok) p.resolve(r.value);
    else p.reject(deserializeError(r.error));
  }

  #fail(w: Worker, err: Error): void {
    if (this.#worker !== w) return;
    this.#worker = undefined;
    const pending = [...this.#pending.values()];
    this.#pending.clear();
    for (const p of pending) p.reject(err);
  }

  /**
   * Sends one operation to the worker. `transfer` lists ArrayBuffers that move to the worker
   * instead of being copied (they are unusable here afterwards).
   */
  async call<T>(op: string, args?: unknown, transfer?: ArrayBuffer[]): Promise<T> {
    if (this.#closed) throw new Error('sqlite storage is closed');
    const w = await this.#ensure();
    if (this.#closed) throw new Error('sqlite storage is closed');
    const id = this.#nextId++;
    return new Promise<T>((resolve, reject) => {
      if (this.#pending.size === 0) w.ref();
      this.#pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      try {
        w.postMessage({ id, op, args }, transfer);
      } catch (err) {
        this.#pending.delete(id);
        if (this.#pending.size === 0) w.unref();
        reject(err instanceof Error ? err : new Error(String(err)));
      }
    });
  }

  /** Lets pending calls finish, closes the database and stops the thread. */
  async close(): Promise<void> {
    if (this.#closed) return;
    const w = this.#worker ?? (this.#starting ? await this.#starting.catch(() => undefined) : undefined);
    if (!w) {
      this.#closed = true;
      return;
    }
    try {
      // Queued behind every call already sent, so those complete first.
      await this.call('close');
    } catch {
      // The database may already be gone with the worker; stopping the thread is what matters.
    } finally {
      this.#closed = true;
      this.#worker = undefined;
      await w.terminate();
    }
  }
}
