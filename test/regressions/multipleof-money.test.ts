/**
 * Regression: `multipleOf: 0.01` on amounts refused valid cents such as 1.07 (binary floating
 * point), so a real transfer of $1.07 would have been denied by the gateway.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { loadApi } from '../../src/openapi/load.js';

const SPEC = fileURLToPath(new URL('../../../demo/brokerage.openapi.yaml', import.meta.url));

test('amounts with cents pass multipleOf 0.01 and fractions of a cent do not', async () => {
  const api = await loadApi({ name: 'b', file: SPEC, qualifyScopes: false, closedObjects: false, reservedPrefix: '/.rampart' });
  const m = api.match('POST', '/accounts/acc_alice_1/transfers');
  assert.equal(m.kind, 'found');
  if (m.kind !== 'found') return;
  const body = (amount: number) => Buffer.from(JSON.stringify({ direction: 'deposit', amount, bankRoutingNumber: '990000001', bankAccountNumber: '12345678' }));
  const run = (amount: number) => m.operation.validate({ pathParams: m.pathParams, rawQuery: '', headers: { 'content-type': 'application/json' }, body: body(amount) });
  for (const ok of [1.07, 2.29, 19.99, 1234.56]) {
    const r = run(ok);
    assert.ok(r.ok, `${ok} refused: ${r.ok ? '' : `${r.error.pointer} ${r.error.message}`}`);
  }
  const bad = run(1.005);
  assert.equal(bad.ok, false);
  if (!bad.ok) assert.equal(bad.error.pointer, '/body/amount');
});
