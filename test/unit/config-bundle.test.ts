/**
 * The configuration bundle of `rampart apply` (issue 6): it ships the config, its OpenAPI
 * documents with the files they $ref, and public certificates, never a private key or secret;
 * paths cannot leave the folder; damaged bytes are refused; and the hash the gateway computes
 * from the shipped version is the hash the CLI computes over the repository (R17a4-3 (4): the
 * hash on every record names what decided).
 */
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { checkBundle, hashOfBundle, loadBundle, localVersion, makeBundle, type ConfigBundle } from '../../src/config/bundle.js';
import { configHash } from '../../src/config/hash.js';
import { loadConfig } from '../../src/config/load.js';
import { ConfigError } from '../../src/core/errors.js';
import { generateDevCertificate } from '../../src/tls/dev-cert.js';
import { tempDir } from '../helpers/tmp.js';

const SPEC = `openapi: 3.0.3
info: { title: t, version: "1" }
paths:
  /accounts:
    get:
      operationId: listAccounts
      responses:
        "200":
          description: ok
          content:
            application/json:
              schema: { $ref: "schemas/common.yaml#/Account" }
`;
const COMMON = 'Account:\n  type: object\n  properties:\n    id: { type: string }\n';

/** A repository folder with TLS, an upstream CA and client certificate, and every secret a config can name. */
async function repo(extraYaml = ''): Promise<{ dir: string; file: string; keyPem: string; remove(): void }> {
  const t = tempDir('rampart-bundle-');
  const dir = t.path;
  const c = await generateDevCertificate({ hosts: ['localhost'] });
  mkdirSync(join(dir, 'tls'));
  mkdirSync(join(dir, 'schemas'));
  mkdirSync(join(dir, 'upstream'));
  writeFileSync(join(dir, 'tls', 'cert.pem'), c.certPem);
  writeFileSync(join(dir, 'tls', 'key.pem'), c.keyPem, { mode: 0o600 });
  writeFileSync(join(dir, 'tls', 'clients-ca.pem'), c.certPem);
  writeFileSync(join(dir, 'upstream', 'ca.pem'), c.certPem);
  writeFileSync(join(dir, 'upstream', 'client.pem'), c.certPem);
  writeFileSync(join(dir, 'upstream', 'client-key.pem'), c.keyPem, { mode: 0o600 });
  writeFileSync(join(dir, 'secrets.json'), '{"keyHashSecret":"c2VjcmV0"}');
  writeFileSync(join(dir, 'kek.json'), '{"kek":"secret"}');
  writeFileSync(join(dir, 'api.yaml'), SPEC);
  writeFileSync(join(dir, 'schemas', 'common.yaml'), COMMON);
  const file = join(dir, 'rampart.yaml');
  writeFileSync(
    file,
    `version: 1
listen:
  host: 127.0.0.1
  port: 0
  tls: { cert: tls/cert.pem, key: tls/key.pem, ca: tls/clients-ca.pem }
secretsFile: secrets.json
identity: { signingKeysFile: signing-keys.json }
storage: { driver: sqlite, sqlite: { path: data/rampart.db } }
ledger:
  encryption: { kek: { provider: file, file: kek.json } }
apis:
  - name: test
    openapi: api.yaml
    upstream:
      url: "https://127.0.0.1:9000"
      ca: upstream/ca.pem
      clientCertificate: { cert: upstream/client.pem, key: upstream/client-key.pem }
${extraYaml}`,
  );
  return { dir, file, keyPem: c.keyPem, remove: t.remove };
}

const paths = (b: ConfigBundle) => b.files.map((f) => f.path);
const data = (b: ConfigBundle) => b.files.map((f) => Buffer.from(f.data, 'base64').toString('utf8')).join('\n');

function reship(b: ConfigBundle, change: (files: { path: string; sha256: string; data: string }[]) => void): ConfigBundle {
  const files = structuredClone(b.files);
  change(files);
  return { ...b, files };
}
const sha = (s: string | Buffer) => createHash('sha256').update(s).digest('hex');
const file = (path: string, text: string) => ({ path, sha256: sha(text), data: Buffer.from(text).toString('base64') });

async function rejects(p: Promise<unknown>, re: RegExp): Promise<ConfigError> {
  try {
    await p;
  } catch (err) {
    assert.ok(err instanceof ConfigError, `a ConfigError, not ${String(err)}`);
    assert.match(err.message, re);
    return err;
  }
  assert.fail(`expected a refusal matching ${re}`);
}

describe('configuration bundle (issue 6)', () => {
  let r: Awaited<ReturnType<typeof repo>>;
  let gatewayDir: ReturnType<typeof tempDir>;
  before(async () => {
    r = await repo();
    gatewayDir = tempDir('rampart-gwdir-');
  });
  after(() => {
    r.remove();
    gatewayDir.remove();
  });

  test('holds the config, its documents with their $refs and the public certificates; never a private key or secret', async () => {
    const b = await makeBundle(r.file);
    assert.equal(b.format, 'rampart-config-bundle/1');
    assert.equal(b.root, 'rampart.yaml');
    assert.deepEqual(paths(b), ['api.yaml', 'rampart.yaml', 'schemas/common.yaml', 'tls/cert.pem', 'tls/clients-ca.pem', 'upstream/ca.pem', 'upstream/client.pem']);
    const all = data(b);
    assert.ok(!all.includes('PRIVATE KEY'), 'no private key');
    assert.ok(!all.includes(r.keyPem.split('\n')[1]!), 'not the key bytes in any form');
    assert.ok(!all.includes('keyHashSecret') && !all.includes('"kek"'), 'no secrets file, no KEK');
    for (const f of b.files) assert.equal(f.sha256, sha(Buffer.from(f.data, 'base64')));
  });

  test("a file outside the config's folder is refused, naming the field", async () => {
    const outside = tempDir('rampart-outside-');
    try {
      writeFileSync(join(outside.path, 'x.pem'), 'x');
      const f = join(r.dir, 'outside.yaml');
      writeFileSync(f, readFileSync(r.file, 'utf8').replace('ca: upstream/ca.pem', `ca: ../${outside.path.split('/').pop()}/x.pem`));
      await rejects(makeBundle(f), /\/apis\/0\/upstream\/ca: the file is outside the configuration's folder/);
      writeFileSync(f, readFileSync(r.file, 'utf8').replace('ca: upstream/ca.pem', `ca: ${join(outside.path, 'x.pem')}`));
      await rejects(makeBundle(f), /\/apis\/0\/upstream\/ca: is an absolute path/);
      // A $ref that leaves the folder is refused too.
      writeFileSync(join(r.dir, 'api-out.yaml'), SPEC.replace('schemas/common.yaml', '../common.yaml'));
      writeFileSync(join(r.dir, '..', 'common.yaml'), COMMON);
      writeFileSync(f, readFileSync(r.file, 'utf8').replace('openapi: api.yaml', 'openapi: api-out.yaml'));
      await rejects(makeBundle(f), /\/apis\/0\/openapi: a \$ref of api-out\.yaml \(\.\.\/common\.yaml\) is outside/);
    } finally {
      outside.remove();
    }
  });

  test('the gateway refuses .. and absolute paths, damaged bytes, missing and extra files', async () => {
    const good = await makeBundle(r.file);
    const stateDir = join(gatewayDir.path, 'state-refusals');
    const load = (b: unknown) => loadBundle(b, { configDir: gatewayDir.path, stateDir, env: {} });
    await rejects(load(reship(good, (fs) => fs.push(file('../escape.pem', 'x')))), /must not leave the version's folder/);
    await rejects(load(reship(good, (fs) => fs.push(file('/etc/escape.pem', 'x')))), /must not leave the version's folder/);
    await rejects(load(reship(good, (fs) => fs.push(file('tls/./x.pem', 'x')))), /must not leave the version's folder/);
    await rejects(
      load(reship(good, (fs) => (fs.find((x) => x.path === 'tls/cert.pem')!.data = Buffer.from('-----BEGIN CERTIFICATE-----\nforged\n').toString('base64')))),
      /tls\/cert\.pem: its bytes do not match its sha256/,
    );
    await rejects(load(reship(good, (fs) => fs.splice(fs.findIndex((x) => x.path === 'schemas/common.yaml'), 1))), /api\.yaml:12:25: .*\$ref target file schemas\/common\.yaml file not found/);
    await rejects(load(reship(good, (fs) => fs.splice(fs.findIndex((x) => x.path === 'tls/cert.pem'), 1))), /rampart\.yaml: \/listen\/tls\/cert: names tls\/cert\.pem, which the bundle does not hold/);
    await rejects(load(reship(good, (fs) => fs.push(file('notes.txt', 'hello')))), /notes\.txt: the bundle holds this file, but the configuration does not name it/);
    await rejects(loadBundle(good, { configDir: gatewayDir.path, stateDir, env: {}, maxBytes: 100 }), /larger than changes\.maxBundleBytes/);
    // Nothing is left behind by a refusal.
    assert.deepEqual(readdirSync(join(stateDir, 'config-versions')), []);
  });

  test('loaded on the gateway: the hash equals the repository hash; shipped files in the version folder (0600/0700), keys and storage from the gateway folder', async () => {
    const local = await localVersion(r.file, { env: {} });
    const stateDir = join(gatewayDir.path, '.rampart');
    const loaded = await loadBundle(JSON.parse(JSON.stringify(local.bundle)), { configDir: gatewayDir.path, stateDir, env: {} });
    assert.equal(loaded.hash, local.hash, 'the same version hash on both sides');
    assert.equal(hashOfBundle(local.bundle, { env: {} }), local.hash, 'and computed in memory');
    assert.ok(loaded.dir.startsWith(join(stateDir, 'config-versions') + '/'));
    assert.equal(loaded.config.listen.tls!.cert, join(loaded.dir, 'tls', 'cert.pem'));
    assert.equal(loaded.config.listen.tls!.ca, join(loaded.dir, 'tls', 'clients-ca.pem'));
    assert.equal(loaded.config.apis[0]!.openapi, join(loaded.dir, 'api.yaml'));
    assert.equal(loaded.config.apis[0]!.upstream.clientCertificate!.cert, join(loaded.dir, 'upstream', 'client.pem'));
    assert.equal(loaded.config.listen.tls!.key, join(gatewayDir.path, 'tls', 'key.pem'), 'the key stays on the gateway');
    assert.equal(loaded.config.apis[0]!.upstream.clientCertificate!.key, join(gatewayDir.path, 'upstream', 'client-key.pem'));
    assert.equal(loaded.config.secretsFile, join(gatewayDir.path, 'secrets.json'));
    assert.equal(loaded.config.identity.signingKeysFile, join(gatewayDir.path, 'signing-keys.json'));
    assert.deepEqual(loaded.config.storage, { driver: 'sqlite', sqlite: { path: join(gatewayDir.path, 'data', 'rampart.db') } });
    assert.equal(readFileSync(join(loaded.dir, 'schemas', 'common.yaml'), 'utf8'), COMMON);
    assert.equal(statSync(join(loaded.dir, 'tls', 'cert.pem')).mode & 0o777, 0o600);
    assert.equal(statSync(join(loaded.dir, 'tls')).mode & 0o777, 0o700);
    assert.equal(statSync(loaded.dir).mode & 0o777, 0o700);
    // Loading the same bundle again reuses its folder (content-addressed).
    const again = await loadBundle(local.bundle, { configDir: gatewayDir.path, stateDir, env: {} });
    assert.equal(again.dir, loaded.dir);
    assert.equal(again.hash, loaded.hash);
  });

  test('without certificates or referenced files, the version hash is the hash the gateway computes at start', async () => {
    const t = tempDir('rampart-plain-');
    try {
      writeFileSync(join(t.path, 'api.yaml'), 'openapi: 3.0.3\ninfo: { title: t, version: "1" }\npaths: {}\n');
      const f = join(t.path, 'rampart.yaml');
      writeFileSync(f, 'version: 1\nlisten: { host: 127.0.0.1, port: 0, plainHttp: true }\napis:\n  - name: a\n    openapi: api.yaml\n    upstream: { url: "http://127.0.0.1:9" }\n');
      const v = await localVersion(f, { env: {} });
      const config = await loadConfig(f);
      assert.equal(v.hash, configHash(config, [readFileSync(join(t.path, 'api.yaml'))], { baseDir: t.path }));
      const loaded = await loadBundle(v.bundle, { configDir: gatewayDir.path, stateDir: join(gatewayDir.path, 'plain'), env: {} });
      assert.equal(loaded.hash, v.hash);
    } finally {
      t.remove();
    }
  });

  test('a rotated certificate or an edited referenced schema is a new version; comments are not', async () => {
    const base = (await localVersion(r.file, { env: {} })).hash;
    const certFile = join(r.dir, 'tls', 'cert.pem');
    const oldCert = readFileSync(certFile);
    writeFileSync(certFile, (await generateDevCertificate({ hosts: ['localhost'] })).certPem);
    const rotated = (await localVersion(r.file, { env: {} })).hash;
    writeFileSync(certFile, oldCert);
    writeFileSync(join(r.dir, 'schemas', 'common.yaml'), COMMON + '    name: { type: string }\n');
    const schemaEdited = (await localVersion(r.file, { env: {} })).hash;
    writeFileSync(join(r.dir, 'schemas', 'common.yaml'), COMMON);
    const text = readFileSync(r.file, 'utf8');
    writeFileSync(r.file, `# reviewed by the platform team\n${text}`);
    const commented = (await localVersion(r.file, { env: {} })).hash;
    writeFileSync(r.file, text);
    assert.notEqual(rotated, base);
    assert.notEqual(schemaEdited, base);
    assert.equal(commented, base);
    assert.equal((await localVersion(r.file, { env: {} })).hash, base, 'back to the start');
  });

  test('a config that does not validate is refused with file:line, and nothing is written', async () => {
    const b = await makeBundle(r.file);
    const bad = reship(b, (fs) => {
      const root = fs.find((x) => x.path === 'rampart.yaml')!;
      const text = Buffer.from(root.data, 'base64').toString('utf8').replace('port: 0', 'port: 70000');
      Object.assign(root, file('rampart.yaml', text));
    });
    const stateDir = join(gatewayDir.path, 'bad');
    const err = await rejects(loadBundle(bad, { configDir: gatewayDir.path, stateDir, env: {} }), /^rampart\.yaml:4:9: \/listen\/port: must be <= 65535/);
    assert.equal(err.issues[0]!.file, 'rampart.yaml', 'named by its bundle path, not the gateway folder');
    assert.deepEqual(readdirSync(join(stateDir, 'config-versions')), []);
  });

  test('checkBundle refuses malformed shapes', () => {
    assert.throws(() => checkBundle(null), /must be an object/);
    assert.throws(() => checkBundle({ format: 'other', root: 'r.yaml', files: [] }), /format must be/);
    assert.throws(() => checkBundle({ format: 'rampart-config-bundle/1', root: 'a/r.yaml', files: [file('a/r.yaml', 'x')] }), /root must be/);
    assert.throws(() => checkBundle({ format: 'rampart-config-bundle/1', root: 'r.yaml', files: [file('x.yaml', 'x')] }), /does not hold its root/);
    assert.throws(() => checkBundle({ format: 'rampart-config-bundle/1', root: 'r.yaml', files: [file('r.yaml', 'x'), file('r.yaml', 'x')] }), /appears twice/);
    assert.throws(() => checkBundle({ format: 'rampart-config-bundle/1', root: 'r.yaml', files: [{ ...file('r.yaml', 'x'), data: '!!' }] }), /not base64/);
  });
});
