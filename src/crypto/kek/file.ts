/**
 * Development KEK provider: a JSON keyring file beside the gateway's data. DEVELOPMENT ONLY: the
 * KEK bytes sit on the same host, readable by the gateway's user, which ENC-6 ("keys are held in
 * a KMS or HSM and never exposed to the app") does not allow in production; `developmentOnly`
 * is true so `rampart check --profile finra` flags it.
 *
 * The file (mode 0600, created once through ../../core/private-file.ts so racing processes end up
 * with one keyring and nobody sees a half-written one):
 *
 *   { "format": "rampart-kek-keyring/1", "current": "file:3f9a01c2",
 *     "keys": [ { "id": "file:3f9a01c2", "key": "<base64 of 32 bytes>", "createdAt": "<ISO 8601>" } ] }
 *
 * wrap = AES-256-GCM (../aead.ts) under the current version with the caller's aad; unwrap finds
 * the version by id. rotate() appends a version and replaces the file atomically; versions are
 * never removed, so DEKs wrapped years ago still unwrap (ENC-6). A wrap whose version this
 * process has not seen (another process rotated) re-reads the file once before answering
 * RAMPART_KEK_UNKNOWN. Rotations take a lock file beside the keyring (`<file>.lock`), so two
 * rotating processes cannot each replace the file with a version the other never saw (which
 * would lose a KEK and, with it, every DEK it wrapped).
 */
import { randomBytes } from 'node:crypto';
import { open as openFile, readFile, stat, unlink } from 'node:fs/promises';
import { createPrivateFileOnce, replacePrivateFile } from '../../core/private-file.js';
import { AEAD_KEY_BYTES, CryptoError, open, seal } from '../aead.js';
import { localKekId, type KeyEncryptionKeyProvider } from './provider.js';

const FORMAT = 'rampart-kek-keyring/1';

interface KeyringFile {
  format: typeof FORMAT;
  current: string;
  keys: { id: string; key: string; createdAt: string }[];
}

interface Keyring {
  current: string;
  keys: Map<string, { key: Buffer; createdAt: string }>;
}

export interface FileKekOptions {
  /** Clock for `createdAt` of new versions (tests freeze it). */
  now?: () => number;
}

function newVersion(now: number, taken: ReadonlyMap<string, unknown>): { id: string; key: Buffer; createdAt: string } {
  for (;;) {
    const key = randomBytes(AEAD_KEY_BYTES);
    const id = localKekId('file', key);
    if (!taken.has(id)) return { id, key, createdAt: new Date(now).toISOString() };
    key.fill(0); // 32-bit id prefix collided with an existing version: draw again
  }
}

function serialize(ring: Keyring): string {
  const body: KeyringFile = {
    format: FORMAT,
    current: ring.current,
    keys: [...ring.keys].map(([id, v]) => ({ id, key: v.key.toString('base64'), createdAt: v.createdAt })),
  };
  return `${JSON.stringify(body, null, 2)}\n`;
}

function invalid(file: string, what: string): CryptoError {
  return new CryptoError('RAMPART_KEK_INVALID', `KEK keyring ${file}: ${what}`);
}

function parse(file: string, text: string): Keyring {
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch (err) {
    throw new CryptoError('RAMPART_KEK_INVALID', `KEK keyring ${file}: not valid JSON (${(err as Error).message})`, { cause: err });
  }
  const b = body as Partial<KeyringFile> | null;
  if (!b || typeof b !== 'object' || b.format !== FORMAT) throw invalid(file, `expected "format": "${FORMAT}"`);
  if (!Array.isArray(b.keys) || b.keys.length === 0) throw invalid(file, '"keys" must be a non-empty array');
  const keys = new Map<string, { key: Buffer; createdAt: string }>();
  b.keys.forEach((k, i) => {
    if (!k || typeof k.id !== 'string' || typeof k.key !== 'string' || typeof k.createdAt !== 'string') {
      throw invalid(file, `keys[${i}] must have string "id", "key" and "createdAt"`);
    }
    const key = Buffer.from(k.key, 'base64');
    if (key.length !== AEAD_KEY_BYTES || key.toString('base64') !== k.key) {
      throw invalid(file, `keys[${i}] ("${k.id}"): "key" must be the base64 of exactly ${AEAD_KEY_BYTES} bytes`);
    }
    if (localKekId('file', key) !== k.id) throw invalid(file, `keys[${i}]: id "${k.id}" does not match its key (expected "${localKekId('file', key)}")`);
    keys.set(k.id, { key, createdAt: k.createdAt });
  });
  if (typeof b.current !== 'string' || !keys.has(b.current)) throw invalid(file, `"current" must name one of the keys (${[...keys.keys()].join(', ')})`);
  return { current: b.current, keys };
}

/** Reads and checks the keyring; undefined when the file does not exist. */
async function readKeyring(file: string): Promise<Keyring | undefined> {
  let text: string;
  try {
    const st = await stat(file);
    // An owner-only secret (like ssh's private keys): refuse one that others could read.
    if (process.platform !== 'win32' && (st.mode & 0o077) !== 0) {
      throw new CryptoError('RAMPART_KEK_INSECURE', `KEK keyring ${file} has mode ${(st.mode & 0o777).toString(8)}; it must be readable by its owner only (chmod 600 ${file})`);
    }
    text = await readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    if (err instanceof CryptoError) throw err;
    throw new CryptoError('RAMPART_KEK_UNAVAILABLE', `cannot read the KEK keyring ${file} (${(err as NodeJS.ErrnoException).code ?? String(err)})`, { cause: err });
  }
  return parse(file, text);
}

class FileKekProvider implements KeyEncryptionKeyProvider {
  readonly kind = 'file';
  readonly developmentOnly = true;
  #ring: Keyring | undefined;
  #rotating: Promise<unknown> = Promise.resolve();

  constructor(
    readonly file: string,
    ring: Keyring,
    private readonly now: () => number,
  ) {
    this.#ring = ring;
  }

  #live(): Keyring {
    if (!this.#ring) throw new CryptoError('RAMPART_KEK_UNAVAILABLE', `the KEK provider for ${this.file} is closed`);
    return this.#ring;
  }

  currentKeyId(): string {
    return this.#live().current;
  }

  async wrap(dek: Buffer, aad: Buffer): Promise<{ kekId: string; wrapped: Buffer }> {
    const ring = this.#live();
    const kek = ring.keys.get(ring.current)!;
    return { kekId: ring.current, wrapped: seal(kek.key, dek, aad) };
  }

  async unwrap(kekId: string, wrapped: Buffer, aad: Buffer): Promise<Buffer> {
    let kek = this.#live().keys.get(kekId);
    if (!kek && kekId.startsWith('file:')) {
      await this.#reload(); // another process may have rotated since we read the file
      kek = this.#live().keys.get(kekId);
    }
    if (!kek) throw new CryptoError('RAMPART_KEK_UNKNOWN', `KEK version "${kekId}" is not in the keyring ${this.file} (known: ${[...this.#live().keys.keys()].join(', ')})`);
    return open(kek.key, wrapped, aad);
  }

  async #reload(): Promise<void> {
    const fresh = await readKeyring(this.file);
    const ring = this.#live();
    if (!fresh) throw new CryptoError('RAMPART_KEK_NOT_FOUND', `the KEK keyring ${this.file} has disappeared`);
    // Keep versions we hold even if the file lost them; the file's `current` wins.
    for (const [id, v] of fresh.keys) if (!ring.keys.has(id)) ring.keys.set(id, v);
    ring.current = fresh.current;
  }

  rotate(): Promise<string> {
    const run = this.#rotating.then(() => this.#rotateLocked());
    this.#rotating = run.catch(() => {});
    return run;
  }

  async #rotateLocked(): Promise<string> {
    this.#live();
    const lock = `${this.file}.lock`;
    const fh = await openFile(lock, 'wx', 0o600).catch((err: unknown) => {
      if ((err as NodeJS.ErrnoException).code === 'EEXIST') {
        throw new CryptoError('RAMPART_KEK_BUSY', `another process is rotating the KEK keyring ${this.file} (lock file ${lock}); if none is, delete the lock file and retry`);
      }
      throw new CryptoError('RAMPART_KEK_UNAVAILABLE', `cannot create the rotation lock ${lock} (${(err as NodeJS.ErrnoException).code ?? String(err)})`, { cause: err });
    });
    try {
      await fh.writeFile(`${process.pid}\n`).finally(() => fh.close());
      await this.#reload(); // rotate on top of the latest file, never an older copy
      const ring = this.#live();
      const v = newVersion(this.now(), ring.keys);
      const next: Keyring = { current: v.id, keys: new Map(ring.keys).set(v.id, { key: v.key, createdAt: v.createdAt }) };
      await replacePrivateFile(this.file, serialize(next), 'KEK keyring');
      ring.keys.set(v.id, { key: v.key, createdAt: v.createdAt });
      ring.current = v.id;
      return v.id;
    } finally {
      await unlink(lock).catch(() => {});
    }
  }

  async close(): Promise<void> {
    await this.#rotating;
    const ring = this.#ring;
    this.#ring = undefined;
    if (ring) for (const v of ring.keys.values()) v.key.fill(0);
  }
}

/**
 * Opens the development keyring at `file`, creating it (one fresh KEK version, mode 0600) when
 * it does not exist. Throws RAMPART_KEK_INVALID for a malformed file and RAMPART_KEK_INSECURE
 * when group or others may read it.
 *
 * @example
 * const kek = await openFileKekProvider('/var/lib/rampart/kek.json');
 * const { kekId, wrapped } = await kek.wrap(dek, Buffer.from('rampart-dek|dk_…|exchange|20500'));
 */
export async function openFileKekProvider(file: string, options: FileKekOptions = {}): Promise<KeyEncryptionKeyProvider & { readonly file: string }> {
  const now = options.now ?? Date.now;
  let ring = await readKeyring(file);
  if (!ring) {
    const v = newVersion(now(), new Map());
    const created: Keyring = { current: v.id, keys: new Map([[v.id, { key: v.key, createdAt: v.createdAt }]]) };
    if (await createPrivateFileOnce(file, serialize(created), 'KEK keyring')) ring = created;
    else {
      v.key.fill(0); // another process created it first: use theirs
      ring = await readKeyring(file);
      if (!ring) throw new CryptoError('RAMPART_KEK_NOT_FOUND', `the KEK keyring ${file} was created by another process and then removed`);
    }
  }
  return new FileKekProvider(file, ring, now);
}
