/**
 * Storage interfaces. Every backend (SQLite, PostgreSQL; memory in unit tests) implements these,
 * and one contract suite (test/contract/) runs against each (STYLE: undici's cache-store tests).
 * All methods are async even where a driver is synchronous: better-sqlite3 sits behind a worker
 * so fsyncs never block the event loop.
 */
import type { LedgerRecord, PrivatePart, StoredRecord, RecordType, Outcome } from '../ledger/record.js';

export interface ChainHead {
  seq: number;
  chainHash: string;
}

export interface LedgerStore {
  /**
   * Append a batch atomically and durably (SQLite synchronous=FULL, PostgreSQL
   * synchronous_commit=on): when the promise resolves, every record is on disk; when it rejects,
   * none is. Sequence numbers must continue the head exactly; a gap or overlap is refused.
   */
  append(batch: readonly { stored: StoredRecord; priv: PrivatePart }[]): Promise<void>;
  /**
   * How many append batches the store accepts before the first has settled, committing them
   * strictly in the order received (1 when absent). The writer then sends the next batch while
   * the previous one commits; each batch still checks continuity against the committed head.
   */
  readonly pipelineDepth?: number;
  /** The last committed record's seq and chain hash, or null for an empty ledger. */
  head(): Promise<ChainHead | null>;
  /**
   * Records with seq >= fromSeq in seq order, at most `limit` of them. `record` is parsed from
   * `canonical`, except `record.seq`, which is the seq the row is stored under, so that
   * verification can tell a moved row from a rewritten one; a row whose text does not parse is
   * still returned (for verification to report), with its other fields best effort.
   */
  read(fromSeq: number, limit: number): Promise<StoredRecord[]>;
  /** Private parts for the given seqs (missing ones are omitted). */
  readPrivate(seqs: readonly number[]): Promise<PrivatePart[]>;
  search(query: LedgerQuery): Promise<StoredRecord[]>;
  /** Cheap liveness probe for readiness. */
  ping(): Promise<void>;
  close(): Promise<void>;
}

export interface LedgerQuery {
  /** UTC ms, inclusive. */
  fromTs?: number;
  /** UTC ms, inclusive. */
  toTs?: number;
  type?: RecordType;
  principal?: string;
  subject?: string;
  operationId?: string;
  api?: string;
  /** Matches any path parameter value. */
  objectId?: string;
  status?: number;
  outcome?: Outcome;
  reason?: string;
  requestId?: string;
  afterSeq?: number;
  limit: number;
  /** Newest first when true. */
  descending?: boolean;
}

export interface ApiKeyRecord {
  /** Public identifier, also embedded in the key string (not a secret). */
  id: string;
  name: string;
  /** hex HMAC-SHA256(server secret, key secret): a stolen database alone cannot test guesses. */
  hash: string;
  scopes: string[];
  /** The customer or tenant the key acts for. */
  subject?: string;
  createdAt: number;
  expiresAt?: number;
  revokedAt?: number;
  lastUsedAt?: number;
  /** Who created it (operator name or 'cli'). */
  createdBy?: string;
}

export interface KeyStore {
  insert(key: ApiKeyRecord): Promise<void>;
  get(id: string): Promise<ApiKeyRecord | undefined>;
  list(): Promise<ApiKeyRecord[]>;
  /** Marks the key revoked; false when no such key exists. Revoking twice keeps the first time. */
  revoke(id: string, at: number): Promise<boolean>;
  /** Records last use (batched by the caller). */
  touch(uses: ReadonlyMap<string, number>): Promise<void>;
  /**
   * Keys inserted or revoked after `cursor` (a monotonic change counter; 0 = from the start),
   * and the new cursor. A running gateway polls this so changes take effect without a restart.
   */
  changesSince(cursor: number): Promise<{ cursor: number; keys: ApiKeyRecord[] }>;
  close(): Promise<void>;
}

export interface Storage {
  readonly driver: 'sqlite' | 'postgres';
  readonly ledger: LedgerStore;
  readonly keys: KeyStore;
  close(): Promise<void>;
}

export type { LedgerRecord, PrivatePart, StoredRecord };
