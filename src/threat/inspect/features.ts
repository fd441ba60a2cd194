/**
 * Which trigger characters a variant holds, found in one pass, so that a family's detector runs
 * only when its attacks are possible at all (an SQL injection needs a quote, a `;`, an `=`, a
 * `(`, a comment or a keyword; a traversal a slash, a backslash or `..`). This keeps the slow
 * path (values with some punctuation) within the CPU budget.
 */

export const F = {
  SQUOTE: 1 << 0,
  DQUOTE: 1 << 1,
  BACKTICK: 1 << 2,
  SEMI: 1 << 3,
  PIPE: 1 << 4,
  AMP: 1 << 5,
  LT: 1 << 6,
  GT: 1 << 7,
  EQ: 1 << 8,
  LPAREN: 1 << 9,
  RPAREN: 1 << 10,
  SLASH: 1 << 11,
  BSLASH: 1 << 12,
  COLON: 1 << 13,
  DOLLAR: 1 << 14,
  BRACE: 1 << 15,
  HASH: 1 << 16,
  STAR: 1 << 17,
  PERCENT: 1 << 18,
  AT: 1 << 19,
  BREAK: 1 << 20,
  CONTROL: 1 << 21,
  DOTDOT: 1 << 22,
  DASHDASH: 1 << 23,
  NONASCII: 1 << 24,
  BRACKET: 1 << 25,
  EXCL: 1 << 26,
  PLUS: 1 << 27,
  DOT: 1 << 28,
} as const;

const TABLE = new Int32Array(128);
TABLE[39] = F.SQUOTE;
TABLE[34] = F.DQUOTE;
TABLE[96] = F.BACKTICK;
TABLE[59] = F.SEMI;
TABLE[124] = F.PIPE;
TABLE[38] = F.AMP;
TABLE[60] = F.LT;
TABLE[62] = F.GT;
TABLE[61] = F.EQ;
TABLE[40] = F.LPAREN;
TABLE[41] = F.RPAREN;
TABLE[47] = F.SLASH;
TABLE[92] = F.BSLASH;
TABLE[58] = F.COLON;
TABLE[36] = F.DOLLAR;
TABLE[123] = F.BRACE;
TABLE[125] = F.BRACE;
TABLE[35] = F.HASH;
TABLE[42] = F.STAR;
TABLE[37] = F.PERCENT;
TABLE[64] = F.AT;
TABLE[10] = F.BREAK | F.CONTROL;
TABLE[13] = F.BREAK | F.CONTROL;
TABLE[91] = F.BRACKET;
TABLE[93] = F.BRACKET;
TABLE[33] = F.EXCL;
TABLE[43] = F.PLUS;
TABLE[46] = F.DOT;
for (let c = 0; c < 32; c++) if (c !== 9 && c !== 10 && c !== 13) TABLE[c] = F.CONTROL;
TABLE[127] = F.CONTROL;

/**
 * The feature mask of `s`.
 *
 * @example
 * (features("o'brien") & F.SQUOTE) !== 0; // true
 */
export function features(s: string): number {
  let m = 0;
  const n = s.length;
  for (let i = 0; i < n; i++) {
    const c = s.charCodeAt(i);
    if (c >= 128) {
      m |= F.NONASCII;
      if (c === 0x85 || c === 0x2028 || c === 0x2029) m |= F.BREAK | F.CONTROL;
      continue;
    }
    const t = TABLE[c]!;
    if (t === 0) continue;
    m |= t;
    if (c === 46 && s.charCodeAt(i + 1) === 46) m |= F.DOTDOT;
    else if (c === 45 && s.charCodeAt(i + 1) === 45) m |= F.DASHDASH;
  }
  // `-` is not in the table: look for `--` only if needed
  if ((m & F.DASHDASH) === 0 && s.includes('--')) m |= F.DASHDASH;
  return m;
}
