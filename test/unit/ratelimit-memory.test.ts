/**
 * The memory backend with a controlled clock: burst and steady rate as defined in rules.ts, an
 * honest Retry-After, data-volume quotas charged after the fact, peek, bad input failing closed,
 * clock steps, and bounded memory with LRU eviction.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createLimiter, type Limiter, type LimiterEvent } from '../../src/threat/ratelimit/limiter.js';
import type { LimitDecision, LimitRule } from '../../src/threat/ratelimit/rules.js';

const T0 = 1_700_000_000_000;

function clocked(opts: { maxLocalKeys?: number; onEvent?: (e: LimiterEvent) => void } = {}): { l: Limiter; at: (ms: number) => void; now: () => number } {
  let t = T0;
  const l = createLimiter({ backend: { kind: 'memory' }, now: () => t, ...opts });
  return { l, at: (ms) => void (t = T0 + ms), now: () => t - T0 };
}

/** Deterministic PRNG (mulberry32) so a failing sequence can be replayed. */
function prng(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let x = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    x = (x + Math.imul(x ^ (x >>> 7), 61 | x)) ^ x;
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}

test('without burst: the whole limit at once, then the steady rate; refusals say when to retry', async () => {
  const { l, at } = clocked();
  const rule: LimitRule = { name: 'per-key', unit: 'requests', limit: 50, windowSeconds: 60 };
  const ds: LimitDecision[] = [];
  for (let i = 0; i < 80; i++) ds.push(await l.take(rule, 'k'));
  assert.equal(ds.filter((d) => d.allowed).length, 50);
  assert.deepEqual(ds.slice(0, 50).map((d) => d.remaining), Array.from({ length: 50 }, (_, i) => 49 - i));
  const refused = ds[50]!;
  assert.equal(refused.allowed, false);
  assert.equal(refused.remaining, 0);
  // one unit drains every 1200 ms: Retry-After is the whole second covering it, and equals t
  assert.equal(refused.retryAfterSeconds, 2);
  assert.equal(refused.resetSeconds, 2);
  assert.equal(ds[49]!.resetSeconds, 60); // a full bucket drains in one window
  at(1199);
  assert.equal((await l.take(rule, 'k')).allowed, false);
  at(1200);
  assert.equal((await l.take(rule, 'k')).allowed, true);
  assert.equal((await l.take(rule, 'k')).allowed, false);
});

test('burst is the allowance above the steady rate over ANY interval (property over random traffic)', async () => {
  for (const seed of [1, 2, 3, 4]) {
    const rnd = prng(seed);
    const { l, at } = clocked();
    const rule: LimitRule = { name: 'burst', unit: 'requests', limit: 60, windowSeconds: 60, burst: 10 };
    const allowedAt: number[] = [];
    let t = 0;
    for (let i = 0; i < 1500; i++) {
      t += rnd() < 0.3 ? 0 : Math.floor(rnd() * 700);
      at(t);
      if ((await l.take(rule, 'k')).allowed) allowedAt.push(t);
    }
    // capacity + rate * L, rate = 1 unit per 1000 ms
    for (let i = 0; i < allowedAt.length; i++) {
      for (let j = i; j < allowedAt.length; j++) {
        const span = allowedAt[j]! - allowedAt[i]!;
        assert.ok(j - i + 1 <= 10 + span / 1000, `seed ${seed}: ${j - i + 1} allowed in ${span} ms`);
      }
    }
    // and the bound is reached: greedy traffic gets the full burst at once
    assert.ok(allowedAt.length > 100);
  }
  const { l } = clocked();
  const rule: LimitRule = { name: 'burst', unit: 'requests', limit: 60, windowSeconds: 60, burst: 10 };
  let n = 0;
  for (let i = 0; i < 30; i++) if ((await l.take(rule, 'k')).allowed) n++;
  assert.equal(n, 10);
});

test('long run: exactly the limit per window on top of the initial capacity', async () => {
  const { l, at } = clocked();
  const rule: LimitRule = { name: 'steady', unit: 'requests', limit: 50, windowSeconds: 60 };
  let n = 0;
  // one attempt every 100 ms for 10 minutes
  for (let t = 0; t < 600_000; t += 100) {
    at(t);
    if ((await l.take(rule, 'k')).allowed) n++;
  }
  // 50 (capacity) + 599 900 ms / 1200 ms per unit = 549.9
  assert.ok(n >= 548 && n <= 549, String(n));
});

test('Retry-After is honest: refused one second before it, allowed at it (random histories)', async () => {
  const rule: LimitRule = { name: 'rt', unit: 'requests', limit: 7, windowSeconds: 13, burst: 5 };
  let checked = 0;
  for (const seed of [11, 12, 13, 14, 15, 16]) {
    const rnd = prng(seed);
    const history: Array<{ t: number; cost: number }> = [];
    let t = 0;
    for (let i = 0; i < 40; i++) {
      t += Math.floor(rnd() * 1500);
      history.push({ t, cost: 1 + Math.floor(rnd() * 3) });
    }
    const replay = async () => {
      const c = clocked();
      let last: LimitDecision | undefined;
      for (const h of history) {
        c.at(h.t);
        last = await c.l.take(rule, 'k', h.cost);
      }
      return { ...c, last: last! };
    };
    const a = await replay();
    if (a.last.allowed) continue;
    checked++;
    const wait = a.last.retryAfterSeconds!;
    const cost = history.at(-1)!.cost;
    assert.ok(wait >= 1);
    a.at(t + wait * 1000);
    assert.equal((await a.l.take(rule, 'k', cost)).allowed, true, `seed ${seed}: allowed after ${wait}s`);
    if (wait >= 2) {
      const b = await replay();
      b.at(t + (wait - 1) * 1000);
      assert.equal((await b.l.take(rule, 'k', cost)).allowed, false, `seed ${seed}: refused before ${wait}s`);
    }
  }
  assert.ok(checked >= 3, `only ${checked} histories ended in a refusal`);
});

test('data-volume quota: charge after the response, peek before the next request', async () => {
  const { l, at } = clocked();
  const bytes: LimitRule = { name: 'bulk-bytes', unit: 'bytes', limit: 1000, windowSeconds: 60 };
  let p = await l.peek(bytes, 'p:cus_1');
  assert.equal(p.allowed, true);
  assert.equal(p.remaining, 1000);
  p = await l.peek(bytes, 'p:cus_1');
  assert.equal(p.remaining, 1000, 'peek does not consume');
  await l.charge(bytes, 'p:cus_1', 1500); // one large response: never refused after the fact
  p = await l.peek(bytes, 'p:cus_1');
  assert.equal(p.allowed, false);
  assert.equal(p.remaining, 0);
  // 1 500 used, a 1-byte request needs used <= 999: 501 bytes at 60 ms per byte = 30 060 ms
  assert.equal(p.retryAfterSeconds, 31);
  assert.equal((await l.take(bytes, 'p:cus_1', 1)).allowed, false);
  at(30_059);
  assert.equal((await l.peek(bytes, 'p:cus_1')).allowed, false);
  at(31_000);
  p = await l.peek(bytes, 'p:cus_1');
  assert.equal(p.allowed, true);
  assert.equal(p.remaining, 16); // 1000 - (1500 - 31000/60)
  // records are independent of bytes for the same key
  const records: LimitRule = { name: 'bulk-records', unit: 'records', limit: 10, windowSeconds: 60 };
  assert.equal((await l.peek(records, 'p:cus_1')).remaining, 10);
});

test('a cost above the whole capacity is refused, with a finite Retry-After', async () => {
  const { l } = clocked();
  const rule: LimitRule = { name: 'cap', unit: 'records', limit: 10, windowSeconds: 60 };
  await l.take(rule, 'k', 4);
  const d = await l.take(rule, 'k', 11);
  assert.equal(d.allowed, false);
  assert.equal(d.retryAfterSeconds, 24); // until the 4 units drain
  assert.equal((await l.peek(rule, 'k')).remaining, 6, 'a refused take consumes nothing');
});

test('bad costs reject (fail closed) and consume nothing', async () => {
  const { l } = clocked();
  const rule: LimitRule = { name: 'c', unit: 'requests', limit: 3, windowSeconds: 60 };
  for (const cost of [Number.NaN, -1, Number.POSITIVE_INFINITY, '2' as unknown as number, null as unknown as number]) {
    await assert.rejects(l.take(rule, 'k', cost), TypeError);
    await assert.rejects(l.charge(rule, 'k', cost), TypeError);
  }
  assert.equal((await l.peek(rule, 'k')).remaining, 3);
  const zero = await l.take(rule, 'k', 0);
  assert.equal(zero.allowed, true);
  assert.equal(zero.remaining, 3);
});

test('keys and rules are independent', async () => {
  const { l } = clocked();
  const a: LimitRule = { name: 'a', unit: 'requests', limit: 2, windowSeconds: 60 };
  const b: LimitRule = { name: 'b', unit: 'requests', limit: 2, windowSeconds: 60 };
  await l.take(a, 'k1');
  await l.take(a, 'k1');
  assert.equal((await l.take(a, 'k1')).allowed, false);
  assert.equal((await l.take(a, 'k2')).allowed, true);
  assert.equal((await l.take(b, 'k1')).allowed, true);
});

test('a rule object changed after first use is recompiled', async () => {
  const { l } = clocked();
  const rule: LimitRule = { name: 'm', unit: 'requests', limit: 2, windowSeconds: 60 };
  await l.take(rule, 'k');
  await l.take(rule, 'k');
  assert.equal((await l.take(rule, 'k')).allowed, false);
  rule.limit = 5;
  const d = await l.take(rule, 'k');
  assert.equal(d.allowed, true);
  assert.equal(d.limit, 5);
  rule.windowSeconds = 0;
  await assert.rejects(l.take(rule, 'k'), TypeError);
});

test('a clock that steps back creates no allowance', async () => {
  const { l, at } = clocked();
  const rule: LimitRule = { name: 'back', unit: 'requests', limit: 5, windowSeconds: 60 };
  at(100_000);
  for (let i = 0; i < 5; i++) await l.take(rule, 'k');
  at(40_000);
  assert.equal((await l.take(rule, 'k')).allowed, false);
  at(100_000 + 11_999);
  assert.equal((await l.take(rule, 'k')).allowed, false);
  at(100_000 + 12_000);
  assert.equal((await l.take(rule, 'k')).allowed, true);
});

test('memory is bounded: a bucket in use survives a flood, an untouched one is forgotten, and it is reported', async () => {
  const events: LimiterEvent[] = [];
  const { l, at } = clocked({ maxLocalKeys: 100, onEvent: (e) => events.push(e) });
  const rule: LimitRule = { name: 'flood', unit: 'requests', limit: 3, windowSeconds: 3600 };
  // an attacker's key, kept busy (refused) during a flood of 1000 other keys, keeps its state
  for (let i = 0; i < 3; i++) await l.take(rule, 'attacker');
  // an idle key that was exhausted before the flood is the price of the bound: forgotten
  for (let i = 0; i < 3; i++) await l.take(rule, 'idle');
  for (let i = 0; i < 1000; i++) {
    await l.take(rule, `flood-${i}`);
    assert.ok(l.health().localKeys <= 100);
    assert.equal((await l.take(rule, 'attacker')).allowed, false, `attacker after ${i} flood keys`);
  }
  assert.ok(l.health().localEvictions >= 900, String(l.health().localEvictions));
  assert.equal((await l.take(rule, 'idle')).allowed, true);
  assert.deepEqual(events.map((e) => e.kind), ['memory-full'], 'at most one alert a minute');
  at(61_000);
  for (let i = 0; i < 60; i++) await l.take(rule, `flood-again-${i}`);
  assert.deepEqual(events.map((e) => e.kind), ['memory-full', 'memory-full']);
});

test('drained buckets are dropped without counting as evictions, and take no timers', async () => {
  const events: LimiterEvent[] = [];
  const { l, at } = clocked({ maxLocalKeys: 100, onEvent: (e) => events.push(e) });
  const short: LimitRule = { name: 'short', unit: 'requests', limit: 10, windowSeconds: 1 };
  // 1000 keys, 10 s apart in batches of 20: each batch has drained before its generation goes
  for (let i = 0; i < 1000; i++) {
    if (i % 20 === 0) at(i * 500);
    await l.take(short, `k${i}`);
    assert.ok(l.health().localKeys <= 100);
  }
  assert.equal(l.health().localEvictions, 0);
  assert.deepEqual(events, []);
});

test('after close the memory limiter forgets its buckets', async () => {
  const { l } = clocked();
  const rule: LimitRule = { name: 'c', unit: 'requests', limit: 1, windowSeconds: 60 };
  await l.take(rule, 'k');
  await l.close();
  assert.equal(l.health().localKeys, 0);
});
