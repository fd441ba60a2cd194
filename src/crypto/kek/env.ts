/**
 * Development KEK provider: the KEK is the base64 of 32 bytes in an environment variable
 * (e.g. RAMPART_KEK). DEVELOPMENT ONLY: the key is in the gateway's environment, visible to
 * anything that can read /proc/<pid>/environ or the container spec, which ENC-6 does not allow
 * in production; `developmentOnly` is true so `rampart check --profile finra` flags it.
 *
 * One version per variable: rotate() cannot write the environment, so it throws
 * RAMPART_KEK_ROTATE_UNSUPPORTED and says how to rotate by hand: set a new key in the variable,
 * keep the old one in the previous variable (default `<variable>_PREVIOUS`), restart, run the
 * re-wrap (DataKeyRing.rewrapAll), then drop the previous variable. Ids are
 * `env:<8 hex of SHA-256(key)>`, so they follow the key, not the variable's name.
 */
import { AEAD_KEY_BYTES, CryptoError, open, seal } from '../aead.js';
import { localKekId, type KeyEncryptionKeyProvider } from './provider.js';

export interface EnvKekOptions {
  /** Variable holding the current KEK (base64 of 32 bytes). */
  variable: string;
  /** Variable holding the previous KEK, used for unwrap only; default `<variable>_PREVIOUS` (read if set). */
  previousVariable?: string;
  /** The environment to read (default process.env). */
  env?: NodeJS.ProcessEnv;
}

function keyFrom(env: NodeJS.ProcessEnv, variable: string): Buffer | undefined {
  const text = env[variable]?.trim();
  if (!text) return undefined;
  const key = Buffer.from(text, 'base64');
  // Buffer.from ignores junk; re-encoding catches a truncated or mistyped value.
  if (key.length !== AEAD_KEY_BYTES || key.toString('base64').replace(/=+$/, '') !== text.replace(/=+$/, '')) {
    key.fill(0);
    throw new CryptoError('RAMPART_KEK_INVALID', `environment variable ${variable} must hold the base64 of exactly ${AEAD_KEY_BYTES} random bytes (generate one with: openssl rand -base64 32)`);
  }
  return key;
}

class EnvKekProvider implements KeyEncryptionKeyProvider {
  readonly kind = 'env';
  readonly developmentOnly = true;
  #keys: Map<string, Buffer> | undefined;

  constructor(
    private readonly variable: string,
    private readonly previousVariable: string,
    private readonly current: string,
    keys: Map<string, Buffer>,
  ) {
    this.#keys = keys;
  }

  #live(): Map<string, Buffer> {
    if (!this.#keys) throw new CryptoError('RAMPART_KEK_UNAVAILABLE', `the KEK provider for ${this.variable} is closed`);
    return this.#keys;
  }

  currentKeyId(): string {
    this.#live();
    return this.current;
  }

  async wrap(dek: Buffer, aad: Buffer): Promise<{ kekId: string; wrapped: Buffer }> {
    return { kekId: this.current, wrapped: seal(this.#live().get(this.current)!, dek, aad) };
  }

  async unwrap(kekId: string, wrapped: Buffer, aad: Buffer): Promise<Buffer> {
    const kek = this.#live().get(kekId);
    if (!kek) {
      throw new CryptoError('RAMPART_KEK_UNKNOWN', `KEK version "${kekId}" is neither in ${this.variable} (${this.current}) nor in ${this.previousVariable}; set ${this.previousVariable} to the key that wrapped it`);
    }
    return open(kek, wrapped, aad);
  }

  async rotate(): Promise<string> {
    throw new CryptoError(
      'RAMPART_KEK_ROTATE_UNSUPPORTED',
      `the env KEK provider cannot rotate by itself: move the current key from ${this.variable} to ${this.previousVariable}, set a new key in ${this.variable} (openssl rand -base64 32), restart, re-wrap the data keys, then unset ${this.previousVariable}`,
    );
  }

  async close(): Promise<void> {
    const keys = this.#keys;
    this.#keys = undefined;
    if (keys) for (const k of keys.values()) k.fill(0);
  }
}

/**
 * A KEK provider over an environment variable (and an optional previous one for unwrap).
 * Throws RAMPART_KEK_NOT_FOUND when the variable is unset or empty, RAMPART_KEK_INVALID when it
 * is not the base64 of 32 bytes.
 *
 * @example
 * // RAMPART_KEK="$(openssl rand -base64 32)" rampart start
 * const kek = openEnvKekProvider({ variable: 'RAMPART_KEK' });
 * kek.currentKeyId(); // 'env:5c0e77a1'
 */
export function openEnvKekProvider(options: EnvKekOptions): KeyEncryptionKeyProvider {
  const env = options.env ?? process.env;
  const previousVariable = options.previousVariable ?? `${options.variable}_PREVIOUS`;
  const current = keyFrom(env, options.variable);
  if (!current) {
    throw new CryptoError('RAMPART_KEK_NOT_FOUND', `environment variable ${options.variable} is not set; it must hold the base64 of ${AEAD_KEY_BYTES} random bytes (openssl rand -base64 32)`);
  }
  const keys = new Map<string, Buffer>();
  const currentId = localKekId('env', current);
  keys.set(currentId, current);
  const previous = keyFrom(env, previousVariable);
  if (previous) {
    const id = localKekId('env', previous);
    if (keys.has(id)) previous.fill(0);
    else keys.set(id, previous);
  }
  return new EnvKekProvider(options.variable, previousVariable, currentId, keys);
}
