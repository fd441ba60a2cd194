/**
 * A self-signed development certificate, so that `rampart init` and `rampart demo` serve TLS from
 * the first minute (ENC-1: no plain-HTTP fallback even in development).
 *
 * ECDSA P-256 with SHA-256, serverAuth only, not a CA, SANs for the given hosts, and a lifespan of
 * at most 90 days (ENC-2: certificate lifespan, 90 days recommended). The subject says plainly
 * that it is a DEVELOPMENT certificate, so nobody mistakes it for a real one.
 */
import { KeyObject, randomBytes, webcrypto } from 'node:crypto';
import { isIP } from 'node:net';

export interface DevCertificateOptions {
  /** DNS names and IP addresses the certificate is valid for, e.g. ['localhost', '127.0.0.1', '::1']. */
  hosts: string[];
  /** Validity in days, 1-90 (ENC-2). Default 90. */
  days?: number;
}

export interface DevCertificate {
  certPem: string;
  /** PKCS#8 PEM; write it with mode 0600. */
  keyPem: string;
}

/** Longest validity allowed for a development certificate (ENC-2 recommends 90 days). */
export const DEV_CERT_MAX_DAYS = 90;
export const DEV_CERT_SUBJECT = 'CN=Rampart DEVELOPMENT certificate - not for production';

// eslint-disable-next-line security/detect-unsafe-regex -- linear: the lookahead caps the input at 253 characters, and labels cannot contain the '.' that separates them, so a name splits one way only
const DNS_NAME = /^(?=.{1,253}$)[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/;
const DAY_MS = 86_400_000;

/**
 * Generates a self-signed development certificate and its private key.
 *
 * @example
 * const { certPem, keyPem } = await generateDevCertificate({ hosts: ['localhost', '127.0.0.1', '::1'] });
 */
export async function generateDevCertificate(opts: DevCertificateOptions): Promise<DevCertificate> {
  const days = opts.days ?? DEV_CERT_MAX_DAYS;
  if (!Number.isInteger(days) || days < 1 || days > DEV_CERT_MAX_DAYS) {
    throw new TypeError(`generateDevCertificate: days must be an integer from 1 to ${DEV_CERT_MAX_DAYS} (ENC-2)`);
  }
  if (!Array.isArray(opts.hosts) || opts.hosts.length === 0) {
    throw new TypeError('generateDevCertificate: hosts must name at least one DNS name or IP address');
  }
  const names = [...new Set(opts.hosts.map((h) => h.trim().toLowerCase().replace(/^\[(.*)\]$/, '$1')))].map((h) => {
    if (isIP(h) !== 0) return { type: 'ip' as const, value: h };
    if (DNS_NAME.test(h)) return { type: 'dns' as const, value: h };
    throw new TypeError(`generateDevCertificate: "${h}" is neither a DNS name nor an IP address`);
  });

  const x509 = await loadX509();
  const alg = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' };
  const keys = (await webcrypto.subtle.generateKey(alg, true, ['sign', 'verify'])) as webcrypto.CryptoKeyPair;
  // Back-date by a minute for clock skew; the whole span stays at `days`.
  const notBefore = new Date(Math.floor(Date.now() / 1000) * 1000 - 60_000);
  const notAfter = new Date(notBefore.getTime() + days * DAY_MS);
  const serial = randomBytes(16);
  serial[0] = (serial[0]! & 0x7f) | 0x01; // positive and non-zero (RFC 5280 4.1.2.2)

  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: serial.toString('hex'),
    name: DEV_CERT_SUBJECT,
    notBefore,
    notAfter,
    signingAlgorithm: alg,
    keys,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
      new x509.SubjectAlternativeNameExtension(names),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  const keyPem = KeyObject.from(keys.privateKey).export({ type: 'pkcs8', format: 'pem' }).toString();
  return { certPem: cert.toString('pem'), keyPem };
}

type X509Module = typeof import('@peculiar/x509');
let x509Module: Promise<X509Module> | undefined;

/**
 * Loads @peculiar/x509 on first use. It depends on tsyringe, which needs the Reflect metadata
 * API; `reflect-metadata` installs it and must be loaded first, hence the dynamic imports.
 */
function loadX509(): Promise<X509Module> {
  x509Module ??= (async () => {
    await import('reflect-metadata');
    const x509 = await import('@peculiar/x509');
    x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);
    return x509;
  })();
  return x509Module;
}
