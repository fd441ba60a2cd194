/**
 * A small line diff for `rampart plan` (issue 6: "shows the drift between the repository's
 * configuration and the live one as a readable diff"): Myers' O(ND) shortest edit script
 * (E. W. Myers, "An O(ND) Difference Algorithm and Its Variations", Algorithmica 1986), bounded by
 * a number of edits so that a huge rewrite costs a bounded time and memory (O(D²) for the trace)
 * and is reported as "too different to show line by line" instead.
 */

export type EditOp = ' ' | '-' | '+';
export interface Edit {
  op: EditOp;
  line: string;
}

/**
 * The shortest edit script turning `a` into `b`, as a list of kept (' '), removed ('-') and
 * added ('+') lines, removals before additions where they meet; undefined when more than
 * `maxEdits` lines would have to be removed or added.
 *
 * @example
 * diffLines(['a', 'b'], ['a', 'c']); // [{op:' ',line:'a'}, {op:'-',line:'b'}, {op:'+',line:'c'}]
 */
export function diffLines(a: readonly string[], b: readonly string[], maxEdits = 2000): Edit[] | undefined {
  const n = a.length;
  const m = b.length;
  const max = Math.min(n + m, maxEdits);
  const off = max + 1;
  const v = new Int32Array(2 * max + 3);
  /** trace[d] holds V[-d..d] as it was before step d (Myers §4, the linear-refinement-free variant). */
  const trace: Int32Array[] = [];
  let found = -1;
  outer: for (let d = 0; d <= max; d++) {
    trace.push(v.slice(off - d, off + d + 1));
    for (let k = -d; k <= d; k += 2) {
      let x = k === -d || (k !== d && v[off + k - 1]! < v[off + k + 1]!) ? v[off + k + 1]! : v[off + k - 1]! + 1;
      let y = x - k;
      while (x < n && y < m && a[x] === b[y]) {
        x++;
        y++;
      }
      v[off + k] = x;
      if (x >= n && y >= m) {
        found = d;
        break outer;
      }
    }
  }
  if (found < 0) return undefined;
  const out: Edit[] = [];
  let x = n;
  let y = m;
  for (let d = found; d > 0; d--) {
    const prev = trace[d]!; // V[-d..d] before step d, i.e. the furthest points after d-1 edits
    const at = (k: number) => prev[k + d]!;
    const k = x - y;
    const down = k === -d || (k !== d && at(k - 1) < at(k + 1));
    const prevK = down ? k + 1 : k - 1;
    const prevX = at(prevK);
    const prevY = prevX - prevK;
    while (x > prevX && y > prevY) {
      out.push({ op: ' ', line: a[--x]! });
      y--;
    }
    if (down) out.push({ op: '+', line: b[--y]! });
    else out.push({ op: '-', line: a[--x]! });
  }
  while (x > 0 && y > 0) {
    out.push({ op: ' ', line: a[--x]! });
    y--;
  }
  out.reverse();
  return out;
}

/** Lines of a text; a final newline does not make an empty last line. */
export function splitLines(text: string): string[] {
  if (text === '') return [];
  const lines = text.split(/\r?\n/);
  if (lines[lines.length - 1] === '') lines.pop();
  return lines;
}

export interface UnifiedDiffOptions {
  /** Names on the ---/+++ lines. */
  from?: string;
  to?: string;
  /** Unchanged lines shown around each change (default 3). */
  context?: number;
  /** Beyond this many removed+added lines, no line diff is attempted (default 2000). */
  maxEdits?: number;
  /** At most this many lines of output (default 400); the rest is summarised. */
  maxLines?: number;
}

/**
 * A unified diff (the `diff -u` format) of two texts; '' when their lines are equal.
 *
 * @example
 * unifiedDiff('a\nb\n', 'a\nc\n', { from: 'live/rampart.yaml', to: 'rampart.yaml' });
 * // --- live/rampart.yaml\n+++ rampart.yaml\n@@ -1,2 +1,2 @@\n a\n-b\n+c\n
 */
export function unifiedDiff(aText: string, bText: string, o: UnifiedDiffOptions = {}): string {
  const a = splitLines(aText);
  const b = splitLines(bText);
  const context = o.context ?? 3;
  const maxLines = o.maxLines ?? 400;
  const head = [`--- ${o.from ?? 'a'}`, `+++ ${o.to ?? 'b'}`];
  const edits = diffLines(a, b, o.maxEdits ?? 2000);
  if (!edits) return [...head, `(too different to show line by line: ${a.length} lines before, ${b.length} after)`].join('\n') + '\n';
  if (edits.every((e) => e.op === ' ')) return '';
  const out: string[] = [...head];
  // Positions (in `edits`) of changes, grouped into hunks whose context windows touch.
  let i = 0;
  let aLine = 0;
  let bLine = 0;
  const posA: number[] = [];
  const posB: number[] = [];
  for (const e of edits) {
    posA.push(aLine);
    posB.push(bLine);
    if (e.op !== '+') aLine++;
    if (e.op !== '-') bLine++;
  }
  while (i < edits.length) {
    if (edits[i]!.op === ' ') {
      i++;
      continue;
    }
    const start = Math.max(0, i - context);
    let end = i;
    // Extend while the next change is within 2*context kept lines.
    for (;;) {
      while (end < edits.length && edits[end]!.op !== ' ') end++;
      let next = end;
      while (next < edits.length && edits[next]!.op === ' ') next++;
      if (next < edits.length && next - end <= 2 * context) {
        end = next;
        continue;
      }
      end = Math.min(edits.length, end + context);
      break;
    }
    const slice = edits.slice(start, end);
    const aCount = slice.filter((e) => e.op !== '+').length;
    const bCount = slice.filter((e) => e.op !== '-').length;
    const aStart = aCount === 0 ? posA[start]! : posA[start]! + 1;
    const bStart = bCount === 0 ? posB[start]! : posB[start]! + 1;
    out.push(`@@ -${aStart},${aCount} +${bStart},${bCount} @@`);
    for (const e of slice) out.push(`${e.op}${e.line}`);
    i = end;
  }
  if (out.length > maxLines) {
    const cut = out.length - maxLines;
    return [...out.slice(0, maxLines), `... (${cut} more lines of diff not shown)`].join('\n') + '\n';
  }
  return out.join('\n') + '\n';
}
