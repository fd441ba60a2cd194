/**
 * The audit trail as the web console reads it (issue 7), over the same reads as `rampart audit`
 * (../ledger/audit-read.ts):
 *
 *   GET /admin/api/audit/records?from&to&principal&subject&object&operation&status&reason&type&stage&limit&before
 *       newest first; {records, next?, truncated?}
 *   GET /admin/api/audit/records/:seq          the record, its exchange's decision and completion
 *                                              (the decision trace), personal part and bodies as allowed
 *   GET /admin/api/audit/records/:seq/proof    RFC 9162 inclusion proof against the latest signed checkpoint
 *
 * All need `audit.read`. Who and whose (principal, subject, object ids, client address) are
 * decrypted only for a caller who may see personal data (`evidence.personal`), bodies only with
 * `evidence.bodies`, masked by DLP (./body-view.ts). Every view that showed personal data or
 * bodies is itself an admin.action record naming the admin and what was seen, written BEFORE the
 * answer leaves (RSP-6, ASVS 8.3.5: access to sensitive data is audited; fail closed: no record,
 * no data). principal/subject/object filters go through the blind index (RSP-2), never in clear.
 *
 * Work is bounded: a page reads at most SCAN_LIMIT records (or INDEX_LIMIT index entries) and
 * says `truncated`, with `next` to continue from where the scan stopped.
 */
import { indexedSeqs, objectIdsOf, openBodies, openPersonal, purgedPrivate, readSeqs, searchTags } from '../ledger/audit-read.js';
import type { PersonalFields, RecordType, StoredRecord } from '../ledger/record.js';
import { createRecordProver } from '../ledger/record-proof.js';
import { dlpPolicy } from '../gateway/response-controls.js';
import { responseClassifications } from '../openapi/types.js';
import type { LedgerQuery } from '../storage/types.js';
import { bodyView, type BodyView } from './body-view.js';
import type { ConsoleRouteDeps } from './console-deps.js';
import { callerMay, iso, QueryParams } from './query-params.js';
import { actorOf, AdminFailure, type Handler, type Route } from './server.js';

export const RECORD_TYPES: readonly RecordType[] = ['exchange.decision', 'exchange.completion', 'admin.action', 'security.event', 'system.event'];
export const MAX_PAGE = 200;
const DEFAULT_PAGE = 50;
/** Records read at most for one page when the store cannot filter (a stage: not a column). */
export const SCAN_LIMIT = 20_000;
/** Blind index entries read at most for one page filtered by principal, subject or object. */
export const INDEX_LIMIT = 100_000;
const WINDOW = 2_000;
/** How far a record's time may trail its seq (records are stamped before the writer orders them). */
const TS_SLACK_MS = 60_000;

interface Filters {
  fromTs?: number;
  toTs?: number;
  operationId?: string;
  status?: number;
  reason?: string;
  type?: RecordType;
  stage?: string;
}

export function auditRoutes(d: ConsoleRouteDeps): Route[] {
  const { storage, parts } = d;
  const prover = createRecordProver(storage);

  const list: Handler = async (req, res, { caller, client, requestId }) => {
    const q = new QueryParams(req);
    const f: Filters = {};
    const fromTs = q.time('from');
    const toTs = q.time('to');
    if (fromTs !== undefined) f.fromTs = fromTs;
    if (toTs !== undefined) f.toTs = toTs;
    if (fromTs !== undefined && toTs !== undefined && fromTs > toTs) throw new AdminFailure('RAMPART_ADMIN_BAD_REQUEST', 'from is after to');
    const operationId = q.string('operation', 200);
    if (operationId !== undefined) f.operationId = operationId;
    const status = q.int('status', 100, 599);
    if (status !== undefined) f.status = status;
    const reason = q.string('reason', 128);
    if (reason !== undefined) f.reason = reason;
    const type = q.oneOf('type', RECORD_TYPES);
    if (type !== undefined) f.type = type;
    const stage = q.string('stage', 64);
    if (stage !== undefined) f.stage = stage;
    const limit = q.int('limit', 1, MAX_PAGE) ?? DEFAULT_PAGE;
    const before = q.int('before', 1, Number.MAX_SAFE_INTEGER);
    const principal = q.string('principal');
    const subject = q.string('subject');
    const object = q.string('object');
    const tags = searchTags(parts.crypto.sealer, { ...(principal !== undefined ? { principal } : {}), ...(subject !== undefined ? { subject } : {}), ...(object !== undefined ? { object } : {}) });

    const page = await findRecords(f, tags, limit, before);
    const personalOk = callerMay(caller!, 'evidence.personal');
    const personal = personalOk ? await openPersonal(storage.ledger, parts.crypto.sealer, page.records.map((r) => r.record.seq)) : new Map<number, PersonalFields>();
    if (personal.size > 0) {
      // ASVS 8.3.5: who saw whose personal data, recorded before it is shown.
      await d.record({ type: 'admin.action', outcome: 'success', status: 200, reason: 'RAMPART_OK', requestId, client, ...actorOf(caller!), detail: { action: 'audit.view', personal: true, records: personal.size, fromSeq: page.records[page.records.length - 1]!.record.seq, toSeq: page.records[0]!.record.seq, filtered: tags.length > 0 } });
    }
    d.json(res, 200, {
      records: page.records.map((r) => listView(r, personal.get(r.record.seq))),
      ...(page.next !== undefined ? { next: page.next } : {}),
      ...(page.truncated ? { truncated: true } : {}),
    });
  };

  /**
   * Newest first, exact. The store filters, orders and pages (`beforeSeq`) whenever it can: every
   * filter but the stage, which is not a column; a stage filter walks back by seq from `before`,
   * through the blind index when who or whose is asked for.
   */
  async function findRecords(f: Filters, tags: Buffer[], limit: number, before: number | undefined): Promise<{ records: StoredRecord[]; next?: number; truncated: boolean }> {
    const found: StoredRecord[] = [];
    let truncated = false;
    let scanStop: number | undefined;
    if (f.stage === undefined) {
      const sq: LedgerQuery = { limit: limit + 1, descending: true, ...storeFilters(f), ...(tags.length > 0 ? { tags } : {}), ...(before !== undefined ? { beforeSeq: before } : {}) };
      found.push(...(await storage.ledger.search(sq)));
    } else if (tags.length > 0) {
      const idx = await indexedSeqs(storage.ledger, tags, f.fromTs ?? 0, f.toTs ?? Number.MAX_SAFE_INTEGER, INDEX_LIMIT);
      truncated = idx.truncated;
      const candidates = idx.seqs.filter((s) => before === undefined || s < before).reverse();
      for (let i = 0; i < candidates.length && found.length <= limit; i += 500) {
        const chunk = candidates.slice(i, i + 500);
        const recs = await readSeqs(storage.ledger, chunk);
        for (const s of chunk) {
          const r = recs.get(s);
          if (r && matches(r, f)) found.push(r);
          if (found.length > limit) break;
        }
      }
    } else {
      const prunedThrough = (await storage.retention.pruneState())?.seq ?? 0;
      let hi = before ?? ((await storage.ledger.head())?.seq ?? 0) + 1;
      if (f.toTs !== undefined) {
        // Start at the newest record not after `to` (the store finds it) rather than scanning down to it.
        const [last] = await storage.ledger.search({ toTs: f.toTs, descending: true, limit: 1 });
        hi = Math.min(hi, (last?.record.seq ?? 0) + 1);
      }
      let scanned = 0;
      while (found.length <= limit && hi > prunedThrough + 1) {
        if (scanned >= SCAN_LIMIT) {
          truncated = true;
          scanStop = hi;
          break;
        }
        const lo = Math.max(prunedThrough + 1, hi - Math.min(WINDOW, SCAN_LIMIT - scanned));
        const window = (await storage.ledger.read(lo, hi - lo)).filter((r) => r.record.seq < hi);
        scanned += hi - lo;
        let newestTs = -Infinity;
        for (let i = window.length - 1; i >= 0; i--) {
          const r = window[i]!;
          newestTs = Math.max(newestTs, r.record.ts);
          if (matches(r, f)) found.push(r);
          if (found.length > limit) break;
        }
        hi = lo;
        // Everything further back is older than `from` (allowing for the slack between ts and seq order).
        if (f.fromTs !== undefined && window.length > 0 && newestTs < f.fromTs - TS_SLACK_MS) break;
      }
    }
    if (found.length > limit) return { records: found.slice(0, limit), next: found[limit - 1]!.record.seq, truncated };
    return { records: found, ...(scanStop !== undefined ? { next: scanStop } : {}), truncated };
  }

  const one: Handler = async (_req, res, { params, caller, client, requestId }) => {
    const seq = seqParam(params[0]!);
    const [stored] = await storage.ledger.read(seq, 1);
    if (!stored || stored.record.seq !== seq) throw new AdminFailure('RAMPART_ADMIN_NOT_FOUND', 'No such record (or it was pruned after its retention period).');
    const rec = stored.record;
    // The decision trace: the exchange's decision and completion (which stage decided, and why).
    const exchange = rec.requestId !== undefined && (rec.type === 'exchange.decision' || rec.type === 'exchange.completion')
      ? await storage.ledger.search({ requestId: rec.requestId, limit: 20 })
      : [];
    const decision = rec.type === 'exchange.decision' ? stored : exchange.find((r) => r.record.type === 'exchange.decision' && (rec.decisionSeq === undefined || r.record.seq === rec.decisionSeq));
    const completion = rec.type === 'exchange.completion' ? stored : exchange.find((r) => r.record.type === 'exchange.completion' && (decision === undefined || r.record.decisionSeq === undefined || r.record.decisionSeq === decision.record.seq));

    const personalOk = callerMay(caller!, 'evidence.personal');
    const bodiesOk = callerMay(caller!, 'evidence.bodies');
    let personal: PersonalFields | undefined;
    let personalPurged = false;
    if (personalOk) {
      personal = (await openPersonal(storage.ledger, parts.crypto.sealer, [seq])).get(seq);
      if (!personal) personalPurged = (await purgedPrivate(storage.ledger, parts.crypto.sealer, [seq])).has(seq);
    }
    let bodies: { request?: BodyView; response?: BodyView } | undefined;
    if (bodiesOk) {
      const seqs = [...new Set([seq, ...(decision ? [decision.record.seq] : []), ...(completion ? [completion.record.seq] : [])])];
      const opened = await openBodies(storage.ledger, parts.crypto.sealer, seqs);
      if (opened.request || opened.response) {
        const api = rec.api ?? '';
        const policy = dlpPolicy(d.liveConfig(), api);
        const op = rec.operationId !== undefined && rec.api !== undefined ? d.operationModel?.(rec.api, rec.operationId) : undefined;
        const status = completion?.record.status;
        bodies = {
          ...(opened.request ? { request: bodyView(opened.request, policy, op?.classifications.request) } : {}),
          ...(opened.response ? { response: bodyView(opened.response, policy, op && status !== undefined ? responseClassifications(op, status) : undefined) } : {}),
        };
      }
    }
    if (personal !== undefined || bodies !== undefined) {
      // RSP-6, ASVS 8.3.5: viewing personal data or bodies is itself a record, written first.
      await d.record({ type: 'admin.action', outcome: 'success', status: 200, reason: 'RAMPART_OK', requestId, client, ...actorOf(caller!), detail: { action: 'audit.record.view', seq, personal: personal !== undefined, bodies: bodies !== undefined } });
    }
    d.json(res, 200, {
      record: { ...rec, ts: iso(rec.ts) },
      ...(personal !== undefined ? { personal } : {}),
      ...(personalPurged ? { personalPurged: true } : {}),
      trace: {
        ...(decision ? { decision: traceView(decision) } : {}),
        ...(completion ? { completion: traceView(completion) } : {}),
      },
      ...(bodies !== undefined ? { bodies } : {}),
      chain: { leafHash: stored.leafHash, chainHash: stored.chainHash },
    });

    function traceView(r: StoredRecord) {
      const x = r.record;
      return { seq: x.seq, ts: iso(x.ts), type: x.type, outcome: x.outcome, status: x.status ?? null, stage: x.stage ?? null, reason: x.reason ?? null, detail: x.detail ?? null, latencyMs: x.latencyMs ?? null };
    }
  };

  const proof: Handler = async (_req, res, { params }) => {
    const seq = seqParam(params[0]!);
    let a;
    try {
      a = await prover.prove(seq);
    } catch (err) {
      if ((err as { code?: string }).code !== 'RAMPART_LEDGER_BROKEN') throw err;
      // The store contradicts its signed checkpoint: the answer is that the proof fails.
      d.json(res, 200, { seq, ok: false, problem: (err as Error).message });
      return;
    }
    if (!a.found) {
      if (a.why === 'not-yet-checkpointed') throw new AdminFailure('RAMPART_ADMIN_CONFLICT', `Record ${seq} is not yet covered by a signed checkpoint (the latest covers ${a.latestTreeSize ?? 0}); the next one covers it, or sign one now with POST /admin/api/ledger/checkpoint.`);
      throw new AdminFailure('RAMPART_ADMIN_NOT_FOUND', a.why === 'pruned' ? 'The record was pruned after its retention period.' : 'No such record.');
    }
    const p = a.proof;
    d.json(res, 200, { ...p, checkpoint: { ...p.checkpoint, ts: iso(p.checkpoint.ts) } });
  };

  return [
    { method: 'GET', pattern: /^\/admin\/api\/audit\/records$/, action: 'audit.read', handler: list },
    { method: 'GET', pattern: /^\/admin\/api\/audit\/records\/([0-9]{1,16})$/, action: 'audit.read', handler: one },
    { method: 'GET', pattern: /^\/admin\/api\/audit\/records\/([0-9]{1,16})\/proof$/, action: 'audit.read', handler: proof },
  ];
}

function seqParam(s: string): number {
  const n = Number(s);
  if (!Number.isSafeInteger(n) || n < 1) throw new AdminFailure('RAMPART_ADMIN_NOT_FOUND', 'No such record.');
  return n;
}

function storeFilters(f: Filters): Omit<LedgerQuery, 'limit'> {
  return {
    ...(f.fromTs !== undefined ? { fromTs: f.fromTs } : {}),
    ...(f.toTs !== undefined ? { toTs: f.toTs } : {}),
    ...(f.operationId !== undefined ? { operationId: f.operationId } : {}),
    ...(f.status !== undefined ? { status: f.status } : {}),
    ...(f.reason !== undefined ? { reason: f.reason } : {}),
    ...(f.type !== undefined ? { type: f.type } : {}),
  };
}

/** The same filters as the store's search (src/storage/rows.ts searchSelect), plus the stage. */
function matches(r: StoredRecord, f: Filters): boolean {
  const x = r.record;
  if (f.fromTs !== undefined && x.ts < f.fromTs) return false;
  if (f.toTs !== undefined && x.ts > f.toTs) return false;
  if (f.operationId !== undefined && x.operationId !== f.operationId) return false;
  if (f.status !== undefined && x.status !== f.status) return false;
  if (f.reason !== undefined && x.reason !== f.reason) return false;
  if (f.type !== undefined && x.type !== f.type) return false;
  if (f.stage !== undefined && x.stage !== f.stage) return false;
  return true;
}

/** A list row: the chained, non-personal fields, and the personal ones only when given. */
function listView(r: StoredRecord, p: PersonalFields | undefined) {
  const x = r.record;
  const subject = p?.subject ?? p?.extra?.owner;
  const objectIds = p ? objectIdsOf(p) : [];
  return {
    seq: x.seq,
    ts: iso(x.ts),
    type: x.type,
    outcome: x.outcome,
    status: x.status ?? null,
    stage: x.stage ?? null,
    reason: x.reason ?? null,
    operationId: x.operationId ?? null,
    method: x.method ?? null,
    route: x.route ?? null,
    api: x.api ?? null,
    requestId: x.requestId ?? null,
    keyId: x.keyId ?? null,
    configHash: x.configHash,
    ...(p?.principal !== undefined ? { principal: p.principal } : {}),
    ...(subject !== undefined ? { subject } : {}),
    ...(objectIds.length > 0 ? { objectIds } : {}),
    ...(p?.clientAddress !== undefined ? { clientAddress: p.clientAddress } : {}),
  };
}
