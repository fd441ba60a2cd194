/**
 * A ledger that records nothing: ONLY for the benchmark's "gateway without controls" baseline,
 * so that the cost of the controls can be shown as a ratio. The composition root builds it only
 * for StartOptions.benchmarkPassThrough, which no configuration or CLI command can set.
 */
import type { Ledger } from './writer.js';

export function createNullLedgerForBenchmark(): Ledger {
  let seq = 0;
  const ledger: Ledger = {
    healthy: true,
    pending: 0,
    async append(_input) {
      return { seq: ++seq, ts: Date.now() };
    },
    head() {
      return seq === 0 ? null : { seq, chainHash: '0'.repeat(64) };
    },
    async flush() {},
    async close() {},
  };
  return ledger;
}
