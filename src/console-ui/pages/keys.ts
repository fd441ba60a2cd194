/**
 * Keys and clients: list (status, scopes, last use), create (the secret shown once, with a copy
 * button), rotate (a new secret with the same name, scopes, subject and expiry; the old key
 * revoked at once or after a grace period the operator picks, shown in the list as "active until"),
 * revoke (after a confirmation; it also ends a grace period at once). Only roles with keys.write see the controls; the
 * server refuses the rest (403), shown as a message.
 */
import { h, type Child, replace } from '../h.js';
import { getJson, postJson } from '../api.js';
import { can } from '../state.js';
import { button, confirmDialog, field, form, heading, secretOnce, section, select, table, time, announce } from '../ui.js';

interface KeyView {
  id: string;
  name: string;
  status: 'active' | 'revoked' | 'expired';
  scopes: string[];
  subject: string | null;
  createdAt: string;
  expiresAt: string | null;
  revokedAt: string | null;
  lastUsedAt?: string | null;
  createdBy: string | null;
}

/** How long a rotated key keeps working, in seconds (the server accepts 0 to 86 400). */
const GRACE_CHOICES: readonly [string, string][] = [['0', 'no grace: at once'], ['3600', '1 hour'], ['86400', '24 hours']];

export async function keysPage(view: HTMLElement): Promise<void> {
  const list = h('div', {});
  const shown = h('div', { class: 'shown-once', 'aria-live': 'polite' });
  const grace = select('When a key is rotated, the old key keeps working for', GRACE_CHOICES, '0');
  const writer = can('keys.write');

  const load = async (): Promise<void> => {
    const r = await getJson<{ keys: KeyView[] }>('/admin/api/keys');
    const rows = r.keys.map((k): Child[] => [
      h('code', {}, k.id),
      k.name,
      k.status === 'active' && k.revokedAt
        ? h('span', {}, h('span', { class: 'badge active' }, 'active'), ' until ', time(k.revokedAt))
        : h('span', { class: `badge ${k.status}` }, k.status),
      k.scopes.join(' '),
      k.subject ?? '—',
      time(k.createdAt),
      k.expiresAt ? time(k.expiresAt) : 'never',
      k.lastUsedAt === undefined ? 'not tracked' : k.lastUsedAt ? time(k.lastUsedAt) : 'never used',
      writer && k.status === 'active'
        ? h(
            'div',
            { class: 'row-actions' },
            // A key in its grace period is not rotated again (the server refuses it too).
            k.revokedAt ? '' : button('Rotate', async () => {
              const graceSeconds = Number(grace.input.value);
              const ends = graceSeconds > 0 ? `the old key keeps working for ${grace.input.selectedOptions[0]?.textContent ?? ''}` : 'the old key stops working at once';
              if (!(await confirmDialog(`Rotate key ${k.name}?`, { detail: `A new secret is made with the same scopes; ${ends}.`, confirmText: 'Rotate' }))) return;
              const made = await postJson<{ key: string; id: string; name: string }>(`/admin/api/keys/${encodeURIComponent(k.id)}/rotate`, { graceSeconds });
              replace(shown, h('h3', {}, `New secret for ${made.name} (${made.id})`), secretOnce('New key secret', made.key));
              announce(`Key ${k.name} rotated. The new secret is shown once.`);
              await load();
            }, { 'aria-label': `Rotate key ${k.name}` }),
            button('Revoke', async () => {
              if (!(await confirmDialog(`Revoke key ${k.name}?`, { detail: 'Clients using it are refused from now on. This cannot be undone.', confirmText: 'Revoke', danger: true }))) return;
              await postJson(`/admin/api/keys/${encodeURIComponent(k.id)}/revoke`, {});
              announce(`Key ${k.name} revoked.`);
              await load();
            }, { class: 'danger', 'aria-label': `Revoke key ${k.name}` }),
          )
        : '',
    ]);
    replace(list, table('API keys', ['Id', 'Name', 'Status', 'Scopes', 'Customer', 'Created', 'Expires', 'Last used', writer ? 'Actions' : ''], rows, { empty: 'No keys yet.' }));
  };

  let create: HTMLElement | string = '';
  if (writer) {
    const name = field('Name', { required: true, hint: 'Who or what uses the key (the client application).' });
    const scopes = field('Scopes', { required: true, hint: 'Separated by spaces, for example accounts:read orders:write.' });
    const subject = field('Customer (optional)', { hint: 'The data subject the key acts for; object-level checks use it.' });
    const days = field('Expires in days (optional)', { type: 'number', min: '1', max: '3650' });
    create = section(
      'Create a key',
      form('Create a key', [h('div', { class: 'filters' }, name.el, scopes.el, subject.el, days.el)], 'Create key', async (f) => {
        const body: Record<string, unknown> = { name: name.input.value.trim(), scopes: scopes.input.value.trim().split(/\s+/).filter(Boolean) };
        if (subject.input.value.trim()) body.subject = subject.input.value.trim();
        if (days.input.value) body.expiresInDays = Number(days.input.value);
        const made = await postJson<{ key: string; id: string; name: string }>('/admin/api/keys', body);
        replace(shown, h('h3', {}, `Key ${made.name} created (${made.id})`), secretOnce('Key secret', made.key));
        f.reset();
        announce(`Key ${made.name} created. The secret is shown once.`);
        await load();
      }),
    );
  }

  replace(view, heading('Keys and clients'), shown, create, section('Keys', writer ? grace.el : '', list));
  await load();
}
