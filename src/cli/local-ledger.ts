/**
 * One-off ledger work from the CLI without an admin plane (a single-node install): the whole
 * running ledger (encryption, checkpointer, writer) opened for one command, its records appended
 * by this process, a shutdown checkpoint signed and published at the end. The gateway must not be
 * running at the same time (one writer per chain); if it is, the store's continuity check refuses
 * one of the two writers' batches rather than fork the chain, and the command fails cleanly.
 */
import { readFile } from 'node:fs/promises';
import { userInfo } from 'node:os';
import { dirname, resolve } from 'node:path';
import { configHash } from '../config/hash.js';
import type { RampartConfig } from '../config/types.js';
import { openRunningLedger, type RunningLedger } from '../ledger/open-ledger.js';
import type { Storage } from '../storage/types.js';
import { withStorage } from './common.js';

export function osUser(): string {
  try {
    return `cli:${userInfo().username}`;
  } catch {
    return 'cli:unknown';
  }
}

export async function withLocalLedger<T>(config: RampartConfig, file: string, fn: (s: Storage, l: RunningLedger, hash: string) => Promise<T>): Promise<T> {
  const docs = await Promise.all(config.apis.map((a) => readFile(a.openapi)));
  const hash = configHash(config, docs, { baseDir: dirname(resolve(file)) });
  return withStorage(config, async (s) => {
    const alerts: unknown[] = [];
    const running = await openRunningLedger(config, s, { configHash: () => hash, onAlert: (e) => alerts.push(e), timers: false });
    try {
      return await fn(s, running, hash);
    } finally {
      await running.close();
      for (const a of alerts) process.stderr.write(`rampart: ledger alert: ${(a as Error).message ?? String(a)}\n`);
    }
  });
}
