/**
 * Syntactic IP address parsing and classification for the SSRF check (API7, ASVS 5.2.6). Parsing
 * is deliberately loose where resolvers and URL parsers are loose, so that an address cannot hide
 * behind a spelling: IPv4 in the inet_aton forms that WHATWG URL, curl and libc accept (`127.1`,
 * `0x7f.0.0.1`, `0177.0.0.1`, `2130706433`, `017700000001`), IPv6 with `::`, an embedded IPv4
 * tail and a zone id. No DNS lookup is ever made: a public name that resolves to an internal
 * address is the proxy's outbound allowlist's job (see docs/inspection.md).
 */

/** Why an address is internal: the rule suffix after `ssrf.`. */
export type AddressClass = 'metadata' | 'loopback' | 'private' | 'link-local' | 'cgnat' | 'unspecified' | 'reserved';

/**
 * Parses an IPv4 address in any inet_aton form (1 to 4 parts, each decimal, octal with a leading
 * 0, or hex with 0x; the last part fills the remaining bytes). Returns the 32-bit value.
 *
 * @example
 * parseIPv4('127.1'); // 2130706433
 * parseIPv4('0x7f.1'); // 2130706433
 * parseIPv4('1.2.3'); // 16908291
 * parseIPv4('example.com'); // undefined
 */
export function parseIPv4(host: string): number | undefined {
  let h = host;
  if (h.endsWith('.')) h = h.slice(0, -1);
  if (h.length === 0 || h.length > 64) return undefined;
  const parts = h.split('.');
  if (parts.length > 4) return undefined;
  const nums: number[] = [];
  for (const p of parts) {
    const v = parsePart(p);
    if (v === undefined) return undefined;
    nums.push(v);
  }
  const last = nums.length - 1;
  for (let i = 0; i < last; i++) if (nums[i]! > 255) return undefined;
  const lastMax = 2 ** (8 * (4 - last)) - 1;
  if (nums[last]! > lastMax) return undefined;
  let v = 0;
  for (let i = 0; i < last; i++) v += nums[i]! * 2 ** (8 * (3 - i));
  return v + nums[last]!;
}

function parsePart(p: string): number | undefined {
  if (p.length === 0) return undefined;
  let m: RegExpExecArray | null;
  if ((m = /^0x([0-9a-f]*)$/i.exec(p))) return m[1] === '' ? 0 : m[1]!.length > 8 ? undefined : parseInt(m[1]!, 16);
  if (/^0[0-7]+$/.test(p)) return p.length > 12 ? undefined : parseInt(p, 8);
  if (/^(?:0|[1-9][0-9]{0,9})$/.test(p)) return Number(p);
  return undefined;
}

/**
 * Parses an IPv6 address (no brackets; a zone id `%…` is ignored) into 16 bytes.
 *
 * @example
 * parseIPv6('::ffff:127.0.0.1')?.slice(10); // [255, 255, 127, 0, 0, 1]
 */
export function parseIPv6(text: string): number[] | undefined {
  let s = text;
  const zone = s.indexOf('%');
  if (zone !== -1) s = s.slice(0, zone);
  if (s.length < 2 || s.length > 64 || !/^[0-9a-f:.]+$/i.test(s)) return undefined;
  const lastColon = s.lastIndexOf(':');
  if (lastColon === -1) return undefined;
  const after = s.slice(lastColon + 1);
  if (after.includes('.')) {
    // ::ffff:127.0.0.1 → ::ffff:7f00:1
    const v4 = parseStrictIPv4(after);
    if (v4 === undefined) return undefined;
    s = `${s.slice(0, lastColon + 1)}${(v4 >>> 16).toString(16)}:${(v4 & 0xffff).toString(16)}`;
  }
  const dbl = s.indexOf('::');
  if (dbl !== s.lastIndexOf('::')) return undefined;
  const parseGroups = (g: string): number[] | undefined => {
    if (g === '') return [];
    const out: number[] = [];
    for (const x of g.split(':')) {
      if (!/^[0-9a-f]{1,4}$/i.test(x)) return undefined;
      out.push(parseInt(x, 16));
    }
    return out;
  };
  let groups: number[];
  if (dbl === -1) {
    const g = parseGroups(s);
    if (!g || g.length !== 8) return undefined;
    groups = g;
  } else {
    const head = parseGroups(s.slice(0, dbl));
    const rest = parseGroups(s.slice(dbl + 2));
    if (!head || !rest || head.length + rest.length > 7) return undefined;
    groups = [...head, ...new Array<number>(8 - head.length - rest.length).fill(0), ...rest];
  }
  const bytes: number[] = [];
  for (const g of groups) bytes.push(g >> 8, g & 255);
  return bytes;
}

function parseStrictIPv4(s: string): number | undefined {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(s);
  if (!m) return undefined;
  const p = m.slice(1).map(Number);
  if (p.some((x) => x > 255)) return undefined;
  return ((p[0]! << 24) >>> 0) + (p[1]! << 16) + (p[2]! << 8) + p[3]!;
}

const inRange = (v: number, base: string, bits: number): boolean => {
  const b = parseStrictIPv4(base)!;
  const size = 2 ** (32 - bits);
  return v >= b && v < b + size;
};

/**
 * The class of an internal IPv4 address, or undefined for a public one.
 *
 * @example
 * classifyIPv4(parseIPv4('169.254.169.254')!); // 'metadata'
 * classifyIPv4(parseIPv4('8.8.8.8')!); // undefined
 */
export function classifyIPv4(v: number): AddressClass | undefined {
  // Cloud metadata: AWS/GCP/Azure/OpenStack 169.254.169.254, Oracle 192.0.0.192, Alibaba 100.100.100.200,
  // AWS Time Sync/DNS on 169.254.169.123 / 169.254.169.253 (same /16 anyway).
  if (v === parseStrictIPv4('169.254.169.254') || v === parseStrictIPv4('192.0.0.192') || v === parseStrictIPv4('100.100.100.200') || v === parseStrictIPv4('169.254.170.2')) return 'metadata';
  if (inRange(v, '127.0.0.0', 8)) return 'loopback';
  if (inRange(v, '0.0.0.0', 8)) return 'unspecified';
  if (inRange(v, '10.0.0.0', 8) || inRange(v, '172.16.0.0', 12) || inRange(v, '192.168.0.0', 16)) return 'private';
  if (inRange(v, '169.254.0.0', 16)) return 'link-local';
  if (inRange(v, '100.64.0.0', 10)) return 'cgnat';
  // IETF protocol assignments, benchmarking, multicast, reserved, broadcast
  if (inRange(v, '192.0.0.0', 24) || inRange(v, '198.18.0.0', 15) || v >= parseStrictIPv4('224.0.0.0')!) return 'reserved';
  return undefined;
}

/**
 * The class of an internal IPv6 address (16 bytes), or undefined for a public one. IPv4-mapped
 * (`::ffff:a.b.c.d`), IPv4-compatible (`::a.b.c.d`), NAT64 (`64:ff9b::/96`) and 6to4
 * (`2002:AABB:CCDD::`) addresses are judged by the IPv4 address they carry.
 *
 * @example
 * classifyIPv6(parseIPv6('::1')!); // 'loopback'
 * classifyIPv6(parseIPv6('fd00:ec2::254')!); // 'metadata'
 */
export function classifyIPv6(b: number[]): AddressClass | undefined {
  const zeroTo = (n: number): boolean => b.slice(0, n).every((x) => x === 0);
  const v4At = (i: number): number => ((b[i]! << 24) >>> 0) + (b[i + 1]! << 16) + (b[i + 2]! << 8) + b[i + 3]!;
  if (zeroTo(16)) return 'unspecified';
  if (zeroTo(15) && b[15] === 1) return 'loopback';
  if (zeroTo(10) && b[10] === 0xff && b[11] === 0xff) return classifyIPv4(v4At(12)) ?? undefined;
  if (zeroTo(12)) return classifyIPv4(v4At(12)) ?? 'reserved';
  if (b[0] === 0x00 && b[1] === 0x64 && b[2] === 0xff && b[3] === 0x9b) return classifyIPv4(v4At(12));
  if (b[0] === 0x20 && b[1] === 0x02) return classifyIPv4(v4At(2));
  // fd00:ec2::254 (AWS IMDS over IPv6)
  if (b[0] === 0xfd && b[1] === 0x00 && b[2] === 0x0e && b[3] === 0xc2 && b.slice(4, 14).every((x) => x === 0) && b[14] === 0x02 && b[15] === 0x54) return 'metadata';
  if ((b[0]! & 0xfe) === 0xfc) return 'private';
  if (b[0] === 0xfe && (b[1]! & 0xc0) === 0x80) return 'link-local';
  if (b[0] === 0xfe && (b[1]! & 0xc0) === 0xc0) return 'private'; // site-local (deprecated)
  if (b[0] === 0xff) return 'reserved'; // multicast
  return undefined;
}
