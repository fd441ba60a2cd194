/**
 * mTLS client identities (issue 3, "mTLS"): the listener asks for a certificate at the handshake
 * and checks it against `listen.tls.ca` (../tls/server-options.ts); this module turns a checked
 * certificate into a principal. The identity is the certificate's first SAN URI (a SPIFFE id,
 * say), else its first DNS name, else its subject CN; `identity.clientCertificates` lists the
 * scopes and the customer each identity may act with. A certificate the CA signed but that is
 * not listed authenticates with no scopes (default deny at the scope check).
 *
 * A connection's certificate cannot change (renegotiation is off), so the identity is worked
 * out once per connection, not per request.
 */
import { createHash } from 'node:crypto';
import type { Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import type { IdentityConfig } from '../config/types.js';
import type { Principal } from '../core/context.js';

/**
 * An identity (with the certificate's RFC 8705 thumbprint), 'untrusted' for a certificate the CA
 * did not sign (or expired), undefined for none.
 */
export type PeerCertificate = { identity: string; thumbprint: string } | 'untrusted' | undefined;

export interface ClientCertificates {
  of(socket: Socket): PeerCertificate;
  principalOf(identity: string): Principal;
}

export function createClientCertificates(cfg: IdentityConfig['clientCertificates']): ClientCertificates {
  const bySocket = new WeakMap<Socket, PeerCertificate | null>();
  const principals = new Map<string, Principal>();
  return {
    of(socket) {
      const hit = bySocket.get(socket);
      if (hit !== undefined) return hit ?? undefined;
      const found = inspect(socket);
      bySocket.set(socket, found ?? null);
      return found;
    },
    principalOf(identity) {
      let p = principals.get(identity);
      if (!p) {
        const entry = Object.prototype.hasOwnProperty.call(cfg, identity) ? cfg[identity] : undefined;
        p = { name: identity, authMethod: 'mtls', scopes: new Set(entry?.scopes ?? []), ...(entry?.subject !== undefined ? { subject: entry.subject } : {}) };
        if (principals.size < 10_000) principals.set(identity, p);
      }
      return p;
    },
  };
}

function inspect(socket: Socket): PeerCertificate {
  const tls = socket as Partial<TLSSocket>;
  if (typeof tls.getPeerCertificate !== 'function') return undefined;
  const cert = tls.getPeerCertificate();
  if (!cert || Object.keys(cert).length === 0) return undefined;
  if (tls.authorized !== true) return 'untrusted';
  const sans = (cert.subjectaltname ?? '').split(', ');
  const uri = sans.find((s) => s.startsWith('URI:'));
  const dns = sans.find((s) => s.startsWith('DNS:'));
  const cn = cert.subject?.CN;
  const identity = uri ? uri.slice(4) : dns ? dns.slice(4) : typeof cn === 'string' ? cn : Array.isArray(cn) ? cn[0] : undefined;
  return identity ? { identity, thumbprint: thumbprintOf(cert.raw) } : 'untrusted';
}

/** RFC 8705 §3.1 `x5t#S256`: base64url SHA-256 of the certificate's DER. */
export function thumbprintOf(der: Buffer): string {
  return createHash('sha256').update(der).digest('base64url');
}

/** The thumbprint of the connection's client certificate when the CA accepted one. */
export function verifiedCertThumbprint(socket: Socket): string | undefined {
  const tls = socket as Partial<TLSSocket>;
  if (typeof tls.getPeerCertificate !== 'function' || tls.authorized !== true) return undefined;
  const cert = tls.getPeerCertificate();
  return cert && cert.raw ? thumbprintOf(cert.raw) : undefined;
}
