import { createLedger } from './dist/src/ledger/writer.js';
import { openStorage } from './dist/src/storage/open.js';
import { decisionInput } from './dist/src/gateway/records.js';
import { mkdtempSync, rmSync } from 'node:fs';
const dir = mkdtempSync('/work/mb-');
const st = await openStorage({ driver: 'sqlite', sqlite: { path: dir + '/l.db' } });
const ledger = await createLedger(st.ledger, { node: 'n', maxBatch: 256 });
const ctx = { requestId: 'a3b1c2d3-1111-2222-3333-444455556666', startNs: process.hrtime.bigint(), receivedAt: Date.now(), runtime: { hash: 'sha256:' + 'a'.repeat(64) }, req: { headers: { host: 'x' } }, method: 'GET', clientAddress: '127.0.0.1', api: { name: 'brokerage' }, operation: { id: 'getAccount', route: '/accounts/{accountId}' }, principal: { name: 'bench', subject: 'cus_alice', keyId: 'abcdefabcdef', authMethod: 'api-key' }, pathParams: { accountId: 'acc_alice_1' }, bytesIn: 0 };
async function run(n, conc) { const t0 = process.hrtime.bigint(); const c0 = process.cpuUsage(); let i = 0; await Promise.all(Array.from({ length: conc }, async () => { while (i++ < n) await ledger.append(decisionInput(ctx, { outcome: 'allow', stage: 'ledger', reason: 'RAMPART_OK' })); })); const c = process.cpuUsage(c0); console.log(`conc ${conc}: ${(Number(process.hrtime.bigint() - t0) / n / 1000).toFixed(2)} us wall, ${((c.user + c.system) / n).toFixed(2)} us cpu (user ${(c.user/n).toFixed(1)} sys ${(c.system/n).toFixed(1)}) per append`); }
await run(5000, 15); await run(20000, 15);
await ledger.close(); await st.close();
rmSync(dir, { recursive: true, force: true });
