/**
 * AES-256-GCM envelopes (ENC-5): the layout is the documented one and interoperates with plain
 * AES-GCM (a published test vector opens), IVs are fresh for every seal (also across refills of
 * the IV pool), and every way an envelope can be wrong fails with RAMPART_DECRYPT_FAILED.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createDecipheriv, randomBytes } from 'node:crypto';
import { AEAD_FORMAT_VERSION, AEAD_OVERHEAD, open, seal } from '../../src/crypto/aead.js';

const key = randomBytes(32);
const aad = Buffer.from('rampart-priv|42|dk_test');

function decryptFails(fn: () => unknown, why: string): void {
  assert.throws(fn, (e: any) => e.code === 'RAMPART_DECRYPT_FAILED' && typeof e.message === 'string', why);
}

test('seal/open round-trips plaintexts of any size under the documented layout', () => {
  for (const size of [0, 1, 15, 16, 17, 500, 100_000]) {
    const pt = randomBytes(size);
    const env = seal(key, pt, aad);
    assert.equal(env.length, size + AEAD_OVERHEAD);
    assert.equal(env[0], AEAD_FORMAT_VERSION);
    assert.deepEqual(open(key, env, aad), pt);
    // The layout is plain AES-256-GCM: version ‖ IV(12) ‖ ciphertext ‖ tag(16).
    const d = createDecipheriv('aes-256-gcm', key, env.subarray(1, 13));
    d.setAAD(aad);
    d.setAuthTag(env.subarray(env.length - 16));
    assert.deepEqual(Buffer.concat([d.update(env.subarray(13, env.length - 16)), d.final()]), pt);
  }
});

test('open() reads an envelope built from a published AES-256-GCM test vector (GCM spec, test case 16)', () => {
  const k = Buffer.from('feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308', 'hex');
  const p = 'd9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a721c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b39';
  const a = Buffer.from('feedfacedeadbeeffeedfacedeadbeefabaddad2', 'hex');
  const iv = 'cafebabefacedbaddecaf888';
  const c = '522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662';
  const t = '76fc6ece0f4e1768cddf8853bb2d551b';
  const envelope = Buffer.from(`01${iv}${c}${t}`, 'hex');
  assert.equal(open(k, envelope, a).toString('hex'), p);
});

test('every seal uses a fresh IV, also across many refills of the IV pool', () => {
  const pt = Buffer.from('same plaintext every time');
  const ivs = new Set<string>();
  const n = 5000; // the pool holds 341 IVs: this crosses ~15 refills
  for (let i = 0; i < n; i++) {
    const env = seal(key, pt, aad);
    ivs.add(env.subarray(1, 13).toString('hex'));
  }
  assert.equal(ivs.size, n);
  assert.notDeepEqual(seal(key, pt, aad), seal(key, pt, aad));
});

test('a wrong key, another AAD or any altered byte fails with RAMPART_DECRYPT_FAILED', () => {
  const pt = randomBytes(500);
  const env = seal(key, pt, aad);
  decryptFails(() => open(randomBytes(32), env, aad), 'wrong key');
  decryptFails(() => open(key, env, Buffer.from('rampart-priv|43|dk_test')), 'other AAD');
  decryptFails(() => open(key, env, Buffer.alloc(0)), 'no AAD');
  // Flip one bit in each region: version, IV, ciphertext, tag.
  for (const at of [0, 1, 12, 13, 13 + 250, env.length - 16, env.length - 1]) {
    const bad = Buffer.from(env);
    bad[at]! ^= 0x01;
    decryptFails(() => open(key, bad, aad), `byte ${at} altered`);
  }
});

test('truncated envelopes and unknown format versions fail with RAMPART_DECRYPT_FAILED', () => {
  const env = seal(key, Buffer.from('0123456789'), aad);
  for (const len of [0, 1, 12, 13, AEAD_OVERHEAD - 1, AEAD_OVERHEAD, env.length - 1]) {
    decryptFails(() => open(key, env.subarray(0, len), aad), `cut to ${len} bytes`);
  }
  const v2 = Buffer.from(env);
  v2[0] = 0x02;
  assert.throws(() => open(key, v2, aad), (e: any) => e.code === 'RAMPART_DECRYPT_FAILED' && /format version 2/.test(e.message));
});

test('keys that are not 32 bytes, and all-zero (forgotten) keys, are refused as misuse', () => {
  assert.throws(() => seal(randomBytes(16), Buffer.from('x'), aad), TypeError);
  assert.throws(() => open(randomBytes(31), seal(key, Buffer.from('x'), aad), aad), TypeError);
  assert.throws(() => seal(Buffer.alloc(32), Buffer.from('x'), aad), /all zeros/);
});
