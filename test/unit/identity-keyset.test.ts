/**
 * Rampart's signing keyset: created once with owner-only permissions, stable across reloads,
 * refused when other users can read it or when it is malformed (without quoting key material),
 * rotated atomically with the old public key published for the overlap, and a JWKS that never
 * carries a private member. Real files in a temp folder; rotation times are passed, not waited for.
 */
import { test, describe, after } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { generateKeyPairSync } from 'node:crypto';
import { join } from 'node:path';
import { calculateJwkThumbprint } from 'jose';
import { ConfigError } from '../../src/core/errors.js';
import { loadKeyset, loadOrCreateKeyset, RETIRED_KEY_PUBLISH_MS, rotateKeyset } from '../../src/identity/keyset.js';
import type { Keyset } from '../../src/identity/keyset.js';
import { tempDir } from '../helpers/tmp.js';

const tmp = tempDir('rampart-keyset-');
after(() => tmp.remove());
let n = 0;
const fresh = () => join(tmp.path, `case-${++n}`);
const mode = (p: string) => statSync(p).mode & 0o777;
const posix = process.platform !== 'win32';

interface StoredFile {
  version: number;
  keys: { kid: string; alg: string; createdAt: number; retiredAt?: number; privateKey: Record<string, string> }[];
}
const readStored = (file: string) => JSON.parse(readFileSync(file, 'utf8')) as StoredFile;

/** Every private member a JWK can have (RFC 7517/7518/8037): none may appear in a JWKS. */
const PRIVATE_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'k', 'oth'];

function assertPublicOnly(ks: Keyset, now?: number): void {
  const jwks = ks.jwks(now);
  for (const k of jwks.keys) {
    assert.deepEqual(Object.keys(k).sort(), ['alg', 'crv', 'kid', 'kty', 'use', 'x']);
    for (const m of PRIVATE_MEMBERS) assert.equal(m in k, false, `JWKS member ${m} must not be published`);
  }
  const text = JSON.stringify(jwks);
  for (const key of ks.all()) assert.ok(!text.includes(key.privateKey.export({ format: 'jwk' }).d!), 'no private key in the JWKS');
}

describe('loadOrCreateKeyset', () => {
  test('creates {version: 1, keys: [one Ed25519 key]} with the RFC 7638 kid, file 0600 in new folders 0700', async () => {
    const dir = fresh();
    const file = join(dir, '.rampart', 'signing-keys.json');
    const before = Date.now();
    const ks = await loadOrCreateKeyset(file);
    assert.equal(ks.file, file);
    assert.equal(ks.all().length, 1);
    const key = ks.active();
    assert.equal(key.alg, 'EdDSA');
    assert.equal(key.retiredAt, undefined);
    assert.ok(key.createdAt >= before && key.createdAt <= Date.now());
    assert.equal(key.privateKey.asymmetricKeyType, 'ed25519');
    assert.equal(key.privateKey.type, 'private');
    assert.equal(key.publicKey.type, 'public');

    const stored = readStored(file);
    assert.deepEqual(Object.keys(stored), ['version', 'keys']);
    assert.equal(stored.version, 1);
    assert.equal(stored.keys.length, 1);
    const s = stored.keys[0]!;
    assert.deepEqual(Object.keys(s), ['kid', 'alg', 'createdAt', 'privateKey']);
    assert.equal(s.kid, key.kid);
    assert.equal(s.alg, 'EdDSA');
    assert.equal(s.createdAt, key.createdAt);
    assert.equal(s.privateKey.kty, 'OKP');
    assert.equal(s.privateKey.crv, 'Ed25519');
    assert.match(s.privateKey.d!, /^[A-Za-z0-9_-]{43}$/);
    assert.deepEqual(s.privateKey, key.privateKey.export({ format: 'jwk' }));
    // The kid is the RFC 7638 thumbprint computed by an independent implementation.
    const pub = key.publicKey.export({ format: 'jwk' });
    assert.equal(key.kid, await calculateJwkThumbprint({ kty: 'OKP', crv: 'Ed25519', x: pub.x! }, 'sha256'));

    if (posix) {
      assert.equal(mode(file), 0o600);
      assert.equal(mode(dir), 0o700);
      assert.equal(mode(join(dir, '.rampart')), 0o700);
    }
    // Nothing else left behind (no temporary file).
    assert.deepEqual(readdirSync(join(dir, '.rampart')), ['signing-keys.json']);
  });

  test('reloading gives the same key, and an existing file is never replaced', async () => {
    const file = join(fresh(), 'signing-keys.json');
    const first = await loadOrCreateKeyset(file);
    const bytes = readFileSync(file);
    const again = await loadOrCreateKeyset(file);
    const loaded = await loadKeyset(file);
    for (const ks of [again, loaded]) {
      assert.equal(ks.active().kid, first.active().kid);
      assert.equal(ks.active().createdAt, first.active().createdAt);
      assert.ok(ks.active().publicKey.equals(first.active().publicKey));
      assert.ok(ks.active().privateKey.equals(first.active().privateKey));
    }
    assert.deepEqual(readFileSync(file), bytes);
  });

  test('concurrent callers end up with one key', async () => {
    const file = join(fresh(), 'signing-keys.json');
    const all = await Promise.all(Array.from({ length: 8 }, () => loadOrCreateKeyset(file)));
    for (const ks of all) assert.equal(ks.active().kid, all[0]!.active().kid);
    assert.equal((await loadKeyset(file)).active().kid, all[0]!.active().kid);
    assert.deepEqual(readdirSync(join(file, '..')), ['signing-keys.json']);
  });
});

describe('loadKeyset refuses', () => {
  test('a missing file, naming it', async () => {
    const file = join(fresh(), 'signing-keys.json');
    await assert.rejects(loadKeyset(file), (err: unknown) => err instanceof ConfigError && err.message === `${file}: signing key file not found`);
  });

  test('a file readable by group or others, with the chmod to run and no key material', { skip: !posix }, async () => {
    const file = join(fresh(), 'signing-keys.json');
    const ks = await loadOrCreateKeyset(file);
    const d = ks.active().privateKey.export({ format: 'jwk' }).d!;
    chmodSync(file, 0o640);
    await assert.rejects(loadKeyset(file), (err: unknown) => {
      assert.ok(err instanceof ConfigError);
      assert.equal(err.message, `${file}: signing key file is accessible by group or others (mode 0640); refusing to use it. Run: chmod 600 ${file}`);
      assert.ok(!err.message.includes(d));
      return true;
    });
    chmodSync(file, 0o604);
    await assert.rejects(loadOrCreateKeyset(file), /mode 0604/);
    chmodSync(file, 0o600);
    assert.equal((await loadKeyset(file)).active().kid, ks.active().kid);
  });

  test('malformed content, naming the file and the bad value, never quoting key material', async () => {
    const dir = fresh();
    mkdirSync(dir);
    const file = join(dir, 'signing-keys.json');
    // A real, valid key file to mutate.
    const source = join(dir, 'source.json');
    const ks = await loadOrCreateKeyset(source);
    const good = readStored(source);
    const goodKey = good.keys[0]!;
    const d = goodKey.privateKey.d!;
    const other = generateKeyPairSync('ed25519').privateKey.export({ format: 'jwk' });
    const x25519 = generateKeyPairSync('x25519').privateKey.export({ format: 'jwk' });
    const withKey = (patch: Record<string, unknown>) => JSON.stringify({ version: 1, keys: [{ ...goodKey, ...patch }] });
    const cases: [string, RegExp][] = [
      [JSON.stringify(good).slice(0, -5), /: signing key file is not valid JSON/],
      ['[]', /must have "version": 1/],
      [JSON.stringify({ ...good, version: 2 }), /must have "version": 1/],
      [JSON.stringify({ version: 1, keys: [] }), /\/keys: must be a non-empty array/],
      [JSON.stringify({ version: 1, keys: {} }), /\/keys: must be a non-empty array/],
      [withKey({ alg: 'HS256' }), /\/keys\/0\/alg: must be "EdDSA"/],
      [withKey({ createdAt: 'yesterday' }), /\/keys\/0\/createdAt: must be a time/],
      [withKey({ retiredAt: -1 }), /\/keys\/0\/retiredAt: must be a time/],
      [withKey({ kid: 'not a kid!' }), /\/keys\/0\/kid: must be a base64url string/],
      [withKey({ privateKey: x25519 }), /\/keys\/0\/privateKey: is not an Ed25519 key/],
      [withKey({ privateKey: { ...goodKey.privateKey, crv: 'Ed448' } }), /is not an Ed25519 key/],
      [withKey({ privateKey: { ...goodKey.privateKey, d: d.slice(0, 30) } }), /"d" must be base64url of 32 bytes/],
      [withKey({ privateKey: { ...goodKey.privateKey, x: other.x } }), /\/keys\/0\/privateKey: "x" is not the public half of "d"/],
      [withKey({ kid: ks.active().kid.replace(/^./, (c) => (c === 'A' ? 'B' : 'A')) }), /\/keys\/0\/kid: is not the RFC 7638 thumbprint/],
      [JSON.stringify({ version: 1, keys: [goodKey, goodKey] }), /\/keys\/1\/kid: repeats the kid/],
      [withKey({ retiredAt: 1 }), /\/keys: has no active \(unretired\) key/],
    ];
    for (const [content, pattern] of cases) {
      writeFileSync(file, content, { mode: 0o600 });
      chmodSync(file, 0o600);
      for (const load of [loadKeyset, loadOrCreateKeyset]) {
        await assert.rejects(load(file), (err: unknown) => {
          assert.ok(err instanceof ConfigError, `${pattern}: ${String(err)}`);
          assert.ok(err.message.startsWith(`${file}: `), err.message);
          assert.match(err.message, pattern);
          for (const secret of [d, other.d!, x25519.d!]) assert.ok(!err.message.includes(secret.slice(0, 12)), 'the message must not quote key material');
          assert.equal(err.cause, undefined, 'no underlying error that might quote the file');
          return true;
        });
      }
      // Refused, not repaired: the file is left as it was.
      assert.equal(readFileSync(file, 'utf8'), content);
    }
  });
});

describe('rotateKeyset', () => {
  test('a new active key; the old one retired, published for 24 h, then dropped', async () => {
    const file = join(fresh(), 'signing-keys.json');
    const first = await loadOrCreateKeyset(file);
    const oldKid = first.active().kid;
    const t0 = Date.now() + 1000;

    const rotated = await rotateKeyset(file, t0);
    const newKid = rotated.active().kid;
    assert.notEqual(newKid, oldKid);
    assert.equal(rotated.active().createdAt, t0);
    assert.equal(rotated.active().retiredAt, undefined);
    assert.deepEqual(rotated.all().map((k) => [k.kid, k.retiredAt]), [[oldKid, t0], [newKid, undefined]]);
    if (posix) assert.equal(mode(file), 0o600);
    assert.deepEqual(readdirSync(join(file, '..')), ['signing-keys.json'], 'no temporary or lock file left behind');

    // The file says the same as the returned keyset.
    const reloaded = await loadKeyset(file);
    assert.equal(reloaded.active().kid, newKid);
    assert.deepEqual(readStored(file).keys.map((k) => [k.kid, k.retiredAt]), [[oldKid, t0], [newKid, undefined]]);

    const kids = (now: number) => rotated.jwks(now).keys.map((k) => k.kid);
    assert.deepEqual(kids(t0), [oldKid, newKid]);
    assert.deepEqual(kids(t0 + RETIRED_KEY_PUBLISH_MS - 1), [oldKid, newKid], 'still published during the overlap');
    assert.deepEqual(kids(t0 + RETIRED_KEY_PUBLISH_MS), [newKid], 'gone once the overlap has passed');
    assert.equal(RETIRED_KEY_PUBLISH_MS, 24 * 3600_000);

    // A second rotation within the overlap keeps both retired keys; one after it drops the first.
    const t1 = t0 + 3600_000;
    const second = await rotateKeyset(file, t1);
    assert.deepEqual(second.all().map((k) => k.retiredAt), [t0, t1, undefined]);
    assert.deepEqual(second.jwks(t1).keys.map((k) => k.kid), [oldKid, newKid, second.active().kid]);
    const third = await rotateKeyset(file, t0 + RETIRED_KEY_PUBLISH_MS);
    assert.deepEqual(third.all().map((k) => k.kid), [newKid, second.active().kid, third.active().kid]);
    assert.ok(!readFileSync(file, 'utf8').includes(first.active().privateKey.export({ format: 'jwk' }).d!), 'the dropped private key is gone from the file');
  });

  test('the JWKS holds public members only, for every key it lists', async () => {
    const file = join(fresh(), 'signing-keys.json');
    const ks = await loadOrCreateKeyset(file);
    assertPublicOnly(ks);
    const jwk = ks.jwks().keys[0]!;
    assert.deepEqual(jwk, { kty: 'OKP', crv: 'Ed25519', x: ks.active().publicKey.export({ format: 'jwk' }).x, kid: ks.active().kid, use: 'sig', alg: 'EdDSA' });
    const t = Date.now();
    const rotated = await rotateKeyset(file, t);
    assert.equal(rotated.jwks(t).keys.length, 2);
    assertPublicOnly(rotated, t);
    // Callers get copies: changing one does not change what is published next.
    rotated.jwks(t).keys[0]!.d = 'x';
    assertPublicOnly(rotated, t);
  });

  test('concurrent rotations are serialised: no key is lost', async () => {
    const file = join(fresh(), 'signing-keys.json');
    const first = await loadOrCreateKeyset(file);
    const t = Date.now();
    const results = await Promise.all([1, 2, 3].map((i) => rotateKeyset(file, t + i)));
    const final = await loadKeyset(file);
    assert.equal(final.all().length, 4);
    assert.equal(final.all().filter((k) => k.retiredAt === undefined).length, 1);
    const kids = new Set(final.all().map((k) => k.kid));
    assert.ok(kids.has(first.active().kid));
    for (const r of results) assert.ok(kids.has(r.active().kid), 'every key handed out is in the file');
    assert.deepEqual(readdirSync(join(file, '..')), ['signing-keys.json']);
  });

  test('a missing file is not created by a rotation', async () => {
    const dir = fresh();
    mkdirSync(dir);
    const file = join(dir, 'signing-keys.json');
    await assert.rejects(rotateKeyset(file), (err: unknown) => err instanceof ConfigError && err.message === `${file}: signing key file not found`);
    assert.deepEqual(readdirSync(dir), []);
  });

  test('a lock left behind by a crashed rotation is reported, not broken silently', async () => {
    const file = join(fresh(), 'signing-keys.json');
    const ks = await loadOrCreateKeyset(file);
    writeFileSync(`${file}.lock`, '999999\n');
    await assert.rejects(rotateKeyset(file), (err: unknown) => {
      assert.ok(err instanceof ConfigError);
      assert.match(err.message, new RegExp(`another key rotation holds the lock ${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\.lock`));
      return true;
    });
    assert.equal((await loadKeyset(file)).active().kid, ks.active().kid, 'the keyset is untouched');
  });
});
