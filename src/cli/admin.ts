/**
 * `rampart admin bootstrap`: the first-run path to the admin plane (issue 3). It creates the
 * first owner directly in the store, since no admin exists yet to do it through the admin API,
 * and prints the TOTP enrolment (a QR code for the terminal and the otpauth URI) and the one-time
 * recovery codes. It refuses once any admin user exists: every later user is created through the
 * admin API by an authenticated admin, so every change names its actor.
 *
 * The password comes from RAMPART_ADMIN_PASSWORD or, in a terminal, from a prompt that does not
 * echo. The bootstrap is a ledger record (R17a4-3). Run it before `rampart start`, or with the
 * gateway stopped: it appends to the chain, and a chain has one writer at a time (if a gateway is
 * running, the store's continuity check refuses one of the two appends rather than fork).
 */
import type { Command } from 'commander';
import { readFile } from 'node:fs/promises';
import { userInfo } from 'node:os';
import { dirname, resolve } from 'node:path';
import { loadSecrets } from '../config/secrets.js';
import { configHash } from '../config/hash.js';
import { withCliLedger } from './ledger-append.js';
import { newAdminUser } from '../admin/server.js';
import { checkPasswordPolicy } from '../admin/password.js';
import { otpauthUri, terminalQr } from '../admin/totp.js';
import { CliExit, EXIT } from './exit-codes.js';
import { adminCall, asPerson, operatorToken, promptHidden, saveToken } from './admin-client.js';
import { loadCliConfig, output, withConfigOption, withStorage } from './common.js';

export function register(program: Command): void {
  const admin = program.command('admin').description('the admin plane');
  registerLogin(admin);
  withConfigOption(
    admin
      .command('bootstrap')
      .description('create the first owner (password + TOTP); refused once an admin exists')
      .requiredOption('--username <name>', 'the owner\'s username')
      .option('--json', 'print JSON (no QR code)'),
  ).action(async (opts: { config: string; username: string; json?: boolean }) => {
    const { config, file } = await loadCliConfig(opts);
    const secrets = await loadSecrets(config.secretsFile);
    const username = opts.username.toLowerCase();
    if (!/^[a-z0-9][a-z0-9._-]{2,63}$/.test(username)) throw new CliExit(EXIT.USAGE, 'rampart: --username: 3-64 characters, letters, digits, . _ -');
    const password = process.env.RAMPART_ADMIN_PASSWORD ?? (process.stdin.isTTY ? await promptHidden('password for the owner: ') : undefined);
    // eslint-disable-next-line security/detect-possible-timing-attacks -- a presence check against undefined, not a comparison of the password's value
    if (password === undefined) throw new CliExit(EXIT.USAGE, 'rampart: set RAMPART_ADMIN_PASSWORD or run in a terminal to be asked');
    const policy = checkPasswordPolicy(password, { username });
    if (!policy.ok) throw new CliExit(EXIT.USAGE, `rampart: password refused (${policy.reason}); use a long passphrase (N63-7)`);
    const actor = `cli:${safeUser()}`;
    const created = await withStorage(config, async (s) => {
      if ((await s.admin.listUsers()).length > 0) throw new CliExit(EXIT.FAILED, 'rampart: an admin user exists already; create users through the admin API');
      const c = await newAdminUser({ username, password, roles: ['owner'], createdBy: actor }, secrets.keyHashSecret, Date.now());
      await s.admin.insertUser(c.user);
      await withCliLedger(config, s, async (ledger) => {
        // The same version hash the gateway computes for this configuration (its documents included).
        const docs = await Promise.all(config.apis.map((a) => readFile(a.openapi)));
        const hash = configHash(config, docs, { baseDir: dirname(resolve(file)) });
        await ledger.append({ type: 'admin.action', outcome: 'success', reason: 'RAMPART_OK', stage: 'admin', configHash: hash, detail: { action: 'user.bootstrap', userId: c.user.id, roles: 'owner' }, personal: { principal: actor, extra: { username } } });
      });
      return c;
    });
    const uri = otpauthUri(created.totpSecret, { account: username, issuer: 'Rampart' });
    if (opts.json) {
      output(true, { user: { id: created.user.id, username, roles: created.user.roles }, totp: { secret: created.totpSecret, uri }, recoveryCodes: created.recoveryCodes }, () => '');
      return;
    }
    const qr = await terminalQr(uri);
    process.stdout.write(
      [
        `owner '${username}' created (${created.user.id}).`,
        '',
        'Scan this with an authenticator app (TOTP, 30 s, 6 digits), or enter the URI by hand:',
        qr,
        uri,
        '',
        'One-time recovery codes (each works once; keep them offline):',
        ...created.recoveryCodes.map((c) => `  ${c}`),
        '',
        `Log in at the admin listener (${config.admin ? `https://${config.admin.listen.host}:${config.admin.listen.port}` : 'configure `admin` in rampart.yaml'}) with POST /admin/api/login.`,
        '',
      ].join('\n'),
    );
  });
}

export function registerLogin(admin: Command): void {
  withConfigOption(
    admin
      .command('login')
      .description('log in to the admin API (password + TOTP) and keep a short-lived admin token for the CLI')
      .requiredOption('--username <name>', 'your admin username')
      .option('--minutes <n>', 'token lifetime, at most 60', (v) => Number(v), 60)
      .option('--actions <list>', 'what the token may do (comma-separated), or * for everything your roles allow', '*')
      .option('--json', 'print JSON'),
  ).action(async (opts: { config: string; username: string; minutes: number; actions: string; json?: boolean }) => {
    const { config } = await loadCliConfig(opts);
    if (!config.admin) throw new CliExit(EXIT.USAGE, 'rampart: no admin plane in this configuration (add `admin:` to rampart.yaml)');
    const password = process.env.RAMPART_ADMIN_PASSWORD ?? (process.stdin.isTTY ? await promptHidden('password: ') : undefined);
    const totp = process.env.RAMPART_ADMIN_TOTP ?? (process.stdin.isTTY ? await promptHidden('code from your authenticator app: ') : undefined);
    if (password === undefined || totp === undefined) throw new CliExit(EXIT.USAGE, 'rampart: set RAMPART_ADMIN_PASSWORD and RAMPART_ADMIN_TOTP, or run in a terminal to be asked');
    const login = await adminCall(config, 'POST', '/admin/api/login', { body: { username: opts.username, password, totp } });
    const setCookie = login.headers['set-cookie'];
    const cookie = (Array.isArray(setCookie) ? setCookie[0] : setCookie)?.split(';')[0];
    const csrf = (login.body as { csrfToken: string }).csrfToken;
    try {
      const minted = await adminCall(config, 'POST', '/admin/api/tokens', { ...(cookie ? { cookie } : {}), csrf, body: { actions: opts.actions.split(',').map((a) => a.trim()).filter(Boolean), minutes: opts.minutes } });
      const t = minted.body as { token: string; actions: string[]; expiresAt: string };
      const file = await saveToken(config, t.token, t.expiresAt);
      output(opts.json, { tokenFile: file, actions: t.actions, expiresAt: t.expiresAt }, () => `logged in as ${opts.username}; admin token (${t.actions.join(', ')}) until ${t.expiresAt}, kept in ${file}`);
    } finally {
      // The session was only the way to the token; end it.
      await adminCall(config, 'POST', '/admin/api/logout', { ...(cookie ? { cookie } : {}), csrf }).catch(() => {});
    }
  });
}


export function registerUsers(program: Command): void {
  const users = program.command('users').description('admin users, through the admin API');
  const needAdmin = (config: Awaited<ReturnType<typeof loadCliConfig>>['config']) => {
    if (!config.admin) throw new CliExit(EXIT.USAGE, 'rampart: no admin plane in this configuration (add `admin:` to rampart.yaml)');
  };

  withConfigOption(users.command('list').description('list admin users').option('--json', 'print JSON')).action(async (opts: { config: string; json?: boolean }) => {
    const { config } = await loadCliConfig(opts);
    needAdmin(config);
    const r = await adminCall(config, 'GET', '/admin/api/users', { token: await operatorToken(config) });
    const list = (r.body as { users: { id: string; username: string; roles: string[]; disabled: boolean }[] }).users;
    output(opts.json, list, () => list.map((u) => `${u.id}  ${u.username}  ${u.roles.join(',')}${u.disabled ? '  disabled' : ''}`).join('\n'));
  });

  withConfigOption(
    users
      .command('create')
      .description("create an admin (you log in for it); prints the new admin's TOTP enrolment and recovery codes once")
      .requiredOption('--as <username>', 'your admin username')
      .requiredOption('--username <name>', 'the new admin')
      .requiredOption('--roles <list>', 'owner, admin, security, compliance, examiner')
      .option('--json', 'print JSON'),
  ).action(async (opts: { config: string; as: string; username: string; roles: string; json?: boolean }) => {
    const { config } = await loadCliConfig(opts);
    needAdmin(config);
    const password = process.env.RAMPART_NEW_ADMIN_PASSWORD ?? (process.stdin.isTTY ? await promptHidden(`initial password for ${opts.username}: `) : undefined);
    // eslint-disable-next-line security/detect-possible-timing-attacks -- a presence check against undefined, not a comparison of the password's value
    if (password === undefined) throw new CliExit(EXIT.USAGE, 'rampart: set RAMPART_NEW_ADMIN_PASSWORD or run in a terminal to be asked');
    const made = await asPerson(config, opts.as, (s) => adminCall(config, 'POST', '/admin/api/users', { ...s, body: { username: opts.username, password, roles: opts.roles.split(',').map((r) => r.trim()).filter(Boolean) } }));
    const b = made.body as { user: { id: string; username: string; roles: string[] }; totp: { uri: string }; recoveryCodes: string[] };
    if (opts.json) {
      output(true, b, () => '');
      return;
    }
    process.stdout.write([`admin '${b.user.username}' created (${b.user.id}), roles ${b.user.roles.join(',')}.`, 'Hand these to them, once:', await terminalQr(b.totp.uri), b.totp.uri, '', ...b.recoveryCodes.map((c) => `  ${c}`), ''].join('\n'));
  });

  withConfigOption(
    users.command('roles').description("change an admin's roles (their sessions end)").argument('<id>', 'admin id').requiredOption('--as <username>', 'your admin username').requiredOption('--roles <list>', 'the new roles').option('--json', 'print JSON'),
  ).action(async (id: string, opts: { config: string; as: string; roles: string; json?: boolean }) => {
    const { config } = await loadCliConfig(opts);
    needAdmin(config);
    const r = await asPerson(config, opts.as, (s) => adminCall(config, 'POST', `/admin/api/users/${encodeURIComponent(id)}/roles`, { ...s, body: { roles: opts.roles.split(',').map((x) => x.trim()).filter(Boolean) } }));
    output(opts.json, r.body, () => `roles of ${id}: ${opts.roles}`);
  });

  withConfigOption(
    users.command('disable').description('disable an admin: every session and token ends at once').argument('<id>', 'admin id').requiredOption('--as <username>', 'your admin username').option('--json', 'print JSON'),
  ).action(async (id: string, opts: { config: string; as: string; json?: boolean }) => {
    const { config } = await loadCliConfig(opts);
    needAdmin(config);
    const r = await asPerson(config, opts.as, (s) => adminCall(config, 'POST', `/admin/api/users/${encodeURIComponent(id)}/disable`, s));
    output(opts.json, r.body, () => `disabled ${id}`);
  });
}

function safeUser(): string {
  try {
    return userInfo().username;
  } catch {
    return 'unknown';
  }
}

