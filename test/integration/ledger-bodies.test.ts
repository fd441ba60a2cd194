/**
 * Bodies in the ledger (issue 4; R17a4-4: an exchange can be re-created as captured; R17a4-2):
 * request and response bodies of the demo brokerage API are captured beside their records,
 * sealed (never in clear in the database file), with classified personal fields kept or redacted
 * per policy, and the data subjects named by `subject-id` fields indexed for RSP-2 searches.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { brokerageOpenApiPath, startBrokerageUpstream, type BrokerageUpstream } from '../../src/demo/brokerage-server.js';
import type { CapturedBodyInput } from '../../src/ledger/record.js';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';

const bearer = (k: string) => ({ authorization: `Bearer ${k}` });

async function capturedOf(t: TestGateway, requestId: string): Promise<{ request?: CapturedBodyInput; response?: CapturedBodyInput; seqs: number[] }> {
  await t.gw.ledgerParts!.drained();
  const recs = await t.gw.storage.ledger.search({ requestId, limit: 10 });
  const seqs = recs.map((r) => r.record.seq);
  const out: { request?: CapturedBodyInput; response?: CapturedBodyInput; seqs: number[] } = { seqs };
  for (const b of await t.gw.storage.ledger.readBodies(seqs)) out[b.part] = await t.gw.ledgerParts!.crypto.sealer.openBody(b);
  return out;
}

for (const policy of ['keep', 'redact-ssn'] as const) {
  describe(`captured bodies, personal fields: ${policy}`, () => {
    let up: BrokerageUpstream;
    let t: TestGateway;
    let alice: string;
    before(async () => {
      up = await startBrokerageUpstream({ port: 0 });
      t = await startTestGateway({
        spec: brokerageOpenApiPath(),
        upstreamUrl: up.url,
        api: { name: 'brokerage' },
        yaml: policy === 'redact-ssn' ? { ledger: { bodies: { personal: { ssn: 'redact', 'date-of-birth': 'redact' } } } } : {},
      });
      // pii:read: the client gets the personal fields in full (DLP lets them through), so what the
      // ledger keeps is decided by the capture policy alone.
      alice = (await t.key(['accounts:read', 'customers:read', 'transfers:write', 'pii:read'], { subject: 'cus_alice', name: 'alice-app' })).key;
    });
    after(async () => {
      await t.close();
      await up.close();
    });

    it('captures the response as the client got it, with classified fields per policy, sealed at rest', async () => {
      const r = await t.request('GET', '/customers/cus_alice', { headers: bearer(alice) });
      assert.equal(r.status, 200);
      const sent = r.json() as { ssn: string; email: string; id: string };
      const c = await capturedOf(t, r.headers['x-request-id'] as string);
      assert.ok(c.response, 'the completion record has a captured response');
      assert.equal(c.response.encoding, 'json');
      assert.ok(c.response.classesSeen?.includes('ssn'));
      const stored = JSON.parse(c.response.stored!) as Record<string, unknown>;
      if (policy === 'keep') {
        assert.deepEqual(stored, sent, 'kept whole: the exchange is re-created as it passed (R17a4-4)');
        assert.deepEqual(c.response.redacted, []);
      } else {
        assert.equal(stored.ssn, '[redacted:ssn]');
        assert.equal(stored.dateOfBirth, '[redacted:date-of-birth]');
        assert.equal(stored.email, sent.email, 'other classes are kept');
        assert.ok(c.response.redacted.includes('/ssn'));
      }
      assert.deepEqual(c.response.subjects, ['cus_alice'], 'the subject-id field names the data subject');
      // Sealed: the SSN appears nowhere in clear in the database or its WAL.
      const db = t.config.storage.driver === 'sqlite' ? t.config.storage.sqlite.path : '';
      for (const f of [db, `${db}-wal`]) {
        let bytes: Buffer;
        try {
          bytes = readFileSync(f);
        } catch {
          continue;
        }
        assert.equal(bytes.indexOf(sent.ssn), -1, `${f} does not hold the SSN in clear`);
      }
    });

    it('captures the request body and indexes the subjects of the response for RSP-2 searches', async () => {
      const body = JSON.stringify({ direction: 'deposit', amount: 125, bankRoutingNumber: '021000021', bankAccountNumber: '12345678', memo: 'rent' });
      const r = await t.request('POST', '/accounts/acc_alice_1/transfers', { headers: { ...bearer(alice), 'content-type': 'application/json', 'idempotency-key': `k-${policy}` }, body });
      assert.ok(r.status === 201 || r.status === 200, `status ${r.status}: ${r.body.toString()}`);
      const c = await capturedOf(t, r.headers['x-request-id'] as string);
      assert.ok(c.request);
      assert.deepEqual(JSON.parse(c.request.stored!), JSON.parse(body));
      assert.ok(c.request.classesSeen?.includes('account-number'));
      const tag = t.gw.ledgerParts!.crypto.sealer.tag('subject', 'cus_alice');
      const hits = await t.gw.storage.ledger.search({ tags: [tag], limit: 100 });
      assert.ok(c.seqs.every((s) => hits.some((h) => h.record.seq === s)), 'both records of the exchange are found by subject');
    });
  });
}
