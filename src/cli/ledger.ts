/**
 * `rampart ledger ...`: the ledger's keys, checkpoints, legal holds, purge and KEK rotation.
 * With an admin plane configured, holds, purge and checkpoints go through the admin API as the
 * logged-in operator (holds and purges need the compliance role); without one they run here with
 * the gateway stopped (./local-ledger.ts). Each is a ledger record either way (R17a4-3).
 */
import type { Command } from 'commander';
import { liftHold, setHold } from '../ledger/holds.js';
import { activeHoldsAll } from '../evidence/holds-view.js';
import { runPurge } from '../ledger/purge.js';
import type { HoldCriteria } from '../storage/types.js';
import { adminCall, operatorToken } from './admin-client.js';
import { isoTime } from './cli-util.js';
import { createProgress, withActivity } from './progress.js';
import { loadCliConfig, output, withConfigOption, withStorage } from './common.js';
import { CliExit, EXIT } from './exit-codes.js';
import { osUser, withLocalLedger } from './local-ledger.js';
import { openLedgerCrypto } from '../ledger/crypto-setup.js';
import { rotateCheckpointKey } from '../ledger/checkpoint-key.js';
import { registerBackup } from './ledger-backup.js';

export function register(program: Command): void {
  const ledger = program.command('ledger').description('the audit ledger: checkpoint keys, checkpoints, legal holds, purge, KEK rotation');
  registerBackup(ledger);

  withConfigOption(ledger.command('keys').description('print the checkpoint verifier keys (what examiners verify with)').option('--json', 'print JSON')).action(async (opts: { config: string; json?: boolean }) => {
    const { config } = await loadCliConfig(opts);
    const keys = await withStorage(config, (s) => s.checkpoints.listSigningKeys());
    output(opts.json, keys, () => (keys.length === 0 ? 'no checkpoint key yet (start the gateway once)' : keys.map((k) => k.verifierKey).join('\n')));
  });

  withConfigOption(ledger.command('checkpoint').description('sign and publish a checkpoint now').option('--json', 'print JSON')).action(async (opts: { config: string; json?: boolean }) => {
    const { config, file } = await loadCliConfig(opts);
    if (config.admin) {
      const r = await adminCall(config, 'POST', '/admin/api/ledger/checkpoint', { token: await operatorToken(config) });
      output(opts.json, r.body, () => `checkpoint at size ${(r.body as { treeSize: number }).treeSize}`);
      return;
    }
    const cp = await withLocalLedger(config, file, (_s, l) => l.checkpointer.checkpoint('manual', true));
    output(opts.json, cp ?? { treeSize: 0 }, () => (cp ? `checkpoint at size ${cp.treeSize}\n${cp.note}` : 'the ledger is empty'));
  });

  const holds = ledger.command('holds').description('legal holds (compliance role): nothing they cover is purged');
  withConfigOption(holds.command('list').description('list holds').option('--json', 'print JSON')).action(async (opts: { config: string; json?: boolean }) => {
    const { config } = await loadCliConfig(opts);
    const list = config.admin
      ? ((await adminCall(config, 'GET', '/admin/api/holds', { token: await operatorToken(config) })).body as { holds: unknown[] }).holds
      : await withStorage(config, async (s) => {
          const c = await openLedgerCrypto(config, s);
          try {
            return await activeHoldsAll(s.retention, c.ring);
          } finally {
            await c.close();
          }
        });
    output(opts.json, list, () => (list.length === 0 ? 'no legal holds' : list.map((h) => JSON.stringify(h)).join('\n')));
  });
  withConfigOption(
    holds
      .command('set')
      .description('place a hold: what matches is kept past its retention')
      .requiredOption('--reason <text>', 'why (matter, request number)')
      .option('--principal <p>', 'records of this principal')
      .option('--subject <s>', 'records about this data subject')
      .option('--object <id>', 'records naming this object id')
      .option('--operation <id>', 'records of this operation')
      .option('--from <iso>', 'records at or after this time', isoTime)
      .option('--to <iso>', 'records at or before this time', isoTime)
      .option('--json', 'print JSON'),
  ).action(async (opts: { config: string; reason: string; principal?: string; subject?: string; object?: string; operation?: string; from?: number; to?: number; json?: boolean }) => {
    const { config, file } = await loadCliConfig(opts);
    const c: HoldCriteria = {};
    if (opts.principal !== undefined) c.principal = opts.principal;
    if (opts.subject !== undefined) c.subject = opts.subject;
    if (opts.object !== undefined) c.objectId = opts.object;
    if (opts.operation !== undefined) c.operationId = opts.operation;
    if (opts.from !== undefined) c.fromTs = opts.from;
    if (opts.to !== undefined) c.toTs = opts.to;
    if (config.admin) {
      const r = await adminCall(config, 'POST', '/admin/api/holds', { token: await operatorToken(config), body: { reason: opts.reason, ...c, ...(c.fromTs !== undefined ? { from: c.fromTs } : {}), ...(c.toTs !== undefined ? { to: c.toTs } : {}) } });
      output(opts.json, r.body, () => `hold ${(r.body as { id: string }).id} placed`);
      return;
    }
    const r = await withLocalLedger(config, file, (s, l, hash) =>
      setHold({ ledger: s.ledger, retention: s.retention, ring: l.crypto.ring, sealer: l.crypto.sealer, writer: l.ledger, configHash: hash }, c, osUser(), opts.reason).catch((err: unknown) => {
        throw new CliExit(EXIT.USAGE, `rampart: ${(err as Error).message}`);
      }),
    );
    output(opts.json, { id: r.hold.id, items: r.items }, () => `hold ${r.hold.id} placed; ${r.items} items moved under its key`);
  });
  withConfigOption(holds.command('lift').description('lift a hold').argument('<id>', 'hold id').requiredOption('--reason <text>', 'why').option('--json', 'print JSON')).action(
    async (id: string, opts: { config: string; reason: string; json?: boolean }) => {
      const { config, file } = await loadCliConfig(opts);
      if (config.admin) {
        const r = await adminCall(config, 'POST', `/admin/api/holds/${encodeURIComponent(id)}/lift`, { token: await operatorToken(config), body: { reason: opts.reason } });
        output(opts.json, r.body, () => `hold ${id} lifted`);
        return;
      }
      const r = await withLocalLedger(config, file, (s, l, hash) =>
        liftHold({ ledger: s.ledger, retention: s.retention, ring: l.crypto.ring, sealer: l.crypto.sealer, writer: l.ledger, configHash: hash }, id, osUser(), opts.reason).catch((err: unknown) => {
          throw new CliExit((err as { code?: string }).code === 'RAMPART_HOLD_NOT_FOUND' ? EXIT.NOT_FOUND : EXIT.FAILED, `rampart: ${(err as Error).message}`);
        }),
      );
      output(opts.json, r, () => `hold ${id} lifted; ${r.released} items back under their day's keys`);
    },
  );

  withConfigOption(ledger.command('purge').description('remove what has expired (crypto-shredding, prune) and write a purge receipt').option('--dry-run', 'report what would go, change nothing').option('--json', 'print JSON')).action(
    async (opts: { config: string; dryRun?: boolean; json?: boolean }) => {
      const { config, file } = await loadCliConfig(opts);
      // runPurge reports no counts: a spinner with the elapsed time (issue 7), quiet in a pipe.
      const report = await withActivity(opts.dryRun ? 'computing what would be purged' : 'purging expired data', { json: opts.json === true }, async () =>
        config.admin
          ? (await adminCall(config, 'POST', '/admin/api/ledger/purge', { token: await operatorToken(config), body: { dryRun: opts.dryRun === true } })).body
          : await withLocalLedger(config, file, (s, l, hash) =>
              runPurge({ ledger: s.ledger, checkpoints: s.checkpoints, retention: s.retention, dataKeys: s.dataKeys, ring: l.crypto.ring, sealer: l.crypto.sealer, writer: l.ledger, configHash: hash, checkpointKey: { signer: l.checkpointKey.signer, origin: l.checkpointKey.origin } }, { dryRun: opts.dryRun === true }),
            ),
      );
      const r = report as { dryRun: boolean; keys: unknown[]; removed: { keys: number; privates: number; bodies: number }; recordsPruned: number; prunedThrough: number };
      output(opts.json, r, () => `${r.dryRun ? 'would remove' : 'removed'} ${r.dryRun ? r.keys.length : r.removed.keys} data keys${r.dryRun ? '' : ` (${r.removed.privates} private parts, ${r.removed.bodies} bodies)`}; ${r.recordsPruned} records pruned (through seq ${r.prunedThrough})`);
    },
  );

  withConfigOption(ledger.command('rotate-checkpoint-key').description('make a new Ed25519 checkpoint signing key current; the old ones stay in the key history for verification').option('--json', 'print JSON')).action(async (opts: { config: string; json?: boolean }) => {
    const { config } = await loadCliConfig(opts);
    const cp = config.ledger.checkpoints;
    const k = await rotateCheckpointKey(cp.signingKeyFile, cp.origin.replace(/[^A-Za-z0-9._/-]/g, '-'));
    // The history in the store names it at once, so verification accepts what it signs.
    await withStorage(config, (s) => s.checkpoints.insertSigningKey({ verifierKey: k.verifier, createdAt: k.createdAt }));
    output(opts.json, { verifierKey: k.verifier }, () => `new checkpoint key ${k.verifier}
a running gateway signs with it after its next restart; give examiners the new public key (rampart ledger keys)`);
  });

  withConfigOption(ledger.command('rotate-kek').description('make a new key-encryption key version current and re-wrap every data key under it (ENC-6)').option('--json', 'print JSON')).action(async (opts: { config: string; json?: boolean }) => {
    const { config } = await loadCliConfig(opts);
    const bar = createProgress('re-wrapping data keys', { json: opts.json === true });
    const r = await withStorage(config, async (s) => {
      const c = await openLedgerCrypto(config, s);
      try {
        const kekId = await c.kek.rotate();
        const n = await c.ring.rewrapAll(bar.update);
        return { kekId, rewrapped: n };
      } catch (err) {
        if ((err as { code?: string }).code === 'RAMPART_KEK_ROTATE_UNSUPPORTED') throw new CliExit(EXIT.USAGE, `rampart: ${(err as Error).message}`);
        throw err;
      } finally {
        await c.close();
      }
    }).finally(() => bar.done());
    output(opts.json, r, () => `KEK ${r.kekId} is current; ${r.rewrapped} data keys re-wrapped`);
  });
}
