/**
 * Rate-limit rules: validation names every problem (a typo must never become "no limit"), and
 * limiter keys cannot collide or grow without bound.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ruleProblems, assertRule, limitKey, boundedKey, MAX_KEY_LENGTH } from '../../src/threat/ratelimit/rules.js';
import { createLimiter } from '../../src/threat/ratelimit/limiter.js';

const good = { name: 'per-key', unit: 'requests', limit: 100, windowSeconds: 60, burst: 20 } as const;

test('a valid rule has no problems', () => {
  assert.deepEqual(ruleProblems(good), []);
  assert.deepEqual(ruleProblems({ name: 'bulk.bytes_1', unit: 'bytes', limit: 50_000_000, windowSeconds: 3600 }), []);
  assert.doesNotThrow(() => assertRule(good));
});

test('every bad field is named', () => {
  const cases: Array<[unknown, RegExp]> = [
    [null, /must be an object/],
    [[], /must be an object/],
    [{ ...good, name: '' }, /^name/],
    [{ ...good, name: 'a|b' }, /^name/],
    [{ ...good, name: 'a:b' }, /^name/],
    [{ ...good, name: 'x'.repeat(65) }, /^name/],
    [{ ...good, name: '"q"' }, /^name/],
    [{ ...good, unit: 'calls' }, /^unit/],
    [{ ...good, limit: 0 }, /^limit/],
    [{ ...good, limit: 1.5 }, /^limit/],
    [{ ...good, limit: Number.NaN }, /^limit/],
    [{ ...good, limit: '100' }, /^limit/],
    [{ ...good, windowSeconds: 0 }, /^windowSeconds/],
    [{ ...good, windowSeconds: 0.5 }, /^windowSeconds/],
    [{ ...good, windowSeconds: 400 * 86400 }, /^windowSeconds/],
    [{ ...good, burst: 0 }, /^burst/],
    [{ ...good, burst: -1 }, /^burst/],
    [{ ...good, burst: Number.POSITIVE_INFINITY }, /^burst/],
  ];
  for (const [rule, re] of cases) {
    const p = ruleProblems(rule);
    assert.equal(p.length, 1, `${JSON.stringify(rule)} -> ${JSON.stringify(p)}`);
    assert.match(p[0]!, re);
    assert.throws(() => assertRule(rule), TypeError);
  }
  assert.equal(ruleProblems({ name: 1, unit: 2, limit: 3.3, windowSeconds: -1, burst: 'x' }).length, 5);
});

test('the limiter refuses to run an invalid rule: the promise rejects, never resolves to allowed', async () => {
  const l = createLimiter({ backend: { kind: 'memory' } });
  await assert.rejects(l.take({ ...good, limit: 0 }, 'k'), TypeError);
  await assert.rejects(l.peek({ ...good, windowSeconds: 0 }, 'k'), TypeError);
  await assert.rejects(l.charge({ ...good, unit: 'calls' as 'bytes' }, 'k', 1), TypeError);
});

test('limitKey escapes values so different parts never give the same key', () => {
  assert.equal(limitKey([['p', 'cus_1'], ['op', 'getAccount']]), 'p:cus_1|op:getAccount');
  assert.notEqual(limitKey([['p', 'x|op:y']]), limitKey([['p', 'x'], ['op', 'y']]));
  assert.notEqual(limitKey([['p', 'a:b']]), limitKey([['p:a', 'b']]));
  assert.equal(limitKey([['a', '2001:db8::1']]), 'a:2001%3Adb8%3A%3A1');
});

test('long keys become a fixed-size digest; short keys stay readable', () => {
  const long = limitKey([['p', 'x'.repeat(10_000)]]);
  assert.ok(long.startsWith('h:'));
  assert.ok(long.length <= MAX_KEY_LENGTH);
  assert.equal(long, limitKey([['p', 'x'.repeat(10_000)]]));
  assert.notEqual(long, limitKey([['p', `${'x'.repeat(9_999)}y`]]));
  assert.equal(boundedKey('short'), 'short');
  assert.equal(boundedKey('k'.repeat(MAX_KEY_LENGTH)), 'k'.repeat(MAX_KEY_LENGTH));
  assert.notEqual(boundedKey('k'.repeat(MAX_KEY_LENGTH + 1)), 'k'.repeat(MAX_KEY_LENGTH + 1));
});

test('limiter options are checked when it is created', () => {
  const redis = { kind: 'redis', url: 'redis://127.0.0.1:6379', prefix: 'p:', onOutage: 'local' } as const;
  assert.throws(() => createLimiter({ backend: { ...redis, url: 'localhost:6379' } }), /redis:\/\//);
  assert.throws(() => createLimiter({ backend: { ...redis, url: 'http://127.0.0.1:6379' } }), /redis:\/\//);
  assert.throws(() => createLimiter({ backend: { ...redis, prefix: '' } }), /prefix/);
  assert.throws(() => createLimiter({ backend: { ...redis, onOutage: 'allow' as 'local' } }), /onOutage/);
  assert.throws(() => createLimiter({ backend: { ...redis, localShare: 0 } }), /localShare/);
  assert.throws(() => createLimiter({ backend: { ...redis, localShare: 2 } }), /localShare/);
  assert.throws(() => createLimiter({ backend: { ...redis, commandTimeoutMs: 0 } }), /commandTimeoutMs/);
  assert.throws(() => createLimiter({ backend: { kind: 'memory' }, maxLocalKeys: 1 }), /maxKeys/);
  assert.throws(() => createLimiter({ backend: { kind: 'other' } as unknown as { kind: 'memory' } }), /backend.kind/);
});
