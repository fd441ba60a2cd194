/**
 * The web console end to end (issue 7), in Debian's chromium driven by playwright-core, against a
 * real gateway whose admin plane serves the console over TLS: log in with password and TOTP
 * (N63-1, FC-1); search the audit trail and open a record with its decision trace, chain
 * verification and inclusion proof (R17a4-3, AU-9(3)); hostile values from the ledger render as
 * text and nothing runs (strict CSP, output encoding); export evidence, save the download and
 * verify it with the CLI (R17a4-8, R17a4-10); create and revoke a key; the examiner cannot
 * create keys (API5: no button, and a 403 when forced); the idle timeout logs out (N63-3,
 * ASVS 3.3.2). Assertions are on content; screenshots go to artifacts/console/.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { authenticator } from 'otplib';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { ADMIN_ACTIONS, ADMIN_ROLES, may } from '../../src/admin/roles.js';
import { CONSOLE_CSP } from '../../src/admin/console-static.js';
import { rawRequest } from '../helpers/gateway.js';
import { addTestAdmin, adminRequest, TEST_ADMIN_PASSWORD } from '../helpers/admin.js';
import { consolePage, launchChromium, startConsoleGateway, type ConsoleGateway, type PageWatch } from '../helpers/browser.js';
import { run, show } from '../helpers/cli.js';
import { tempDir } from '../helpers/tmp.js';

const ARTIFACTS = fileURLToPath(new URL('../../../artifacts/console/', import.meta.url));
const TIMEOUT = { timeout: 120_000 };

// Hostile values an attacker controls: a key name (the principal), a header, a path, a query, a body.
const HOSTILE_NAME = '<img src=x onerror="window.__pwned=1;alert(1)">';
const HOSTILE_HEADER = '"><script>window.__pwned=2;alert(2)</script>';
const HOSTILE_PATH_ID = '<svg onload=window.__pwned=3>';
// Markup the data plane's inspection lets through (no script): it reaches the upstream, which echoes
// it, so both captured bodies hold it. Quote-free, so that it reads the same inside JSON.
const HOSTILE_BODY = '</pre><b id=injected>bold</b><a href=#/keys>x</a>';
const HOSTILE_ECHOED = '<img src=x onerror=window.__pwned=4;alert(4)>';

describe('the web console in a real browser', () => {
  let t: ConsoleGateway;
  let browser: Browser;
  let alice: { totp: string };
  let erin: { totp: string };
  let work: ReturnType<typeof tempDir>;
  let ctx: BrowserContext;
  let page: Page;
  let watch: PageWatch;

  const shot = async (p: Page, name: string): Promise<void> => {
    await p.screenshot({ path: join(ARTIFACTS, `${name}.png`), fullPage: true });
  };
  const code = (secret: string): string => authenticator.clone({ epoch: t.adminNow() }).generate(secret);
  const heading = (p: Page, name: string | RegExp) => p.getByRole('heading', { level: 1, name });

  async function logIn(p: Page, username: string, totpSecret: string): Promise<void> {
    await p.goto(`${t.adminUrl}/admin/`);
    await heading(p, 'Log in to Rampart').waitFor();
    await p.getByLabel('Username').fill(username);
    await p.getByLabel('Password').fill(TEST_ADMIN_PASSWORD);
    await p.getByLabel('Authenticator code').fill(code(totpSecret));
    await p.getByRole('button', { name: 'Log in', exact: true }).click();
    await heading(p, 'Overview').waitFor();
  }

  async function assertInert(p: Page, w: PageWatch): Promise<void> {
    assert.equal(await p.evaluate('window.__pwned'), undefined, 'no hostile script ran');
    assert.deepEqual(w.dialogs, [], 'no dialog opened');
    assert.deepEqual(await w.cspViolations(), [], 'the CSP had nothing to block: no markup was injected');
    assert.deepEqual(w.errors, [], 'no uncaught error in the page');
    assert.equal(await p.locator('main script, main img[src="x"], main svg[onload], main [onerror]').count(), 0, 'no element built from ledger data');
  }

  before(async () => {
    mkdirSync(ARTIFACTS, { recursive: true });
    work = tempDir('rampart-console-e2e-');
    t = await startConsoleGateway();
    alice = await addTestAdmin(t, 'alice', ['security', 'compliance']);
    erin = await addTestAdmin(t, 'erin', ['examiner']);
    browser = await launchChromium();

    // Traffic for the explorer: allowed, refused, and refused with hostile values.
    const trader = await t.key(['accounts:read'], { name: 'trader-app', subject: 'cus_1' });
    const evil = await t.key(['accounts:read'], { name: HOSTILE_NAME });
    for (const path of ['/accounts', '/accounts/acc_1']) {
      const r = await t.request('GET', path, { headers: { authorization: `Bearer ${trader.key}` } });
      assert.equal(r.status, 200, `${path}: ${r.body.toString()}`);
    }
    assert.equal((await t.request('GET', '/accounts')).status, 401);
    const hostile = await t.request('GET', `/accounts/${encodeURIComponent(HOSTILE_PATH_ID)}`, { headers: { authorization: `Bearer ${evil.key}`, 'idempotency-key': HOSTILE_HEADER } });
    assert.equal(hostile.status, 400, hostile.body.toString());
    const q = await t.request('GET', `/accounts?status=${encodeURIComponent(HOSTILE_HEADER)}`, { headers: { authorization: `Bearer ${evil.key}` } });
    assert.equal(q.status, 400, q.body.toString());
    const raw = await t.request('GET', '/"><script>window.__pwned=5</script>');
    assert.ok(raw.status === 400 || raw.status === 404, `raw hostile path: ${raw.status}`);
    const refused = await t.request('POST', '/public/echo', { headers: { 'content-type': 'application/json' }, body: JSON.stringify({ note: '<script>window.__pwned=6</script>' }) });
    assert.equal(refused.status, 400, 'refused by inspection (xss), and recorded');
    const echo = await t.request('POST', '/public/echo', { headers: { 'content-type': 'application/json', 'x-note': HOSTILE_ECHOED }, body: JSON.stringify({ note: HOSTILE_BODY }) });
    assert.equal(echo.status, 200, echo.body.toString());

    ({ context: ctx, page, watch } = await consolePage(browser));
  });

  after(async () => {
    await browser?.close();
    await t?.close();
    work?.remove();
  });

  it('serves the console with the strict CSP, exact types, no caching of index.html and no traversal', async () => {
    const agent = false as const;
    const index = await rawRequest(t.adminUrl, 'GET', '/admin/', { agent });
    assert.equal(index.status, 200);
    assert.equal(index.headers['content-security-policy'], CONSOLE_CSP);
    assert.equal(index.headers['content-type'], 'text/html; charset=utf-8');
    assert.equal(index.headers['x-content-type-options'], 'nosniff');
    assert.equal(index.headers['cache-control'], 'no-store');
    assert.match(String(index.headers['strict-transport-security']), /max-age=\d+/);
    const html = index.body.toString('utf8');
    assert.doesNotMatch(html, /<script(?![^>]*\bsrc=)[^>]*>/i, 'no inline script');
    assert.doesNotMatch(html, /<style|style=|https?:\/\//i, 'no inline style, nothing from another origin');
    const app = await rawRequest(t.adminUrl, 'GET', '/admin/console/app.js', { agent });
    assert.equal(app.status, 200);
    assert.equal(app.headers['content-type'], 'text/javascript; charset=utf-8');
    assert.equal(app.headers['content-security-policy'], CONSOLE_CSP);
    assert.doesNotMatch(app.body.toString('utf8'), /innerHTML|insertAdjacentHTML|document\.write|eval\(/);
    const again = await rawRequest(t.adminUrl, 'GET', '/admin/console/app.js', { agent, headers: { 'if-none-match': String(app.headers.etag) } });
    assert.equal(again.status, 304);
    const page2 = await rawRequest(t.adminUrl, 'GET', '/admin/console/pages/audit.js', { agent });
    assert.equal(page2.status, 200);
    assert.equal((await rawRequest(t.adminUrl, 'GET', '/admin/console/styles.css', { agent })).headers['content-type'], 'text/css; charset=utf-8');
    assert.equal((await rawRequest(t.adminUrl, 'GET', '/admin/console/icon.svg', { agent })).headers['content-type'], 'image/svg+xml');
    for (const p of ['/admin/console/../server.js', '/admin/console/%2e%2e/server.js', '/admin/console/..%2fserver.js', '/admin/console/pages/../../admin/server.js', '/admin/console/console-static.js', '/admin/console/app.js.map', '/admin/console/.hidden', '/admin/console/static/index.html', '/admin/console//etc/passwd']) {
      const r = await rawRequest(t.adminUrl, 'GET', p, { agent });
      assert.equal(r.status, 404, `${p} -> ${r.status}`);
    }
  });

  it("the console's permissions are the server's: GET /admin/api/me lists exactly what each role may do (src/admin/roles.ts)", async () => {
    const ui = (await import(pathToFileURL(fileURLToPath(new URL('../../src/console-ui/roles.js', import.meta.url))).href)) as { ROLES: string[] };
    assert.deepEqual([...ui.ROLES], [...ADMIN_ROLES]);
    for (const role of ADMIN_ROLES) {
      const name = `perm-${role}`;
      const u = await addTestAdmin(t, name, [role]);
      const login = await adminRequest(t.gw.admin!.port, 'POST', '/admin/api/login', { body: { username: name, password: TEST_ADMIN_PASSWORD, recoveryCode: u.codes[0] } });
      assert.equal(login.status, 200, JSON.stringify(login.json));
      const cookie = (login.headers['set-cookie'] as string[])[0]!.split(';')[0]!;
      const me = await adminRequest(t.gw.admin!.port, 'GET', '/admin/api/me', { cookie });
      for (const action of ADMIN_ACTIONS) assert.equal((me.json.actions as string[]).includes(action), may([role], action), `${role} ${action}`);
    }
  });

  it('logs in with password and TOTP and shows the overview', TIMEOUT, async () => {
    // A wrong code first: the generic failure, still on the login page.
    await page.goto(`${t.adminUrl}/admin/`);
    await heading(page, 'Log in to Rampart').waitFor();
    await page.getByLabel('Username').fill('alice');
    await page.getByLabel('Password').fill(TEST_ADMIN_PASSWORD);
    await page.getByLabel('Authenticator code').fill('000000');
    await page.getByRole('button', { name: 'Log in', exact: true }).click();
    await page.getByRole('alert').filter({ hasText: 'Login failed' }).waitFor();
    await logIn(page, 'alice', alice.totp);
    await page.getByText('alice (security, compliance)').waitFor();
    await page.getByText('Requests over time', { exact: true }).first().waitFor();
    const nav = await page.getByRole('navigation', { name: 'Console sections' }).innerText();
    for (const item of ['Overview', 'Audit explorer', 'Evidence', 'Keys and clients', 'Users and MFA', 'Configuration', 'Retention and holds']) assert.ok(nav.includes(item), `${item} in ${nav}`);
    const focused = await page.evaluate('document.activeElement && document.activeElement.tagName');
    assert.equal(focused, 'H1', 'focus moved to the page heading');
    // The chart's numbers are in its table (the text alternative).
    await page.getByText('Requests over time: data table').click();
    const tableText = await page.locator('figure').first().locator('table').innerText();
    assert.match(tableText, /Allowed/);
    await shot(page, 'overview');
  });

  it('searches the audit trail by principal and opens a record with its decision trace, chain check and inclusion proof', TIMEOUT, async () => {
    await page.getByRole('link', { name: 'Audit explorer' }).click();
    await heading(page, 'Audit explorer').waitFor();
    await page.getByLabel('Principal').fill('trader-app');
    await page.getByRole('button', { name: 'Search', exact: true }).click();
    const results = page.locator('.results table', { hasText: 'principal: trader-app' });
    await results.waitFor();
    const text = await results.innerText();
    assert.match(text, /trader-app/);
    assert.doesNotMatch(text, /\/public\/echo/, 'only the principal’s records');
    await shot(page, 'audit-search');
    const row = results.locator('tr', { hasText: '/accounts/{accountId}' }).filter({ hasText: 'exchange.decision' }).first();
    const seq = (await row.locator('a').first().innerText()).replace('#', '');
    await row.locator('a').first().click();
    await heading(page, `Record ${seq}`).waitFor();
    const trace = page.locator('section', { has: page.getByRole('heading', { name: 'Decision trace' }) });
    await trace.getByText('Decided by stage').first().waitFor();
    assert.match(await trace.innerText(), /RAMPART_OK/);
    await page.getByRole('heading', { name: 'Personal fields' }).waitFor();
    assert.match(await page.locator('main').innerText(), /cus_1/);
    await page.getByRole('button', { name: 'Verify chain' }).click();
    await page.getByText(/Chain verified: \d+ records intact/).waitFor();
    await page.getByRole('button', { name: 'Inclusion proof' }).click();
    const sign = page.getByRole('button', { name: 'Sign a checkpoint now' });
    const included = page.getByText(/Included: record \d+ is leaf \d+ of the signed tree/);
    await Promise.race([sign.waitFor(), included.waitFor()]);
    if (await sign.isVisible()) await sign.click();
    await included.waitFor();
    assert.match(await page.locator('.proof').innerText(), new RegExp(`record ${seq} is leaf ${Number(seq) - 1} `));
    await shot(page, 'audit-record');
  });

  it('shows hostile values from the ledger as literal text; no script, handler or dialog runs', TIMEOUT, async () => {
    await page.getByRole('link', { name: 'Back to the results' }).click();
    await heading(page, 'Audit explorer').waitFor();
    await page.getByLabel('Principal').fill(HOSTILE_NAME);
    await page.getByRole('button', { name: 'Search', exact: true }).click();
    const results = page.locator('.results table', { hasText: `principal: ${HOSTILE_NAME}` });
    await results.getByText(HOSTILE_NAME, { exact: true }).first().waitFor();
    const row = results.locator('tr', { hasText: '/accounts/{accountId}' }).first();
    await row.locator('a').first().click();
    await heading(page, /^Record \d+$/).waitFor();
    await page.getByRole('heading', { name: 'Personal fields' }).waitFor();
    const shown = await page.locator('main').innerText();
    assert.ok(shown.includes(HOSTILE_HEADER), 'the idempotency key, literally');
    assert.ok(shown.includes(HOSTILE_NAME), 'the key name, literally');
    assert.ok(shown.includes(HOSTILE_PATH_ID), 'the path parameter, literally');
    await assertInert(page, watch);
    await shot(page, 'hostile-record');

    // The captured request body, as stored (the role may see bodies).
    await page.getByRole('link', { name: 'Back to the results' }).click();
    await page.getByLabel('Principal').fill('');
    await page.getByLabel('Operation').fill('echo');
    await page.getByRole('button', { name: 'Search', exact: true }).click();
    const echo = page.locator('.results table', { hasText: 'operation: echo' }).locator('tr', { hasText: 'exchange.completion' }).first();
    await echo.waitFor();
    await echo.locator('a').first().click();
    await page.getByRole('heading', { name: 'Bodies' }).waitFor();
    const bodies = await page.locator('section', { has: page.getByRole('heading', { name: 'Bodies' }) }).innerText();
    assert.ok(bodies.includes(HOSTILE_BODY), 'the request body, literally');
    assert.ok(bodies.includes(HOSTILE_ECHOED), 'the response body (the upstream echoed the header), literally');
    assert.equal(await page.locator('#injected, main a[href="#/keys"]').count(), 0, 'no element built from a body');
    await assertInert(page, watch);
  });

  it('exports evidence with progress, saves the download, and `rampart evidence verify` passes', TIMEOUT, async () => {
    await page.getByRole('link', { name: 'Evidence' }).click();
    await heading(page, 'Evidence').waitFor();
    const command = await page.locator('pre.command').innerText();
    const key = /--public-key '([^']+)'/.exec(command)?.[1];
    assert.ok(key, command);
    const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: 'Build and download' }).click()]);
    const file = join(work.path, download.suggestedFilename());
    assert.match(download.suggestedFilename(), /^rampart-evidence-.*\.tar\.gz$/);
    await download.saveAs(file);
    await page.getByText(/Package ready: \d+ records/).waitFor();
    assert.ok(statSync(file).size > 0);
    assert.deepEqual([...readFileSync(file).subarray(0, 2)], [0x1f, 0x8b], 'a gzip file');
    const args = ['evidence', 'verify', file, '--public-key', key];
    const r = await run(work.path, args);
    assert.equal(r.code, 0, show(args, r));
    // The past exports list names it.
    await page.locator('table', { hasText: 'Past exports' }).getByText('alice').first().waitFor();
    await shot(page, 'evidence');
  });

  it('creates a key (secret shown once, and it works), then revokes it (and it stops working)', TIMEOUT, async () => {
    await page.getByRole('link', { name: 'Keys and clients' }).click();
    await heading(page, 'Keys and clients').waitFor();
    await page.getByLabel('Name').fill('console-e2e');
    await page.getByLabel('Scopes').fill('accounts:read');
    await page.getByRole('button', { name: 'Create key' }).click();
    const secret = await page.getByRole('textbox', { name: 'Key secret' }).inputValue();
    assert.ok(secret.length >= 20, secret);
    assert.equal((await t.request('GET', '/accounts', { headers: { authorization: `Bearer ${secret}` } })).status, 200);
    const row = page.locator('tr', { hasText: 'console-e2e' });
    await row.getByText('active').waitFor();
    await shot(page, 'key-created');
    await page.getByRole('button', { name: 'Revoke key console-e2e' }).click();
    const dialog = page.getByRole('dialog', { name: 'Revoke key console-e2e?' });
    await dialog.getByRole('button', { name: 'Revoke' }).click();
    await row.getByText('revoked').waitFor();
    assert.equal((await t.request('GET', '/accounts', { headers: { authorization: `Bearer ${secret}` } })).status, 401);
    assert.equal(await page.getByRole('button', { name: 'Revoke key console-e2e' }).count(), 0);
  });

  it('renders every page for this admin without an error', TIMEOUT, async () => {
    for (const [link, h1, text] of [['Users and MFA', 'Users and MFA', 'My sign-in factors'], ['Configuration', 'Configuration', 'Live version'], ['Retention and holds', 'Retention and holds', 'Retention policy'], ['Overview', 'Overview', 'Ledger health']] as const) {
      await page.getByRole('link', { name: link }).click();
      await heading(page, h1).waitFor();
      await page.getByRole('heading', { name: text }).waitFor();
      assert.equal(await page.locator('#alert').innerText(), '', `${link}: no error shown`);
      await shot(page, link.toLowerCase().replace(/\W+/g, '-'));
    }
    // My MFA: a new authenticator's QR code, drawn by the server as SVG, shown as an image.
    await page.getByRole('link', { name: 'Users and MFA' }).click();
    await page.getByRole('button', { name: 'Set up a new authenticator' }).click();
    const qr = page.getByRole('img', { name: /^QR code of the new authenticator secret/ });
    await qr.waitFor();
    assert.ok((await qr.evaluate((img) => (img as unknown as { decode(): Promise<void>; naturalWidth: number }).decode().then(() => (img as unknown as { naturalWidth: number }).naturalWidth))) > 0, 'the QR image decoded');
    assert.match(await qr.getAttribute('src') ?? '', /^data:image\/svg\+xml;base64,/);
    assert.ok((await page.getByRole('textbox', { name: 'Secret (if you cannot scan)' }).inputValue()).length >= 16);
    await shot(page, 'totp-enrolment');
    await assertInert(page, watch);
  });

  it('the examiner sees no key controls, and a forced create is refused with 403', TIMEOUT, async () => {
    const ex = await consolePage(browser);
    try {
      await logIn(ex.page, 'erin', erin.totp);
      const nav = await ex.page.getByRole('navigation', { name: 'Console sections' }).innerText();
      assert.ok(!nav.includes('Keys and clients'), nav);
      await ex.page.goto(`${t.adminUrl}/admin/#/keys`);
      await heading(ex.page, 'Overview').waitFor();
      assert.equal(await ex.page.getByRole('button', { name: 'Create key' }).count(), 0);
      const forced = (await ex.page.evaluate(`fetch('/admin/api/keys', { method: 'POST', headers: { 'content-type': 'application/json', 'x-csrf-token': sessionStorage.getItem('rampart.csrf') }, body: JSON.stringify({ name: 'forced', scopes: ['accounts:read'] }) }).then(async (r) => ({ status: r.status, body: await r.json() }))`)) as { status: number; body: { code: string } };
      assert.equal(forced.status, 403);
      assert.equal(forced.body.code, 'RAMPART_ADMIN_FORBIDDEN');
      assert.ok(!(await t.gw.storage.keys.list()).some((k) => k.name === 'forced'));
      await shot(ex.page, 'examiner');
    } finally {
      await ex.context.close();
    }
  });

  it('the idle timeout logs out: the next action returns to the login page with a message', TIMEOUT, async () => {
    await page.getByRole('link', { name: 'Keys and clients' }).click();
    await heading(page, 'Keys and clients').waitFor();
    // The page's own GET has answered (the table is there) before the clock moves.
    await page.locator('tr', { hasText: 'console-e2e' }).waitFor();
    t.advanceAdminClock((t.config.admin!.sessions.idleMinutes + 1) * 60_000);
    await page.getByRole('link', { name: 'Overview' }).click();
    await heading(page, 'Log in to Rampart').waitFor();
    await page.getByText('Your session timed out. Log in again.').waitFor();
    assert.equal(await page.getByRole('navigation', { name: 'Console sections' }).isVisible(), false);
    assert.doesNotMatch(await page.locator('main').innerText(), /console-e2e|trader-app/, 'no ledger data left on screen');
    await shot(page, 'timed-out');
    await ctx.close();
  });
});
