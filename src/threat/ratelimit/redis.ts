/**
 * The Redis backend: the same buckets as memory.ts, shared by every gateway node (API4, API6,
 * N63-5), so a limit holds globally rather than once per node. One Lua script applies one
 * operation atomically (read, drain, decide, write) in a single round trip; it evaluates the
 * expressions of bucket.ts in the same order on the same IEEE doubles, so for the same inputs it
 * reaches the same decision as the memory backend (the contract test checks this).
 *
 * Clock: by default the script reads Redis's own TIME, so nodes with skewed clocks still share
 * one timeline. An injected `now` (tests) is passed in instead.
 *
 * The client must never make a request wait on a sick Redis (DESIGN: fail closed, never hang):
 *   - enableOfflineQueue: false   a command while disconnected fails at once instead of queueing;
 *   - connectTimeout              a connection attempt that hangs is abandoned;
 *   - commandTimeout              a command without a reply in time fails (default 100 ms);
 *   - socketTimeout               a connection that stops answering while commands are pending
 *                                 is destroyed and re-established (a half-open TCP path);
 *   - maxRetriesPerRequest: 0     a failed command is not retried behind the caller's back;
 *   - retryStrategy               reconnects in the background forever, backing off to 2 s.
 * What happens to the request when a command fails (local fallback or refusal) is decided in
 * limiter.ts.
 *
 * Keys: `${prefix}${rule}|${key}`, value `"<used> <last>"` (both %.17g so no precision is lost),
 * with a TTL of the time the bucket needs to drain plus 1 s; an expired key is an empty bucket.
 */
import { Redis } from 'ioredis';
import type { Bucket, BucketMode, BucketOutcome } from './bucket.js';
import { EXPIRY_SLACK_MS } from './memory.js';

/**
 * KEYS[1] bucket key. ARGV: mode (t take, c charge, p peek), limit, windowMs, capacity, cost,
 * now (ms; empty string = use Redis TIME). Returns { allowed (0/1), used (string) } where used is
 * as in BucketOutcome. A value that does not parse is treated as a full bucket (fail closed for
 * that key) and overwritten by the next write.
 */
export const BUCKET_SCRIPT = `
local mode = ARGV[1]
local limit = tonumber(ARGV[2])
local windowMs = tonumber(ARGV[3])
local capacity = tonumber(ARGV[4])
local cost = tonumber(ARGV[5])
local now
if ARGV[6] == '' then
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
else
  now = tonumber(ARGV[6])
end
local used = 0
local last = now
local v = redis.call('GET', KEYS[1])
if v then
  local sp = string.find(v, ' ', 1, true)
  local u = sp and tonumber(string.sub(v, 1, sp - 1))
  local l = sp and tonumber(string.sub(v, sp + 1))
  if u and l then
    used = u
    last = l
  else
    used = capacity
  end
end
if now > last then
  used = used - (now - last) * limit / windowMs
  if used < 0 then used = 0 end
  last = now
end
if mode == 'p' then
  if used + 1 <= capacity then return {1, string.format('%.17g', used)} end
  return {0, string.format('%.17g', used)}
end
if mode == 't' and used + cost > capacity then
  return {0, string.format('%.17g', used)}
end
local after = used + cost
redis.call('SET', KEYS[1], string.format('%.17g', after) .. ' ' .. string.format('%.17g', last), 'PX', math.ceil(after * windowMs / limit) + ${EXPIRY_SLACK_MS})
return {1, string.format('%.17g', after)}
`;

const MODE_ARG: Record<BucketMode, string> = { take: 't', charge: 'c', peek: 'p' };

export interface RedisStoreOptions {
  url: string;
  /** Prefix of every key this store writes, e.g. `rampart:rl:`. */
  prefix: string;
  /** Per-command timeout (ms); default 100. */
  commandTimeoutMs?: number;
  /** Connection-attempt timeout (ms); default 1000. */
  connectTimeoutMs?: number;
}

export interface RedisStore {
  /** Applies one operation. Rejects on any Redis error or timeout (the caller falls back). */
  apply(b: Bucket, key: string, mode: BucketMode, cost: number, now: number | undefined): Promise<BucketOutcome>;
  /** PING within the command timeout. */
  ping(): Promise<void>;
  readonly client: Redis;
  close(): Promise<void>;
}

interface BucketCommand {
  rampartBucket(key: string, mode: string, limit: string, windowMs: string, capacity: string, cost: string, now: string): Promise<unknown>;
}

/** ioredis options that keep a sick Redis from ever holding a request (see the header). */
export function redisClientOptions(o: Pick<RedisStoreOptions, 'commandTimeoutMs' | 'connectTimeoutMs'>) {
  const commandTimeout = o.commandTimeoutMs ?? 100;
  return {
    enableOfflineQueue: false,
    connectTimeout: o.connectTimeoutMs ?? 1000,
    commandTimeout,
    socketTimeout: Math.max(1000, commandTimeout * 10),
    maxRetriesPerRequest: 0,
    retryStrategy: (times: number) => Math.min(50 * 2 ** Math.min(times, 6), 2000),
    lazyConnect: false,
  } as const;
}

/**
 * Creates a Redis store; the connection is made in the background.
 *
 * @example
 * const store = createRedisStore({ url: 'redis://127.0.0.1:6379', prefix: 'rampart:rl:' });
 * await store.apply(bucketFor(rule), 'k:key_1', 'take', 1, undefined); // { allowed: true, used: 1 }
 */
export function createRedisStore(opts: RedisStoreOptions): RedisStore {
  if (typeof opts.prefix !== 'string' || opts.prefix.length === 0) throw new TypeError('the Redis backend needs a non-empty key prefix');
  const client = new Redis(opts.url, redisClientOptions(opts));
  // Errors surface through the failing commands; without a listener ioredis would log each one.
  client.on('error', () => {});
  client.defineCommand('rampartBucket', { numberOfKeys: 1, lua: BUCKET_SCRIPT });
  const cmd = client as unknown as BucketCommand;
  return {
    client,
    async apply(b, key, mode, cost, now) {
      const r = await cmd.rampartBucket(opts.prefix + b.id + key, MODE_ARG[mode], String(b.limit), String(b.windowMs), String(b.capacity), String(cost), now === undefined ? '' : String(now));
      if (!Array.isArray(r) || r.length !== 2) throw new Error('unexpected reply from the rate-limit script');
      const used = Number(r[1]);
      if (!Number.isFinite(used)) throw new Error('unexpected reply from the rate-limit script');
      return { allowed: r[0] === 1, used };
    },
    async ping() {
      await client.ping();
    },
    async close() {
      try {
        if (client.status === 'ready') await client.quit();
      } catch {
        // fall through to disconnect
      }
      client.disconnect();
    },
  };
}
