/**
 * Server secrets: generated once with owner-only permissions, never replaced, refused when other
 * users can read them, overridable by RAMPART_KEY_HASH_SECRET, and never quoted in an error.
 * Real files in a temp folder.
 */
import { test, describe, after, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { ConfigError } from '../../src/core/errors.js';
import { ensureSecrets, ensureSecretsFile, KEY_HASH_SECRET_ENV, loadSecrets } from '../../src/config/secrets.js';
import { tempDir } from '../helpers/tmp.js';

const tmp = tempDir('rampart-secrets-');
after(() => tmp.remove());
afterEach(() => {
  delete process.env[KEY_HASH_SECRET_ENV];
});
let n = 0;
const fresh = () => join(tmp.path, `case-${++n}`);
const mode = (p: string) => statSync(p).mode & 0o777;
const posix = process.platform !== 'win32';

describe('ensureSecrets', () => {
  test('creates {version: 1, keyHashSecret} with 32 random bytes, file 0600 in new folders 0700', async () => {
    const dir = fresh();
    const file = join(dir, '.rampart', 'secrets.json');
    const s = await ensureSecrets(file);
    assert.equal(s.keyHashSecret.length, 32);
    const stored = JSON.parse(readFileSync(file, 'utf8')) as { version: number; keyHashSecret: string };
    assert.deepEqual(Object.keys(stored), ['version', 'keyHashSecret']);
    assert.equal(stored.version, 1);
    assert.match(stored.keyHashSecret, /^[A-Za-z0-9_-]{43}$/);
    assert.deepEqual(Buffer.from(stored.keyHashSecret, 'base64url'), s.keyHashSecret);
    if (posix) {
      assert.equal(mode(file), 0o600);
      assert.equal(mode(dir), 0o700);
      assert.equal(mode(join(dir, '.rampart')), 0o700);
    }
    assert.deepEqual((await loadSecrets(file)).keyHashSecret, s.keyHashSecret);
  });

  test('never replaces an existing secret, and leaves an existing folder as it was', async () => {
    const dir = fresh();
    mkdirSync(dir, { mode: 0o755 });
    chmodSync(dir, 0o755);
    const file = join(dir, 'secrets.json');
    const first = await ensureSecretsFile(file);
    const second = await ensureSecretsFile(file);
    assert.equal(first.created, true);
    assert.equal(second.created, false);
    assert.deepEqual(second.secrets.keyHashSecret, first.secrets.keyHashSecret);
    if (posix) assert.equal(mode(dir), 0o755);
  });

  test('concurrent callers end up with one secret', async () => {
    const file = join(fresh(), 'secrets.json');
    const all = await Promise.all(Array.from({ length: 8 }, () => ensureSecrets(file)));
    for (const s of all) assert.deepEqual(s.keyHashSecret, all[0]!.keyHashSecret);
    assert.deepEqual((await loadSecrets(file)).keyHashSecret, all[0]!.keyHashSecret);
  });
});

describe('loadSecrets', () => {
  test('a missing file names the file and the fix', async () => {
    const file = join(fresh(), 'secrets.json');
    await assert.rejects(loadSecrets(file), (err: unknown) => err instanceof ConfigError && err.message.startsWith(`${file}: secrets file not found; run \`rampart init\``));
  });

  test('a file readable by group or others is refused with the chmod to run', { skip: !posix }, async () => {
    const file = join(fresh(), 'secrets.json');
    const s = await ensureSecrets(file);
    chmodSync(file, 0o644);
    await assert.rejects(loadSecrets(file), (err: unknown) => {
      assert.ok(err instanceof ConfigError);
      assert.equal(err.message, `${file}: secrets file is accessible by group or others (mode 0644); refusing to use it. Run: chmod 600 ${file}`);
      assert.ok(!err.message.includes(s.keyHashSecret.toString('base64url')));
      return true;
    });
    chmodSync(file, 0o640);
    await assert.rejects(loadSecrets(file), /mode 0640/);
    chmodSync(file, 0o600);
    assert.deepEqual((await loadSecrets(file)).keyHashSecret, s.keyHashSecret);
  });

  test('malformed content is refused without quoting it', async () => {
    const dir = fresh();
    mkdirSync(dir);
    const file = join(dir, 'secrets.json');
    const secretLooking = randomBytes(32).toString('base64url');
    for (const [content, pattern] of [
      [`{"version": 1, "keyHashSecret": "${secretLooking}"`, /is not valid JSON/],
      [`{"version": 2, "keyHashSecret": "${secretLooking}"}`, /"version": 1/],
      [`{"version": 1, "keyHashSecret": "${secretLooking.slice(0, 20)}"}`, /at least 32 bytes/],
      [`{"version": 1, "keyHashSecret": "${secretLooking}!!"}`, /base64url/],
    ] as const) {
      writeFileSync(file, content, { mode: 0o600 });
      chmodSync(file, 0o600);
      await assert.rejects(loadSecrets(file), (err: unknown) => {
        assert.ok(err instanceof ConfigError);
        assert.match(err.message, pattern);
        assert.ok(!err.message.includes(secretLooking.slice(0, 12)), 'the message must not quote the file');
        return true;
      });
    }
  });
});

describe(`${KEY_HASH_SECRET_ENV}`, () => {
  test('overrides the file (which need not exist) and is not written anywhere', async () => {
    const secret = randomBytes(32);
    process.env[KEY_HASH_SECRET_ENV] = secret.toString('base64url');
    const file = join(fresh(), 'secrets.json');
    assert.deepEqual((await loadSecrets(file)).keyHashSecret, secret);
    assert.deepEqual((await ensureSecrets(file)).keyHashSecret, secret);
    assert.equal(existsSync(file), false);
  });

  test('a value that is too short is refused without echoing it', async () => {
    const short = randomBytes(16).toString('base64url');
    process.env[KEY_HASH_SECRET_ENV] = short;
    await assert.rejects(loadSecrets(join(fresh(), 'secrets.json')), (err: unknown) => {
      assert.ok(err instanceof ConfigError);
      assert.match(err.message, /^\$RAMPART_KEY_HASH_SECRET: must be base64url of at least 32 random bytes/);
      assert.ok(!err.message.includes(short));
      return true;
    });
  });
});
