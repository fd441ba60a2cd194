/**
 * The masking transforms of the DLP actions, applied to one value's text (API3, FC-3; PCI DSS
 * 3.4.1 for card numbers: at most the last four digits are shown):
 *
 * - `mask`: every character but separators (spaces, `- . ( ) / @ , : +`) becomes `*`, so the
 *   shape stays readable and nothing else does: `123-45-6789` → `***-**-****`.
 * - `partial`: depends on the class. Numbers people quote by their tail (ssn, tax-id,
 *   card-number, account-number, routing-number, phone) keep their last 4 letters or digits when
 *   they have 8 or more, else the last half rounded down: `***-**-6789`, `**** **** **** 1111`.
 *   E-mail keeps the first character and the domain: `j***@example.com`. A date of birth keeps
 *   the year: `1984-**-**`. An IPv4 address keeps its first two octets: `192.168.*.*`. Anything
 *   else (names, addresses, custom classes) keeps the first character of each word: `A**** E******`.
 * - `redact`: the value becomes `"[redacted:<class>]"` (the ledger's marker, redactionMarker).
 * - `block` is not a transform: the whole response is refused (see mask-json.ts).
 */
import type { DlpAction } from './policy.js';

export { redactionMarker } from '../../ledger/capture.js';

/** Characters that `mask` and `partial` keep in place. */
function isSeparator(c: number): boolean {
  return c === 32 || c === 9 || c === 10 || c === 13 || c === 45 || c === 46 || c === 40 || c === 41 || c === 47 || c === 64 || c === 44 || c === 58 || c === 43;
}

const isAlnum = (c: number): boolean => (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122);

/**
 * `mask`: all but separators replaced by `*`.
 *
 * @example
 * maskAll('(202) 555-0143'); // '(***) ***-****'
 */
export function maskAll(text: string): string {
  let out = '';
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    out += isSeparator(c) ? text[i] : '*';
  }
  return out;
}

/** Classes whose partial form keeps the last four letters or digits. */
const TAIL_CLASSES: ReadonlySet<string> = new Set(['ssn', 'tax-id', 'card-number', 'account-number', 'routing-number', 'phone']);

/**
 * Keeps the last `keep` letters or digits (4 when there are 8 or more, else half, rounded down).
 *
 * @example
 * keepTail('4111 1111 1111 1111'); // '**** **** **** 1111'
 * keepTail('4321');                // '**21'
 */
export function keepTail(text: string): string {
  let alnum = 0;
  for (let i = 0; i < text.length; i++) if (isAlnum(text.charCodeAt(i))) alnum++;
  const keep = alnum >= 8 ? 4 : Math.floor(alnum / 2);
  let seen = 0;
  let out = '';
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (isAlnum(c)) {
      seen++;
      out += seen > alnum - keep ? text[i] : '*';
    } else out += isSeparator(c) ? text[i] : '*';
  }
  return out;
}

/**
 * Keeps the first character of each word.
 *
 * @example
 * keepInitials('Alice Example'); // 'A**** E******'
 */
export function keepInitials(text: string): string {
  let out = '';
  let atStart = true;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (isSeparator(c)) {
      out += text[i];
      atStart = true;
      continue;
    }
    // Keep a whole surrogate pair at the start of a word, never half of one.
    if (atStart && (c & 0xfc00) === 0xd800 && i + 1 < text.length) {
      out += text.slice(i, i + 2);
      i++;
    } else out += atStart ? text[i] : '*';
    atStart = false;
  }
  return out;
}

/**
 * E-mail: the first character of the local part, `***`, and the domain.
 *
 * @example
 * partialEmail('jane.doe@example.com'); // 'j***@example.com'
 */
export function partialEmail(text: string): string {
  const at = text.lastIndexOf('@');
  if (at <= 0) return maskAll(text);
  const first = text.codePointAt(0)!;
  return String.fromCodePoint(first) + '***' + text.slice(at);
}

const YEAR_FIRST = /^(\s*)(\d{4})([-/.]\d{1,2}[-/.]\d{1,2})(.*)$/s;
const YEAR_LAST = /^(\s*\d{1,2}[-/.]\d{1,2}[-/.])(\d{4})(.*)$/s;

/**
 * Date of birth: keeps the year of `yyyy-mm-dd` or `mm/dd/yyyy`; anything else is masked.
 *
 * @example
 * partialDate('1984-03-14'); // '1984-**-**'
 */
export function partialDate(text: string): string {
  let m = YEAR_FIRST.exec(text);
  if (m) return m[1]! + m[2]! + maskAll(m[3]!) + maskAll(m[4]!);
  m = YEAR_LAST.exec(text);
  if (m) return maskAll(m[1]!) + m[2]! + maskAll(m[3]!);
  return maskAll(text);
}

const IPV4 = /^(\d{1,3}\.\d{1,3}\.)(\d{1,3}\.\d{1,3})$/;

/**
 * IP address: an IPv4 address keeps its first two octets; anything else is masked.
 *
 * @example
 * partialIp('192.168.10.23'); // '192.168.*.*'
 */
export function partialIp(text: string): string {
  const m = IPV4.exec(text);
  if (m) return m[1]! + m[2]!.replace(/\d+/g, '*');
  return maskAll(text);
}

/**
 * `partial` for a value of class (or detected kind) `cls`.
 *
 * @example
 * partialValue('ssn', '123-45-6789');       // '***-**-6789'
 * partialValue('email', 'ada@example.com'); // 'a***@example.com'
 * partialValue('name', 'Ada Lovelace');     // 'A** L*******'
 */
export function partialValue(cls: string, text: string): string {
  if (TAIL_CLASSES.has(cls)) return keepTail(text);
  switch (cls) {
    case 'email':
      return partialEmail(text);
    case 'date-of-birth':
      return partialDate(text);
    case 'ip-address':
      return partialIp(text);
    default:
      return keepInitials(text);
  }
}

/**
 * The text that replaces `text` under `action` (mask, partial); `none` returns it unchanged.
 * redact and block are decided by the caller (they replace the value, not its text).
 *
 * @example
 * transform('mask', 'ssn', '123-45-6789');    // '***-**-****'
 * transform('partial', 'ssn', '123-45-6789'); // '***-**-6789'
 */
export function transform(action: DlpAction, cls: string, text: string): string {
  if (action === 'mask') return maskAll(text);
  if (action === 'partial') return partialValue(cls, text);
  return text;
}
