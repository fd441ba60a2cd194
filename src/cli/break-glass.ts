/**
 * Break-glass: with an admin plane configured, management commands go through the admin API;
 * `--break-glass` writes the database directly instead (the admin plane is down, the last owner
 * is locked out). That is allowed but never silent: the use is a ledger record naming the OS
 * user and the command, appended before the change (R17a4-3). The CLI appends through its own
 * writer, so run it with the gateway stopped where possible; if one runs, the store's continuity
 * check refuses one of the two appends rather than fork the chain.
 */
import { readFile } from 'node:fs/promises';
import { userInfo } from 'node:os';
import { dirname, resolve } from 'node:path';
import type { RampartConfig } from '../config/types.js';
import { configHash } from '../config/hash.js';
import { withCliLedger } from './ledger-append.js';
import { withStorage } from './common.js';

export async function recordBreakGlass(config: RampartConfig, file: string, command: string): Promise<void> {
  let who = 'unknown';
  try {
    who = userInfo().username;
  } catch {
    // keep 'unknown'
  }
  process.stderr.write(`rampart: BREAK-GLASS: '${command}' acts on the database directly, outside the admin API; this is recorded\n`);
  const docs = await Promise.all(config.apis.map((a) => readFile(a.openapi)));
  await withStorage(config, async (s) => {
    await withCliLedger(config, s, (ledger) =>
      ledger.append({ type: 'admin.action', outcome: 'info', reason: 'RAMPART_OK', stage: 'admin', configHash: configHash(config, docs, { baseDir: dirname(resolve(file)) }), detail: { action: 'break-glass', command }, personal: { principal: `cli:${who}` } }),
    );
  });
}
