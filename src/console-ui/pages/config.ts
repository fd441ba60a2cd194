/**
 * Configuration (issue 6, compliance as code): the live version (who applied it, its approvers),
 * submitted versions with their approvals, a version's diff against live, approve and apply
 * (each a ledger record naming the admin, R17a4-3, AU-10), the drift between what was submitted
 * last and what runs, and the latest signed verify attestations (`rampart verify`).
 */
import { h, replace } from '../h.js';
import { ApiError, getJson, postJson } from '../api.js';
import { can } from '../state.js';
import { lineDiff } from '../diff.js';
import { button, confirmDialog, facts, field, form, heading, section, table, time, announce } from '../ui.js';

interface Live {
  hash: string;
  since: string | null;
  appliedBy: string | null;
  author: string | null;
  approvers: string[];
  source: 'version' | 'disk' | 'unknown';
  root: string | null;
  configText: string | null;
}
interface VersionRow { hash: string; createdAt: string; author: string; profile: string; message: string; live: boolean }
interface Version extends VersionRow {
  approvalsRequired: number;
  approvals: { approver: string; at: string; comment: string; counts: boolean }[];
  missing: number;
  activations: { at: string; by: string; node: string }[];
  bundle?: { root: string; files: { path: string; data: string }[] };
}
interface Attestation { runId: string; ts: string; by: string; passed: number; failed: number; reportDigest: string; seq?: number }

function base64Utf8(b64: string): string {
  const bin = atob(b64);
  const bytes = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
  return new TextDecoder().decode(bytes);
}

const short = (hash: string): string => hash.replace(/^sha256:/, '').slice(0, 12);

export async function configPage(view: HTMLElement): Promise<void> {
  const [live, list] = await Promise.all([getJson<Live>('/admin/api/config/live'), getJson<{ live: string; versions: VersionRow[] }>('/admin/api/config/versions')]);
  const detail = h('div', { 'aria-live': 'polite' });
  const newest = list.versions[0];
  const drift = !newest ? 'No version submitted through the admin plane yet: the gateway runs the files it started from.' : newest.live ? 'The newest submitted version is live: no drift.' : `Drift: the newest submitted version ${short(newest.hash)} (${time(newest.createdAt)}, by ${newest.author}) is not live.`;
  const verify = h('div', {});
  // The Apply button goes with the redraw: focus returns to the page heading, not to <body>.
  const reload = async (): Promise<void> => {
    await configPage(view);
    view.querySelector('h1')?.focus();
  };
  replace(view, 
    heading('Configuration'),
    section('Live version', facts([
      ['Hash', h('code', {}, live.hash)],
      ['Since', time(live.since)],
      ['Applied by', live.appliedBy ?? '—'],
      ['Author', live.author ?? '—'],
      ['Approvers', live.approvers.join(', ') || '—'],
      ['Source', live.source === 'disk' ? 'the files on the gateway\'s disk' : live.source],
    ]), h('p', { class: newest && !newest.live ? 'notice' : '' }, drift)),
    section('Versions', table('Configuration versions, newest first', ['Version', 'Submitted', 'Author', 'Profile', 'Message', 'Live', ''], list.versions.map((v) => [
      h('code', {}, short(v.hash)),
      time(v.createdAt),
      v.author,
      v.profile,
      v.message || '—',
      v.live ? 'live' : '',
      button('Open', () => openVersion(detail, v.hash, live, reload), { 'aria-label': `Open version ${short(v.hash)}` }),
    ]), { empty: 'No versions submitted yet (rampart apply submits them).' })),
    detail,
    section('Latest verify results', verify),
  );
  try {
    const r = await getJson<{ attestations?: Attestation[]; results?: Attestation[] }>('/admin/api/verify/latest');
    const rows = r.attestations ?? r.results ?? [];
    replace(verify, table('Signed verify attestations, newest first', ['When', 'Run', 'By', 'Passed', 'Failed', 'Report SHA-256'], rows.map((a) => [time(a.ts), a.seq !== undefined ? h('a', { href: `#/audit/${a.seq}` }, a.runId) : a.runId, a.by, String(a.passed), h('span', { class: a.failed > 0 ? 'bad' : 'ok' }, String(a.failed)), h('code', { class: 'digest' }, a.reportDigest)]), { empty: 'No verify run has been attested yet (rampart verify --target URL).' }));
  } catch (err) {
    replace(verify, h('p', {}, err instanceof ApiError && err.status === 403 ? 'Your roles do not allow reading verify results.' : 'Verify results are not available.'));
  }
}

/** `reload` redraws the whole page: after an apply the live version, the drift and the list change. */
async function openVersion(box: HTMLElement, hash: string, live: Live, reload: () => Promise<void>): Promise<void> {
  const v = await getJson<Version>(`/admin/api/config/versions/${encodeURIComponent(hash)}?bundle=1`);
  const root = v.bundle?.files.find((f) => f.path === v.bundle!.root);
  const text = root ? base64Utf8(root.data) : '';
  const diff = live.configText !== null ? lineDiff(live.configText, text) : undefined;
  const changed = diff?.filter((l) => l.op !== ' ').length ?? 0;
  const comment = field('Comment', { required: true, hint: 'What you checked (recorded with the approval).' });
  const actions = h('div', { class: 'actions' });
  if (can('config.approve') && !v.live) {
    actions.appendChild(form(`Approve version ${short(v.hash)}`, [comment.el], 'Approve', async () => {
      const r = await postJson<{ approvals: number; approvalsRequired: number }>(`/admin/api/config/versions/${encodeURIComponent(v.hash)}/approve`, { comment: comment.input.value.trim() });
      announce(`Approved: ${r.approvals} of ${r.approvalsRequired} approvals.`);
      await openVersion(box, hash, live, reload);
    }));
  }
  if (can('config.apply') && !v.live) {
    actions.appendChild(button('Apply to the live gateway', async () => {
      if (!(await confirmDialog(`Apply version ${short(v.hash)}?`, { detail: 'The gateway swaps to it at once; requests in flight finish on the old version.', confirmText: 'Apply' }))) return;
      const r = await postJson<{ hash: string; warnings: string[] }>(`/admin/api/config/versions/${encodeURIComponent(v.hash)}/apply`, {});
      await reload();
      announce(`Version ${short(r.hash)} is live.${r.warnings.length ? ` Warnings: ${r.warnings.join('; ')}` : ''}`);
    }, { class: 'primary' }));
  }
  replace(box, section(
    `Version ${short(v.hash)}`,
    facts([
      ['Hash', h('code', {}, v.hash)],
      ['Author', v.author],
      ['Message', v.message || '—'],
      ['Approvals', `${v.approvals.filter((a) => a.counts).length} of ${v.approvalsRequired} required${v.missing > 0 ? ` (${v.missing} missing)` : ''}`],
      ['Activations', v.activations.map((a) => `${time(a.at)} by ${a.by}`).join('; ') || 'never applied'],
    ]),
    table('Approvals', ['Approver', 'When', 'Comment', 'Counts'], v.approvals.map((a) => [a.approver, time(a.at), a.comment, a.counts ? 'yes' : 'no']), { empty: 'No approvals yet.' }),
    h('h3', {}, diff ? `Changes against live (${changed} lines)` : 'Configuration text'),
    diff
      ? h('pre', { class: 'diff', tabindex: '0', 'aria-label': 'Line diff: lines starting with + are added, - removed' }, ...diff.map((l) => h('span', { class: l.op === '+' ? 'add' : l.op === '-' ? 'del' : 'same' }, `${l.op} ${l.text}\n`)))
      : h('pre', { tabindex: '0' }, text),
    actions,
  ));
  box.querySelector('h2')?.setAttribute('tabindex', '-1');
  (box.querySelector('h2') as HTMLElement | null)?.focus();
}
