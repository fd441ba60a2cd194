/**
 * Overview: traffic, denials by stage and reason, anomalies and ledger health over a range
 * (GET /admin/api/overview, computed from ledger records; `truncated` when the scan bound was
 * reached). The ledger's own verification can be run from here (R17a4-6).
 */
import { h, replace } from '../h.js';
import { getJson, postJson, query } from '../api.js';
import { barChart, timeChart } from '../chart.js';
import { button, facts, heading, jsonView, section, select, table, time, announce } from '../ui.js';

interface Overview {
  from: string;
  to: string;
  bucket: 'minute' | 'hour';
  series: { t: string; requests: number; allowed: number; denied: number }[];
  denialsByStage: Record<string, number>;
  denialsByReason: Record<string, number>;
  anomalies: { ts: string; kind: string; action: string; seq: number }[];
  ledger: { head: { seq: number; ts: string } | null; lastCheckpoint?: { treeSize: number; ts: string; published: boolean }; lastVerification?: { ts: string; ok: boolean; seq: number } };
  truncated?: boolean;
}

const RANGES: [string, string][] = [
  ['1h', 'Last hour (by minute)'],
  ['24h', 'Last 24 hours (by hour)'],
  ['7d', 'Last 7 days (by hour)'],
];

export async function overviewPage(view: HTMLElement): Promise<void> {
  const range = select('Range', RANGES, '24h');
  const body = h('div', {});
  const load = async (): Promise<void> => {
    const now = Date.now();
    const span = range.input.value === '1h' ? 3_600_000 : range.input.value === '7d' ? 7 * 86_400_000 : 86_400_000;
    const bucket = range.input.value === '1h' ? 'minute' : 'hour';
    const o = await getJson<Overview>(`/admin/api/overview${query({ from: new Date(now - span).toISOString(), to: new Date(now).toISOString(), bucket })}`);
    replace(body, render(o));
  };
  range.input.addEventListener('change', () => void load().then(() => announce('Overview updated.')));
  replace(view, heading('Overview'), h('div', { class: 'toolbar' }, range.el), body);
  await load();
}

function render(o: Overview): HTMLElement {
  const labels = o.series.map((p) => (o.bucket === 'minute' ? time(p.t).slice(11, 16) : time(p.t).slice(5, 16)));
  const l = o.ledger;
  const verify = h('div', { class: 'verify-result', 'aria-live': 'polite' });
  return h(
    'div',
    {},
    o.truncated ? h('p', { class: 'notice' }, 'The range holds more records than one scan reads: the figures cover the newest part only. Narrow the range for exact counts.') : null,
    section('Traffic', timeChart('Requests over time', labels, [
      { name: 'Requests', cls: 's-requests', values: o.series.map((p) => p.requests) },
      { name: 'Allowed', cls: 's-allowed', values: o.series.map((p) => p.allowed) },
      { name: 'Denied', cls: 's-denied', values: o.series.map((p) => p.denied) },
    ])),
    section('Denials', h('div', { class: 'grid-2' }, barChart('Denials by stage', o.denialsByStage), barChart('Denials by reason', o.denialsByReason))),
    section('Anomalies', table('Anomalies in the range', ['Time', 'Kind', 'Action', 'Record'], o.anomalies.map((a) => [time(a.ts), a.kind, a.action, h('a', { href: `#/audit/${a.seq}` }, `#${a.seq}`)]), { empty: 'No anomalies in this range.' })),
    section(
      'Ledger health',
      facts([
        ['Head', l.head ? `record ${l.head.seq} at ${time(l.head.ts)}` : 'empty ledger'],
        ['Last signed checkpoint', l.lastCheckpoint ? `tree size ${l.lastCheckpoint.treeSize} at ${time(l.lastCheckpoint.ts)}${l.lastCheckpoint.published ? ', published' : ', not published outside the store'}` : 'none yet'],
        ['Last verification', l.lastVerification ? `${l.lastVerification.ok ? 'passed' : 'FAILED'} at ${time(l.lastVerification.ts)} (record ${l.lastVerification.seq})` : 'none in this range'],
      ]),
      button('Verify the chain now', async () => {
        replace(verify, h('p', {}, 'Verifying…'));
        const r = await postJson<{ ok: boolean; count: number }>('/admin/api/ledger/verify');
        replace(verify, h('p', { class: r.ok ? 'ok' : 'bad' }, r.ok ? `Chain verified: ${r.count} records intact.` : 'Chain verification FAILED.'), jsonView(r));
        announce(r.ok ? 'Chain verified.' : 'Chain verification failed.');
      }),
      verify,
    ),
  );
}
