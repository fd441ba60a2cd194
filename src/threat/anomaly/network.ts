/**
 * Client networks for the "key suddenly used from a new network" signal (RSID-1 red flag "a new
 * device followed by a high-risk action"). An address is reduced to its network, the /24 of an
 * IPv4 address or the /48 of an IPv6 one (the usual allocation to one site, RFC 6177), and to a
 * wider block, /16 or /32, which stands in for "the same provider": a phone that moves between
 * a carrier's /24s stays inside one block, a stolen key used from elsewhere does not.
 *
 * IPv4-mapped IPv6 addresses (::ffff:192.0.2.1, as node:net reports IPv4 clients on a dual-stack
 * socket) count as IPv4. Anything that does not parse is its own network (prefixed `other:`),
 * so odd input never throws and never merges with a real network.
 */

export interface NetworkOf {
  /** /24 (IPv4) or /48 (IPv6), e.g. `192.0.2` or `2001:db8:12`. */
  net: string;
  /** /16 (IPv4) or /32 (IPv6), e.g. `192.0` or `2001:db8`. */
  block: string;
}

const MAX_ADDRESS = 64;

/**
 * The network and block of a client address.
 *
 * @example
 * networkOf('192.0.2.77');              // { net: '192.0.2', block: '192.0' }
 * networkOf('::ffff:192.0.2.77');       // the same
 * networkOf('2001:DB8:12:3::1');        // { net: '2001:db8:12', block: '2001:db8' }
 * networkOf('not an address');          // { net: 'other:not an address', block: 'other:not an address' }
 */
export function networkOf(address: string): NetworkOf {
  let a = typeof address === 'string' ? address : '';
  if (a.length > MAX_ADDRESS) a = a.slice(0, MAX_ADDRESS);
  if (a.startsWith('::ffff:') || a.startsWith('::FFFF:')) {
    const rest = a.slice(7);
    if (rest.includes('.')) a = rest;
  }
  if (a.includes(':')) return ipv6(a) ?? other(a);
  return ipv4(a) ?? other(a);
}

function other(a: string): NetworkOf {
  const n = `other:${a}`;
  return { net: n, block: n };
}

function ipv4(a: string): NetworkOf | undefined {
  const parts = a.split('.');
  if (parts.length !== 4) return undefined;
  for (const p of parts) {
    if (p.length === 0 || p.length > 3) return undefined;
    for (let i = 0; i < p.length; i++) {
      const c = p.charCodeAt(i);
      if (c < 48 || c > 57) return undefined;
    }
    if (Number(p) > 255) return undefined;
  }
  // Normalised by value, so 010.0.0.1 and 10.0.0.1 are one network.
  const [a0, a1, a2] = parts.map(Number) as [number, number, number, number];
  return { net: `${a0}.${a1}.${a2}`, block: `${a0}.${a1}` };
}

function ipv6(a: string): NetworkOf | undefined {
  const zone = a.indexOf('%');
  if (zone >= 0) a = a.slice(0, zone);
  const dbl = a.indexOf('::');
  let groups: string[];
  if (dbl >= 0) {
    if (a.indexOf('::', dbl + 1) >= 0) return undefined;
    const head = a.slice(0, dbl) === '' ? [] : a.slice(0, dbl).split(':');
    const tail = a.slice(dbl + 2) === '' ? [] : a.slice(dbl + 2).split(':');
    const missing = 8 - head.length - tail.length;
    if (missing < 1) return undefined;
    groups = [...head, ...new Array<string>(missing).fill('0'), ...tail];
  } else {
    groups = a.split(':');
    if (groups.length !== 8) return undefined;
  }
  const norm: string[] = [];
  for (let i = 0; i < 3; i++) {
    const g = groups[i] ?? '';
    if (g.length === 0 || g.length > 4 || !/^[0-9a-fA-F]+$/.test(g)) return undefined;
    norm.push(parseInt(g, 16).toString(16));
  }
  return { net: norm.join(':'), block: `${norm[0]}:${norm[1]}` };
}
