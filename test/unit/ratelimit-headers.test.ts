/**
 * RateLimit headers (draft-ietf-httpapi-ratelimit-headers-11): the field syntax is a Structured
 * Fields List of String Items with parameters; the most restrictive decision is the one shown;
 * Retry-After equals `t` when refused.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rateLimitHeaders } from '../../src/threat/ratelimit/headers.js';
import { createLimiter } from '../../src/threat/ratelimit/limiter.js';
import type { LimitDecision } from '../../src/threat/ratelimit/rules.js';

// RFC 9651: sf-string, parameters with keys [a-z*][a-z0-9_.*-]*, values integers or strings
const STR = String.raw`"(?:[\x20\x21\x23-\x5b\x5d-\x7e]|\\["\\])*"`;
const ITEM = new RegExp(String.raw`^${STR}(?:;[a-z*][a-z0-9_.*-]*=(?:\d{1,15}|${STR}))*$`);
function sfList(v: string | undefined): string[] {
  assert.ok(v !== undefined);
  const items = v.split(/,\s*/);
  for (const i of items) assert.match(i, ITEM);
  return items;
}

const base = { limit: 100, windowSeconds: 60, unit: 'requests' as const, capacity: 100 };

test('one allowed decision: policy and current limit, no Retry-After', () => {
  const h = rateLimitHeaders([{ ...base, rule: 'per-key', allowed: true, remaining: 42, resetSeconds: 18 }]);
  assert.deepEqual(h, { 'ratelimit-policy': '"per-key";q=100;w=60', ratelimit: '"per-key";r=42;t=18' });
  sfList(h['ratelimit-policy']);
  sfList(h.ratelimit);
});

test('refused: Retry-After equals t, so it never points before the end of the effective window', () => {
  const h = rateLimitHeaders([{ ...base, rule: 'per-key', allowed: false, remaining: 0, resetSeconds: 7, retryAfterSeconds: 7 }]);
  assert.equal(h['retry-after'], '7');
  assert.equal(h.ratelimit, '"per-key";r=0;t=7');
});

test('units: content-bytes for bytes, a vendor parameter for records, burst shown when it differs', () => {
  const h = rateLimitHeaders(
    [
      { rule: 'bytes', allowed: true, limit: 65535, remaining: 100, resetSeconds: 9, windowSeconds: 10, unit: 'bytes', capacity: 65535 },
      { rule: 'records', allowed: true, limit: 500, remaining: 1, resetSeconds: 30, windowSeconds: 3600, unit: 'records', capacity: 500 },
      { rule: 'burst', allowed: true, limit: 60, remaining: 10, resetSeconds: 1, windowSeconds: 60, unit: 'requests', capacity: 10 },
    ],
    { mode: 'all' },
  );
  assert.deepEqual(sfList(h['ratelimit-policy']), [
    '"bytes";q=65535;qu="content-bytes";w=10',
    '"records";q=500;w=3600;rampart-unit="records"',
    '"burst";q=60;w=60;rampart-burst=10',
  ]);
  assert.deepEqual(sfList(h.ratelimit), ['"bytes";r=100;t=9', '"records";r=1;t=30', '"burst";r=10;t=1']);
});

test('the most restrictive decision is chosen', () => {
  const ok = (rule: string, remaining: number, capacity = 100, resetSeconds = 10): LimitDecision => ({ ...base, capacity, rule, allowed: true, remaining, resetSeconds });
  const no = (rule: string, retry: number): LimitDecision => ({ ...base, rule, allowed: false, remaining: 0, resetSeconds: retry, retryAfterSeconds: retry });
  const pick = (ds: LimitDecision[]) => rateLimitHeaders(ds).ratelimit?.split(';')[0];
  assert.equal(pick([ok('a', 90), ok('b', 10), ok('c', 50)]), '"b"');
  assert.equal(pick([ok('a', 5, 10), ok('b', 10, 100)]), '"b"', 'by share left, not by count');
  assert.equal(pick([ok('a', 10, 100, 5), ok('b', 10, 100, 50)]), '"b"', 'a tie goes to the longer wait');
  assert.equal(pick([ok('a', 0), no('b', 3)]), '"b"', 'a refusal beats any allowance');
  assert.equal(pick([no('a', 3), no('b', 30), no('c', 4)]), '"b"');
  assert.equal(rateLimitHeaders([no('a', 3), no('b', 30)])['retry-after'], '30');
  const all = rateLimitHeaders([ok('a', 90), no('b', 30), ok('c', 5)], { mode: 'all' });
  assert.deepEqual(sfList(all.ratelimit).map((i) => i.split(';')[0]), ['"b"', '"c"', '"a"']);
  assert.equal(all['retry-after'], '30');
});

test('no decisions, no headers; odd values are still valid field syntax', () => {
  assert.deepEqual(rateLimitHeaders([]), {});
  const h = rateLimitHeaders([{ rule: 'we"ird\\name\n', allowed: false, limit: 3.7, remaining: -2, resetSeconds: Number.NaN }]);
  assert.equal(h['ratelimit-policy'], String.raw`"we\"ird\\name";q=3`);
  assert.equal(h.ratelimit, String.raw`"we\"ird\\name";r=0;t=0`);
  assert.equal(h['retry-after'], '1');
  sfList(h['ratelimit-policy']);
  sfList(h.ratelimit);
});

test('headers from real limiter decisions', async () => {
  let t = 0;
  const l = createLimiter({ backend: { kind: 'memory' }, now: () => t });
  const per = { name: 'per-key', unit: 'requests', limit: 3, windowSeconds: 60 } as const;
  const quota = { name: 'daily-bytes', unit: 'bytes', limit: 1_000_000, windowSeconds: 86400 } as const;
  await l.charge(quota, 'k', 999_990);
  const d1 = [await l.take(per, 'k'), await l.peek(quota, 'k')];
  // 1 of 3 requests used (2/3 left) vs 10 of 1 000 000 bytes left: the byte quota is shown
  assert.deepEqual(rateLimitHeaders(d1), { 'ratelimit-policy': '"daily-bytes";q=1000000;qu="content-bytes";w=86400', ratelimit: '"daily-bytes";r=10;t=86400' });
  await l.take(per, 'k');
  await l.take(per, 'k');
  t = 5_000;
  const d2 = [await l.take(per, 'k'), await l.peek(quota, 'k')];
  // 3 used, 20 s per unit, 5 s drained 0.25: 2.75 + 1 must drain to 3, i.e. 0.75 unit = 15 s
  assert.deepEqual(rateLimitHeaders(d2), { 'ratelimit-policy': '"per-key";q=3;w=60', ratelimit: '"per-key";r=0;t=15', 'retry-after': '15' });
});
