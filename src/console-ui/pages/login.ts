/**
 * The login page: username, password and a second factor (TOTP code or a one-time recovery
 * code), or a passkey where the browser has WebAuthn (N63-1 AAL2, N63-2 phishing-resistant
 * option, FC-1 MFA). The server gives one generic answer for every failure; so does this page.
 */
import { h, replace } from '../h.js';
import { postJson, setCsrf, describe } from '../api.js';
import { getAssertion, webauthnAvailable } from '../webauthn.js';
import { field, form, heading, button, alertError, announce } from '../ui.js';

export interface LoginResult {
  csrfToken: string;
}

export function loginPage(view: HTMLElement, o: { message?: string; done: () => Promise<void> }): void {
  const user = field('Username', { required: true, autocomplete: 'username', name: 'username' });
  const pass = field('Password', { type: 'password', required: true, autocomplete: 'current-password', name: 'password' });
  const totp = field('Authenticator code', { autocomplete: 'one-time-code', inputmode: 'numeric', name: 'totp', pattern: '[0-9]{6}', hint: 'The 6-digit code from your authenticator app.' });
  const recovery = field('Recovery code', { name: 'recoveryCode', autocomplete: 'off', hint: 'Use one of your one-time recovery codes instead of the authenticator code.' });
  const recoveryBox = h('details', { class: 'recovery' }, h('summary', {}, 'Use a recovery code instead'), recovery.el);

  const f = form('Log in', [user.el, pass.el, totp.el, recoveryBox], 'Log in', async () => {
    const body: Record<string, string> = { username: user.input.value.trim(), password: pass.input.value };
    if (recovery.input.value.trim()) body.recoveryCode = recovery.input.value.trim();
    else body.totp = totp.input.value.trim();
    try {
      const r = await postJson<LoginResult>('/admin/api/login', body, { anonymous: true });
      setCsrf(r.csrfToken);
    } catch (err) {
      pass.input.value = '';
      totp.input.value = '';
      recovery.input.value = '';
      throw err;
    }
    announce('Logged in.');
    await o.done();
  });

  const passkey = webauthnAvailable()
    ? h('div', { class: 'passkey' }, h('p', {}, 'Or sign in with a passkey (phishing-resistant).'), button('Sign in with a passkey', async () => {
        try {
          const username = user.input.value.trim();
          const opts = await postJson<{ loginId: string; options: Record<string, unknown> }>('/admin/api/login/passkey/options', username ? { username } : {}, { anonymous: true });
          const response = await getAssertion(opts.options);
          const r = await postJson<LoginResult>('/admin/api/login/passkey', { loginId: opts.loginId, response }, { anonymous: true });
          setCsrf(r.csrfToken);
        } catch (err) {
          alertError(describe(err));
          return;
        }
        announce('Logged in.');
        await o.done();
      }))
    : null;

  replace(view, h('div', { class: 'login' }, heading('Log in to Rampart'), o.message ? h('p', { class: 'notice', role: 'note' }, o.message) : null, f, passkey));
}
