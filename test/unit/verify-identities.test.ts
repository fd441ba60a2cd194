/**
 * The identities file of `rampart verify` (docs/verify.md): only what the operator gives is used;
 * credentials may come from the environment; every problem is listed at once; evidence names a
 * credential's source, never its value.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { IdentitiesError, loadIdentities, parseIdentities } from '../../src/verify/identities.js';
import { plannedProbes } from '../../src/verify/run.js';
import { tempDir } from '../helpers/tmp.js';

const KEY = 'rmpk_0123456789abcdef0123_abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMN';

describe('verify identities', () => {
  it('reads YAML and JSON alike; credentials from the file or the environment; defaults filled in', async () => {
    const tmp = tempDir('rampart-verify-ids-');
    try {
      const yaml = join(tmp.path, 'ids.yaml');
      writeFileSync(yaml, `version: 1\ncustomer:\n  keyEnv: VERIFY_KEY\n  ownObject: /accounts/acc_1\notherObject: /accounts/acc_2\ninjection: {path: /accounts/acc_1/notes, param: q}\nrateLimit: {path: /accounts/acc_1/ping, budget: 5}\noversizedBody: {path: /orders, method: put, auth: none}\n`);
      const a = await loadIdentities(yaml, { VERIFY_KEY: KEY });
      assert.deepEqual(a.customer, { credential: { source: 'customer.keyEnv VERIFY_KEY', value: KEY }, ownObject: '/accounts/acc_1' });
      assert.deepEqual(a.injection, { path: '/accounts/acc_1/notes', param: 'q', auth: 'customer' });
      assert.deepEqual(a.rateLimit, { path: '/accounts/acc_1/ping', budget: 5, method: 'GET', auth: 'customer' });
      assert.deepEqual(a.oversizedBody, { path: '/orders', method: 'PUT', auth: 'none' });
      const json = join(tmp.path, 'ids.json');
      writeFileSync(json, JSON.stringify({ customer: { key: KEY, header: 'X-API-Key', ownObject: '/a' } }));
      const b = await loadIdentities(json, {});
      assert.deepEqual(b.customer?.credential, { source: 'customer.key', value: KEY, header: 'x-api-key' });
      assert.equal(b.missingScope, undefined);
    } finally {
      tmp.remove();
    }
  });

  it('lists every problem at once, naming the key; never echoes a credential', () => {
    try {
      parseIdentities({ customer: { key: KEY, keyEnv: 'X', ownObject: 'accounts' }, otherObject: 'https://evil.example/x', rateLimit: { path: '/p', budget: 0 }, injection: { path: '/p', param: 'a b' }, missingScope: { tokenEnv: 'UNSET_VAR', path: '/p' }, bogus: 1 }, 'ids.yaml', {});
      assert.fail('should throw');
    } catch (err) {
      assert.ok(err instanceof IdentitiesError);
      const text = err.problems.join('\n');
      for (const m of ['unknown key bogus', 'customer: exactly one of key, keyEnv, token, tokenEnv', 'customer.ownObject', 'otherObject', 'rateLimit.budget', 'injection.param', 'missingScope.tokenEnv: the environment variable UNSET_VAR is not set']) assert.ok(text.includes(m), `${m} in\n${text}`);
      assert.ok(!err.message.includes(KEY), 'the key is not in the message');
    }
  });

  it('probes that use the customer credential need a customer, unless auth: none', () => {
    assert.throws(() => parseIdentities({ rateLimit: { path: '/p', budget: 2 } }, 'f', {}), /customer is not given/);
    assert.doesNotThrow(() => parseIdentities({ rateLimit: { path: '/p', budget: 2, auth: 'none' } }, 'f', {}));
    assert.deepEqual(parseIdentities(null, 'f', {}), { token: {} }, 'an empty file: every control skipped');
  });

  it('the plan counts every connection the run may make, the rate budget included', () => {
    const ids = parseIdentities({ customer: { key: KEY, ownObject: '/a' }, otherObject: '/b', rateLimit: { path: '/p', budget: 10 } }, 'f', {});
    // 7 TLS (5 handshakes + 2 fallbacks), 1 baseline, 4 authentication, 1 other object, 1 unknown route, 11 rate.
    assert.equal(plannedProbes(ids, true), 25);
    assert.equal(plannedProbes(ids, false), 18);
    assert.equal(plannedProbes(parseIdentities({}, 'f', {}), true), 8);
  });
});
