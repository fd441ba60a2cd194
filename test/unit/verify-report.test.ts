/**
 * The report formats of `rampart verify` (issue 6): JUnit XML (a suite per family, a case per
 * control, failure/error/skipped elements, everything escaped and well-formed whatever a server
 * sent), SARIF 2.1.0 (failures as results pointing at their rule), the table (one aligned line per
 * control), and the JSON the attestation signs (canonical, so its digest is stable).
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { toJunit } from '../../src/verify/report/junit.js';
import { SARIF_SCHEMA, toSarif } from '../../src/verify/report/sarif.js';
import { toTable } from '../../src/verify/report/table.js';
import { xmlAttr, xmlText } from '../../src/verify/report/xml.js';
import { digestOf, reportBytes } from '../../src/verify/run.js';
import { result, summarize, type ControlResult, type VerifyReport } from '../../src/verify/types.js';

const NASTY = `<script>&"quotes" 'apos' ]]> \u0000\u0007 \ud800 end`;

function report(results: ControlResult[]): VerifyReport {
  return { tool: 'rampart verify', version: '0.1.0', target: 'https://api.example.com', runId: 'vr_AbCdEfGhIjKlMnOpQrStUv', startedAt: '2025-01-01T00:00:00.000Z', finishedAt: '2025-01-01T00:00:05.000Z', probes: 7, summary: summarize(results), results };
}

const RESULTS: ControlResult[] = [
  result({ id: 'tls.1.1-refused', family: 'tls', title: 'TLS 1.1 is refused', requirements: ['ENC-1'] }, 'pass', 'refused (alert 70)', { alert: 70 }),
  result({ id: 'tls.certificate', family: 'tls', title: 'Certificate', requirements: ['ENC-2'] }, 'fail', `expired; server said ${NASTY}`, { banner: NASTY }),
  result({ id: 'authn.no-credential', family: 'authentication', title: 'No credential: 401', requirements: ['API2'] }, 'error', 'could not connect (ECONNREFUSED)', {}),
  result({ id: 'limits.rate', family: 'limits', title: 'Rate limit: 429', requirements: ['API4'] }, 'skipped', 'not given: rateLimit', {}),
  result({ id: 'limits.body-size', family: 'limits', title: 'Body cap: 413', requirements: ['API4'] }, 'fail', 'a 11534336-byte body got 201', { received: { status: 201 } }),
];

/** A small well-formedness check: balanced tags, quoted attributes, no raw '<' or bare '&' in text, only XML 1.0 characters. */
function assertWellFormed(xml: string): void {
  // eslint-disable-next-line no-control-regex
  assert.doesNotMatch(xml, /[\u0000-\u0008\u000b\u000c\u000e-\u001f]/, 'no characters XML 1.0 forbids');
  assert.doesNotMatch(xml, /[\ud800-\udfff]/, 'no lone surrogates');
  const body = xml.replace(/^<\?xml [^?]*\?>\n/, '');
  const stack: string[] = [];
  const tag = /<(\/?)([A-Za-z][\w-]*)((?:\s+[\w-]+="[^"<]*")*)\s*(\/?)>/g;
  let at = 0;
  for (let m = tag.exec(body); m; m = tag.exec(body)) {
    const text = body.slice(at, m.index);
    assert.doesNotMatch(text, /<|&(?!(amp|lt|gt|quot|apos|#\d+);)/, `text is escaped: ${text.slice(0, 80)}`);
    at = m.index + m[0].length;
    if (m[1] === '/') assert.equal(stack.pop(), m[2], `closing ${m[2]}`);
    else if (m[4] !== '/') stack.push(m[2]!);
  }
  assert.doesNotMatch(body.slice(at), /</, 'nothing after the last tag but text');
  assert.deepEqual(stack, [], 'every element closed');
}

describe('verify report: JUnit XML', () => {
  it('one testsuite per family and one testcase per control, with counts', () => {
    const xml = toJunit(report(RESULTS));
    assertWellFormed(xml);
    assert.match(xml, /^<\?xml version="1.0" encoding="UTF-8"\?>\n<testsuites name="rampart verify https:\/\/api.example.com" tests="5" failures="2" errors="1" skipped="1"/);
    assert.deepEqual([...xml.matchAll(/<testsuite name="([^"]+)" tests="(\d+)" failures="(\d+)" errors="(\d+)" skipped="(\d+)"/g)].map((m) => m.slice(1).join(' ')), ['tls 2 1 0 0', 'authentication 1 0 1 0', 'limits 2 1 0 1']);
    assert.equal((xml.match(/<testcase /g) ?? []).length, 5);
    assert.equal((xml.match(/<failure /g) ?? []).length, 2);
    assert.equal((xml.match(/<error /g) ?? []).length, 1);
    assert.match(xml, /<skipped message="not given: rateLimit"\/>/);
    assert.match(xml, /<testcase classname="rampart.verify.tls" name="tls.1.1-refused: TLS 1.1 is refused" time="0">\n {6}<system-out>/, 'a pass has no failure element');
    assert.match(xml, /<failure message="a 11534336-byte body got 201 \[API4\]" type="control-failed">/);
  });

  it('escapes what a server sent, in attributes and text, and replaces characters XML cannot carry', () => {
    const xml = toJunit(report(RESULTS));
    assert.ok(!xml.includes('<script>'));
    assert.match(xml, /&lt;script&gt;&amp;&quot;quotes&quot; &apos;apos&apos; \]\]&gt; \ufffd\ufffd \ufffd end/);
    assert.equal(xmlText('a<b>&c'), 'a&lt;b&gt;&amp;c');
    assert.equal(xmlAttr('"\'\t\n\r'), '&quot;&apos;&#9;&#10;&#13;');
    assert.equal(xmlText('\ud83d\ude00 ok'), '\ud83d\ude00 ok', 'a surrogate pair is kept');
    assert.equal(xmlText('\uffff\ufffe'), '\ufffd\ufffd');
  });
});

describe('verify report: SARIF 2.1.0', () => {
  it('every control is a rule; failures are error results and unprobed controls warnings, each pointing at its rule', () => {
    const s = toSarif(report(RESULTS)) as any;
    assert.equal(s.$schema, SARIF_SCHEMA);
    assert.equal(s.version, '2.1.0');
    assert.equal(s.runs.length, 1);
    const run = s.runs[0];
    assert.equal(run.tool.driver.name, 'rampart verify');
    assert.deepEqual(run.tool.driver.rules.map((r: { id: string }) => r.id), RESULTS.map((r) => r.id));
    assert.deepEqual(run.results.map((r: { ruleId: string; level: string }) => `${r.ruleId} ${r.level}`), ['tls.certificate error', 'authn.no-credential warning', 'limits.body-size error']);
    for (const r of run.results) {
      assert.equal(run.tool.driver.rules[r.ruleIndex].id, r.ruleId);
      assert.equal(r.locations[0].physicalLocation.artifactLocation.uri, 'https://api.example.com');
      assert.equal(typeof r.message.text, 'string');
    }
    assert.deepEqual(run.tool.driver.rules[0].properties.tags, ['tls', 'ENC-1']);
    assert.deepEqual(run.properties.summary, { passed: 1, failed: 2, skipped: 1, errors: 1 });
    // JSON round trip: nothing that JSON cannot carry.
    assert.deepEqual(JSON.parse(JSON.stringify(s)), s);
  });

  it('an all-pass report has rules and no results', () => {
    const s = toSarif(report([RESULTS[0]!])) as any;
    assert.deepEqual(s.runs[0].results, []);
    assert.equal(s.runs[0].tool.driver.rules.length, 1);
  });
});

describe('verify report: table and JSON', () => {
  it('the table has one aligned line per control, status first, evidence on one line, cut to the width', () => {
    const long = result({ id: 'x', family: 'routing', title: 't', requirements: [] }, 'pass', 'y'.repeat(400), {}, ['expires in 10 days (under 30)']);
    const text = toTable(report([...RESULTS, long]), { width: 100 });
    const lines = text.split('\n');
    const rows = lines.filter((l) => /^(PASS|FAIL|ERR |SKIP)/.test(l));
    assert.equal(rows.length, 6);
    const col = rows.map((r) => r.indexOf(r.split(/\s{2,}/)[2]!));
    assert.equal(new Set(col).size, 1, 'the evidence column is aligned');
    for (const r of rows) assert.ok(r.length <= 100, r);
    assert.match(rows[5]!, /\.\.\.$/);
    assert.ok(!text.includes('\u0000') && !text.includes('\u0007'), 'control characters from a server are not printed');
    assert.doesNotMatch(text, /[\ud800-\udfff]/, 'nor a lone surrogate');
    assert.match(text, /\n2 passed, 2 failed, 1 skipped, 1 could not be probed; 7 connections and requests to the target\n$/);
  });

  it('the JSON is canonical (sorted keys, no whitespace), and the digest is its SHA-256', () => {
    const r = report(RESULTS.slice(0, 2).map((x) => JSON.parse(JSON.stringify(x)) as ControlResult));
    const bytes = reportBytes(r);
    assert.equal(digestOf(r), `sha256:${createHash('sha256').update(bytes).digest('hex')}`);
    const text = bytes.toString('utf8');
    assert.ok(text.startsWith('{"finishedAt":'), 'keys sorted');
    assert.ok(!text.includes('\n'));
    // Key order of the input does not matter; a changed status does.
    const shuffled = { ...r, results: r.results.map((x) => Object.fromEntries(Object.entries(x).reverse()) as unknown as ControlResult) };
    assert.equal(digestOf(shuffled), digestOf(r));
    assert.notEqual(digestOf({ ...r, results: [{ ...r.results[0]!, status: 'fail' }, r.results[1]!] }), digestOf(r));
  });
});
