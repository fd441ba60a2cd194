/**
 * TEST FIXTURE MATERIAL, generated at run time: a throwaway certificate authority and client
 * certificates signed by it (or by a stranger CA), for mTLS tests. Nothing here is written to the
 * repository; every key lives for the duration of one test run.
 */
import { KeyObject, randomBytes, webcrypto } from 'node:crypto';
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';

x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);
type CryptoKeyPair = webcrypto.CryptoKeyPair;

const ALG = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' };

export interface TestCa {
  certPem: string;
  issue(o: { cn: string; uri?: string; days?: number; notBefore?: Date }): Promise<{ certPem: string; keyPem: string }>;
}

function serial(): string {
  const s = randomBytes(16);
  s[0] = (s[0]! & 0x7f) | 0x01;
  return s.toString('hex');
}

export async function createTestCa(name = 'Rampart TEST CA - fixture, not for production'): Promise<TestCa> {
  const keys = (await webcrypto.subtle.generateKey(ALG, true, ['sign', 'verify'])) as CryptoKeyPair;
  const notBefore = new Date(Date.now() - 60_000);
  const ca = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: serial(),
    name: `CN=${name}`,
    notBefore,
    notAfter: new Date(notBefore.getTime() + 2 * 86_400_000),
    signingAlgorithm: ALG,
    keys,
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  return {
    certPem: ca.toString('pem'),
    async issue(o) {
      const leaf = (await webcrypto.subtle.generateKey(ALG, true, ['sign', 'verify'])) as CryptoKeyPair;
      const nb = o.notBefore ?? new Date(Date.now() - 60_000);
      const cert = await x509.X509CertificateGenerator.create({
        serialNumber: serial(),
        subject: `CN=${o.cn}`,
        issuer: ca.subject,
        notBefore: nb,
        notAfter: new Date(nb.getTime() + (o.days ?? 1) * 86_400_000),
        signingAlgorithm: ALG,
        publicKey: leaf.publicKey,
        signingKey: keys.privateKey,
        extensions: [
          new x509.BasicConstraintsExtension(false, undefined, true),
          new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
          new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.clientAuth]),
          ...(o.uri ? [new x509.SubjectAlternativeNameExtension([{ type: 'url', value: o.uri }])] : []),
        ],
      });
      return { certPem: cert.toString('pem'), keyPem: KeyObject.from(leaf.privateKey).export({ type: 'pkcs8', format: 'pem' }).toString() };
    },
  };
}
