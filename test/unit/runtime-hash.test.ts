/**
 * The configuration version hash on every ledger record must name the configuration, not where
 * it was checked out: the same repository in two folders gives the same hash.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadConfig } from '../../src/config/load.js';
import { buildRuntime } from '../../src/gateway/runtime.js';
import { FIXTURE_SPEC } from '../helpers/gateway.js';
import { tempDir } from '../helpers/tmp.js';

const YAML = `version: 1
listen: { host: 127.0.0.1, port: 0, plainHttp: true }
secretsFile: secrets.json
storage: { driver: sqlite, sqlite: { path: rampart.db } }
apis:
  - name: test
    openapi: api.yaml
    upstream: { url: "http://127.0.0.1:9" }
    mount: { prefix: / }
`;

test('the same configuration in two folders has one version hash', async () => {
  const dirs = [tempDir('rampart-hash-a-'), tempDir('rampart-hash-b-')];
  try {
    const hashes: string[] = [];
    const absolute: string[] = [];
    for (const d of dirs) {
      writeFileSync(join(d.path, 'rampart.yaml'), YAML);
      copyFileSync(FIXTURE_SPEC, join(d.path, 'api.yaml'));
      const config = await loadConfig(join(d.path, 'rampart.yaml'));
      const rt = await buildRuntime(config, () => [], { configDir: d.path });
      hashes.push(rt.hash);
      await rt.close();
      const rt2 = await buildRuntime(config, () => []);
      absolute.push(rt2.hash);
      await rt2.close();
    }
    assert.match(hashes[0]!, /^sha256:[0-9a-f]{64}$/);
    assert.equal(hashes[0], hashes[1]);
    assert.notEqual(absolute[0], absolute[1], 'without the folder, absolute paths make the hashes differ');
  } finally {
    for (const d of dirs) d.remove();
  }
});
