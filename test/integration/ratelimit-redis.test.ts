/**
 * The Redis backend against the real Redis on 127.0.0.1:6379 (a random key prefix per test,
 * deleted with SCAN + DEL at the end; never FLUSHALL):
 *   - contract: memory and Redis reach identical decisions for the same random sequence;
 *   - global limit: two limiters with their own connections, then two separate processes,
 *     share one limit exactly (limit 50, 2 x 40 attempts -> exactly 50 allowed);
 *   - the stored state is what the docs say (value, TTL) and expires.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { createLimiter, type Limiter } from '../../src/threat/ratelimit/limiter.js';
import type { LimitDecision, LimitRule } from '../../src/threat/ratelimit/rules.js';

const URL_ = 'redis://127.0.0.1:6379';
const admin = new Redis(URL_, { maxRetriesPerRequest: 1 });
const prefixes: string[] = [];
const limiters: Limiter[] = [];

function prefix(): string {
  const p = `rampart-test:rl:${randomBytes(6).toString('hex')}:`;
  prefixes.push(p);
  return p;
}

async function keysUnder(p: string): Promise<string[]> {
  const out: string[] = [];
  let cursor = '0';
  do {
    const [next, keys] = await admin.scan(cursor, 'MATCH', `${p}*`, 'COUNT', 1000);
    cursor = next;
    out.push(...keys);
  } while (cursor !== '0');
  return out;
}

function redisLimiter(p: string, now?: () => number): Limiter {
  const l = createLimiter({ backend: { kind: 'redis', url: URL_, prefix: p, onOutage: 'refuse' }, ...(now ? { now } : {}) });
  limiters.push(l);
  return l;
}

after(async () => {
  for (const l of limiters) await l.close();
  for (const p of prefixes) {
    const keys = await keysUnder(p);
    if (keys.length > 0) await admin.del(...keys);
    assert.equal((await keysUnder(p)).length, 0);
  }
  admin.disconnect();
});

function prng(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let x = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    x = (x + Math.imul(x ^ (x >>> 7), 61 | x)) ^ x;
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}

test('contract: memory and Redis give identical decisions for the same random sequence', { timeout: 60_000 }, async () => {
  const rules: LimitRule[] = [
    { name: 'req', unit: 'requests', limit: 7, windowSeconds: 3600, burst: 4 },
    { name: 'req-odd', unit: 'requests', limit: 13, windowSeconds: 7200 },
    { name: 'bytes', unit: 'bytes', limit: 10_000_000, windowSeconds: 86400 },
    { name: 'records', unit: 'records', limit: 500, windowSeconds: 3600, burst: 50 },
  ];
  let t = 1_700_000_000_000;
  const now = () => t;
  const mem = createLimiter({ backend: { kind: 'memory' }, now });
  const red = redisLimiter(prefix(), now);
  assert.equal(await red.ready(), true);
  const rnd = prng(42);
  let refused = 0;
  let ops = 0;
  for (let i = 0; i < 1500; i++) {
    const r = rand(rules, rnd);
    const key = `k${Math.floor(rnd() * 3)}`;
    const x = rnd();
    // mostly forward in time (up to several units' worth), sometimes standing still or a small step back
    t += x < 0.2 ? 0 : x < 0.25 ? -Math.floor(rnd() * 500) : Math.floor(rnd() * 400_000);
    const op = rnd();
    const cost = r.unit === 'bytes' ? Math.floor(rnd() * 3_000_000) : r.unit === 'records' ? Math.floor(rnd() * 30) : op < 0.1 ? 0.5 : 1 + Math.floor(rnd() * 2);
    let a: LimitDecision | undefined;
    let b: LimitDecision | undefined;
    if (op < 0.6) {
      a = await mem.take(r, key, cost);
      b = await red.take(r, key, cost);
    } else if (op < 0.8) {
      await mem.charge(r, key, cost);
      await red.charge(r, key, cost);
    } else {
      a = await mem.peek(r, key);
      b = await red.peek(r, key);
    }
    ops++;
    assert.deepEqual(b, a, `step ${i}: ${r.name} ${key} cost ${cost}`);
    if (a && !a.allowed) refused++;
  }
  assert.ok(refused > 100, `the sequence must exercise refusals (${refused})`);
  assert.equal(ops, 1500);

  // the exact edge: at a standing clock, both take exactly `capacity`, then refuse
  for (const r of rules.filter((x) => x.unit !== 'bytes')) {
    const counts = [];
    for (const l of [mem, red]) {
      let n = 0;
      for (let i = 0; i < (r.burst ?? r.limit) + 5; i++) if ((await l.take(r, 'edge')).allowed) n++;
      counts.push(n);
    }
    assert.deepEqual(counts, [r.burst ?? r.limit, r.burst ?? r.limit], r.name);
  }
});

function rand<T>(xs: readonly T[], rnd: () => number): T {
  return xs[Math.floor(rnd() * xs.length)]!;
}

test('stored state: "<used> <last>" with a TTL of the drain time plus 1 s', async () => {
  const p = prefix();
  const t = 1_700_000_000_000;
  const l = redisLimiter(p, () => t);
  const rule: LimitRule = { name: 'st', unit: 'requests', limit: 10, windowSeconds: 60 };
  assert.equal(await l.ready(), true);
  await l.take(rule, 'p:cus_1|op:getAccount', 3);
  const key = `${p}st|p:cus_1|op:getAccount`;
  assert.equal(await admin.get(key), `3 ${t}`);
  const ttl = await admin.pttl(key);
  assert.ok(ttl > 15_000 && ttl <= 19_000, String(ttl)); // 3 units x 6 s + 1 s
  // a value that does not parse is a full bucket (fail closed), not an empty one
  await admin.set(key, 'garbage', 'PX', 60_000);
  const d = await l.take(rule, 'p:cus_1|op:getAccount');
  assert.equal(d.allowed, false);
  await l.charge(rule, 'p:cus_1|op:getAccount', 1);
  assert.equal(await admin.get(key), `11 ${t}`);
});

test('global limit: two limiters with separate connections share one limit exactly', { timeout: 30_000 }, async () => {
  const p = prefix();
  // Redis TIME is the clock (production path). 50 per day drains one unit in 1728 s, far longer
  // than this test can run, so "exactly 50" is exact, not a timing assumption.
  const rule: LimitRule = { name: 'global', unit: 'requests', limit: 50, windowSeconds: 86400 };
  const a = redisLimiter(p);
  const b = redisLimiter(p);
  assert.equal(await a.ready(), true);
  assert.equal(await b.ready(), true);
  const run = async (l: Limiter) => {
    const ds = await Promise.all(Array.from({ length: 40 }, () => l.take(rule, 'p:cus_1')));
    return ds.filter((d) => d.allowed && !d.degraded).length;
  };
  const [na, nb] = await Promise.all([run(a), run(b)]);
  assert.equal(na + nb, 50, `${na} + ${nb}`);
  assert.ok(na > 0 && nb > 0, 'both limiters took part');
});

/** A child process: its own limiter and Redis connection; takes `n` when told "go" on stdin. */
const CHILD = `
import { createLimiter } from ${JSON.stringify(fileURLToPath(new URL('../../src/threat/ratelimit/index.js', import.meta.url)))};
const l = createLimiter({ backend: { kind: 'redis', url: process.env.RL_URL, prefix: process.env.RL_PREFIX, onOutage: 'refuse' } });
if (!(await l.ready(5000))) { console.log(JSON.stringify({ error: 'not ready' })); process.exit(1); }
console.log(JSON.stringify({ ready: true }));
process.stdin.once('data', async () => {
  const rule = { name: 'global', unit: 'requests', limit: 50, windowSeconds: 86400 };
  let allowed = 0, refused = 0, degraded = 0;
  for (let i = 0; i < Number(process.env.RL_N); i++) {
    const d = await l.take(rule, 'p:cus_2');
    if (d.degraded) degraded++;
    if (d.allowed) allowed++; else refused++;
  }
  console.log(JSON.stringify({ allowed, refused, degraded }));
  await l.close();
  process.exit(0);
});
`;

interface ChildResult {
  allowed: number;
  refused: number;
  degraded: number;
}

function startChild(p: string, n: number): { ready: Promise<void>; result: Promise<ChildResult>; go: () => void } {
  const child = spawn(process.execPath, ['--input-type=module', '-e', CHILD], { env: { ...process.env, RL_URL: URL_, RL_PREFIX: p, RL_N: String(n) }, stdio: ['pipe', 'pipe', 'inherit'] });
  const lines: Array<Record<string, unknown>> = [];
  let buf = '';
  let onLine: (() => void) | undefined;
  child.stdout.on('data', (c: Buffer) => {
    buf += c.toString();
    let i;
    while ((i = buf.indexOf('\n')) >= 0) {
      lines.push(JSON.parse(buf.slice(0, i)) as Record<string, unknown>);
      buf = buf.slice(i + 1);
      onLine?.();
    }
  });
  const nextLine = () => new Promise<Record<string, unknown>>((resolve, reject) => {
    const seen = lines.length;
    child.once('exit', (code) => reject(new Error(`child exited ${code}`)));
    onLine = () => {
      if (lines.length > seen) resolve(lines[seen]!);
    };
  });
  const ready = nextLine().then((l) => assert.deepEqual(l, { ready: true }));
  return {
    ready,
    result: ready.then(() => nextLine()) as Promise<unknown> as Promise<ChildResult>,
    go: () => void child.stdin.write('go\n'),
  };
}

test('global limit: two separate processes against the real Redis, 2 x 40 attempts, exactly 50 allowed', { timeout: 60_000 }, async () => {
  const p = prefix();
  const c1 = startChild(p, 40);
  const c2 = startChild(p, 40);
  await Promise.all([c1.ready, c2.ready]);
  c1.go();
  c2.go();
  const [r1, r2] = await Promise.all([c1.result, c2.result]);
  assert.equal(r1.allowed + r2.allowed, 50, JSON.stringify([r1, r2]));
  assert.equal(r1.refused + r2.refused, 30);
  assert.equal(r1.degraded + r2.degraded, 0);
  assert.equal(r1.allowed + r1.refused, 40);
  // the shared bucket in Redis agrees
  const v = await admin.get(`${p}global|p:cus_2`);
  assert.ok(v !== null);
  assert.ok(Math.abs(Number(v.split(' ')[0]) - 50) < 0.1, v);
});
