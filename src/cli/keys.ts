/**
 * `rampart keys create|list|revoke`: scoped API keys. The key is printed once at creation and
 * never stored (only its keyed hash). A running gateway picks up changes within its poll
 * interval, without a restart. With an admin plane configured they go through the admin API as
 * the operator logged in with `rampart admin login` (every change names its actor); direct
 * database access is then only `--break-glass`, which is recorded. Without one they act on the
 * store directly, as the operator running the command (recorded as `createdBy`).
 */
import type { Command } from 'commander';
import { createPublicKey } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { userInfo } from 'node:os';
import { loadSecrets } from '../config/secrets.js';
import { createKey, keyStatus } from '../keys/create.js';
import { publicKeyView } from '../keys/public-view.js';
import { parseDuration } from '../keys/duration.js';
import { CliExit, EXIT } from './exit-codes.js';
import { loadCliConfig, output, withConfigOption, withStorage } from './common.js';
import { adminCall, operatorToken } from './admin-client.js';
import { recordBreakGlass } from './break-glass.js';

export function register(program: Command): void {
  const keys = program.command('keys').description('manage scoped API keys');

  withConfigOption(
    keys
      .command('create')
      .description('create a key; it is printed once')
      .requiredOption('--name <name>', 'what the key is for (shown in lists and audit records)')
      .requiredOption('--scopes <list>', 'comma-separated scopes, e.g. accounts:read,orders:write')
      .option('--subject <id>', 'the customer or tenant the key acts for')
      .option('--expires <duration>', 'lifetime such as 90d, 12h (default: no expiry)')
      .option('--public-key <file>', "the client's public key (JWK JSON or PEM) for OAuth private_key_jwt (RFC 7523)")
      .option('--break-glass', 'with an admin plane configured: write the database directly instead of through the admin API (recorded)')
      .option('--json', 'print JSON'),
  ).action(async (opts: { config: string; name: string; scopes: string; subject?: string; expires?: string; publicKey?: string; breakGlass?: boolean; json?: boolean }) => {
    const { config, file } = await loadCliConfig(opts);
    const scopes = opts.scopes.split(',').map((s) => s.trim()).filter(Boolean);
    if (scopes.length === 0) throw new CliExit(EXIT.USAGE, 'rampart: --scopes needs at least one scope');
    let expiresAt: number | undefined;
    try {
      expiresAt = opts.expires ? Date.now() + parseDuration(opts.expires) : undefined;
    } catch (err) {
      throw new CliExit(EXIT.USAGE, `rampart: ${(err as Error).message}`);
    }
    const publicKeyJwk = opts.publicKey !== undefined ? await readPublicKey(opts.publicKey) : undefined;
    if (config.admin && !opts.breakGlass) {
      // Through the admin API, as the logged-in operator (the record names them).
      const r = await adminCall(config, 'POST', '/admin/api/keys', {
        token: await operatorToken(config),
        body: { name: opts.name, scopes, ...(opts.subject !== undefined ? { subject: opts.subject } : {}), ...(expiresAt !== undefined ? { expiresInSeconds: Math.round((expiresAt - Date.now()) / 1000) } : {}), ...(publicKeyJwk !== undefined ? { publicKeyJwk } : {}) },
      });
      const b = r.body as { key: string; id: string; scopes: string[]; subject?: string; expiresAt?: string };
      output(opts.json, b, () => [`key:     ${b.key}`, `id:      ${b.id}`, `scopes:  ${b.scopes.join(',')}`, ...(b.subject ? [`subject: ${b.subject}`] : []), `expires: ${b.expiresAt ?? 'never'}`, '', 'Store the key now: it is not shown again.'].join('\n'));
      return;
    }
    const secrets = await loadSecrets(config.secretsFile);
    if (config.admin) await recordBreakGlass(config, file, `keys create --name ${opts.name}`);
    const { key, record } = await withStorage(config, (s) =>
      createKey(s.keys, secrets.keyHashSecret, {
        name: opts.name,
        scopes,
        ...(opts.subject !== undefined ? { subject: opts.subject } : {}),
        ...(expiresAt !== undefined ? { expiresAt } : {}),
        ...(publicKeyJwk !== undefined ? { publicKeyJwk } : {}),
        createdBy: `cli:${safeUser()}`,
      }),
    );
    output(opts.json, { key, ...publicKeyView(record) }, () =>
      [`key:     ${key}`, `id:      ${record.id}`, `scopes:  ${record.scopes.join(',')}`, ...(record.subject ? [`subject: ${record.subject}`] : []), `expires: ${record.expiresAt ? new Date(record.expiresAt).toISOString() : 'never'}`, '', 'Store the key now: it is not shown again.'].join('\n'),
    );
  });

  withConfigOption(keys.command('list').description('list keys (never their secrets)').option('--break-glass', 'read the database directly (recorded)').option('--json', 'print JSON')).action(async (opts: { config: string; breakGlass?: boolean; json?: boolean }) => {
    const { config, file } = await loadCliConfig(opts);
    if (config.admin && !opts.breakGlass) {
      const r = await adminCall(config, 'GET', '/admin/api/keys', { token: await operatorToken(config) });
      const listed = (r.body as { keys: Record<string, unknown>[] }).keys;
      output(opts.json, listed, () => (listed.length === 0 ? 'no keys' : table(['ID', 'STATUS', 'NAME', 'SCOPES', 'SUBJECT', 'CREATED', 'EXPIRES', 'LAST USED'], listed.map((k) => [String(k.id), String(k.status), String(k.name), (k.scopes as string[]).join(','), String(k.subject ?? '-'), String(k.createdAt), String(k.expiresAt ?? 'never'), String(k.lastUsedAt ?? 'never')]))));
      return;
    }
    if (config.admin) await recordBreakGlass(config, file, 'keys list');
    const list = await withStorage(config, (s) => s.keys.list());
    output(opts.json, list.map(publicKeyView), () => {
      if (list.length === 0) return 'no keys';
      const rows = list.map((k) => [k.id, keyStatus(k), k.name, k.scopes.join(','), k.subject ?? '-', iso(k.createdAt), k.expiresAt ? iso(k.expiresAt) : 'never', k.lastUsedAt ? iso(k.lastUsedAt) : 'never']);
      return table(['ID', 'STATUS', 'NAME', 'SCOPES', 'SUBJECT', 'CREATED', 'EXPIRES', 'LAST USED'], rows);
    });
  });

  withConfigOption(keys.command('revoke').description('revoke a key; a running gateway refuses it within its poll interval').argument('<id>', 'key id').option('--break-glass', 'write the database directly (recorded)').option('--json', 'print JSON')).action(
    async (id: string, opts: { config: string; breakGlass?: boolean; json?: boolean }) => {
      const { config, file } = await loadCliConfig(opts);
      if (config.admin && !opts.breakGlass) {
        await adminCall(config, 'POST', `/admin/api/keys/${encodeURIComponent(id)}/revoke`, { token: await operatorToken(config) });
        output(opts.json, { id, revoked: true }, () => `revoked ${id}`);
        return;
      }
      if (config.admin) await recordBreakGlass(config, file, `keys revoke ${id}`);
      const ok = await withStorage(config, (s) => s.keys.revoke(id, Date.now()));
      if (!ok) throw new CliExit(EXIT.NOT_FOUND, `rampart: no key with id '${id}'`);
      output(opts.json, { id, revoked: true }, () => `revoked ${id}`);
    },
  );
}

/** A public key file: a JWK (JSON) or a PEM public key, as a JWK object. */
async function readPublicKey(file: string): Promise<object> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch {
    throw new CliExit(EXIT.USAGE, `rampart: cannot read ${file}`);
  }
  try {
    return text.trimStart().startsWith('{') ? (JSON.parse(text) as object) : createPublicKey(text).export({ format: 'jwk' });
  } catch {
    throw new CliExit(EXIT.USAGE, `rampart: ${file} is neither a JWK nor a PEM public key`);
  }
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}

function safeUser(): string {
  try {
    return userInfo().username;
  } catch {
    return 'unknown';
  }
}

export function table(head: string[], rows: string[][]): string {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (r: string[]) => r.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd();
  return [line(head), ...rows.map(line)].join('\n');
}
