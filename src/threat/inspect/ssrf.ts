/**
 * Server-side request forgery (API7, ASVS 5.2.6, CWE-918): a URL in a field that the upstream
 * may fetch (a webhook, an avatar, a statement link) pointing at the upstream's own network:
 * loopback, private ranges, link-local, CGNAT, cloud metadata endpoints. The decision is
 * syntactic, on the host as written (after decode.ts undid percent- and Unicode tricks); no DNS
 * lookup is made, so a public name that resolves to an internal address is not caught here (the
 * proxy's outbound allowlist must enforce that at connect time).
 *
 * What counts as URL-shaped: `scheme://…` anywhere in the value (for http, https, ws, wss and
 * ftp also `scheme:/host` and `scheme:host`, which WHATWG URL parsers accept), `//host` at the
 * start of the value or after a quote, `=`, `(` or a space, a whole value `host:port` whose host
 * is a dotted quad, a name with a letter or a bracketed IPv6 address, and, for fields declared as
 * hosts (InspectOptions.hostField), the bare value. Backslashes count as slashes, as browsers do.
 *
 * Parser differentials are resolved by checking every host a parser could pick: the part after
 * the last `@` (WHATWG), each part before it (`http://127.0.0.1:80@good.com`), the part before a
 * `#` or `?` that precedes an `@` (`http://good.com#@127.0.0.1`), and the hostname WHATWG URL
 * itself computes (IPv4 number forms, IDNA). Any internal candidate refuses the value.
 *
 * Rules (`ssrf.` prefix): metadata, loopback, private, link-local, cgnat, unspecified, reserved
 * (multicast, benchmarking, 240/4, broadcast), internal-name (localhost, *.localhost,
 * *.internal, *.local, *.localdomain, *.home.arpa, and rebinding services such as nip.io,
 * sslip.io, localtest.me, lvh.me that resolve names to any IP), scheme (gopher://, dict://,
 * which turn any SSRF into a raw TCP client).
 */
import { classifyIPv4, classifyIPv6, parseIPv4, parseIPv6 } from './ip.js';

const METADATA_NAMES = new Set(['metadata', 'metadata.google.internal', 'metadata.goog', 'instance-data', 'instance-data.ec2.internal', 'metadata.azure.com', 'metadata.platformequinix.com', 'kubernetes.default.svc', 'kubernetes.default']);
const LOOPBACK_NAMES = new Set(['localhost', 'localhost.localdomain', 'ip6-localhost', 'ip6-loopback', 'loopback', 'localhost6', 'localhost6.localdomain6']);
const INTERNAL_SUFFIXES = ['.localhost', '.internal', '.local', '.localdomain', '.home.arpa', '.intranet', '.corp', '.lan', '.svc.cluster.local', '.cluster.local'];
const REBINDING_NAMES = ['nip.io', 'sslip.io', 'xip.io', 'xip.name', 'localtest.me', 'lvh.me', 'vcap.me', 'rbndr.us', '1u.ms', 'localh.st', 'traefik.me', 'lacolhost.com', 'fuf.me', 'nip.direct', 'backname.io'];
const REBINDING_SUFFIXES = REBINDING_NAMES.map((n) => `.${n}`);
/** Schemes whose authority follows the colon with any number of slashes (WHATWG "special"). */
const SPECIAL = new Set(['http', 'https', 'ws', 'wss', 'ftp']);
/** Schemes that make any SSRF a raw TCP client. */
const RAW_SCHEMES = new Set(['gopher', 'dict']);

/**
 * The SSRF rule `lower` (a lower-cased variant) triggers, or undefined.
 *
 * @example
 * detectSsrf('http://169.254.169.254/latest/meta-data/', false); // 'ssrf.metadata'
 * detectSsrf('http://2130706433/', false); // 'ssrf.loopback'
 * detectSsrf('https://www.example.com/statement.pdf', false); // undefined
 */
export function detectSsrf(lower: string, hostField: boolean): string | undefined {
  const s = lower.includes('\\') ? lower.replaceAll('\\', '/') : lower;
  if (s.includes(':')) {
    // scheme:[//]authority, at every colon
    let colon = s.indexOf(':');
    while (colon !== -1) {
      let b = colon;
      while (b > 0 && colon - b < 31 && isSchemeChar(s.charCodeAt(b - 1))) b--;
      while (b < colon && !isLetter(s.charCodeAt(b))) b++;
      const scheme = s.slice(b, colon);
      let start = colon + 1;
      while (start < s.length && isBlank(s.charCodeAt(start))) start++;
      let slashes = 0;
      while (s.charCodeAt(start) === 47) {
        start++;
        slashes++;
      }
      if (scheme.length > 0 && (slashes >= 2 || SPECIAL.has(scheme))) {
        if (RAW_SCHEMES.has(scheme)) return 'ssrf.scheme';
        const r = checkAuthority(s, start) ?? whatwgHost(s, start, scheme);
        if (r) return r;
      }
      colon = s.indexOf(':', colon + 1);
    }
    // host:port as the whole value
    // eslint-disable-next-line security/detect-unsafe-regex -- linear: anchored; `[a-z0-9._-]+` stops at ':', `\d{1,5}` is bounded, and `\S*` / `\s*` cannot overlap
    const hp = /^\s*(\[[0-9a-f:.%]+\]|[a-z0-9._-]+):(\d{1,5})(?:\/\S*)?\s*$/.exec(s);
    // eslint-disable-next-line security/detect-unsafe-regex -- bounded: `\d{1,3}(?:\.\d{1,3}){3}` has at most 15 characters to try, anchored
    if (hp && (hp[1]!.startsWith('[') || /[a-z]/.test(hp[1]!) || /^\d{1,3}(?:\.\d{1,3}){3}$/.test(hp[1]!))) {
      const r = classifyHost(hp[1]!);
      if (r) return r;
    }
  }
  if (s.includes('//')) {
    // protocol-relative //host
    const re = /(?:^|[\s"'(=<,])\/\/(?=[a-z0-9[%_])/g;
    let m: RegExpExecArray | null;
    while ((m = re.exec(s))) {
      const r = checkAuthority(s, m.index + m[0].length);
      if (r) return r;
    }
  }
  if (hostField) {
    const v = s.trim();
    if (v.length > 0 && !/\s/.test(v)) return checkAuthority(v, 0);
  }
  return undefined;
}

/** Checks every host candidate of the authority starting at `start`. */
function checkAuthority(s: string, start: number): string | undefined {
  let end = start;
  const n = s.length;
  while (end < n) {
    const c = s.charCodeAt(end);
    // / whitespace " ' < > ` { } | ^ )
    if (c === 47 || c <= 32 || c === 34 || c === 39 || c === 60 || c === 62 || c === 96 || c === 123 || c === 125 || c === 124 || c === 94 || c === 41) break;
    end++;
  }
  const authority = s.slice(start, end);
  if (authority.length === 0) return undefined;
  const pieces = authority.split('@');
  for (let i = 0; i < pieces.length; i++) {
    let p = pieces[i]!;
    // good.com#@127.0.0.1: the host before # or ? is one candidate; the one after @ another
    const cut = p.search(/[?#;]/);
    if (cut !== -1) p = p.slice(0, cut);
    // userinfo user:pass → user; host:port → host
    const r = classifyHost(stripPort(p, i < pieces.length - 1));
    if (r) return r;
  }
  return undefined;
}

function stripPort(p: string, userinfo: boolean): string {
  if (p.startsWith('[')) {
    const close = p.indexOf(']');
    return close === -1 ? p.slice(1) : p.slice(1, close);
  }
  const colons = p.split(':').length - 1;
  if (colons === 0) return p;
  if (colons === 1 || userinfo) return p.slice(0, p.indexOf(':'));
  return p; // a bare IPv6 address without brackets
}

/** The hostname WHATWG URL computes (number forms, IDNA, percent-decoding), checked as well. */
function whatwgHost(s: string, authStart: number, scheme: string): string | undefined {
  if (!SPECIAL.has(scheme)) return undefined;
  let end = authStart;
  let unusual = false;
  while (end < s.length && s.charCodeAt(end) > 32 && s[end] !== '"' && s[end] !== "'" && s[end] !== '<' && s[end] !== '>') {
    const c = s.charCodeAt(end);
    if (c === 47 || c === 63 || c === 35) break;
    if (c > 126 || c === 37) unusual = true;
    end++;
  }
  // Plain ASCII hosts are fully judged by checkAuthority; WHATWG adds IDNA and percent-decoding.
  if (!unusual) return undefined;
  let host: string;
  try {
    host = new URL(`${scheme}://${s.slice(authStart, end)}`).hostname;
  } catch {
    return undefined;
  }
  return classifyHost(host);
}

function isLetter(c: number): boolean {
  return c >= 97 && c <= 122;
}
function isSchemeChar(c: number): boolean {
  return isLetter(c) || (c >= 48 && c <= 57) || c === 43 || c === 45 || c === 46;
}
function isBlank(c: number): boolean {
  return c === 32 || c === 9;
}

/**
 * The SSRF rule for one host as written (an IP in any form, a name), or undefined.
 *
 * @example
 * classifyHost('0x7f.1'); // 'ssrf.loopback'
 * classifyHost('[::ffff:169.254.169.254]'); // 'ssrf.metadata'
 */
export function classifyHost(raw: string): string | undefined {
  let h = raw.trim().toLowerCase();
  if (h.startsWith('[') && h.endsWith(']')) h = h.slice(1, -1);
  while (h.endsWith('.')) h = h.slice(0, -1);
  if (h.length === 0) return undefined;
  if (h.includes(':')) {
    const b = parseIPv6(h.replace(/%25/, '%'));
    if (b) {
      const c = classifyIPv6(b);
      return c ? `ssrf.${c}` : undefined;
    }
    return undefined;
  }
  if (/^[0-9a-fx.]+$/.test(h)) {
    const v = parseIPv4(h);
    if (v !== undefined) {
      const c = classifyIPv4(v);
      return c ? `ssrf.${c}` : undefined;
    }
  }
  if (METADATA_NAMES.has(h)) return 'ssrf.metadata';
  if (LOOPBACK_NAMES.has(h)) return 'ssrf.loopback';
  for (const suf of INTERNAL_SUFFIXES) if (h.endsWith(suf)) return 'ssrf.internal-name';
  for (let i = 0; i < REBINDING_NAMES.length; i++) if (h === REBINDING_NAMES[i] || h.endsWith(REBINDING_SUFFIXES[i]!)) return 'ssrf.internal-name';
  return undefined;
}
