/**
 * `rampart ledger backup|restore`: the backup set of the ledger and its verified restore
 * (R17a4-9, R4370-1). The logic is in ../ledger/backup.ts; this file parses options, turns its
 * errors into exit codes and says plainly what a backup does not contain: the key-encryption key.
 *
 * backup runs beside a running gateway (SQLite's online backup API; pg_dump on one snapshot).
 * restore needs the gateway stopped, and exits 1 when the restored ledger does not match the
 * heads published outside it (a stale or altered backup), naming what differs.
 */
import type { Command } from 'commander';
import { BackupError, createBackup, restoreBackup, type BackupErrorCode, type RestoreResult } from '../ledger/backup.js';
import { loadCliConfig, output, withConfigOption } from './common.js';
import { CliExit, EXIT } from './exit-codes.js';

const KEK_NOTE =
  'The key-encryption key is NOT in the backup (a file KEK stays beside the secrets, an HSM key in the HSM): ' +
  'restoring needs the same KEK provider to read private parts and bodies. Keep the two apart.';

const EXIT_FOR: Record<BackupErrorCode, number> = {
  RAMPART_BACKUP_EXISTS: EXIT.USAGE,
  RAMPART_BACKUP_MISMATCH: EXIT.USAGE,
  RAMPART_BACKUP_CORRUPT: EXIT.FAILED,
  RAMPART_BACKUP_TARGET_EXISTS: EXIT.FAILED,
  RAMPART_BACKUP_IN_USE: EXIT.FAILED,
  RAMPART_BACKUP_TOOL: EXIT.UNAVAILABLE,
};

function cliError(err: unknown): never {
  if (err instanceof BackupError) throw new CliExit(EXIT_FOR[err.code], `rampart: ${err.message} (${err.code})`);
  if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new CliExit(EXIT.NOT_FOUND, `rampart: ${(err as Error).message}`);
  throw err;
}

/** Adds `backup` and `restore` under `rampart ledger`. */
export function registerBackup(ledger: Command): void {
  withConfigOption(
    ledger
      .command('backup')
      .description('write a consistent backup of the ledger store (all of it: records, sealed parts, data keys, checkpoints, keys, admin) while the gateway runs')
      .requiredOption('--out <file>', 'the backup file to write (.tar.gz; must not exist)')
      .option('--json', 'print JSON')
      .addHelpText('after', `\n${KEK_NOTE}\n`),
  ).action(async (opts: { config: string; out: string; json?: boolean }) => {
    const { config } = await loadCliConfig(opts);
    const r = await createBackup(config, opts.out).catch(cliError);
    const m = r.manifest;
    output(opts.json, { ...r, note: KEK_NOTE }, () =>
      [
        `backup written to ${r.out} (${r.archiveBytes} bytes)`,
        `  ${m.driver} copy ${m.file}: ${m.bytes} bytes, sha256 ${m.sha256}, schema version ${m.schemaVersion}`,
        `  ledger head: ${m.head ? `seq ${m.head.seq} ${m.head.chainHash}` : 'empty'}`,
        `note: ${KEK_NOTE}`,
      ].join('\n'),
    );
  });

  withConfigOption(
    ledger
      .command('restore')
      .description('restore a backup into the configured storage (gateway stopped) and verify it against the checkpoints in it and the published heads')
      .requiredOption('--from <file>', 'a file written by `rampart ledger backup`')
      .option('--force', 'replace an existing database (it is kept, moved aside to <path>.before-restore-<time>)')
      .option('--no-private', 'do not open private parts while verifying (no KEK access needed)')
      .option('--json', 'print JSON')
      .addHelpText('after', `\n${KEK_NOTE}\nExit 1 when the restored ledger does not match the heads published outside it (a stale or altered backup).\n`),
  ).action(async (opts: { config: string; from: string; force?: boolean; private: boolean; json?: boolean }) => {
    const { config } = await loadCliConfig(opts);
    const r = await restoreBackup(config, opts.from, { force: opts.force === true, checkPrivate: opts.private }).catch(cliError);
    output(opts.json, r, () => describe(r));
    const v = r.verification;
    if (!v.ok) {
      const what = [
        ...(v.firstBad ? [`chain broken at seq ${v.firstBad.seq}`] : []),
        ...v.findings.filter((f) => f.problem !== 'inside-pruned').map((f) => `${f.problem} at size ${f.treeSize}`),
        ...(v.headMatchesManifest ? [] : ['head differs from the manifest']),
      ];
      throw new CliExit(EXIT.FAILED, `rampart: the restored ledger does not verify: ${what.join(', ')}`);
    }
  });
}

function describe(r: RestoreResult): string {
  const v = r.verification;
  const lines = [
    `restored ${r.restored} from a ${r.manifest.driver} backup taken ${r.manifest.createdAt} (head ${r.manifest.head ? `seq ${r.manifest.head.seq}` : 'empty'})`,
  ];
  if (r.movedAside) lines.push(`the previous database was kept as ${r.movedAside}`);
  lines.push(
    v.firstBad ? `chain: ${v.firstBad.detail}` : `chain: intact, ${v.count} records verified, head seq ${v.head?.seq ?? 0}`,
    `checkpoints: ${v.checkpointsVerified.store} stored and ${v.checkpointsVerified.published} published verified (of ${v.publishedHeads} published heads read)`,
    `private parts: ${v.privateParts}`,
  );
  for (const f of v.findings) lines.push(`${f.problem === 'inside-pruned' ? 'note' : 'FAIL'}: ${f.detail}`);
  if (!v.headMatchesManifest) lines.push(`FAIL: the restored head is not the one the manifest names (seq ${r.manifest.head?.seq ?? 0})`);
  if (v.publishedHeads === 0) lines.push('note: no published heads were found (ledger.checkpoints.publish file targets): a stale or rewritten backup cannot be told from a current one');
  lines.push(`note: ${KEK_NOTE}`);
  return lines.join('\n');
}
