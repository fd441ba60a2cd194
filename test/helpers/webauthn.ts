/**
 * A software WebAuthn authenticator for tests (TEST FIXTURE: keys made at run time, never
 * stored): it answers a server's registration and authentication options the way a platform
 * authenticator would, with a P-256 key per credential, "none" attestation, user presence and
 * user verification set, a signature counter, and the origin the browser would report. It lets
 * the passkey flow run against the real server and the real @simplewebauthn verification, with
 * the cryptography done as an authenticator does it.
 */
import { createHash, generateKeyPairSync, randomBytes, sign, type KeyObject } from 'node:crypto';

type Json = Record<string, any>;

// Minimal CBOR (RFC 8949) for what WebAuthn needs: unsigned and negative integers, byte and
// text strings, maps.
function head(major: number, n: number): Buffer {
  if (n < 24) return Buffer.from([(major << 5) | n]);
  if (n < 0x100) return Buffer.from([(major << 5) | 24, n]);
  if (n < 0x10000) return Buffer.from([(major << 5) | 25, n >> 8, n & 0xff]);
  const b = Buffer.alloc(5);
  b[0] = (major << 5) | 26;
  b.writeUInt32BE(n, 1);
  return b;
}

function cbor(v: unknown): Buffer {
  if (typeof v === 'number') return v >= 0 ? head(0, v) : head(1, -1 - v);
  if (typeof v === 'string') {
    const s = Buffer.from(v, 'utf8');
    return Buffer.concat([head(3, s.length), s]);
  }
  if (Buffer.isBuffer(v) || v instanceof Uint8Array) return Buffer.concat([head(2, v.length), Buffer.from(v)]);
  if (v instanceof Map) return Buffer.concat([head(5, v.size), ...[...v].flatMap(([k, x]) => [cbor(k), cbor(x)])]);
  throw new TypeError('cbor: unsupported value');
}

const b64u = (b: Buffer | Uint8Array) => Buffer.from(b).toString('base64url');
const sha256 = (b: Buffer | string) => createHash('sha256').update(b).digest();

export class SoftAuthenticator {
  readonly #creds = new Map<string, { key: KeyObject; counter: number; userHandle: string }>();
  constructor(
    readonly origin: string,
    readonly rpId: string,
    /** Authenticators that keep no counter always report 0. */
    readonly countsSignatures = true,
  ) {}

  /** navigator.credentials.create() with the server's options (JSON form). */
  create(options: Json): Json {
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const jwk = publicKey.export({ format: 'jwk' });
    const id = randomBytes(32);
    const cose = cbor(new Map<number, unknown>([[1, 2], [3, -7], [-1, 1], [-2, Buffer.from(jwk.x!, 'base64url')], [-3, Buffer.from(jwk.y!, 'base64url')]]));
    const counter = this.countsSignatures ? 1 : 0;
    const len = Buffer.alloc(2);
    len.writeUInt16BE(id.length);
    const authData = Buffer.concat([sha256(options.rp?.id ?? this.rpId), Buffer.from([0x45]), this.counterBytes(counter), Buffer.alloc(16), len, id, cose]);
    this.#creds.set(b64u(id), { key: privateKey, counter, userHandle: options.user.id });
    const clientData = Buffer.from(JSON.stringify({ type: 'webauthn.create', challenge: options.challenge, origin: this.origin, crossOrigin: false }));
    return {
      id: b64u(id),
      rawId: b64u(id),
      type: 'public-key',
      response: { clientDataJSON: b64u(clientData), attestationObject: b64u(cbor(new Map<string, unknown>([['fmt', 'none'], ['attStmt', new Map()], ['authData', authData]]))), transports: ['internal'] },
      clientExtensionResults: {},
      authenticatorAttachment: 'platform',
    };
  }

  /** navigator.credentials.get() with the server's options; `origin` lets a test play a phishing page. */
  get(options: Json, o: { origin?: string; credentialId?: string } = {}): Json {
    const allowed: string[] = (options.allowCredentials ?? []).map((c: Json) => c.id as string);
    const id = o.credentialId ?? allowed.find((a) => this.#creds.has(a)) ?? [...this.#creds.keys()][0];
    const cred = id ? this.#creds.get(id) : undefined;
    if (!id || !cred) throw new Error('no credential for this relying party');
    if (this.countsSignatures) cred.counter++;
    const authData = Buffer.concat([sha256(options.rpId ?? this.rpId), Buffer.from([0x05]), this.counterBytes(cred.counter)]);
    const clientData = Buffer.from(JSON.stringify({ type: 'webauthn.get', challenge: options.challenge, origin: o.origin ?? this.origin, crossOrigin: false }));
    const signature = sign('sha256', Buffer.concat([authData, sha256(clientData)]), cred.key);
    return {
      id,
      rawId: id,
      type: 'public-key',
      response: { clientDataJSON: b64u(clientData), authenticatorData: b64u(authData), signature: b64u(signature), userHandle: cred.userHandle },
      clientExtensionResults: {},
      authenticatorAttachment: 'platform',
    };
  }

  /** Rewinds a credential's counter, as a cloned authenticator would show. */
  rewind(credentialId: string, counter: number): void {
    this.#creds.get(credentialId)!.counter = counter;
  }

  private counterBytes(n: number): Buffer {
    const b = Buffer.alloc(4);
    b.writeUInt32BE(n);
    return b;
  }
}
