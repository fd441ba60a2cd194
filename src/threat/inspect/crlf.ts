/**
 * CRLF and header injection (CWE-93, CWE-113; HTTP response splitting): a CR or LF that reaches a
 * header, a status line or a URL ends the line there and starts one the attacker writes
 * (`%0d%0aSet-Cookie: admin=1`). RFC 9110 section 5.5 forbids CR, LF and NUL in field values;
 * Node refuses them in raw headers, so what gets through is decoded from the value.
 *
 * Strictness depends on where the value goes (InspectOptions.location):
 *   header, path, query, key   any CR, LF, NEL (U+0085), U+2028/2029 or other C0 control except
 *                              tab, raw or decoded: 'crlf.control'
 *   body, form                 free text has line breaks, so only what builds a header or a
 *                              response: a line break followed by a header line (`Name: value`)
 *                              in a decoded variant, or a raw one followed by a header that
 *                              matters (Set-Cookie, Location: http…, Content-Type: …/…, an HTTP
 *                              status line): 'crlf.header'
 *   everywhere                 a textual `\r\n` before a header line, for upstreams that unescape
 *                              values ('crlf.escaped'); in header, path and query values also
 *                              the characters whose low byte is LF or CR (`嘊嘍`, 'crlf.unicode')
 */
import type { ValueLocation } from './families.js';

// eslint-disable-next-line no-control-regex
const CONTROL = /[\x00-\x08\x0a-\x1f\x7f\x85\u2028\u2029]/;
export const BREAK = /[\r\n\x85\u2028\u2029]/;
// After a line break, only non-break whitespace: the match then starts at the last break of a
// run, which accepts exactly the values `\s*` did, but scans each run once (with `\s*` a run of
// 40k newlines took seconds: every break restarted the scan over the rest of the run, API4).
const ANY_HEADER_LINE = /[\r\n\x85\u2028\u2029][^\S\r\n\u2028\u2029]*[a-z0-9!#$%&'*+.^_`|~-]{2,40}\s*:\s*\S/;
/** A textual `\r\n` (or `\n` before a header that matters) for an upstream that unescapes values. */
const TEXT_ESCAPE = /\\r\\n\s*[a-z0-9-]{2,40}\s*:|\\n\s*(?:set-cookie|location|content-type|content-length|transfer-encoding|x-[a-z-]+)\s*:/;
const KNOWN_HEADER = /[\r\n][^\S\r\n]*(?:set-cookie\s*:\s*[^=\s]+=|location\s*:\s*(?:https?:|\/)|content-type\s*:\s*[a-z]+\/[a-z]|content-length\s*:\s*\d|transfer-encoding\s*:|refresh\s*:\s*\d|x-xss-protection\s*:|access-control-allow-[a-z]+\s*:|content-security-policy\s*:|http\/\d(?:\.\d)?\s+\d{3}\b)/;

/**
 * The CRLF rule a (lower-cased) variant triggers, or undefined. `raw` says the variant is the
 * value as received, not a decoded form of it; `rawHasBreak` that the value as received already
 * held line breaks (then a decoded variant is held to the raw rule: its breaks are the note's).
 *
 * @example
 * detectCrlf('a\r\nset-cookie: x=1', 'header', false, false); // 'crlf.control'
 * detectCrlf('line one\nline two', 'body', true, true); // undefined
 */
export function detectCrlf(lower: string, location: ValueLocation, raw: boolean, rawHasBreak: boolean): string | undefined {
  if (lower.includes('\\') && TEXT_ESCAPE.test(lower)) return 'crlf.escaped';
  if (location === 'body' || location === 'form') {
    if (!BREAK.test(lower)) return undefined;
    if (raw || rawHasBreak) return KNOWN_HEADER.test(lower) ? 'crlf.header' : undefined;
    return ANY_HEADER_LINE.test(lower) || KNOWN_HEADER.test(lower) ? 'crlf.header' : undefined;
  }
  if (CONTROL.test(lower)) return 'crlf.control';
  return hasLatin1Break(lower) ? 'crlf.unicode' : undefined;
}

/**
 * `嘊嘍` (U+560A U+560D): servers that keep only the low byte of each character when writing a
 * header (the classic Node.js and Firefox bugs) turn these into LF and CR. Flagged when such a
 * character pairs with another or starts a header line.
 */
function hasLatin1Break(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x100) continue;
    const low = c & 0xff;
    if (low !== 0x0a && low !== 0x0d) continue;
    const next = s.charCodeAt(i + 1);
    if (next >= 0x100 && ((next & 0xff) === 0x0a || (next & 0xff) === 0x0d)) return true;
    if (/^[a-z0-9-]{2,40}\s*:/.test(s.slice(i + 1, i + 44))) return true;
  }
  return false;
}
