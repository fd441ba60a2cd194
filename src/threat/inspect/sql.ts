/**
 * SQL injection (ASVS 5.3.4, CWE-89) from the token stream of sql-lexer.ts and its context, in the
 * manner of libinjection: a value is an attack when, read as SQL, it breaks out of the place the
 * application put it (a string literal, a number, a parenthesis) and continues with SQL structure.
 * Ordinary text with apostrophes, semicolons or SQL words does not do that: "O'Brien" closes a
 * string and goes on with an identifier; "Please sell 100 shares; thanks!" has no statement after
 * its semicolon; "select the best fund" has no select list.
 *
 * Each value is read in every context it could be pasted into:
 *   as-is         a number or identifier position: `1 OR 1=1`, `1) AND SLEEP(5)`, `-1 UNION…`;
 *   inside '…'    only if the value holds a `'`: `admin'--`, `' OR 'a'='a`, `') OR ('1'='1`;
 *   inside "…"    the same with `"` (MySQL strings, SQLite/PostgreSQL identifiers); inside `…`.
 * and once more with block comments removed rather than read as spaces, for filters that are
 * beaten by `UN/**\/ION` (MySQL's executable `/*!…*\/` comments are read as code by the lexer).
 *
 * Rules (ids are stable; `sqli.` prefix): tautology (a logic operator after the breakout followed
 * by a comparison, a literal truth, a function or a subexpression), union (UNION [ALL] SELECT with
 * a select list), stacked (`;` or a T-SQL breakout followed by a statement: DROP TABLE, DELETE
 * FROM, INSERT INTO, UPDATE … SET, EXEC, DECLARE @, SHUTDOWN …), truncation (`admin'--`), time
 * (SLEEP(n), BENCHMARK(, PG_SLEEP(, WAITFOR DELAY, RANDOMBLOB(, DBMS_PIPE/DBMS_LOCK), order-by
 * (`ORDER BY 5--` column probing), having, operator (`'+SLEEP(5)+'`, `1 RLIKE (SELECT…)`),
 * subquery (a value that is a parenthesised SELECT), conditional (`CASE WHEN 1=1 …`, `IF(1=1,…)`),
 * dangerous-function (xp_cmdshell, LOAD_FILE(, EXTRACTVALUE(, information_schema …),
 * system-variable (`@@version`), into-outfile, obfuscation (`CHAR(97)+CHAR(100)`).
 *
 * What it does not do: parse SQL semantically or know the upstream's query. A value like
 * "1=1 is true" (no logic operator, no breakout) is allowed; "10 or 20" in a numeric position is
 * allowed (it needs a comparison, function or comment to count). See docs/inspection.md.
 */
import { tokenize, fingerprint, SQL_FUNCTIONS, type QuoteContext, type SqlToken } from './sql-lexer.js';

/** Conditional and time functions that mark a select-list or ORDER BY payload. */
const COND_FUNCS = new Set(['if', 'iif', 'elt', 'make_set', 'case', 'sleep', 'benchmark', 'pg_sleep', 'randomblob', 'decode', 'choose', 'nullif', 'ifnull']);
/** Functions or objects no ordinary text calls: flagged wherever they appear as a word. */
const DANGER_WORDS = new Set([
  'xp_cmdshell', 'xp_dirtree', 'xp_regread', 'xp_regwrite', 'xp_fileexist', 'xp_servicecontrol', 'xp_availablemedia',
  'xp_subdirs', 'xp_terminate_process', 'xp_loginconfig', 'sp_executesql', 'sp_oacreate', 'sp_oamethod', 'sp_makewebtask',
  'sp_addlogin', 'sp_addsrvrolemember', 'sp_password', 'sp_configure', 'sp_execute_external_script', 'sp_addextendedproc',
  'dbms_pipe', 'dbms_lock', 'dbms_xmlgen', 'dbms_java', 'utl_http', 'utl_inaddr', 'utl_file', 'information_schema',
  'sysobjects', 'syscolumns', 'sqlite_master', 'sqlite_schema', 'pg_shadow', 'pg_catalog', 'pg_sleep', 'pg_sleep_for',
  'pg_sleep_until', 'pg_read_file', 'pg_ls_dir', 'lo_import', 'lo_export', 'sys_eval', 'sys_exec', 'openrowset', 'opendatasource',
  'sysdatabases', 'all_tab_columns', 'msysobjects', 'mysql.user',
]);
/** Words that are only dangerous as a call: `extractvalue(`, `load_file(`. */
const DANGER_CALLS = new Set(['extractvalue', 'updatexml', 'load_file', 'gtid_subset', 'json_keys', 'exp', 'polygon', 'multipoint', 'geometrycollection', 'xmltype', 'ctxsys', 'sys_context']);
const TIME_CALLS = new Set(['benchmark', 'randomblob', 'pg_sleep', 'pg_sleep_for', 'pg_sleep_until']);
const SYSTEM_VARS = new Set(['@@version', '@@datadir', '@@basedir', '@@hostname', '@@servername', '@@spid', '@@language', '@@version_compile_os', '@@microsoftversion', '@@tmpdir', '@@secure_file_priv', '@@global', '@@session']);

/** Per statement keyword after a `;`: what the next word(s) must be for it to be a statement. */
const STATEMENT_NEXT: Readonly<Record<string, ReadonlySet<string> | 'any-sql'>> = {
  drop: new Set(['table', 'database', 'schema', 'view', 'index', 'user', 'procedure', 'proc', 'function', 'trigger', 'sequence', 'login', 'role', 'column', 'if', 'temporary', 'event', 'type']),
  create: new Set(['table', 'database', 'schema', 'view', 'index', 'user', 'procedure', 'proc', 'function', 'trigger', 'login', 'role', 'or', 'temporary', 'event', 'definer', 'algorithm', 'unique', 'temp']),
  alter: new Set(['table', 'database', 'schema', 'view', 'user', 'procedure', 'proc', 'function', 'login', 'role', 'system', 'server']),
  delete: new Set(['from']),
  insert: new Set(['into']),
  replace: new Set(['into']),
  merge: new Set(['into']),
  truncate: new Set(['table']),
  rename: new Set(['table', 'user']),
  load: new Set(['data']),
  backup: new Set(['database', 'log']),
  restore: new Set(['database', 'log']),
  grant: new Set(['all', 'select', 'insert', 'update', 'delete', 'execute', 'usage', 'file', 'super', 'dba', 'connect', 'sysadmin']),
  revoke: new Set(['all', 'select', 'insert', 'update', 'delete', 'execute', 'usage', 'file', 'super', 'dba', 'connect']),
};

type Tok = (k: number) => SqlToken | undefined;

/**
 * Words without which no rule can fire on a value that has no quote-operator pair, no `@@`, no
 * SQL function call and no block comment (the gate below). Kept in step with the rules.
 */
const SQL_WORDS = new RegExp(
  '\\b(?:or|and|xor|not|having|like|rlike|regexp|between|is|in|div|sounds|glob|select|union|intersect|except|minus|when|case|order|group|' +
    'drop|delete|insert|update|create|alter|truncate|exec|execute|declare|shutdown|grant|revoke|replace|merge|rename|call|load|copy|backup|restore|set|' +
    'waitfor|into|procedure|limit|true|false|null)\\b|&&|\\|\\||xp_|sp_|information_schema|sysobjects|syscolumns|sqlite_|pg_|utl_|dbms_|mysql\\.',
);
/** A quote followed by an operator: `'-'`, `'='`, `'+sleep(`, `')=('`. */
const QUOTE_OPERATOR = /['"`]\s*\)*\s*[-+*/%^&|~!<>=#;]/;

/**
 * Whether `lower` can trigger any SQL rule at all, checked cheaply before lexing: most text with
 * an apostrophe, a semicolon or parentheses ("O'Brien", "buy 50; no margin", "(see note)") has
 * no SQL word, no operator after a quote, no `@@`, no call of an SQL function and no `/*`.
 *
 * @example
 * sqlPossible("o'brien"); // false
 * sqlPossible("x' or 1=1"); // true
 */
export function sqlPossible(lower: string): boolean {
  if (SQL_WORDS.test(lower)) return true;
  if (lower.includes('/*') || lower.includes('@@')) return true;
  if ((lower.includes("'") || lower.includes('"') || lower.includes('`')) && QUOTE_OPERATOR.test(lower)) return true;
  let p = lower.indexOf('(');
  while (p !== -1) {
    let e = p;
    while (e > 0 && lower.charCodeAt(e - 1) === 32) e--;
    let b = e;
    while (b > 0 && /[a-z0-9_$]/.test(lower[b - 1]!)) b--;
    if (b < e && SQL_FUNCTIONS.has(lower.slice(b, e))) return true;
    p = lower.indexOf('(', p + 1);
  }
  return false;
}

/**
 * The rule id of the SQL injection `text` (lower-cased by the caller) carries, or undefined.
 *
 * @example
 * detectSqli("admin' or '1'='1"); // 'sqli.tautology'
 * detectSqli('1 union all select null,null--'); // 'sqli.union'
 * detectSqli("o'brien"); // undefined
 */
export function detectSqli(text: string): string | undefined {
  if (!sqlPossible(text)) return undefined;
  const r = analyseAll(text);
  if (r) return r;
  if (text.includes('/*')) {
    const joined = removeBlockComments(text);
    if (joined !== text) return analyseAll(joined);
  }
  return undefined;
}

function analyseAll(text: string): string | undefined {
  const r = analyse(text, 0);
  if (r) return r;
  if (text.includes("'")) {
    const q = analyse(text, 39);
    if (q) return q;
  }
  if (text.includes('"')) {
    const q = analyse(text, 34);
    if (q) return q;
  }
  if (text.includes('`')) return analyse(text, 96);
  return undefined;
}

/** `UN/**\/ION` → `UNION`: block comments (not MySQL `/*!…*\/`) removed; linear. */
function removeBlockComments(s: string): string {
  let out = '';
  let from = 0;
  let i = s.indexOf('/*');
  while (i !== -1) {
    if (s.charCodeAt(i + 2) === 33) {
      i = s.indexOf('/*', i + 2);
      continue;
    }
    const close = s.indexOf('*/', i + 2);
    out += s.slice(from, i);
    if (close === -1) {
      from = s.length;
      break;
    }
    from = close + 2;
    i = s.indexOf('/*', from);
  }
  return out + s.slice(from);
}

function analyse(text: string, ctx: QuoteContext): string | undefined {
  const toks = tokenize(text, ctx);
  if (toks.length < 2 && !(toks.length === 1 && toks[0]!.type === 'v')) return undefined;
  const { fp, idx } = fingerprint(toks);
  const tok: Tok = (k) => {
    const i = idx[k];
    return i === undefined ? undefined : toks[i];
  };
  return (ctx === 0 ? asIsRules(fp, tok, text) : quoteRules(fp, tok, text)) ?? anywhereRules(fp, tok);
}

// ---------------------------------------------------------------------------------------------
// Breakout from a string literal: the fingerprint starts with the closed string `s`.

// An operand: optional unary sign, a literal, identifier or variable, arithmetic on more of them.
const OPD = 'o?[1svnt](?:o[1svnt])*';
// A column list: `1,2`, `users.id`.
const COLS = '[1n](?:\\.n)*(?:,[1n](?:\\.n)*)*';
const Q_LOGIC = new RegExp(`^s\\)*&[!&]*(?:${OPD}\\)*=|o?[1tn]\\)*(?:c|;)|o?[1t]\\)*$|[fF]\\(|\\(|v|s\\)*o[sq]$)`);
const Q_TRUNC = /^s\)*;?c$/;
const Q_ORDER = new RegExp(`^s\\)*B(?:${COLS}(?:c|;|$|&)|\\(*[EF])`);
const Q_HAVING = new RegExp(`^s\\)*(?:B${COLS})?H`);
const Q_OPERATOR = /^s\)*[o=&]\(*[FEv]/;
const Q_EQUALS = /^s\)*=[sq1t]|^s\)*o(?:[1t]o)?[sq]$/;
const Q_COMMA = /^s\)*,\(*E/;
const Q_STATEMENT = /^s\)*K/;

/** What may follow the closed string (and its parentheses) for any quote rule to apply. */
const AFTER_BREAKOUT = new Set(['&', ';', 'c', 'B', 'H', 'o', '=', ',', 'K']);

function quoteRules(fp: string, tok: Tok, text: string): string | undefined {
  if (fp.charCodeAt(0) !== 115) return undefined; // 's'
  let k = 1;
  while (fp[k] === ')') k++;
  // "o'brien" (s n …), "it's" (s n): a string closed and then ordinary words
  if (!AFTER_BREAKOUT.has(fp[k] ?? '')) return undefined;
  if (Q_LOGIC.test(fp)) return 'sqli.tautology';
  if (Q_TRUNC.test(fp) && truncatingComment(tok(fp.length - 1)!, text)) return 'sqli.truncation';
  if (Q_ORDER.test(fp)) return 'sqli.order-by';
  if (Q_HAVING.test(fp)) return 'sqli.having';
  if (Q_OPERATOR.test(fp)) return 'sqli.operator';
  if (Q_EQUALS.test(fp)) return 'sqli.tautology';
  if (Q_COMMA.test(fp) && selectList(fp, tok, fp.indexOf('E'), false)) return 'sqli.subquery';
  const m = Q_STATEMENT.exec(fp);
  if (m && statementAt(fp, tok, m[0].length - 1)) return 'sqli.stacked';
  return undefined;
}

/** `admin'--`, `admin'/*`, `admin'#` (a `#` followed by nothing or by punctuation only). */
function truncatingComment(t: SqlToken, text: string): boolean {
  if (t.type !== 'c') return false;
  if (t.comment !== '#') return true;
  const body = text.slice(t.start + 1, t.end).trim();
  return body === '' || !/^[\p{L}\p{N}]/u.test(body);
}

// ---------------------------------------------------------------------------------------------
// A value pasted as-is: a number or identifier position, or a whole expression.

// What a value pasted as-is may start with before its logic: `1`, `-1`, `@v`, `'s'`, `abc`, `id=1`.
const N_PREFIX = '^(?:n=)?(?:o?[1v]|[snt])?\\)*';
const N_OPD = 'o?[1svt](?:o[1svt])*';
const N_LOGIC = new RegExp(`${N_PREFIX}&[!&]*(?:${N_OPD}\\)*=|o?[1t]\\)*(?:c|;)|F\\(|\\(+(?:${N_OPD}\\)*=|[FE(!])|v)`);
const N_LOGIC_CALL = new RegExp(`${N_PREFIX}&[!&]*f\\(`);
const N_ORDER = new RegExp(`^(?:o?[1vn])?\\)*B${COLS}(?:c|;)|^o?[1v]\\)*B${COLS}&|^o?[1v]\\)*B1(?:,1)*$|^(?:o?[1v])?\\)*B\\(*[EF]`);
const N_HAVING = new RegExp(`^(?:o?[1vn])?\\)*(?:B${COLS})?H[(!]*(?:${N_OPD}\\)*=|[FE])`);
const N_OPERATOR = /^o?[1v]\)*[o=]\(*[FE]/;
const N_COMMA = /^o?[1v]\)*,\(*([EF])/;
const N_SUBQUERY = /^\(+E/;

function asIsRules(fp: string, tok: Tok, _text: string): string | undefined {
  // cheap guards first: most rules need a logic operator, ORDER/GROUP BY, HAVING or a numeric start
  if (fp.includes('&')) {
    if (N_LOGIC.test(fp)) return 'sqli.tautology';
    const call = N_LOGIC_CALL.exec(fp);
    if (call && callHasSql(fp, call[0].length)) return 'sqli.tautology';
  }
  if (fp.includes('B') && N_ORDER.test(fp)) return 'sqli.order-by';
  if (fp.includes('H') && N_HAVING.test(fp)) return 'sqli.having';
  const first = fp[0];
  if (first === '1' || first === 'v' || first === 'o') {
    if (N_OPERATOR.test(fp)) return 'sqli.operator';
    const comma = N_COMMA.exec(fp);
    if (comma) {
      const at = comma[0].length - 1;
      if (comma[1] === 'E' ? selectList(fp, tok, at, false) : COND_FUNCS.has(tok(at)!.word ?? '')) return 'sqli.subquery';
    }
  }
  if (first === '(') {
    const sub = N_SUBQUERY.exec(fp);
    if (sub && selectList(fp, tok, sub[0].length - 1, false)) return 'sqli.subquery';
  }
  if (first === 'E' && selectList(fp, tok, 0, true)) return 'sqli.subquery';
  if (first === '(' || first === 'k' || first === 'F') return conditional(fp, tok);
  return undefined;
}

/** `CASE WHEN 1=1 THEN …` or `IF(1=1,…)` / `IIF(…)` / `ELT(1=1,…)` as the whole value. */
function conditional(fp: string, tok: Tok): string | undefined {
  let k = 0;
  while (fp[k] === '(') k++;
  const t = tok(k);
  if (!t) return undefined;
  if (t.type === 'k' && t.word === 'case' && tok(k + 1)?.word === 'when') {
    for (let j = k + 2; j < Math.min(fp.length, k + 12); j++) {
      const c = fp[j];
      if (c === '=' || c === 'F' || c === 'E') return 'sqli.conditional';
      if (tok(j)?.word === 'then') break;
    }
  }
  // IF(cond, a, b) has its commas; "if (balance < 0) alert the client" is a sentence
  if (t.type === 'F' && COND_FUNCS.has(t.word ?? '') && fp[k + 1] === '(' && callHasSql(fp, k + 2) && callHasComma(fp, k + 2)) return 'sqli.conditional';
  return undefined;
}

/** Whether the call whose arguments start at fingerprint index `from` holds SQL structure. */
function callHasSql(fp: string, from: number): boolean {
  let depth = 1;
  for (let j = from; j < fp.length && depth > 0; j++) {
    const c = fp[j];
    if (c === '(') depth++;
    else if (c === ')') depth--;
    else if (c === '=' || c === 'E' || c === 'F' || c === 'v' || c === 'U') return true;
  }
  return false;
}

/** Whether the call whose arguments start at `from` has more than one argument. */
function callHasComma(fp: string, from: number): boolean {
  let depth = 1;
  for (let j = from; j < fp.length && depth > 0; j++) {
    const c = fp[j];
    if (c === '(') depth++;
    else if (c === ')') depth--;
    else if (c === ',' && depth === 1) return true;
  }
  return false;
}

/**
 * Whether the `E` (SELECT) at fingerprint index `e` starts a select list. Weak: anything a
 * payload selects (a literal, a function, `*`, a variable, a column list). Strong (a value that
 * is a bare statement): a function, a variable, NULL/TRUE, a nested select, `*` FROM, or a
 * literal list, so that "Select 2 funds from the list" stays text.
 */
function selectList(fp: string, tok: Tok, e: number, strong: boolean): boolean {
  if (fp[e] !== 'E') return false;
  let k = e + 1;
  // SELECT ALL / DISTINCT / TOP n
  while (fp[k] === 'k' && /^(?:all|distinct|distinctrow|top)$/.test(tok(k)?.word ?? '')) k++;
  const c = fp[k];
  const next = fp[k + 1];
  if (c === undefined) return !strong;
  if (c === 'F' || c === 'v' || c === 't') return true;
  if (c === '(') return strong ? next === 'E' || next === 'F' : true;
  if (c === 'o' && tok(k)?.word === '*') return strong ? next === 'k' && tok(k + 1)?.word === 'from' : true;
  if (c === '1' || c === 's') return strong ? next === ',' || next === 'c' || next === ';' : true;
  if (strong) return false;
  if (c === 'f' || c === 'q') return true;
  if (c === 'n') return next === undefined || next === ',' || next === 'k' || next === 'c' || next === ';' || (next === '.' && fp[k + 2] === 'n');
  return false;
}

// ---------------------------------------------------------------------------------------------
// Anywhere in the stream, whatever the context.

function anywhereRules(fp: string, tok: Tok): string | undefined {
  for (let k = 0; k < fp.length; k++) {
    const c = fp[k];
    const t = tok(k)!;
    switch (c) {
      case 'U': {
        // UNION [ALL|DISTINCT] [(] SELECT …
        let j = k + 1;
        if (fp[j] === 'k' && /^(?:all|distinct|distinctrow)$/.test(tok(j)?.word ?? '')) j++;
        while (fp[j] === '(') j++;
        if (fp[j] === 'E' && selectList(fp, tok, j, false)) return 'sqli.union';
        break;
      }
      case ';': {
        if (statementAt(fp, tok, k + 1)) return 'sqli.stacked';
        const n = fp[k + 1];
        // `; select name from …`, `;select 1`; not "…; select account" (one word, then the end)
        if (n === 'E' && selectList(fp, tok, k + 1, false) && !(fp[k + 2] === 'n' && fp.length === k + 3)) return 'sqli.stacked';
        if (n === 'k' && tok(k + 1)?.word === 'set' && fp[k + 2] === 'v') return 'sqli.stacked';
        break;
      }
      case 'W': {
        const w = tok(k + 1)?.word;
        if (w === 'delay' || w === 'time') return 'sqli.time';
        break;
      }
      case 'F': {
        const w = t.word ?? '';
        if (TIME_CALLS.has(w)) return 'sqli.time';
        // sleep(5), sleep(0x5), sleep(1*5), sleep(@x), sleep((select …)); not "sleep(8 hours)"
        if (w === 'sleep' && /^\((?:[1v](?:o[1v])*\)|[(Fo])/.test(fp.slice(k + 1, k + 12))) return 'sqli.time';
        if (DANGER_CALLS.has(w)) return 'sqli.dangerous-function';
        if ((w === 'char' || w === 'chr' || w === 'nchar') && /^\(1(?:,1)*\)(?:[o&]|\)?,)F/.test(fp.slice(k + 1, k + 40))) return 'sqli.obfuscation';
        if (DANGER_WORDS.has(w)) return 'sqli.dangerous-function';
        break;
      }
      case 'n':
      case 'f':
        if (DANGER_WORDS.has(t.word ?? '')) return 'sqli.dangerous-function';
        break;
      case 'v':
        if (SYSTEM_VARS.has(t.word ?? '')) return 'sqli.system-variable';
        break;
      case 'k':
        if (t.word === 'into' && /^(?:outfile|dumpfile)$/.test(tok(k + 1)?.word ?? '')) return 'sqli.into-outfile';
        if (t.word === 'procedure' && tok(k + 1)?.word === 'analyse') return 'sqli.dangerous-function';
        break;
    }
  }
  return undefined;
}

/** Whether a statement starts at fingerprint index `k` (after `;` or a string breakout). */
function statementAt(fp: string, tok: Tok, k: number): boolean {
  const t = tok(k);
  if (!t) return false;
  if (t.type === 'W') return true;
  if (t.type !== 'K') return false;
  const w = t.word ?? '';
  const next = tok(k + 1);
  const nw = next?.word ?? '';
  switch (w) {
    case 'update':
      return next?.type === 'n' && tok(k + 2)?.word === 'set';
    case 'exec':
    case 'execute':
      return next !== undefined && (next.type === 's' || next.type === 'v' || next.type === '(' || /^(?:xp_|sp_|master|sys|immediate|dbo)/.test(nw));
    case 'declare':
      return next?.type === 'v';
    case 'shutdown':
      return next === undefined || next.type === 'c' || next.type === ';' || nw === 'with';
    case 'call':
      return next?.type === 'f' || next?.type === 'F' || (next?.type === 'n' && fp[k + 2] === '(');
    case 'copy':
      for (let j = k + 1; j < Math.min(fp.length, k + 10); j++) if (tok(j)?.word === 'program' || ((tok(j)?.word === 'to' || tok(j)?.word === 'from') && fp[j + 1] === 's')) return true;
      return false;
    default: {
      const set = STATEMENT_NEXT[w];
      return set !== undefined && set !== 'any-sql' && set.has(nw);
    }
  }
}
