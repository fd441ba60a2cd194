/**
 * DLP detectors: find sensitive values inside strings that no schema classified (FC-3: "SIEM and
 * DLP tools"; API3: responses must not carry more than the caller may see; ASVS 8.3.x).
 *
 * One pass, no battery of regexes: a string with fewer than 7 digits and no `@` cannot hold any of
 * the detected kinds and is dismissed by a character count (prescreen). Otherwise the digit runs
 * are collected once, joined into tokens by the separators people write numbers with (space,
 * `-`, `.`, `)`), and each token is matched against the shapes below by group lengths; only then
 * are the checksums run. E-mail addresses get the one regex, and only when an `@` is present.
 *
 *   kind            shape (in free text)                                 validity
 *   ssn             ddd-dd-dddd or ddd dd dddd; 9 bare digits only        area not 000/666/9xx, group not 00,
 *                   with "SSN"/"social security" just before              serial not 0000, not a known sample
 *   tax-id          9dd-dd-dddd (ITIN)                                    group in the ITIN ranges
 *   card-number     13-19 digits, bare or in groups of 4 (4-6-5, 4-6-4)   Luhn, a known IIN prefix and length
 *   routing-number  9 bare digits with "routing"/"ABA"/"RTN" just before  3-7-1 checksum, first two digits in
 *                                                                         00-12, 21-32, 61-72, 80
 *   phone           NANP with separators ((202) 555-0143, 202.555.0143,   area and exchange start with 2-9
 *                   +1 202 555 0143); E.164 `+` and 8-15 digits
 *   email           local@domain.tld (ASCII)                               a dotted domain, alphabetic TLD
 *
 * Why 9 bare digits need context: CUSIPs, order ids and many internal ids are 9 digits, and ~88%
 * of random 9-digit numbers satisfy the SSN rules (~4% the ABA checksum and prefix); masking every
 * one would corrupt a brokerage's positions. A JSON value under an SSN- or routing-like key name is
 * context too (see key-hints.ts, which also covers account numbers and dates of birth: those have
 * no shape of their own and are found by key name only).
 *
 * A match must stand alone: no letter, digit or `_` right before or after it, and no `.digit`
 * after it (a decimal). Within a token, matches are separated by a space (or `) `) only, so
 * "1-123-45-6789" is not an SSN while "202-555-0143 536-22-1234" is a phone and an SSN.
 * Tokens with fewer than 9 digits (8 after a `+`) are dismissed before any matching: dates,
 * times, amounts and ids glued to letters cost one pass over their characters.
 */

/** Kinds the detectors find (by shape, or by key name for account-number and date-of-birth). */
export type DetectKind = 'ssn' | 'tax-id' | 'card-number' | 'routing-number' | 'account-number' | 'email' | 'phone' | 'date-of-birth';

export const DETECT_KINDS: readonly DetectKind[] = Object.freeze(['ssn', 'tax-id', 'card-number', 'routing-number', 'account-number', 'email', 'phone', 'date-of-birth']);

/** Bit of each kind in a KindSet. */
export const KIND_BIT: Readonly<Record<DetectKind, number>> = Object.freeze({
  ssn: 1,
  'tax-id': 2,
  'card-number': 4,
  'routing-number': 8,
  'account-number': 16,
  email: 32,
  phone: 64,
  'date-of-birth': 128,
});

/** A set of kinds as a bit mask (KIND_BIT). */
export type KindSet = number;

/** Every kind the shape detectors can find (account-number and date-of-birth are by key name only). */
export const SHAPE_KINDS: KindSet = KIND_BIT.ssn | KIND_BIT['tax-id'] | KIND_BIT['card-number'] | KIND_BIT['routing-number'] | KIND_BIT.email | KIND_BIT.phone;

/** One sensitive value found in a string: `text.slice(start, end)`. */
export interface Finding {
  kind: DetectKind;
  start: number;
  end: number;
}

/** The empty result, shared: the common case allocates nothing (a scavenge would copy the whole parsed body). */
const NOTHING: readonly Finding[] = Object.freeze([]);

/** Hints for bare 9-digit numbers, from the JSON key holding the string (see key-hints.ts). */
export interface TextContext {
  /** The key suggests an SSN or taxpayer id. */
  ssn?: boolean;
  /** The key suggests a bank routing number. */
  routing?: boolean;
}

// ---------------------------------------------------------------------------------------------
// Validity rules

/** Published or widely used sample numbers that are not anyone's SSN. */
const SAMPLE_SSNS: ReadonlySet<string> = new Set([
  '078051120', // the Woolworth wallet card (1938)
  '219099999', // printed in a 1940 Social Security Board pamphlet
  '123456789',
  '111111111',
  '333333333',
  '457555462', // published in a 2007 advertisement
]);

/**
 * Whether 9 digits (separators removed) satisfy the SSA's rules for an SSN: area not 000, 666 or
 * 900-999 (those are ITINs and never SSNs), group not 00, serial not 0000, and not a well-known
 * sample number.
 *
 * @example
 * isValidSsn('536-22-1234'); // true
 * isValidSsn('078-05-1120'); // false: the Woolworth card
 * isValidSsn('900-12-3456'); // false: area 9xx is never issued as an SSN
 */
export function isValidSsn(text: string): boolean {
  const d = digitsOf(text);
  if (d.length !== 9) return false;
  const area = d.slice(0, 3);
  if (area === '000' || area === '666' || d.charCodeAt(0) === 57 /* 9 */) return false;
  if (d.slice(3, 5) === '00' || d.slice(5) === '0000') return false;
  return !SAMPLE_SSNS.has(d);
}

/**
 * Whether 9 digits are an IRS ITIN: area 9xx and group 50-65, 70-88, 90-92 or 94-99.
 *
 * @example
 * isValidItin('912-70-1234'); // true
 * isValidItin('900-12-3456'); // false: group 12 is outside the ITIN ranges
 */
export function isValidItin(text: string): boolean {
  const d = digitsOf(text);
  if (d.length !== 9 || d.charCodeAt(0) !== 57) return false;
  const g = Number(d.slice(3, 5));
  return (g >= 50 && g <= 65) || (g >= 70 && g <= 88) || (g >= 90 && g <= 92) || (g >= 94 && g <= 99);
}

/**
 * The Luhn (mod 10) check of ISO/IEC 7812 over the digits of `text` (separators ignored).
 *
 * @example
 * luhnValid('4111 1111 1111 1111'); // true
 * luhnValid('4111 1111 1111 1112'); // false
 */
export function luhnValid(text: string): boolean {
  const d = digitsOf(text);
  if (d.length < 2) return false;
  let sum = 0;
  let dbl = false;
  for (let i = d.length - 1; i >= 0; i--) {
    let v = d.charCodeAt(i) - 48;
    if (dbl) {
      v *= 2;
      if (v > 9) v -= 9;
    }
    sum += v;
    dbl = !dbl;
  }
  return sum % 10 === 0;
}

/**
 * The card scheme whose issuer identification number (IIN) prefix and length fit `digits`, or
 * undefined. Lengths follow the schemes' published ranges; Luhn is checked separately.
 *
 * @example
 * cardBrand('378282246310005');  // 'amex'
 * cardBrand('1234567890123456'); // undefined: no scheme starts with 1
 */
export function cardBrand(digits: string): string | undefined {
  const n = digits.length;
  if (n < 13 || n > 19) return undefined;
  const p1 = digits.charCodeAt(0) - 48;
  const p2 = Number(digits.slice(0, 2));
  const p3 = Number(digits.slice(0, 3));
  const p4 = Number(digits.slice(0, 4));
  if (p1 === 4) return n === 13 || n === 16 || n === 19 ? 'visa' : undefined;
  if ((p2 >= 51 && p2 <= 55) || (p4 >= 2221 && p4 <= 2720)) return n === 16 ? 'mastercard' : undefined;
  if (p2 === 34 || p2 === 37) return n === 15 ? 'amex' : undefined;
  if (p4 >= 2200 && p4 <= 2204) return n >= 16 ? 'mir' : undefined;
  if (p4 >= 3528 && p4 <= 3589) return n >= 16 ? 'jcb' : undefined;
  if ((p3 >= 300 && p3 <= 305) || p4 === 3095 || p2 === 36 || p2 === 38 || p2 === 39) return n >= 14 ? 'diners' : undefined;
  if (p4 === 6011 || (p3 >= 644 && p3 <= 649) || p2 === 65) return n >= 16 ? 'discover' : undefined;
  if (p2 === 62) return n >= 16 ? 'unionpay' : undefined;
  if (p2 === 50 || (p2 >= 56 && p2 <= 69)) return 'maestro'; // 12-19 digits; 13+ here
  if (p2 === 81 || p2 === 82) return n === 16 ? 'rupay' : undefined;
  return undefined;
}

/**
 * Whether `text` holds a payment card number: 13-19 digits (spaces and dashes ignored) with a
 * known IIN prefix and length, and a valid Luhn check digit.
 *
 * @example
 * isValidCardNumber('4111-1111-1111-1111'); // true
 * isValidCardNumber('4111-1111-1111-1112'); // false: Luhn
 */
export function isValidCardNumber(text: string): boolean {
  const d = digitsOf(text);
  return cardBrand(d) !== undefined && luhnValid(d);
}

/**
 * Whether 9 digits are an ABA routing transit number: the first two digits in 00-12 (US
 * government and Federal Reserve districts), 21-32 (thrift institutions), 61-72 (electronic
 * transactions) or 80 (traveller's cheques), and the 3-7-1 checksum
 * 3(d1+d4+d7) + 7(d2+d5+d8) + (d3+d6+d9) ≡ 0 (mod 10).
 *
 * @example
 * isValidRoutingNumber('011000015'); // true: the Federal Reserve Bank of Boston
 * isValidRoutingNumber('990000011'); // false: no routing number starts with 99
 */
export function isValidRoutingNumber(text: string): boolean {
  const d = digitsOf(text);
  if (d.length !== 9) return false;
  const p = Number(d.slice(0, 2));
  if (!(p <= 12 || (p >= 21 && p <= 32) || (p >= 61 && p <= 72) || p === 80)) return false;
  const v = (i: number): number => d.charCodeAt(i) - 48;
  const sum = 3 * (v(0) + v(3) + v(6)) + 7 * (v(1) + v(4) + v(7)) + (v(2) + v(5) + v(8));
  return sum % 10 === 0;
}

/**
 * Whether `text` is a NANP number (+1) with area and exchange codes starting 2-9, in any of the
 * usual writings, or an E.164 number (`+`, 8-15 digits, first digit not 0).
 *
 * @example
 * isValidPhone('(202) 555-0143'); // true
 * isValidPhone('+44 20 7946 0958'); // true
 * isValidPhone('123-456-7890');   // false: area codes do not start with 1
 */
export function isValidPhone(text: string): boolean {
  const f = findSensitive(text, KIND_BIT.phone);
  return f.length === 1 && f[0]!.start === leadingSpace(text) && f[0]!.end === text.length - trailingSpace(text);
}

// ---------------------------------------------------------------------------------------------
// Prescreen and scan

/** Shortest string that can hold anything detected: "a@b.co" (6); numbers need 8+ digits. */
export const MIN_DETECTABLE_LENGTH = 6;

/**
 * The cheap test run on every string: false when `text` cannot hold any detected kind (fewer than
 * 7 digits and no `@`).
 *
 * @example
 * mayHoldSensitive('open');                  // false
 * mayHoldSensitive('2024-05-02T13:31:02Z');  // true (then the scan finds nothing)
 */
export function mayHoldSensitive(text: string): boolean {
  const n = text.length;
  if (n < MIN_DETECTABLE_LENGTH) return false;
  let digits = 0;
  for (let i = 0; i < n; i++) {
    const c = text.charCodeAt(i);
    if (c >= 48 && c <= 57) {
      if (++digits >= 7) return true;
    } else if (c === 64) return true;
  }
  return false;
}

/**
 * Finds the sensitive values of the kinds in `kinds` inside `text`, in order, not overlapping
 * (when an e-mail address and a number overlap, the longer wins). Never throws; linear in the
 * length of `text`.
 *
 * @example
 * findSensitive('SSN 536-22-1234, card 4111 1111 1111 1111', SHAPE_KINDS);
 * // [{ kind: 'ssn', start: 4, end: 15 }, { kind: 'card-number', start: 22, end: 41 }]
 */
export function findSensitive(text: string, kinds: KindSet, ctx?: TextContext): readonly Finding[] {
  if ((kinds & SHAPE_KINDS) === 0 || !mayHoldSensitive(text)) return NOTHING;
  return findPrescreened(text, kinds, ctx);
}

/**
 * findSensitive for a text that already passed mayHoldSensitive (the walker's fast path).
 *
 * @example
 * if (mayHoldSensitive(s)) for (const f of findPrescreened(s, SHAPE_KINDS)) mask(f);
 */
export function findPrescreened(text: string, kinds: KindSet, ctx?: TextContext): readonly Finding[] {
  const numeric = (kinds & (SHAPE_KINDS & ~KIND_BIT.email)) !== 0 ? scanNumbers(text, kinds, ctx) : NOTHING;
  if ((kinds & KIND_BIT.email) === 0 || text.indexOf('@') === -1) return numeric;
  const mail = scanEmails(text);
  if (mail.length === 0) return numeric;
  if (numeric.length === 0) return mail;
  return mergeFindings(numeric, mail);
}

function mergeFindings(a: readonly Finding[], b: readonly Finding[]): Finding[] {
  const all = [...a, ...b].sort((x, y) => x.start - y.start || y.end - y.start - (x.end - x.start));
  const out: Finding[] = [];
  for (const f of all) {
    const last = out[out.length - 1];
    if (last !== undefined && f.start < last.end) {
      if (f.end - f.start > last.end - last.start) out[out.length - 1] = f;
      continue;
    }
    out.push(f);
  }
  return out;
}

// Local part: the common atext characters; domain: dotted labels and an alphabetic TLD. Bounded
// repetitions keep the regex linear on hostile input; the lookbehind anchors the local part.
// eslint-disable-next-line security/detect-unsafe-regex -- linear: every repetition is bounded ({1,64}, {0,61}, {1,8}, {2,24}), labels cannot contain the '.' that ends them, and the lookbehind gives one start per run
const EMAIL = /(?<![A-Za-z0-9._%+-])[A-Za-z0-9._%+-]{1,64}@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.){1,8}[A-Za-z]{2,24}(?![A-Za-z0-9-])/g;

function scanEmails(text: string): Finding[] {
  const out: Finding[] = [];
  EMAIL.lastIndex = 0;
  for (let m = EMAIL.exec(text); m !== null; m = EMAIL.exec(text)) {
    let start = m.index;
    // A local part does not start or end with a dot.
    while (text.charCodeAt(start) === 46) start++;
    out.push({ kind: 'email', start, end: m.index + m[0].length });
  }
  EMAIL.lastIndex = 0;
  return out;
}

const isDigit = (c: number): boolean => c >= 48 && c <= 57;
/** Letters, digits, `_`: a number glued to one of these is part of an identifier, not a value. */
const isWordish = (c: number): boolean => (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 95;

/** Separators that join digit groups into one token: ' ', '-', '.', ')' and ') '. */
function linkKind(text: string, end: number, nextStart: number): number {
  const len = nextStart - end;
  const c = text.charCodeAt(end);
  if (len === 1) return c === 32 || c === 45 || c === 46 || c === 41 ? c : 0;
  if (len === 2 && c === 41 && text.charCodeAt(end + 1) === 32) return 41 + 256; // ') '
  return 0;
}

const SSN_CONTEXT = /ssn|social|soc\.? ?sec|taxpayer|\btin\b/i;
const ROUTING_CONTEXT = /routing|\baba\b|\brtn\b|transit/i;
const CONTEXT_WINDOW = 32;

function scanNumbers(text: string, kinds: KindSet, ctx: TextContext | undefined): readonly Finding[] {
  // Tokens (digit groups joined by links) are measured without allocating; only a token with
  // 9+ digits (8+ after a '+': E.164) is split into groups and matched. Dates (8 digits), times
  // and glued ids end here.
  const n = text.length;
  let out: Finding[] | undefined;
  let i = 0;
  while (i < n) {
    if (!isDigit(text.charCodeAt(i))) {
      i++;
      continue;
    }
    const tokenStart = i;
    let j = i + 1;
    while (j < n && isDigit(text.charCodeAt(j))) j++;
    let digits = j - i;
    let end = j;
    for (;;) {
      // Next group: right after a link of 1 or 2 characters.
      let k = end + 1;
      if (k < n && !isDigit(text.charCodeAt(k))) k++;
      if (k >= n || !isDigit(text.charCodeAt(k)) || linkKind(text, end, k) === 0) break;
      let e = k + 1;
      while (e < n && isDigit(text.charCodeAt(e))) e++;
      digits += e - k;
      end = e;
    }
    const plus = tokenStart > 0 && text.charCodeAt(tokenStart - 1) === 43;
    // 9 bare digits with nothing before them and no context from the key cannot match (a CUSIP,
    // an id): the common case in position lists, decided without allocating.
    if (digits === 9 && end - tokenStart === 9 && tokenStart === 0 && ctx === undefined) {
      i = end;
      continue;
    }
    if (digits >= 9 || (plus && digits >= 8)) {
      // Groups are kept in a sliding window: a match spans at most 15 groups (E.164 written digit
      // by digit), so a long token never holds more than CHUNK of them at a time.
      const tok: Token = { text, starts: [], ends: [], links: [], last: -1, kinds, ctx, out: (out ??= []) };
      let next = 0;
      for (let a = tokenStart; a < end; ) {
        let b = a + 1;
        while (b < end && isDigit(text.charCodeAt(b))) b++;
        if (tok.last >= 0) tok.links.push(linkKind(text, tok.ends[tok.last]!, a));
        tok.starts.push(a);
        tok.ends.push(b);
        tok.last++;
        a = b;
        while (a < end && !isDigit(text.charCodeAt(a))) a++;
        if (tok.last + 1 >= CHUNK && a < end) {
          next = matchToken(tok, next, tok.last - MARGIN + 1);
          // Keep the group before `next`: its link says whether a match may start there.
          const drop = Math.min(next - 1, tok.last);
          if (drop > 0) {
            tok.starts.splice(0, drop);
            tok.ends.splice(0, drop);
            tok.links.splice(0, drop);
            tok.last -= drop;
            next -= drop;
          }
        }
      }
      matchToken(tok, next, tok.last + 1);
    }
    i = end;
  }
  return out ?? NOTHING;
}

/** One token being matched: its digit groups and the links between them. */
interface Token {
  text: string;
  starts: number[];
  ends: number[];
  /** links[i]: the link after group i (0 after the last). */
  links: number[];
  /** Index of the last group. */
  last: number;
  kinds: KindSet;
  ctx: TextContext | undefined;
  out: Finding[];
}

const glen = (t: Token, i: number): number => t.ends[i]! - t.starts[i]!;
const glink = (t: Token, i: number): number => t.links[i] ?? 0;

/** Links that may separate two matches within a token: ' ' and ') '. */
const between = (link: number): boolean => link === 32 || link === 41 + 256;

/** A window may end at group j: the token ends there or a space follows, and no word character after. */
function endOk(t: Token, j: number): boolean {
  if (j < t.last) return between(glink(t, j));
  return !isWordish(t.text.charCodeAt(t.ends[j]!)); // NaN at the end of the text is not wordish
}

/** The digits of groups a..b. */
function digitsOfRange(t: Token, a: number, b: number): string {
  let d = '';
  for (let k = a; k <= b; k++) d += t.text.slice(t.starts[k]!, t.ends[k]!);
  return d;
}

const CHUNK = 256;
/** Groups of look-ahead a match may need (E.164: 15 digits, one per group). */
const MARGIN = 16;

/**
 * Matches the shapes starting at groups from..stop-1 of one token (matches are separated by
 * spaces); returns the group to continue from.
 */
function matchToken(tok: Token, from0: number, stop: number): number {
  const text = tok.text;
  let i = from0;
  while (i < stop) {
    const s = tok.starts[i]!;
    const plus = s > 0 && text.charCodeAt(s - 1) === 43; // '+'
    const paren = s > 0 && text.charCodeAt(s - 1) === 40; // '('
    const from = plus || paren ? s - 1 : s;
    // A match starts the token or follows a space, and is not glued to a word before it.
    if ((i > 0 && !between(glink(tok, i - 1))) || (from > 0 && isWordish(text.charCodeAt(from - 1)))) {
      i++;
      continue;
    }
    const j = matchAt(tok, i, plus, paren, from);
    i = j === -1 ? i + 1 : j + 1;
  }
  return i;
}

function push(tok: Token, kind: DetectKind, start: number, j: number): number {
  tok.out.push({ kind, start, end: tok.ends[j]! });
  return j;
}

/** Tries the shapes at group i; returns the last group of the match, or -1. */
function matchAt(tok: Token, i: number, plus: boolean, paren: boolean, from: number): number {
  const { text, kinds, ctx } = tok;
  const s = tok.starts[i]!;
  const u = tok.last;
  // Card numbers: one run of 13-19 digits, or groups of 4 (last 1-4), or 4-6-5 / 4-6-4.
  if ((kinds & KIND_BIT['card-number']) !== 0 && !paren) {
    const l0 = glen(tok, i);
    if (l0 >= 13 && l0 <= 19 && endOk(tok, i) && isValidCardNumber(text.slice(s, tok.ends[i]!))) return push(tok, 'card-number', s, i);
    if (l0 === 4 && i + 2 <= u) {
      const sep = glink(tok, i);
      if (sep === 32 || sep === 45) {
        // 4-6-5 and 4-6-4 (American Express, Diners)
        const l2 = glen(tok, i + 2);
        if (glen(tok, i + 1) === 6 && glink(tok, i + 1) === sep && (l2 === 5 || l2 === 4) && endOk(tok, i + 2) && isValidCardNumber(digitsOfRange(tok, i, i + 2))) return push(tok, 'card-number', s, i + 2);
        // 4-4-4-(1..4) and 4-4-4-4-(1..3)
        let j = i;
        let total = 4;
        while (j + 1 <= u && glink(tok, j) === sep && glen(tok, j) === 4 && total < 19) {
          const next = glen(tok, j + 1);
          if (next > 4 || total + next > 19) break;
          j++;
          total += next;
          if (next < 4) break;
        }
        // The longest first, then shorter ends (a trailing group may belong to the next match).
        for (let k = j; k >= i + 2; k--) {
          if (total >= 13 && endOk(tok, k) && isValidCardNumber(digitsOfRange(tok, i, k))) return push(tok, 'card-number', s, k);
          total -= glen(tok, k);
        }
      }
    }
  }
  if ((kinds & KIND_BIT.phone) !== 0) {
    // NANP, optionally after a country code 1 ("1-", "1 ", "1.", "+1 ").
    let k = i;
    let p = paren;
    const l = glink(tok, i);
    if (glen(tok, i) === 1 && text.charCodeAt(s) === 49 && i + 1 <= u && (l === 32 || l === 45 || l === 46)) {
      k = i + 1;
      p = text.charCodeAt(tok.starts[k]! - 1) === 40;
    }
    if (k + 2 <= u && glen(tok, k) === 3 && glen(tok, k + 1) === 3 && glen(tok, k + 2) === 4 && endOk(tok, k + 2)) {
      const a = text.charCodeAt(tok.starts[k]!);
      const e = text.charCodeAt(tok.starts[k + 1]!);
      const l1 = glink(tok, k);
      const l2 = glink(tok, k + 1);
      const closes = l1 === 41 || l1 === 41 + 256;
      // "(202) 555-0143" needs its '(' and ')'; otherwise both separators are the same.
      const shaped = p ? closes && (l2 === 45 || l2 === 32) : l1 === l2 && (l1 === 45 || l1 === 46 || l1 === 32);
      if (shaped && a >= 50 && e >= 50) return push(tok, 'phone', from, k + 2);
    }
    if (plus && text.charCodeAt(s) !== 48) {
      // E.164: '+' and 8-15 digits, groups joined by spaces or dashes; the longest that ends well.
      let total = 0;
      let best = -1;
      for (let j = i; j <= u; j++) {
        total += glen(tok, j);
        if (total > 15) break;
        if (total >= 8 && endOk(tok, j)) best = j;
        const lj = glink(tok, j);
        if (lj !== 32 && lj !== 45) break;
      }
      if (best !== -1) return push(tok, 'phone', from, best);
    }
  }
  if (plus || paren) return -1;
  // ddd-dd-dddd / ddd dd dddd
  if ((kinds & (KIND_BIT.ssn | KIND_BIT['tax-id'])) !== 0 && i + 2 <= u && glen(tok, i) === 3 && glen(tok, i + 1) === 2 && glen(tok, i + 2) === 4) {
    const l1 = glink(tok, i);
    if (l1 === glink(tok, i + 1) && (l1 === 45 || l1 === 32) && endOk(tok, i + 2)) {
      const d = digitsOfRange(tok, i, i + 2);
      if ((kinds & KIND_BIT.ssn) !== 0 && isValidSsn(d)) return push(tok, 'ssn', s, i + 2);
      if ((kinds & KIND_BIT['tax-id']) !== 0 && isValidItin(d)) return push(tok, 'tax-id', s, i + 2);
    }
  }
  // 9 bare digits: an SSN or a routing number only with context (see the header).
  if (glen(tok, i) === 9 && endOk(tok, i) && (kinds & (KIND_BIT.ssn | KIND_BIT['tax-id'] | KIND_BIT['routing-number'])) !== 0) {
    const before = s > 0 ? text.slice(Math.max(0, s - CONTEXT_WINDOW), s) : '';
    const rtnCtx = ctx?.routing === true || (before !== '' && ROUTING_CONTEXT.test(before));
    const ssnCtx = ctx?.ssn === true || (before !== '' && SSN_CONTEXT.test(before));
    if (rtnCtx || ssnCtx) {
      const d = text.slice(s, tok.ends[i]!);
      if (rtnCtx && (kinds & KIND_BIT['routing-number']) !== 0 && isValidRoutingNumber(d)) return push(tok, 'routing-number', s, i);
      if (ssnCtx && (kinds & KIND_BIT.ssn) !== 0 && isValidSsn(d)) return push(tok, 'ssn', s, i);
      if (ssnCtx && (kinds & KIND_BIT['tax-id']) !== 0 && isValidItin(d)) return push(tok, 'tax-id', s, i);
    }
  }
  return -1;
}

// ---------------------------------------------------------------------------------------------

/**
 * The ASCII digits of `text`, in order.
 *
 * @example
 * digitsOf('4111-1111 1111.1111'); // '4111111111111111'
 */
export function digitsOf(text: string): string {
  let allDigits = true;
  for (let i = 0; i < text.length; i++) {
    if (!isDigit(text.charCodeAt(i))) {
      allDigits = false;
      break;
    }
  }
  if (allDigits) return text;
  let d = '';
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (isDigit(c)) d += text[i];
  }
  return d;
}

function leadingSpace(s: string): number {
  let i = 0;
  while (i < s.length && s.charCodeAt(i) === 32) i++;
  return i;
}

function trailingSpace(s: string): number {
  let i = 0;
  while (i < s.length && s.charCodeAt(s.length - 1 - i) === 32) i++;
  return i;
}
