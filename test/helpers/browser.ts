/**
 * The web console in a real browser (issue 7): Debian's chromium driven by playwright-core (no
 * browser download), and a real gateway with its admin plane over TLS whose admin clock the test
 * moves forward (startGateway's `adminClockForTests`) to reach the idle timeout without waiting
 * for it. Pages record every dialog, uncaught error and CSP violation, so a test can show that
 * hostile values rendered inert.
 */
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { startTestGateway, type TestGateway } from './gateway.js';

export const CHROMIUM = '/usr/bin/chromium';

export interface ConsoleGateway extends TestGateway {
  /** https://127.0.0.1:PORT of the admin listener. */
  adminUrl: string;
  /** Moves the admin plane's clock (sessions, TOTP steps) forward by `ms`. */
  advanceAdminClock(ms: number): void;
  /** The admin plane's time now. */
  adminNow(): number;
}

/**
 * A TLS gateway on the fixture API with an admin plane (startTestGateway), plus an admin clock
 * the test controls.
 */
export async function startConsoleGateway(yaml: Record<string, unknown> = {}): Promise<ConsoleGateway> {
  let offset = 0;
  const adminNow = (): number => Date.now() + offset;
  const t = await startTestGateway({ tls: true, yaml: { admin: { listen: { port: 0 } }, ...yaml }, adminClock: adminNow });
  if (!t.gw.admin) {
    await t.close();
    throw new Error('the admin plane did not start');
  }
  return {
    ...t,
    adminUrl: `https://127.0.0.1:${t.gw.admin.port}`,
    advanceAdminClock(ms) {
      offset += ms;
    },
    adminNow,
  };
}

export function launchChromium(): Promise<Browser> {
  return chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox'] });
}

/** What a page saw that it should not have: dialogs, uncaught errors, CSP violations. */
export interface PageWatch {
  dialogs: string[];
  errors: string[];
  cspViolations(): Promise<string[]>;
}

/** A fresh browser context (its own cookies) at 1366x768 with the watchers installed. */
export async function consolePage(browser: Browser): Promise<{ context: BrowserContext; page: Page; watch: PageWatch }> {
  const context = await browser.newContext({ ignoreHTTPSErrors: true, acceptDownloads: true, viewport: { width: 1366, height: 768 } });
  // Runs before the page's own scripts (injected by the browser, not subject to the page's CSP).
  // The tsconfig has no DOM lib: browser-side code is passed as source text.
  await context.addInitScript({ content: "window.__csp = []; document.addEventListener('securitypolicyviolation', (e) => window.__csp.push(e.violatedDirective + ' ' + e.blockedURI));" });
  const page = await context.newPage();
  const watch: PageWatch = {
    dialogs: [],
    errors: [],
    cspViolations: () => page.evaluate('window.__csp.slice()') as Promise<string[]>,
  };
  page.on('dialog', (d) => {
    watch.dialogs.push(`${d.type()}: ${d.message()}`);
    void d.dismiss();
  });
  page.on('pageerror', (e) => watch.errors.push(e.message));
  return { context, page, watch };
}
