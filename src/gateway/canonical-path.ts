/**
 * One parse, one truth (DESIGN non-negotiables): the request target is split and checked once;
 * the gateway routes on the result and forwards exactly that. Forms that back ends disagree
 * about are refused rather than guessed at (RFC 3986 §3.3, §5.2.4; the classic proxy/back-end
 * confusions: `..` traversal, `%2f` as a separator, `\` as a separator, `;` path parameters that
 * Tomcat/Spring strip, NUL and control bytes, overlong or invalid percent-encoding).
 */
export type CanonicalResult = { ok: true; path: string; rawQuery: string } | { ok: false; why: string };

// Characters allowed raw in a path segment (RFC 3986 pchar minus ';' and minus '%', which is
// checked separately). Anything else (space, '"', '<', '\\', '^', '`', '{', '|', '}', bytes >= 0x7f)
// is refused: a well-behaved client percent-encodes them.
const PCHAR = /^[A-Za-z0-9\-._~!$&'()*+,=:@/%]*$/;
// Percent-encodings that change the path's structure or meaning once decoded somewhere else.
const DANGEROUS_PCT = /%(?:2[fF]|5[cC]|2[eE]|00|0[0-9a-fA-F]|1[0-9a-fA-F]|7[fF]|25|3[bB])/;
const VALID_PCT = /%(?![0-9a-fA-F]{2})/;

export function canonicalizeTarget(target: string): CanonicalResult {
  if (target.length === 0 || target.charCodeAt(0) !== 47 /* '/' */) {
    // absolute-form, authority-form and asterisk-form are not proxied (RFC 9112 §3.2).
    return { ok: false, why: 'request target must be in origin-form' };
  }
  if (target.includes('#')) return { ok: false, why: 'fragment in request target' };
  const q = target.indexOf('?');
  const path = q === -1 ? target : target.slice(0, q);
  const rawQuery = q === -1 ? '' : target.slice(q + 1);
  if (!PCHAR.test(path)) return { ok: false, why: 'path contains characters that must be percent-encoded, or a path parameter' };
  if (VALID_PCT.test(path)) return { ok: false, why: 'invalid percent-encoding in path' };
  if (DANGEROUS_PCT.test(path)) return { ok: false, why: 'encoded separator, dot, percent or control character in path' };
  if (path.includes('//')) return { ok: false, why: 'empty path segment' };
  // Dot segments: refuse rather than normalise, so the client's intent is never reinterpreted.
  const segs = path.split('/');
  for (let i = 1; i < segs.length; i++) {
    const s = segs[i];
    if (s === '.' || s === '..') return { ok: false, why: 'dot segment in path' };
  }
  if (rawQuery.length > 0) {
    for (let i = 0; i < rawQuery.length; i++) {
      const c = rawQuery.charCodeAt(i);
      if (c < 0x21 || c > 0x7e) return { ok: false, why: 'query contains raw control, space or non-ASCII characters' };
    }
    if (VALID_PCT.test(rawQuery)) return { ok: false, why: 'invalid percent-encoding in query' };
    if (/%00/.test(rawQuery)) return { ok: false, why: 'NUL in query' };
  }
  return { ok: true, path, rawQuery };
}
