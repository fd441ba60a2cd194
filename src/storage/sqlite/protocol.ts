/**
 * Messages between the main thread and the SQLite worker: a request id, an operation and its
 * arguments; the reply carries the same id and a value or a serialised error. Errors keep their
 * name, message and code across the thread boundary, and a ChainContinuityError is rebuilt as
 * one, so callers can tell a refused seq from an I/O failure.
 */
import { ChainContinuityError } from '../../ledger/chain.js';

export type WorkerRole = 'writer' | 'reader';

export interface WorkerInit {
  path: string;
  role: WorkerRole;
  busyTimeoutMs: number;
  /** Open the file with SQLITE_OPEN_READONLY (read-only storage: works on a read-only file and folder). */
  readOnlyFile?: boolean;
}

export interface WorkerRequest {
  id: number;
  op: string;
  args: unknown;
}

export type WorkerReply = { id: number; ok: true; value: unknown } | { id: number; ok: false; error: SerializedError };

/** First message of a worker: whether the database opened. */
export type WorkerReady = { ready: true } | { ready: false; error: SerializedError };

/**
 * An append batch, flat, because a structured clone of many small objects costs far more than of
 * a few arrays: strings for the chained text, numbers for the shape, and every sealed envelope
 * and index tag copied back to back into ONE buffer of its own that is transferred, not copied
 * (a Buffer is usually a view on a shared 8 KiB pool, and cloning a view clones the whole pool).
 * The worker takes the search columns from the canonical text itself and the seq of every part
 * from its record (the main thread has checked the labels: checkBatchContinues).
 */
export interface AppendMessage {
  /**
   * Per record: canonical text, leaf hash, chain hash, back to back in ONE string (a long string
   * clones as one copy; three short ones per record cost several microseconds a record).
   */
  text: string;
  /** The UTF-16 length of each of those strings in `text` (TEXT_STRIDE per record). */
  textLens: number[];
  /** Per record: 1 when it has a sealed private part else 0, its bodies, its index entries (SHAPE_STRIDE numbers). */
  shape: number[];
  /** Record by record: the private part's data key id, then per body its part and data key id. */
  names: string[];
  /** The ts of each index entry, in order. */
  ts: number[];
  /** Byte length of each item in `bytes`, in order: per record its private part, its bodies, its tags. */
  sizes: number[];
  bytes: Uint8Array;
}
export const TEXT_STRIDE = 3;
export const SHAPE_STRIDE = 3;

export interface SerializedError {
  name: string;
  message: string;
  code?: string;
  expectedSeq?: number;
  gotSeq?: number;
}

export function serializeError(err: unknown): SerializedError {
  if (err instanceof ChainContinuityError) {
    return { name: err.name, message: err.message, code: err.code, expectedSeq: err.expectedSeq, gotSeq: err.gotSeq };
  }
  if (err instanceof Error) {
    const code = (err as { code?: unknown }).code;
    return { name: err.name, message: err.message, ...(typeof code === 'string' ? { code } : {}) };
  }
  return { name: 'Error', message: String(err) };
}

export function deserializeError(e: SerializedError): Error {
  if (e.name === 'ChainContinuityError' && e.expectedSeq !== undefined && e.gotSeq !== undefined) {
    return new ChainContinuityError(e.expectedSeq, e.gotSeq, e.message);
  }
  const err = new Error(e.message) as Error & { code?: string };
  err.name = e.name;
  if (e.code !== undefined) err.code = e.code;
  return err;
}
