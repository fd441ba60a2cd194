/**
 * The console's entry point (issue 7): the shell (navigation, main, live regions), hash routes,
 * and the session: GET /admin/api/me decides between the login page and the app; any answer
 * RAMPART_ADMIN_SESSION_REQUIRED (idle or absolute timeout, N63-3 / ASVS 3.3.2; a disabled
 * account, FC-2) clears the screen and returns to the login page with a message.
 */
import { h, replace } from './h.js';
import { call, getJson, postJson, setApiHooks, setCsrf, ApiError } from './api.js';
import { me, setMe, can, type Me } from './state.js';
import type { AdminAction } from './roles.js';
import { clearStatus, alertError, announce } from './status.js';
import { field, uid } from './ui.js';
import { loginPage } from './pages/login.js';
import { overviewPage } from './pages/overview.js';
import { auditPage, recordPage } from './pages/audit.js';
import { evidencePage } from './pages/evidence.js';
import { keysPage } from './pages/keys.js';
import { usersPage } from './pages/users.js';
import { configPage } from './pages/config.js';
import { retentionPage } from './pages/retention.js';

interface Page {
  path: string;
  title: string;
  /** Shown in the navigation only when the roles allow it (the server refuses it anyway). */
  needs?: AdminAction;
  render(view: HTMLElement, arg: string | undefined): Promise<void> | void;
}

const PAGES: Page[] = [
  { path: 'overview', title: 'Overview', needs: 'audit.read', render: overviewPage },
  { path: 'audit', title: 'Audit explorer', needs: 'audit.read', render: (v, a) => (a ? recordPage(v, a) : auditPage(v)) },
  { path: 'evidence', title: 'Evidence', needs: 'evidence.export', render: evidencePage },
  { path: 'keys', title: 'Keys and clients', needs: 'keys.read', render: keysPage },
  { path: 'users', title: 'Users and MFA', render: usersPage },
  { path: 'config', title: 'Configuration', needs: 'config.read', render: configPage },
  { path: 'retention', title: 'Retention and holds', needs: 'holds.read', render: retentionPage },
];

const main = (): HTMLElement => document.getElementById('main')!;
let pendingMessage: string | undefined;
let renderCount = 0;

function visiblePages(): Page[] {
  return PAGES.filter((p) => !p.needs || can(p.needs));
}

function parseHash(): { path: string; arg: string | undefined } {
  // #/page or #/page/arg; anything else is no route (the first allowed page is shown).
  const parts = location.hash.startsWith('#/') ? location.hash.slice(2).split('/') : [];
  const [path, arg] = parts;
  if (parts.length > 2 || !path || !/^[a-z]{1,20}$/.test(path) || (arg !== undefined && !/^[A-Za-z0-9:_-]{1,128}$/.test(arg))) return { path: '', arg: undefined };
  return { path, arg };
}

function renderShell(): void {
  const nav = document.getElementById('nav')!;
  const who = document.getElementById('who')!;
  const m = me();
  if (!m) {
    nav.replaceChildren();
    who.replaceChildren();
    nav.hidden = true;
    return;
  }
  nav.hidden = false;
  const { path } = parseHash();
  replace(nav, h('ul', {}, ...visiblePages().map((p) => h('li', {}, h('a', { href: `#/${p.path}`, 'aria-current': p.path === path ? 'page' : undefined }, p.title)))));
  const logout = h('button', { type: 'button', id: 'logout' }, 'Log out');
  logout.addEventListener('click', () => void doLogout());
  replace(who, h('span', { class: 'who' }, `${m.user.username} (${m.user.roles.join(', ')})`), logout);
}

async function doLogout(): Promise<void> {
  try {
    await call('POST', '/admin/api/logout');
  } catch {
    // The session may be gone already; the screen is cleared either way.
  }
  endSession('You are logged out.');
}

function endSession(message: string): void {
  setMe(undefined);
  setCsrf(undefined);
  pendingMessage = message;
  renderShell();
  // Whatever was on screen (ledger data) goes at once, not at the next click.
  if (location.hash !== '#/login') location.hash = '#/login';
  else void route();
}

async function route(): Promise<void> {
  const renderId = ++renderCount;
  clearStatus();
  const { path, arg } = parseHash();
  const view = h('div', { class: 'view' });
  main().replaceChildren(view);
  if (!me() || path === 'login') {
    if (me() && path === 'login') {
      location.hash = '#/overview';
      return;
    }
    const message = pendingMessage;
    pendingMessage = undefined;
    document.title = 'Log in · Rampart';
    loginPage(view, { ...(message ? { message } : {}), done: loggedIn });
    focusHeading(view);
    return;
  }
  renderShell();
  const pages = visiblePages();
  const page = pages.find((p) => p.path === path) ?? PAGES.find((p) => p.path === path);
  if (!page || (page.needs && !can(page.needs))) {
    location.replace(`#/${pages[0]?.path ?? 'users'}`);
    return;
  }
  document.title = `${page.title} · Rampart`;
  try {
    await page.render(view, arg);
  } catch (err) {
    if (renderId !== renderCount) return;
    if (err instanceof ApiError && err.code === 'RAMPART_ADMIN_SESSION_REQUIRED') return;
    alertError(err instanceof ApiError ? (err.status === 403 ? 'Not permitted: your roles do not allow this page.' : `${err.title}: ${err.detail}`) : String(err));
  }
  if (renderId === renderCount) focusHeading(view);
}

/** Focus moves to the new page's heading, so screen readers announce where the user is. */
function focusHeading(view: HTMLElement): void {
  const h1 = view.querySelector('h1');
  if (h1 instanceof HTMLElement) h1.focus();
}

async function loggedIn(): Promise<void> {
  setMe(await getJson<Me>('/admin/api/me'));
  const { path } = parseHash();
  if (path && path !== 'login') await route();
  else location.hash = '#/overview';
}

/** Asks for both factors again (N63: user and role changes, MFA changes, holds). */
function reauthDialog(): Promise<boolean> {
  return new Promise((resolve) => {
    const titleId = uid('reauth');
    const pass = field('Password', { type: 'password', required: true, autocomplete: 'current-password' });
    const totp = field('Authenticator code', { required: true, autocomplete: 'one-time-code', inputmode: 'numeric' });
    const err = h('p', { class: 'error', role: 'alert' });
    const cancel = h('button', { type: 'button' }, 'Cancel');
    const ok = h('button', { type: 'submit', class: 'primary' }, 'Confirm');
    const f = h('form', {}, h('h2', { id: titleId }, 'Confirm it is you'), h('p', {}, 'This action needs your password and a fresh authenticator code.'), pass.el, totp.el, err, h('div', { class: 'actions' }, cancel, ok));
    const dlg = h('dialog', { 'aria-labelledby': titleId, class: 'modal' }, f);
    let result = false;
    cancel.addEventListener('click', () => dlg.close());
    f.addEventListener('submit', (ev) => {
      ev.preventDefault();
      ok.disabled = true;
      postJson('/admin/api/reauth', { password: pass.input.value, totp: totp.input.value.trim() })
        .then(() => {
          result = true;
          dlg.close();
        })
        .catch((e: unknown) => {
          err.textContent = e instanceof ApiError ? e.title : 'Re-authentication failed.';
          ok.disabled = false;
        });
    });
    dlg.addEventListener('close', () => {
      dlg.remove();
      resolve(result);
    });
    document.body.appendChild(dlg);
    dlg.showModal();
    pass.input.focus();
  });
}

async function start(): Promise<void> {
  setApiHooks({ sessionEnded: endSession, reauth: reauthDialog });
  window.addEventListener('hashchange', () => void route());
  // The skip link must not change the hash (that is the router's): it moves focus instead.
  document.getElementById('skip')?.addEventListener('click', (ev) => {
    ev.preventDefault();
    main().focus();
  });
  try {
    setMe(await getJson<Me>('/admin/api/me', { anonymous: true }));
  } catch {
    setMe(undefined);
  }
  renderShell();
  if (me() && (!location.hash || location.hash === '#/login')) location.hash = '#/overview';
  else await route();
  announce('');
}

void start();
