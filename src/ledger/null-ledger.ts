/**
 * A ledger that records nothing: ONLY for the benchmark's "gateway without controls" baseline,
 * so that the cost of the controls can be shown as a ratio. It is not reachable from
 * configuration and the composition root never builds it.
 */
import type { Ledger } from './writer.js';

export function createNullLedgerForBenchmark(): Ledger {
  let seq = 0;
  const ledger = {
    healthy: true,
    pending: 0,
    async append() {
      return { seq: ++seq, ts: Date.now() };
    },
    head() {
      return seq === 0 ? null : { seq, chainHash: '0'.repeat(64) };
    },
    async flush() {},
    async close() {},
  };
  return ledger as unknown as Ledger;
}
