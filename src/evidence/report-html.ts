/**
 * The human-readable half of an evidence package (R17a4-8: "in both a human readable format and
 * in a reasonably usable electronic format"; R17a4-10: legible copies for SEC, SRO or state
 * staff): one self-contained HTML5 page an examiner opens offline in any browser.
 *
 * Guarantees:
 * - Inert: no script, no external resource, a Content-Security-Policy of `default-src 'none';
 *   style-src 'unsafe-inline'` in the page itself, and every interpolated value escaped by
 *   construction: the `html` template tag escapes each value (& < > " ') unless it is markup the
 *   module built. No value is ever placed in an attribute, a style or a URL. Values in the ledger
 *   come from clients (routes, principals, reasons), so they are treated as hostile.
 * - Honest: control, bidirectional and invisible characters (U+202E and friends) are shown as
 *   visible `\u202E` escapes, so a value cannot reorder or hide what the examiner reads
 *   (ASVS 7.3.1, log injection).
 * - Readable: long cells and long record tables are cut with a note saying how much is shown and
 *   where the complete data is (records.jsonl / records.csv); it works by keyboard (skip link,
 *   contents list, focusable scroll regions, visible focus), tables have captions and header
 *   scopes, and status is given in words, not only colour.
 */

/** A time: an ISO 8601 UTC string as stored, or epoch milliseconds (rendered as ISO 8601 UTC). */
export type ReportTime = string | number;

/** What was exported, by whom and when. */
export interface ReportScope {
  /** Start of the exported time range (inclusive). */
  from: ReportTime;
  /** End of the exported time range (exclusive). */
  to: ReportTime;
  /** Filters applied beyond the time range, e.g. { name: 'principal', value: 'key_123' }; empty for none. */
  filters: readonly { name: string; value: string }[];
  /** The authenticated identity that ran the export. */
  exportedBy: string;
  /** When the export ran. */
  exportedAt: ReportTime;
  /** Number of ledger records in scope (all of them are in records.jsonl / records.csv). */
  recordCount: number;
  /** Why it was exported, as the operator entered it (e.g. an examination request number). */
  purpose?: string;
  /** The gateway instance or chain the records come from. */
  chain?: string;
}

/** The outcome of verifying the exported records before packaging them. */
export interface ReportVerification {
  /** True when the hash chain over the exported range is intact. */
  chainOk: boolean;
  /** Records whose chain link and content hash were checked. */
  recordsChecked: number;
  /** The first record (seq) that failed, when chainOk is false. */
  firstBadSeq?: number | null;
  /** What failed, in words, when chainOk is false. */
  problem?: string | null;
  /** Signed checkpoints whose Ed25519 signature and tree head checked out. */
  checkpointsVerified: number;
  /** Signed checkpoints covering the range. */
  checkpointsTotal: number;
  /** Heads published outside the store (file, webhook, sink) that matched the chain. */
  publishedHeadsMatched: number;
  /** Published heads available for comparison. */
  publishedHeadsTotal: number;
  /** When the verification ran. */
  verifiedAt: ReportTime;
}

/** One signed checkpoint (C2SP signed-note checkpoint, RFC 9162 tree head). */
export interface ReportCheckpoint {
  /** Tree size: the number of records the checkpoint commits to. */
  treeSize: number;
  /** Root hash (hex or base64, as the checkpoint states it). */
  rootHash: string;
  /** When it was signed. */
  time: ReportTime;
  /** The signing key's name (and key id). */
  signer: string;
  /** True when the signature verified with the public key. */
  signatureOk: boolean;
  /** True/false when compared with a published head; null or absent when none was published. */
  publishedMatch?: boolean | null;
}

/** The records table: columns and rows already turned into strings by the caller. */
export interface ReportRecords {
  /** Column headings, e.g. seq, time (UTC), type, operation, method, route, status, outcome,
   *  reason, principal, subject, object ids. The first column is the row header (seq). */
  columns: readonly string[];
  /** Rows in ledger order; each has one string per column. More than maxRecordRows is cut. */
  rows: readonly (readonly string[])[];
  /** Records in the export when `rows` is already a subset (default rows.length). */
  total?: number;
  /** The package files holding every record (default records.jsonl and records.csv). */
  files?: readonly string[];
}

/** A legal hold that applies to records in scope (they are kept past their retention). */
export interface ReportLegalHold {
  id: string;
  /** What the hold covers, in words. */
  scope: string;
  reason: string;
  placedBy: string;
  placedAt: ReportTime;
  releasedBy?: string | null;
  releasedAt?: ReportTime | null;
}

/** A purge that removed records next to or inside the range (R17a4-1: purge only after expiry, logged). */
export interface ReportPurgeReceipt {
  /** The ledger record (seq) of the purge. */
  seq: number;
  /** What was purged: a day or range of days. */
  period: string;
  /** The retention class purged. */
  recordClass: string;
  /** How many records were removed. */
  records: number;
  purgedBy: string;
  purgedAt: ReportTime;
  /** Root hash of the signed prune checkpoint that lets verification continue, if any. */
  pruneCheckpoint?: string | null;
}

/** A configuration version in force during the range. */
export interface ReportConfigVersion {
  version: string | number;
  /** SHA-256 of the applied configuration. */
  hash: string;
  appliedBy: string;
  appliedAt: ReportTime;
  /** Approvers other than the author (empty when none were required). */
  approvers: readonly string[];
}

/** Everything the report shows. Plain data; the renderer does no I/O. */
export interface ReportData {
  /** Page heading (default "Rampart evidence export"). */
  title?: string;
  scope: ReportScope;
  verification: ReportVerification;
  checkpoints: readonly ReportCheckpoint[];
  records: ReportRecords;
  legalHolds: readonly ReportLegalHold[];
  purgeReceipts: readonly ReportPurgeReceipt[];
  configVersions: readonly ReportConfigVersion[];
  /** The package's file name, for the verify command (default FILE). */
  packageFile?: string;
  /** The public key's file name, for the verify command (default KEY). */
  publicKeyFile?: string;
  /** Rows of the records table shown at most (default 500). */
  maxRecordRows?: number;
  /** Software and version that produced the package, e.g. "Rampart 0.1.0". */
  generator?: string;
}

// ---------------------------------------------------------------------------------------------
// Escaping

/** Markup the module built itself; anything else interpolated into `html` is escaped. */
class Html {
  constructor(readonly markup: string) {}
}

const ENTITIES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };
// Characters that would act on the display rather than show: C0/C1 controls and DEL, soft
// hyphen, Arabic letter mark, Mongolian vowel separator, zero-width and direction marks, line and
// paragraph separators, embeddings and overrides (U+202A-U+202E), invisible operators, isolates
// (U+2066-U+2069), deprecated format characters, BOM, interlinear annotations, tag characters,
// and lone surrogates.
const SPECIAL =
  // eslint-disable-next-line no-control-regex, security/detect-unsafe-regex -- controls are what it finds; no quantifier at all: one character class per match (the rule misreads the \u{...} escapes)
  /[&<>"']|[\u0000-\u001f\u007f-\u009f\u00ad\u061c\u180e\u200b-\u200f\u2028-\u202e\u2060-\u2064\u2066-\u206f\ufeff\ufff9-\ufffb\u{e0000}-\u{e007f}]|\p{Cs}/gu;

function visibleEscape(c: string): string {
  const cp = c.codePointAt(0)!;
  return cp > 0xffff ? `\\u{${cp.toString(16).toUpperCase()}}` : `\\u${cp.toString(16).toUpperCase().padStart(4, '0')}`;
}

/**
 * Escapes text for HTML element content and quoted attribute values alike (& < > " ').
 * Control, bidirectional and invisible characters become visible escapes such as `\u202E`,
 * marked up so they stand out (`marked: false` gives plain text, e.g. for <title>).
 *
 * @example
 * escapeHtml('<b>"x"</b>\u202E') // '&lt;b&gt;&quot;x&quot;&lt;/b&gt;<span class="ctl">\\u202E</span>'
 */
export function escapeHtml(s: string, options: { marked?: boolean } = {}): string {
  const marked = options.marked !== false;
  return s.replace(SPECIAL, (c) => {
    const entity = ENTITIES[c];
    if (entity !== undefined) return entity;
    return marked ? `<span class="ctl">${visibleEscape(c)}</span>` : visibleEscape(c);
  });
}

type Value = Html | string | number | boolean | null | undefined | readonly Value[];

function render(v: Value): string {
  if (v instanceof Html) return v.markup;
  if (Array.isArray(v)) return (v as readonly Value[]).map(render).join('');
  if (v === null || v === undefined) return '';
  return escapeHtml(String(v));
}

/** The template tag: every interpolation is escaped unless it is an Html value. */
function html(strings: TemplateStringsArray, ...values: Value[]): Html {
  let out = strings[0]!;
  for (let i = 0; i < values.length; i++) out += render(values[i]!) + strings[i + 1]!;
  return new Html(out);
}

/** Long text cut to `max` code points, with a note saying how much was left out. */
function clip(s: string, max: number, where: string): Html {
  const cps = Array.from(s);
  if (cps.length <= max) return html`${s}`;
  return html`${cps.slice(0, max).join('')}<span class="more">… (${cps.length - max} more characters${where})</span>`;
}

/** A file name as one POSIX shell word, so the command shown can be pasted as it is. */
function shellWord(s: string): string {
  return /^[A-Za-z0-9._/@%+=:,-]+$/.test(s) ? s : `'${s.replaceAll("'", `'\\''`)}'`;
}

function time(t: ReportTime | null | undefined): string {
  if (t === null || t === undefined) return '';
  if (typeof t === 'number') {
    const d = new Date(t);
    return Number.isNaN(d.getTime()) ? `(invalid time ${t})` : d.toISOString();
  }
  return t;
}

// ---------------------------------------------------------------------------------------------
// Page

const MAX_CELL = 300;
const MAX_TEXT = 2000;
const DEFAULT_ROWS = 500;

const CSS = `
:root{color-scheme:light;--fg:#1a1a1a;--muted:#555;--line:#c8c8c8;--zebra:#f4f5f7;--ok:#0b6b2e;--bad:#a4161a;--warn:#7a4b00;--focus:#1a56db}
*{box-sizing:border-box}
body{margin:0;font:16px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif;color:var(--fg);background:#fff}
.skip{position:absolute;left:-9999px;top:0;background:#fff;padding:.5rem 1rem;border:2px solid var(--focus)}
.skip:focus{left:1rem;top:1rem;z-index:1}
a{color:var(--focus)}
a:focus-visible,[tabindex]:focus-visible{outline:3px solid var(--focus);outline-offset:2px}
header,main,footer{max-width:80rem;margin:0 auto;padding:0 1.5rem}
header{padding-top:1.5rem}
h1{font-size:1.6rem;margin:.2rem 0}
h2{font-size:1.25rem;margin:2rem 0 .5rem;padding-top:.5rem;border-top:1px solid var(--line)}
nav ol{display:flex;flex-wrap:wrap;gap:.25rem 1.25rem;padding-left:1.2rem;margin:.5rem 0}
dl.facts{display:grid;grid-template-columns:max-content 1fr;gap:.25rem 1rem;margin:.5rem 0}
dl.facts dt{font-weight:600}
dl.facts dd{margin:0;overflow-wrap:anywhere}
.status{border:2px solid var(--line);border-left-width:8px;padding:.75rem 1rem;margin:.75rem 0}
.status.pass{border-color:var(--ok)}
.status.fail{border-color:var(--bad)}
.status.warn{border-color:var(--warn)}
.word{font-weight:700;letter-spacing:.03em}
.pass .word,.word.pass{color:var(--ok)}
.fail .word,.word.fail{color:var(--bad)}
.warn .word,.word.warn{color:var(--warn)}
.table-wrap{overflow-x:auto;border:1px solid var(--line);margin:.5rem 0 1rem}
table{border-collapse:collapse;width:100%;font-size:.875rem}
caption{text-align:left;font-weight:600;padding:.5rem .6rem;caption-side:top}
th,td{border-top:1px solid var(--line);padding:.35rem .6rem;text-align:left;vertical-align:top;overflow-wrap:anywhere;min-width:4rem}
thead th{background:#e9ecf1;white-space:nowrap}
tbody tr:nth-child(even){background:var(--zebra)}
td.num,th.num{text-align:right;font-variant-numeric:tabular-nums}
code,pre,.mono{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:.875em}
pre{background:var(--zebra);border:1px solid var(--line);padding:.75rem;overflow-x:auto;white-space:pre-wrap}
.ctl{font-family:ui-monospace,Menlo,Consolas,monospace;background:#fff3b0;border:1px solid #b58a00;border-radius:2px;padding:0 .15em;color:#5a3d00}
.more,.note{color:var(--muted)}
.note{font-style:italic}
footer{margin:2rem auto;color:var(--muted);font-size:.875rem}
@media print{.skip,nav{display:none}.table-wrap{overflow:visible;border:0}thead{display:table-header-group}tr{break-inside:avoid}a{color:inherit}}
`;

type Column<T> = { head: string; num?: boolean; cell: (row: T) => Value };

/** A table with a caption, column headers (scope=col), the first cell as row header (scope=row). */
function table<T>(id: string, caption: string, columns: readonly Column<T>[], rows: readonly T[]): Html {
  const head = columns.map((c) => html`<th scope="col"${c.num ? new Html(' class="num"') : ''}>${c.head}</th>`);
  const body = rows.map(
    (r) =>
      html`<tr>${columns.map((c, i) => {
        const cls = c.num ? new Html(' class="num"') : '';
        return i === 0 ? html`<th scope="row"${cls}>${c.cell(r)}</th>` : html`<td${cls}>${c.cell(r)}</td>`;
      })}</tr>\n`,
  );
  return html`<div class="table-wrap" role="region" aria-labelledby="${new Html(id)}" tabindex="0"><table>
<caption id="${new Html(id)}">${caption}</caption>
<thead><tr>${head}</tr></thead>
<tbody>
${body}</tbody></table></div>`;
}

const count = (n: number, noun: string) => `${n} ${noun}${n === 1 ? '' : 's'}`;
const none = (what: string) => html`<p class="note">No ${what} in this export.</p>`;
const text = (s: string | null | undefined) => clip(s ?? '', MAX_TEXT, '');
const yesNo = (ok: boolean, yes: string, no: string) => html`<span class="word ${new Html(ok ? 'pass' : 'fail')}">${ok ? yes : no}</span>`;

function verificationSection(v: ReportVerification): Html {
  const chain = v.chainOk
    ? html`<div class="status pass"><p><span class="word">PASS</span> — hash chain intact: ${v.recordsChecked} records checked.</p></div>`
    : html`<div class="status fail"><p><span class="word">FAIL</span> — hash chain broken${
        v.firstBadSeq === null || v.firstBadSeq === undefined ? '' : html` at record seq <strong>${v.firstBadSeq}</strong>`
      } (${v.recordsChecked} records checked).${v.problem ? html` ${text(v.problem)}` : ''}</p></div>`;
  const cpOk = v.checkpointsTotal > 0 && v.checkpointsVerified === v.checkpointsTotal;
  const cp = html`<div class="status ${new Html(cpOk ? 'pass' : v.checkpointsTotal === 0 ? 'warn' : 'fail')}"><p><span class="word">${
    cpOk ? 'PASS' : v.checkpointsTotal === 0 ? 'NOT CHECKED' : 'FAIL'
  }</span> — signed checkpoints: ${v.checkpointsVerified} of ${v.checkpointsTotal} verified.</p></div>`;
  const phOk = v.publishedHeadsTotal > 0 && v.publishedHeadsMatched === v.publishedHeadsTotal;
  const ph = html`<div class="status ${new Html(phOk ? 'pass' : v.publishedHeadsTotal === 0 ? 'warn' : 'fail')}"><p><span class="word">${
    phOk ? 'PASS' : v.publishedHeadsTotal === 0 ? 'NOT CHECKED' : 'FAIL'
  }</span> — heads published outside the store: ${
    v.publishedHeadsTotal === 0 ? 'none were available to compare' : html`${v.publishedHeadsMatched} of ${v.publishedHeadsTotal} matched`
  }.</p></div>`;
  return html`<section aria-labelledby="verification"><h2 id="verification">Verification summary</h2>
<p>Verified at ${time(v.verifiedAt)} (UTC), before packaging. Run the check again yourself as described under <a href="#verify">How to verify this package</a>.</p>
${chain}${cp}${ph}</section>`;
}

function recordsSection(r: ReportRecords, maxRows: number): Html {
  const total = r.total ?? r.rows.length;
  const files = r.files ?? ['records.jsonl', 'records.csv'];
  const fileList = files.map((f, i) => html`${i === 0 ? '' : i === files.length - 1 ? ' and ' : ', '}<code>${f}</code>`);
  const shown = r.rows.slice(0, maxRows);
  if (r.columns.length === 0 && shown.length > 0) badRows();
  for (const row of shown) if (row.length !== r.columns.length) badRows(row.length, r.columns.length);
  const cut = shown.length < total;
  const note = cut
    ? html`<p class="status warn"><span class="word">PARTIAL</span> — showing the first ${shown.length} of ${total} records. Every record is in ${fileList} in this package.</p>`
    : html`<p>All ${total} records are shown. They are also in ${fileList} in this package (searchable and sortable).</p>`;
  const cols: Column<readonly string[]>[] = r.columns.map((head, i) => ({ head, cell: (row) => clip(row[i] ?? '', MAX_CELL, '; the full value is in the records files') }));
  const body = total === 0 ? none('records') : table('records-caption', `Ledger records${cut ? ` (first ${shown.length} of ${total})` : ''}`, cols, shown);
  return html`<section aria-labelledby="records"><h2 id="records">Records</h2>
${note}${body}</section>`;
}

function badRows(got?: number, want?: number): never {
  throw new TypeError(got === undefined ? 'renderReport: records.columns is empty' : `renderReport: a record row has ${got} cells, the columns ${want}`);
}

/**
 * Renders the examiner's report as one self-contained HTML5 page (see the module comment).
 * Throws TypeError if a record row does not match the columns.
 *
 * @example
 * const page = renderReport({ scope, verification, checkpoints, records: { columns, rows },
 *   legalHolds: [], purgeReceipts: [], configVersions: [], packageFile: 'evidence.tar.gz' });
 * await tar.add('report.html', page);
 */
export function renderReport(data: ReportData): string {
  const title = data.title ?? 'Rampart evidence export';
  const s = data.scope;
  const maxRows = data.maxRecordRows ?? DEFAULT_ROWS;
  if (!Number.isSafeInteger(maxRows) || maxRows < 0) throw new TypeError('renderReport: maxRecordRows must be a non-negative integer');

  const filters = s.filters.length === 0 ? 'none' : html`<ul>${s.filters.map((f) => html`<li><span class="mono">${f.name}</span> = ${text(f.value)}</li>`)}</ul>`;
  const scope = html`<section aria-labelledby="scope"><h2 id="scope">Scope of this export</h2>
<dl class="facts">
<dt>Time range (UTC)</dt><dd>${time(s.from)} to ${time(s.to)}</dd>
<dt>Filters</dt><dd>${filters}</dd>
<dt>Records in scope</dt><dd>${s.recordCount}</dd>
${s.chain === undefined ? '' : html`<dt>Chain</dt><dd>${text(s.chain)}</dd>\n`}<dt>Exported by</dt><dd>${text(s.exportedBy)}</dd>
<dt>Exported at (UTC)</dt><dd>${time(s.exportedAt)}</dd>
${s.purpose === undefined ? '' : html`<dt>Purpose</dt><dd>${text(s.purpose)}</dd>\n`}</dl></section>`;

  const checkpoints = html`<section aria-labelledby="checkpoints"><h2 id="checkpoints">Signed checkpoints</h2>
${
  data.checkpoints.length === 0
    ? none('signed checkpoints')
    : table<ReportCheckpoint>(
        'checkpoints-caption',
        `${count(data.checkpoints.length, 'signed checkpoint')} (C2SP signed note, Ed25519; RFC 9162 tree heads)`,
        [
          { head: 'Tree size', num: true, cell: (c) => c.treeSize },
          { head: 'Signed at (UTC)', cell: (c) => time(c.time) },
          { head: 'Root hash', cell: (c) => html`<span class="mono">${clip(c.rootHash, MAX_CELL, '')}</span>` },
          { head: 'Signer', cell: (c) => clip(c.signer, MAX_CELL, '') },
          { head: 'Signature', cell: (c) => yesNo(c.signatureOk, 'verified', 'INVALID') },
          {
            head: 'Published head',
            cell: (c) => (c.publishedMatch === null || c.publishedMatch === undefined ? 'not published' : yesNo(c.publishedMatch, 'matches', 'DIFFERS')),
          },
        ],
        data.checkpoints,
      )
}</section>`;

  const holds = html`<section aria-labelledby="holds"><h2 id="holds">Legal holds</h2>
${
  data.legalHolds.length === 0
    ? none('legal holds')
    : table<ReportLegalHold>(
        'holds-caption',
        count(data.legalHolds.length, 'legal hold'),
        [
          { head: 'Hold', cell: (h) => clip(h.id, MAX_CELL, '') },
          { head: 'Covers', cell: (h) => text(h.scope) },
          { head: 'Reason', cell: (h) => text(h.reason) },
          { head: 'Placed by', cell: (h) => clip(h.placedBy, MAX_CELL, '') },
          { head: 'Placed at (UTC)', cell: (h) => time(h.placedAt) },
          { head: 'Released', cell: (h) => (h.releasedAt === null || h.releasedAt === undefined ? 'in force' : html`${time(h.releasedAt)} by ${clip(h.releasedBy ?? 'unknown', MAX_CELL, '')}`) },
        ],
        data.legalHolds,
      )
}</section>`;

  const purges = html`<section aria-labelledby="purges"><h2 id="purges">Purge receipts</h2>
${
  data.purgeReceipts.length === 0
    ? none('purge receipts')
    : table<ReportPurgeReceipt>(
        'purges-caption',
        count(data.purgeReceipts.length, 'purge receipt'),
        [
          { head: 'Seq', num: true, cell: (p) => p.seq },
          { head: 'Period', cell: (p) => clip(p.period, MAX_CELL, '') },
          { head: 'Record class', cell: (p) => clip(p.recordClass, MAX_CELL, '') },
          { head: 'Records removed', num: true, cell: (p) => p.records },
          { head: 'Purged by', cell: (p) => clip(p.purgedBy, MAX_CELL, '') },
          { head: 'Purged at (UTC)', cell: (p) => time(p.purgedAt) },
          { head: 'Prune checkpoint', cell: (p) => html`<span class="mono">${clip(p.pruneCheckpoint ?? '', MAX_CELL, '')}</span>` },
        ],
        data.purgeReceipts,
      )
}</section>`;

  const configs = html`<section aria-labelledby="configs"><h2 id="configs">Configuration versions</h2>
${
  data.configVersions.length === 0
    ? none('configuration versions')
    : table<ReportConfigVersion>(
        'configs-caption',
        `${count(data.configVersions.length, 'configuration version')} in force during the range`,
        [
          { head: 'Version', cell: (c) => clip(String(c.version), MAX_CELL, '') },
          { head: 'SHA-256', cell: (c) => html`<span class="mono">${clip(c.hash, MAX_CELL, '')}</span>` },
          { head: 'Applied by', cell: (c) => clip(c.appliedBy, MAX_CELL, '') },
          { head: 'Applied at (UTC)', cell: (c) => time(c.appliedAt) },
          { head: 'Approvers', cell: (c) => (c.approvers.length === 0 ? 'none' : clip(c.approvers.join(', '), MAX_TEXT, '')) },
        ],
        data.configVersions,
      )
}</section>`;

  const file = shellWord(data.packageFile ?? 'FILE');
  const key = shellWord(data.publicKeyFile ?? 'KEY');
  const verify = html`<section aria-labelledby="verify"><h2 id="verify">How to verify this package</h2>
<p>With Rampart installed, offline, using only the gateway's public key:</p>
<pre><code>rampart evidence verify ${file} --public-key ${key}</code></pre>
<p>It prints one line per problem (a file missing, extra, or with another size or SHA-256) and checks the hash chain and signed checkpoints again. By hand, the same checks are:</p>
<ol>
<li><code>manifest.sig</code> is a C2SP signed note; verify its Ed25519 signature with the public key. Its text is <code>rampart-evidence/1</code> followed by <code>sha256</code> and a digest.</li>
<li>That digest must equal the SHA-256 of <code>manifest.json</code> exactly as stored (for example <code>sha256sum manifest.json</code>).</li>
<li>Every file listed in <code>manifest.json</code> must be present with the listed size and SHA-256, and no other file may be present besides <code>manifest.json</code> and <code>manifest.sig</code>. This page is one of the listed files.</li>
<li>The records in <code>records.jsonl</code> form a hash chain (RFC 9162 leaf and node hashes); the signed checkpoints commit to its tree heads.</li>
</ol></section>`;

  const legend = html`<p class="note">Times are UTC (ISO 8601). Characters that could hide or reorder text (controls, direction overrides, invisible characters) are shown as escapes such as <span class="ctl">\\u202E</span>.</p>`;
  const toc: [string, string][] = [
    ['scope', 'Scope'],
    ['verification', 'Verification summary'],
    ['checkpoints', 'Signed checkpoints'],
    ['records', 'Records'],
    ['holds', 'Legal holds'],
    ['purges', 'Purge receipts'],
    ['configs', 'Configuration versions'],
    ['verify', 'How to verify'],
  ];
  const pageTitle = `${title} — ${time(s.from)} to ${time(s.to)}`;
  const page = html`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">
<meta name="referrer" content="no-referrer">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${new Html(escapeHtml(pageTitle, { marked: false }))}</title>
<style>${new Html(CSS)}</style>
</head>
<body>
<a class="skip" href="#main">Skip to content</a>
<header>
<h1>${clip(title, MAX_CELL, '')}</h1>
<p>Exported ${time(s.exportedAt)} by ${clip(s.exportedBy, MAX_CELL, '')}: records from ${time(s.from)} to ${time(s.to)} (UTC).</p>
<nav aria-label="Contents"><ol>${toc.map(([id, label]) => html`<li><a href="#${new Html(id)}">${label}</a></li>`)}</ol></nav>
</header>
<main id="main" tabindex="-1">
${legend}
${scope}
${verificationSection(data.verification)}
${checkpoints}
${recordsSection(data.records, maxRows)}
${holds}
${purges}
${configs}
${verify}
</main>
<footer><p>${data.generator === undefined ? 'Generated by Rampart' : html`Generated by ${clip(data.generator, MAX_CELL, '')}`}. This page contains no scripts and loads nothing from the network.</p></footer>
</body>
</html>
`;
  return page.markup;
}
