/**
 * Evidence: build an examiner package for a range, principal, customer or object
 * (POST /admin/api/evidence/export, R17a4-8 / R17a4-10), with progress while it downloads, saved
 * through a Blob URL (no server-side file, nothing cached: the answer is no-store), and the list
 * of past exports (who exported what, from the ledger's admin.action records). The checkpoint
 * verifier key and the offline verify command are shown beside it.
 */
import { h, replace } from '../h.js';
import { call, getJson, query } from '../api.js';
import { can } from '../state.js';
import { field, form, heading, section, table, time, toUtcInput, utcInput, announce, alertError } from '../ui.js';

interface ExportRow {
  seq: number;
  ts: string;
  by: string;
  from: string;
  to: string;
  filters: unknown;
  manifestDigest: string;
  records: number;
}

/** The file name from Content-Disposition, if it is a plain one; never a path. */
function fileName(cd: string | null): string {
  const m = /filename="([A-Za-z0-9._-]{1,128})"/.exec(cd ?? '');
  return m ? m[1]! : 'rampart-evidence.tar.gz';
}

function bytes(n: number): string {
  return n < 1024 ? `${n} B` : n < 1048576 ? `${(n / 1024).toFixed(1)} KiB` : `${(n / 1048576).toFixed(1)} MiB`;
}

export async function evidencePage(view: HTMLElement): Promise<void> {
  const now = Date.now();
  const from = field('From (UTC)', { type: 'datetime-local', required: true, value: toUtcInput(now - 86_400_000) });
  const to = field('To (UTC)', { type: 'datetime-local', required: true, value: toUtcInput(now + 60_000) });
  const principal = field('Principal (optional)');
  const subject = field('Customer (optional)');
  const objectId = field('Object id (optional)');
  const operationId = field('Operation (optional)');
  const purpose = field('Purpose (optional)', { hint: 'Recorded with the export, for example "FINRA exam 2025-17".' });
  const progress = h('div', { class: 'progress', 'aria-live': 'polite' });
  const pastBox = h('div', {});
  let lastUrl: string | undefined;

  const f = form('Build an evidence package', [h('div', { class: 'filters' }, from.el, to.el, principal.el, subject.el, objectId.el, operationId.el, purpose.el)], 'Build and download', async () => {
    const body: Record<string, string> = {};
    const fromIso = utcInput(from.input.value);
    const toIso = utcInput(to.input.value);
    if (!fromIso || !toIso) {
      alertError('Give a start and an end time.');
      return;
    }
    body.from = fromIso;
    body.to = toIso;
    for (const [k, fld] of [['principal', principal], ['subject', subject], ['objectId', objectId], ['operationId', operationId], ['purpose', purpose]] as const) if (fld.input.value.trim()) body[k] = fld.input.value.trim();
    const bar = h('progress', { max: '100', 'aria-label': 'Download progress' });
    const label = h('p', {}, 'Building the package (records, proofs, signed manifest)…');
    replace(progress, label, bar);
    const res = await call('POST', '/admin/api/evidence/export', { body });
    const total = Number(res.headers.get('content-length') ?? '0');
    const reader = res.body!.getReader();
    const chunks: Uint8Array[] = [];
    let got = 0;
    label.textContent = 'Downloading…';
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      chunks.push(value);
      got += value.length;
      if (total > 0) bar.value = Math.min(100, Math.round((got * 100) / total));
      label.textContent = `Downloading: ${bytes(got)}${total > 0 ? ` of ${bytes(total)}` : ''}`;
    }
    if (total > 0 && got !== total) throw new Error(`The download stopped after ${got} of ${total} bytes; try again.`);
    bar.value = 100;
    const name = fileName(res.headers.get('content-disposition'));
    if (lastUrl) URL.revokeObjectURL(lastUrl);
    lastUrl = URL.createObjectURL(new Blob(chunks as BlobPart[], { type: 'application/gzip' }));
    const link = h('a', { href: lastUrl, download: name, class: 'download' }, `Save ${name} again`);
    const records = res.headers.get('x-rampart-records') ?? '?';
    const digest = res.headers.get('x-rampart-manifest-sha256') ?? '';
    replace(progress, 
      h('p', { class: 'ok' }, `Package ready: ${records} records, ${bytes(got)}.`),
      h('p', {}, 'Manifest SHA-256: ', h('code', {}, digest)),
      h('p', {}, link),
    );
    link.click();
    announce(`Evidence package downloaded: ${records} records.`);
    await past(pastBox);
  });

  replace(view, heading('Evidence'), section('New export', f, progress), await verifierHelp(), section('Past exports', pastBox));
  await past(pastBox);
}

async function verifierHelp(): Promise<HTMLElement | string> {
  if (!can('audit.read')) return '';
  try {
    const k = await getJson<{ current: string; keys: { verifierKey: string; since: string }[] }>('/admin/api/ledger/keys');
    return section(
      'Verify a package offline',
      h('p', {}, 'Anyone can check a package with the checkpoint public key alone:'),
      h('pre', { tabindex: '0', class: 'command' }, `rampart evidence verify rampart-evidence.tar.gz --public-key '${k.current}'`),
      k.keys.length > 1 ? table('Earlier checkpoint keys', ['Verifier key', 'Since'], k.keys.map((x) => [h('code', {}, x.verifierKey), time(x.since)])) : null,
    );
  } catch {
    return '';
  }
}

async function past(box: HTMLElement): Promise<void> {
  const r = await getJson<{ exports: ExportRow[] }>(`/admin/api/evidence/exports${query({ limit: 50 })}`);
  replace(box, 
    table('Past exports, newest first', ['Record', 'When', 'By', 'Range', 'Filters', 'Records', 'Manifest SHA-256'], r.exports.map((e) => [
      h('a', { href: `#/audit/${e.seq}` }, `#${e.seq}`),
      time(e.ts),
      e.by,
      `${time(e.from)} – ${time(e.to)}`,
      typeof e.filters === 'object' && e.filters !== null ? Object.entries(e.filters).map(([k, v]) => `${k}: ${String(v)}`).join('; ') || 'none' : String(e.filters ?? 'none'),
      String(e.records),
      h('code', { class: 'digest' }, e.manifestDigest),
    ]), { empty: 'No exports yet.' }),
  );
}
