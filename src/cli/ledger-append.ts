/**
 * For the few CLI commands that append to the ledger themselves (admin bootstrap, break-glass):
 * the same sealing as the gateway (private parts never in clear), with a writer of their own. The
 * gateway's checkpointer picks these records up at its next start (it catches up from the store).
 */
import type { RampartConfig } from '../config/types.js';
import { openLedgerCrypto } from '../ledger/crypto-setup.js';
import { createLedger, type Ledger } from '../ledger/writer.js';
import type { Storage } from '../storage/types.js';

export async function withCliLedger<T>(config: RampartConfig, storage: Storage, fn: (ledger: Ledger) => Promise<T>): Promise<T> {
  const crypto = await openLedgerCrypto(config, storage);
  try {
    const ledger = await createLedger(storage.ledger, { node: config.node, maxBatch: 8, sealer: crypto.sealer });
    try {
      return await fn(ledger);
    } finally {
      await ledger.close();
    }
  } finally {
    await crypto.close();
  }
}
