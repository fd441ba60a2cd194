/**
 * The configuration hash names the configuration version on every ledger record: equal for the
 * same meaning, different for any change of configuration or OpenAPI bytes, and recomputable
 * offline from its published definition.
 */
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { configHash } from '../../src/config/hash.js';
import { parseConfig } from '../../src/config/load.js';
import { canonicalize } from '../../src/ledger/canonical.js';

const YAML = `version: 1
listen:
  host: 127.0.0.1
  tls: { cert: tls/cert.pem, key: tls/key.pem }
apis:
  - name: brokerage
    openapi: brokerage.yaml
    upstream: { url: "http://127.0.0.1:9000" }
`;
/** The same configuration with keys in another order and other formatting. */
const REORDERED = `apis:
  - upstream:
      url: http://127.0.0.1:9000
    openapi: ./brokerage.yaml
    name: brokerage
listen:
  tls:
    key: tls/key.pem
    cert: tls/cert.pem
  host: "127.0.0.1"
version: 1
`;
const env = { env: {} };
const load = (text: string, file = '/srv/rampart/rampart.yaml') => parseConfig(text, file, env);
const SPEC = Buffer.from('openapi: 3.0.3\ninfo: { title: t, version: "1" }\npaths: {}\n');

describe('configHash', () => {
  test("has the form sha256:<64 hex> and is stable", () => {
    const h = configHash(load(YAML), [SPEC]);
    assert.match(h, /^sha256:[0-9a-f]{64}$/);
    assert.equal(configHash(load(YAML), [Buffer.from(SPEC)]), h);
  });

  test('key order and YAML formatting do not matter (canonical JSON)', () => {
    assert.equal(configHash(load(REORDERED), [SPEC]), configHash(load(YAML), [SPEC]));
  });

  test('defaults written out explicitly hash like defaults left out', () => {
    const explicit = YAML.replace('  host: 127.0.0.1\n', '  host: 127.0.0.1\n  port: 8443\n  plainHttp: false\n') + 'ledger: { durability: strict, maxBatch: 256 }\n';
    assert.equal(configHash(load(explicit), [SPEC]), configHash(load(YAML), [SPEC]));
  });

  test('any change of a setting changes the hash', () => {
    const base = configHash(load(YAML), [SPEC]);
    for (const changed of [
      YAML.replace('127.0.0.1:9000', '127.0.0.1:9001'),
      YAML + 'limits: { maxBodyBytes: 2048 }\n',
      YAML + 'profile: finra\n',
      YAML.replace('tls: {', 'tls: { minVersion: TLSv1.3,'),
    ]) {
      assert.notEqual(configHash(load(changed), [SPEC]), base, changed);
    }
  });

  test('the OpenAPI bytes are covered, in order, with unambiguous boundaries', () => {
    const c = load(YAML);
    const a = Buffer.from('ab');
    const b = Buffer.from('c');
    const hashes = new Set([
      configHash(c, []),
      configHash(c, [SPEC]),
      configHash(c, [Buffer.concat([SPEC, Buffer.from(' ')])]),
      configHash(c, [a, b]),
      configHash(c, [b, a]),
      configHash(c, [Buffer.from('a'), Buffer.from('bc')]),
      configHash(c, [Buffer.from('abc')]),
    ]);
    assert.equal(hashes.size, 7);
  });

  test('matches the published definition (recomputed here by hand)', () => {
    const c = load(YAML);
    const { node: _node, ...view } = c;
    // The default checkpoint origin names the node; it is hashed without it, like `node`.
    const json = Buffer.from(canonicalize({ ...view, ledger: { ...view.ledger, checkpoints: { ...view.ledger.checkpoints, origin: 'rampart/<node>' } } }));
    const u64 = (n: number) => {
      const b = Buffer.alloc(8);
      b.writeBigUInt64BE(BigInt(n));
      return b;
    };
    const expected = createHash('sha256')
      .update('rampart-config-hash/1\0')
      .update(u64(json.length))
      .update(json)
      .update(u64(SPEC.length))
      .update(SPEC)
      .digest('hex');
    assert.equal(configHash(c, [SPEC]), `sha256:${expected}`);
  });

  test('the node name is not part of the version (a cluster shares one)', () => {
    assert.equal(configHash(load(`${YAML}node: gw-1\n`), [SPEC]), configHash(load(`${YAML}node: gw-2\n`), [SPEC]));
  });

  test('a database password never enters the hash input', () => {
    const pg = (pw: string) => load(`${YAML}storage:\n  driver: postgres\n  postgres: { url: "postgres://rampart:${pw}@127.0.0.1/db" }\n`);
    assert.equal(configHash(pg('one'), [SPEC]), configHash(pg('two'), [SPEC]));
    assert.notEqual(configHash(pg('one'), [SPEC]), configHash(load(`${YAML}storage:\n  driver: postgres\n  postgres: { url: "postgres://rampart:one@127.0.0.2/db" }\n`), [SPEC]));
  });

  test('nor does the retention role\'s password (storage.postgres.retentionUrl, AU-9(4))', () => {
    const pg = (pw: string) => load(`${YAML}storage:\n  driver: postgres\n  postgres: { url: "postgres://gw:x@127.0.0.1/db", retentionUrl: "postgres://ret:${pw}@127.0.0.1/db" }\n`);
    assert.equal(configHash(pg('one'), [SPEC]), configHash(pg('two'), [SPEC]));
    assert.notEqual(configHash(pg('one'), [SPEC]), configHash(load(`${YAML}storage:\n  driver: postgres\n  postgres: { url: "postgres://gw:x@127.0.0.1/db" }\n`), [SPEC]));
  });

  test('with baseDir, checkouts in different folders hash alike; without it they do not', () => {
    const here = load(YAML, '/srv/a/rampart.yaml');
    const there = load(YAML, '/home/ops/b/rampart.yaml');
    assert.equal(configHash(here, [SPEC], { baseDir: '/srv/a' }), configHash(there, [SPEC], { baseDir: '/home/ops/b' }));
    assert.notEqual(configHash(here, [SPEC]), configHash(there, [SPEC]));
    // A path outside baseDir stays absolute, so moving it is still a change.
    const outside = load(YAML.replace('brokerage.yaml', '/etc/specs/brokerage.yaml'), '/srv/a/rampart.yaml');
    assert.notEqual(configHash(outside, [SPEC], { baseDir: '/srv/a' }), configHash(here, [SPEC], { baseDir: '/srv/a' }));
  });

  test('misuse is a TypeError', () => {
    assert.throws(() => configHash(load(YAML), ['text' as unknown as Buffer]), TypeError);
  });
});
