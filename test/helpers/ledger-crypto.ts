/**
 * The ledger's encryption for tests: a development file KEK in the test's own folder, the data
 * key ring over the real store's data_keys, and the sealer the writer needs. Also opens what the
 * store returns, so a test can read private parts as the audit CLI does.
 */
import { join } from 'node:path';
import { DataKeyRing } from '../../src/crypto/data-keys.js';
import { openFileKekProvider } from '../../src/crypto/kek/file.js';
import type { PrivatePart } from '../../src/ledger/record.js';
import { createSealer, type Sealer } from '../../src/ledger/sealer.js';
import type { DataKeyStore, StoredPrivate } from '../../src/storage/types.js';

export async function testSealer(store: { dataKeys: DataKeyStore }, dir: string): Promise<Sealer> {
  const kek = await openFileKekProvider(join(dir, 'test-kek.json'));
  return createSealer(new DataKeyRing(store.dataKeys, kek));
}

/** The private parts, opened (sealed ones decrypted), in the order given. */
export async function openPrivates(sealer: Sealer, rows: readonly StoredPrivate[]): Promise<PrivatePart[]> {
  return Promise.all(rows.map((r) => sealer.openPrivate(r)));
}

/** A running gateway's private parts for `seqs`, decrypted with its own sealer. */
export async function gatewayPrivates(gw: { storage: { ledger: { readPrivate(seqs: readonly number[]): Promise<StoredPrivate[]> } }; ledgerParts: { crypto: { sealer: Sealer } } | undefined }, seqs: readonly number[]): Promise<PrivatePart[]> {
  if (!gw.ledgerParts) throw new Error('test: this gateway runs without a ledger');
  return openPrivates(gw.ledgerParts.crypto.sealer, await gw.storage.ledger.readPrivate(seqs));
}
