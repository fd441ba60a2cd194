/**
 * Who the client is. The TCP peer, unless the peer is a configured trusted proxy: then the
 * right-most address of X-Forwarded-For that is not itself a trusted proxy (client-supplied
 * entries further left are not believed). Without a trusted peer, X-Forwarded-* is ignored and
 * dropped before forwarding.
 */
import { BlockList, isIP } from 'node:net';
import type { IncomingMessage } from 'node:http';

export interface TrustedProxies {
  isTrusted(address: string): boolean;
  readonly empty: boolean;
}

export function trustedProxies(entries: readonly string[]): TrustedProxies {
  const list = new BlockList();
  for (const e of entries) {
    const [addr, bits] = e.split('/');
    const family = isIP(addr ?? '');
    if (!family) throw new TypeError(`trustedProxies: '${e}' is not an IP address or CIDR`);
    const type = family === 6 ? 'ipv6' : 'ipv4';
    if (bits === undefined) list.addAddress(addr!, type);
    else list.addSubnet(addr!, Number(bits), type);
  }
  return {
    empty: entries.length === 0,
    isTrusted(address) {
      if (entries.length === 0) return false;
      const a = normalizeAddress(address);
      const family = isIP(a);
      if (!family) return false;
      return list.check(a, family === 6 ? 'ipv6' : 'ipv4');
    },
  };
}

/** `::ffff:127.0.0.1` (IPv4-mapped) becomes `127.0.0.1`. */
export function normalizeAddress(a: string): string {
  return a.startsWith('::ffff:') && a.includes('.') ? a.slice(7) : a;
}

export interface ClientInfo {
  peer: string;
  client: string;
  forwardedFor: string | undefined;
  proto: 'http' | 'https';
}

export function clientInfo(req: IncomingMessage, trusted: TrustedProxies, tls: boolean): ClientInfo {
  const peer = normalizeAddress(req.socket.remoteAddress ?? 'unknown');
  const own: 'http' | 'https' = tls ? 'https' : 'http';
  if (trusted.empty || !trusted.isTrusted(peer)) return { peer, client: peer, forwardedFor: undefined, proto: own };
  const xff = req.headers['x-forwarded-for'];
  const chain = (Array.isArray(xff) ? xff.join(',') : xff ?? '').split(',').map((s) => s.trim()).filter(Boolean);
  let client = peer;
  for (let i = chain.length - 1; i >= 0; i--) {
    const hop = normalizeAddress(chain[i]!);
    if (!isIP(hop)) break;
    client = hop;
    if (!trusted.isTrusted(hop)) break;
  }
  const xfp = req.headers['x-forwarded-proto'];
  const proto = xfp === 'https' || xfp === 'http' ? xfp : own;
  return { peer, client, forwardedFor: chain.length > 0 ? chain.join(', ') : undefined, proto };
}
