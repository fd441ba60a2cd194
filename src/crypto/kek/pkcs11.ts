/**
 * KEK provider over PKCS#11: the KEKs are AES-256 secret-key objects inside an HSM (tested with
 * SoftHSM2), created with CKA_SENSITIVE=true, CKA_EXTRACTABLE=false, CKA_TOKEN=true, so the key
 * material never leaves the device (ENC-6: keys held in an HSM, never exposed to the app). The
 * gateway only asks the token to encrypt or decrypt 32-byte data keys.
 *
 * Versions are separate objects labelled `<keyLabel>-v<N>` (N = 1, 2, ...); the highest is
 * current and its id is `pkcs11:<keyLabel>-v<N>`, stored beside every wrapped DEK, so a DEK
 * wrapped under v1 still unwraps after v2 became current (ENC-6: key version stored with each
 * record). rotate() generates the next version on the token (C_GenerateKey, CKM_AES_KEY_GEN,
 * CKA_VALUE_LEN 32); nothing is ever deleted here.
 *
 * wrap = C_Encrypt with CKM_AES_GCM (a random 12-byte IV from node:crypto, a 128-bit tag, the
 * caller's aad as GCM AAD); the stored form is IV ‖ ciphertext ‖ tag. unwrap = C_Decrypt. The
 * parameters are passed as the PKCS#11 v2.40 CK_GCM_PARAMS (with ulIvBits), which SoftHSM 2.6
 * implements; the fallback the design allowed for (CKM_AES_KEY_WRAP_PAD, RFC 5649, through
 * C_WrapKey/C_UnwrapKey) was not needed, because SoftHSM's GCM matches node:crypto's
 * AES-256-GCM byte for byte. SoftHSM reports a tag mismatch as CKR_GENERAL_ERROR rather than
 * CKR_ENCRYPTED_DATA_INVALID, so both mean "does not open" (RAMPART_DECRYPT_FAILED).
 *
 * Two nodes racing to create v1 (or to rotate) can leave two objects with one label. Nothing
 * breaks: wrap uses one of them and unwrap tries each object with the label, and GCM's tag says
 * which one is right.
 *
 * pkcs11js is a thin binding over one session: an operation is C_xxxInit followed by C_xxx, and
 * two interleaved operations on one session would corrupt each other, so every call goes
 * through one queue. Encrypt/decrypt use the binding's async variants (the device call runs on
 * the libuv pool, not the event loop: a network HSM answers in milliseconds). The library is
 * initialised once per module path per process (reference-counted), the user logs in once, and
 * close() logs out, closes the session and finalises the library when the last provider closes.
 * A session the device dropped (HSM restart: CKR_SESSION_HANDLE_INVALID, CKR_DEVICE_REMOVED,
 * CKR_USER_NOT_LOGGED_IN ...) is reopened once, with a fresh login and object scan, before an
 * operation gives up with RAMPART_KEK_UNAVAILABLE.
 */
import { randomBytes } from 'node:crypto';
import type { AesGCM, Attribute, Handle, Mechanism, PKCS11 } from 'pkcs11js';
import { CryptoError } from '../aead.js';
import type { KeyEncryptionKeyProvider } from './provider.js';

type Pkcs11Js = typeof import('pkcs11js');

export interface Pkcs11KekOptions {
  /** Path of the PKCS#11 module (e.g. /usr/lib/softhsm/libsofthsm2.so). */
  module: string;
  /** Slot id as `pkcs11-tool -L` / `softhsm2-util --show-slots` print it. */
  slot?: number;
  /** Token label (preferred: slot ids may change when tokens are re-initialised). */
  tokenLabel?: string;
  /** User PIN. */
  pin: string;
  /** Label prefix of the KEK objects: versions are `<keyLabel>-v1`, `<keyLabel>-v2`, ... */
  keyLabel: string;
  /** Generate `<keyLabel>-v1` when the token holds no version yet (default false: fail). */
  create?: boolean;
}

const IV_BYTES = 12;
const TAG_BYTES = 16;
const KEY_BYTES = 32;

// ---- one initialised library per module path, shared by the providers of this process ----

interface LoadedModule {
  p: Pkcs11Js;
  lib: PKCS11;
  refs: number;
  /** False when something else in the process had already initialised it: we never finalise it. */
  ownsInit: boolean;
  /** Logged-in sessions per slot (login state is per application and token, not per session). */
  logins: Map<string, number>;
}
const modules = new Map<string, LoadedModule>();

async function acquireModule(path: string): Promise<LoadedModule> {
  const known = modules.get(path);
  if (known) {
    known.refs++;
    return known;
  }
  let p: Pkcs11Js;
  try {
    p = (await import('pkcs11js')).default;
  } catch (err) {
    throw new CryptoError('RAMPART_KEK_UNAVAILABLE', `the PKCS#11 binding (npm package pkcs11js) cannot be loaded: ${(err as Error).message}`, { cause: err });
  }
  const again = modules.get(path); // another open() finished while we awaited the import
  if (again) {
    again.refs++;
    return again;
  }
  const lib = new p.PKCS11();
  try {
    lib.load(path);
  } catch (err) {
    throw new CryptoError('RAMPART_KEK_UNAVAILABLE', `cannot load the PKCS#11 module ${path}: ${(err as Error).message}`, { cause: err });
  }
  let ownsInit = true;
  try {
    lib.C_Initialize();
  } catch (err) {
    if ((err as { code?: number }).code !== p.CKR_CRYPTOKI_ALREADY_INITIALIZED) {
      lib.close();
      throw new CryptoError('RAMPART_KEK_UNAVAILABLE', `C_Initialize of the PKCS#11 module ${path} failed: ${(err as Error).message}`, { cause: err });
    }
    ownsInit = false;
  }
  const m: LoadedModule = { p, lib, refs: 1, ownsInit, logins: new Map() };
  modules.set(path, m);
  return m;
}

function releaseModule(path: string, m: LoadedModule): void {
  if (--m.refs > 0) return;
  modules.delete(path);
  try {
    if (m.ownsInit) m.lib.C_Finalize();
  } finally {
    m.lib.close();
  }
}

// ---- helpers ----

function handleNumber(h: Handle): number {
  return h.length >= 8 ? Number(h.readBigUInt64LE(0)) : h.readUInt32LE(0);
}

const pkcs11Code = (err: unknown): number | undefined => {
  const c = (err as { code?: unknown }).code;
  return typeof c === 'number' ? c : undefined;
};

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

class Pkcs11KekProvider implements KeyEncryptionKeyProvider {
  readonly kind = 'pkcs11';
  readonly developmentOnly = false;
  #m: LoadedModule | undefined;
  #session: Handle | undefined;
  #versions = new Map<number, Handle[]>();
  #current = 0;
  #queue: Promise<unknown> = Promise.resolve();
  readonly #labelPattern: RegExp;
  readonly #slotKey: string;

  constructor(
    m: LoadedModule,
    private readonly slot: Handle,
    private readonly tokenName: string,
    private readonly opts: Pkcs11KekOptions,
  ) {
    this.#m = m;
    // eslint-disable-next-line security/detect-non-literal-regexp -- keyLabel is the operator's configuration, escaped by escapeRegExp; the pattern is anchored and linear
    this.#labelPattern = new RegExp(`^${escapeRegExp(opts.keyLabel)}-v([1-9][0-9]{0,8})$`);
    this.#slotKey = slot.toString('hex');
  }

  /** "token 'rampart' (slot 123) of /usr/lib/softhsm/libsofthsm2.so", for error messages. */
  get where(): string {
    return `token '${this.tokenName}' (slot ${handleNumber(this.slot)}) of ${this.opts.module}`;
  }

  #live(): LoadedModule {
    if (!this.#m) throw new CryptoError('RAMPART_KEK_UNAVAILABLE', `the PKCS#11 KEK provider for ${this.opts.keyLabel} is closed`);
    return this.#m;
  }

  #fail(what: string, err: unknown): CryptoError {
    if (err instanceof CryptoError) return err;
    return new CryptoError('RAMPART_KEK_UNAVAILABLE', `${what} failed on ${this.where}: ${(err as Error).message}`, { cause: err });
  }

  /** Runs `fn` alone on the session; reopens a session the device dropped and retries once. */
  #serial<T>(what: string, fn: (lib: PKCS11, s: Handle, p: Pkcs11Js) => Promise<T> | T): Promise<T> {
    const run = this.#queue.then(async () => {
      const m = this.#live();
      try {
        return await fn(m.lib, this.#session!, m.p);
      } catch (err) {
        if (!this.#sessionLost(err)) throw this.#fail(what, err);
        try {
          this.#reconnect();
          return await fn(m.lib, this.#session!, m.p);
        } catch (again) {
          throw this.#fail(what, again);
        }
      }
    });
    this.#queue = run.catch(() => {});
    return run;
  }

  #sessionLost(err: unknown): boolean {
    const p = this.#live().p;
    const c = pkcs11Code(err);
    return c === p.CKR_SESSION_HANDLE_INVALID || c === p.CKR_SESSION_CLOSED || c === p.CKR_DEVICE_REMOVED || c === p.CKR_USER_NOT_LOGGED_IN || c === p.CKR_TOKEN_NOT_PRESENT;
  }

  /** Opens the session and logs in (once per token per process). */
  openSession(): void {
    const { lib, p, logins } = this.#live();
    let session: Handle;
    try {
      session = lib.C_OpenSession(this.slot, p.CKF_SERIAL_SESSION | p.CKF_RW_SESSION);
    } catch (err) {
      throw this.#fail('C_OpenSession', err);
    }
    try {
      lib.C_Login(session, p.CKU_USER, this.opts.pin);
    } catch (err) {
      if (pkcs11Code(err) !== p.CKR_USER_ALREADY_LOGGED_IN) {
        try {
          lib.C_CloseSession(session);
        } catch {
          /* the login error is the one to report */
        }
        if (pkcs11Code(err) === p.CKR_PIN_INCORRECT) throw new CryptoError('RAMPART_KEK_UNAVAILABLE', `login to ${this.where} failed: the PIN is not correct`, { cause: err });
        throw this.#fail('C_Login', err);
      }
    }
    this.#session = session;
    logins.set(this.#slotKey, (logins.get(this.#slotKey) ?? 0) + 1);
  }

  #closeSession(): void {
    const { lib, logins } = this.#live();
    const session = this.#session;
    if (!session) return;
    this.#session = undefined;
    const n = (logins.get(this.#slotKey) ?? 1) - 1;
    if (n > 0) logins.set(this.#slotKey, n);
    else logins.delete(this.#slotKey);
    try {
      if (n <= 0) lib.C_Logout(session);
    } catch {
      /* already logged out (device reset): closing the session is what matters */
    }
    try {
      lib.C_CloseSession(session);
    } catch {
      /* the device already dropped it */
    }
  }

  #reconnect(): void {
    this.#closeSession();
    this.openSession();
    this.scan();
  }

  /** Finds the versions on the token and checks they cannot be read out (ENC-6). */
  scan(): void {
    const { lib, p } = this.#live();
    const s = this.#session!;
    const found: Handle[] = [];
    lib.C_FindObjectsInit(s, [
      { type: p.CKA_CLASS, value: p.CKO_SECRET_KEY },
      { type: p.CKA_KEY_TYPE, value: p.CKK_AES },
    ]);
    try {
      for (;;) {
        const batch = lib.C_FindObjects(s, 64);
        if (batch.length === 0) break;
        found.push(...batch);
      }
    } finally {
      lib.C_FindObjectsFinal(s);
    }
    const versions = new Map<number, Handle[]>();
    for (const h of found) {
      const [label, sensitive, extractable] = lib.C_GetAttributeValue(s, h, [{ type: p.CKA_LABEL }, { type: p.CKA_SENSITIVE }, { type: p.CKA_EXTRACTABLE }]);
      const match = this.#labelPattern.exec(label?.value.toString('utf8') ?? '');
      if (!match) continue;
      if (sensitive?.value[0] !== 1 || extractable?.value[0] !== 0) {
        throw new CryptoError('RAMPART_KEK_INSECURE', `KEK object '${match[0]}' on ${this.where} can be read out of the token (CKA_SENSITIVE must be true and CKA_EXTRACTABLE false); create a new version with rotate() and destroy this one once its keys are re-wrapped`);
      }
      const n = Number(match[1]);
      versions.set(n, [...(versions.get(n) ?? []), h]);
    }
    this.#versions = versions;
    this.#current = Math.max(0, ...versions.keys());
  }

  /** Generates `<keyLabel>-v<n>` on the token; call inside the queue. */
  generate(n: number): void {
    const { lib, p } = this.#live();
    const label = `${this.opts.keyLabel}-v${n}`;
    const template: Attribute[] = [
      { type: p.CKA_CLASS, value: p.CKO_SECRET_KEY },
      { type: p.CKA_KEY_TYPE, value: p.CKK_AES },
      { type: p.CKA_VALUE_LEN, value: KEY_BYTES },
      { type: p.CKA_LABEL, value: label },
      { type: p.CKA_ID, value: Buffer.from(label, 'utf8') },
      { type: p.CKA_TOKEN, value: true },
      { type: p.CKA_PRIVATE, value: true },
      { type: p.CKA_SENSITIVE, value: true },
      { type: p.CKA_EXTRACTABLE, value: false },
      { type: p.CKA_ENCRYPT, value: true },
      { type: p.CKA_DECRYPT, value: true },
      { type: p.CKA_WRAP, value: false },
      { type: p.CKA_UNWRAP, value: false },
      { type: p.CKA_SIGN, value: false },
      { type: p.CKA_VERIFY, value: false },
      { type: p.CKA_DERIVE, value: false },
    ];
    lib.C_GenerateKey(this.#session!, { mechanism: p.CKM_AES_KEY_GEN }, template);
  }

  #idOf(n: number): string {
    return `pkcs11:${this.opts.keyLabel}-v${n}`;
  }

  #gcm(p: Pkcs11Js, iv: Buffer, aad: Buffer): Mechanism {
    const parameter: AesGCM = { type: p.CK_PARAMS_AES_GCM_v240, iv, ivBits: IV_BYTES * 8, aad, tagBits: TAG_BYTES * 8 };
    return { mechanism: p.CKM_AES_GCM, parameter };
  }

  currentKeyId(): string {
    this.#live();
    return this.#idOf(this.#current);
  }

  wrap(dek: Buffer, aad: Buffer): Promise<{ kekId: string; wrapped: Buffer }> {
    return this.#serial('C_Encrypt (wrap)', async (lib, s, p) => {
      const n = this.#current;
      const key = this.#versions.get(n)?.[0];
      if (!key) throw new CryptoError('RAMPART_KEK_NOT_FOUND', `the current KEK '${this.opts.keyLabel}-v${n}' is no longer on ${this.where}`);
      const iv = randomBytes(IV_BYTES);
      lib.C_EncryptInit(s, this.#gcm(p, iv, aad), key);
      const ct = await lib.C_EncryptAsync(s, dek, Buffer.alloc(dek.length + TAG_BYTES));
      return { kekId: this.#idOf(n), wrapped: Buffer.concat([iv, ct]) };
    });
  }

  unwrap(kekId: string, wrapped: Buffer, aad: Buffer): Promise<Buffer> {
    const prefix = `pkcs11:`;
    const match = kekId.startsWith(prefix) ? this.#labelPattern.exec(kekId.slice(prefix.length)) : null;
    if (!match) {
      return Promise.reject(new CryptoError('RAMPART_KEK_UNKNOWN', `KEK version "${kekId}" is not one of this provider's (expected pkcs11:${this.opts.keyLabel}-v<N> on ${this.where})`));
    }
    const n = Number(match[1]);
    return this.#serial('C_Decrypt (unwrap)', async (lib, s, p) => {
      if (!this.#versions.has(n)) this.scan(); // another node may have rotated
      const handles = this.#versions.get(n);
      if (!handles) throw new CryptoError('RAMPART_KEK_UNKNOWN', `KEK version "${kekId}" does not exist on ${this.where}`);
      if (wrapped.length < IV_BYTES + TAG_BYTES) {
        throw new CryptoError('RAMPART_DECRYPT_FAILED', `cannot unwrap: ${wrapped.length} bytes is shorter than IV and tag (${IV_BYTES + TAG_BYTES})`);
      }
      const iv = wrapped.subarray(0, IV_BYTES);
      const body = wrapped.subarray(IV_BYTES);
      const doesNotOpen = new Set([p.CKR_ENCRYPTED_DATA_INVALID, p.CKR_ENCRYPTED_DATA_LEN_RANGE, p.CKR_DATA_INVALID, p.CKR_DATA_LEN_RANGE, p.CKR_GENERAL_ERROR, p.CKR_FUNCTION_FAILED]);
      let last: unknown;
      for (const key of handles) {
        try {
          lib.C_DecryptInit(s, this.#gcm(p, iv, aad), key);
          return await lib.C_DecryptAsync(s, body, Buffer.alloc(body.length));
        } catch (err) {
          if (!doesNotOpen.has(pkcs11Code(err) ?? -1)) throw err;
          last = err;
        }
      }
      throw new CryptoError('RAMPART_DECRYPT_FAILED', `cannot unwrap under ${kekId}: the tag does not verify (wrong key, wrong aad or altered data)`, { cause: last });
    });
  }

  rotate(): Promise<string> {
    return this.#serial('rotate (C_GenerateKey)', () => {
      this.scan(); // build on the newest version, even one another node made
      const n = this.#current + 1;
      this.generate(n);
      this.scan();
      return this.#idOf(this.#current);
    });
  }

  #closing: Promise<void> | undefined;

  /** Idempotent: logs out (when no other provider of this process is logged in to the token), closes the session, finalises the module with its last user. */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      const m = this.#m;
      if (!m) return;
      await this.#queue;
      try {
        this.#closeSession();
      } finally {
        this.#m = undefined;
        this.#versions.clear();
        releaseModule(this.opts.module, m);
      }
    })();
    return this.#closing;
  }

  /** Used by open: scan, create v1 if asked, else fail naming the token and the label. */
  init(): void {
    this.scan();
    if (this.#current > 0) return;
    if (!this.opts.create) {
      throw new CryptoError('RAMPART_KEK_NOT_FOUND', `no KEK labelled '${this.opts.keyLabel}-v<N>' on ${this.where}; create the first version with create: true (or generate an AES-256 key labelled '${this.opts.keyLabel}-v1', sensitive and not extractable)`);
    }
    this.generate(1);
    this.scan();
  }
}

function findSlot(m: LoadedModule, opts: Pkcs11KekOptions): { slot: Handle; tokenName: string } {
  const { lib, p } = m;
  const tokens = lib.C_GetSlotList(true).map((slot) => {
    const info = lib.C_GetTokenInfo(slot);
    return { slot, id: handleNumber(slot), label: info.label.trim(), initialized: (info.flags & p.CKF_TOKEN_INITIALIZED) !== 0 };
  });
  const listing = tokens.filter((t) => t.initialized).map((t) => `'${t.label}' (slot ${t.id})`).join(', ') || 'none';
  const pick = tokens.filter(
    (t) => t.initialized && (opts.tokenLabel === undefined || t.label === opts.tokenLabel) && (opts.slot === undefined || t.id === opts.slot),
  );
  const wanted = [opts.tokenLabel !== undefined ? `labelled '${opts.tokenLabel}'` : '', opts.slot !== undefined ? `in slot ${opts.slot}` : ''].filter(Boolean).join(' ') || 'initialised';
  if (pick.length === 0) throw new CryptoError('RAMPART_KEK_NOT_FOUND', `no token ${wanted} in ${opts.module} (tokens: ${listing})`);
  if (pick.length > 1) throw new CryptoError('RAMPART_KEK_CONFIG_INVALID', `${pick.length} tokens ${wanted} in ${opts.module} (${listing}); set tokenLabel or slot to choose one`);
  return { slot: pick[0]!.slot, tokenName: pick[0]!.label };
}

/**
 * Opens the HSM provider: loads the module, finds the token, logs in, finds the KEK versions by
 * label (creating v1 when `create` is true). Throws RAMPART_KEK_NOT_FOUND naming the token and
 * label when there is no version, RAMPART_KEK_INSECURE when a version is extractable, and
 * RAMPART_KEK_UNAVAILABLE when the module, token or login fails.
 *
 * @example
 * const kek = await openPkcs11KekProvider({
 *   module: '/usr/lib/softhsm/libsofthsm2.so', tokenLabel: 'rampart', pin: process.env.RAMPART_HSM_PIN!,
 *   keyLabel: 'rampart-kek', create: true,
 * });
 * kek.currentKeyId(); // 'pkcs11:rampart-kek-v1'
 */
export async function openPkcs11KekProvider(options: Pkcs11KekOptions): Promise<KeyEncryptionKeyProvider> {
  if (!options.keyLabel || /\s/.test(options.keyLabel)) throw new TypeError('openPkcs11KekProvider: keyLabel must be a non-empty label without spaces');
  if (typeof options.pin !== 'string' || options.pin === '') throw new TypeError('openPkcs11KekProvider: pin is required');
  const m = await acquireModule(options.module);
  let provider: Pkcs11KekProvider | undefined;
  try {
    const { slot, tokenName } = findSlot(m, options);
    provider = new Pkcs11KekProvider(m, slot, tokenName, options);
    provider.openSession();
    provider.init();
    return provider;
  } catch (err) {
    if (provider) await provider.close().catch(() => {});
    else releaseModule(options.module, m);
    if (err instanceof CryptoError || err instanceof TypeError) throw err;
    throw new CryptoError('RAMPART_KEK_UNAVAILABLE', `opening the PKCS#11 KEK provider on ${options.module} failed: ${(err as Error).message}`, { cause: err });
  }
}
