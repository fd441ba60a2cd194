/**
 * Retention and legal holds (issue 4; R17a4-1 periods, RSP-7 disposal): the configured policy per
 * record class, what a purge would remove in the next 30 days (a dry run on the server), and the
 * holds. Setting and lifting a hold is the compliance role's (holds.write) and needs a fresh
 * second factor; other roles see the list only.
 */
import { h, replace } from '../h.js';
import { getJson, postJson } from '../api.js';
import { can } from '../state.js';
import { confirmDialog, facts, field, form, heading, jsonView, section, table, time, utcInput, announce } from '../ui.js';

interface Retention {
  policies: Record<string, number>;
  upcoming: { asOf: string; keys: number; records: number; byClass?: Record<string, number> };
  holds: number;
}
interface Hold { id: string; reason?: string; createdAt: string; createdBy?: string; by?: string; liftedAt?: string; criteria?: Record<string, unknown>; items?: number; [k: string]: unknown }

export async function retentionPage(view: HTMLElement): Promise<void> {
  // After a set or lift the page is drawn again: the control that was used is gone, so focus
  // returns to the page heading rather than falling to <body> (keyboard users, WCAG 2.4.3).
  const redraw = async (): Promise<void> => {
    await retentionPage(view);
    view.querySelector('h1')?.focus();
  };
  const [ret, holds] = await Promise.all([getJson<Retention>('/admin/api/retention'), getJson<{ holds: Hold[] }>('/admin/api/holds')]);
  const writer = can('holds.write');
  const holdRows = holds.holds.map((x) => {
    const { id, reason, createdAt, liftedAt, createdBy, by, ...rest } = x;
    return [
      h('code', {}, id),
      // GET /admin/api/holds does not carry the reason yet (it is sealed in the hold's ledger record).
      reason ?? '—',
      time(createdAt),
      createdBy ?? by ?? '—',
      liftedAt ? `lifted ${time(liftedAt)}` : 'active',
      jsonView(rest),
      writer && !liftedAt ? liftButton(x) : '',
    ];
  });
  let setForm: HTMLElement | string = '';
  if (writer) {
    const reason = field('Reason', { required: true, hint: 'For example the matter or litigation reference.' });
    const principal = field('Principal (optional)');
    const subject = field('Customer (optional)');
    const objectId = field('Object id (optional)');
    const operationId = field('Operation (optional)');
    const from = field('From (UTC, optional)', { type: 'datetime-local' });
    const to = field('To (UTC, optional)', { type: 'datetime-local' });
    setForm = section('Set a legal hold', form('Set a legal hold', [h('div', { class: 'filters' }, reason.el, principal.el, subject.el, objectId.el, operationId.el, from.el, to.el)], 'Set hold', async () => {
      const body: Record<string, string> = { reason: reason.input.value.trim() };
      for (const [k, f] of [['principal', principal], ['subject', subject], ['objectId', objectId], ['operationId', operationId]] as const) if (f.input.value.trim()) body[k] = f.input.value.trim();
      const fi = utcInput(from.input.value);
      const ti = utcInput(to.input.value);
      if (fi) body.from = fi;
      if (ti) body.to = ti;
      const r = await postJson<{ id: string; items: number }>('/admin/api/holds', body);
      announce(`Hold ${r.id} set on ${r.items} items.`);
      await redraw();
    }));
  }
  replace(view, 
    heading('Retention and holds'),
    section('Retention policy', table('Retention per record class', ['Class', 'Kept for'], Object.entries(ret.policies).map(([k, d]) => [k, `${d} days (${(d / 365).toFixed(1)} years)`]))),
    section('Upcoming purges', h('p', {}, `What a purge would remove by ${time(ret.upcoming.asOf)} (a dry run; nothing was changed):`), facts([
      ['Data keys', String(ret.upcoming.keys)],
      ['Records', String(ret.upcoming.records)],
      ['By class', ret.upcoming.byClass ? jsonView(ret.upcoming.byClass) : undefined],
      ['Active holds', String(ret.holds)],
    ])),
    setForm,
    section('Legal holds', table('Legal holds', ['Id', 'Reason', 'Set', 'By', 'State', 'Criteria', writer ? 'Actions' : ''], holdRows, { empty: 'No holds.' })),
  );

  function liftButton(x: Hold): HTMLElement {
    const reason = field('Reason for lifting', { required: true });
    return h('details', {}, h('summary', {}, `Lift hold ${x.id}`), form(`Lift hold ${x.id}`, [reason.el], 'Lift hold', async () => {
      if (!(await confirmDialog(`Lift hold ${x.id}?`, { detail: 'Its items become subject to normal retention again.', confirmText: 'Lift', danger: true }))) return;
      await postJson(`/admin/api/holds/${encodeURIComponent(x.id)}/lift`, { reason: reason.input.value.trim() });
      announce(`Hold ${x.id} lifted.`);
      await redraw();
    }));
  }
}
