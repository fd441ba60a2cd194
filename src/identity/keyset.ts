/**
 * Rampart's own Ed25519 signing keys: they sign the identity assertion sent to upstreams (see
 * assertion.ts) and, later, OAuth access tokens. Their public halves are published as a JWKS so
 * that anyone holding a token can verify it with public material only.
 *
 * The keyset lives in one JSON file that is never committed, readable by its owner only (0600,
 * new folders 0700), exactly like the server secrets (src/config/secrets.ts):
 *
 *   { "version": 1,
 *     "keys": [ { "kid": "<RFC 7638 thumbprint>", "alg": "EdDSA", "createdAt": <ms>,
 *                 "retiredAt"?: <ms>, "privateKey": { "crv": "Ed25519", "d": "…", "x": "…", "kty": "OKP" } } ] }
 *
 * Key versions (ENC-6): every key carries its `kid`, and every token or assertion names the `kid`
 * that signed it, so a verifier picks the right public key across a rotation. A rotated-out key
 * stops signing at once but stays in the JWKS for RETIRED_KEY_PUBLISH_MS, far longer than any
 * assertion lives (at most 300 s), so nothing signed just before the rotation fails to verify.
 * These are short-lived signing keys: the ledger's checkpoint keys, whose history must outlive the
 * retention period (AU-9(3), R17a4), are a different keyset and are never dropped like these.
 *
 * Keys are refused rather than used (fail closed) when the file is readable by group or others, is
 * malformed, has an unknown version, or holds a key that is not Ed25519 or whose `kid` does not
 * match it. Error messages name the file (and the JSON pointer of the bad value) and never quote
 * the file's content or the parser's view of it, which could contain the private key (ASVS 7.1.1).
 *
 * ENC-6 prefers a KMS or HSM that never exposes keys to the app; this file-based keyset is the
 * development and single-node default, behind the Keyset interface so that a KMS-backed one can
 * replace it without touching the signer.
 */
import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync } from 'node:crypto';
import type { JsonWebKey, KeyObject } from 'node:crypto';
import { mkdir, open, unlink } from 'node:fs/promises';
import { dirname } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { ConfigError } from '../core/errors.js';
import { createPrivateFileOnce, fileError, replacePrivateFile } from '../core/private-file.js';

export interface SigningKey {
  /** RFC 7638 JWK thumbprint (SHA-256, base64url) of the public key. */
  kid: string;
  alg: 'EdDSA';
  /** Epoch milliseconds. */
  createdAt: number;
  /** Epoch milliseconds; a retired key no longer signs and is published for RETIRED_KEY_PUBLISH_MS more. */
  retiredAt?: number;
  privateKey: KeyObject;
  publicKey: KeyObject;
}

export interface Keyset {
  /** The file the keyset was read from. */
  readonly file: string;
  /** The newest key that is not retired: the one that signs. */
  active(): SigningKey;
  /** Every key in the file, retired ones included, in file order. */
  all(): readonly SigningKey[];
  /**
   * The public keys a verifier needs at `now` (default Date.now()): every key not retired, plus
   * retired keys for RETIRED_KEY_PUBLISH_MS after their retirement. Never contains private members.
   */
  jwks(now?: number): { keys: JsonWebKey[] };
}

/** How long a retired key stays in the JWKS (and in the file): 24 hours. */
export const RETIRED_KEY_PUBLISH_MS = 24 * 3600_000;

const KEYSET_VERSION = 1;
const BASE64URL = /^[A-Za-z0-9_-]+$/;
const ED25519_KEY_BYTES = 32;
/** How long rotateKeyset waits for another rotation of the same file before giving up. */
const LOCK_WAIT_MS = 2000;
const LOCK_POLL_MS = 20;

/**
 * Reads the keyset, creating the file with one fresh key when it does not exist. An existing
 * file is never replaced. Safe against a concurrent caller: the file appears atomically and only
 * once (link() of a finished temporary file fails when the name exists), so racing processes end
 * up with the same key.
 *
 * @example
 * const keyset = await loadOrCreateKeyset('.rampart/signing-keys.json');
 * keyset.active().kid;
 */
export async function loadOrCreateKeyset(file: string): Promise<Keyset> {
  try {
    return await loadKeyset(file);
  } catch (err) {
    if (!(err instanceof ConfigError) || (err.cause as NodeJS.ErrnoException | undefined)?.code !== 'ENOENT') throw err;
  }
  const key = newSigningKey(Date.now());
  const dir = dirname(file);
  // Only folders created here get 0700; an existing folder (maybe the project root) is left alone.
  await mkdir(dir, { recursive: true, mode: 0o700 });
  // Someone else may create it at the same moment: then theirs is used.
  if (!(await createPrivateFileOnce(file, serialize([key]), 'signing key file'))) return loadKeyset(file);
  return makeKeyset(file, [key]);
}

/**
 * Reads an existing keyset. Throws ConfigError naming the file when it is missing (the cause then
 * has code ENOENT), unreadable, readable by group/others, or malformed.
 *
 * @example
 * const keyset = await loadKeyset(config.signingKeysFile);
 */
export async function loadKeyset(file: string): Promise<Keyset> {
  return makeKeyset(file, await readKeysFile(file));
}

/**
 * Rotates the keyset: a fresh key becomes the active one, every key that was still signing gets
 * `retiredAt: now`, and keys retired RETIRED_KEY_PUBLISH_MS or longer before `now` are dropped.
 * The file is rewritten atomically (temporary file in the same folder, fsync, rename), so a reader
 * sees the old keyset or the new one, never a mix. Concurrent rotations of the same file are
 * serialised by a lock file beside it, so none of them loses another's key.
 *
 * Processes that loaded the keyset earlier keep their copy: reload it (or restart) to sign with
 * the new key. Until then they still sign with the old key, which stays published.
 *
 * @example
 * const keyset = await rotateKeyset('.rampart/signing-keys.json');
 */
export async function rotateKeyset(file: string, now = Date.now()): Promise<Keyset> {
  if (!Number.isSafeInteger(now) || now < 0) throw new TypeError('now must be a time in epoch milliseconds');
  const release = await lock(file);
  try {
    const current = await readKeysFile(file);
    const kept: SigningKey[] = [];
    for (const k of current) {
      if (k.retiredAt === undefined) kept.push({ ...k, retiredAt: now });
      else if (k.retiredAt + RETIRED_KEY_PUBLISH_MS > now) kept.push(k);
      // else: no assertion or token signed by it can still be valid; drop the private key.
    }
    kept.push(newSigningKey(now));
    await replacePrivateFile(file, serialize(kept), 'signing key file');
    return makeKeyset(file, kept);
  } finally {
    await release();
  }
}

// ---------------------------------------------------------------------------------------------

interface StoredKey {
  kid: string;
  alg: 'EdDSA';
  createdAt: number;
  retiredAt?: number;
  privateKey: JsonWebKey;
}

function newSigningKey(createdAt: number): SigningKey {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  return { kid: thumbprint(publicKey.export({ format: 'jwk' }).x!), alg: 'EdDSA', createdAt, privateKey, publicKey };
}

/** RFC 7638 §3.2: the required members of an OKP key (crv, kty, x), in lexicographic order, no spaces. */
function thumbprint(x: string): string {
  return createHash('sha256').update(`{"crv":"Ed25519","kty":"OKP","x":"${x}"}`).digest('base64url');
}

function makeKeyset(file: string, keys: readonly SigningKey[]): Keyset {
  const frozen = Object.freeze(keys.map((k) => Object.freeze({ ...k })));
  let active: SigningKey | undefined;
  for (const k of frozen) {
    if (k.retiredAt === undefined && (!active || k.createdAt >= active.createdAt)) active = k;
  }
  // readKeysFile and rotateKeyset guarantee one; this guards the invariant, not user input.
  if (!active) throw new ConfigError([{ file, message: 'signing key file has no active (unretired) key' }]);
  const activeKey = active;
  // Public members only: built from the public KeyObject, so `d` cannot slip in.
  const published = frozen.map((k) => ({ key: k, jwk: Object.freeze({ kty: 'OKP', crv: 'Ed25519', x: k.publicKey.export({ format: 'jwk' }).x!, kid: k.kid, use: 'sig', alg: 'EdDSA' }) }));
  return Object.freeze({
    file,
    active: () => activeKey,
    all: () => frozen,
    jwks(now = Date.now()) {
      const keys: JsonWebKey[] = [];
      for (const { key, jwk } of published) {
        if (key.retiredAt === undefined || key.retiredAt + RETIRED_KEY_PUBLISH_MS > now) keys.push({ ...jwk });
      }
      return { keys };
    },
  });
}

function serialize(keys: readonly SigningKey[]): string {
  const stored: StoredKey[] = keys.map((k) => ({
    kid: k.kid,
    alg: k.alg,
    createdAt: k.createdAt,
    ...(k.retiredAt !== undefined ? { retiredAt: k.retiredAt } : {}),
    privateKey: k.privateKey.export({ format: 'jwk' }),
  }));
  return `${JSON.stringify({ version: KEYSET_VERSION, keys: stored }, null, 2)}\n`;
}

async function readKeysFile(file: string): Promise<SigningKey[]> {
  let text: string;
  try {
    // One descriptor for the mode check and the read, so the file checked is the file read.
    const fh = await open(file, 'r');
    try {
      const st = await fh.stat();
      if (!st.isFile()) throw new ConfigError([{ file, message: 'signing key file is not a regular file' }]);
      // POSIX permission bits only mean something off Windows.
      if (process.platform !== 'win32' && (st.mode & 0o077) !== 0) {
        throw new ConfigError([{ file, message: `signing key file is accessible by group or others (mode ${(st.mode & 0o777).toString(8).padStart(4, '0')}); refusing to use it. Run: chmod 600 ${file}` }]);
      }
      text = await fh.readFile('utf8');
    } finally {
      await fh.close();
    }
  } catch (err) {
    if (err instanceof ConfigError) throw err;
    const e = err as NodeJS.ErrnoException;
    const hint = e.code === 'ENOENT' ? 'signing key file not found' : `cannot read the signing key file (${e.code ?? 'error'})`;
    throw fileError(file, hint, err);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    // Not the parser's message: it can quote the text, i.e. a private key.
    throw new ConfigError([{ file, message: 'signing key file is not valid JSON (expected {"version": 1, "keys": [...]})' }]);
  }
  const o = parsed as { version?: unknown; keys?: unknown } | null;
  if (!o || typeof o !== 'object' || Array.isArray(o) || o.version !== KEYSET_VERSION) {
    throw new ConfigError([{ file, message: `signing key file must have "version": ${KEYSET_VERSION}` }]);
  }
  if (!Array.isArray(o.keys) || o.keys.length === 0) {
    throw new ConfigError([{ file, pointer: '/keys', message: 'must be a non-empty array of keys' }]);
  }
  const keys: SigningKey[] = [];
  const seen = new Set<string>();
  o.keys.forEach((entry: unknown, i: number) => {
    const key = parseKey(file, `/keys/${i}`, entry);
    if (seen.has(key.kid)) throw new ConfigError([{ file, pointer: `/keys/${i}/kid`, message: 'repeats the kid of an earlier key' }]);
    seen.add(key.kid);
    keys.push(key);
  });
  if (!keys.some((k) => k.retiredAt === undefined)) {
    throw new ConfigError([{ file, pointer: '/keys', message: 'has no active (unretired) key; run a key rotation to add one' }]);
  }
  return keys;
}

function parseKey(file: string, at: string, entry: unknown): SigningKey {
  const bad = (field: string, message: string) => new ConfigError([{ file, pointer: `${at}${field}`, message }]);
  if (!entry || typeof entry !== 'object' || Array.isArray(entry)) throw bad('', 'must be an object');
  const e = entry as Record<string, unknown>;
  if (typeof e.kid !== 'string' || !BASE64URL.test(e.kid)) throw bad('/kid', 'must be a base64url string');
  if (e.alg !== 'EdDSA') throw bad('/alg', 'must be "EdDSA"');
  if (!isTime(e.createdAt)) throw bad('/createdAt', 'must be a time in epoch milliseconds');
  if (e.retiredAt !== undefined && !isTime(e.retiredAt)) throw bad('/retiredAt', 'must be a time in epoch milliseconds');
  const jwk = e.privateKey as Record<string, unknown> | null | undefined;
  if (!jwk || typeof jwk !== 'object' || Array.isArray(jwk)) throw bad('/privateKey', 'must be a JWK object');
  if (jwk.kty !== 'OKP' || jwk.crv !== 'Ed25519') throw bad('/privateKey', 'is not an Ed25519 key (expected "kty": "OKP", "crv": "Ed25519")');
  const d = jwk.d;
  const x = jwk.x;
  if (typeof d !== 'string' || !BASE64URL.test(d) || Buffer.from(d, 'base64url').length !== ED25519_KEY_BYTES) {
    throw bad('/privateKey', `"d" must be base64url of ${ED25519_KEY_BYTES} bytes`);
  }
  if (typeof x !== 'string' || !BASE64URL.test(x) || Buffer.from(x, 'base64url').length !== ED25519_KEY_BYTES) {
    throw bad('/privateKey', `"x" must be base64url of ${ED25519_KEY_BYTES} bytes`);
  }
  let privateKey: KeyObject;
  try {
    privateKey = createPrivateKey({ key: { kty: 'OKP', crv: 'Ed25519', d, x }, format: 'jwk' });
  } catch {
    // Not crypto's message: keep the key material out of errors altogether.
    throw bad('/privateKey', 'is not a usable Ed25519 private key');
  }
  if (privateKey.asymmetricKeyType !== 'ed25519') throw bad('/privateKey', 'is not an Ed25519 key');
  // The public key is derived from `d`, never trusted from `x`: a file whose `x` belongs to
  // another key would publish a key that does not verify what this one signs.
  const publicKey = createPublicKey(privateKey);
  const derivedX = publicKey.export({ format: 'jwk' }).x!;
  if (derivedX !== x) throw bad('/privateKey', '"x" is not the public half of "d"');
  if (thumbprint(derivedX) !== e.kid) throw bad('/kid', 'is not the RFC 7638 thumbprint of the key');
  return { kid: e.kid, alg: 'EdDSA', createdAt: e.createdAt, ...(e.retiredAt !== undefined ? { retiredAt: e.retiredAt as number } : {}), privateKey, publicKey };
}

function isTime(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
}

/** An exclusive lock file beside `file` (created with O_EXCL); returns its release function. */
async function lock(file: string): Promise<() => Promise<void>> {
  const lockFile = `${file}.lock`;
  const deadline = Date.now() + LOCK_WAIT_MS;
  while (true) {
    try {
      const fh = await open(lockFile, 'wx', 0o600);
      const release = () => unlink(lockFile).catch(() => {});
      // The pid is for whoever finds a stale lock; failing to write it must not leave the lock behind.
      await fh.writeFile(`${process.pid}\n`, 'utf8').catch(async (err: unknown) => {
        await fh.close().catch(() => {});
        await release();
        throw err;
      });
      await fh.close();
      return release;
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') throw fileError(file, 'signing key file not found', err);
      if (code !== 'EEXIST') throw fileError(file, `cannot lock the signing key file (${code ?? 'error'})`, err);
      if (Date.now() >= deadline) {
        throw new ConfigError([{ file, message: `another key rotation holds the lock ${lockFile}; if no rotation is running (a crash can leave it behind), delete that file and retry` }]);
      }
      await sleep(LOCK_POLL_MS);
    }
  }
}
