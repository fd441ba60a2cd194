/**
 * The contract every key-encryption-key (KEK) provider meets (ENC-6: keys are held in a KMS or
 * HSM and never exposed to the app; the key version is stored with each record so that old
 * records stay decryptable for their whole retention).
 *
 * A provider wraps and unwraps data keys (DEKs, ../data-keys.ts); it never hands out a KEK. Each
 * wrap names the KEK version it used (`kekId`), which the caller stores beside the wrapped DEK;
 * rotate() makes a new version current for future wraps while every earlier version stays
 * usable for unwrap, so rotation never strands a record. The `aad` binds a wrapped key to its
 * identity (the ring uses `rampart-dek|<id>|<class>|<expiryDay>`), so a wrapped DEK moved to
 * another row does not unwrap.
 *
 * Implementations: ./file.ts and ./env.ts (development only: the KEK sits in a file or the
 * environment of the gateway process), ./pkcs11.ts (an HSM, tested with SoftHSM2). A cloud KMS
 * (AWS KMS Encrypt/Decrypt with an EncryptionContext, GCP Cloud KMS with additional
 * authenticated data) fits the same five methods. ./open.ts builds one from configuration.
 *
 * Errors (CryptoError from ../aead.ts): RAMPART_KEK_UNKNOWN when the named version is not
 * available to this provider, RAMPART_DECRYPT_FAILED when the version exists but the wrapped
 * key does not open under it with that aad, RAMPART_KEK_UNAVAILABLE when the key store itself
 * failed (HSM error, provider closed).
 */
import { createHash } from 'node:crypto';

export interface KeyEncryptionKeyProvider {
  /** 'file' | 'env' | 'pkcs11' | (later) 'aws-kms' ... */
  readonly kind: string;
  /** file and env: true (a `check --profile finra` flags it: ENC-6 wants a KMS or HSM). */
  readonly developmentOnly: boolean;
  /** Id of the KEK version used for new wraps, e.g. 'file:<8 hex of SHA-256(key)>' or 'pkcs11:<label>'. */
  currentKeyId(): string;
  /** Encrypts `dek` under the current KEK version, authenticating `aad`. */
  wrap(dek: Buffer, aad: Buffer): Promise<{ kekId: string; wrapped: Buffer }>;
  /** RAMPART_KEK_UNKNOWN if that version is not available; RAMPART_DECRYPT_FAILED if it does not open. */
  unwrap(kekId: string, wrapped: Buffer, aad: Buffer): Promise<Buffer>;
  /** Makes a new KEK version current and returns its id; earlier versions remain usable for unwrap. */
  rotate(): Promise<string>;
  close(): Promise<void>;
}

/**
 * The id of a development KEK whose bytes this process holds (file, env): the kind and the first
 * 8 hex digits of SHA-256(key). It depends on the key only, so a DEK wrapped under the key of
 * RAMPART_KEK still finds it once that key has moved to RAMPART_KEK_PREVIOUS.
 *
 * @example
 * localKekId('file', key); // 'file:3f9a01c2'
 */
export function localKekId(kind: 'file' | 'env', key: Buffer): string {
  return `${kind}:${createHash('sha256').update(key).digest('hex').slice(0, 8)}`;
}
