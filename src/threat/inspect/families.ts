/**
 * The injection families the inspector knows, the stable reason code a denial carries for each,
 * and the shapes of its public API (ASVS 5.3.4 injection, 5.2.6 and API7 SSRF, 5.1.x input
 * validation). A family id and a rule id, once released, are never renamed: clients, SIEM rules
 * and per-field exceptions in `rampart.yaml` match on them.
 *
 * `evasion` is not an attack class of its own: it is what the inspector reports when the value
 * tries to get past it (still percent-encoded after three decoding passes, overlong UTF-8, longer
 * than it inspects) or when the inspector itself failed on the value. Failing closed means such a
 * value is refused, never waved through.
 */

/** Every family, in the order the inspector reports them when several match. */
export const INJECTION_FAMILIES = [
  'prototype-pollution',
  'nosql',
  'crlf',
  'traversal',
  'sqli',
  'xss',
  'command',
  'ldap',
  'xpath',
  'ssrf',
  'evasion',
] as const;

export type InjectionFamily = (typeof INJECTION_FAMILIES)[number];

/**
 * The client-facing reason code for each family (RFC 9457 `code`, ledger `reason`); all of them
 * answer 400. The integrator registers them in src/core/errors.ts.
 */
export const REASON_CODES: Readonly<Record<InjectionFamily, string>> = Object.freeze({
  'prototype-pollution': 'RAMPART_INJECTION_PROTOTYPE_POLLUTION',
  nosql: 'RAMPART_INJECTION_NOSQL',
  crlf: 'RAMPART_INJECTION_CRLF',
  traversal: 'RAMPART_INJECTION_PATH_TRAVERSAL',
  sqli: 'RAMPART_INJECTION_SQL',
  xss: 'RAMPART_INJECTION_XSS',
  command: 'RAMPART_INJECTION_COMMAND',
  ldap: 'RAMPART_INJECTION_LDAP',
  xpath: 'RAMPART_INJECTION_XPATH',
  ssrf: 'RAMPART_INJECTION_SSRF',
  evasion: 'RAMPART_INJECTION_EVASION',
});

/** Whether `name` is a family id (for config validation of exceptions). */
export function isInjectionFamily(name: string): name is InjectionFamily {
  return (INJECTION_FAMILIES as readonly string[]).includes(name);
}

/** What the inspector found in one value. */
export interface Finding {
  family: InjectionFamily;
  /** Short stable rule id, e.g. 'sqli.union', 'ssrf.metadata'. Always starts with the family id. */
  rule: string;
  /**
   * Which decoding exposed it: 'raw', or the decoders of the pass that produced the variant,
   * joined by '+', with the pass number from the second pass on: 'url', 'url2', 'url3', 'html',
   * 'unicode', 'nfkc', 'url+html', 'nul' (NUL characters removed)...
   */
  via: string;
}

/** Where a value goes; decides the strictness of some families (CRLF, SSRF). */
export type ValueLocation = 'path' | 'query' | 'header' | 'body' | 'form' | 'key';

export interface InspectOptions {
  /** Families to skip for this value (per operation and field exceptions from config). */
  skip?: ReadonlySet<InjectionFamily>;
  /**
   * Where the value goes. 'header', 'path' and 'query' values refuse any CR, LF or other control
   * character; 'body' and 'form' values (free text may hold newlines) refuse line breaks only
   * when they start a header line or were encoded; 'key' is an object or form key.
   */
  location: ValueLocation;
  /**
   * The field holds a bare host or address (a callback host, a "server" field): check it for SSRF
   * even without a scheme or a port. Values are otherwise SSRF-checked only when URL-shaped.
   */
  hostField?: boolean;
  /**
   * Longest value inspected, in UTF-16 code units; a longer one is refused as
   * 'evasion.too-long'. Default MAX_INSPECT_CHARS (1 MiB), which is also the upper bound.
   */
  maxChars?: number;
}
