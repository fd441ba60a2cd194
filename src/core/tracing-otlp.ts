/**
 * The OTLP/HTTP JSON span exporter (OpenTelemetry Protocol, "OTLP/HTTP" with the JSON encoding
 * of opentelemetry-proto's ExportTraceServiceRequest: POST <endpoint>/v1/traces,
 * `content-type: application/json`, ids in hex, 64-bit integers as decimal strings).
 *
 * It never blocks a request: `enqueue` is an array push into a bounded queue; a full queue drops
 * the span and counts it (`rampart_tracing_spans_dropped_total{reason="queue_full"}`). Batches
 * leave on a timer (or as soon as one is full), one POST at a time with a timeout; a batch the
 * collector refuses or cannot take is dropped and counted (`export_failed`) rather than retried,
 * so a collector outage costs memory bounded by the queue and nothing else.
 */
import type { AttrValue, SpanData, SpanSink } from './tracing.js';

export interface OtlpExporterOptions {
  /** The collector's base URL (`/v1/traces` is appended) or the full traces URL. */
  endpoint: string;
  /** resource `service.name`. */
  serviceName: string;
  serviceVersion?: string;
  /** Extra resource attributes (e.g. `service.instance.id`: the node name). */
  resource?: Record<string, string>;
  /** Spans held at most (default 2048). */
  maxQueue?: number;
  /** Spans per POST at most (default 512). */
  maxBatch?: number;
  /** How long a span may wait for its batch (default 1000 ms). */
  delayMs?: number;
  /** Per-POST timeout (default 10 000 ms). */
  timeoutMs?: number;
}

export interface OtlpExporter extends SpanSink {
  /** Sends everything queued now; resolves when the POSTs have settled. */
  flush(): Promise<void>;
  stats(): { exported: number; dropped: Record<'queue_full' | 'export_failed', number> };
  /** Flushes, then stops the timer. */
  close(): Promise<void>;
}

/** `<base>/v1/traces` unless the URL already names that path (OTEL_EXPORTER_OTLP_ENDPOINT semantics). */
export function tracesUrl(endpoint: string): string {
  const u = new URL(endpoint);
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new TypeError('tracing: otlpEndpoint must be an http(s) URL');
  if (!u.pathname.endsWith('/v1/traces')) u.pathname = `${u.pathname.replace(/\/+$/, '')}/v1/traces`;
  return u.toString();
}

type OtlpValue = { stringValue: string } | { intValue: string } | { doubleValue: number } | { boolValue: boolean };

function value(v: AttrValue): OtlpValue {
  if (typeof v === 'string') return { stringValue: v };
  if (typeof v === 'boolean') return { boolValue: v };
  return Number.isInteger(v) ? { intValue: String(v) } : { doubleValue: v };
}

function attributes(list: readonly [string, AttrValue][]): { key: string; value: OtlpValue }[] {
  return list.map(([key, v]) => ({ key, value: value(v) }));
}

/** The ExportTraceServiceRequest body for one batch (exported for tests and the docs' example). */
export function otlpBody(spans: readonly SpanData[], resource: Record<string, string>): string {
  return JSON.stringify({
    resourceSpans: [
      {
        resource: { attributes: attributes(Object.entries(resource)) },
        scopeSpans: [
          {
            scope: { name: 'rampart', version: resource['service.version'] ?? '' },
            spans: spans.map((s) => ({
              traceId: s.traceId,
              spanId: s.spanId,
              ...(s.parentSpanId !== '' ? { parentSpanId: s.parentSpanId } : {}),
              name: s.name,
              kind: s.kind,
              startTimeUnixNano: s.startNs.toString(),
              endTimeUnixNano: s.endNs.toString(),
              attributes: attributes(s.attributes),
              // Status codes: 0 unset, 2 error (trace.proto Status.StatusCode).
              status: s.error ? { code: 2 } : { code: 0 },
            })),
          },
        ],
      },
    ],
  });
}

export function createOtlpExporter(o: OtlpExporterOptions): OtlpExporter {
  const url = tracesUrl(o.endpoint);
  const maxQueue = o.maxQueue ?? 2048;
  const maxBatch = o.maxBatch ?? 512;
  const delayMs = o.delayMs ?? 1000;
  const timeoutMs = o.timeoutMs ?? 10_000;
  if (!(maxQueue >= 1 && maxBatch >= 1 && delayMs >= 0)) throw new TypeError('tracing: maxQueue, maxBatch and delayMs must be positive');
  const resource: Record<string, string> = { 'service.name': o.serviceName, ...(o.serviceVersion ? { 'service.version': o.serviceVersion } : {}), ...o.resource };
  let queue: SpanData[] = [];
  let exported = 0;
  const dropped = { queue_full: 0, export_failed: 0 };
  let inFlight: Promise<void> | undefined;
  let closed = false;
  let soon: NodeJS.Immediate | undefined;

  async function send(batch: SpanData[]): Promise<void> {
    try {
      const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: otlpBody(batch, resource), signal: AbortSignal.timeout(timeoutMs), redirect: 'error' });
      await res.arrayBuffer().catch(() => undefined);
      if (res.ok) exported += batch.length;
      else dropped.export_failed += batch.length;
    } catch {
      dropped.export_failed += batch.length;
    }
  }

  /** Drains the queue in batches, one POST at a time. */
  function pump(): Promise<void> {
    if (inFlight) return inFlight;
    if (queue.length === 0) return Promise.resolve();
    inFlight = (async () => {
      while (queue.length > 0) {
        const batch = queue.length <= maxBatch ? queue : queue.slice(0, maxBatch);
        queue = queue.length <= maxBatch ? [] : queue.slice(maxBatch);
        await send(batch);
      }
    })().finally(() => {
      inFlight = undefined;
    });
    return inFlight;
  }

  const timer = setInterval(() => void pump(), Math.max(delayMs, 10));
  timer.unref();
  const flush = async (): Promise<void> => {
    // A batch in flight first, then whatever arrived meanwhile.
    if (inFlight) await inFlight;
    await pump();
  };

  return {
    enqueue(span) {
      if (closed || queue.length >= maxQueue) {
        dropped.queue_full++;
        return;
      }
      queue.push(span);
      if (queue.length >= maxBatch && soon === undefined && inFlight === undefined) {
        soon = setImmediate(() => {
          soon = undefined;
          void pump();
        });
        soon.unref();
      }
    },
    flush,
    stats: () => ({ exported, dropped: { ...dropped } }),
    async close() {
      clearInterval(timer);
      if (soon) clearImmediate(soon);
      closed = true;
      await flush();
    },
  };
}
