/**
 * Media types of request bodies: parsing a Content-Type header, choosing the operation's
 * `content` entry for it, and deciding how the body is read.
 *
 * RFC 9110 §8.3.1: type, subtype and parameter names are case-insensitive, and parameters follow
 * ';'. OpenAPI 3.1 §4.8.14 (Media Type / `content` map): keys are media types or media-type
 * ranges, and "the most specific key is applicable" (`text/plain` over `text/*` over `*\/*`).
 */

export interface ParsedMediaType {
  /** `type/subtype`, lower-case, without parameters. */
  essence: string;
  type: string;
  subtype: string;
  /** Parameters with lower-case names; values unquoted. */
  params: Record<string, string>;
}

const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

/**
 * Parses a Content-Type value (RFC 9110 §8.3). Returns undefined when it is not a well-formed
 * `type/subtype` (with optional parameters); wildcards are refused here because a request must
 * say what it sends.
 */
export function parseContentType(value: string | undefined): ParsedMediaType | undefined {
  if (value === undefined) return undefined;
  const semi = value.indexOf(';');
  const essence = (semi === -1 ? value : value.slice(0, semi)).trim().toLowerCase();
  const slash = essence.indexOf('/');
  if (slash <= 0) return undefined;
  const type = essence.slice(0, slash);
  const subtype = essence.slice(slash + 1);
  if (!TOKEN.test(type) || !TOKEN.test(subtype) || type === '*' || subtype === '*') return undefined;
  const params: Record<string, string> = Object.create(null) as Record<string, string>;
  if (semi !== -1) {
    for (const part of value.slice(semi + 1).split(';')) {
      const eq = part.indexOf('=');
      if (eq === -1) continue;
      const name = part.slice(0, eq).trim().toLowerCase();
      let v = part.slice(eq + 1).trim();
      if (v.length >= 2 && v.startsWith('"') && v.endsWith('"')) v = v.slice(1, -1).replace(/\\(.)/g, '$1');
      if (name) params[name] = v;
    }
  }
  return { essence, type, subtype, params };
}

/**
 * Normalises a `content` key from the document: lower-case essence, parameters dropped. Keeps
 * ranges (`application/*`, `*\/*`). Returns undefined for keys that are not media types.
 */
export function normalizeContentKey(key: string): string | undefined {
  const semi = key.indexOf(';');
  const essence = (semi === -1 ? key : key.slice(0, semi)).trim().toLowerCase();
  const slash = essence.indexOf('/');
  if (slash <= 0) return undefined;
  const type = essence.slice(0, slash);
  const subtype = essence.slice(slash + 1);
  if (!TOKEN.test(type) || !TOKEN.test(subtype)) return undefined;
  if (type === '*' && subtype !== '*') return undefined;
  return essence;
}

/**
 * Picks the most specific of `keys` (normalised content keys) that covers `mt`: an exact key, then
 * a structured-suffix key the spec may use (`application/*+json`), then `type/*`, then `*\/*`.
 */
export function selectContentKey(keys: readonly string[], mt: ParsedMediaType): string | undefined {
  let best: string | undefined;
  let bestRank = 0;
  for (const key of keys) {
    const rank = coverRank(key, mt);
    if (rank > bestRank) {
      best = key;
      bestRank = rank;
    }
  }
  return best;
}

function coverRank(key: string, mt: ParsedMediaType): number {
  if (key === mt.essence) return 4;
  const slash = key.indexOf('/');
  const kt = key.slice(0, slash);
  const ks = key.slice(slash + 1);
  if (kt === '*' && ks === '*') return 1;
  if (kt !== mt.type) return 0;
  if (ks === '*') return 2;
  // `application/*+json` covers `application/vnd.x+json` (RFC 6839 structured syntax suffixes).
  if (ks.startsWith('*+')) {
    const plus = mt.subtype.lastIndexOf('+');
    return plus !== -1 && mt.subtype.slice(plus) === ks.slice(1) ? 3 : 0;
  }
  return 0;
}

/** How a body of this media type is read and checked. */
export type BodyKind = 'json' | 'form' | 'opaque';

/**
 * `application/json` and any `+json` structured suffix (RFC 6839 §3.1) are JSON;
 * `application/x-www-form-urlencoded` is a form; everything else passes unparsed.
 */
export function bodyKind(mt: ParsedMediaType): BodyKind {
  if (mt.essence === 'application/json' || mt.subtype.endsWith('+json')) return 'json';
  if (mt.essence === 'application/x-www-form-urlencoded') return 'form';
  return 'opaque';
}

/** RFC 8259 §8.1: JSON exchanged between systems MUST be UTF-8; a charset parameter must agree. */
export function jsonCharsetAcceptable(mt: ParsedMediaType): boolean {
  const cs = mt.params['charset'];
  if (cs === undefined) return true;
  const c = cs.toLowerCase();
  return c === 'utf-8' || c === 'utf8';
}
