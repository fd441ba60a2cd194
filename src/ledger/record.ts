/**
 * Ledger record format, schema version 1: the format later work (encryption, checkpoints,
 * retention, evidence) builds on. Changing a field's meaning needs a new schema version; adding an
 * optional field does not.
 *
 * A record has two parts (DESIGN.md, the ledger):
 * - the chained part (`LedgerRecord`): only non-personal fields and commitments. Its canonical
 *   JSON is the RFC 9162 leaf, so later Merkle checkpoints reuse the same leaves.
 * - the private part (`PrivatePart`): principal, client address, object ids and the salts of the
 *   body commitments. It is stored beside the chain, committed to by an HMAC keyed with a random
 *   256-bit salt, so that small values (an SSN, an account number) cannot be guessed from the
 *   commitment, sealed under its day's data key (./sealer.ts), and purged without breaking the chain.
 *
 * AU-3: type (`type`), when (`ts`), where (`node`, client address in the private part), source
 * (`api`/`operationId`/`route`), outcome (`outcome`, `status`), identity (`keyId`, principal).
 * R17a4-7: monotonic `seq` and UTC `ts`.
 */
export const RECORD_SCHEMA_VERSION = 1 as const;

export type RecordType =
  | 'exchange.decision'
  | 'exchange.completion'
  | 'admin.action'
  | 'security.event'
  | 'system.event';

export type Outcome = 'allow' | 'deny' | 'success' | 'failure' | 'info';

/** What a producer hands to the ledger; `seq` is assigned by the single writer. */
export interface RecordInput {
  type: RecordType;
  /** UTC milliseconds since the epoch (AU-8). Defaults to the time of append. */
  ts?: number;
  requestId?: string;
  api?: string;
  operationId?: string;
  /** The route template from the OpenAPI document, never the raw path (it may hold object ids). */
  route?: string;
  method?: string;
  outcome: Outcome;
  status?: number;
  /** Pipeline stage that decided (parse, address-limit, route, authenticate, scope, validate, ledger, proxy, respond). */
  stage?: string;
  /** Stable reason code from src/core/errors.ts, or `RAMPART_OK`. */
  reason?: string;
  keyId?: string;
  authMethod?: string;
  /** Hash of the configuration version that decided this request. */
  configHash: string;
  bytesIn?: number;
  bytesOut?: number;
  latencyMs?: number;
  /** For a completion record: seq of the decision record of the same exchange. */
  decisionSeq?: number;
  /** Extra non-personal facts (for admin actions: what changed). Values must not be personal. */
  detail?: Record<string, string | number | boolean | null>;
  /** Personal part; stored apart and committed to. */
  personal?: PersonalFields;
  /** Precomputed body commitments (see commitBody in ./commit.ts); salts go to the private part. */
  bodies?: { request?: BodyCommitment; response?: BodyCommitment };
  /**
   * What is kept of the bodies (src/ledger/capture.ts: capped, secrets redacted, personal fields
   * per policy); stored sealed beside the record, class `bodies`. The commitments above cover the
   * full bodies as they passed.
   */
  captured?: { request?: CapturedBodyInput; response?: CapturedBodyInput };
}

/** A captured body as the ledger stores it (structurally src/ledger/capture.ts's CapturedBody). */
export interface CapturedBodyInput {
  stored?: string;
  encoding: string;
  truncated: boolean;
  redacted: string[];
  /** Data subject ids found in the body (fields classified subject-id): indexed for RSP-2. */
  subjects: string[];
  classesSeen?: string[];
  note?: string;
  contentType?: string;
}

export interface PersonalFields {
  principal?: string;
  /** The customer or tenant the credential acts for (the data subject). */
  subject?: string;
  clientAddress?: string;
  /** X-Forwarded-For chain as received from a trusted proxy. */
  forwardedFor?: string;
  /** Path parameters: the object ids the request touched. */
  pathParams?: Record<string, string>;
  idempotencyKey?: string;
  /** Anything else personal (for admin actions: the actor's name). */
  extra?: Record<string, string>;
}

export interface BodyCommitment {
  /** hex HMAC-SHA256(salt, body) */
  mac: string;
  /** hex random 256-bit salt; stored only in the private part. */
  salt: string;
  /** Byte length of the body. */
  length: number;
}

/** The chained, non-personal part, exactly as hashed (canonical JSON of this object). */
export interface LedgerRecord {
  v: typeof RECORD_SCHEMA_VERSION;
  seq: number;
  ts: number;
  type: RecordType;
  node: string;
  requestId?: string;
  api?: string;
  operationId?: string;
  route?: string;
  method?: string;
  outcome: Outcome;
  status?: number;
  stage?: string;
  reason?: string;
  keyId?: string;
  authMethod?: string;
  configHash: string;
  bytesIn?: number;
  bytesOut?: number;
  latencyMs?: number;
  decisionSeq?: number;
  detail?: Record<string, string | number | boolean | null>;
  /** hex HMAC-SHA256(personalSalt, canonical(personal)); absent when there is no personal part. */
  personalCommit?: string;
  requestBodyCommit?: string;
  responseBodyCommit?: string;
  requestBodyLength?: number;
  responseBodyLength?: number;
}

/** Stored beside the chain, keyed by seq, sealed per (class, expiry day) (./sealer.ts). */
export interface PrivatePart {
  seq: number;
  personal?: PersonalFields;
  personalSalt?: string;
  requestBodySalt?: string;
  responseBodySalt?: string;
}

/** A record as stored: the chained part with its hashes. */
export interface StoredRecord {
  record: LedgerRecord;
  /** The exact canonical JSON that was hashed (kept so verification needs no re-serialisation). */
  canonical: string;
  /** hex SHA-256(0x00 || canonical) — RFC 9162 §2.1.1 leaf hash. */
  leafHash: string;
  /** hex SHA-256(0x01 || prevChainHash || leafHash); the first record chains from 32 zero bytes. */
  chainHash: string;
}
