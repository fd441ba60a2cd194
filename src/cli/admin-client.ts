/**
 * The CLI's way to the admin API (issue 3: "the CLI's management commands act through the admin
 * API with the operator's own credentials, so every change names its actor"). `rampart admin
 * login` proves both factors and keeps a short-lived admin token in the operator's own file
 * (RAMPART_ADMIN_TOKEN_FILE, default ~/.rampart/admin-token.json, mode 0600); `keys` commands
 * then call the admin API with it. RAMPART_ADMIN_TOKEN overrides the file (automation).
 *
 * The admin listener's certificate is trusted as configured (admin.tls.cert, which for the
 * development certificate is its own authority) on top of the system's roots.
 */
import { mkdir, open, readFile } from 'node:fs/promises';
import { replacePrivateFile } from '../core/private-file.js';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { rootCertificates } from 'node:tls';
import { Agent, request } from 'undici';
import type { RampartConfig } from '../config/types.js';
import { CliExit, EXIT } from './exit-codes.js';

export function tokenFile(): string {
  return process.env.RAMPART_ADMIN_TOKEN_FILE ?? join(homedir(), '.rampart', 'admin-token.json');
}

export function adminBase(config: RampartConfig): string {
  const a = config.admin!;
  const host = a.listen.host === '0.0.0.0' || a.listen.host === '::' ? '127.0.0.1' : a.listen.host;
  return `https://${host.includes(':') ? `[${host}]` : host}:${a.listen.port}`;
}

async function agentFor(config: RampartConfig): Promise<Agent> {
  const own = await readFile(config.admin!.tls.cert, 'utf8');
  return new Agent({ connect: { ca: [...rootCertificates, own] } });
}

export interface AdminCallResult {
  status: number;
  body: unknown;
  headers: Record<string, string | string[] | undefined>;
}

/** One call to the admin API; a problem+json answer becomes a CliExit with its title and detail. */
export async function adminCall(config: RampartConfig, method: 'GET' | 'POST', path: string, o: { token?: string; cookie?: string; csrf?: string; body?: unknown } = {}): Promise<AdminCallResult> {
  const dispatcher = await agentFor(config);
  try {
    const r = await request(`${adminBase(config)}${path}`, {
      method,
      dispatcher,
      headers: {
        ...(o.body !== undefined ? { 'content-type': 'application/json' } : {}),
        ...(o.token ? { authorization: `Bearer ${o.token}` } : {}),
        ...(o.cookie ? { cookie: o.cookie } : {}),
        ...(o.csrf ? { 'x-csrf-token': o.csrf } : {}),
      },
      ...(o.body !== undefined ? { body: JSON.stringify(o.body) } : {}),
    });
    const text = await r.body.text();
    const body: unknown = text ? JSON.parse(text) : undefined;
    if (r.statusCode >= 400) {
      const p = body as { title?: string; detail?: string; code?: string } | undefined;
      const code = r.statusCode === 404 ? EXIT.NOT_FOUND : r.statusCode === 401 || r.statusCode === 403 ? EXIT.FAILED : r.statusCode >= 500 ? EXIT.UNAVAILABLE : EXIT.USAGE;
      throw new CliExit(code, `rampart: the admin API refused: ${p?.title ?? r.statusCode}${p?.detail ? `: ${p.detail}` : ''}${p?.code ? ` (${p.code})` : ''}`);
    }
    return { status: r.statusCode, body, headers: r.headers };
  } catch (err) {
    if (err instanceof CliExit) throw err;
    throw new CliExit(EXIT.UNAVAILABLE, `rampart: the admin API at ${adminBase(config)} cannot be reached: ${(err as Error).message}`);
  } finally {
    await dispatcher.close();
  }
}

/** The operator's admin token: RAMPART_ADMIN_TOKEN, else the token file; refuses an expired one. */
export async function operatorToken(config: RampartConfig): Promise<string> {
  if (process.env.RAMPART_ADMIN_TOKEN) return process.env.RAMPART_ADMIN_TOKEN;
  let saved: { url?: string; token?: string; expiresAt?: string };
  try {
    saved = JSON.parse(await readFile(tokenFile(), 'utf8')) as typeof saved;
  } catch {
    throw new CliExit(EXIT.USAGE, `rampart: the admin plane is configured, so this goes through the admin API: log in first with \`rampart admin login --username NAME\` (or use --break-glass for direct database access, which is recorded)`);
  }
  if (!saved.token || !saved.expiresAt || Date.parse(saved.expiresAt) <= Date.now()) throw new CliExit(EXIT.USAGE, 'rampart: the admin token has expired: `rampart admin login` again');
  if (saved.url !== adminBase(config)) throw new CliExit(EXIT.USAGE, `rampart: the saved admin token is for ${saved.url}, not ${adminBase(config)}: \`rampart admin login\` again`);
  return saved.token;
}

export async function saveToken(config: RampartConfig, token: string, expiresAt: string): Promise<string> {
  const file = tokenFile();
  await mkdir(dirname(file), { recursive: true, mode: 0o700 });
  await replacePrivateFile(file, JSON.stringify({ url: adminBase(config), token, expiresAt }), 'admin token file');
  return file;
}

/**
 * A call whose answer is a file (an evidence package): streamed to `outFile` (0600, created, never
 * replaced); a problem+json answer becomes a CliExit as in adminCall.
 */
export async function adminDownload(config: RampartConfig, path: string, o: { token: string; body: unknown }, outFile: string): Promise<{ bytes: number; headers: Record<string, string | string[] | undefined> }> {
  const dispatcher = await agentFor(config);
  try {
    const r = await request(`${adminBase(config)}${path}`, {
      method: 'POST',
      dispatcher,
      headers: { 'content-type': 'application/json', authorization: `Bearer ${o.token}` },
      body: JSON.stringify(o.body),
      headersTimeout: 600_000,
      bodyTimeout: 600_000,
    });
    if (r.statusCode >= 400) {
      const text = await r.body.text();
      let p: { title?: string; detail?: string; code?: string } | undefined;
      try {
        p = JSON.parse(text) as typeof p;
      } catch {
        p = undefined;
      }
      throw new CliExit(r.statusCode >= 500 ? EXIT.UNAVAILABLE : EXIT.FAILED, `rampart: the admin API refused: ${p?.title ?? r.statusCode}${p?.detail ? `: ${p.detail}` : ''}${p?.code ? ` (${p.code})` : ''}`);
    }
    const fh = await open(outFile, 'wx', 0o600).catch((err: NodeJS.ErrnoException) => {
      throw new CliExit(EXIT.USAGE, `rampart: cannot create ${outFile} (${err.code ?? err.message}); it must not exist yet`);
    });
    let bytes = 0;
    try {
      for await (const chunk of r.body) {
        const b = chunk as Buffer;
        await fh.write(b);
        bytes += b.length;
      }
      await fh.sync();
    } finally {
      await fh.close();
    }
    return { bytes, headers: r.headers };
  } catch (err) {
    if (err instanceof CliExit) throw err;
    throw new CliExit(EXIT.UNAVAILABLE, `rampart: the admin API at ${adminBase(config)} cannot be reached: ${(err as Error).message}`);
  } finally {
    await dispatcher.close();
  }
}

/**
 * A person's session for one command: user changes and approvals are never allowed to admin
 * tokens, so `rampart users create|roles|disable` and `rampart approve` log the person in (password and a TOTP or recovery
 * code, from RAMPART_ADMIN_PASSWORD / RAMPART_ADMIN_TOTP / RAMPART_ADMIN_RECOVERY_CODE or
 * prompts), act, and log out. The fresh login is also the re-authentication such routes ask for
 * (AU-10, FC-1).
 */
export async function asPerson<T>(config: RampartConfig, username: string, fn: (s: { cookie?: string; csrf: string }) => Promise<T>): Promise<T> {
  const password = process.env.RAMPART_ADMIN_PASSWORD ?? (process.stdin.isTTY ? await promptHidden(`password for ${username}: `) : undefined);
  const recoveryCode = process.env.RAMPART_ADMIN_RECOVERY_CODE;
  const totp = recoveryCode ? undefined : (process.env.RAMPART_ADMIN_TOTP ?? (process.stdin.isTTY ? await promptHidden('code from your authenticator app: ') : undefined));
  if (password === undefined || (totp === undefined && recoveryCode === undefined)) throw new CliExit(EXIT.USAGE, 'rampart: set RAMPART_ADMIN_PASSWORD and RAMPART_ADMIN_TOTP (or RAMPART_ADMIN_RECOVERY_CODE), or run in a terminal to be asked');
  const login = await adminCall(config, 'POST', '/admin/api/login', { body: { username, password, ...(recoveryCode ? { recoveryCode } : { totp }) } });
  const setCookie = login.headers['set-cookie'];
  const cookie = (Array.isArray(setCookie) ? setCookie[0] : setCookie)?.split(';')[0];
  const session = { ...(cookie ? { cookie } : {}), csrf: (login.body as { csrfToken: string }).csrfToken };
  try {
    return await fn(session);
  } finally {
    await adminCall(config, 'POST', '/admin/api/logout', session).catch(() => {});
  }
}

/** Reads a line from the terminal without echoing it (passwords, codes); Ctrl-C exits 130. */
export function promptHidden(question: string): Promise<string> {
  return new Promise((resolve) => {
    const stdin = process.stdin;
    process.stdout.write(question);
    stdin.setRawMode?.(true);
    stdin.resume();
    let value = '';
    const onData = (d: Buffer) => {
      for (const ch of d.toString('utf8')) {
        if (ch === '\r' || ch === '\n') {
          stdin.off('data', onData);
          stdin.setRawMode?.(false);
          stdin.pause();
          process.stdout.write('\n');
          resolve(value);
          return;
        }
        if (ch === '\u0003') process.exit(130);
        if (ch === '\u007f') value = value.slice(0, -1);
        else value += ch;
      }
    };
    stdin.on('data', onData);
  });
}
