/**
 * The limiter the gateway's limit stages call (API4, API6, N63-5, ASVS 2.2.1, 8.1.4): picks the
 * backend and owns outage behaviour. Semantics of a rule: rules.ts and bucket.ts.
 *
 * Redis outage (any failed or timed-out command):
 *   - `onOutage: 'local'`: the node switches to its own memory buckets (decisions carry
 *     `degraded: true`) and raises one `redis-down` event: per-node limits, never no limit.
 *     `localShare` scales the local limits (1/N for N nodes keeps the cluster near the global
 *     limit).
 *   - `onOutage: 'refuse'` (strict): take() and peek() reject with RateLimitUnavailableError,
 *     which the integrator answers with 503. charge() never rejects (the response is already
 *     going): it is counted locally.
 * While down, no request waits on Redis: everything goes to the fallback at once, and a single
 * background probe (PING, every `probeIntervalMs` and whenever the client reconnects) decides
 * when Redis is back. Then one `redis-up` event, and decisions come from Redis again.
 *
 * Counts taken locally during the outage are NOT copied into Redis on recovery: Redis resumes
 * from the state it held before the outage (or from empty, if Redis itself restarted). So across
 * an outage a key can get at most its local allowance plus what Redis still had left. The local
 * buckets are kept (they expire as they drain), so a flapping Redis does not hand out a fresh
 * local allowance on each flap. A command that timed out may still have been applied by Redis:
 * such a request is counted twice, which errs on the strict side.
 */
import { bucketFor, checkCost, scaledBucket, toDecision, type Bucket, type BucketMode } from './bucket.js';
import { RateLimitUnavailableError } from './errors.js';
import { createMemoryStore, type MemoryStore } from './memory.js';
import { createRedisStore, type RedisStore } from './redis.js';
import type { LimitDecision, LimitRule } from './rules.js';

export interface Limiter {
  /** Consume `cost` units (default 1) of `rule` for `key` (already composed, e.g. with limitKey). */
  take(rule: LimitRule, key: string, cost?: number): Promise<LimitDecision>;
  /** Charge units after the fact (response bytes/records) without refusing this request; the next take() sees them. */
  charge(rule: LimitRule, key: string, cost: number): Promise<void>;
  /** Look without consuming: what take(rule, key, 1) would decide now. */
  peek(rule: LimitRule, key: string): Promise<LimitDecision>;
  readonly backend: 'memory' | 'redis';
  /** Resolves true once the backend can serve (memory: at once; Redis: connected and answering PING), false after `timeoutMs`. */
  ready(timeoutMs?: number): Promise<boolean>;
  /** For readiness and metrics. */
  health(): LimiterHealth;
  close(): Promise<void>;
}

export interface LimiterHealth {
  backend: 'memory' | 'redis';
  /** Redis backend only: whether decisions currently come from Redis. */
  redis?: 'up' | 'down';
  /** Entries held by the memory backend or the local fallback. */
  localKeys: number;
  /** Live local entries evicted because the memory bound was reached. */
  localEvictions: number;
}

export type LimiterEvent =
  | { kind: 'redis-down'; error?: unknown }
  | { kind: 'redis-up'; error?: unknown }
  /** The memory bound was reached and a live bucket was forgotten (at most one event a minute). */
  | { kind: 'memory-full'; error?: unknown };

export interface RedisBackendOptions {
  kind: 'redis';
  url: string;
  /** Prefix of every key, e.g. `rampart:rl:`; required so deployments and tests never collide. */
  prefix: string;
  /** Per-command timeout (ms); default 100. */
  commandTimeoutMs?: number;
  /** Connection-attempt timeout (ms); default 1000. */
  connectTimeoutMs?: number;
  /** `local`: per-node limits with an alert; `refuse`: RateLimitUnavailableError (strict). */
  onOutage: 'local' | 'refuse';
  /** Share of each limit a node enforces locally during an outage (0 < share <= 1); default 1. */
  localShare?: number;
  /** How often the background probe tries Redis while it is down (ms); default 1000. */
  probeIntervalMs?: number;
}

export interface LimiterOptions {
  backend: { kind: 'memory' } | RedisBackendOptions;
  /** Injected clock for tests (ms). Without it: Date.now() locally, Redis TIME in Redis. */
  now?: () => number;
  /** Called on outage start/end and on memory pressure (the integrator publishes it as an alert). */
  onEvent?: (e: LimiterEvent) => void;
  /** Bound on the memory backend / local fallback entries; default 100 000. */
  maxLocalKeys?: number;
}

const MEMORY_FULL_EVENT_INTERVAL_MS = 60_000;

/**
 * Creates a limiter. Options are checked at once (TypeError on misuse); a Redis connection is
 * made in the background; await ready() at start-up to avoid a `redis-down` on the first requests.
 *
 * @example
 * const limiter = createLimiter({
 *   backend: { kind: 'redis', url: 'redis://127.0.0.1:6379', prefix: 'rampart:rl:', onOutage: 'local' },
 *   onEvent: (e) => log.warn(e, 'rate limiter'),
 * });
 * await limiter.ready();
 * const rule = { name: 'per-key', unit: 'requests', limit: 100, windowSeconds: 60, burst: 20 } as const;
 * const d = await limiter.take(rule, limitKey([['k', keyId], ['op', operationId]]));
 * if (!d.allowed) return deny('RAMPART_RATE_LIMITED', { headers: rateLimitHeaders([d]) });
 */
export function createLimiter(opts: LimiterOptions): Limiter {
  const clock = opts.now ?? Date.now;
  const emit = (e: LimiterEvent): void => {
    try {
      opts.onEvent?.(e);
    } catch {
      // an alert sink that throws must not change a decision
    }
  };
  let lastFullEvent = -Infinity;
  const local: MemoryStore = createMemoryStore({
    maxKeys: opts.maxLocalKeys,
    onEvict: () => {
      const t = clock();
      if (t - lastFullEvent >= MEMORY_FULL_EVENT_INTERVAL_MS) {
        lastFullEvent = t;
        emit({ kind: 'memory-full' });
      }
    },
  });
  const be = opts.backend;
  if (be.kind === 'memory') return memoryLimiter(local, clock);
  if (be.kind !== 'redis') throw new TypeError('backend.kind must be memory or redis');
  if (!validRedisUrl(be.url)) throw new TypeError('backend.url must be a redis:// or rediss:// URL');
  if (be.onOutage !== 'local' && be.onOutage !== 'refuse') throw new TypeError("backend.onOutage must be 'local' or 'refuse'");
  const share = be.localShare ?? 1;
  if (!(typeof share === 'number' && share > 0 && share <= 1)) throw new TypeError('backend.localShare must be in (0, 1]');
  for (const [k, v] of [['commandTimeoutMs', be.commandTimeoutMs], ['connectTimeoutMs', be.connectTimeoutMs], ['probeIntervalMs', be.probeIntervalMs]] as const) {
    if (v !== undefined && !(Number.isInteger(v) && v > 0)) throw new TypeError(`backend.${k} must be a positive integer`);
  }
  return redisLimiter(be, createRedisStore(be), local, clock, opts.now !== undefined, share, emit);
}

function validRedisUrl(url: unknown): boolean {
  if (typeof url !== 'string') return false;
  try {
    const u = new URL(url);
    return (u.protocol === 'redis:' || u.protocol === 'rediss:') && u.hostname.length > 0;
  } catch {
    return false;
  }
}

function memoryLimiter(store: MemoryStore, clock: () => number): Limiter {
  const run = (rule: LimitRule, key: string, mode: BucketMode, cost: number): LimitDecision => {
    const b = bucketFor(rule);
    return toDecision(b, store.apply(b, key, mode, cost, clock()), cost, false);
  };
  return {
    backend: 'memory',
    // async: a TypeError for a bad rule or cost becomes a rejected promise, never a decision
    take: async (rule, key, cost = 1) => run(rule, key, 'take', checkCost(cost)),
    charge: async (rule, key, cost) => {
      run(rule, key, 'charge', checkCost(cost));
    },
    peek: async (rule, key) => run(rule, key, 'peek', 1),
    ready: async () => true,
    health: () => ({ backend: 'memory', localKeys: store.size, localEvictions: store.evictions }),
    close: async () => store.clear(),
  };
}

function redisLimiter(
  be: RedisBackendOptions,
  store: RedisStore,
  local: MemoryStore,
  clock: () => number,
  injectedClock: boolean,
  share: number,
  emit: (e: LimiterEvent) => void,
): Limiter {
  let up = true;
  let closed = false;
  let probeTimer: NodeJS.Timeout | undefined;
  let probing = false;
  const probeIntervalMs = be.probeIntervalMs ?? 1000;
  const localBuckets = new WeakMap<Bucket, Bucket>();
  const localBucket = (b: Bucket): Bucket => {
    let l = localBuckets.get(b);
    if (!l) {
      l = scaledBucket(b, share);
      localBuckets.set(b, l);
    }
    return l;
  };

  const probe = async (): Promise<void> => {
    if (up || probing || closed) return;
    probing = true;
    try {
      await store.ping();
      if (!up && !closed) {
        up = true;
        if (probeTimer) clearInterval(probeTimer);
        probeTimer = undefined;
        emit({ kind: 'redis-up' });
      }
    } catch {
      // still down; the next tick tries again
    } finally {
      probing = false;
    }
  };
  store.client.on('ready', () => void probe());

  const markDown = (error: unknown): void => {
    if (!up || closed) return;
    up = false;
    emit({ kind: 'redis-down', error });
    probeTimer = setInterval(() => void probe(), probeIntervalMs);
    probeTimer.unref();
  };

  const run = async (rule: LimitRule, key: string, mode: BucketMode, cost: number): Promise<LimitDecision> => {
    const b = bucketFor(rule);
    if (closed) throw new RateLimitUnavailableError({ cause: new Error('limiter closed') });
    let failure: unknown;
    if (up) {
      try {
        const o = await store.apply(b, key, mode, cost, injectedClock ? clock() : undefined);
        return toDecision(b, o, cost, false);
      } catch (err) {
        failure = err;
        markDown(err);
      }
    }
    if (be.onOutage === 'refuse' && mode !== 'charge') throw new RateLimitUnavailableError({ cause: failure ?? new Error('Redis is down') });
    const lb = localBucket(b);
    return toDecision(lb, local.apply(lb, key, mode, cost, clock()), cost, true);
  };

  return {
    backend: 'redis',
    take: async (rule, key, cost = 1) => run(rule, key, 'take', checkCost(cost)),
    charge: async (rule, key, cost) => {
      await run(rule, key, 'charge', checkCost(cost));
    },
    peek: async (rule, key) => run(rule, key, 'peek', 1),
    async ready(timeoutMs = 2000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        try {
          if (store.client.status === 'ready') {
            await store.ping();
            return true;
          }
        } catch {
          // not yet
        }
        if (closed || Date.now() >= deadline) return false;
        await new Promise((r) => setTimeout(r, 20));
      }
    },
    health: () => ({ backend: 'redis', redis: up ? 'up' : 'down', localKeys: local.size, localEvictions: local.evictions }),
    async close() {
      closed = true;
      if (probeTimer) clearInterval(probeTimer);
      probeTimer = undefined;
      await store.close();
      local.clear();
    },
  };
}
