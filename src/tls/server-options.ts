/**
 * TLS settings for the data plane: Mozilla's "intermediate" configuration, guidelines 6.0
 * (https://ssl-config.mozilla.org/guidelines/6.0.json):
 * - ENC-1: TLS 1.2 and 1.3 only; 1.0, 1.1 and SSL are refused whatever the config says.
 * - ENC-2: the six ECDHE AEAD suites for TLS 1.2, the three TLS 1.3 suites, curves X25519,
 *   prime256v1, secp384r1 (X25519MLKEM768 needs OpenSSL 3.5; Node 20 ships 3.0), the client's
 *   preference order (server_preferred_order: false), RSA keys of at least 2048 bits.
 */
import { constants, createPrivateKey } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import type { ServerOptions } from 'node:https';
import { createSecureContext } from 'node:tls';
import { ConfigError } from '../core/errors.js';
import type { TlsConfig } from '../config/types.js';

/** ENC-2: Mozilla intermediate TLS 1.2 cipher suites, in Mozilla's order. */
export const TLS12_CIPHERS = [
  'ECDHE-ECDSA-AES128-GCM-SHA256',
  'ECDHE-RSA-AES128-GCM-SHA256',
  'ECDHE-ECDSA-AES256-GCM-SHA384',
  'ECDHE-RSA-AES256-GCM-SHA384',
  'ECDHE-ECDSA-CHACHA20-POLY1305',
  'ECDHE-RSA-CHACHA20-POLY1305',
] as const;

/** ENC-2: TLS 1.3 suites (Node takes them in the same `ciphers` string). */
export const TLS13_CIPHERSUITES = ['TLS_AES_128_GCM_SHA256', 'TLS_AES_256_GCM_SHA384', 'TLS_CHACHA20_POLY1305_SHA256'] as const;

/** ENC-2: key exchange groups. */
export const ECDH_CURVES = 'X25519:prime256v1:secp384r1';

const ALLOWED_MIN_VERSIONS = new Set(['TLSv1.2', 'TLSv1.3']);

/**
 * Reads the certificate and key named in `tls` and returns options for `https.createServer`.
 * Throws ConfigError naming the file when one is missing, unreadable, not PEM, or when the key
 * does not belong to the certificate.
 *
 * @example
 * const server = https.createServer(await tlsServerOptions(config.listen.tls!), handler);
 */
export async function tlsServerOptions(tls: TlsConfig): Promise<ServerOptions> {
  // The schema already refuses anything else; this guards callers that build a TlsConfig in code.
  if (!ALLOWED_MIN_VERSIONS.has(tls.minVersion)) {
    throw new TypeError(`tlsServerOptions: minVersion must be TLSv1.2 or TLSv1.3 (ENC-1), not ${String(tls.minVersion)}`);
  }
  const [cert, key, ca] = await Promise.all([
    readPem(tls.cert, 'TLS certificate', 'CERTIFICATE'),
    readPem(tls.key, 'TLS private key', 'PRIVATE KEY'),
    tls.ca === undefined ? undefined : readPem(tls.ca, 'TLS CA bundle', 'CERTIFICATE'),
  ]);

  let keyBits: number | undefined;
  let keyType: string | undefined;
  try {
    const k = createPrivateKey(key);
    keyType = k.asymmetricKeyType;
    keyBits = k.asymmetricKeyDetails?.modulusLength;
  } catch {
    throw new ConfigError([{ file: tls.key, message: 'is not a usable PEM private key (encrypted keys are not supported)' }]);
  }
  if ((keyType === 'rsa' || keyType === 'rsa-pss') && keyBits !== undefined && keyBits < 2048) {
    throw new ConfigError([{ file: tls.key, message: `RSA key of ${keyBits} bits; at least 2048 bits are required (ENC-2)` }]);
  }

  const options: ServerOptions = {
    cert,
    key,
    // mTLS: with a client CA the handshake asks for a certificate and checks it against that CA,
    // but does not fail without one, so operations that do not need a certificate keep working;
    // the authenticate stage refuses an operation that needs one (socket.authorized).
    ...(ca !== undefined ? { ca, requestCert: true, rejectUnauthorized: false } : {}),
    minVersion: tls.minVersion,
    maxVersion: 'TLSv1.3',
    ciphers: [...TLS13_CIPHERSUITES, ...TLS12_CIPHERS].join(':'),
    ecdhCurve: ECDH_CURVES,
    // ENC-2: server_preferred_order false; every offered suite is strong, so the client (which
    // knows whether it has AES hardware) chooses.
    honorCipherOrder: false,
    // No TLS 1.2 renegotiation: it has no use here and is a CPU-exhaustion vector.
    secureOptions: constants.SSL_OP_NO_RENEGOTIATION,
  };

  // Build the context once now, so a key that does not match the certificate (or a PEM OpenSSL
  // rejects) is reported at start with the file names, not on the first handshake.
  try {
    createSecureContext(options);
  } catch (err) {
    const reason = (err as Error).message;
    throw new ConfigError([
      { file: tls.cert, message: `cannot be used with ${tls.key}: ${/mismatch/i.test(reason) ? 'the private key does not belong to this certificate' : reason}` },
    ]);
  }
  return options;
}

async function readPem(file: string, what: string, label: string): Promise<Buffer> {
  let bytes: Buffer;
  try {
    bytes = await readFile(file);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'not found' : code === 'EACCES' ? 'permission denied' : `cannot be read (${code ?? (err as Error).message})`;
    throw new ConfigError([{ file, message: `${what} ${why} (listen.tls in the configuration)` }]);
  }
  if (!bytes.includes(`-----BEGIN `) || !bytes.toString('latin1').includes(label)) {
    throw new ConfigError([{ file, message: `${what} is not PEM (expected a -----BEGIN ...${label}----- block)` }]);
  }
  return bytes;
}
