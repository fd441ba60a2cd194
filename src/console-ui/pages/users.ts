/**
 * Users and roles (users.read / users.write; changes need a fresh second factor, the server asks
 * and ../app.ts's dialog answers), and the logged-in admin's own second factors: a new TOTP
 * authenticator (the QR code the server drew, shown as an image from a data: URL: an SVG in an
 * <img> runs no script), passkeys (N63-2), and renewing one's recovery codes.
 */
import { h, type Child, replace } from '../h.js';
import { getJson, postJson } from '../api.js';
import { can, me } from '../state.js';
import { ROLES } from '../roles.js';
import { webauthnAvailable, createCredential } from '../webauthn.js';
import { button, confirmDialog, field, form, heading, secretOnce, section, table, time, uid, announce, alertError } from '../ui.js';

interface UserView {
  id: string;
  username: string;
  roles: string[];
  disabled: boolean;
  createdAt: string;
  lockedUntil?: string;
}

function roleBoxes(legend: string, current: readonly string[]): { el: HTMLFieldSetElement; value: () => string[] } {
  const boxes = ROLES.map((r) => {
    const id = uid('role');
    const input = h('input', { type: 'checkbox', id, value: r, checked: current.includes(r) });
    return { input, el: h('div', { class: 'check' }, input, h('label', { for: id }, r)) };
  });
  return { el: h('fieldset', { class: 'roles' }, h('legend', {}, legend), ...boxes.map((b) => b.el)), value: () => boxes.filter((b) => b.input.checked).map((b) => b.input.value) };
}

/** An SVG string → a data: URL for an <img> (img-src allows data:; no markup enters the page). */
function svgDataUrl(svg: string): string {
  const bytes = new TextEncoder().encode(svg);
  let bin = '';
  for (const b of bytes) bin += String.fromCharCode(b);
  return `data:image/svg+xml;base64,${btoa(bin)}`;
}

export async function usersPage(view: HTMLElement): Promise<void> {
  const parts: Child[] = [heading('Users and MFA')];
  if (can('users.read')) {
    const list = h('div', {});
    const shown = h('div', { class: 'shown-once', 'aria-live': 'polite' });
    const load = async (): Promise<void> => {
      const r = await getJson<{ users: UserView[] }>('/admin/api/users');
      replace(list, table('Admin users', ['Username', 'Roles', 'State', 'Created', ...(can('users.write') ? ['Actions'] : [])], r.users.map((u) => [
        u.username,
        u.roles.join(', '),
        u.disabled ? 'disabled' : u.lockedUntil ? `locked until ${time(u.lockedUntil)}` : 'active',
        time(u.createdAt),
        ...(can('users.write') ? [u.disabled ? '' : userActions(u, load)] : []),
      ])));
    };
    parts.push(shown);
    if (can('users.write')) {
      const username = field('Username', { required: true, hint: '3-64 characters: letters, digits, . _ -' });
      const password = field('Initial password', { type: 'password', required: true, autocomplete: 'new-password', hint: 'At least 15 characters; checked against a list of common passwords (N63-7).' });
      const roles = roleBoxes('Roles', ['examiner']);
      parts.push(section('Create a user', form('Create a user', [username.el, password.el, roles.el], 'Create user', async (f) => {
        const r = await postJson<{ user: UserView; totp: { secret: string; uri: string }; recoveryCodes: string[] }>('/admin/api/users', { username: username.input.value.trim(), password: password.input.value, roles: roles.value() });
        f.reset();
        replace(shown, 
          h('h3', {}, `User ${r.user.username} created`),
          h('p', {}, 'Hand these to the new admin over a safe channel. They are shown once.'),
          secretOnce('TOTP secret (enter it in an authenticator app)', r.totp.secret),
          secretOnce('Recovery codes', r.recoveryCodes.join(' ')),
        );
        announce(`User ${r.user.username} created.`);
        await load();
      })));
    }
    parts.push(section('Users', list));
    replace(view, ...parts, mySecurity());
    await load();
    return;
  }
  replace(view, ...parts, mySecurity());
}

function userActions(u: UserView, reload: () => Promise<void>): HTMLElement {
  const roles = roleBoxes(`Roles of ${u.username}`, u.roles);
  const details = h('details', {}, h('summary', {}, `Change roles of ${u.username}`), roles.el, button('Save roles', async () => {
    await postJson(`/admin/api/users/${encodeURIComponent(u.id)}/roles`, { roles: roles.value() });
    announce(`Roles of ${u.username} changed; their sessions ended.`);
    await reload();
  }));
  const disable = u.id === me()?.user.id ? '' : button('Disable', async () => {
    if (!(await confirmDialog(`Disable ${u.username}?`, { detail: 'Every session of this user ends at once.', confirmText: 'Disable', danger: true }))) return;
    await postJson(`/admin/api/users/${encodeURIComponent(u.id)}/disable`, {});
    announce(`${u.username} disabled.`);
    await reload();
  }, { class: 'danger', 'aria-label': `Disable ${u.username}` });
  return h('div', { class: 'row-actions' }, details, disable);
}

function mySecurity(): HTMLElement {
  const totpBox = h('div', { 'aria-live': 'polite' });
  const start = button('Set up a new authenticator', async () => {
    const r = await postJson<{ secret: string; uri: string; qrSvg?: string }>('/admin/api/me/totp', {});
    const code = field('Code from the new authenticator', { required: true, inputmode: 'numeric', autocomplete: 'one-time-code', pattern: '[0-9]{6}' });
    replace(totpBox, 
      r.qrSvg ? h('img', { src: svgDataUrl(r.qrSvg), alt: 'QR code of the new authenticator secret; the secret is also shown as text below.', class: 'qr', width: '200', height: '200' }) : h('p', {}, 'No QR code: enter the secret by hand.'),
      secretOnce('Secret (if you cannot scan)', r.secret),
      form('Confirm the new authenticator', [code.el], 'Confirm', async () => {
        await postJson('/admin/api/me/totp/confirm', { code: code.input.value.trim() });
        replace(totpBox, h('p', { class: 'ok' }, 'The new authenticator replaces the old one.'));
        announce('Authenticator enrolled.');
      }),
    );
    announce('Scan the QR code, then enter a code to confirm.');
  });
  const passkeyBox = h('div', { 'aria-live': 'polite' });
  const codesBox = h('div', { 'aria-live': 'polite' });
  const name = field('Passkey name', { value: 'passkey', hint: 'For example "laptop" or "security key".' });
  const passkey = webauthnAvailable()
    ? form('Add a passkey', [name.el], 'Add a passkey', async () => {
        const options = await postJson<Record<string, unknown>>('/admin/api/passkeys/options', {});
        let response;
        try {
          response = await createCredential(options);
        } catch (err) {
          alertError(`No passkey was added: ${err instanceof Error ? err.message : String(err)}`);
          return;
        }
        const r = await postJson<{ credentialId: string; name: string }>('/admin/api/passkeys', { name: name.input.value.trim() || 'passkey', response });
        replace(passkeyBox, h('p', { class: 'ok' }, `Passkey ${r.name} added.`));
        announce('Passkey added.');
      })
    : h('p', {}, 'This browser offers no passkeys (WebAuthn).');
  return section(
    'My sign-in factors',
    h('h3', {}, 'Authenticator app (TOTP)'),
    start,
    totpBox,
    h('h3', {}, 'Passkeys'),
    h('p', {}, 'A passkey is the phishing-resistant way in: the browser only offers it to this site.'),
    passkey,
    passkeyBox,
    h('h3', {}, 'Recovery codes'),
    h('p', {}, 'Each recovery code works once instead of an authenticator code. A new set replaces the old one at once: keep it somewhere safe.'),
    button('Issue new recovery codes', async () => {
      const r = await postJson<{ recoveryCodes: string[] }>('/admin/api/me/recovery-codes', {});
      replace(codesBox, secretOnce('New recovery codes (shown once)', r.recoveryCodes.join(' ')));
      announce('New recovery codes issued; the old ones no longer work.');
    }),
    codesBox,
  );
}
