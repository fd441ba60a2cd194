/**
 * The development KEK providers (file, env) and openKekProvider: wraps bind the aad (a DEK wrapped
 * for one id does not unwrap under another's), rotation keeps every earlier version usable
 * (ENC-6), the keyring file is owner-only and survives reopening and concurrent creation, and
 * each misconfiguration fails with a precise code.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { chmodSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { openFileKekProvider } from '../../src/crypto/kek/file.js';
import { openEnvKekProvider } from '../../src/crypto/kek/env.js';
import { openKekProvider } from '../../src/crypto/kek/open.js';
import { tempDir } from '../helpers/tmp.js';

const aadFor = (id: string) => Buffer.from(`rampart-dek|${id}|exchange|20500`);
const code = (c: string) => (e: any) => e.code === c;

async function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = tempDir('rampart-kek-');
  try {
    await fn(dir.path);
  } finally {
    dir.remove();
  }
}

test('file provider: creates an owner-only keyring and wraps with the aad bound', async () => {
  await withDir(async (dir) => {
    const file = join(dir, 'kek.json');
    const kek = await openFileKekProvider(file, { now: () => Date.UTC(2025, 0, 1) });
    assert.equal(statSync(file).mode & 0o777, 0o600);
    assert.equal(kek.kind, 'file');
    assert.equal(kek.developmentOnly, true);
    assert.match(kek.currentKeyId(), /^file:[0-9a-f]{8}$/);
    const stored = JSON.parse(readFileSync(file, 'utf8'));
    assert.equal(stored.current, kek.currentKeyId());
    assert.equal(stored.keys[0].createdAt, '2025-01-01T00:00:00.000Z');

    const dek = randomBytes(32);
    const { kekId, wrapped } = await kek.wrap(dek, aadFor('dk_a'));
    assert.equal(kekId, kek.currentKeyId());
    assert.equal(wrapped.indexOf(dek), -1);
    assert.deepEqual(await kek.unwrap(kekId, wrapped, aadFor('dk_a')), dek);
    // The same wrapped bytes on another key's row do not unwrap.
    await assert.rejects(kek.unwrap(kekId, wrapped, aadFor('dk_b')), code('RAMPART_DECRYPT_FAILED'));
    await assert.rejects(kek.unwrap('file:00000000', wrapped, aadFor('dk_a')), code('RAMPART_KEK_UNKNOWN'));
    await kek.close();
    await assert.rejects(kek.wrap(dek, aadFor('dk_a')), code('RAMPART_KEK_UNAVAILABLE'));
  });
});

test('file provider: rotation adds a version; every earlier version still unwraps, also after reopening', async () => {
  await withDir(async (dir) => {
    const file = join(dir, 'kek.json');
    const kek = await openFileKekProvider(file);
    const v1 = kek.currentKeyId();
    const dek1 = randomBytes(32);
    const w1 = await kek.wrap(dek1, aadFor('dk_1'));

    const v2 = await kek.rotate();
    assert.notEqual(v2, v1);
    assert.equal(kek.currentKeyId(), v2);
    assert.equal(statSync(file).mode & 0o777, 0o600, 'still owner-only after the atomic replace');
    const dek2 = randomBytes(32);
    const w2 = await kek.wrap(dek2, aadFor('dk_2'));
    assert.equal(w2.kekId, v2);
    assert.deepEqual(await kek.unwrap(w1.kekId, w1.wrapped, aadFor('dk_1')), dek1);
    const v3 = await kek.rotate();
    await kek.close();

    const again = await openFileKekProvider(file);
    assert.equal(again.currentKeyId(), v3);
    assert.deepEqual(await again.unwrap(v1, w1.wrapped, aadFor('dk_1')), dek1);
    assert.deepEqual(await again.unwrap(v2, w2.wrapped, aadFor('dk_2')), dek2);
    assert.equal(JSON.parse(readFileSync(file, 'utf8')).keys.length, 3);
    await again.close();
  });
});

test('file provider: a version rotated in by another process is found on unwrap (re-read once)', async () => {
  await withDir(async (dir) => {
    const file = join(dir, 'kek.json');
    const gateway = await openFileKekProvider(file);
    const cli = await openFileKekProvider(file);
    const v2 = await cli.rotate();
    const dek = randomBytes(32);
    const w = await cli.wrap(dek, aadFor('dk_x'));
    assert.equal(w.kekId, v2);
    assert.deepEqual(await gateway.unwrap(w.kekId, w.wrapped, aadFor('dk_x')), dek);
    assert.equal(gateway.currentKeyId(), v2);
    // A rotation of its own builds on the newest file: no version is lost.
    const v3 = await gateway.rotate();
    const ids = JSON.parse(readFileSync(file, 'utf8')).keys.map((k: any) => k.id);
    assert.equal(ids.length, 3);
    assert.ok(ids.includes(v2) && ids.includes(v3));
    await Promise.all([gateway.close(), cli.close()]);
  });
});

test('file provider: two processes creating the keyring at once end up with one', async () => {
  await withDir(async (dir) => {
    const file = join(dir, 'kek.json');
    const [a, b] = await Promise.all([openFileKekProvider(file), openFileKekProvider(file)]);
    assert.equal(a.currentKeyId(), b.currentKeyId());
    const dek = randomBytes(32);
    const w = await a.wrap(dek, aadFor('dk_r'));
    assert.deepEqual(await b.unwrap(w.kekId, w.wrapped, aadFor('dk_r')), dek);
    await Promise.all([a.close(), b.close()]);
  });
});

test('file provider: a readable-by-others, malformed or edited keyring is refused; a held rotation lock is reported', async () => {
  await withDir(async (dir) => {
    const file = join(dir, 'kek.json');
    const kek = await openFileKekProvider(file);
    writeFileSync(`${file}.lock`, '999\n');
    await assert.rejects(kek.rotate(), (e: any) => e.code === 'RAMPART_KEK_BUSY' && e.message.includes('.lock'));
    await kek.close();

    chmodSync(file, 0o644);
    await assert.rejects(openFileKekProvider(file), (e: any) => e.code === 'RAMPART_KEK_INSECURE' && e.message.includes('chmod 600'));
    chmodSync(file, 0o600);

    const good = readFileSync(file, 'utf8');
    writeFileSync(file, '{ not json', { mode: 0o600 });
    await assert.rejects(openFileKekProvider(file), code('RAMPART_KEK_INVALID'));
    const edited = JSON.parse(good);
    edited.keys[0].key = randomBytes(32).toString('base64'); // the id no longer matches the key
    writeFileSync(file, JSON.stringify(edited), { mode: 0o600 });
    await assert.rejects(openFileKekProvider(file), (e: any) => e.code === 'RAMPART_KEK_INVALID' && /does not match/.test(e.message));
  });
});

test('env provider: one version from the variable; rotation by hand through the _PREVIOUS variable', async () => {
  const keyA = randomBytes(32).toString('base64');
  const keyB = randomBytes(32).toString('base64');
  const a = openEnvKekProvider({ variable: 'RAMPART_KEK', env: { RAMPART_KEK: keyA } });
  assert.equal(a.kind, 'env');
  assert.equal(a.developmentOnly, true);
  assert.match(a.currentKeyId(), /^env:[0-9a-f]{8}$/);
  const dek = randomBytes(32);
  const w = await a.wrap(dek, aadFor('dk_e'));
  assert.deepEqual(await a.unwrap(w.kekId, w.wrapped, aadFor('dk_e')), dek);
  await assert.rejects(a.unwrap(w.kekId, w.wrapped, aadFor('dk_f')), code('RAMPART_DECRYPT_FAILED'));
  await assert.rejects(a.rotate(), (e: any) => e.code === 'RAMPART_KEK_ROTATE_UNSUPPORTED' && e.message.includes('RAMPART_KEK_PREVIOUS'));

  // The operator sets a new key and keeps the old one as RAMPART_KEK_PREVIOUS.
  const b = openEnvKekProvider({ variable: 'RAMPART_KEK', env: { RAMPART_KEK: keyB, RAMPART_KEK_PREVIOUS: keyA } });
  assert.notEqual(b.currentKeyId(), a.currentKeyId());
  assert.deepEqual(await b.unwrap(w.kekId, w.wrapped, aadFor('dk_e')), dek);
  assert.equal((await b.wrap(dek, aadFor('dk_e'))).kekId, b.currentKeyId());
  // Without the previous key the old version is unknown, and the error says which variable to set.
  const c = openEnvKekProvider({ variable: 'RAMPART_KEK', env: { RAMPART_KEK: keyB } });
  await assert.rejects(c.unwrap(w.kekId, w.wrapped, aadFor('dk_e')), (e: any) => e.code === 'RAMPART_KEK_UNKNOWN' && e.message.includes('RAMPART_KEK_PREVIOUS'));
  const d = openEnvKekProvider({ variable: 'K', previousVariable: 'OLD_K', env: { K: keyB, OLD_K: keyA } });
  assert.deepEqual(await d.unwrap(w.kekId, w.wrapped, aadFor('dk_e')), dek);
  await Promise.all([a.close(), b.close(), c.close(), d.close()]);
});

test('env provider: an unset or malformed variable is refused with a precise code', () => {
  assert.throws(() => openEnvKekProvider({ variable: 'RAMPART_KEK', env: {} }), code('RAMPART_KEK_NOT_FOUND'));
  assert.throws(() => openEnvKekProvider({ variable: 'RAMPART_KEK', env: { RAMPART_KEK: randomBytes(16).toString('base64') } }), code('RAMPART_KEK_INVALID'));
  assert.throws(() => openEnvKekProvider({ variable: 'RAMPART_KEK', env: { RAMPART_KEK: 'not base64 at all!' } }), code('RAMPART_KEK_INVALID'));
  const good = randomBytes(32).toString('base64');
  assert.throws(() => openEnvKekProvider({ variable: 'RAMPART_KEK', env: { RAMPART_KEK: good, RAMPART_KEK_PREVIOUS: 'short' } }), code('RAMPART_KEK_INVALID'));
});

test('openKekProvider builds file and env providers and refuses configs it cannot satisfy', async () => {
  await withDir(async (dir) => {
    const file = await openKekProvider({ provider: 'file', file: join(dir, 'kek.json') });
    assert.equal(file.kind, 'file');
    await file.close();
    const env = await openKekProvider({ provider: 'env', variable: 'X_KEK' }, { X_KEK: randomBytes(32).toString('base64') });
    assert.equal(env.kind, 'env');
    await env.close();
    await assert.rejects(
      openKekProvider({ provider: 'pkcs11', module: '/nonexistent.so', keyLabel: 'k' }),
      (e: any) => e.code === 'RAMPART_KEK_CONFIG_INVALID' && e.message.includes('pinEnv'),
    );
    await assert.rejects(
      openKekProvider({ provider: 'pkcs11', module: '/nonexistent.so', keyLabel: 'k', pinEnv: 'HSM_PIN' }, {}),
      (e: any) => e.code === 'RAMPART_KEK_CONFIG_INVALID' && e.message.includes('HSM_PIN'),
    );
    await assert.rejects(
      openKekProvider({ provider: 'pkcs11', module: join(dir, 'missing.so'), keyLabel: 'k', pinEnv: 'HSM_PIN' }, { HSM_PIN: '1234' }),
      code('RAMPART_KEK_UNAVAILABLE'),
    );
    await assert.rejects(openKekProvider({ provider: 'aws-kms' } as any), code('RAMPART_KEK_CONFIG_INVALID'));
  });
});
