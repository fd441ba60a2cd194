/**
 * The verifier's hashing thread (./chain-hasher.ts): checks packed pages of chain rows
 * (./packed-chain.ts checkChainPage) while the main thread reads the next page and folds the
 * previous one into the Merkle tree, so a verification run uses a second core (R17a4-6, AU-9(3);
 * DESIGN.md: ledger hashing stays off the event loop). It holds no key and no state between
 * pages: it is handed rows and returns how many continue the chain with their decoded hashes; the
 * page's bytes travel both ways by transfer, not copy.
 */
import { parentPort } from 'node:worker_threads';
import type { PackedChainPage } from '../storage/types.js';
import { checkChainPage } from './packed-chain.js';

export interface HashRequest {
  id: number;
  page: PackedChainPage;
  expected: number;
  prev: string;
}

export type HashReply = { id: number; ok: number; hashes: Uint8Array; bytes: Uint8Array } | { id: number; error: string; bytes: Uint8Array };

const port = parentPort;
if (!port) throw new Error('verify worker: must run as a worker thread');

port.on('message', (m: HashRequest) => {
  const bytes = m.page.bytes;
  try {
    const r = checkChainPage(m.page, m.expected, m.prev);
    port.postMessage({ id: m.id, ok: r.ok, hashes: r.hashes, bytes } satisfies HashReply, [r.hashes.buffer as ArrayBuffer, bytes.buffer as ArrayBuffer]);
  } catch (err) {
    port.postMessage({ id: m.id, error: err instanceof Error ? err.message : String(err), bytes } satisfies HashReply, [bytes.buffer as ArrayBuffer]);
  }
});
