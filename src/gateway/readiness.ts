/**
 * Readiness: false while the ledger or an upstream is unavailable (a load balancer then routes
 * elsewhere). Probed in the background, so /ready costs nothing per call and never blocks.
 */
import { connect } from 'node:net';
import type { LedgerStore } from '../storage/types.js';
import type { GatewayRuntime } from './runtime.js';

export interface ReadinessState {
  ready: boolean;
  ledger: 'ok' | 'unavailable';
  keys: 'ok' | 'stale';
  upstreams: Record<string, 'ok' | 'unavailable'>;
  checkedAt: string;
}

export interface Readiness {
  state(): ReadinessState;
  check(): Promise<ReadinessState>;
  close(): void;
}

export function createReadiness(deps: { store: LedgerStore; current: () => GatewayRuntime; keysFresh: () => boolean; ledgerHealthy: () => boolean; intervalMs?: number }): Readiness {
  let last: ReadinessState = { ready: false, ledger: 'unavailable', keys: 'stale', upstreams: {}, checkedAt: new Date(0).toISOString() };
  async function check(): Promise<ReadinessState> {
    const rt = deps.current();
    const ledgerOk = await withTimeout(deps.store.ping(), 2000).then(() => deps.ledgerHealthy(), () => false);
    const ups: Record<string, 'ok' | 'unavailable'> = {};
    await Promise.all(rt.apis.map(async (a) => {
      ups[a.name] = (await tcpReachable(a.upstream.origin, 2000)) ? 'ok' : 'unavailable';
    }));
    const keys = deps.keysFresh() ? 'ok' : 'stale';
    last = {
      ready: ledgerOk && keys === 'ok' && Object.values(ups).every((v) => v === 'ok'),
      ledger: ledgerOk ? 'ok' : 'unavailable',
      keys,
      upstreams: ups,
      checkedAt: new Date().toISOString(),
    };
    return last;
  }
  let running = false;
  const timer = setInterval(() => {
    if (running) return;
    running = true;
    check().catch(() => {}).finally(() => (running = false));
  }, deps.intervalMs ?? 2000);
  timer.unref();
  return { state: () => last, check, close: () => clearInterval(timer) };
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
