/**
 * LDAP filter injection (CWE-90) and XPath injection (CWE-643), ASVS 5.3.7 and 5.3.10. Both
 * languages compose conditions with parentheses or brackets; an attack closes the application's
 * condition and opens its own.
 *
 * LDAP (`ldap.` prefix):
 *   filter     `)(` followed by an attribute test or a composition: `*)(uid=*`, `admin)(&)`,
 *              `*)(|(objectclass=*`, `)(|(password=*))`
 *   composite  an opening composition with an always-true filter: `(|(uid=*))`, `(&)`, `(|)`
 *   wildcard   a value that is `*` followed by a closing parenthesis, or `*)%00`
 * XPath (`xpath.` prefix):
 *   tautology  a quote that closes a literal then `or`/`and` with a comparison or an XPath
 *              function: `' or '1'='1`, `" or count(/*)=1 or "`, `' or true() or '`
 *   axis       node tests and axes no text holds: `count(/`, `name(/*`, `//*`, `/child::node()`,
 *              `text()`, `]|//`, `string-length(`, `substring(name(`
 * Prose with parentheses ("John (CEO)(retired)", "see (a)(b)") has no `=` or composition after
 * the `)(` and passes.
 */

const LDAP_FILTER = /\)\s*\(+\s*(?:[|&!]|[a-z][\w.;-]*\s*[~<>]?=)/;
const LDAP_COMPOSITE = /\(\s*\)\s*[|&]|\(\s*[|&]\s*(?:\(\s*[a-z][\w.;-]*\s*[~<>]?=\s*\*?\s*\)|\))|\(\s*&\s*\)/;
const LDAP_WILDCARD = /^\s*\*\s*\)|\*\s*\)\s*\0/;

const XPATH_TAUTOLOGY = /['"]\s*\]?\s*(?:or|and)\s+(?:['"][^'"]{0,32}['"]\s*!?=|\d+\s*!?=\s*\d+|(?:true|false)\s*\(\s*\)|not\s*\(|(?:count|name|local-name|string-length|substring|contains|starts-with|string|number|boolean|position|last)\s*\()/;
const XPATH_AXIS = /count\s*\(\s*\/|\/\/[a-z][\w-]*\s*\[|\bposition\s*\(\s*\)\s*[=<>]|(?:name|local-name|string-length|string)\s*\(\s*(?:\/|\.\.|parent::|child::|ancestor::)|\/\/\s*\*|(?:^|[/\]|(\s])(?:ancestor|ancestor-or-self|descendant|descendant-or-self|following|following-sibling|preceding|preceding-sibling|parent|child|self|attribute)::(?:node\s*\(\)|text\s*\(\)|\*|[a-z])|\/\s*text\s*\(\s*\)|\]\s*\|\s*\/|['"]\s*\]\s*\|\s*|substring\s*\(\s*name\s*\(/;

/**
 * The LDAP rule `lower` triggers, or undefined.
 *
 * @example
 * detectLdap('*)(uid=*'); // 'ldap.filter'
 * detectLdap('John (CEO)(retired)'); // undefined
 */
export function detectLdap(lower: string): string | undefined {
  if (!lower.includes('(') && !lower.includes(')')) return undefined;
  if (LDAP_FILTER.test(lower)) return 'ldap.filter';
  if (LDAP_COMPOSITE.test(lower)) return 'ldap.composite';
  if (lower.includes('*') && LDAP_WILDCARD.test(lower)) return 'ldap.wildcard';
  return undefined;
}

/**
 * The XPath rule `lower` triggers, or undefined.
 *
 * @example
 * detectXpath("' or count(/*)=1 or '"); // 'xpath.tautology'
 */
export function detectXpath(lower: string): string | undefined {
  if ((lower.includes("'") || lower.includes('"')) && (lower.includes('or') || lower.includes('and')) && XPATH_TAUTOLOGY.test(lower)) return 'xpath.tautology';
  if ((lower.includes('/') || lower.includes('::') || lower.includes('(')) && XPATH_AXIS.test(lower)) return 'xpath.axis';
  return undefined;
}
