/**
 * NoSQL operator injection (CWE-943; MongoDB and its imitators): an object key starting with `$`
 * turns a value into a query operator (`{"password": {"$ne": ""}}`), and a string that carries
 * such an object or a server-side JavaScript fragment reaches `$where`. JSON body keys and form
 * keys in PHP/Express bracket style (`password[$ne]=`) are checked by inspectKey; values here.
 *
 * Rules (`nosql.` prefix):
 *   operator-key  a key that is or contains a `$`-prefixed segment: `$ne`, `$where`, `a.$gt`,
 *                 `user[$regex]`. Every `$` key counts, also JSON Schema's `$ref`: a field that
 *                 legitimately carries one is an exception in config.
 *   operator      a value holding an operator object or bracket key: `{"$gt": ""}`, `[$ne]=1`,
 *                 `{$where: …}`
 *   js            server-side JavaScript for `$where`/`mapReduce`: `'; return true; var a='`,
 *                 `this.password.match(`, `db.users.find(`, `sleep(5000)` after a breakout,
 *                 `while(true){}`, `|| 1==1`
 * Prices ("$1,234.50"), "$USD" and template-looking `${name}` pass.
 */

/** Query and update operators and aggregation stages that change a query's meaning. */
const OPERATORS = 'ne|eq|gt|gte|lt|lte|in|nin|regex|where|exists|expr|or|and|not|nor|elemmatch|all|size|type|mod|text|search|jsonschema|function|accumulator|lookup|graphlookup|unionwith|merge|out|set|unset|rename|push|pull|inc|options|comment|natural|slice|match|group|project|where'; 
const OPERATOR_VALUE = new RegExp(`[{,]\\s*["']?\\$(?:${OPERATORS})["']?\\s*:|\\[\\s*["']?\\$(?:${OPERATORS})["']?\\s*\\]`);
// eslint-disable-next-line security/detect-unsafe-regex -- linear: every `\s*` and identifier run (`[\w$]*`) is followed by a character it cannot match, and runs after different starts are disjoint (checked on 100k-character quote, space and identifier runs)
const JS = /['"`]\s*(?:;|\|\||&&)\s*(?:return\b|this\.|sleep\s*\(|while\s*\(|db\.|[a-z_$][\w$]*\s*\(|\d+\s*={2,3}\s*\d+|true\b)|\bthis\.[a-z_$][\w$]*\.(?:match|length|indexof|startswith|constructor)\b|\bdb\.[a-z_$][\w$]*\.(?:find|insert|drop|remove|update|aggregate)\s*\(|\bdb\.(?:getcollectionnames|dropdatabase|eval|getsiblingdb)\s*\(|\bwhile\s*\(\s*(?:true|1)\s*\)\s*\{|\|\|\s*(?:1|'1'|"1")\s*={2,3}\s*(?:1|'1'|"1")|\bobject\.keys\s*\(\s*this\s*\)|\btojson\s*\(\s*this\s*\)/;

/**
 * The rule an object key triggers, or undefined.
 *
 * @example
 * detectNosqlKey('$ne'); // 'nosql.operator-key'
 * detectNosqlKey('password[$ne]'); // 'nosql.operator-key'
 */
export function detectNosqlKey(key: string): string | undefined {
  const i = key.indexOf('$');
  if (i === -1) return undefined;
  if (i === 0) return 'nosql.operator-key';
  // a.$b, a[$b], a]$b
  return /[.[\]]\s*\$|\[\s*['"]\$/.test(key) ? 'nosql.operator-key' : undefined;
}

/**
 * The rule a (lower-cased) value triggers, or undefined.
 *
 * @example
 * detectNosqlValue('{"$gt": ""}'); // 'nosql.operator'
 * detectNosqlValue('$1,234.50'); // undefined
 */
export function detectNosqlValue(lower: string): string | undefined {
  if (lower.includes('$') && OPERATOR_VALUE.test(lower)) return 'nosql.operator';
  if (/this\.|db\.|while|\|\||&&|;|tojson|object\.keys/.test(lower) && JS.test(lower)) return 'nosql.js';
  return undefined;
}
