/**
 * The version a gateway starts with (issue 6, src/gateway/started-version.ts): stored with its
 * bundle and hash, its activation recorded; under `changes.approvals` a start from an edited,
 * unapproved file is refused (a restart must not bypass approval), while a first start and a
 * restart of the version that ran last are allowed; a configuration whose files cannot travel as
 * a bundle runs under the plain hash, unless approvals are required.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { localVersion } from '../../src/config/bundle.js';
import { loadConfig } from '../../src/config/load.js';
import { ensureSecrets } from '../../src/config/secrets.js';
import { ConfigError } from '../../src/core/errors.js';
import { silentLogger } from '../../src/core/log.js';
import { startGateway } from '../../src/gateway/start.js';
import { openStorage } from '../../src/storage/open.js';
import { FIXTURE_SPEC, rawRequest } from '../helpers/gateway.js';
import { tempDir } from '../helpers/tmp.js';
import { startTestUpstream, type TestUpstream } from '../helpers/upstream.js';

describe('the version a gateway starts with (issue 6)', () => {
  const dir = tempDir('rampart-startver-');
  let upstream: TestUpstream;
  const file = join(dir.path, 'rampart.yaml');

  function write(o: { approvals: number; maxBodyBytes?: number; spec?: string }): void {
    writeFileSync(
      file,
      stringify({
        version: 1,
        listen: { host: '127.0.0.1', port: 0, plainHttp: true },
        secretsFile: 'secrets.json',
        storage: { driver: 'sqlite', sqlite: { path: 'rampart.db' } },
        ledger: { selfVerify: { intervalSeconds: 0 } },
        changes: { approvals: o.approvals },
        ...(o.maxBodyBytes ? { limits: { maxBodyBytes: o.maxBodyBytes } } : {}),
        apis: [{ name: 'test', openapi: o.spec ?? 'api.yaml', upstream: { url: upstream.url }, mount: { prefix: '/' } }],
      }),
    );
  }

  async function start() {
    const config = await loadConfig(file);
    await ensureSecrets(config.secretsFile);
    return startGateway({ config, configDir: dir.path, configFile: file, logger: silentLogger(), keyPollMs: 50 });
  }

  before(async () => {
    upstream = await startTestUpstream();
    copyFileSync(FIXTURE_SPEC, join(dir.path, 'api.yaml'));
  });
  after(async () => {
    await upstream.close();
    dir.remove();
  });

  it('stores the started version under the hash `plan` computes over the files, and records its activation', async () => {
    write({ approvals: 1 });
    const gw = await start();
    try {
      const local = await localVersion(file);
      assert.equal(gw.runtime().hash, local.hash, 'the gateway names the repository hash');
      const v = await gw.storage.configs.getVersion(local.hash);
      assert.ok(v, 'stored');
      assert.match(v.author, /^startup:/);
      const [act] = await gw.storage.configs.activations(1);
      assert.equal(act?.hash, local.hash);
      assert.equal(act?.by, 'startup');
      assert.equal((await rawRequest(gw.url, 'GET', '/public/ping')).status, 200);
    } finally {
      await gw.close();
    }
  });

  it('refuses to start an edited version that was never approved; the last version restarts', async () => {
    const approved = (await localVersion(file)).hash;
    write({ approvals: 1, maxBodyBytes: 123_456 });
    const edited = (await localVersion(file)).hash;
    await assert.rejects(start(), (err: unknown) => {
      assert.ok(err instanceof ConfigError, String(err));
      assert.equal(err.issues[0]!.pointer, '/changes/approvals');
      assert.match(err.message, new RegExp(`${edited}, which was never submitted for approval`));
      assert.match(err.message, new RegExp(`the version applied here last is ${approved}`));
      return true;
    });
    // Lowering the bar in the file does not help: the last version's setting counts too.
    write({ approvals: 0, maxBodyBytes: 123_456 });
    await assert.rejects(start(), /never submitted for approval/);

    write({ approvals: 1 });
    const gw = await start();
    assert.equal(gw.runtime().hash, approved);
    await gw.close();
  });

  it('starts an edited version once another admin approved it', async () => {
    write({ approvals: 1, maxBodyBytes: 123_456 });
    const local = await localVersion(file);
    const storage = await openStorage((await loadConfig(file)).storage);
    try {
      const now = Date.now();
      for (const u of ['alice', 'bob']) {
        await storage.admin.insertUser({ id: u, username: u, passwordHash: 'h', roles: ['security'], recoveryCodeHashes: [], disabled: false, failedLogins: 0, createdAt: now, updatedAt: now });
      }
      const { encodeStoredBundle } = await import('../../src/config/bundle.js');
      await storage.configs.putVersion({ hash: local.hash, createdAt: now, author: 'alice', bundle: encodeStoredBundle(local.bundle), profile: 'default', message: 'bigger bodies' });
      await storage.configs.addApproval({ hash: local.hash, approver: 'alice', at: now, comment: 'mine' });
    } finally {
      await storage.close();
    }
    await assert.rejects(start(), /has 0 of the 1 approval/, "the author's own approval does not count");

    const again = await openStorage((await loadConfig(file)).storage);
    try {
      await again.configs.addApproval({ hash: local.hash, approver: 'bob', at: Date.now(), comment: 'ok' });
    } finally {
      await again.close();
    }
    const gw = await start();
    assert.equal(gw.runtime().hash, local.hash);
    await gw.close();
  });

  it('a configuration whose document lies outside its folder: plain hash and a start, unless approvals are required', async () => {
    write({ approvals: 0, spec: FIXTURE_SPEC });
    const gw = await start();
    assert.equal((await rawRequest(gw.url, 'GET', '/public/ping')).status, 200);
    await gw.close();
    write({ approvals: 1, spec: FIXTURE_SPEC });
    await assert.rejects(start(), (err: unknown) => err instanceof ConfigError && /\/apis\/0\/openapi/.test(err.message));
  });
});
