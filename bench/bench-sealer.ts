/** The ledger's sealing for benchmarks: a development file KEK in the benchmark's temp folder. */
import { join } from 'node:path';
import { DataKeyRing } from '../src/crypto/data-keys.js';
import { openFileKekProvider } from '../src/crypto/kek/file.js';
import { createSealer, type Sealer } from '../src/ledger/sealer.js';
import type { Storage } from '../src/storage/types.js';

export async function benchSealer(storage: Storage, dir: string): Promise<Sealer> {
  return (await benchCrypto(storage, dir)).sealer;
}

/** The sealer with its ring (benchmarks that seal by hand need the day keys). */
export async function benchCrypto(storage: Storage, dir: string): Promise<{ sealer: Sealer; ring: DataKeyRing }> {
  const ring = new DataKeyRing(storage.dataKeys, await openFileKekProvider(join(dir, 'bench-kek.json')));
  return { sealer: await createSealer(ring), ring };
}
