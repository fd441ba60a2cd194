/**
 * Charts as SVG built element by element (no library, nothing parsed from strings), each with a
 * data table beside it for screen readers and keyboard users (WCAG 1.1.1: the chart is an image
 * with a text alternative; the table holds the same numbers).
 */
import { h, s } from './h.js';
import { table, uid } from './ui.js';

export interface Series {
  name: string;
  /** CSS class giving the colour (styles.css: .s-requests, .s-allowed, .s-denied...). */
  cls: string;
  values: readonly number[];
}

const W = 640;
const H = 200;
const PAD = { l: 44, r: 8, t: 8, b: 28 };

function niceMax(v: number): number {
  if (v <= 5) return 5;
  const p = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 2, 5, 10]) if (m * p >= v) return m * p;
  return 10 * p;
}

/** Lines over time; `labels` name the buckets (x axis). */
export function timeChart(title: string, labels: readonly string[], series: readonly Series[]): HTMLElement {
  const id = uid('chart');
  const max = niceMax(Math.max(0, ...series.flatMap((x) => x.values)));
  const n = Math.max(labels.length, 1);
  const x = (i: number): number => PAD.l + (n === 1 ? (W - PAD.l - PAD.r) / 2 : (i * (W - PAD.l - PAD.r)) / (n - 1));
  const y = (v: number): number => PAD.t + (H - PAD.t - PAD.b) * (1 - v / max);
  const grid = [0, 0.5, 1].map((f) => {
    const v = Math.round(max * f);
    return s('g', { class: 'grid' }, s('line', { x1: PAD.l, x2: W - PAD.r, y1: y(v), y2: y(v) }), s('text', { x: PAD.l - 6, y: y(v) + 4, 'text-anchor': 'end' }, String(v)));
  });
  const ticks = labels.length > 0 ? [0, Math.floor((labels.length - 1) / 2), labels.length - 1].filter((v, i, a) => a.indexOf(v) === i) : [];
  const xlabels = ticks.map((i) => s('text', { x: x(i), y: H - 8, 'text-anchor': i === 0 ? 'start' : i === labels.length - 1 ? 'end' : 'middle', class: 'axis' }, labels[i] ?? ''));
  const lines = series.map((sr) =>
    sr.values.length === 1
      ? s('circle', { cx: x(0), cy: y(sr.values[0]!), r: 4, class: `dot ${sr.cls}` })
      : s('polyline', { points: sr.values.map((v, i) => `${x(i).toFixed(1)},${y(v).toFixed(1)}`).join(' '), class: `line ${sr.cls}` }),
  );
  const totals = series.map((sr) => `${sr.name} ${sr.values.reduce((a, b) => a + b, 0)}`).join(', ');
  const svg = s('svg', { viewBox: `0 0 ${W} ${H}`, role: 'img', 'aria-labelledby': `${id}-t`, 'aria-describedby': `${id}-d`, class: 'chart' }, s('title', { id: `${id}-t` }, title), s('desc', { id: `${id}-d` }, `Totals: ${totals}. The table below holds every value.`), ...grid, ...lines, ...xlabels);
  const legend = h('ul', { class: 'legend', 'aria-hidden': 'true' }, ...series.map((sr) => h('li', {}, h('span', { class: `swatch ${sr.cls}` }), sr.name)));
  const rows = labels.map((l, i) => [l, ...series.map((sr) => String(sr.values[i] ?? 0))]);
  return h('figure', { class: 'chart-figure' }, h('figcaption', {}, title), svg, legend, h('details', {}, h('summary', {}, `${title}: data table`), table(title, ['Time (UTC)', ...series.map((sr) => sr.name)], rows, { captionHidden: true })));
}

/** Horizontal bars for counts by name (denials by stage, by reason). */
export function barChart(title: string, counts: Readonly<Record<string, number>>, cls = 's-denied'): HTMLElement {
  const id = uid('chart');
  const entries = Object.entries(counts).sort((a, b) => b[1] - a[1]).slice(0, 12);
  if (entries.length === 0) return h('figure', { class: 'chart-figure' }, h('figcaption', {}, title), h('p', { class: 'empty' }, 'None in this range.'));
  const max = Math.max(...entries.map(([, v]) => v), 1);
  const row = 22;
  const labelW = 260;
  const height = entries.length * row + 4;
  const bars = entries.map(([k, v], i) =>
    s('g', {}, s('text', { x: labelW - 6, y: i * row + 15, 'text-anchor': 'end', class: 'axis' }, k.length > 38 ? `${k.slice(0, 37)}…` : k), s('rect', { x: labelW, y: i * row + 3, height: row - 6, width: Math.max(1, ((W - labelW - 48) * v) / max), class: `bar ${cls}` }), s('text', { x: labelW + ((W - labelW - 48) * v) / max + 4, y: i * row + 15, class: 'axis' }, String(v))),
  );
  const svg = s('svg', { viewBox: `0 0 ${W} ${height}`, role: 'img', 'aria-labelledby': `${id}-t`, class: 'chart' }, s('title', { id: `${id}-t` }, `${title}: ${entries.map(([k, v]) => `${k} ${v}`).join(', ')}`), ...bars);
  return h('figure', { class: 'chart-figure' }, h('figcaption', {}, title), svg, h('details', {}, h('summary', {}, `${title}: data table`), table(title, ['Name', 'Count'], entries.map(([k, v]) => [k, String(v)]), { captionHidden: true })));
}
