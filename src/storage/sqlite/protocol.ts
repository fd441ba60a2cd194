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
 * An append batch, flat: per record canonical, leaf hash, chain hash, personal JSON, personal
 * salt, request body salt, response body salt (null where absent).
 */
export type AppendRows = (string | null)[];
export const APPEND_STRIDE = 7;

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
