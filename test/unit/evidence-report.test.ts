/**
 * The examiner's HTML report: every value from the ledger is hostile until escaped. The page is
 * rendered with attacker-controlled strings in every field, then scanned tag by tag: only the
 * module's own elements and attributes may appear, none with an event handler or a URL other
 * than an in-page anchor, and the hostile strings must show up escaped (U+202E and other
 * invisible characters as visible \uXXXX). Truncation of long tables and cells, the verification
 * summary and the keyboard affordances are checked on the same output.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { escapeHtml, renderReport, type ReportData } from '../../src/evidence/report-html.js';

const HOSTILE = [
  '<script>alert(1)</script>',
  '"><img src=x onerror=alert(1)>',
  "'><svg onload=alert(1)>",
  'javascript:alert(document.cookie)',
  '</style><script>alert(2)</script>',
  '</title><script>alert(3)</script>',
  'evil\u202Etxt.exe',
  'ansi\u001b[31mred\u0007',
  'nul\u0000byte',
  'iso\u2066late\u2069',
  'zw\u200bsp',
  '<!-- comment',
  ']]><![CDATA[',
  '&amp; already &lt;escaped&gt;',
];
const H = (i: number) => HOSTILE[i % HOSTILE.length]!;

const COLUMNS = ['seq', 'time (UTC)', 'type', 'operation', 'method', 'route', 'status', 'outcome', 'reason', 'principal', 'subject', 'object ids'];

function rows(n: number, hostile = true): string[][] {
  return Array.from({ length: n }, (_, i) => [
    String(i + 1),
    new Date(Date.UTC(2026, 0, 1) + i * 1000).toISOString(),
    'exchange.decision',
    hostile ? H(i) : 'getAccount',
    'GET',
    hostile ? `/accounts/${H(i + 1)}` : '/accounts/{id}',
    '403',
    'deny',
    hostile ? H(i + 2) : 'RAMPART_OBJECT_FORBIDDEN',
    hostile ? H(i + 3) : 'key_abc',
    hostile ? H(i + 4) : 'cust-1',
    hostile ? H(i + 5) : 'acct-9',
  ]);
}

function data(over: Partial<ReportData> = {}): ReportData {
  return {
    title: `Evidence ${H(0)}`,
    scope: {
      from: '2026-01-01T00:00:00.000Z',
      to: Date.UTC(2026, 1, 1),
      filters: HOSTILE.map((v, i) => ({ name: `f${i}${i === 0 ? H(1) : ''}`, value: v })),
      exportedBy: H(1),
      exportedAt: '2026-02-02T10:00:00.000Z',
      recordCount: 20,
      purpose: H(6),
      chain: H(4),
    },
    verification: { chainOk: false, recordsChecked: 20, firstBadSeq: 17, problem: H(0), checkpointsVerified: 2, checkpointsTotal: 3, publishedHeadsMatched: 0, publishedHeadsTotal: 0, verifiedAt: Date.UTC(2026, 1, 2, 9) },
    checkpoints: [
      { treeSize: 10, rootHash: 'ab'.repeat(32), time: '2026-01-15T00:00:00Z', signer: H(2), signatureOk: true, publishedMatch: true },
      { treeSize: 20, rootHash: H(0), time: Date.UTC(2026, 0, 31), signer: 'rampart.example/ledger+1a2b3c4d', signatureOk: false, publishedMatch: false },
      { treeSize: 30, rootHash: 'cd'.repeat(32), time: '2026-02-01T00:00:00Z', signer: 'rampart.example/ledger+1a2b3c4d', signatureOk: true },
    ],
    records: { columns: COLUMNS, rows: rows(20) },
    legalHolds: [{ id: H(3), scope: H(5), reason: H(6), placedBy: H(1), placedAt: '2026-01-10T00:00:00Z', releasedBy: H(0), releasedAt: '2026-01-20T00:00:00Z' }],
    purgeReceipts: [{ seq: 5, period: H(7), recordClass: '17a-4(b)', records: 1234, purgedBy: H(8), purgedAt: '2026-01-05T00:00:00Z', pruneCheckpoint: H(0) }],
    configVersions: [{ version: H(2), hash: 'ef'.repeat(32), appliedBy: H(4), appliedAt: '2026-01-01T00:00:00Z', approvers: [H(0), H(1)] }],
    packageFile: `evidence ${H(1)}.tar.gz`,
    publicKeyFile: H(3),
    generator: `Rampart ${H(0)}`,
    ...over,
  };
}

const ALLOWED_TAGS = new Set('html head meta title style body a header h1 h2 p nav ol ul li main section dl dt dd div table caption thead tbody tr th td pre code span strong footer'.split(' '));
const ALLOWED_ATTRS = new Set(['lang', 'charset', 'http-equiv', 'content', 'name', 'class', 'id', 'href', 'scope', 'role', 'aria-labelledby', 'aria-label', 'tabindex']);

interface Tag {
  name: string;
  attrs: [string, string][];
}

/**
 * Every markup token of the page. After escaping, '<' only ever starts the module's own markup,
 * so walking from '<' to '>' (with quoted attribute values) finds every real tag; a '<' that
 * does not start a well-formed tag fails the test.
 */
function scanTags(page: string): Tag[] {
  const tags: Tag[] = [];
  const body = page.replace(/^<!DOCTYPE html>\n/, '');
  const style = /<style>[\s\S]*?<\/style>/.exec(body);
  const text = style ? body.replace(style[0], '<style></style>') : body;
  for (let i = text.indexOf('<'); i !== -1; i = text.indexOf('<', i + 1)) {
    const m = /^<(\/?)([a-z][a-z0-9]*)((?:\s+[a-z-]+(?:="[^"<>]*")?)*)\s*>/.exec(text.slice(i));
    assert.ok(m, `'<' that is not a well-formed tag at ${i}: ${JSON.stringify(text.slice(i, i + 60))}`);
    const attrs = [...m[3]!.matchAll(/([a-z-]+)(?:="([^"]*)")?/g)].map((a) => [a[1]!, a[2] ?? ''] as [string, string]);
    tags.push({ name: m[2]!, attrs });
  }
  return tags;
}

describe('evidence report: hostile values render inert', () => {
  const page = renderReport(data());

  it('is a self-contained HTML5 page with a CSP that forbids everything but inline style', () => {
    assert.ok(page.startsWith('<!DOCTYPE html>\n<html lang="en">'));
    assert.ok(page.includes(`<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">`));
    assert.ok(page.includes('<meta charset="utf-8">'));
    assert.match(page, /<title>Evidence &lt;script&gt;alert\(1\)&lt;\/script&gt; — 2026-01-01T00:00:00\.000Z to 2026-02-01T00:00:00\.000Z<\/title>/);
    assert.equal(page.match(/<style>/g)?.length, 1);
    assert.equal(page.match(/<\/style>/g)?.length, 1, 'a hostile </style> must not close the style element');
    assert.equal(page.match(/<\/title>/g)?.length, 1);
  });

  it('contains only its own tags and attributes: no script, no event handler, no URL but in-page anchors', () => {
    assert.doesNotMatch(page, /<script/i);
    assert.doesNotMatch(page, /<img|<svg|<iframe|<object|<embed|<link|<base|<form/i);
    const tags = scanTags(page);
    assert.ok(tags.length > 100);
    for (const t of tags) {
      assert.ok(ALLOWED_TAGS.has(t.name), `unexpected element <${t.name}>`);
      for (const [name, value] of t.attrs) {
        assert.ok(ALLOWED_ATTRS.has(name), `unexpected attribute ${name} on <${t.name}>`);
        assert.ok(!name.startsWith('on'), `event handler ${name}`);
        assert.doesNotMatch(value, /javascript:|data:|https?:|\/\//i, `${name}="${value}"`);
        if (name === 'href') assert.match(value, /^#[a-z]+$/, 'only in-page anchors');
      }
    }
    // The page's own CSS holds no URL either.
    assert.doesNotMatch(/<style>([\s\S]*?)<\/style>/.exec(page)![1]!, /url\(|@import|expression\(/i);
  });

  it('shows the hostile text escaped', () => {
    for (const expected of [
      '&lt;script&gt;alert(1)&lt;/script&gt;',
      '&quot;&gt;&lt;img src=x onerror=alert(1)&gt;',
      '&#39;&gt;&lt;svg onload=alert(1)&gt;',
      'javascript:alert(document.cookie)',
      '&lt;/style&gt;&lt;script&gt;alert(2)&lt;/script&gt;',
      '&lt;!-- comment',
      '&amp;amp; already &amp;lt;escaped&amp;gt;',
    ]) {
      assert.ok(page.includes(expected), `missing escaped form ${expected}`);
    }
  });

  it('shows direction overrides, controls and invisible characters as visible escapes', () => {
    // eslint-disable-next-line no-control-regex
    assert.doesNotMatch(page, /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f\u200b\u202e\u2066\u2069]/u, 'no raw control, bidi or zero-width character');
    assert.ok(page.includes('evil<span class="ctl">\\u202E</span>txt.exe'));
    assert.ok(page.includes('ansi<span class="ctl">\\u001B</span>[31mred<span class="ctl">\\u0007</span>'));
    assert.ok(page.includes('nul<span class="ctl">\\u0000</span>byte'));
    assert.ok(page.includes('iso<span class="ctl">\\u2066</span>late<span class="ctl">\\u2069</span>'));
    assert.ok(page.includes('zw<span class="ctl">\\u200B</span>sp'));
    // In the title (plain text, no markup possible) the escape is plain.
    const t = renderReport(data({ title: 'a\u202Eb' }));
    assert.match(t, /<title>a\\u202Eb — /);
  });

  it('names the verify command with the package and key names escaped', () => {
    // Shell-quoted too, so the command can be pasted as it is.
    assert.ok(page.includes('<pre><code>rampart evidence verify &#39;evidence &quot;&gt;&lt;img src=x onerror=alert(1)&gt;.tar.gz&#39; --public-key &#39;javascript:alert(document.cookie)&#39;</code></pre>'));
    const quote = renderReport(data({ packageFile: "it's here.tar.gz" }));
    assert.ok(quote.includes(`verify &#39;it&#39;\\&#39;&#39;s here.tar.gz&#39; --public-key`));
    const plain = renderReport(data({ packageFile: 'evidence-2026-01.tar.gz', publicKeyFile: 'rampart.pub' }));
    assert.ok(plain.includes('rampart evidence verify evidence-2026-01.tar.gz --public-key rampart.pub'));
    const defaults = renderReport(data({ packageFile: undefined, publicKeyFile: undefined }));
    assert.ok(defaults.includes('rampart evidence verify FILE --public-key KEY'));
  });
});

describe('evidence report: escapeHtml', () => {
  it('escapes the five characters for text and quoted attributes alike', () => {
    assert.equal(escapeHtml(`& < > " '`), '&amp; &lt; &gt; &quot; &#39;');
    // Placed inside a double- or single-quoted attribute, a value cannot end it.
    for (const v of HOSTILE) {
      const e = escapeHtml(v, { marked: false });
      assert.ok(!/["'<>]/.test(e), e);
    }
  });

  it('marks invisible characters unless asked for plain text, astral ones included', () => {
    assert.equal(escapeHtml('\u202E'), '<span class="ctl">\\u202E</span>');
    assert.equal(escapeHtml('\u202E', { marked: false }), '\\u202E');
    assert.equal(escapeHtml('tag\u{E0041}'), 'tag<span class="ctl">\\u{E0041}</span>');
    assert.equal(escapeHtml('lone\ud800'), 'lone<span class="ctl">\\uD800</span>');
    assert.equal(escapeHtml('ok 😀 é 日本'), 'ok 😀 é 日本');
  });
});

describe('evidence report: content and readability', () => {
  it('summarises verification in words: broken chain with its first bad seq, checkpoints, published heads', () => {
    const page = renderReport(data());
    assert.match(page, /<span class="word">FAIL<\/span> — hash chain broken at record seq <strong>17<\/strong> \(20 records checked\)\. &lt;script&gt;/);
    assert.match(page, /<span class="word">FAIL<\/span> — signed checkpoints: 2 of 3 verified\./);
    assert.match(page, /<span class="word">NOT CHECKED<\/span> — heads published outside the store: none were available to compare\./);
    assert.ok(page.includes('Verified at 2026-02-02T09:00:00.000Z (UTC)'));
    const good = renderReport(data({ verification: { chainOk: true, recordsChecked: 20, checkpointsVerified: 3, checkpointsTotal: 3, publishedHeadsMatched: 2, publishedHeadsTotal: 2, verifiedAt: '2026-02-02T09:00:00Z' } }));
    assert.match(good, /<span class="word">PASS<\/span> — hash chain intact: 20 records checked\./);
    assert.match(good, /<span class="word">PASS<\/span> — signed checkpoints: 3 of 3 verified\./);
    assert.match(good, /<span class="word">PASS<\/span> — heads published outside the store: 2 of 2 matched\./);
    assert.doesNotMatch(good, />FAIL</);
  });

  it('lists checkpoints with their signature and published-head status', () => {
    const page = renderReport(data());
    assert.match(page, /<th scope="row" class="num">10<\/th><td>2026-01-15T00:00:00Z<\/td>.*<span class="word pass">verified<\/span><\/td><td><span class="word pass">matches<\/span>/);
    assert.match(page, /<th scope="row" class="num">20<\/th><td>2026-01-31T00:00:00\.000Z<\/td>.*<span class="word fail">INVALID<\/span><\/td><td><span class="word fail">DIFFERS<\/span>/);
    assert.match(page, /<th scope="row" class="num">30<\/th>.*<td>not published<\/td>/);
  });

  it('renders the scope, holds, purges and config versions', () => {
    const page = renderReport(data());
    assert.ok(page.includes('<dt>Time range (UTC)</dt><dd>2026-01-01T00:00:00.000Z to 2026-02-01T00:00:00.000Z</dd>'));
    assert.ok(page.includes('<dt>Records in scope</dt><dd>20</dd>'));
    assert.ok(page.includes('<caption id="holds-caption">1 legal hold</caption>'));
    assert.ok(page.includes('<td class="num">1234</td>'));
    assert.ok(page.includes('<caption id="configs-caption">1 configuration version in force during the range</caption>'));
    const empty = renderReport(data({ legalHolds: [], purgeReceipts: [], configVersions: [], checkpoints: [], records: { columns: COLUMNS, rows: [] } }));
    for (const what of ['legal holds', 'purge receipts', 'configuration versions', 'signed checkpoints', 'records']) {
      assert.ok(empty.includes(`<p class="note">No ${what} in this export.</p>`), what);
    }
  });

  it('shows every record of a short export and says so', () => {
    const page = renderReport(data({ records: { columns: COLUMNS, rows: rows(3, false) } }));
    assert.ok(page.includes('<p>All 3 records are shown. They are also in <code>records.jsonl</code> and <code>records.csv</code> in this package (searchable and sortable).</p>'));
    assert.equal(page.match(/<tr><th scope="row">\d+<\/th><td>2026-/g)?.length, 3);
    for (const c of COLUMNS) assert.ok(page.includes(`<th scope="col">${escapeHtml(c)}</th>`), c);
  });

  it('cuts a long records table, saying how many rows are shown and where the rest is', () => {
    const page = renderReport(data({ records: { columns: COLUMNS, rows: rows(1200, false) } }));
    assert.equal(page.match(/<tr><th scope="row">\d+<\/th><td>2026-/g)?.length, 500);
    assert.ok(page.includes('<span class="word">PARTIAL</span> — showing the first 500 of 1200 records. Every record is in <code>records.jsonl</code> and <code>records.csv</code> in this package.'));
    assert.ok(page.includes('<caption id="records-caption">Ledger records (first 500 of 1200)</caption>'));
    // The caller may pass only a subset and the total, and choose the limit and the file names.
    const subset = renderReport(data({ maxRecordRows: 10, records: { columns: COLUMNS, rows: rows(50, false), total: 1_000_000, files: ['records.jsonl', 'records.csv', 'index.json'] } }));
    assert.equal(subset.match(/<tr><th scope="row">\d+<\/th><td>2026-/g)?.length, 10);
    assert.ok(subset.includes('showing the first 10 of 1000000 records. Every record is in <code>records.jsonl</code>, <code>records.csv</code> and <code>index.json</code>'));
  });

  it('cuts a very long cell, keeping whole characters, and says how much is left out', () => {
    const long = `${'é'.repeat(299)}😀${'x'.repeat(9700)}`;
    const r = rows(1, false);
    r[0]![8] = long;
    const page = renderReport(data({ records: { columns: COLUMNS, rows: r } }));
    assert.ok(page.includes(`<td>${'é'.repeat(299)}😀<span class="more">… (9700 more characters; the full value is in the records files)</span></td>`));
  });

  it('refuses rows that do not match the columns', () => {
    assert.throws(() => renderReport(data({ records: { columns: COLUMNS, rows: [['1', '2']] } })), /2 cells, the columns 12/);
  });

  it('is usable by keyboard: skip link, contents, focusable scroll regions, table captions and header scopes', () => {
    const page = renderReport(data());
    assert.ok(page.includes('<a class="skip" href="#main">Skip to content</a>'));
    const ids = new Set([...page.matchAll(/ id="([^"]+)"/g)].map((m) => m[1]));
    for (const [, target] of page.matchAll(/href="#([^"]+)"/g)) assert.ok(ids.has(target), `anchor #${target} has a target`);
    const wraps = page.match(/<div class="table-wrap" role="region" aria-labelledby="([a-z-]+)" tabindex="0">/g) ?? [];
    const tables = page.match(/<table>/g) ?? [];
    assert.equal(wraps.length, tables.length);
    assert.equal((page.match(/<caption id=/g) ?? []).length, tables.length);
    for (const [, id] of page.matchAll(/aria-labelledby="([^"]+)"/g)) assert.ok(ids.has(id), `aria-labelledby ${id} exists`);
    assert.doesNotMatch(page, /<th>/, 'every header cell has a scope');
    assert.match(page, /:focus-visible\{outline:3px solid/);
  });
});
