/**
 * The console pages that console.test.ts does not drive (issue 7), each through the UI in Debian's
 * chromium (playwright-core), with the server-side effect checked in the store, the ledger or the
 * data plane:
 * - Keys: rotation shows the new secret once; the new key works (200), the old one is refused
 *   (401); the rotation is an admin.action record (R17a4-3, AU-10).
 * - Users (as an owner): create (TOTP secret and recovery codes shown once), change roles, disable;
 *   the user's sessions end at once (FC-2) and their next request is a 401.
 * - My factors: new recovery codes (the old set stops working, N63-1 look-up secrets), TOTP
 *   re-enrolment with the server-drawn QR code, confirmed by a code from the shown secret (N63-4).
 * - Configuration under `changes.approvals: 1`: a version submitted through the API, the author's
 *   own approval refused (RAMPART_CONFIG_SELF_APPROVAL), another admin approving through the
 *   console's re-authentication dialog (a fresh second factor), the author applying it live.
 * - Retention and holds: the compliance role sets a hold on a principal and lifts it with a reason
 *   (R17a4-1); an owner sees the page read-only (API5).
 * - Keyboard: the navigation is reachable and operable with Tab and Enter, focus lands on the
 *   page heading, every form control has an accessible name (found by page.getByLabel), no image
 *   without alt and no button without a name.
 * Assertions are on content, never on time; the admin clock is moved (startConsoleGateway) to get
 * fresh TOTP steps and to pass the re-authentication window. Screenshots go to artifacts/console/.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { authenticator } from 'otplib';
import { parse, stringify } from 'yaml';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { makeBundle } from '../../src/config/bundle.js';
import { ERRORS } from '../../src/core/errors.js';
import type { AdminRole } from '../../src/storage/types.js';
import { FIXTURE_SPEC } from '../helpers/gateway.js';
import { addTestAdmin, adminRequest, TEST_ADMIN_PASSWORD, type AdminRes } from '../helpers/admin.js';
import { consolePage, launchChromium, startConsoleGateway, type ConsoleGateway, type PageWatch } from '../helpers/browser.js';
import { gatewayPrivates } from '../helpers/ledger-crypto.js';
import { tempDir } from '../helpers/tmp.js';

const ARTIFACTS = fileURLToPath(new URL('../../../artifacts/console/', import.meta.url));
const TIMEOUT = { timeout: 120_000 };
/** A TOTP step (RFC 6238 §4: 30 s): moving the admin clock by one gives every admin a fresh code (N63-4: a code works once). */
const STEP_MS = 30_000;

interface Session {
  context: BrowserContext;
  page: Page;
  watch: PageWatch;
}

describe('the console pages in a real browser: keys, users, my factors, configuration, holds, keyboard', () => {
  let t: ConsoleGateway;
  let browser: Browser;
  const admins: Record<string, { id: string; totp: string; codes: string[] }> = {};
  const open: Session[] = [];
  let repo: ReturnType<typeof tempDir>;

  const shot = async (p: Page, name: string): Promise<void> => {
    await p.screenshot({ path: join(ARTIFACTS, `pages-${name}.png`), fullPage: true });
  };
  const code = (secret: string): string => authenticator.clone({ epoch: t.adminNow() }).generate(secret);
  const heading = (p: Page, name: string | RegExp) => p.getByRole('heading', { level: 1, name });
  const status = (p: Page) => p.locator('#status');
  const alert = (p: Page) => p.locator('#alert');
  const dataPlane = async (key: string): Promise<number> => (await t.request('GET', '/accounts', { headers: { authorization: `Bearer ${key}` } })).status;
  const api = (method: string, path: string, o: Parameters<typeof adminRequest>[3] = {}): Promise<AdminRes> => adminRequest(t.gw.admin!.port, method, path, o);

  async function addAdmin(username: string, roles: AdminRole[]): Promise<void> {
    admins[username] = await addTestAdmin(t, username, roles);
  }

  /** Admin-plane records of one type, newest first, once the writer has committed them. */
  async function records(type: 'admin.action' | 'security.event') {
    await t.gw.ledgerParts!.drained();
    return (await t.gw.storage.ledger.search({ type, limit: 500, descending: true })).map((r) => r.record);
  }

  /**
   * A TOTP code for `username` from a step the account has not used yet (N63-4: a code works
   * once). The admin clock moves only when needed: it stamps key revocations too, which the key
   * store compares with the real clock.
   */
  const usedStep: Record<string, number> = {};
  function freshCode(username: string, secret = admins[username]!.totp): string {
    const last = usedStep[username];
    const now = Math.floor(t.adminNow() / STEP_MS);
    if (last !== undefined && last >= now) t.advanceAdminClock((last - now + 1) * STEP_MS);
    usedStep[username] = Math.floor(t.adminNow() / STEP_MS);
    return code(secret);
  }

  /** Logs in through the login page with password and a TOTP code. */
  async function logIn(p: Page, username: string, landing: string = 'Overview'): Promise<void> {
    await p.goto(`${t.adminUrl}/admin/`);
    await heading(p, 'Log in to Rampart').waitFor();
    await p.getByLabel('Username').fill(username);
    await p.getByLabel('Password').fill(TEST_ADMIN_PASSWORD);
    await p.getByLabel('Authenticator code').fill(freshCode(username));
    await p.getByRole('button', { name: 'Log in', exact: true }).click();
    await heading(p, landing).waitFor();
  }

  /** A browser of its own (own cookies) for `username`, logged in. */
  async function as(username: string, landing?: string): Promise<Session> {
    const s = await consolePage(browser);
    open.push(s);
    await logIn(s.page, username, landing);
    return s;
  }

  async function go(p: Page, link: string, h1 = link): Promise<void> {
    await p.getByRole('navigation', { name: 'Console sections' }).getByRole('link', { name: link, exact: true }).click();
    await heading(p, h1).waitFor();
  }

  /** Answers the console's "Confirm it is you" dialog (N63: a fresh second factor for sensitive actions). */
  async function confirmItIsYou(p: Page, username: string): Promise<void> {
    const dlg = p.getByRole('dialog', { name: 'Confirm it is you' });
    await dlg.waitFor();
    await assertNamedControls(p, 'dialog');
    await dlg.getByLabel('Password').fill(TEST_ADMIN_PASSWORD);
    await dlg.getByLabel('Authenticator code').fill(freshCode(username));
    await dlg.getByRole('button', { name: 'Confirm' }).click();
    await dlg.waitFor({ state: 'detached' });
  }

  /** Moves the admin clock past the re-authentication window (admin.sessions.reauthMinutes). */
  function passReauthWindow(): void {
    t.advanceAdminClock((t.config.admin!.sessions.reauthMinutes + 1) * 60_000);
  }

  /** The session cookie of a browser context (HttpOnly: the page cannot read it, the test can). */
  async function sessionCookie(s: Session): Promise<string> {
    const c = (await s.context.cookies()).find((x) => x.name === '__Host-rampart_session');
    assert.ok(c, 'a session cookie');
    return `${c.name}=${c.value}`;
  }

  /**
   * Every input, select and textarea under `scope` has an accessible name, and page.getByLabel
   * with that name finds that very control (WCAG 1.3.1, 4.1.2): the name the test reads is the
   * name assistive technology gets, not a guess.
   */
  async function assertNamedControls(p: Page, scope: 'main' | 'dialog'): Promise<number> {
    const names = (await p.evaluate(`(() => {
      const text = (el) => (el ? el.textContent : '').replace(/\\s+/g, ' ').trim();
      const els = [...document.querySelectorAll('${scope} input, ${scope} select, ${scope} textarea')].filter((e) => e.type !== 'hidden');
      return els.map((e, i) => {
        e.setAttribute('data-a11y-probe', String(i));
        const aria = (e.getAttribute('aria-label') || '').trim();
        if (aria) return aria;
        const by = (e.getAttribute('aria-labelledby') || '').split(/\\s+/).filter(Boolean).map((id) => text(document.getElementById(id))).join(' ').trim();
        if (by) return by;
        return [...(e.labels || [])].map(text).join(' ').trim();
      });
    })()`)) as string[];
    for (const [i, name] of names.entries()) {
      const probe = p.locator(`[data-a11y-probe="${i}"]`);
      const what = await probe.evaluate((e) => (e as unknown as { outerHTML: string }).outerHTML.slice(0, 160));
      assert.notEqual(name, '', `a control without a name: ${what}`);
      assert.equal(await p.getByLabel(name, { exact: true }).and(probe).count(), 1, `getByLabel(${JSON.stringify(name)}) does not find ${what}`);
    }
    return names.length;
  }

  /** No image without alt, no button or link without a name (a light, axe-free check). */
  async function assertNoUnnamed(p: Page): Promise<void> {
    const bad = (await p.evaluate(`(() => {
      const named = (e) => ((e.getAttribute('aria-label') || '') + e.textContent).trim() !== '' || [...e.querySelectorAll('img[alt]')].some((i) => i.alt.trim() !== '');
      return [
        ...[...document.querySelectorAll('img:not([alt])')].map((e) => 'img ' + e.outerHTML.slice(0, 120)),
        ...[...document.querySelectorAll('button, a[href]')].filter((e) => !named(e)).map((e) => e.tagName + ' ' + e.outerHTML.slice(0, 120)),
      ];
    })()`)) as string[];
    assert.deepEqual(bad, [], 'every image has alt, every button and link a name');
  }

  before(async () => {
    mkdirSync(ARTIFACTS, { recursive: true });
    // One approval by someone other than the author before a version may go live (issue 6).
    t = await startConsoleGateway({ changes: { approvals: 1 } });
    await addAdmin('olga', ['owner']);
    await addAdmin('sam', ['security']);
    await addAdmin('carol', ['compliance']);
    await addAdmin('max', ['examiner']);
    await addAdmin('kim', ['owner', 'compliance']);
    browser = await launchChromium();
  });

  after(async () => {
    for (const s of open) await s.context.close().catch(() => {});
    await browser?.close();
    await t?.close();
    repo?.remove();
  });

  it('Keys: rotating shows the new secret once; the new key works, the old one is refused; the rotation is a ledger record', TIMEOUT, async () => {
    const old = await t.key(['accounts:read'], { name: 'rotate-me', subject: 'cus_1' });
    assert.equal(await dataPlane(old.key), 200, 'the key works before the rotation');
    const { page } = await as('sam');
    await go(page, 'Keys and clients');
    const oldRow = page.locator('tr', { hasText: old.id });
    await oldRow.getByText('active').waitFor();
    await page.getByRole('button', { name: 'Rotate key rotate-me' }).click();
    const dlg = page.getByRole('dialog', { name: 'Rotate key rotate-me?' });
    await dlg.getByRole('button', { name: 'Rotate', exact: true }).click();
    const secret = await page.getByRole('textbox', { name: 'New key secret' }).inputValue();
    assert.ok(secret.length >= 20 && secret !== old.key, 'a new secret');
    await oldRow.getByText('revoked').waitFor();
    assert.match(await status(page).innerText(), /Key rotate-me rotated/);
    await shot(page, 'key-rotated');

    assert.equal(await dataPlane(secret), 200, 'the new secret works on the data plane');
    assert.equal(await dataPlane(old.key), 401, 'the old secret is refused');

    const rotation = (await records('admin.action')).find((r) => r.detail?.action === 'key.rotate' && r.detail?.replaces === old.id);
    assert.ok(rotation, 'the rotation is an admin.action record');
    const newId = String(rotation.detail!.keyId);
    assert.match(await page.getByRole('heading', { name: /^New secret for rotate-me/ }).innerText(), new RegExp(newId));
    const [priv] = await gatewayPrivates(t.gw, [rotation.seq]);
    assert.equal(priv!.personal!.principal, 'sam', 'the record names the admin (sealed)');
    assert.ok(!JSON.stringify(rotation).includes(secret) && !JSON.stringify(priv).includes(secret), 'the secret never enters the ledger');
    const made = await t.gw.storage.keys.get(newId);
    assert.deepEqual([made?.name, made?.subject, made?.scopes, made?.revokedAt], ['rotate-me', 'cus_1', ['accounts:read'], undefined], 'same name, customer and scopes');
    assert.notEqual((await t.gw.storage.keys.get(old.id))?.revokedAt, undefined);
    await page.locator('tr', { hasText: newId }).getByText('active').waitFor();

    // Shown once: after leaving the page, the secret is nowhere on it.
    await go(page, 'Overview');
    await go(page, 'Keys and clients');
    assert.equal(await page.getByRole('textbox', { name: 'New key secret' }).count(), 0);
    assert.ok(!(await page.locator('main').innerText()).includes(secret));

    // With a grace period: the old key keeps working, listed as "active until", and cannot be
    // rotated twice; revoking it outright ends the grace at once.
    const graced = await t.key(['accounts:read'], { name: 'rotate-slowly', subject: 'cus_1' });
    await go(page, 'Overview');
    await go(page, 'Keys and clients');
    await page.getByLabel('When a key is rotated, the old key keeps working for').selectOption('3600');
    await page.getByRole('button', { name: 'Rotate key rotate-slowly' }).click();
    const dlg2 = page.getByRole('dialog', { name: 'Rotate key rotate-slowly?' });
    assert.match(await dlg2.innerText(), /keeps working for 1 hour/);
    await dlg2.getByRole('button', { name: 'Rotate', exact: true }).click();
    const secret2 = await page.getByRole('textbox', { name: 'New key secret' }).inputValue();
    const gracedRow = page.locator('tr', { hasText: graced.id });
    await gracedRow.getByText('until').waitFor();
    assert.equal(await gracedRow.getByRole('button', { name: 'Rotate key rotate-slowly' }).count(), 0, 'not rotated twice');
    assert.equal(await dataPlane(graced.key), 200, 'the old key works during its grace period');
    assert.equal(await dataPlane(secret2), 200);
    await gracedRow.getByRole('button', { name: 'Revoke key rotate-slowly' }).click();
    await page.getByRole('dialog', { name: 'Revoke key rotate-slowly?' }).getByRole('button', { name: 'Revoke', exact: true }).click();
    await gracedRow.getByText('revoked').waitFor();
    assert.equal(await dataPlane(graced.key), 401, 'revoking ends the grace at once');
  });

  it('Users (owner): creates a user with TOTP secret and recovery codes shown once, changes their roles, disables them; their session ends', TIMEOUT, async () => {
    const owner = await as('olga');
    const p = owner.page;
    await go(p, 'Users and MFA');
    const create = p.getByRole('form', { name: 'Create a user' });
    await create.getByLabel('Username').fill('nina');
    await create.getByLabel('Initial password').fill(TEST_ADMIN_PASSWORD);
    assert.equal(await create.getByLabel('examiner', { exact: true }).isChecked(), true, 'examiner by default');
    await create.getByRole('button', { name: 'Create user' }).click();
    await p.getByRole('heading', { name: 'User nina created' }).waitFor();
    const totp = await p.getByRole('textbox', { name: 'TOTP secret (enter it in an authenticator app)' }).inputValue();
    const codes = (await p.getByRole('textbox', { name: 'Recovery codes' }).inputValue()).split(' ');
    assert.match(totp, /^[A-Z2-7]{16,}$/, 'a base32 TOTP secret');
    assert.equal(new Set(codes).size, codes.length);
    assert.ok(codes.length >= 8 && codes.every((c) => /^[A-Za-z0-9]{4}(-[A-Za-z0-9]{4}){3}$/.test(c)), codes.join(' '));
    await shot(p, 'user-created');
    const stored = await t.gw.storage.admin.getUserByName('nina');
    assert.deepEqual([stored?.roles, stored?.disabled], [['examiner'], false]);
    assert.ok(!JSON.stringify(stored).includes(totp) && !codes.some((c) => JSON.stringify(stored).includes(c)), 'neither the secret nor a code is stored in clear');
    admins.nina = { id: stored!.id, totp, codes };

    // The secret shown is the one the account has: nina logs in with it.
    const nina = await as('nina');
    await nina.page.getByText('nina (examiner)').waitFor();
    const nav = nina.page.getByRole('navigation', { name: 'Console sections' });
    assert.equal(await nav.getByRole('link', { name: 'Retention and holds' }).count(), 1);
    assert.equal(await nav.getByRole('link', { name: 'Keys and clients' }).count(), 0);

    // Shown once: after a reload of the list, not on the page any more.
    await go(p, 'Overview');
    await go(p, 'Users and MFA');
    assert.ok(!(await p.locator('main').innerText()).includes(totp));
    assert.equal(await p.getByRole('textbox', { name: 'Recovery codes' }).count(), 0);

    // Roles: examiner -> compliance. Her session ends (the next login carries the new roles).
    const row = p.getByRole('row').filter({ has: p.getByRole('cell', { name: 'nina', exact: true }) });
    await row.getByText('Change roles of nina').click();
    const roles = p.getByRole('group', { name: 'Roles of nina' });
    await roles.getByLabel('examiner', { exact: true }).uncheck();
    await roles.getByLabel('compliance', { exact: true }).check();
    await row.getByRole('button', { name: 'Save roles' }).click();
    await status(p).getByText('Roles of nina changed; their sessions ended.').waitFor();
    await row.getByRole('cell', { name: 'compliance', exact: true }).waitFor();
    assert.deepEqual((await t.gw.storage.admin.getUserByName('nina'))?.roles, ['compliance']);
    await nina.page.getByRole('link', { name: 'Audit explorer' }).click();
    await heading(nina.page, 'Log in to Rampart').waitFor();
    await nina.page.getByText('Your session has ended. Log in again.').waitFor();
    await logIn(nina.page, 'nina');
    await nina.page.getByText('nina (compliance)').waitFor();
    const cookie = await sessionCookie(nina);
    assert.equal((await api('GET', '/admin/api/me', { cookie })).status, 200);

    // Disable: every session of hers ends at once (FC-2).
    await p.getByRole('button', { name: 'Disable nina' }).click();
    await p.getByRole('dialog', { name: 'Disable nina?' }).getByRole('button', { name: 'Disable', exact: true }).click();
    await row.getByRole('cell', { name: 'disabled', exact: true }).waitFor();
    assert.equal(await p.getByRole('button', { name: 'Disable nina' }).count(), 0, 'no actions on a disabled user');
    assert.equal((await t.gw.storage.admin.getUserByName('nina'))?.disabled, true);
    const after = await api('GET', '/admin/api/me', { cookie });
    assert.deepEqual([after.status, after.json.code], [401, 'RAMPART_ADMIN_SESSION_REQUIRED'], 'her next request is refused');
    await nina.page.getByRole('link', { name: 'Audit explorer' }).click();
    await heading(nina.page, 'Log in to Rampart').waitFor();
    assert.equal(await nina.page.getByRole('navigation', { name: 'Console sections' }).isVisible(), false);
    const again = await api('POST', '/admin/api/login', { body: { username: 'nina', password: TEST_ADMIN_PASSWORD, recoveryCode: codes[0] } });
    assert.equal(again.status, 401, 'a disabled user cannot log in again');
    await shot(p, 'user-disabled');

    const acts = (await records('admin.action')).filter((r) => r.detail?.userId === stored!.id);
    assert.deepEqual(acts.map((r) => r.detail?.action).reverse(), ['user.create', 'user.roles', 'user.disable']);
    assert.deepEqual([acts[1]!.detail?.from, acts[1]!.detail?.to], ['examiner', 'compliance']);
    assert.equal(acts[0]!.detail?.sessionsEnded, 1, 'her open session ended with the disable');
  });

  it('My factors: new recovery codes replace the old set; a new authenticator is enrolled from the QR code and its secret', TIMEOUT, async () => {
    const me = await as('max');
    const p = me.page;
    await go(p, 'Users and MFA');
    await p.getByRole('heading', { name: 'My sign-in factors' }).waitFor();
    assert.equal(await p.getByRole('form', { name: 'Create a user' }).count(), 0, 'an examiner manages no users');

    await p.getByRole('button', { name: 'Issue new recovery codes' }).click();
    const fresh = (await p.getByRole('textbox', { name: 'New recovery codes (shown once)' }).inputValue()).split(' ');
    const old = admins.max!.codes;
    assert.ok(fresh.length >= 8 && !fresh.some((c) => old.includes(c)), 'a whole new set');
    assert.equal((await t.gw.storage.admin.getUserByName('max'))?.recoveryCodeHashes.length, fresh.length);

    // Through the login page: an old code is refused, a new one lets the admin in.
    const other = await consolePage(browser);
    open.push(other);
    const viaCode = async (recoveryCode: string): Promise<void> => {
      await other.page.goto(`${t.adminUrl}/admin/`);
      await heading(other.page, 'Log in to Rampart').waitFor();
      await other.page.getByLabel('Username').fill('max');
      await other.page.getByLabel('Password').fill(TEST_ADMIN_PASSWORD);
      await other.page.getByText('Use a recovery code instead').click();
      await other.page.getByLabel('Recovery code').fill(recoveryCode);
      await other.page.getByRole('button', { name: 'Log in', exact: true }).click();
    };
    await viaCode(old[0]!);
    await other.page.getByRole('alert').filter({ hasText: 'Login failed' }).waitFor();
    await viaCode(fresh[0]!);
    await heading(other.page, 'Overview').waitFor();
    await other.page.getByText('max (examiner)').waitFor();
    const renewal = (await records('admin.action')).find((r) => r.detail?.action === 'recovery-codes.renew');
    assert.ok(renewal, 'the renewal is a ledger record');
    assert.ok(!fresh.some((c) => JSON.stringify(renewal).includes(c)), 'without the codes');

    // TOTP re-enrolment: the QR code (an SVG drawn by the server) and the secret as text.
    await p.getByRole('button', { name: 'Set up a new authenticator' }).click();
    const qr = p.getByRole('img', { name: /^QR code of the new authenticator secret/ });
    await qr.waitFor();
    assert.ok((await qr.evaluate((img) => (img as unknown as { decode(): Promise<void>; naturalWidth: number }).decode().then(() => (img as unknown as { naturalWidth: number }).naturalWidth))) > 0, 'the QR image decoded');
    const secret = await p.getByRole('textbox', { name: 'Secret (if you cannot scan)' }).inputValue();
    assert.match(secret, /^[A-Z2-7]{16,}$/);
    assert.notEqual(secret, admins.max!.totp);
    await assertNamedControls(p, 'main');
    await shot(p, 'totp-reenrol');
    await p.getByLabel('Code from the new authenticator').fill(freshCode('max', secret));
    await p.getByRole('form', { name: 'Confirm the new authenticator' }).getByRole('button', { name: 'Confirm' }).click();
    await p.getByText('The new authenticator replaces the old one.').waitFor();
    assert.ok((await records('admin.action')).some((r) => r.detail?.action === 'totp.enrol'));

    // The old authenticator no longer signs in; the new one does (a fresh step: codes work once).
    const byOld = await api('POST', '/admin/api/login', { body: { username: 'max', password: TEST_ADMIN_PASSWORD, totp: freshCode('max') } });
    assert.equal(byOld.status, 401, 'the old authenticator is refused');
    const byNew = await api('POST', '/admin/api/login', { body: { username: 'max', password: TEST_ADMIN_PASSWORD, totp: freshCode('max', secret) } });
    assert.equal(byNew.status, 200, JSON.stringify(byNew.json));
    admins.max!.totp = secret;
  });

  it('Configuration: the author cannot approve; another admin approves after re-authenticating; the author applies it and the live hash changes', TIMEOUT, async () => {
    // The repository: its own folder with the configuration, the document and the public
    // certificate (test/integration/config-apply.test.ts builds it the same way).
    repo = tempDir('rampart-console-repo-');
    const repoFile = join(repo.path, 'rampart.yaml');
    mkdirSync(join(repo.path, 'tls'));
    copyFileSync(join(t.dir, 'tls', 'cert.pem'), join(repo.path, 'tls', 'cert.pem'));
    copyFileSync(FIXTURE_SPEC, join(repo.path, 'api.yaml'));
    const doc = parse(readFileSync(t.configFile, 'utf8')) as Record<string, any>;
    doc.apis[0].openapi = 'api.yaml';
    doc.limits = { ...(doc.limits ?? {}), maxBodyBytes: 777_777 };
    writeFileSync(repoFile, stringify(doc));

    // Submitted through the admin API by sam (a session: password and a one-time recovery code).
    const login = await api('POST', '/admin/api/login', { body: { username: 'sam', password: TEST_ADMIN_PASSWORD, recoveryCode: admins.sam!.codes.shift() } });
    assert.equal(login.status, 200, JSON.stringify(login.json));
    const samApi = { cookie: (login.headers['set-cookie'] as string[])[0]!.split(';')[0]!, csrf: login.json.csrfToken as string };
    const sub = await api('POST', '/admin/api/config/versions', { ...samApi, body: { bundle: await makeBundle(repoFile), message: 'raise the body limit' } });
    assert.equal(sub.status, 201, JSON.stringify(sub.json));
    assert.deepEqual([sub.json.author, sub.json.approvalsRequired, sub.json.missing], ['sam', 1, 1]);
    const hash = sub.json.hash as string;
    const short = hash.replace(/^sha256:/, '').slice(0, 12);
    const before = t.gw.runtime().hash;
    assert.notEqual(before, hash);

    // The author, in the console: apply is refused while the approval is missing, and so is
    // approving his own version (the message of RAMPART_CONFIG_SELF_APPROVAL).
    const author = await as('sam');
    const ap = author.page;
    await go(ap, 'Configuration');
    await ap.getByText(`Drift: the newest submitted version ${short}`).waitFor();
    await ap.getByRole('button', { name: `Open version ${short}` }).click();
    const version = ap.locator('section', { has: ap.getByRole('heading', { name: `Version ${short}` }) });
    await version.getByText('0 of 1 required (1 missing)').waitFor();
    assert.match(await version.locator('pre').innerText(), /maxBodyBytes: 777777$/m, 'the version\'s configuration text');
    await version.getByRole('button', { name: 'Apply to the live gateway' }).click();
    await ap.getByRole('dialog', { name: `Apply version ${short}?` }).getByRole('button', { name: 'Apply', exact: true }).click();
    await alert(ap).getByText(/^Approvals missing: This version needs 1 approval by admins other than its author \(sam\); it has 0\.$/).waitFor();
    await version.getByLabel('Comment').fill('my own change');
    await version.getByRole('button', { name: 'Approve', exact: true }).click();
    const self = ERRORS.RAMPART_CONFIG_SELF_APPROVAL;
    await alert(ap).getByText(`${self.title}: ${self.detail}`, { exact: true }).waitFor();
    await shot(ap, 'config-self-approval');
    assert.deepEqual(await t.gw.storage.configs.approvals(hash), [], 'no approval stored');
    assert.ok((await records('security.event')).some((r) => r.reason === 'RAMPART_CONFIG_SELF_APPROVAL' && r.detail?.hash === hash), 'the attempt is a security event');
    assert.equal(t.gw.runtime().hash, before);

    // Another admin approves; the action needs a fresh second factor: the console asks for it.
    const reviewer = await as('carol');
    const rp = reviewer.page;
    await go(rp, 'Configuration');
    await rp.getByRole('button', { name: `Open version ${short}` }).click();
    const rv = rp.locator('section', { has: rp.getByRole('heading', { name: `Version ${short}` }) });
    assert.equal(await rv.getByRole('button', { name: 'Apply to the live gateway' }).count(), 0, 'compliance approves but does not apply');
    await rv.getByLabel('Comment').fill('checked the body limit');
    passReauthWindow();
    await rv.getByRole('button', { name: 'Approve', exact: true }).click();
    await confirmItIsYou(rp, 'carol');
    await status(rp).getByText('Approved: 1 of 1 approvals.').waitFor();
    await rv.getByText('1 of 1 required').waitFor();
    await shot(rp, 'config-approved');
    const approvals = await t.gw.storage.configs.approvals(hash);
    assert.deepEqual(approvals.map((a) => [a.approver, a.comment]), [['carol', 'checked the body limit']]);
    const acts = await records('admin.action');
    const reauth = acts.find((r) => r.detail?.action === 'reauth');
    assert.ok(reauth, 'the re-authentication is a record');
    assert.equal((await gatewayPrivates(t.gw, [reauth.seq]))[0]!.personal!.principal, 'carol');
    assert.ok(acts.some((r) => r.detail?.action === 'config.approve' && r.detail?.hash === hash && r.detail?.approvals === 1));

    // The author applies it: the gateway runs it, and the page shows the new live version.
    await ap.getByRole('button', { name: `Open version ${short}` }).click();
    await version.getByText('1 of 1 required').waitFor();
    await version.getByRole('button', { name: 'Apply to the live gateway' }).click();
    await ap.getByRole('dialog', { name: `Apply version ${short}?` }).getByRole('button', { name: 'Apply', exact: true }).click();
    await status(ap).getByText(`Version ${short} is live.`, { exact: false }).waitFor();
    assert.equal(t.gw.runtime().hash, hash, 'the live hash changed');
    assert.equal(t.gw.runtime().config.limits.maxBodyBytes, 777_777);
    const live = ap.locator('section', { has: ap.getByRole('heading', { name: 'Live version' }) });
    await live.getByText(hash, { exact: true }).waitFor();
    const liveText = await live.innerText();
    assert.match(liveText, /Applied by\s+sam/);
    assert.match(liveText, /Approvers\s+carol/);
    await ap.getByText('The newest submitted version is live: no drift.').waitFor();
    await heading(ap, 'Configuration').and(ap.locator(':focus')).waitFor();
    const [activation] = await t.gw.storage.configs.activations(1);
    assert.deepEqual([activation?.hash, activation?.by], [hash, 'sam']);
    await shot(ap, 'config-applied');
  });

  it('Retention and holds: compliance sets a hold on a principal and lifts it with a reason; an owner sees the page read-only', TIMEOUT, async () => {
    const held = await t.key(['accounts:read'], { name: 'held-app', subject: 'cus_1' });
    for (const path of ['/accounts', '/accounts/acc_1']) assert.equal((await t.request('GET', path, { headers: { authorization: `Bearer ${held.key}` } })).status, 200);

    const comp = await as('carol');
    const cp = comp.page;
    await go(cp, 'Retention and holds');
    const set = cp.getByRole('form', { name: 'Set a legal hold' });
    await set.getByLabel('Reason').fill('Matter 2025-014 (litigation)');
    await set.getByLabel('Principal (optional)').fill('held-app');
    passReauthWindow();
    await set.getByRole('button', { name: 'Set hold' }).click();
    await confirmItIsYou(cp, 'carol');
    const announced = await status(cp).getByText(/^Hold hold_\S+ set on \d+ items\.$/).innerText();
    const [, id, items] = /^Hold (hold_\S+) set on (\d+) items\.$/.exec(announced)!;
    assert.ok(Number(items) > 0, `the principal's records are held: ${announced}`);
    const row = cp.locator('tr', { hasText: id! });
    await row.getByText('active', { exact: true }).waitFor();
    assert.match(await row.innerText(), /held-app/, 'the hold names its principal');
    assert.match(await row.innerText(), /carol/, 'and who set it');
    const stored = (await t.gw.storage.retention.listHolds()).find((h) => h.id === id);
    assert.deepEqual([stored?.createdBy, stored?.liftedAt], ['carol', undefined]);
    await shot(cp, 'hold-set');

    // The owner: the same list, no way to set or lift (holds are compliance's, API5).
    const owner = await as('olga');
    const op = owner.page;
    await go(op, 'Retention and holds');
    const ownerRow = op.locator('tr', { hasText: id! });
    await ownerRow.getByText('active', { exact: true }).waitFor();
    assert.equal(await op.getByRole('heading', { name: 'Set a legal hold' }).count(), 0);
    assert.equal(await op.getByRole('button', { name: 'Set hold' }).count(), 0);
    assert.equal(await op.getByText(`Lift hold ${id}`).count(), 0);
    assert.equal(await op.locator('main form, main input').count(), 0, 'no form at all');
    const forced = (await op.evaluate(`fetch('/admin/api/holds/${id}/lift', { method: 'POST', headers: { 'content-type': 'application/json', 'x-csrf-token': sessionStorage.getItem('rampart.csrf') }, body: JSON.stringify({ reason: 'forced' }) }).then(async (r) => ({ status: r.status, body: await r.json() }))`)) as { status: number; body: { code: string } };
    assert.deepEqual([forced.status, forced.body.code], [403, 'RAMPART_ADMIN_FORBIDDEN']);
    await shot(op, 'holds-read-only');

    // Lifted with a reason (a fresh second factor again: the window has not passed, no dialog).
    await row.getByText(`Lift hold ${id}`).click();
    await row.getByLabel('Reason for lifting').fill('Matter 2025-014 settled');
    await row.getByRole('button', { name: 'Lift hold', exact: true }).click();
    await cp.getByRole('dialog', { name: `Lift hold ${id}?` }).getByRole('button', { name: 'Lift', exact: true }).click();
    await status(cp).getByText(`Hold ${id} lifted.`).waitFor();
    await cp.locator('tr', { hasText: id! }).getByText(/^lifted /).waitFor();
    await heading(cp, 'Retention and holds').and(cp.locator(':focus')).waitFor();
    const lifted = (await t.gw.storage.retention.listHolds()).find((h) => h.id === id);
    assert.equal(lifted?.liftedBy, 'carol');
    assert.notEqual(lifted?.liftedAt, undefined);
    const rec = (await records('admin.action')).find((r) => r.detail?.action === 'hold.lifted' && r.detail?.holdId === id);
    assert.ok(rec, 'the lifting is a record');
    assert.equal((await gatewayPrivates(t.gw, [rec.seq]))[0]!.personal!.extra!.reason, 'Matter 2025-014 settled', 'with its reason (sealed)');
    await shot(cp, 'hold-lifted');
  });

  it('Keyboard: login, navigation with Tab and Enter, focus on each page heading, every control named, no unnamed image or button', TIMEOUT, async () => {
    const s = await consolePage(browser);
    open.push(s);
    const p = s.page;
    const focused = () => p.evaluate(`(() => { const e = document.activeElement; return e ? { tag: e.tagName, text: (e.textContent || '').trim(), nav: !!e.closest('nav'), label: e.getAttribute('aria-label') } : null; })()`) as Promise<{ tag: string; text: string; nav: boolean; label: string | null } | null>;
    /** Presses Tab until the focus is on `match` (a bounded number of presses, so a trap fails the test). */
    const tabTo = async (what: string, match: (f: NonNullable<Awaited<ReturnType<typeof focused>>>) => boolean): Promise<void> => {
      for (let i = 0; i < 120; i++) {
        await p.keyboard.press('Tab');
        const f = await focused();
        if (f && match(f)) return;
      }
      assert.fail(`Tab never reached ${what}`);
    };

    // Logging in with the keyboard alone: the heading has the focus, Tab walks the fields, Enter submits.
    await p.goto(`${t.adminUrl}/admin/`);
    await heading(p, 'Log in to Rampart').waitFor();
    assert.deepEqual(await focused().then((f) => [f?.tag, f?.text]), ['H1', 'Log in to Rampart']);
    await assertNamedControls(p, 'main');
    await tabTo('the username field', (f) => f.tag === 'INPUT');
    await p.keyboard.type('kim');
    await p.keyboard.press('Tab');
    await p.keyboard.type(TEST_ADMIN_PASSWORD);
    await p.keyboard.press('Tab');
    await p.keyboard.type(freshCode('kim'));
    await p.keyboard.press('Enter');
    await heading(p, 'Overview').waitFor();
    assert.deepEqual(await focused().then((f) => [f?.tag, f?.text]), ['H1', 'Overview'], 'focus on the heading after login');

    const pages = ['Audit explorer', 'Evidence', 'Keys and clients', 'Users and MFA', 'Configuration', 'Retention and holds', 'Overview'];
    let controls = 0;
    for (const name of pages) {
      await tabTo(`the navigation link ${name}`, (f) => f.nav && f.tag === 'A' && f.text === name);
      await p.keyboard.press('Enter');
      await heading(p, name).waitFor();
      // The router focuses the heading once the page has rendered (its data loaded).
      await heading(p, name).and(p.locator(':focus')).waitFor();
      assert.equal(await p.getByRole('navigation', { name: 'Console sections' }).getByRole('link', { name, exact: true }).getAttribute('aria-current'), 'page');
      assert.equal(await alert(p).innerText(), '', `${name}: no error`);
      controls += await assertNamedControls(p, 'main');
      await assertNoUnnamed(p);
    }
    assert.ok(controls >= 20, `the pages' forms were checked (${controls} controls)`);

    // Enter on a focused button opens its dialog, and Escape cancels it (native <dialog>).
    const kbd = await t.key(['accounts:read'], { name: 'kbd-app' });
    await tabTo('the navigation link Keys and clients', (f) => f.nav && f.tag === 'A' && f.text === 'Keys and clients');
    await p.keyboard.press('Enter');
    await heading(p, 'Keys and clients').waitFor();
    await p.locator('tr', { hasText: kbd.id }).waitFor();
    await tabTo('Rotate key kbd-app', (f) => f.tag === 'BUTTON' && f.label === 'Rotate key kbd-app');
    await p.keyboard.press('Enter');
    const dlg = p.getByRole('dialog', { name: 'Rotate key kbd-app?' });
    await dlg.waitFor();
    await p.keyboard.press('Escape');
    await dlg.waitFor({ state: 'detached' });
    assert.equal((await t.gw.storage.keys.get(kbd.id))?.revokedAt, undefined, 'cancelled: nothing rotated');
    assert.equal((await t.gw.storage.keys.list()).filter((k) => k.name === 'kbd-app').length, 1);
    assert.equal(await dataPlane(kbd.key), 200);
    await assertNoUnnamed(p);
    await shot(p, 'keyboard');
    assert.deepEqual(s.watch.errors, [], 'no uncaught error in the page');
    assert.deepEqual(await s.watch.cspViolations(), [], 'no CSP violation');
  });
});
