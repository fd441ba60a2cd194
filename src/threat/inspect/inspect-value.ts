/**
 * The inspector's entry points (ASVS 5.3.4 injection, 5.2.6 / API7 SSRF, 5.1.3 input
 * validation): one string that will reach the upstream, a value or an object key, in, a Finding
 * or nothing out. Pure and synchronous; it never throws. The gateway stage that walks requests
 * (src/pipeline/inspect.ts) calls it for every free-form string.
 *
 *   value ─▶ too long? ─▶ prescreen (one pass; most values stop here) ─▶ decodeVariants
 *            (raw, url, url2, url3, html, unicode, nfkc, nul) ─▶ per family in INJECTION_FAMILIES
 *            order, per variant: detector ─▶ first hit is the Finding; else an encoding that is
 *            suspicious by itself (evasion); else nothing
 *
 * Bounds: values up to MAX_INSPECT_CHARS are inspected in full; every detector is linear in the
 * variant's length and there are at most MAX_VARIANTS variants. A longer value is refused as
 * 'evasion.too-long' (the body cap normally stops it first; a free-form string of more than a
 * MiB has no business in a brokerage API, and inspecting part of it would let the rest through).
 * Fail closed: an exception inside a detector is 'evasion.inspector-error', never "allow", and is
 * not subject to `skip`.
 */
import { INJECTION_FAMILIES, type Finding, type InjectionFamily, type InspectOptions, type ValueLocation } from './families.js';
import { decodeVariants, type Variant } from './decode.js';
import { isHarmless } from './prescreen.js';
import { F, features } from './features.js';
import { detectSqli } from './sql.js';
import { detectXss } from './xss.js';
import { detectCommand } from './command.js';
import { detectTraversal } from './traversal.js';
import { detectLdap, detectXpath } from './ldap-xpath.js';
import { detectNosqlKey, detectNosqlValue } from './nosql.js';
import { detectPrototypeKey, detectPrototypeValue } from './prototype.js';
import { BREAK, detectCrlf } from './crlf.js';
import { detectSsrf } from './ssrf.js';

/** Longest value inspected (UTF-16 code units); longer is 'evasion.too-long'. */
export const MAX_INSPECT_CHARS = 1 << 20;

interface Ctx {
  location: ValueLocation;
  hostField: boolean;
  rawHasBreak: boolean;
}

type Detector = (v: Variant, lower: string, ctx: Ctx, f: number) => string | undefined;

// Trigger characters per family (features.ts): without any of them the family cannot match.
// SQL has its own finer gate (sql.ts sqlPossible); plain words and digits can still be SQL.
const XSS_TRIGGERS = F.LT | F.EQ | F.COLON | F.BRACE | F.LPAREN;
const CMD_TRIGGERS = F.SEMI | F.PIPE | F.AMP | F.BREAK | F.BACKTICK | F.DOLLAR | F.BRACE | F.LT | F.GT | F.LPAREN | F.PERCENT;
const PATH_TRIGGERS = F.DOTDOT | F.SLASH | F.BSLASH | F.CONTROL | F.COLON;
const XPATH_TRIGGERS = F.SQUOTE | F.DQUOTE | F.SLASH | F.COLON | F.LPAREN;
const NOSQL_TRIGGERS = F.DOLLAR | F.SQUOTE | F.DQUOTE | F.BACKTICK | F.LPAREN | F.PIPE | F.DOT;
const CRLF_TRIGGERS = F.CONTROL | F.BSLASH | F.NONASCII;

const DETECTORS: Readonly<Record<Exclude<InjectionFamily, 'evasion'>, Detector>> = {
  'prototype-pollution': (_v, lower) => detectPrototypeValue(lower),
  nosql: (_v, lower, _c, f) => (f & NOSQL_TRIGGERS ? detectNosqlValue(lower) : undefined),
  crlf: (v, lower, ctx, f) => (f & CRLF_TRIGGERS ? detectCrlf(lower, ctx.location, v.via === 'raw', ctx.rawHasBreak) : undefined),
  traversal: (_v, lower, _c, f) => (f & PATH_TRIGGERS ? detectTraversal(lower) : undefined),
  sqli: (_v, lower) => detectSqli(lower),
  xss: (_v, lower, _c, f) => (f & XSS_TRIGGERS ? detectXss(lower) : undefined),
  command: (v, lower, _c, f) => (f & CMD_TRIGGERS ? detectCommand(lower, v.via !== 'raw') : undefined),
  ldap: (_v, lower, _c, f) => (f & (F.LPAREN | F.RPAREN) ? detectLdap(lower) : undefined),
  xpath: (_v, lower, _c, f) => (f & XPATH_TRIGGERS ? detectXpath(lower) : undefined),
  ssrf: (_v, lower, ctx, f) => (f & F.COLON || (f & F.SLASH && lower.includes('//')) || ctx.hostField ? detectSsrf(lower, ctx.hostField) : undefined),
};

const FAMILY_ORDER = INJECTION_FAMILIES.filter((f): f is Exclude<InjectionFamily, 'evasion'> => f !== 'evasion');

/**
 * Inspects one value bound for the upstream. Returns the first Finding, or undefined when the
 * value carries no attack the inspector knows. Never throws.
 *
 * @example
 * inspectValue("1' OR '1'='1", { location: 'query' });
 * // { family: 'sqli', rule: 'sqli.tautology', via: 'raw' }
 * inspectValue('%253Cscript%253E', { location: 'query' });
 * // { family: 'xss', rule: 'xss.tag', via: 'url2' }
 * inspectValue("O'Brien", { location: 'body' }); // undefined
 */
export function inspectValue(value: string, opts: InspectOptions): Finding | undefined {
  try {
    if (typeof value !== 'string') return { family: 'evasion', rule: 'evasion.inspector-error', via: 'raw' };
    if (value.length === 0) return undefined;
    if (value.length > Math.min(opts.maxChars ?? MAX_INSPECT_CHARS, MAX_INSPECT_CHARS)) return opts.skip?.has('evasion') ? undefined : { family: 'evasion', rule: 'evasion.too-long', via: 'raw' };
    if (!opts.hostField && isHarmless(value)) return undefined;
    return inspectSlow(value, opts);
  } catch {
    return { family: 'evasion', rule: 'evasion.inspector-error', via: 'raw' };
  }
}

function inspectSlow(value: string, opts: InspectOptions): Finding | undefined {
  const { variants, evasion } = decodeVariants(value);
  const lowers: string[] = variants.map((v) => v.text.toLowerCase());
  const feats: number[] = lowers.map(features);
  const ctx: Ctx = { location: opts.location, hostField: opts.hostField === true, rawHasBreak: BREAK.test(value) };
  const skip = opts.skip;
  for (const family of FAMILY_ORDER) {
    if (skip?.has(family)) continue;
    const detect = DETECTORS[family];
    for (let i = 0; i < variants.length; i++) {
      const rule = detect(variants[i]!, lowers[i]!, ctx, feats[i]!);
      if (rule) return { family, rule, via: variants[i]!.via };
    }
  }
  if (evasion && !skip?.has('evasion')) return { family: 'evasion', rule: evasion, via: 'raw' };
  return undefined;
}

/**
 * Inspects an object key (a JSON body key, a form or deepObject query key): prototype pollution
 * and NoSQL operator keys first, in every decoding of the key, then the value checks with the
 * strictness of location 'key' (no control characters). Never throws.
 *
 * @example
 * inspectKey('__proto__'); // { family: 'prototype-pollution', rule: 'prototype-pollution.key', via: 'raw' }
 * inspectKey('$where'); // { family: 'nosql', rule: 'nosql.operator-key', via: 'raw' }
 * inspectKey('accountId'); // undefined
 */
export function inspectKey(key: string, opts: Omit<InspectOptions, 'location'> = {}): Finding | undefined {
  try {
    if (typeof key !== 'string') return { family: 'evasion', rule: 'evasion.inspector-error', via: 'raw' };
    const skip = opts.skip;
    const plain = /^[A-Za-z0-9_-]*$/.test(key);
    const variants: Variant[] = plain ? [{ text: key, via: 'raw' }] : decodeVariants(key.length > MAX_INSPECT_CHARS ? key.slice(0, MAX_INSPECT_CHARS) : key).variants;
    for (const v of variants) {
      if (!skip?.has('prototype-pollution')) {
        const r = detectPrototypeKey(v.text);
        if (r) return { family: 'prototype-pollution', rule: r, via: v.via };
      }
    }
    for (const v of variants) {
      if (!skip?.has('nosql')) {
        const r = detectNosqlKey(v.text);
        if (r) return { family: 'nosql', rule: r, via: v.via };
      }
    }
    return inspectValue(key, { ...opts, location: 'key' });
  } catch {
    return { family: 'evasion', rule: 'evasion.inspector-error', via: 'raw' };
  }
}
