/**
 * Object-level authorization (API1 BOLA, ASVS 4.2.1) through a real gateway: ids in the path,
 * the query and the JSON body; owners from the sample brokerage API's owner endpoint (a real
 * upstream on loopback) and from a table; 403 or 404; the record naming the object and the
 * owner; nothing reaching the upstream on a denial; fail closed when the owner lookup fails.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { tempDir } from '../helpers/tmp.js';
import { brokerageOpenApiPath, startBrokerageUpstream, type BrokerageUpstream } from '../../src/demo/brokerage-server.js';
import { ConfigError } from '../../src/core/errors.js';
import { gatewayPrivates } from '../helpers/ledger-crypto.js';

const bearer = (k: string) => ({ authorization: `Bearer ${k}` });

async function recordOf(t: TestGateway, requestId: string) {
  await t.gw.ledger.flush();
  const recs = await t.gw.storage.ledger.search({ requestId, limit: 10 });
  assert.ok(recs.length > 0, `a record for ${requestId}`);
  const [priv] = await gatewayPrivates(t.gw, [recs[0]!.record.seq]);
  return { record: recs[0]!.record, canonical: recs[0]!.canonical, personal: priv?.personal };
}

describe('object-level authorization, owners looked up on the upstream (the demo brokerage API)', () => {
  let up: BrokerageUpstream;
  let t: TestGateway;
  let alice: string;
  let bob: string;
  let noSubject: string;
  let support: string;
  before(async () => {
    up = await startBrokerageUpstream({ port: 0 });
    t = await startTestGateway({
      spec: brokerageOpenApiPath(),
      upstreamUrl: up.url,
      api: {
        name: 'brokerage',
        authorization: {
          objects: {
            account: { in: ['path.accountId'], owner: { lookup: { path: '/internal/owners/accounts/{id}', pointer: '/customerId' } } },
            customer: { in: ['path.customerId'], owner: { lookup: { path: '/internal/owners/customers/{id}', pointer: '/customerId' } } },
          },
          anyObjectScopes: ['support:any-customer'],
        },
      },
    });
    const read = ['accounts:read', 'customers:read', 'orders:read'];
    alice = (await t.key(read, { subject: 'cus_alice', name: 'alice-app' })).key;
    bob = (await t.key(read, { subject: 'cus_bob', name: 'bob-app' })).key;
    noSubject = (await t.key(read, { name: 'batch-job' })).key;
    support = (await t.key([...read, 'support:any-customer'], { name: 'support-desk' })).key;
  });
  after(async () => {
    await t.close();
    await up.close();
  });

  it('a customer reads their own account and customer record', async () => {
    assert.equal((await t.request('GET', '/accounts/acc_alice_1', { headers: bearer(alice) })).status, 200);
    assert.equal((await t.request('GET', '/accounts/acc_alice_2/positions', { headers: bearer(alice) })).status, 200);
    assert.equal((await t.request('GET', '/customers/cus_alice', { headers: bearer(alice) })).status, 200);
  });

  it("reading another customer's account is 403; the upstream never sees it; the record names the object and its owner", async () => {
    const before = up.requests.filter((r) => r.path === '/accounts/acc_alice_1').length;
    const r = await t.request('GET', '/accounts/acc_alice_1', { headers: bearer(bob) });
    assert.equal(r.status, 403);
    assert.equal(r.json().code, 'RAMPART_OBJECT_FORBIDDEN');
    assert.ok(!r.body.toString().includes('cus_alice'), 'the owner is not told to the caller');
    assert.equal(up.requests.filter((x) => x.path === '/accounts/acc_alice_1').length, before, 'not forwarded');
    const { record, canonical, personal } = await recordOf(t, r.json().requestId);
    assert.equal(record.outcome, 'deny');
    assert.equal(record.stage, 'authorize');
    assert.equal(record.reason, 'RAMPART_OBJECT_FORBIDDEN');
    assert.equal(record.detail?.cause, 'other-owner:account');
    assert.deepEqual(personal?.extra, { object: 'account:acc_alice_1', owner: 'cus_alice' });
    assert.equal(personal?.subject, 'cus_bob', 'who tried');
    assert.ok(!canonical.includes('cus_alice') && !canonical.includes('acc_alice_1'), 'object and owner are in the private part only');
  });

  it('nested resources are checked through the account in their path', async () => {
    const r = await t.request('GET', '/accounts/acc_alice_1/orders/ord_alice_1', { headers: bearer(bob) });
    assert.equal(r.status, 403);
    const c = await t.request('GET', '/customers/cus_alice', { headers: bearer(bob) });
    assert.equal(c.status, 403);
  });

  it('an account that does not exist gets the same answer as one that belongs to someone else (no existence oracle)', async () => {
    const r = await t.request('GET', '/accounts/acc_nobody_9', { headers: bearer(bob) });
    assert.equal(r.status, 403);
    const { record, personal } = await recordOf(t, r.json().requestId);
    assert.equal(record.detail?.cause, 'no-such-object:account');
    assert.deepEqual(personal?.extra, { object: 'account:acc_nobody_9' });
  });

  it('a key that acts for no customer may not touch owned objects (default deny)', async () => {
    const r = await t.request('GET', '/accounts/acc_bob_1', { headers: bearer(noSubject) });
    assert.equal(r.status, 403);
    assert.equal((await recordOf(t, r.json().requestId)).record.detail?.cause, 'no-subject:account');
    // Operations without owned objects are unaffected.
    assert.equal((await t.request('GET', '/market/quotes/ACME', { headers: bearer(noSubject) })).status, 200);
  });

  it('a support scope may read any customer, and each use is recorded on the decision', async () => {
    const r = await t.request('GET', '/accounts/acc_bob_2', { headers: bearer(support) });
    assert.equal(r.status, 200);
    const id = r.headers['x-request-id'] as string;
    await t.gw.ledger.flush();
    const recs = await t.gw.storage.ledger.search({ requestId: id, limit: 10 });
    const decision = recs.find((x) => x.record.type === 'exchange.decision')!;
    assert.deepEqual(decision.record.detail, { anyObjectScope: 'support:any-customer' });
  });

  it('owners are cached: a second read of the same account asks the owner endpoint no more', async () => {
    const lookups = () => up.requests.filter((r) => r.path === '/internal/owners/accounts/acc_bob_1').length;
    await t.request('GET', '/accounts/acc_bob_1', { headers: bearer(bob) });
    const n = lookups();
    assert.ok(n >= 1);
    for (let i = 0; i < 3; i++) assert.equal((await t.request('GET', '/accounts/acc_bob_1', { headers: bearer(bob) })).status, 200);
    assert.equal(lookups(), n);
  });
});

const SPEC = `
openapi: 3.0.3
info: { title: authz test, version: '1' }
components:
  securitySchemes: { key: { type: http, scheme: bearer } }
security: [{ key: [] }]
paths:
  /accounts/{accountId}:
    get:
      operationId: getAccount
      parameters: [{ name: accountId, in: path, required: true, schema: { type: string, maxLength: 40 } }]
      responses: { '200': { description: ok } }
  /statements:
    get:
      operationId: listStatements
      parameters: [{ name: accountId, in: query, schema: { type: array, maxItems: 100, items: { type: string, maxLength: 40 } } }]
      responses: { '200': { description: ok } }
  /transfers:
    post:
      operationId: createTransfer
      requestBody:
        required: true
        content:
          application/json:
            schema:
              type: object
              properties:
                fromAccountId: { type: string, maxLength: 40 }
                legs: { type: array, maxItems: 100, items: { type: object, properties: { accountId: { type: string, maxLength: 40 }, amount: { type: number } } } }
      responses: { '200': { description: accepted (the echo upstream answers 200) } }
  /vaults/{vaultId}:
    get:
      operationId: getVault
      parameters: [{ name: vaultId, in: path, required: true, schema: { type: string, maxLength: 40 } }]
      responses: { '200': { description: ok } }
`;

describe('object-level authorization, owners from a table; ids in the query and the body', () => {
  const dir = tempDir('rampart-authz-');
  const spec = join(dir.path, 'authz.yaml');
  writeFileSync(spec, SPEC);
  let t: TestGateway;
  let alice: string;
  before(async () => {
    t = await startTestGateway({
      spec,
      api: {
        authorization: {
          objects: {
            account: {
              in: ['path.accountId', 'query.accountId', 'body/fromAccountId', 'body/legs/*/accountId'],
              owner: { table: { cus_alice: ['A1', 'A2'], cus_bob: ['B1'] } },
            },
            // The test upstream drops the connection on paths ending in /broken: the lookup fails.
            vault: { in: ['path.vaultId'], owner: { lookup: { path: '/owners/{id}/broken', pointer: '/owner' } } },
          },
          denyAs: 'not-found',
          maxObjects: 5,
        },
      },
    });
    alice = (await t.key([], { subject: 'cus_alice' })).key;
  });
  after(async () => {
    await t.close();
    dir.remove();
  });
  const json = { ...bearer(''), 'content-type': 'application/json' };
  const post = (body: unknown) => t.request('POST', '/transfers', { headers: { ...json, ...bearer(alice) }, body: JSON.stringify(body) });

  it('under denyAs: not-found, a foreign id and a missing one are both 404', async () => {
    assert.equal((await t.request('GET', '/accounts/A1', { headers: bearer(alice) })).status, 200);
    const foreign = await t.request('GET', '/accounts/B1', { headers: bearer(alice) });
    const missing = await t.request('GET', '/accounts/Z9', { headers: bearer(alice) });
    assert.equal(foreign.status, 404);
    assert.equal(missing.status, 404);
    assert.equal(foreign.json().code, 'RAMPART_OBJECT_NOT_FOUND');
    assert.equal(foreign.json().title, missing.json().title);
  });

  it('ids in the query: every value of a repeated array parameter is checked', async () => {
    assert.equal((await t.request('GET', '/statements?accountId=A1&accountId=A2', { headers: bearer(alice) })).status, 200);
    const seen = t.upstream.seen.length;
    assert.equal((await t.request('GET', '/statements?accountId=A1&accountId=B1', { headers: bearer(alice) })).status, 404);
    assert.equal(t.upstream.seen.length, seen, 'not forwarded');
  });

  it('ids in the body, including every item of an array', async () => {
    assert.equal((await post({ fromAccountId: 'A1', legs: [{ accountId: 'A2', amount: 5 }] })).status, 200);
    assert.equal((await post({ fromAccountId: 'B1', legs: [] })).status, 404);
    assert.equal((await post({ fromAccountId: 'A1', legs: [{ accountId: 'A2', amount: 1 }, { accountId: 'B1', amount: 1 }] })).status, 404);
  });

  it('more ids than maxObjects is 400', async () => {
    const r = await post({ fromAccountId: 'A1', legs: Array.from({ length: 6 }, (_, i) => ({ accountId: `X${i}`, amount: 1 })) });
    assert.equal(r.status, 400);
    assert.equal(r.json().code, 'RAMPART_AUTHZ_TOO_MANY_OBJECTS');
  });

  it('an owner lookup that fails denies with 503 and forwards nothing (fail closed)', async () => {
    const before = t.upstream.seen.filter((r) => r.url.startsWith('/vaults/')).length;
    const r = await t.request('GET', '/vaults/V1', { headers: bearer(alice) });
    assert.equal(r.status, 503);
    assert.equal(r.json().code, 'RAMPART_AUTHZ_UNAVAILABLE');
    assert.equal(t.upstream.seen.filter((x) => x.url.startsWith('/vaults/')).length, before);
  });
});

describe('object-level authorization configuration', () => {
  it('a location naming a parameter no operation declares is refused at start, naming it', async () => {
    await assert.rejects(
      startTestGateway({
        spec: brokerageOpenApiPath(),
        api: { authorization: { objects: { account: { in: ['path.accountID'], owner: { table: {} } } } } },
      }),
      (err: unknown) => err instanceof ConfigError && /path parameter 'accountID'/.test(err.message),
    );
  });

  it('an id listed under two owners is refused', async () => {
    await assert.rejects(
      startTestGateway({
        spec: brokerageOpenApiPath(),
        api: { authorization: { objects: { account: { in: ['path.accountId'], owner: { table: { a: ['X'], b: ['X'] } } } } } },
      }),
      (err: unknown) => err instanceof ConfigError && /two owners/.test(err.message),
    );
  });
});
