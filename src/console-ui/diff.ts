/**
 * A line diff (longest common subsequence) of two configuration texts, for the configuration
 * page's "this version against live". Configurations are small (changes.maxBundleBytes); past a
 * bound the diff falls back to "everything changed" rather than blocking the tab.
 */
export type DiffLine = { op: ' ' | '+' | '-'; text: string };

const MAX_CELLS = 4_000_000;

export function lineDiff(before: string, after: string): DiffLine[] {
  const a = before.split('\n');
  const b = after.split('\n');
  // Common head and tail first: most versions change a few lines.
  let start = 0;
  while (start < a.length && start < b.length && a[start] === b[start]) start++;
  let endA = a.length;
  let endB = b.length;
  while (endA > start && endB > start && a[endA - 1] === b[endB - 1]) {
    endA--;
    endB--;
  }
  const head: DiffLine[] = a.slice(0, start).map((text) => ({ op: ' ', text }));
  const tail: DiffLine[] = a.slice(endA).map((text) => ({ op: ' ', text }));
  const x = a.slice(start, endA);
  const y = b.slice(start, endB);
  if (x.length * y.length > MAX_CELLS) return [...head, ...x.map((text) => ({ op: '-' as const, text })), ...y.map((text) => ({ op: '+' as const, text })), ...tail];
  const n = x.length;
  const m = y.length;
  const lcs = new Uint32Array((n + 1) * (m + 1));
  for (let i = n - 1; i >= 0; i--) for (let j = m - 1; j >= 0; j--) lcs[i * (m + 1) + j] = x[i] === y[j] ? lcs[(i + 1) * (m + 1) + j + 1]! + 1 : Math.max(lcs[(i + 1) * (m + 1) + j]!, lcs[i * (m + 1) + j + 1]!);
  const mid: DiffLine[] = [];
  let i = 0;
  let j = 0;
  while (i < n && j < m) {
    if (x[i] === y[j]) {
      mid.push({ op: ' ', text: x[i]! });
      i++;
      j++;
    } else if (lcs[(i + 1) * (m + 1) + j]! >= lcs[i * (m + 1) + j + 1]!) mid.push({ op: '-', text: x[i++]! });
    else mid.push({ op: '+', text: y[j++]! });
  }
  while (i < n) mid.push({ op: '-', text: x[i++]! });
  while (j < m) mid.push({ op: '+', text: y[j++]! });
  return [...head, ...mid, ...tail];
}
