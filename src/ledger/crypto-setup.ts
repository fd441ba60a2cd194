/**
 * Opens the ledger's encryption from configuration (ENC-5, ENC-6): the KEK provider, the data
 * key ring over the store's wrapped keys, and the sealer. The gateway, the CLI's audit and
 * evidence commands and the purge job all open it the same way, so every reader decrypts what
 * the writer sealed.
 */
import type { RampartConfig } from '../config/types.js';
import { DataKeyRing } from '../crypto/data-keys.js';
import { openKekProvider } from '../crypto/kek/open.js';
import type { KeyEncryptionKeyProvider } from '../crypto/kek/provider.js';
import type { Storage } from '../storage/types.js';
import { createSealer, type Sealer } from './sealer.js';

export interface LedgerCrypto {
  kek: KeyEncryptionKeyProvider;
  ring: DataKeyRing;
  sealer: Sealer;
  close(): Promise<void>;
}

export async function openLedgerCrypto(config: RampartConfig, storage: Storage, opts: { readOnly?: boolean } = {}): Promise<LedgerCrypto> {
  const kek = await openKekProvider(config.ledger.encryption.kek);
  try {
    const ring = new DataKeyRing(storage.dataKeys, kek);
    const sealer = await createSealer(ring, config.ledger.retention, opts);
    return {
      kek,
      ring,
      sealer,
      async close() {
        ring.forget();
        await kek.close();
      },
    };
  } catch (err) {
    await kek.close().catch(() => {});
    throw err;
  }
}
