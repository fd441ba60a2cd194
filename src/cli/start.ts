/**
 * `rampart start [-c FILE]`: runs the gateway in the foreground until SIGTERM/SIGINT, then shuts
 * down gracefully (stop accepting, finish in-flight requests, flush the ledger).
 */
import type { Command } from 'commander';
import { dirname, resolve } from 'node:path';
import { startGateway } from '../gateway/start.js';
import { withConfigOption } from './common.js';
import { positiveInt } from './exit-codes.js';
import { loadConfigWithWarnings } from '../config/load.js';
import { formatConfigIssue } from '../core/errors.js';

export function register(program: Command): void {
  withConfigOption(
    program
      .command('start')
      .description('start the gateway with the configuration file')
      .option('--key-poll-ms <ms>', 'how often to pick up key changes', positiveInt, 250),
  ).action(async (opts: { config: string; keyPollMs: number }) => {
    const { config, warnings } = await loadConfigWithWarnings(opts.config);
    for (const w of warnings) process.stderr.write(`rampart: warning: ${formatConfigIssue(w)}\n`);
    const gw = await startGateway({ config, configDir: dirname(resolve(opts.config)), configFile: resolve(opts.config), keyPollMs: opts.keyPollMs });
    process.stdout.write(`rampart: listening on ${gw.url} (config ${gw.runtime().hash.slice(0, 19)})\n`);
    await waitForSignal();
    await gw.close();
  });
}

export function waitForSignal(): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    const on = (sig: NodeJS.Signals) => {
      process.off('SIGTERM', on);
      process.off('SIGINT', on);
      resolve(sig);
    };
    process.on('SIGTERM', on);
    process.on('SIGINT', on);
  });
}
