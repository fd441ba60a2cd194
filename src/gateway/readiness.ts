/**
 * Readiness (`/.rampart/ready`): false while the ledger or an upstream is unavailable, so a load
 * balancer routes elsewhere. Liveness (`/.rampart/health`) stays trivial: a gateway that cannot
 * reach its ledger is alive but must not take traffic (DESIGN: 503 rather than an unrecorded
 * exchange).
 *
 * - Ledger: the store answers a ping, the writer's last batch committed (Ledger.healthy), and its
 *   queue is below QUEUE_HIGH_WATER of the writer's bound (past the bound appends are refused
 *   with 503; a node that far behind should shed load first).
 * - Upstreams, two signals, the most recent evidence winning:
 *   - active: a TCP connect to each upstream every `intervalMs` (default 2 s), in the background,
 *     so /ready costs nothing per call and never blocks; it is what notices a recovery when the
 *     load balancer has stopped sending traffic;
 *   - passive: an upstream whose last PASSIVE_FAILURES proxied requests all failed to connect
 *     (refused, connect timeout, TLS) is down at once, without waiting for the next probe; any
 *     response from it, or a successful probe after the last failure, brings it back.
 */
import { connect } from 'node:net';
import { channels, type ExchangeEndMessage, type UpstreamErrorMessage } from '../core/diagnostics.js';
import type { LedgerStore } from '../storage/types.js';
import type { GatewayRuntime } from './runtime.js';

export interface ReadinessState {
  ready: boolean;
  ledger: 'ok' | 'unavailable';
  /** Appends queued or in flight, and the bound past which they are refused. */
  ledgerQueue: { pending: number; max: number };
  keys: 'ok' | 'stale';
  upstreams: Record<string, 'ok' | 'unavailable'>;
  checkedAt: string;
}

export interface Readiness {
  /** The current state: the last probe combined with the live passive signals (no I/O). */
  state(): ReadinessState;
  /** Probes now (store ping, TCP connects) and returns the state. */
  check(): Promise<ReadinessState>;
  close(): void;
}

/** Consecutive connect failures after which an upstream is down without waiting for a probe. */
export const PASSIVE_FAILURES = 5;
/** Fraction of the writer's queue bound at which the node reports not-ready. */
export const QUEUE_HIGH_WATER = 0.9;

export interface ReadinessDeps {
  store: LedgerStore;
  current: () => GatewayRuntime;
  keysFresh: () => boolean;
  ledgerHealthy: () => boolean;
  /** Ledger.pending (default: 0, for callers without a writer). */
  ledgerPending?: () => number;
  /** The writer's queue bound (LedgerOptions.maxQueue; writer.ts's default is 10 000). */
  ledgerMaxQueue?: number;
  intervalMs?: number;
}

interface UpstreamHealth {
  /** Consecutive proxied requests that failed to connect. */
  failures: number;
  /** Monotonic time of the last such failure (ms, performance.now()). */
  lastFailure: number;
  /** The last probe's verdict and when it started. */
  probeOk: boolean;
  probedAt: number;
}

const CONNECT_KINDS: ReadonlySet<string> = new Set(['connect', 'connect_timeout', 'tls']);

export function createReadiness(deps: ReadinessDeps): Readiness {
  const maxQueue = deps.ledgerMaxQueue ?? 10_000;
  let probe = { ledgerOk: false, keys: 'stale' as 'ok' | 'stale', checkedAt: new Date(0).toISOString() };
  const health = new Map<string, UpstreamHealth>();
  const of = (api: string): UpstreamHealth => {
    let h = health.get(api);
    if (h === undefined) {
      h = { failures: 0, lastFailure: -Infinity, probeOk: false, probedAt: -Infinity };
      health.set(api, h);
    }
    return h;
  };

  // Passive signals from the proxy: errors are rare; the end-of-exchange handler is one Map
  // lookup and a store, only for exchanges that reached the upstream.
  const onError = (m: unknown) => {
    const e = m as UpstreamErrorMessage;
    if (!CONNECT_KINDS.has(e.kind)) return;
    const h = of(e.api);
    h.failures++;
    h.lastFailure = performance.now();
  };
  const onEnd = (m: unknown) => {
    const e = m as ExchangeEndMessage;
    // The upstream answered: the exchange reached the respond side (or was allowed through it).
    if (e.api === undefined || (e.stage !== 'respond' && e.outcome !== 'allow')) return;
    const h = health.get(e.api);
    if (h !== undefined && h.failures !== 0) h.failures = 0;
  };
  channels.upstreamError.subscribe(onError);
  channels.exchangeEnd.subscribe(onEnd);

  function upstreamOk(api: string): boolean {
    const h = health.get(api);
    if (h === undefined) return false;
    // A probe that started after the last connect failure is newer evidence than the streak.
    const passiveDown = h.failures >= PASSIVE_FAILURES && h.lastFailure > h.probedAt;
    return h.probeOk && !passiveDown;
  }

  function state(): ReadinessState {
    const rt = deps.current();
    const ups: Record<string, 'ok' | 'unavailable'> = {};
    for (const a of rt.apis) ups[a.name] = upstreamOk(a.name) ? 'ok' : 'unavailable';
    const pending = deps.ledgerPending?.() ?? 0;
    const queueOk = pending < maxQueue * QUEUE_HIGH_WATER;
    const ledgerOk = probe.ledgerOk && deps.ledgerHealthy() && queueOk;
    return {
      ready: ledgerOk && probe.keys === 'ok' && Object.values(ups).every((v) => v === 'ok'),
      ledger: ledgerOk ? 'ok' : 'unavailable',
      ledgerQueue: { pending, max: maxQueue },
      keys: probe.keys,
      upstreams: ups,
      checkedAt: probe.checkedAt,
    };
  }

  async function check(): Promise<ReadinessState> {
    const rt = deps.current();
    const ledgerOk = await withTimeout(deps.store.ping(), 2000).then(() => true, () => false);
    await Promise.all(rt.apis.map(async (a) => {
      const startedAt = performance.now();
      const ok = await tcpReachable(a.upstream.origin, 2000);
      const h = of(a.name);
      h.probeOk = ok;
      h.probedAt = startedAt;
      if (ok && h.lastFailure < startedAt) h.failures = 0;
    }));
    probe = { ledgerOk, keys: deps.keysFresh() ? 'ok' : 'stale', checkedAt: new Date().toISOString() };
    return state();
  }
  let running = false;
  const timer = setInterval(() => {
    if (running) return;
    running = true;
    check().catch(() => {}).finally(() => (running = false));
  }, deps.intervalMs ?? 2000);
  timer.unref();
  return {
    state,
    check,
    close: () => {
      clearInterval(timer);
      channels.upstreamError.unsubscribe(onError);
      channels.exchangeEnd.unsubscribe(onEnd);
    },
  };
}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error('timeout')), ms);
    p.then((v) => { clearTimeout(t); resolve(v); }, (e: unknown) => { clearTimeout(t); reject(e as Error); });
  });
}

function tcpReachable(origin: string, timeoutMs: number): Promise<boolean> {
  const u = new URL(origin);
  const port = Number(u.port || (u.protocol === 'https:' ? 443 : 80));
  const host = u.hostname.replace(/^\[|\]$/g, '');
  return new Promise((resolve) => {
    const s = connect({ host, port });
    const done = (ok: boolean) => { s.destroy(); resolve(ok); };
    s.setTimeout(timeoutMs, () => done(false));
    s.once('connect', () => done(true));
    s.once('error', () => done(false));
  });
}
