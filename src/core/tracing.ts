/**
 * OpenTelemetry traces without an SDK (config `observability.tracing`, off by default): one
 * SERVER span per exchange with a child span per pipeline stage (./tracing-stages.ts), per ledger
 * commit and for the upstream call, exported as OTLP/HTTP JSON by ./tracing-otlp.ts.
 *
 * Everything arrives through the diagnostics channels (STYLE point 6), so the data plane does
 * not know tracing exists: when it is off nothing subscribes and the publishers skip their
 * messages.
 *
 * W3C Trace Context (https://www.w3.org/TR/trace-context/):
 * - a client's `traceparent` (§3.2) is continued only when the peer is a trusted proxy
 *   (`trustedProxies`): anyone else could pick the trace id and force sampling; their header is
 *   replaced, and their `tracestate` dropped;
 * - the upstream always receives a `traceparent` naming the upstream span as parent, with the
 *   sampled flag (§3.2.2.5) of the decision, so the upstream's own spans join the trace.
 *
 * Spans carry no personal data (DESIGN: secrets never reach a log; PII only as policy allows):
 * the route template, never the path with its ids; no client address, principal or key.
 */
import { randomFillSync } from 'node:crypto';
import type { RequestContext } from './context.js';
import { channels, type ExchangeEndMessage, type ExchangeStepMessage, type UpstreamErrorMessage, type UpstreamRequestMessage, type UpstreamResponseMessage } from './diagnostics.js';

/** OTLP span kinds (opentelemetry-proto trace.proto, Span.SpanKind). */
export const SPAN_KIND = { INTERNAL: 1, SERVER: 2, CLIENT: 3 } as const;

export type AttrValue = string | number | boolean;

export interface SpanData {
  traceId: string;
  spanId: string;
  /** '' for a root without a remote parent. */
  parentSpanId: string;
  name: string;
  kind: (typeof SPAN_KIND)[keyof typeof SPAN_KIND];
  /** Unix time in nanoseconds. */
  startNs: bigint;
  endNs: bigint;
  attributes: [string, AttrValue][];
  error: boolean;
}

/** Where finished spans go (./tracing-otlp.ts); must never block or throw. */
export interface SpanSink {
  enqueue(span: SpanData): void;
}

export interface TracerOptions {
  /** 0..1: the fraction of new traces recorded (a trusted parent's decision is followed). */
  sampleRatio: number;
  sink: SpanSink;
  /** Tests: a deterministic sampler. */
  random?: () => number;
}

export interface Tracer {
  /** A stage ran (./tracing-stages.ts): `denied` is the reason code when it denied. */
  stage(ctx: RequestContext, name: string, startNs: bigint, endNs: bigint, denied: string | undefined, threw: boolean): void;
  close(): void;
}

export interface TraceParent {
  traceId: string;
  parentId: string;
  sampled: boolean;
}

const HEX32 = /^[0-9a-f]{32}$/;
const HEX16 = /^[0-9a-f]{16}$/;
const HEX2 = /^[0-9a-f]{2}$/;

/**
 * Parses a `traceparent` header (W3C Trace Context §3.2): `version-traceid-parentid-flags`,
 * lower-case hex, version ff invalid, all-zero ids invalid; a later version may append fields
 * after the flags (§3.2.4: parse the version-00 part and ignore the rest).
 */
export function parseTraceparent(v: string | string[] | undefined): TraceParent | undefined {
  // Several traceparent headers: invalid (§3.2: a single header).
  if (typeof v !== 'string') return undefined;
  const s = v.trim();
  if (s.length < 55) return undefined;
  const version = s.slice(0, 2);
  if (!HEX2.test(version) || version === 'ff') return undefined;
  if (version === '00' && s.length !== 55) return undefined;
  if (s.length > 55 && s[55] !== '-') return undefined;
  if (s[2] !== '-' || s[35] !== '-' || s[52] !== '-') return undefined;
  const traceId = s.slice(3, 35);
  const parentId = s.slice(36, 52);
  const flags = s.slice(53, 55);
  if (!HEX32.test(traceId) || !HEX16.test(parentId) || !HEX2.test(flags)) return undefined;
  if (/^0+$/.test(traceId) || /^0+$/.test(parentId)) return undefined;
  return { traceId, parentId, sampled: (parseInt(flags, 16) & 1) === 1 };
}

export function formatTraceparent(traceId: string, spanId: string, sampled: boolean): string {
  return `00-${traceId}-${spanId}-${sampled ? '01' : '00'}`;
}

/** Random ids from a pooled buffer: one randomFillSync per 256 spans rather than one per id. */
const pool = Buffer.alloc(4096);
let poolAt = pool.length;
function randomHex(bytes: number): string {
  if (poolAt + bytes > pool.length) {
    randomFillSync(pool);
    poolAt = 0;
  }
  const s = pool.toString('hex', poolAt, poolAt + bytes);
  poolAt += bytes;
  // All zeros is invalid (§3.2.2.3-4); at 2^-64 it is still cheaper to check than to explain.
  return /^0+$/.test(s) ? randomHex(bytes) : s;
}

/** The trace of one exchange, kept beside its context until the exchange ends. */
interface ExchangeTrace {
  traceId: string;
  rootId: string;
  /** The trusted client's parent span id, or ''. */
  remoteParent: string;
  sampled: boolean;
  children: SpanData[];
  upstream: { spanId: string; startNs: bigint; responseNs: bigint; status: number; error: string | undefined } | undefined;
}

export function createTracer(o: TracerOptions): Tracer {
  if (!(o.sampleRatio >= 0 && o.sampleRatio <= 1)) throw new TypeError('tracing: sampleRatio must be between 0 and 1');
  const random = o.random ?? Math.random;
  const traces = new WeakMap<RequestContext, ExchangeTrace>();
  // hrtime has an arbitrary origin: one offset turns it into Unix nanoseconds for every span.
  const offset = BigInt(Date.now()) * 1_000_000n - process.hrtime.bigint();
  const unix = (hr: bigint): bigint => hr + offset;

  function traceOf(ctx: RequestContext): ExchangeTrace {
    let t = traces.get(ctx);
    if (t !== undefined) return t;
    const trusted = !ctx.runtime.trusted.empty && ctx.runtime.trusted.isTrusted(ctx.peerAddress);
    const parent = trusted ? parseTraceparent(ctx.req.headers.traceparent) : undefined;
    t = {
      traceId: parent?.traceId ?? randomHex(16),
      rootId: randomHex(8),
      remoteParent: parent?.parentId ?? '',
      // Parent-based: a trusted caller's decision is kept, so a trace is never half recorded.
      sampled: parent ? parent.sampled : o.sampleRatio > 0 && random() < o.sampleRatio,
      children: [],
      upstream: undefined,
    };
    traces.set(ctx, t);
    return t;
  }

  function child(t: ExchangeTrace, name: string, kind: SpanData['kind'], startHr: bigint, endHr: bigint, attributes: [string, AttrValue][], error: boolean, spanId = randomHex(8)): void {
    t.children.push({ traceId: t.traceId, spanId, parentSpanId: t.rootId, name, kind, startNs: unix(startHr), endNs: unix(endHr), attributes, error });
  }

  const onUpstreamRequest = (m: unknown) => {
    const u = m as UpstreamRequestMessage;
    const t = traceOf(u.context);
    const spanId = randomHex(8);
    t.upstream = { spanId, startNs: u.startNs, responseNs: 0n, status: 0, error: undefined };
    u.headers.traceparent = formatTraceparent(t.traceId, spanId, t.sampled);
    // tracestate belongs to the trace the client named; it travels only with a continued parent.
    if (t.remoteParent === '') delete u.headers.tracestate;
  };
  const onUpstreamResponse = (m: unknown) => {
    const u = m as UpstreamResponseMessage;
    const up = traces.get(u.context)?.upstream;
    if (up === undefined) return;
    up.responseNs = process.hrtime.bigint();
    up.status = u.status;
  };
  const onUpstreamError = (m: unknown) => {
    const u = m as UpstreamErrorMessage;
    const up = traces.get(u.context)?.upstream;
    if (up === undefined) return;
    if (up.responseNs === 0n) up.responseNs = process.hrtime.bigint();
    up.error = u.kind;
  };
  const onStep = (m: unknown) => {
    const s = m as ExchangeStepMessage;
    const t = traceOf(s.context);
    if (!t.sampled) return;
    child(t, s.step, SPAN_KIND.INTERNAL, s.startNs, s.endNs, [['rampart.step', s.step]], !s.ok);
  };
  const onEnd = (m: unknown) => {
    const e = m as ExchangeEndMessage;
    const ctx = e.context;
    const t = traces.get(ctx);
    if (t === undefined) return;
    traces.delete(ctx);
    if (!t.sampled) return;
    const endHr = process.hrtime.bigint();
    const up = t.upstream;
    if (up !== undefined) {
      const attrs: [string, AttrValue][] = [['http.request.method', ctx.method]];
      if (ctx.api) attrs.push(['server.address', new URL(ctx.api.upstream.origin).hostname]);
      if (up.status !== 0) attrs.push(['http.response.status_code', up.status]);
      if (up.error !== undefined) attrs.push(['error.type', up.error]);
      child(t, `upstream ${ctx.method}`, SPAN_KIND.CLIENT, up.startNs, up.responseNs === 0n ? endHr : up.responseNs, attrs, up.error !== undefined || up.status >= 500, up.spanId);
      // Streaming the answer back, the response controls and the completion commit.
      if (up.responseNs !== 0n && up.error === undefined) child(t, 'respond', SPAN_KIND.INTERNAL, up.responseNs, endHr, [['rampart.stage', 'respond']], e.outcome === 'error');
    }
    const route = ctx.operation?.route;
    const attrs: [string, AttrValue][] = [
      ['http.request.method', ctx.method],
      ['http.response.status_code', e.status],
      ['url.scheme', ctx.proto],
      ['rampart.request_id', ctx.requestId],
      ['rampart.outcome', e.outcome],
    ];
    if (route !== undefined) attrs.push(['http.route', route]);
    if (e.api !== undefined) attrs.push(['rampart.api', e.api]);
    if (e.operationId !== undefined) attrs.push(['rampart.operation', e.operationId]);
    if (e.stage !== undefined) attrs.push(['rampart.stage', e.stage]);
    if (e.reason !== undefined) attrs.push(['rampart.reason', e.reason]);
    // OTel HTTP semantic conventions: server span name `{method} {http.route}`; 5xx is an error.
    o.sink.enqueue({
      traceId: t.traceId,
      spanId: t.rootId,
      parentSpanId: t.remoteParent,
      name: route !== undefined ? `${ctx.method} ${route}` : ctx.method,
      kind: SPAN_KIND.SERVER,
      startNs: unix(ctx.startNs),
      endNs: unix(endHr),
      attributes: attrs,
      error: e.status >= 500,
    });
    for (const c of t.children) o.sink.enqueue(c);
  };

  channels.upstreamRequest.subscribe(onUpstreamRequest);
  channels.upstreamResponse.subscribe(onUpstreamResponse);
  channels.upstreamError.subscribe(onUpstreamError);
  channels.exchangeStep.subscribe(onStep);
  channels.exchangeEnd.subscribe(onEnd);

  return {
    stage(ctx, name, startNs, endNs, denied, threw) {
      const t = traceOf(ctx);
      if (!t.sampled) return;
      const attrs: [string, AttrValue][] = [['rampart.stage', name]];
      if (denied !== undefined) attrs.push(['rampart.reason', denied]);
      child(t, name, SPAN_KIND.INTERNAL, startNs, endNs, attrs, threw);
    },
    close() {
      channels.upstreamRequest.unsubscribe(onUpstreamRequest);
      channels.upstreamResponse.unsubscribe(onUpstreamResponse);
      channels.upstreamError.unsubscribe(onUpstreamError);
      channels.exchangeStep.unsubscribe(onStep);
      channels.exchangeEnd.unsubscribe(onEnd);
    },
  };
}
