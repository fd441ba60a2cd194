/**
 * `rampart keys create|list|revoke`: scoped API keys. The key is printed once at creation and
 * never stored (only its keyed hash). A running gateway picks up changes within its poll
 * interval, without a restart. Until the admin plane exists these act on the store directly,
 * as the operator running the command (recorded as `createdBy`).
 */
import type { Command } from 'commander';
import { userInfo } from 'node:os';
import { loadSecrets } from '../config/secrets.js';
import { createKey, keyStatus } from '../keys/create.js';
import { parseDuration } from '../keys/duration.js';
import type { ApiKeyRecord } from '../storage/types.js';
import { CliExit, EXIT } from './exit-codes.js';
import { loadCliConfig, output, withConfigOption, withStorage } from './common.js';

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
      .option('--json', 'print JSON'),
  ).action(async (opts: { config: string; name: string; scopes: string; subject?: string; expires?: string; json?: boolean }) => {
    const { config } = await loadCliConfig(opts);
    const secrets = await loadSecrets(config.secretsFile);
    const scopes = opts.scopes.split(',').map((s) => s.trim()).filter(Boolean);
    if (scopes.length === 0) throw new CliExit(EXIT.USAGE, 'rampart: --scopes needs at least one scope');
    let expiresAt: number | undefined;
    try {
      expiresAt = opts.expires ? Date.now() + parseDuration(opts.expires) : undefined;
    } catch (err) {
      throw new CliExit(EXIT.USAGE, `rampart: ${(err as Error).message}`);
    }
    const { key, record } = await withStorage(config, (s) =>
      createKey(s.keys, secrets.keyHashSecret, {
        name: opts.name,
        scopes,
        ...(opts.subject !== undefined ? { subject: opts.subject } : {}),
        ...(expiresAt !== undefined ? { expiresAt } : {}),
        createdBy: `cli:${safeUser()}`,
      }),
    );
    output(opts.json, { key, ...publicView(record) }, () =>
      [`key:     ${key}`, `id:      ${record.id}`, `scopes:  ${record.scopes.join(',')}`, ...(record.subject ? [`subject: ${record.subject}`] : []), `expires: ${record.expiresAt ? new Date(record.expiresAt).toISOString() : 'never'}`, '', 'Store the key now: it is not shown again.'].join('\n'),
    );
  });

  withConfigOption(keys.command('list').description('list keys (never their secrets)').option('--json', 'print JSON')).action(async (opts: { config: string; json?: boolean }) => {
    const { config } = await loadCliConfig(opts);
    const list = await withStorage(config, (s) => s.keys.list());
    output(opts.json, list.map(publicView), () => {
      if (list.length === 0) return 'no keys';
      const rows = list.map((k) => [k.id, keyStatus(k), k.name, k.scopes.join(','), k.subject ?? '-', iso(k.createdAt), k.expiresAt ? iso(k.expiresAt) : 'never', k.lastUsedAt ? iso(k.lastUsedAt) : 'never']);
      return table(['ID', 'STATUS', 'NAME', 'SCOPES', 'SUBJECT', 'CREATED', 'EXPIRES', 'LAST USED'], rows);
    });
  });

  withConfigOption(keys.command('revoke').description('revoke a key; a running gateway refuses it within its poll interval').argument('<id>', 'key id').option('--json', 'print JSON')).action(
    async (id: string, opts: { config: string; json?: boolean }) => {
      const { config } = await loadCliConfig(opts);
      const ok = await withStorage(config, (s) => s.keys.revoke(id, Date.now()));
      if (!ok) throw new CliExit(EXIT.NOT_FOUND, `rampart: no key with id '${id}'`);
      output(opts.json, { id, revoked: true }, () => `revoked ${id}`);
    },
  );
}

function publicView(k: ApiKeyRecord) {
  return {
    id: k.id,
    name: k.name,
    status: keyStatus(k),
    scopes: k.scopes,
    subject: k.subject ?? null,
    createdAt: iso(k.createdAt),
    expiresAt: k.expiresAt ? iso(k.expiresAt) : null,
    revokedAt: k.revokedAt ? iso(k.revokedAt) : null,
    lastUsedAt: k.lastUsedAt ? iso(k.lastUsedAt) : null,
    createdBy: k.createdBy ?? null,
  };
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
