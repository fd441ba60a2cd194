/**
 * Micro-benchmark of the object-level check (the `authorize` stage) against its budget in
 * DESIGN.md (authorization under 10 us a request): the demo API's getAccount with the owner
 * already known (table or warm cache), allowed and denied, as CPU per call, median of rounds.
 *
 *   npx tsc -p tsconfig.json && node dist/bench/authorize-micro.js
 */
import type { RequestContext } from '../src/core/context.js';
import type { ApiRuntime } from '../src/gateway/runtime.js';
import { loadApi } from '../src/openapi/load.js';
import { createAuthorizeStage } from '../src/pipeline/authorize.js';
import { brokerageOpenApiPath } from '../src/demo/brokerage-server.js';

const ROUNDS = 7;
const N = 500_000;

async function main(): Promise<void> {
  const model = await loadApi({ name: 'brokerage', file: brokerageOpenApiPath(), qualifyScopes: false, closedObjects: false, reservedPrefix: '/.rampart' });
  const api = {
    name: 'brokerage',
    model,
    config: {
      openapi: brokerageOpenApiPath(),
      upstream: { timeoutMs: 1000 },
      authorization: { objects: { account: { in: ['path.accountId'], owner: { table: { cus_alice: ['acc_alice_1', 'acc_alice_2'], cus_bob: ['acc_bob_1'] } }, cacheSeconds: 300 } }, anyObjectScopes: [], denyAs: 'forbidden', maxObjects: 50 },
    },
  } as unknown as ApiRuntime;
  const stage = createAuthorizeStage({ apis: [api] });
  const operation = model.operations.find((o) => o.id === 'getAccount')!;
  const principal = { name: 'bench', subject: 'cus_alice', authMethod: 'api-key' as const, scopes: new Set(['accounts:read']) };
  const ctx = (accountId: string) => ({ api, operation, pathParams: { accountId }, principal, query: {}, json: undefined }) as unknown as RequestContext;
  for (const [label, c] of [['allowed (own account)', ctx('acc_alice_1')], ['denied (another customer)', ctx('acc_bob_1')]] as const) {
    const per: number[] = [];
    for (let r = 0; r < ROUNDS; r++) {
      const t = process.cpuUsage();
      for (let i = 0; i < N; i++) stage.run(c);
      const d = process.cpuUsage(t);
      per.push((d.user + d.system) / N);
    }
    per.sort((a, b) => a - b);
    console.log(`authorize, ${label}: ${per[ROUNDS >> 1]!.toFixed(3)} us CPU per request (budget 10 us)`);
  }
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
