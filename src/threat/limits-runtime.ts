/**
 * Rate limits and data-volume quotas for one configuration version (API4, API6; N63-5 for the
 * authentication throttle that stays in ../pipeline/auth-throttle.ts): which rules apply to a
 * request, the counter key each one uses, and the anomaly model's throttles and blocks.
 *
 * Two checkpoints in the pipeline (DESIGN.md):
 * - `address-limit`, before any credential is looked at: rules `by: address`, and a block or
 *   throttle the anomaly model put on the address;
 * - `principal-limit`, after the scope check: rules by principal, key, operation or principal and
 *   operation, a volume quota already spent, and the model's restrictions on the principal or key.
 * After the response, `charge` adds the bytes and records sent to the volume quotas, so the next
 * request sees them (a quota stops the pull that overruns it at its next request, never mid-body).
 *
 * Counter keys: `principal` is the data subject the credential acts for (the customer or
 * tenant), else the credential itself, so one customer's several keys share one budget; `key` is
 * the credential (API key id, token client, certificate). Keys are hashed before they reach the
 * counter store (ThreatServices.counterKey, a keyed hash): customer ids and addresses are
 * personal, and Redis is not the ledger.
 */
import type { RateRuleConfig } from '../config/types.js';
import type { Denial, RequestContext } from '../core/context.js';
import { deny } from '../core/stage.js';
import type { ApiRuntime } from '../gateway/runtime.js';
import type { OperationModel } from '../openapi/types.js';
import { RateLimitUnavailableError, rateLimitHeaders, type LimitDecision, type LimitRule } from './ratelimit/index.js';
import type { ThreatServices } from './services.js';

/** What the limit stages leave on the context: the decisions for the headers, the quotas to charge. */
export interface LimitState {
  /** The configuration version's limits that decided (charge() and headersFor() are read through it). */
  owner: LimitsRuntime;
  decisions: LimitDecision[];
  /** Volume quotas that apply to this request, with their counter keys. */
  quotas: { rule: LimitRule; key: string }[];
}

interface CompiledRule {
  rule: LimitRule;
  by: RateRuleConfig['by'];
  /** undefined: every operation. */
  operations: ReadonlySet<string> | undefined;
}

/** Requests per minute a throttled principal, key or address still gets. */
const DEFAULT_THROTTLE_PER_MINUTE = 6;

export interface LimitsRuntime {
  /** Stage address-limit's part. */
  checkAddress(ctx: RequestContext): Denial | undefined | Promise<Denial | undefined>;
  /** Stage principal-limit's part. */
  checkPrincipal(ctx: RequestContext): Denial | undefined | Promise<Denial | undefined>;
  /** After the response: charge the volume quotas. Never throws. */
  charge(ctx: RequestContext, bytesOut: number, records: number | undefined): void;
  /** Headers for the response (RateLimit, RateLimit-Policy), when any rule applied. */
  headersFor(ctx: RequestContext): Record<string, string> | undefined;
}

export function createLimitsRuntime(rules: readonly RateRuleConfig[], services: ThreatServices): LimitsRuntime {
  const hashKey = services.counterKey;
  const compiled: CompiledRule[] = rules.map((r) => ({
    rule: { name: r.name, unit: r.unit, limit: r.limit, windowSeconds: r.windowSeconds, ...(r.burst !== undefined ? { burst: r.burst } : {}) },
    by: r.by,
    operations: r.operations ? new Set(r.operations) : undefined,
  }));
  const addressRules = compiled.filter((c) => c.by === 'address' && c.rule.unit === 'requests');
  const principalRules = compiled.filter((c) => c.by !== 'address' || c.rule.unit !== 'requests');
  const byOp = new WeakMap<OperationModel, CompiledRule[]>();
  const rulesFor = (api: ApiRuntime, op: OperationModel): CompiledRule[] => {
    let list = byOp.get(op);
    if (!list) {
      const names = [op.id, `${api.name}.${op.id}`];
      list = principalRules.filter((c) => !c.operations || names.some((n) => c.operations!.has(n)));
      byOp.set(op, list);
    }
    return list;
  };
  // Throttles are this node's own answer to what its model saw: a memory limiter, never Redis.
  const throttleRule = (perMinute: number): LimitRule => ({ name: 'anomaly-throttle', unit: 'requests', limit: perMinute, windowSeconds: 60 });
  const { limiter, anomaly } = services;

  function restricted(ctx: RequestContext, who: { principal?: string; keyId?: string; address: string }): Denial | undefined | Promise<Denial | undefined> {
    if (!anomaly || !services.enforce) return undefined;
    const r = anomaly.restriction(who, ctx.receivedAt);
    if (!r) return undefined;
    const retry = String(Math.max(1, Math.ceil((r.until - ctx.receivedAt) / 1000)));
    if (r.action === 'block') return deny('RAMPART_ANOMALY_BLOCKED', { headers: { 'retry-after': retry }, cause: `anomaly:${r.kind}` });
    const perMinute = r.perMinute ?? DEFAULT_THROTTLE_PER_MINUTE;
    const subject = who.principal ?? who.keyId ?? `a:${who.address}`;
    return services.local.take(throttleRule(perMinute), `throttle|${hashKey(subject)}`).then((d) =>
      d.allowed ? undefined : deny('RAMPART_ANOMALY_THROTTLED', { headers: { 'retry-after': String(Math.max(1, Math.ceil(d.retryAfterSeconds ?? d.resetSeconds))) }, cause: `anomaly:${r.kind}` }),
    );
  }

  async function take(ctx: RequestContext, list: readonly { c: CompiledRule; key: string }[]): Promise<Denial | undefined> {
    const state = (ctx.limits ??= { owner: self, decisions: [], quotas: [] });
    let decisions: LimitDecision[];
    try {
      decisions = await Promise.all(list.map(({ c, key }) => (c.rule.unit === 'requests' ? limiter!.take(c.rule, key) : limiter!.peek(c.rule, key))));
    } catch (err) {
      // rateLimits.redis.onOutage: refuse: fail closed with 503. Anything else is a fault and
      // denies with RAMPART_INTERNAL (the composer's fail-closed path).
      if (err instanceof RateLimitUnavailableError) return deny('RAMPART_RATE_LIMIT_UNAVAILABLE', { headers: { 'retry-after': '5' }, cause: err });
      throw err;
    }
    for (let i = 0; i < list.length; i++) {
      const { c, key } = list[i]!;
      const d = decisions[i]!;
      state.decisions.push(d);
      if (c.rule.unit !== 'requests') state.quotas.push({ rule: c.rule, key });
    }
    for (let i = 0; i < list.length; i++) {
      const d = decisions[i]!;
      const quota = list[i]!.c.rule.unit !== 'requests';
      if (quota ? d.remaining <= 0 : !d.allowed) {
        return deny(quota ? 'RAMPART_QUOTA_EXCEEDED' : 'RAMPART_RATE_LIMITED', { headers: rateLimitHeaders([d]), cause: `rule:${d.rule}` });
      }
    }
    return undefined;
  }

  const self: LimitsRuntime = {
    checkAddress(ctx) {
      const r = restricted(ctx, { address: ctx.clientAddress });
      if (r !== undefined) return r;
      if (!limiter || addressRules.length === 0) return undefined;
      const key = hashKey(`a:${ctx.clientAddress}`);
      return take(ctx, addressRules.map((c) => ({ c, key: `${c.rule.name}|${key}` })));
    },
    checkPrincipal(ctx) {
      const keyId = credentialOf(ctx);
      const principal = principalOf(ctx);
      const r = restricted(ctx, { ...(principal ? { principal } : {}), ...(keyId ? { keyId } : {}), address: ctx.clientAddress });
      if (r instanceof Promise) return r.then((d) => d ?? principalLimits(ctx, principal, keyId));
      if (r !== undefined) return r;
      return principalLimits(ctx, principal, keyId);
    },
    charge(ctx, bytesOut, records) {
      const q = ctx.limits?.quotas;
      if (!limiter || !q || q.length === 0) return;
      for (const { rule, key } of q) {
        const cost = rule.unit === 'bytes' ? bytesOut : records ?? 0;
        if (cost > 0) limiter.charge(rule, key, cost).catch(() => {});
      }
    },
    headersFor(ctx) {
      const d = ctx.limits?.decisions;
      return d && d.length > 0 ? rateLimitHeaders(d) : undefined;
    },
  };
  return self;

  function principalLimits(ctx: RequestContext, principal: string | undefined, keyId: string | undefined): Denial | undefined | Promise<Denial | undefined> {
    if (!limiter || principalRules.length === 0) return undefined;
    const list = rulesFor(ctx.api!, ctx.operation!);
    if (list.length === 0) return undefined;
    const op = `${ctx.api!.name}.${ctx.operation!.id}`;
    const keyed: { c: CompiledRule; key: string }[] = [];
    for (const c of list) {
      let k: string | undefined;
      switch (c.by) {
        case 'principal': k = principal; break;
        case 'key': k = keyId; break;
        case 'operation': k = `o:${op}`; break;
        case 'principal-operation': k = principal === undefined ? undefined : `${principal}|o:${op}`; break;
        case 'address': k = `a:${ctx.clientAddress}`; break;
      }
      // A rule by principal or key does not apply to anonymous calls (public operations); an
      // address rule covers those.
      if (k !== undefined) keyed.push({ c, key: `${c.rule.name}|${hashKey(k)}` });
    }
    return keyed.length === 0 ? undefined : take(ctx, keyed);
  }
}

/**
 * Who a request is for the limits and the anomaly model: the data subject the credential acts for
 * (`s:<subject>`), else the credential itself; undefined when unauthenticated.
 */
export function principalOf(ctx: RequestContext): string | undefined {
  const p = ctx.principal;
  if (!p || p.authMethod === 'none') return undefined;
  return p.subject !== undefined ? `s:${p.subject}` : credentialOf(ctx);
}

/** The credential's identity: the API key (also behind Rampart's own tokens), else the issuer and name. */
function credentialOf(ctx: RequestContext): string | undefined {
  const p = ctx.principal;
  if (!p || p.authMethod === 'none') return undefined;
  if (p.keyId !== undefined) return `k:${p.keyId}`;
  return `c:${p.authMethod}:${p.issuer ?? ''}:${p.name}`;
}

/**
 * After the response: the request's volume quotas are charged with what was sent. Never throws.
 *
 * @example
 * chargeQuotas(ctx, r.bytesOut, r.records);
 */
export function chargeQuotas(ctx: RequestContext, bytesOut: number, records: number | undefined): void {
  ctx.limits?.owner.charge(ctx, bytesOut, records);
}

/** The RateLimit headers for the response, when a rule applied to the request. */
export function limitHeaders(ctx: RequestContext): Record<string, string> | undefined {
  return ctx.limits?.owner.headersFor(ctx);
}
