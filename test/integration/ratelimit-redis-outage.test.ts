/**
 * Redis outages, made real without touching the shared server (DESIGN: outages on a throwaway
 * instance or through a TCP proxy the test cuts):
 *   - cut proxy, `onOutage: 'local'`: per-node local limits with one redis-down alert, never no
 *     limit; recovery goes back to Redis, whose counts survived; local counts are not copied;
 *   - cut proxy, strict: RateLimitUnavailableError (503) instead of traffic; charge still resolves;
 *   - stalled connection (a proxy that stops moving bytes but keeps the sockets): the command
 *     timeout, not the kernel, ends the wait; the late command may still land (counted twice);
 *   - a throwaway redis-server killed and restarted: the script is reloaded and counts start over.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { startTcpProxy } from '../helpers/tcp-proxy.js';
import { createLimiter, type Limiter, type LimiterEvent, type LimiterOptions } from '../../src/threat/ratelimit/limiter.js';
import { RateLimitUnavailableError } from '../../src/threat/ratelimit/errors.js';
import type { LimitDecision, LimitRule } from '../../src/threat/ratelimit/rules.js';

const admin = new Redis('redis://127.0.0.1:6379', { maxRetriesPerRequest: 1 });
const prefixes: string[] = [];
const cleanups: Array<() => Promise<void> | void> = [];

after(async () => {
  for (const c of cleanups.reverse()) await c();
  for (const p of prefixes) {
    let cursor = '0';
    do {
      const [next, keys] = await admin.scan(cursor, 'MATCH', `${p}*`, 'COUNT', 1000);
      cursor = next;
      if (keys.length > 0) await admin.del(...keys);
    } while (cursor !== '0');
  }
  admin.disconnect();
});

function prefix(): string {
  const p = `rampart-test:rl-outage:${randomBytes(6).toString('hex')}:`;
  prefixes.push(p);
  return p;
}

/** Records limiter events and lets a test wait for the next one of a kind. */
function eventLog() {
  const events: LimiterEvent[] = [];
  const waiters: Array<{ kind: string; from: number; resolve: () => void }> = [];
  return {
    events,
    kinds: () => events.map((e) => e.kind),
    onEvent(e: LimiterEvent) {
      events.push(e);
      for (const w of [...waiters]) {
        if (events.slice(w.from).some((x) => x.kind === w.kind)) {
          waiters.splice(waiters.indexOf(w), 1);
          w.resolve();
        }
      }
    },
    /** Resolves when an event of `kind` arrives after now (or already arrived after `from`). */
    next(kind: LimiterEvent['kind'], from = events.length): Promise<void> {
      if (events.slice(from).some((x) => x.kind === kind)) return Promise.resolve();
      return new Promise((resolve) => waiters.push({ kind, from, resolve }));
    },
  };
}

function limiterVia(port: number, onOutage: 'local' | 'refuse', log: ReturnType<typeof eventLog>, more: Partial<LimiterOptions> = {}, p = prefix()): Limiter {
  const t = 1_700_000_000_000;
  const l = createLimiter({
    backend: { kind: 'redis', url: `redis://127.0.0.1:${port}`, prefix: p, onOutage, commandTimeoutMs: 100, probeIntervalMs: 50 },
    now: () => t, // frozen: nothing drains, so every count below is exact
    onEvent: (e) => log.onEvent(e),
    ...more,
  });
  cleanups.push(() => l.close());
  return l;
}

const rule: LimitRule = { name: 'per-key', unit: 'requests', limit: 50, windowSeconds: 3600 };

async function takeN(l: Limiter, n: number, key = 'k:key_1'): Promise<LimitDecision[]> {
  const out: LimitDecision[] = [];
  for (let i = 0; i < n; i++) out.push(await l.take(rule, key));
  return out;
}
const allowed = (ds: LimitDecision[]) => ds.filter((d) => d.allowed).length;

test('cut Redis, local mode: per-node limits with one alert, never no limit; recovery resumes Redis counts', { timeout: 30_000 }, async () => {
  const proxy = await startTcpProxy('127.0.0.1', 6379);
  cleanups.push(() => proxy.close());
  const log = eventLog();
  const l = limiterVia(proxy.port, 'local', log);
  assert.equal(await l.ready(), true);

  const before = await takeN(l, 30);
  assert.equal(allowed(before), 30);
  assert.ok(before.every((d) => !d.degraded));

  const down = log.next('redis-down');
  proxy.cut();
  const during = await takeN(l, 60);
  await down;
  assert.ok(during.every((d) => d.degraded === true), 'every decision during the outage says it was local');
  assert.equal(allowed(during), 50, 'the local bucket enforces the full limit: never no limit');
  const refused = during.filter((d) => !d.allowed);
  assert.equal(refused.length, 10);
  assert.ok(refused.every((d) => d.retryAfterSeconds !== undefined && d.retryAfterSeconds >= 1));
  assert.deepEqual(log.kinds(), ['redis-down'], 'one alert per outage, not one per request');
  assert.equal(l.health().redis, 'down');

  const up = log.next('redis-up');
  proxy.restore();
  await up;
  assert.equal(l.health().redis, 'up');
  const afterOutage = await takeN(l, 30);
  assert.ok(afterOutage.every((d) => !d.degraded));
  // Redis kept its 30; the 50 taken locally were not copied: 20 more, then refused
  assert.equal(allowed(afterOutage), 20);
  assert.deepEqual(log.kinds(), ['redis-down', 'redis-up']);
});

test('local share: each node enforces its share of the limit during an outage', { timeout: 30_000 }, async () => {
  const proxy = await startTcpProxy('127.0.0.1', 6379);
  cleanups.push(() => proxy.close());
  const log = eventLog();
  const p = prefix();
  const t = 1_700_000_000_000;
  const l = createLimiter({
    backend: { kind: 'redis', url: `redis://127.0.0.1:${proxy.port}`, prefix: p, onOutage: 'local', localShare: 0.5, probeIntervalMs: 50 },
    now: () => t,
    onEvent: (e) => log.onEvent(e),
  });
  cleanups.push(() => l.close());
  assert.equal(await l.ready(), true);
  proxy.cut();
  const ds = await takeN(l, 40);
  assert.equal(allowed(ds), 25);
  assert.equal(ds[0]!.limit, 25, 'the decision reports the limit actually enforced');
  proxy.restore();
});

test('cut Redis, strict mode: take and peek refuse with RateLimitUnavailableError, charge resolves; then recovery', { timeout: 30_000 }, async () => {
  const proxy = await startTcpProxy('127.0.0.1', 6379);
  cleanups.push(() => proxy.close());
  const log = eventLog();
  const l = limiterVia(proxy.port, 'refuse', log);
  assert.equal(await l.ready(), true);
  assert.equal(allowed(await takeN(l, 5)), 5);

  proxy.cut();
  for (let i = 0; i < 5; i++) {
    await assert.rejects(l.take(rule, 'k:key_1'), (err: unknown) => {
      assert.ok(err instanceof RateLimitUnavailableError);
      assert.equal(err.code, 'RAMPART_RATELIMIT_UNAVAILABLE');
      assert.equal(err.status, 503);
      return true;
    });
  }
  await assert.rejects(l.peek(rule, 'k:key_1'), RateLimitUnavailableError);
  await l.charge(rule, 'k:key_1', 3); // after-the-fact charges never throw
  assert.deepEqual(log.kinds(), ['redis-down']);

  const up = log.next('redis-up');
  proxy.restore();
  await up;
  const d = await l.take(rule, 'k:key_1');
  assert.equal(d.allowed, true);
  assert.equal(d.degraded, undefined);
  assert.equal(d.remaining, 44, '5 before the outage + this one; nothing from the outage reached Redis');
});

/** A TCP proxy that can stall: bytes stop moving both ways, sockets stay open (a half-dead path). */
async function startStallableProxy(targetPort: number) {
  let stalled = false;
  const pairs = new Set<[net.Socket, net.Socket]>();
  const server = net.createServer((client) => {
    const upstream = net.connect(targetPort, '127.0.0.1');
    const pair: [net.Socket, net.Socket] = [client, upstream];
    pairs.add(pair);
    const drop = () => {
      pairs.delete(pair);
      client.destroy();
      upstream.destroy();
    };
    client.on('error', drop).on('close', drop);
    upstream.on('error', drop).on('close', drop);
    client.pipe(upstream).pipe(client);
    if (stalled) {
      client.pause();
      upstream.pause();
    }
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as AddressInfo).port,
    stall() {
      stalled = true;
      for (const [c, u] of pairs) {
        c.unpipe();
        u.unpipe();
        c.pause();
        u.pause();
      }
    },
    resume() {
      stalled = false;
      for (const [c, u] of pairs) {
        c.pipe(u).pipe(c);
        c.resume();
        u.resume();
      }
    },
    close: () =>
      new Promise<void>((r) => {
        for (const [c, u] of pairs) {
          c.destroy();
          u.destroy();
        }
        server.close(() => r());
      }),
  };
}

test('stalled connection: the command timeout ends the wait, the request is decided locally', { timeout: 30_000 }, async () => {
  const proxy = await startStallableProxy(6379);
  cleanups.push(() => proxy.close());
  const log = eventLog();
  const l = limiterVia(proxy.port, 'local', log);
  assert.equal(await l.ready(), true);
  assert.equal(allowed(await takeN(l, 10)), 10);

  proxy.stall();
  const started = process.hrtime.bigint();
  const d = await l.take(rule, 'k:key_1');
  const waitedMs = Number(process.hrtime.bigint() - started) / 1e6;
  console.log(`# stalled Redis: take() decided locally after ${waitedMs.toFixed(1)} ms (commandTimeoutMs 100)`);
  assert.equal(d.degraded, true);
  assert.equal(d.allowed, true);
  assert.deepEqual(log.kinds(), ['redis-down']);
  // while down, nothing waits on Redis at all
  const fast = await takeN(l, 5);
  assert.ok(fast.every((x) => x.degraded));

  const up = log.next('redis-up');
  proxy.resume();
  await up;
  const back = await l.take(rule, 'k:key_1');
  assert.equal(back.degraded, undefined);
  // 10 before + this one; the timed-out take may have reached Redis late (counted twice: strict
  // side) or been dropped with the connection after the socket timeout
  assert.ok(back.remaining === 39 || back.remaining === 38, String(back.remaining));
});

async function freePort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

async function startRedisServer(port: number): Promise<ChildProcess> {
  const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: ['ignore', 'pipe', 'inherit'] });
  await new Promise<void>((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (c: Buffer) => {
      out += c.toString();
      if (out.includes('Ready to accept connections')) resolve();
    });
    child.once('exit', (code) => reject(new Error(`redis-server exited ${code}: ${out}`)));
  });
  return child;
}

async function stopRedisServer(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return;
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  child.kill('SIGKILL');
  await exited;
}

test('throwaway redis-server killed and restarted: local while down, then Redis again with the script reloaded', { timeout: 30_000 }, async () => {
  const port = await freePort();
  let server = await startRedisServer(port);
  cleanups.push(() => stopRedisServer(server));
  const log = eventLog();
  const l = limiterVia(port, 'local', log, {}, 'rampart-test:throwaway:');
  assert.equal(await l.ready(), true);
  assert.equal(allowed(await takeN(l, 60)), 50);

  await stopRedisServer(server);
  const d = await l.take(rule, 'k:key_1');
  assert.equal(d.degraded, true);
  assert.equal(d.allowed, true, 'a fresh local bucket: per-node limit');
  assert.deepEqual(log.kinds(), ['redis-down']);

  const up = log.next('redis-up');
  server = await startRedisServer(port);
  await up;
  // an empty Redis: the script cache is empty too (NOSCRIPT is handled), and counts start over
  const again = await takeN(l, 60);
  assert.ok(again.every((x) => !x.degraded));
  assert.equal(allowed(again), 50);
  assert.deepEqual(log.kinds(), ['redis-down', 'redis-up']);
});
