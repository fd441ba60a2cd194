/**
 * What every command shares: `-c FILE` (default ./rampart.yaml), loading the config and opening
 * storage. Every command reads ./rampart.yaml unless -c names another, so init, start, keys and
 * audit run from one folder work together.
 */
import type { Command } from 'commander';
import { loadConfig } from '../config/load.js';
import type { RampartConfig } from '../config/types.js';
import { openStorage } from '../storage/open.js';
import type { Storage } from '../storage/types.js';

export const DEFAULT_CONFIG_FILE = 'rampart.yaml';

export function withConfigOption(cmd: Command): Command {
  return cmd.option('-c, --config <file>', 'configuration file', DEFAULT_CONFIG_FILE);
}

export async function loadCliConfig(opts: { config?: string }): Promise<{ config: RampartConfig; file: string }> {
  const file = opts.config ?? DEFAULT_CONFIG_FILE;
  const config = await loadConfig(file);
  return { config, file };
}

/** Opens the configured storage, runs `fn`, and always closes it. */
export async function withStorage<T>(config: RampartConfig, fn: (s: Storage) => Promise<T>): Promise<T> {
  const storage = await openStorage(config.storage);
  try {
    return await fn(storage);
  } finally {
    await storage.close();
  }
}

/** Prints data as JSON (with --json) or through a human formatter. */
export function output(json: boolean | undefined, data: unknown, human: () => string): void {
  process.stdout.write(json ? `${JSON.stringify(data, null, 2)}\n` : `${human()}\n`);
}
