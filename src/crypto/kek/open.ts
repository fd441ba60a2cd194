/**
 * Builds the configured KEK provider (ENC-6). The one place that knows the concrete providers;
 * the rest of the ledger sees only KeyEncryptionKeyProvider. The HSM PIN is read from an
 * environment variable named in the config (`pinEnv`), never written in the config itself, so
 * `rampart.yaml` stays safe to commit and to store with its hash.
 */
import { CryptoError } from '../aead.js';
import { openEnvKekProvider } from './env.js';
import { openFileKekProvider } from './file.js';
import { openPkcs11KekProvider } from './pkcs11.js';
import type { KeyEncryptionKeyProvider } from './provider.js';

export type KekConfig =
  | { provider: 'file'; file: string }
  | { provider: 'env'; variable: string; previousVariable?: string }
  | {
      provider: 'pkcs11';
      /** Path of the PKCS#11 module (.so). */
      module: string;
      slot?: number;
      tokenLabel?: string;
      /** Environment variable holding the user PIN; never the PIN in config. */
      pinEnv?: string;
      /** The PIN itself: only for tests. */
      pin?: string;
      /** Label prefix of the KEK objects (`<keyLabel>-v<N>`). */
      keyLabel: string;
      /** Generate v1 when the token has none. */
      create?: boolean;
    };

/**
 * Opens the KEK provider `config` names. Throws RAMPART_KEK_CONFIG_INVALID for an unknown
 * provider or a pkcs11 config without a PIN source, and whatever the provider throws on open.
 *
 * @example
 * const kek = await openKekProvider({ provider: 'pkcs11', module: '/usr/lib/softhsm/libsofthsm2.so',
 *   tokenLabel: 'rampart', pinEnv: 'RAMPART_HSM_PIN', keyLabel: 'rampart-kek' });
 * if (kek.developmentOnly) console.warn(`${kek.kind} KEKs are for development only`);
 */
export async function openKekProvider(config: KekConfig, env: NodeJS.ProcessEnv = process.env): Promise<KeyEncryptionKeyProvider> {
  switch (config.provider) {
    case 'file':
      return openFileKekProvider(config.file);
    case 'env':
      return openEnvKekProvider({ variable: config.variable, previousVariable: config.previousVariable, env });
    case 'pkcs11': {
      let pin = config.pin;
      if (config.pinEnv !== undefined) {
        pin = env[config.pinEnv];
        if (!pin) throw new CryptoError('RAMPART_KEK_CONFIG_INVALID', `kek.pinEnv names ${config.pinEnv}, which is not set: it must hold the HSM user PIN`);
      }
      if (!pin) throw new CryptoError('RAMPART_KEK_CONFIG_INVALID', 'kek (pkcs11) needs pinEnv: the name of an environment variable holding the HSM user PIN');
      return openPkcs11KekProvider({
        module: config.module,
        slot: config.slot,
        tokenLabel: config.tokenLabel,
        pin,
        keyLabel: config.keyLabel,
        create: config.create,
      });
    }
    default: {
      const provider = (config as { provider?: unknown }).provider;
      throw new CryptoError('RAMPART_KEK_CONFIG_INVALID', `kek.provider ${JSON.stringify(provider)} is not supported (file, env, pkcs11)`);
    }
  }
}
