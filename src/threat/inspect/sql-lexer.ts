/**
 * A SQL lexer for injection detection (ASVS 5.3.4), in the manner of libinjection: it does not
 * parse SQL, it turns a value into a stream of typed tokens as a database would read it if the
 * value were pasted into a query, starting either outside any literal or inside a string literal
 * that the value may close. sql.ts reads the token types as a fingerprint string (one character a
 * token) and applies context rules to it.
 *
 * Dialect: the union of MySQL, PostgreSQL, SQL Server, Oracle and SQLite as far as breaking out
 * goes: strings in both quote styles with doubling and backslash escapes, `N'…'`/`X'…'`/`E'…'`
 * prefixes, comments `--`, `#` and `/* *\/` (MySQL's executable `/*!50000 … *\/` is read as code),
 * numbers (decimal, exponent, `0x…`, `0b…`; a number glued to a keyword, `1union`, is split),
 * identifiers, `@var`/`@@var`, operators and punctuation. Every loop advances over the input, so
 * the cost is linear in its length.
 *
 * Token types (the fingerprint alphabet):
 *   s string (closed)   q string left open at the end   1 number   n identifier
 *   v variable          F known SQL function + `(`      f other identifier glued to `(`
 *   & and/or/xor/&&/||  ! not                           = comparison (= <> like rlike in( is null …)
 *   o other operator    U union/intersect/except/minus  E select   K statement keyword (drop …)
 *   W waitfor           B order by / group by           H having   k other keyword
 *   t true/false/null   ( ) , ; .                       c comment  ? anything else
 */

/** One token. A class, so that every token has the same shape (monomorphic access in the rules). */
export class SqlToken {
  constructor(
    public type: string,
    public start: number,
    public end: number,
    /** Text of words (identifiers, keywords, functions, variables), as in the lower-cased input; '' otherwise. */
    public word = '',
    /** For comments: '--', '#', '/*'; '' otherwise. */
    public comment = '',
    /** Whether the comment runs to the end of the input. */
    public toEnd = false,
  ) {}
}

function tk(type: string, start: number, end: number, word = ''): SqlToken {
  return new SqlToken(type, start, end, word);
}

/** Quote context the value starts in: none, or inside a string opened by this character. */
export type QuoteContext = 0 | 39 | 34 | 96;

const LOGIC = new Set(['and', 'or', 'xor']);
const COMPARE_WORDS = new Set(['like', 'rlike', 'regexp', 'similar', 'glob', 'between', 'sounds', 'ilike']);
const UNION = new Set(['union', 'intersect', 'except', 'minus']);
const STATEMENT = new Set([
  'drop', 'delete', 'insert', 'update', 'create', 'alter', 'truncate', 'exec', 'execute', 'declare', 'shutdown',
  'grant', 'revoke', 'replace', 'merge', 'rename', 'call', 'load', 'copy', 'handler', 'backup', 'restore', 'kill',
]);
const LITERALS = new Set(['true', 'false', 'null', 'unknown']);
const KEYWORDS = new Set([
  'from', 'where', 'into', 'table', 'database', 'schema', 'limit', 'offset', 'procedure', 'outfile', 'dumpfile',
  'case', 'when', 'then', 'else', 'end', 'as', 'top', 'distinct', 'distinctrow', 'all', 'join', 'on', 'values',
  'set', 'by', 'delay', 'time', 'fetch', 'rows', 'only', 'asc', 'desc', 'collate', 'escape', 'div', 'mod', 'is', 'in', 'not',
  'exists', 'any', 'some', 'if', 'begin', 'use', 'show', 'describe', 'with', 'union', 'order', 'group', 'having',
]);
/**
 * Functions a payload calls (time delays, conditionals, string building, error-based extraction,
 * metadata); a word in this set followed by `(`, even after spaces, is an `F` token.
 */
export const SQL_FUNCTIONS = new Set([
  'sleep', 'benchmark', 'pg_sleep', 'pg_sleep_for', 'pg_sleep_until', 'randomblob', 'waitfor',
  'if', 'iif', 'ifnull', 'nullif', 'coalesce', 'elt', 'make_set', 'field', 'case', 'decode', 'nvl', 'choose',
  'char', 'chr', 'nchar', 'ascii', 'ord', 'unicode', 'hex', 'unhex', 'bin', 'conv', 'concat', 'concat_ws', 'group_concat',
  'string_agg', 'substring', 'substr', 'mid', 'left', 'right', 'length', 'len', 'char_length', 'lower', 'upper', 'lcase',
  'ucase', 'reverse', 'repeat', 'replicate', 'space', 'trim', 'ltrim', 'rtrim', 'instr', 'locate', 'position', 'strcmp',
  'cast', 'convert', 'count', 'sum', 'min', 'max', 'avg', 'rand', 'floor', 'ceil', 'round', 'abs', 'exp', 'pow', 'power',
  'version', 'user', 'current_user', 'session_user', 'system_user', 'database', 'schema', 'db_name', 'user_name',
  'extractvalue', 'updatexml', 'exp', 'gtid_subset', 'json_keys', 'polygon', 'multipoint', 'geometrycollection',
  'load_file', 'utl_inaddr', 'utl_http', 'dbms_pipe', 'dbms_lock', 'dbms_xmlgen', 'xmltype', 'ctxsys',
  'pg_read_file', 'pg_ls_dir', 'lo_import', 'lo_export', 'sys_eval', 'sys_exec', 'openrowset', 'opendatasource',
  'exists', 'not', 'like', 'glob', 'typeof', 'sqlite_version', 'last_insert_rowid', 'quote', 'zeroblob', 'printf',
  'xp_cmdshell', 'xp_dirtree', 'regexp_substring', 'regexp_like', 'row', 'values', 'md5', 'sha1', 'crc32', 'uuid',
]);
/** Keywords that can also be functions (`if(`, `char(`, `replace(`, `insert(`, `exists(`, `values(`). */
const KEYWORD_FUNCTIONS = new Set(['if', 'char', 'left', 'right', 'replace', 'insert', 'exists', 'values', 'database', 'schema', 'user', 'mod', 'case']);
/** Words a number may be glued to (`1union`, `1e0or`): anything else makes `5pm` one identifier. */
const GLUE = new Set(['union', 'or', 'and', 'xor', 'order', 'group', 'from', 'limit', 'having', 'like', 'rlike', 'div', 'into', 'select', 'is', 'not', 'between', 'procedure', 'regexp', 'except', 'intersect', 'then', 'else', 'end', 'when']);
/** String prefixes: N'…', X'…', B'…', E'…', _utf8'…'. */
const STRING_PREFIX = new Set(['n', 'x', 'b', 'e', '_utf8', '_utf8mb4', '_latin1', '_binary', 'u&']);

function isIdentStart(c: number): boolean {
  return (c >= 97 && c <= 122) || (c >= 65 && c <= 90) || c === 95 || (c >= 0x80 && !isSpace(c));
}
function isIdentPart(c: number): boolean {
  return isIdentStart(c) || (c >= 48 && c <= 57) || c === 36;
}
function isDigit(c: number): boolean {
  return c >= 48 && c <= 57;
}
/** Whitespace as SQL engines read it, including what URL decoding leaves (%0b, %a0). */
export function isSpace(c: number): boolean {
  return c === 32 || (c >= 9 && c <= 13) || c === 0xa0 || c === 0 || c === 0x2028 || c === 0x2029 || c === 0x3000 || c === 0xfeff;
}

/**
 * Tokenises `s` (lower-cased by the caller: keywords are matched as written) as SQL. With a quote context, the value is taken to start inside a string opened
 * by that quote: the first token is that string, closed at the first quote (not doubled) in the
 * value, or a `q` running to the end. A backslash does not escape that first quote, because
 * PostgreSQL and SQLite do not treat it as an escape.
 *
 * @example
 * tokenize("admin' or 1=1--", 39).map((t) => t.type).join(''); // 's&1=1c'
 */
export function tokenize(s: string, ctx: QuoteContext): SqlToken[] {
  const toks: SqlToken[] = [];
  const n = s.length;
  let i = 0;
  let execComment = false;
  if (ctx !== 0) {
    let j = 0;
    for (; j < n; j++) {
      if (s.charCodeAt(j) === ctx) {
        if (s.charCodeAt(j + 1) === ctx) {
          j++;
          continue;
        }
        break;
      }
    }
    if (j >= n) return [tk('q', 0, n)];
    toks.push(tk('s', 0, j + 1));
    i = j + 1;
  }
  while (i < n) {
    const c = s.charCodeAt(i);
    if (isSpace(c)) {
      i++;
      continue;
    }
    const start = i;
    // comments
    if (c === 45 && s.charCodeAt(i + 1) === 45) {
      const nl = lineEnd(s, i + 2);
      toks.push(new SqlToken('c', start, nl, '', '--', nl >= n));
      i = nl;
      continue;
    }
    if (c === 35) {
      const nl = lineEnd(s, i + 1);
      toks.push(new SqlToken('c', start, nl, '', '#', nl >= n));
      i = nl;
      continue;
    }
    if (c === 47 && s.charCodeAt(i + 1) === 42) {
      if (s.charCodeAt(i + 2) === 33) {
        // MySQL executable comment: /*!50000 code */ runs `code`.
        i += 3;
        while (i < n && isDigit(s.charCodeAt(i))) i++;
        execComment = true;
        continue;
      }
      const close = s.indexOf('*/', i + 2);
      const end = close === -1 ? n : close + 2;
      toks.push(new SqlToken('c', start, end, '', '/*', close === -1 || end >= n));
      i = end;
      continue;
    }
    if (execComment && c === 42 && s.charCodeAt(i + 1) === 47) {
      execComment = false;
      i += 2;
      continue;
    }
    // strings
    if (c === 39 || c === 34 || c === 96) {
      const end = stringEnd(s, i + 1, c);
      if (c === 96) toks.push(tk('n', start, end < 0 ? n : end, s.slice(i + 1, end < 0 ? n : end - 1)));
      else toks.push(tk(end < 0 ? 'q' : 's', start, end < 0 ? n : end));
      i = end < 0 ? n : end;
      continue;
    }
    // numbers
    if (isDigit(c) || (c === 46 && isDigit(s.charCodeAt(i + 1)))) {
      i = readNumber(s, i, toks);
      continue;
    }
    // words
    if (isIdentStart(c)) {
      let j = i + 1;
      while (j < n && isIdentPart(s.charCodeAt(j))) j++;
      const word = s.slice(i, j);
      const next = s.charCodeAt(j);
      if ((next === 39 || next === 34) && STRING_PREFIX.has(word)) {
        const end = stringEnd(s, j + 1, next);
        toks.push(tk(end < 0 ? 'q' : 's', start, end < 0 ? n : end));
        i = end < 0 ? n : end;
        continue;
      }
      toks.push(tk(wordType(s, word, j), start, j, word));
      i = j;
      continue;
    }
    if (c === 64) {
      // @var, @@var, @`quoted`
      let j = i + 1;
      if (s.charCodeAt(j) === 64) j++;
      const ws = j;
      while (j < n && isIdentPart(s.charCodeAt(j))) j++;
      if (j > ws) {
        toks.push(tk('v', start, j, s.slice(i, j)));
        i = j;
        continue;
      }
      toks.push(tk('?', start, i + 1));
      i++;
      continue;
    }
    // operators and punctuation
    const c2 = s.charCodeAt(i + 1);
    if (c === 60 && c2 === 61 && s.charCodeAt(i + 2) === 62) {
      toks.push(tk('=', start, i + 3)); // <=>
      i += 3;
      continue;
    }
    if ((c === 38 || c === 124) && c2 === c) {
      toks.push(tk('&', start, i + 2, c === 38 ? '&&' : '||'));
      i += 2;
      continue;
    }
    // <> != <= >= == ^= !< !>
    if ((c === 60 && (c2 === 62 || c2 === 61)) || (c === 33 && (c2 === 61 || c2 === 60 || c2 === 62)) || (c === 62 && c2 === 61) || (c === 61 && c2 === 61) || (c === 94 && c2 === 61)) {
      toks.push(tk('=', start, i + 2));
      i += 2;
      continue;
    }
    // :: := << >> ->
    if ((c === 58 && (c2 === 58 || c2 === 61)) || (c === 60 && c2 === 60) || (c === 62 && c2 === 62) || (c === 45 && c2 === 62)) {
      toks.push(tk('o', start, i + 2));
      i += 2;
      continue;
    }
    switch (c) {
      case 61: // =
      case 60: // <
      case 62: // >
        toks.push(tk('=', start, i + 1));
        break;
      case 33: // !
      case 126: // ~
        toks.push(tk(c === 33 ? '!' : 'o', start, i + 1));
        break;
      case 43: // +
      case 45: // -
      case 42: // *
      case 47: // /
      case 37: // %
      case 94: // ^
      case 38: // &
      case 124: // |
        toks.push(tk('o', start, i + 1, String.fromCharCode(c)));
        break;
      case 40:
      case 41:
      case 44:
      case 59:
      case 46:
        toks.push(tk(String.fromCharCode(c), start, i + 1));
        break;
      default:
        toks.push(tk('?', start, i + 1));
    }
    i++;
  }
  foldTokens(toks);
  return toks;
}

function lineEnd(s: string, from: number): number {
  const n = s.length;
  for (let i = from; i < n; i++) {
    const c = s.charCodeAt(i);
    if (c === 10 || c === 13) return i;
  }
  return n;
}

/** End index (after the closing quote) of a string whose body starts at `from`, or -1 if open. */
function stringEnd(s: string, from: number, q: number): number {
  const n = s.length;
  for (let i = from; i < n; i++) {
    const c = s.charCodeAt(i);
    if (c === 92 && q !== 96) {
      i++;
      continue;
    }
    if (c === q) {
      if (s.charCodeAt(i + 1) === q) {
        i++;
        continue;
      }
      return i + 1;
    }
  }
  return -1;
}

function readNumber(s: string, i: number, toks: SqlToken[]): number {
  const n = s.length;
  const start = i;
  let j = i;
  const c1 = s.charCodeAt(j + 1) | 0x20;
  if (s.charCodeAt(j) === 48 && (c1 === 120 || c1 === 98)) {
    // 0x… / 0b…
    let k = j + 2;
    const hex = c1 === 120;
    while (k < n && (hex ? hexDigit(s.charCodeAt(k)) : s[k] === '0' || s[k] === '1')) k++;
    if (k > j + 2 && !isIdentPart(s.charCodeAt(k))) {
      toks.push(tk('1', start, k));
      return k;
    }
  }
  while (j < n && isDigit(s.charCodeAt(j))) j++;
  if (s.charCodeAt(j) === 46) {
    j++;
    while (j < n && isDigit(s.charCodeAt(j))) j++;
  }
  if ((s.charCodeAt(j) | 0x20) === 101) {
    let k = j + 1;
    if (s.charCodeAt(k) === 43 || s.charCodeAt(k) === 45) k++;
    if (isDigit(s.charCodeAt(k))) {
      while (k < n && isDigit(s.charCodeAt(k))) k++;
      j = k;
    } else if (k === j + 1 && GLUE.has(wordAt(s, k))) {
      // 1e union / 1.e(…): MySQL reads `1e` as 1
      j = k;
    }
  }
  if (j < n && isIdentPart(s.charCodeAt(j))) {
    const w = wordAt(s, j);
    if (!GLUE.has(w)) {
      // 5pm, 2nd, 100k: one identifier
      let k = j;
      while (k < n && isIdentPart(s.charCodeAt(k))) k++;
      toks.push(tk('n', start, k, s.slice(start, k)));
      return k;
    }
  }
  // a percent sign after a number is a percentage, not the modulo operator
  if (s.charCodeAt(j) === 37) {
    const after = s.charCodeAt(j + 1);
    if (!(isDigit(after) || isIdentStart(after) || after === 40)) j++;
  }
  toks.push(tk('1', start, j));
  return j;
}

function hexDigit(c: number): boolean {
  return isDigit(c) || (c >= 97 && c <= 102) || (c >= 65 && c <= 70);
}

function wordAt(s: string, i: number): string {
  let j = i;
  while (j < s.length && isIdentPart(s.charCodeAt(j))) j++;
  return s.slice(i, j);
}

/** Keyword classes by word, built once (a word's type without looking at what follows it). */
const WORD_TYPE: ReadonlyMap<string, string> = (() => {
  const m = new Map<string, string>();
  for (const w of KEYWORDS) m.set(w, 'k');
  for (const w of STATEMENT) m.set(w, 'K');
  for (const w of LITERALS) m.set(w, 't');
  for (const w of COMPARE_WORDS) m.set(w, '=');
  for (const w of UNION) m.set(w, 'U');
  for (const w of LOGIC) m.set(w, '&');
  m.set('select', 'E');
  m.set('waitfor', 'W');
  m.set('having', 'H');
  m.set('not', '!');
  return m;
})();

/** Type of a word ending at `end`, looking at whether a `(` follows (directly or after spaces). */
function wordType(s: string, word: string, end: number): string {
  const kw = WORD_TYPE.get(word);
  if (kw !== undefined && kw !== 'k' && kw !== 'K' && kw !== '=') return kw;
  if (kw !== undefined && !KEYWORD_FUNCTIONS.has(word) && !SQL_FUNCTIONS.has(word)) return kw;
  let k = end;
  while (k < s.length && isSpace(s.charCodeAt(k))) k++;
  if (s.charCodeAt(k) !== 40) return kw ?? 'n';
  if (SQL_FUNCTIONS.has(word) && (kw === undefined || KEYWORD_FUNCTIONS.has(word) || kw === '=')) return 'F';
  if (kw !== undefined) return kw;
  return k === end ? 'f' : 'n';
}

/**
 * Context folding on the stream: `order by`/`group by` become one B; `is [not] null|true|…` and
 * `in (` become comparisons; `all`/`distinct` after a union stay keywords.
 */
function foldTokens(t: SqlToken[]): void {
  for (let i = 0; i < t.length; i++) {
    const tok = t[i]!;
    const w = tok.word;
    if (tok.type !== 'k' && tok.type !== 'n') continue;
    const next = t[i + 1];
    if ((w === 'order' || w === 'group') && next?.word === 'by') {
      tok.type = 'B';
      tok.end = next.end;
      t.splice(i + 1, 1);
    } else if (w === 'is') {
      const n2 = next?.word === 'not' ? t[i + 2] : next;
      if (n2 !== undefined && LITERALS.has(n2.word)) tok.type = '=';
    } else if (w === 'in' && next?.type === '(') {
      tok.type = '=';
    }
  }
}

/**
 * The fingerprint: token types in order, block comments and line comments that do not run to the
 * end of the input dropped (they are whitespace to the database).
 */
export function fingerprint(toks: SqlToken[]): { fp: string; idx: number[] } {
  let fp = '';
  const idx: number[] = [];
  for (let i = 0; i < toks.length; i++) {
    const t = toks[i]!;
    if (t.type === 'c' && !t.toEnd) continue;
    fp += t.type;
    idx.push(i);
  }
  return { fp, idx };
}
