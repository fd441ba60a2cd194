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
import { createLedger } from '../ledger/writer.js';
import { newAdminUser } from '../admin/server.js';
import { checkPasswordPolicy } from '../admin/password.js';
import { otpauthUri, terminalQr } from '../admin/totp.js';
import { CliExit, EXIT } from './exit-codes.js';
import { loadCliConfig, output, withConfigOption, withStorage } from './common.js';

export function register(program: Command): void {
  const admin = program.command('admin').description('the admin plane');
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
    if (password === undefined) throw new CliExit(EXIT.USAGE, 'rampart: set RAMPART_ADMIN_PASSWORD or run in a terminal to be asked');
    const policy = checkPasswordPolicy(password, { username });
    if (!policy.ok) throw new CliExit(EXIT.USAGE, `rampart: password refused (${policy.reason}); use a long passphrase (N63-7)`);
    const actor = `cli:${safeUser()}`;
    const created = await withStorage(config, async (s) => {
      if ((await s.admin.listUsers()).length > 0) throw new CliExit(EXIT.FAILED, 'rampart: an admin user exists already; create users through the admin API');
      const c = await newAdminUser({ username, password, roles: ['owner'], createdBy: actor }, secrets.keyHashSecret, Date.now());
      await s.admin.insertUser(c.user);
      const ledger = await createLedger(s.ledger, { node: config.node, maxBatch: 8 });
      try {
        // The same version hash the gateway computes for this configuration (its documents included).
        const docs = await Promise.all(config.apis.map((a) => readFile(a.openapi)));
        const hash = configHash(config, docs, { baseDir: dirname(resolve(file)) });
        await ledger.append({ type: 'admin.action', outcome: 'success', reason: 'RAMPART_OK', stage: 'admin', configHash: hash, detail: { action: 'user.bootstrap', userId: c.user.id, roles: 'owner' }, personal: { principal: actor, extra: { username } } });
      } finally {
        await ledger.close();
      }
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

function safeUser(): string {
  try {
    return userInfo().username;
  } catch {
    return 'unknown';
  }
}

function promptHidden(question: string): Promise<string> {
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
