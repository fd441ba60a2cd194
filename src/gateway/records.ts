/**
 * Turns a request context into ledger record inputs (AU-3 content). The chained part gets only
 * non-personal fields; principal, addresses, object ids and the idempotency key go to the
 * personal part, which the ledger commits to with a salted HMAC and stores apart.
 */
import type { RequestContext } from '../core/context.js';
import type { BodyCommitment, PersonalFields, RecordInput } from '../ledger/record.js';

export function personalOf(ctx: RequestContext): PersonalFields {
  const p: PersonalFields = { clientAddress: ctx.clientAddress };
  const pr = ctx.principal;
  if (pr && pr.authMethod !== 'none') p.principal = pr.name;
  if (pr?.subject !== undefined) p.subject = pr.subject;
  if (ctx.forwardedFor !== undefined) p.forwardedFor = ctx.forwardedFor;
  if (ctx.pathParams && Object.keys(ctx.pathParams).length > 0) p.pathParams = ctx.pathParams;
  const idem = ctx.req.headers['idempotency-key'];
  if (typeof idem === 'string') p.idempotencyKey = idem.slice(0, 256);
  return p;
}

function common(ctx: RequestContext): Omit<RecordInput, 'type' | 'outcome'> {
  const r: Omit<RecordInput, 'type' | 'outcome'> = {
    ts: Date.now(),
    requestId: ctx.requestId,
    method: ctx.method,
    configHash: ctx.runtime.hash,
  };
  if (ctx.api) r.api = ctx.api.name;
  if (ctx.operation) {
    r.operationId = ctx.operation.id;
    r.route = ctx.operation.route;
  }
  const pr = ctx.principal;
  if (pr) {
    r.authMethod = pr.authMethod;
    if (pr.keyId !== undefined) r.keyId = pr.keyId;
  }
  return r;
}

/** The decision record: committed before anything is forwarded, or with the denial. */
export function decisionInput(
  ctx: RequestContext,
  d: { outcome: 'allow' | 'deny'; status?: number; stage: string; reason: string; requestBody?: BodyCommitment },
): RecordInput {
  const r: RecordInput = { ...common(ctx), type: 'exchange.decision', outcome: d.outcome, stage: d.stage, reason: d.reason, personal: personalOf(ctx), bytesIn: ctx.bytesIn };
  if (d.status !== undefined) r.status = d.status;
  if (d.outcome === 'deny') r.latencyMs = elapsedMs(ctx);
  if (d.requestBody) r.bodies = { request: d.requestBody };
  return r;
}

/** The completion record: committed before the last byte of the response is released. */
export function completionInput(
  ctx: RequestContext,
  c: { decisionSeq: number; outcome: 'success' | 'failure'; status: number; stage: string; reason: string; bytesOut: number; responseBody?: BodyCommitment },
): RecordInput {
  const r: RecordInput = {
    ...common(ctx),
    type: 'exchange.completion',
    outcome: c.outcome,
    status: c.status,
    stage: c.stage,
    reason: c.reason,
    decisionSeq: c.decisionSeq,
    bytesIn: ctx.bytesIn,
    bytesOut: c.bytesOut,
    latencyMs: elapsedMs(ctx),
    personal: personalOf(ctx),
  };
  if (c.responseBody) r.bodies = { response: c.responseBody };
  return r;
}

export function elapsedMs(ctx: RequestContext): number {
  return Math.round(Number(process.hrtime.bigint() - ctx.startNs) / 1e4) / 100;
}
