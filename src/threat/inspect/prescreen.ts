/**
 * The fast path (DESIGN CPU budget: the controls together well under 50 µs a request, and most
 * strings are names, ids, amounts and plain sentences): one pass over the characters decides
 * whether anything in the value could start an attack in any family. If nothing can, the value
 * is harmless without decoding or tokenizing it.
 *
 * Harmless: letters (any script), digits, spaces, tabs and ordinary punctuation `, ! ? + ^ ~`,
 * and in their ordinary uses `- . / : % $ # @ _`: a single `-`, a `.` not starting the value nor
 * doubled, a `/` between letters or digits that is not next to a system directory name
 * ("and/or", "12/05/2024"), a `:` before a space or inside a clock time ("Note: 10:30"), a `%`
 * not followed by a letter or digit ("10% off"), a `$` before a digit or a space, a `#` before a
 * letter or digit, an `@` not doubled, a `_` not doubled.
 * Suspicious: quotes, backticks, `; | & = < > ( ) [ ] { } * \`, control characters (CR, LF,
 * NUL …), the non-ASCII characters that NFKC or best-fit conversions turn into metacharacters
 * (fullwidth forms, modifier letters, Unicode slashes, C1 controls, zero-width characters,
 * mathematical alphanumerics), and the words that make an injection without any punctuation: a
 * value starting with a number and holding or/and/order/having/like …, "union", "prototype".
 *
 * It must never call a value harmless that a detector would flag in any decoding: the corpus
 * tests check that every attack sample takes the slow path.
 */

/** 0 harmless, 1 suspicious, 2 harmless or not depending on its neighbours. */
const TABLE = new Uint8Array(128).fill(1);
for (let c = 48; c <= 57; c++) TABLE[c] = 0;
for (let c = 65; c <= 90; c++) TABLE[c] = 0;
for (let c = 97; c <= 122; c++) TABLE[c] = 0;
for (const ch of ' \t,!?+^~') TABLE[ch.charCodeAt(0)] = 0;
for (const ch of '-./:%$#@_') TABLE[ch.charCodeAt(0)] = 2;

/** Directory names that make a `/` next to them worth a look ("etc/passwd", "windows/system32"). */
const SYSTEM_DIRS = new Set(['etc', 'proc', 'bin', 'sbin', 'usr', 'var', 'root', 'home', 'dev', 'tmp', 'sys', 'boot', 'run', 'opt', 'windows', 'winnt', 'system32', 'inetpub', 'inf', 'ssh', 'passwd', 'shadow', 'self', 'environ', 'secrets', 'htdocs', 'www', 'private']);

/** Words that make an SQL injection without punctuation (used by the SQL gate as well). */
export const KEYWORDS = /union|prototype|^\s*select\b|^\s*[-+]?\.?\d[\s\S]*?\b(?:or|and|xor|order|group|having|limit|procedure|like|rlike|regexp|between|div|is|in|not|sounds)\b|^\s*(?:or|and|xor|not|having)\b/i;

function isAlnum(c: number): boolean {
  return (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122);
}
function isDigit(c: number): boolean {
  return c >= 48 && c <= 57;
}
function isLetter(c: number): boolean {
  return (c >= 65 && c <= 90) || (c >= 97 && c <= 122);
}

function wordAround(s: string, i: number, dir: 1 | -1): string {
  let j = i;
  while (j >= 0 && j < s.length && isLetter(s.charCodeAt(j))) j += dir;
  return dir === 1 ? s.slice(i, j).toLowerCase() : s.slice(j + 1, i + 1).toLowerCase();
}

/** Non-ASCII characters that fold into ASCII metacharacters or hide them. */
function suspiciousNonAscii(s: string, i: number, c: number): boolean {
  if (c <= 0x9f) return true; // C1 controls, NEL
  if (c >= 0x02b0 && c <= 0x02ff) return true; // modifier letters: ʼ ˂ ˃
  if (c === 0x037e) return true; // Greek question mark → ;
  if (c >= 0x2000 && c <= 0x206f) return !((c >= 0x2010 && c <= 0x2023) || c === 0x2027 || c === 0x2030); // spaces, zero-width, leaders, primes, ‹ ›
  if (c >= 0x2100 && c <= 0x24ff) return true; // letterlike, number forms, math operators (∕), enclosed alphanumerics
  if (c >= 0x2900 && c <= 0x29ff) return true; // ⧵ ⧸
  if (c >= 0x2e00 && c <= 0x2e7f) return true;
  if (c >= 0x3000 && c <= 0x303f) return c === 0x3000 || c === 0x3008 || c === 0x3009; // ideographic space, 〈 〉
  if (c >= 0x3200 && c <= 0x33ff) return true;
  if (c >= 0xfb00 && c <= 0xfb4f) return true;
  if (c >= 0xfe00 && c <= 0xffff) return true; // variation selectors, small and fullwidth forms, specials
  if (c === 0xd835) return true; // mathematical alphanumerics (U+1D400…)
  if (c === 0xd83c) {
    const lo = s.charCodeAt(i + 1);
    return lo >= 0xdd00 && lo <= 0xddff; // enclosed alphanumeric supplement (U+1F100…)
  }
  return false;
}

/**
 * Whether `s` certainly holds no attack in any family (see module comment). False means only
 * "look closer".
 *
 * @example
 * isHarmless('Ann Example, 12/05/2024: buy 100 @ $1,234.50 (limit)'); // false: parentheses
 * isHarmless('Ann Example, 12/05/2024: buy 100 at $1,234.50'); // true
 */
export function isHarmless(s: string): boolean {
  const n = s.length;
  for (let i = 0; i < n; i++) {
    const c = s.charCodeAt(i);
    if (c >= 128) {
      if (suspiciousNonAscii(s, i, c)) return false;
      continue;
    }
    const t = TABLE[c]!;
    if (t === 0) continue;
    if (t === 1) return false;
    const next = i + 1 < n ? s.charCodeAt(i + 1) : -1;
    switch (c) {
      case 45: // -
        if (next === 45) return false;
        break;
      case 46: // .
        if (next === 46 || i === 0) return false;
        break;
      case 47: {
        // /
        const prev = i > 0 ? s.charCodeAt(i - 1) : -1;
        if (!isAlnum(prev) || !isAlnum(next)) return false;
        if (SYSTEM_DIRS.has(wordAround(s, i - 1, -1)) || SYSTEM_DIRS.has(wordAround(s, i + 1, 1))) return false;
        break;
      }
      case 58: {
        // :
        if (next === -1 || next === 32) break;
        if (!isDigit(next) || !isDigit(s.charCodeAt(i - 1))) return false;
        // a clock time: at most two digits before, not the port of a dotted address
        let j = i - 1;
        while (j >= 0 && isDigit(s.charCodeAt(j))) j--;
        if (i - 1 - j > 2 || (j >= 0 && (s.charCodeAt(j) === 46 || isLetter(s.charCodeAt(j))))) return false;
        break;
      }
      case 37: // %
        if (isAlnum(next)) return false;
        break;
      case 36: // $
        if (!(isDigit(next) || next === 32 || next === -1)) return false;
        break;
      case 35: // #
        if (!isAlnum(next)) return false;
        break;
      case 64: // @
        if (next === 64) return false;
        break;
      case 95: // _
        if (next === 95) return false;
        break;
    }
  }
  return !KEYWORDS.test(s);
}
