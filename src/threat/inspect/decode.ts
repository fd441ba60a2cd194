/**
 * Bounded multi-pass normalisation of one value before inspection (ASVS 5.3.4; OWASP "Canonicalize
 * input before validation"): an attack that is percent-, entity- or escape-encoded once, twice or
 * three times is inspected in the form the upstream or a browser will eventually decode it to.
 *
 * One pass applies, in order, and records which of them changed something:
 *   nfkc     Unicode compatibility folding (fullwidth `＜`, `％`, enclosed `①`, math letters) plus a
 *            small "best fit" table (`ʼ`→`'`, `˂`→`<`, `∕`→`/` ...) of characters that legacy
 *            code-page conversions turn into ASCII metacharacters; only for non-ASCII text.
 *   url      `%XX` (the bytes decoded as UTF-8; a byte that is not valid UTF-8 as Latin-1, so
 *            `%a0` is NBSP), `%uXXXX`, and a literal `+` as space when the text also holds a
 *            real escape (it then looks form-encoded).
 *   html     character references: named (the ASCII ones, with or without `;` for the legacy
 *            names), decimal `&#39;` and hex `&#x27;`, leading zeros allowed.
 *   unicode  JS/JSON/C escapes `\uXXXX`, `\u{X…}`, `\xXX` and three-digit octal `\047`. Letter
 *            escapes such as `\n` are not decoded: Windows paths (`C:\new`) would turn into
 *            control characters.
 * Up to DECODE_PASSES passes run while the text changes. Each distinct result is a variant,
 * labelled for `Finding.via`: the decoders of the pass joined by '+', with the pass number from
 * the second pass on ('url', 'url2', 'url+html', 'html2' ...). A variant with NUL characters also
 * yields the same text without them ('nul'), since `<scr\0ipt>` and `sel\0ect` are read that way,
 * and a value with `+` but no space yields it with spaces ('plus': `1+union+select+1`).
 *
 * Rules that make a value suspicious by its encoding alone (reported as family `evasion` when no
 * other family matched):
 *   - still encoded after DECODE_PASSES passes (one more pass would change it): no client has a
 *     reason to encode a value four times ('evasion.deep-encoding');
 *   - overlong UTF-8 in a percent-encoded byte run (`%c0%af` for `/`): never produced by a
 *     conforming encoder, a classic filter bypass ('evasion.overlong-utf8'). It is decoded to the
 *     character it pretends to be, so the family that it hides is usually reported first.
 * A malformed escape is not an attack by itself: it is left as it is.
 *
 * Bounds: every loop runs over the text once; no variant is longer than MAX_VARIANT_FACTOR times
 * the input (NFKC can expand a character to 18), and there are at most MAX_VARIANTS variants.
 */

/** Decoding passes; a value that would change in one more pass is 'evasion.deep-encoding'. */
export const DECODE_PASSES = 3;
/** Variants inspected per value: raw, up to DECODE_PASSES decoded ones, and a NUL-free one. */
export const MAX_VARIANTS = 6;
/** A decoded variant is cut at this many times the input's length (NFKC expansion bound). */
export const MAX_VARIANT_FACTOR = 4;

/** One form of the value to inspect. */
export interface Variant {
  text: string;
  /** How it was obtained: 'raw' for the value itself, else the decoders (see module comment). */
  via: string;
}

export interface DecodeResult {
  /** The raw value first, then the decoded forms in pass order; all distinct. */
  variants: Variant[];
  /** An `evasion.*` rule when the encoding itself is suspicious. */
  evasion?: string;
}

/**
 * Decodes `value` into the distinct forms worth inspecting.
 *
 * @example
 * decodeVariants('%2527%20OR%201%3D1').variants.map((v) => [v.via, v.text]);
 * // [['raw', '%2527%20OR%201%3D1'], ['url', "%27 OR 1=1"], ['url2', "' OR 1=1"]]
 */
export function decodeVariants(value: string): DecodeResult {
  const variants: Variant[] = [{ text: value, via: 'raw' }];
  const limit = Math.max(64, value.length * MAX_VARIANT_FACTOR);
  let evasion: string | undefined;
  let cur = value;
  for (let pass = 1; pass <= DECODE_PASSES + 1; pass++) {
    const applied: string[] = [];
    let next = cur;
    if (hasNonAscii(next)) {
      const folded = foldCompat(next);
      if (folded !== next) {
        next = folded;
        applied.push('nfkc');
      }
    }
    if (next.includes('%')) {
      const u = percentDecode(next);
      if (u.overlong) evasion ??= 'evasion.overlong-utf8';
      if (u.text !== next) {
        next = u.text;
        applied.push('url');
      }
    }
    if (next.includes('&')) {
      const h = htmlDecode(next);
      if (h !== next) {
        next = h;
        applied.push('html');
      }
    }
    if (next.includes('\\')) {
      const e = escapeDecode(next);
      if (e !== next) {
        next = e;
        applied.push('unicode');
      }
    }
    if (applied.length === 0) break;
    if (pass > DECODE_PASSES) {
      // Still encoded after the allowed passes: inspect nothing more, flag the value.
      evasion ??= 'evasion.deep-encoding';
      break;
    }
    if (next.length > limit) next = next.slice(0, limit);
    const via = applied.map((a) => (pass > 1 ? `${a}${pass}` : a)).join('+');
    variants.push({ text: next, via });
    cur = next;
  }
  // `1+union+select+1`: a value with `+` and no space may reach a form decoder upstream.
  if (value.includes('+') && !value.includes(' ') && variants.length < MAX_VARIANTS) {
    const spaced = value.replaceAll('+', ' ');
    if (!variants.some((v) => v.text === spaced)) variants.push({ text: spaced, via: 'plus' });
  }
  // Text with NUL characters removed: `<scr\0ipt>`, `sel%00ect`.
  const last = variants[variants.length - 1]!.text;
  if (last.includes('\0') && variants.length < MAX_VARIANTS) {
    variants.push({ text: last.replaceAll('\0', ''), via: 'nul' });
  }
  return evasion ? { variants, evasion } : { variants };
}

function hasNonAscii(s: string): boolean {
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) > 0x7e) return true;
  return false;
}

/**
 * "Best fit" characters: what legacy code-page conversions (Windows WideCharToMultiByte, SQL
 * Server nvarchar to varchar) and some normalisers turn into ASCII metacharacters, and that NFKC
 * leaves alone.
 */
const BEST_FIT: ReadonlyMap<number, string> = new Map([
  [0x02b9, "'"], [0x02bc, "'"], [0x02c8, "'"], [0x2032, "'"], [0x2035, "'"],
  [0x02ba, '"'], [0x02ee, '"'], [0x2033, '"'], [0x2036, '"'],
  [0x02c2, '<'], [0x02c3, '>'], [0x2039, '<'], [0x203a, '>'], [0x2329, '<'], [0x232a, '>'], [0x3008, '<'], [0x3009, '>'],
  [0x2215, '/'], [0x2044, '/'], [0x29f8, '/'],
  [0x2216, '\\'], [0x29f5, '\\'], [0x29f9, '\\'],
  [0x037e, ';'], [0x2024, '.'], [0x2063, ''], [0x200b, ''], [0x200c, ''], [0x200d, ''], [0x2060, ''], [0xfeff, ''], [0x00ad, ''],
]);

/** NFKC plus BEST_FIT; the input is known to hold non-ASCII characters. */
export function foldCompat(s: string): string {
  let out = s.normalize('NFKC');
  let mapped = '';
  let from = 0;
  for (let i = 0; i < out.length; i++) {
    const c = out.charCodeAt(i);
    if (c < 0x80) continue;
    const r = BEST_FIT.get(c);
    if (r === undefined) continue;
    mapped += out.slice(from, i) + r;
    from = i + 1;
  }
  if (from > 0) out = mapped + out.slice(from);
  return out;
}

function hexVal(c: number): number {
  if (c >= 48 && c <= 57) return c - 48;
  const l = c | 0x20;
  if (l >= 97 && l <= 102) return l - 87;
  return -1;
}

/**
 * One round of percent-decoding. Runs of `%XX` bytes are decoded as UTF-8 (invalid sequences
 * become U+FFFD, overlong ones the character they encode, flagged); `%uXXXX` is a UTF-16 code
 * unit (IIS). Invalid escapes stay as they are.
 *
 * @example
 * percentDecode('a%20b%c0%afc').text; // 'a b/c' (overlong: true)
 */
export function percentDecode(s: string): { text: string; overlong: boolean } {
  let out = '';
  let from = 0;
  let overlong = false;
  let sawEscape = false;
  const bytes: number[] = [];
  const n = s.length;
  let i = s.indexOf('%');
  while (i !== -1 && i < n) {
    // Gather a run of %XX escapes starting at i.
    let j = i;
    bytes.length = 0;
    while (j + 2 < n + 0 && s.charCodeAt(j) === 37) {
      const h1 = hexVal(s.charCodeAt(j + 1));
      const h2 = hexVal(s.charCodeAt(j + 2));
      if (h1 < 0 || h2 < 0) break;
      bytes.push(h1 * 16 + h2);
      j += 3;
    }
    if (bytes.length > 0) {
      const d = utf8Decode(bytes);
      if (d.overlong) overlong = true;
      out += plus(s.slice(from, i)) + d.text;
      from = j;
      sawEscape = true;
      i = s.indexOf('%', j);
      continue;
    }
    // %uXXXX
    if (i + 5 < n + 0 && (s.charCodeAt(i + 1) | 0x20) === 117) {
      let v = 0;
      let ok = true;
      for (let k = 2; k <= 5; k++) {
        const h = hexVal(s.charCodeAt(i + k));
        if (h < 0) {
          ok = false;
          break;
        }
        v = v * 16 + h;
      }
      if (ok) {
        out += plus(s.slice(from, i)) + String.fromCharCode(v);
        from = i + 6;
        sawEscape = true;
        i = s.indexOf('%', from);
        continue;
      }
    }
    i = s.indexOf('%', i + 1);
  }
  if (!sawEscape) return { text: s, overlong: false };
  out += plus(s.slice(from));
  return { text: out, overlong };
}

/** Form encoding: a literal `+` is a space where the text is percent-encoded at all (not a decoded %2B). */
function plus(segment: string): string {
  return segment.includes('+') ? segment.replaceAll('+', ' ') : segment;
}

/** UTF-8 bytes to text; invalid sequences give U+FFFD, overlong forms their code point (flagged). */
function utf8Decode(b: number[]): { text: string; overlong: boolean } {
  let out = '';
  let overlong = false;
  let i = 0;
  while (i < b.length) {
    const c = b[i]!;
    if (c < 0x80) {
      out += String.fromCharCode(c);
      i++;
      continue;
    }
    let need = 0;
    let cp = 0;
    let min = 0;
    if (c >= 0xc0 && c < 0xe0) {
      need = 1;
      cp = c & 0x1f;
      min = 0x80;
    } else if (c >= 0xe0 && c < 0xf0) {
      need = 2;
      cp = c & 0x0f;
      min = 0x800;
    } else if (c >= 0xf0 && c < 0xf8) {
      need = 3;
      cp = c & 0x07;
      min = 0x10000;
    } else {
      // a lone continuation or invalid byte: read as Latin-1 (%a0 is NBSP, whitespace to MySQL)
      out += String.fromCharCode(c);
      i++;
      continue;
    }
    let k = 1;
    for (; k <= need; k++) {
      const cc = b[i + k];
      if (cc === undefined || (cc & 0xc0) !== 0x80) break;
      cp = (cp << 6) | (cc & 0x3f);
    }
    if (k <= need) {
      out += String.fromCharCode(c);
      i++;
      continue;
    }
    i += need + 1;
    if (cp < min) overlong = true;
    if (cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) out += '\ufffd';
    else out += String.fromCodePoint(cp);
  }
  return { text: out, overlong };
}

/** HTML named references that decode to ASCII (and NBSP); names are case-sensitive as in HTML. */
const ENTITIES: ReadonlyMap<string, string> = new Map([
  ['Tab', '\t'], ['NewLine', '\n'], ['nbsp', '\u00a0'], ['NonBreakingSpace', '\u00a0'],
  ['excl', '!'], ['quot', '"'], ['QUOT', '"'], ['num', '#'], ['dollar', '$'], ['percnt', '%'],
  ['amp', '&'], ['AMP', '&'], ['apos', "'"], ['lpar', '('], ['rpar', ')'], ['ast', '*'], ['midast', '*'],
  ['plus', '+'], ['comma', ','], ['period', '.'], ['sol', '/'], ['colon', ':'], ['semi', ';'],
  ['lt', '<'], ['LT', '<'], ['equals', '='], ['gt', '>'], ['GT', '>'], ['quest', '?'], ['commat', '@'],
  ['lsqb', '['], ['lbrack', '['], ['bsol', '\\'], ['rsqb', ']'], ['rbrack', ']'], ['Hat', '^'],
  ['lowbar', '_'], ['UnderBar', '_'], ['grave', '`'], ['DiacriticalGrave', '`'], ['lcub', '{'],
  ['lbrace', '{'], ['verbar', '|'], ['vert', '|'], ['VerticalLine', '|'], ['rcub', '}'], ['rbrace', '}'],
]);
/** Names browsers decode without the trailing semicolon. */
const LEGACY = new Set(['lt', 'LT', 'gt', 'GT', 'amp', 'AMP', 'quot', 'QUOT', 'nbsp']);

/**
 * One round of HTML character-reference decoding.
 *
 * @example
 * htmlDecode('&lt;script&gt;&#x61;&#0000108;ert(1)'); // '<script>alert(1)'
 */
export function htmlDecode(s: string): string {
  let out = '';
  let from = 0;
  const n = s.length;
  let i = s.indexOf('&');
  while (i !== -1) {
    let j = i + 1;
    let rep: string | undefined;
    if (s.charCodeAt(j) === 35) {
      // numeric: &#123; or &#x7b;
      j++;
      const hex = (s.charCodeAt(j) | 0x20) === 120;
      if (hex) j++;
      const start = j;
      let v = 0;
      let significant = 0;
      while (j < n) {
        const c = s.charCodeAt(j);
        const d = hex ? hexVal(c) : c >= 48 && c <= 57 ? c - 48 : -1;
        if (d < 0) break;
        if (v > 0 || d > 0) significant++;
        if (significant <= 8) v = v * (hex ? 16 : 10) + d;
        j++;
      }
      if (j > start) {
        if (s.charCodeAt(j) === 59) j++;
        rep = significant > 7 || v > 0x10ffff || (v >= 0xd800 && v <= 0xdfff) || v === 0 ? '\ufffd' : String.fromCodePoint(v);
      }
    } else {
      const start = j;
      while (j < n && j - start < 32) {
        const c = s.charCodeAt(j) | 0x20;
        if (c < 97 || c > 122) break;
        j++;
      }
      if (j > start) {
        const name = s.slice(start, j);
        const r = ENTITIES.get(name);
        if (r !== undefined && s.charCodeAt(j) === 59) {
          rep = r;
          j++;
        } else if (r !== undefined && LEGACY.has(name)) {
          rep = r;
        }
      }
    }
    if (rep !== undefined) {
      out += s.slice(from, i) + rep;
      from = j;
      i = s.indexOf('&', j);
    } else {
      i = s.indexOf('&', i + 1);
    }
  }
  if (from === 0) return s;
  return out + s.slice(from);
}

/**
 * One round of backslash escapes: `\uXXXX`, `\u{X…}`, `\xXX`, octal `\NNN`. `\\` is not folded (a
 * run of backslashes would otherwise look like deep encoding).
 *
 * @example
 * escapeDecode('\\u003cscript\\x3e'); // '<script>'
 */
export function escapeDecode(s: string): string {
  let out = '';
  let from = 0;
  const n = s.length;
  let i = s.indexOf('\\');
  while (i !== -1 && i + 1 < n) {
    const c = s.charCodeAt(i + 1);
    let rep: string | undefined;
    let end = i;
    if ((c | 0x20) === 117) {
      if (s.charCodeAt(i + 2) === 123) {
        let j = i + 3;
        let v = 0;
        while (j < n && j - i - 3 < 6 && hexVal(s.charCodeAt(j)) >= 0) v = v * 16 + hexVal(s.charCodeAt(j++));
        if (j > i + 3 && s.charCodeAt(j) === 125 && v <= 0x10ffff) {
          rep = v >= 0xd800 && v <= 0xdfff ? '\ufffd' : String.fromCodePoint(v);
          end = j + 1;
        }
      } else if (i + 5 < n) {
        let v = 0;
        let k = 2;
        for (; k <= 5; k++) {
          const h = hexVal(s.charCodeAt(i + k));
          if (h < 0) break;
          v = v * 16 + h;
        }
        if (k === 6) {
          rep = String.fromCharCode(v);
          end = i + 6;
        }
      }
    } else if ((c | 0x20) === 120 && i + 3 < n) {
      const h1 = hexVal(s.charCodeAt(i + 2));
      const h2 = hexVal(s.charCodeAt(i + 3));
      if (h1 >= 0 && h2 >= 0) {
        rep = String.fromCharCode(h1 * 16 + h2);
        end = i + 4;
      }
    } else if (c >= 48 && c <= 51 && i + 3 < n) {
      const o2 = s.charCodeAt(i + 2) - 48;
      const o3 = s.charCodeAt(i + 3) - 48;
      if (o2 >= 0 && o2 <= 7 && o3 >= 0 && o3 <= 7) {
        rep = String.fromCharCode((c - 48) * 64 + o2 * 8 + o3);
        end = i + 4;
      }
    }
    if (rep !== undefined) {
      out += s.slice(from, i) + rep;
      from = end;
      i = s.indexOf('\\', end);
    } else {
      i = s.indexOf('\\', i + 1);
    }
  }
  if (from === 0) return s;
  return out + s.slice(from);
}
