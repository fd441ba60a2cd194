/**
 * The line diff behind `rampart plan` (issue 6): a shortest edit script (Myers), checked against
 * an LCS computed independently on random inputs; both texts can be rebuilt from it; unified
 * hunks with context and line numbers as `diff -u` writes them; bounded for huge rewrites.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { diffLines, splitLines, unifiedDiff } from '../../src/config/line-diff.js';

function lcs(a: string[], b: string[]): number {
  const t = Array.from({ length: a.length + 1 }, () => new Array<number>(b.length + 1).fill(0));
  for (let i = a.length - 1; i >= 0; i--) for (let j = b.length - 1; j >= 0; j--) t[i]![j] = a[i] === b[j] ? t[i + 1]![j + 1]! + 1 : Math.max(t[i + 1]![j]!, t[i]![j + 1]!);
  return t[0]![0]!;
}

/** A deterministic generator (mulberry32), so a failure reproduces. */
function rng(seed: number) {
  return () => {
    seed |= 0;
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

describe('line diff', () => {
  test('equal texts: no edits, empty diff', () => {
    assert.deepEqual(diffLines(['a', 'b'], ['a', 'b']), [{ op: ' ', line: 'a' }, { op: ' ', line: 'b' }]);
    assert.equal(unifiedDiff('a\nb\n', 'a\nb\n'), '');
    assert.equal(unifiedDiff('', ''), '');
  });

  test('random pairs: minimal (n + m - 2·LCS edits) and both sides rebuild', () => {
    const r = rng(42);
    for (let round = 0; round < 300; round++) {
      const pick = () => Array.from({ length: Math.floor(r() * 25) }, () => 'abcde'[Math.floor(r() * 5)]!);
      const a = pick();
      const b = pick();
      const edits = diffLines(a, b)!;
      assert.deepEqual(edits.filter((e) => e.op !== '+').map((e) => e.line), a, `round ${round}: a rebuilds`);
      assert.deepEqual(edits.filter((e) => e.op !== '-').map((e) => e.line), b, `round ${round}: b rebuilds`);
      assert.equal(edits.filter((e) => e.op !== ' ').length, a.length + b.length - 2 * lcs(a, b), `round ${round}: shortest`);
    }
  });

  test('unified hunks with context and diff -u line numbers', () => {
    const a = Array.from({ length: 20 }, (_, i) => `line ${i + 1}`);
    const b = [...a];
    b[4] = 'line 5 changed';
    b.splice(15, 1);
    const d = unifiedDiff(a.join('\n') + '\n', b.join('\n') + '\n', { from: 'live/rampart.yaml', to: 'rampart.yaml' });
    assert.equal(
      d,
      [
        '--- live/rampart.yaml',
        '+++ rampart.yaml',
        '@@ -2,7 +2,7 @@',
        ' line 2',
        ' line 3',
        ' line 4',
        '-line 5',
        '+line 5 changed',
        ' line 6',
        ' line 7',
        ' line 8',
        '@@ -13,7 +13,6 @@',
        ' line 13',
        ' line 14',
        ' line 15',
        '-line 16',
        ' line 17',
        ' line 18',
        ' line 19',
        '',
      ].join('\n'),
    );
    // Changes close together share one hunk.
    const near = unifiedDiff('a\nb\nc\nd\ne\n', 'a\nB\nc\nD\ne\n', { context: 1 });
    assert.equal(near, '--- a\n+++ b\n@@ -1,5 +1,5 @@\n a\n-b\n+B\n c\n-d\n+D\n e\n');
    assert.equal(unifiedDiff('', 'x\n'), '--- a\n+++ b\n@@ -0,0 +1,1 @@\n+x\n');
  });

  test('bounded: beyond maxEdits no line diff is attempted; output is capped', () => {
    const a = Array.from({ length: 100 }, (_, i) => `a${i}`);
    const b = Array.from({ length: 100 }, (_, i) => `b${i}`);
    assert.equal(diffLines(a, b, 50), undefined);
    assert.ok(diffLines(a, b, 200));
    assert.match(unifiedDiff(a.join('\n'), b.join('\n'), { maxEdits: 50 }), /too different to show line by line: 100 lines before, 100 after/);
    const capped = unifiedDiff(a.join('\n'), b.join('\n'), { maxLines: 10 });
    assert.equal(capped.split('\n').length, 12);
    assert.match(capped, /more lines of diff not shown/);
  });

  test('splitLines: a final newline does not add a line; CRLF counts as a line end', () => {
    assert.deepEqual(splitLines('a\r\nb\n'), ['a', 'b']);
    assert.deepEqual(splitLines('a\n\n'), ['a', '']);
    assert.deepEqual(splitLines(''), []);
  });
});
