/**
 * The PKCS#11 KEK provider against a real SoftHSM2 token that this test creates in a temporary
 * folder: v1 is generated on request, wraps are AES-GCM on the token with the aad bound, rotation
 * adds v2 while v1 keeps unwrapping (also after closing and reopening), concurrent callers are
 * serialised on the one session, and the KEK cannot be read out of the token (ENC-6: CKA_VALUE
 * is refused, CKA_EXTRACTABLE is false). The data-key ring runs over it end to end.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { open, seal } from '../../src/crypto/aead.js';
import { DataKeyRing, type DataKeyStore, type WrappedDataKey } from '../../src/crypto/data-keys.js';
import { openKekProvider } from '../../src/crypto/kek/open.js';
import { openPkcs11KekProvider } from '../../src/crypto/kek/pkcs11.js';
import { tempDir } from '../helpers/tmp.js';

const MODULE = '/usr/lib/softhsm/libsofthsm2.so';
const TOKEN = 'rampart-test';
const PIN = '1234';
const code = (c: string) => (e: any) => e.code === c;
const aadFor = (id: string) => Buffer.from(`rampart-dek|${id}|exchange|22294`);

/** A fresh SoftHSM2 token in a temp dir; SOFTHSM2_CONF is set before any C_Initialize reads it. */
function createToken(): { remove(): void } {
  const dir = tempDir('rampart-softhsm-');
  mkdirSync(join(dir.path, 'tokens'));
  const conf = join(dir.path, 'softhsm2.conf');
  writeFileSync(conf, `directories.tokendir = ${join(dir.path, 'tokens')}\nobjectstore.backend = file\nlog.level = ERROR\nslots.removable = false\n`);
  const previous = process.env.SOFTHSM2_CONF;
  process.env.SOFTHSM2_CONF = conf;
  execFileSync('softhsm2-util', ['--init-token', '--free', '--label', TOKEN, '--so-pin', '12345678', '--pin', PIN], { env: process.env, stdio: 'pipe' });
  return {
    remove() {
      if (previous === undefined) delete process.env.SOFTHSM2_CONF;
      else process.env.SOFTHSM2_CONF = previous;
      dir.remove();
    },
  };
}

const opts = (extra: Partial<Parameters<typeof openPkcs11KekProvider>[0]> = {}) => ({ module: MODULE, tokenLabel: TOKEN, pin: PIN, keyLabel: 'rampart-kek', ...extra });

class MapStore implements DataKeyStore {
  rows = new Map<string, WrappedDataKey>();
  async getDataKey(id: string) {
    return this.rows.get(id);
  }
  async findDataKey(c: string, d: number) {
    return [...this.rows.values()].find((k) => k.holdId === undefined && k.recordClass === c && k.expiryDay === d);
  }
  async insertDataKey(k: WrappedDataKey) {
    if (k.holdId === undefined && (await this.findDataKey(k.recordClass, k.expiryDay))) return false;
    this.rows.set(k.id, { ...k });
    return true;
  }
  async listDataKeys() {
    return [...this.rows.values()];
  }
  async rewrapDataKeys(u: readonly { id: string; kekId: string; wrapped: Buffer }[]) {
    for (const x of u) this.rows.set(x.id, { ...this.rows.get(x.id)!, kekId: x.kekId, wrapped: x.wrapped });
  }
}

test('PKCS#11 KEK provider on SoftHSM2', { skip: existsSync(MODULE) ? false : `SoftHSM2 is not installed (${MODULE} is absent)` }, async (t) => {
  const token = createToken();
  t.after(() => token.remove());

  await t.test('without create, a token with no KEK is an error naming the token and the label', async () => {
    await assert.rejects(
      openPkcs11KekProvider(opts()),
      (e: any) => e.code === 'RAMPART_KEK_NOT_FOUND' && e.message.includes(`'${TOKEN}'`) && e.message.includes('rampart-kek-v'),
    );
    await assert.rejects(openPkcs11KekProvider(opts({ tokenLabel: 'no-such-token', create: true })), (e: any) => e.code === 'RAMPART_KEK_NOT_FOUND' && e.message.includes(TOKEN));
    await assert.rejects(openPkcs11KekProvider(opts({ pin: '9999', create: true })), (e: any) => e.code === 'RAMPART_KEK_UNAVAILABLE' && /PIN/.test(e.message));
  });

  const dek1 = randomBytes(32);
  let w1: { kekId: string; wrapped: Buffer };
  let w2: { kekId: string; wrapped: Buffer };
  const dek2 = randomBytes(32);

  await t.test('create: true generates v1; wrap/unwrap run on the token with the aad bound', async () => {
    const kek = await openKekProvider({ provider: 'pkcs11', module: MODULE, tokenLabel: TOKEN, pin: PIN, keyLabel: 'rampart-kek', create: true });
    try {
      assert.equal(kek.kind, 'pkcs11');
      assert.equal(kek.developmentOnly, false);
      assert.equal(kek.currentKeyId(), 'pkcs11:rampart-kek-v1');
      w1 = await kek.wrap(dek1, aadFor('dk_1'));
      assert.equal(w1.kekId, 'pkcs11:rampart-kek-v1');
      assert.equal(w1.wrapped.length, 12 + 32 + 16, 'IV ‖ ciphertext ‖ tag');
      assert.deepEqual(await kek.unwrap(w1.kekId, w1.wrapped, aadFor('dk_1')), dek1);
      await assert.rejects(kek.unwrap(w1.kekId, w1.wrapped, aadFor('dk_2')), code('RAMPART_DECRYPT_FAILED'));
      const tampered = Buffer.from(w1.wrapped);
      tampered[20]! ^= 1;
      await assert.rejects(kek.unwrap(w1.kekId, tampered, aadFor('dk_1')), code('RAMPART_DECRYPT_FAILED'));
      await assert.rejects(kek.unwrap(w1.kekId, w1.wrapped.subarray(0, 20), aadFor('dk_1')), code('RAMPART_DECRYPT_FAILED'));
      await assert.rejects(kek.unwrap('pkcs11:rampart-kek-v7', w1.wrapped, aadFor('dk_1')), code('RAMPART_KEK_UNKNOWN'));
      await assert.rejects(kek.unwrap('file:0badc0de', w1.wrapped, aadFor('dk_1')), code('RAMPART_KEK_UNKNOWN'));

      // Many callers at once share the one session through the queue.
      const deks = Array.from({ length: 40 }, () => randomBytes(32));
      const wraps = await Promise.all(deks.map((d, i) => kek.wrap(d, aadFor(`dk_c${i}`))));
      const back = await Promise.all(wraps.map((w, i) => kek.unwrap(w.kekId, w.wrapped, aadFor(`dk_c${i}`))));
      back.forEach((d, i) => assert.deepEqual(d, deks[i]));
    } finally {
      await kek.close();
    }
  });

  await t.test('rotate() makes v2 current; v1 still unwraps, also after closing and reopening', async () => {
    const kek = await openPkcs11KekProvider(opts());
    try {
      assert.equal(kek.currentKeyId(), 'pkcs11:rampart-kek-v1');
      assert.equal(await kek.rotate(), 'pkcs11:rampart-kek-v2');
      assert.equal(kek.currentKeyId(), 'pkcs11:rampart-kek-v2');
      w2 = await kek.wrap(dek2, aadFor('dk_2'));
      assert.equal(w2.kekId, 'pkcs11:rampart-kek-v2');
      assert.deepEqual(await kek.unwrap(w1.kekId, w1.wrapped, aadFor('dk_1')), dek1);
    } finally {
      await kek.close();
    }
    await assert.rejects(kek.wrap(dek2, aadFor('dk_2')), code('RAMPART_KEK_UNAVAILABLE'));

    const reopened = await openPkcs11KekProvider(opts());
    try {
      assert.equal(reopened.currentKeyId(), 'pkcs11:rampart-kek-v2');
      assert.deepEqual(await reopened.unwrap(w1.kekId, w1.wrapped, aadFor('dk_1')), dek1);
      assert.deepEqual(await reopened.unwrap(w2.kekId, w2.wrapped, aadFor('dk_2')), dek2);
    } finally {
      await reopened.close();
    }
  });

  await t.test('two providers in one process share the initialised module; one sees the other rotate', async () => {
    const a = await openPkcs11KekProvider(opts());
    const b = await openPkcs11KekProvider(opts());
    try {
      const v3 = await a.rotate();
      const dek = randomBytes(32);
      const w = await a.wrap(dek, aadFor('dk_3'));
      assert.equal(w.kekId, v3);
      assert.deepEqual(await b.unwrap(w.kekId, w.wrapped, aadFor('dk_3')), dek, 'b finds v3 by re-scanning the token');
      await a.close();
      assert.deepEqual(await b.unwrap(w1.kekId, w1.wrapped, aadFor('dk_1')), dek1, 'b keeps working after a closed');
    } finally {
      await a.close();
      await b.close();
    }
  });

  await t.test('the data-key ring runs over the HSM: keys, rotation, rewrapAll', async () => {
    const kek = await openPkcs11KekProvider(opts({ keyLabel: 'ring-kek', create: true }));
    try {
      const store = new MapStore();
      const ring = new DataKeyRing(store, kek);
      const { id, key } = await ring.keyFor('exchange', 22294);
      const envelope = seal(key, Buffer.from('private part'), Buffer.from(`priv|1|${id}`));
      await kek.rotate();
      assert.equal(await ring.rewrapAll(), 1);
      assert.equal(store.rows.get(id)!.kekId, 'pkcs11:ring-kek-v2');
      const other = new DataKeyRing(store, kek);
      assert.equal(open(await other.keyById(id), envelope, Buffer.from(`priv|1|${id}`)).toString(), 'private part');
    } finally {
      await kek.close();
    }
  });

  await t.test('the KEK cannot be read out of the token, and an extractable key is refused as a KEK', async () => {
    // Every provider is closed: the test now talks to the token directly.
    const pkcs11 = (await import('pkcs11js')).default;
    const lib = new pkcs11.PKCS11();
    lib.load(MODULE);
    lib.C_Initialize();
    try {
      const slot = lib.C_GetSlotList(true).find((s) => lib.C_GetTokenInfo(s).label.trim() === TOKEN)!;
      const session = lib.C_OpenSession(slot, pkcs11.CKF_SERIAL_SESSION | pkcs11.CKF_RW_SESSION);
      lib.C_Login(session, pkcs11.CKU_USER, PIN);
      lib.C_FindObjectsInit(session, [{ type: pkcs11.CKA_LABEL, value: 'rampart-kek-v1' }]);
      const [v1] = lib.C_FindObjects(session, 10);
      lib.C_FindObjectsFinal(session);
      assert.ok(v1, 'rampart-kek-v1 is on the token');
      const [extractable, sensitive, token] = lib.C_GetAttributeValue(session, v1, [
        { type: pkcs11.CKA_EXTRACTABLE },
        { type: pkcs11.CKA_SENSITIVE },
        { type: pkcs11.CKA_TOKEN },
      ]);
      assert.equal(extractable!.value[0], 0, 'CKA_EXTRACTABLE is false');
      assert.equal(sensitive!.value[0], 1, 'CKA_SENSITIVE is true');
      assert.equal(token!.value[0], 1, 'CKA_TOKEN is true');
      assert.throws(() => lib.C_GetAttributeValue(session, v1, [{ type: pkcs11.CKA_VALUE }]), (e: any) => e.code === pkcs11.CKR_ATTRIBUTE_SENSITIVE);

      // A key someone made extractable must not become a KEK.
      lib.C_GenerateKey(session, { mechanism: pkcs11.CKM_AES_KEY_GEN }, [
        { type: pkcs11.CKA_CLASS, value: pkcs11.CKO_SECRET_KEY },
        { type: pkcs11.CKA_KEY_TYPE, value: pkcs11.CKK_AES },
        { type: pkcs11.CKA_VALUE_LEN, value: 32 },
        { type: pkcs11.CKA_LABEL, value: 'weak-kek-v1' },
        { type: pkcs11.CKA_TOKEN, value: true },
        { type: pkcs11.CKA_SENSITIVE, value: false },
        { type: pkcs11.CKA_EXTRACTABLE, value: true },
        { type: pkcs11.CKA_ENCRYPT, value: true },
        { type: pkcs11.CKA_DECRYPT, value: true },
      ]);
      lib.C_Logout(session);
      lib.C_CloseSession(session);
    } finally {
      lib.C_Finalize();
      lib.close();
    }
    await assert.rejects(openPkcs11KekProvider(opts({ keyLabel: 'weak-kek' })), (e: any) => e.code === 'RAMPART_KEK_INSECURE' && e.message.includes('weak-kek-v1'));
  });
});
