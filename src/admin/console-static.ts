/**
 * Serves the web console (issue 7) from the admin listener: the same TLS, sessions, timeouts and
 * roles as the admin API, nothing from a CDN. GET /admin and /admin/ answer index.html;
 * GET /admin/console/<file> answers the compiled app (dist/src/console-ui/**.js), its stylesheet
 * and icon (src/console-ui/static/).
 *
 * - No directory traversal: the files are read once, here, into a fixed allow-list keyed by URL
 *   path (names of letters, digits, dot, dash, underscore; one optional sub-folder); a request
 *   only ever looks a key up in that map, never joins it to a file system path.
 * - A strict Content-Security-Policy on every answer (no inline script or style, no other
 *   origin: the console shows attacker-controlled ledger data to privileged users), plus the
 *   gateway's security headers (HSTS, nosniff, frame denial, no referrer; API8, ENC-3).
 * - index.html is never cached (no-store: it names the session's app); the assets revalidate by
 *   ETag (no-cache), answering 304 when unchanged.
 *
 * @example
 *   ...consoleStaticRoutes({ headers: deps.config.headers }),   // in startAdminServer's routes
 */
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { RampartConfig } from '../config/types.js';
import { applySecurityHeaders } from '../gateway/respond.js';
import { AdminFailure, type Handler, type Route } from './server.js';

/** The console's policy (issue 7). img-src allows data: for the TOTP QR code drawn as SVG. */
export const CONSOLE_CSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

const TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
};

const NAME = /^[A-Za-z0-9_-][A-Za-z0-9._-]{0,63}$/;

interface Asset {
  body: Buffer;
  type: string;
  etag: string;
}

export interface ConsoleStaticOptions {
  /** Security headers of the running configuration (HSTS max-age and the like). */
  headers: RampartConfig['headers'];
  /** The compiled app (default: dist/src/console-ui beside this module's dist/src/admin). */
  appDir?: string;
  /** index.html, styles.css, icon.svg (default: <package>/src/console-ui/static). */
  staticDir?: string;
}

/** Reads the allowed files: *.js of the app (one level of sub-folders), the static files by type. */
export function loadConsoleAssets(appDir: string, staticDir: string): Map<string, Asset> {
  const assets = new Map<string, Asset>();
  const add = (urlPath: string, file: string): void => {
    const type = TYPES[extname(file)];
    if (!type) return;
    const body = readFileSync(file);
    assets.set(urlPath, { body, type, etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 27)}"` });
  };
  const walk = (dir: string, prefix: string, depth: number, only: (n: string) => boolean): void => {
    if (!existsSync(dir)) return;
    for (const name of readdirSync(dir).sort()) {
      if (!NAME.test(name)) continue;
      const full = join(dir, name);
      const st = statSync(full);
      if (st.isDirectory()) {
        if (depth > 0) walk(full, `${prefix}${name}/`, depth - 1, only);
      } else if (st.isFile() && only(name)) add(`${prefix}${name}`, full);
    }
  };
  walk(appDir, '', 1, (n) => n.endsWith('.js'));
  walk(staticDir, '', 0, (n) => ['.html', '.css', '.svg'].includes(extname(n)));
  return assets;
}

export function consoleStaticRoutes(o: ConsoleStaticOptions): Route[] {
  const appDir = o.appDir ?? fileURLToPath(new URL('../console-ui/', import.meta.url));
  const staticDir = o.staticDir ?? fileURLToPath(new URL('../../../src/console-ui/static/', import.meta.url));
  const assets = loadConsoleAssets(appDir, staticDir);

  const send = (req: IncomingMessage, res: ServerResponse, key: string): void => {
    const a = assets.get(key);
    // app.js is the proof that the console was built (npm run build runs tsconfig.console.json).
    if (!a || !assets.has('app.js')) throw new AdminFailure('RAMPART_ADMIN_NOT_FOUND', a ? 'The console is not built (npm run build).' : undefined);
    const isIndex = key === 'index.html';
    applySecurityHeaders(res, o.headers, true, isIndex ? 'no-store' : 'no-cache');
    res.setHeader('content-security-policy', CONSOLE_CSP);
    res.setHeader('cross-origin-opener-policy', 'same-origin');
    res.setHeader('x-content-type-options', 'nosniff');
    res.setHeader('etag', a.etag);
    if (!isIndex && req.headers['if-none-match'] === a.etag) {
      res.writeHead(304);
      res.end();
      return;
    }
    res.setHeader('content-type', a.type);
    res.setHeader('content-length', a.body.length);
    res.writeHead(200);
    res.end(a.body);
  };

  const index: Handler = async (req, res) => send(req, res, 'index.html');
  const asset: Handler = async (req, res, { params }) => send(req, res, params[0]!);
  return [
    { method: 'GET', pattern: /^\/admin\/?$/, handler: index },
    { method: 'GET', pattern: /^\/admin\/console\/?$/, handler: index },
    // Only a key of the allow-list is ever served; the pattern just bounds what is looked up.
    { method: 'GET', pattern: /^\/admin\/console\/([A-Za-z0-9._/-]{1,130})$/, handler: asset },
  ];
}
