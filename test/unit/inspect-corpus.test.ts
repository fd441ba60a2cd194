/**
 * The injection inspector against its corpora (test/fixtures/injection): every attack sample is
 * refused, no benign sample is, no attack is waved through by the fast path, and most attacks
 * are reported under their own family (so a per-family exception does not silently open the
 * door to the whole corpus of that family).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { corpusFamilies, inspectSample, loadCorpus, parseCorpus } from '../../bench/inspect-corpus.js';
import { isHarmless } from '../../src/threat/inspect/index.js';

const families = corpusFamilies();

test('the corpora are there and large enough', () => {
  for (const f of ['sqli', 'xss', 'command', 'traversal', 'ldap', 'xpath', 'nosql', 'prototype-pollution', 'crlf', 'ssrf', 'evasion', 'common']) assert.ok(families.includes(f), `missing corpus ${f}`);
  const attacks = families.reduce((n, f) => n + loadCorpus(f, 'attacks').length, 0);
  const benign = families.reduce((n, f) => n + loadCorpus(f, 'benign').length, 0);
  assert.ok(attacks >= 1000, `attacks: ${attacks}`);
  assert.ok(benign >= 900, `benign: ${benign}`);
  assert.ok(loadCorpus('sqli', 'attacks').length >= 500, 'SQLi is the largest corpus');
});

for (const family of families) {
  test(`${family}: every attack is refused`, () => {
    const missed = loadCorpus(family, 'attacks').filter((s) => !inspectSample(s)).map((s) => `line ${s.line}: ${JSON.stringify(s.text)}`);
    assert.deepEqual(missed, []);
  });
  test(`${family}: no benign sample is refused`, () => {
    const flagged = loadCorpus(family, 'benign')
      .map((s) => ({ s, f: inspectSample(s) }))
      .filter((x) => x.f)
      .map((x) => `line ${x.s.line}: ${JSON.stringify(x.s.text)} -> ${x.f!.rule} via ${x.f!.via}`);
    assert.deepEqual(flagged, []);
  });
  test(`${family}: no attack takes the fast path`, () => {
    const fast = loadCorpus(family, 'attacks')
      .filter((s) => !s.key && !s.opts.hostField && isHarmless(s.text))
      .map((s) => `line ${s.line}: ${JSON.stringify(s.text)}`);
    assert.deepEqual(fast, []);
  });
}

test('attacks are reported under their own family', () => {
  const own: Record<string, number> = { sqli: 0.95, xss: 0.9, traversal: 0.9, ssrf: 0.95, nosql: 0.95, 'prototype-pollution': 1, crlf: 1, ldap: 0.85 };
  for (const [family, min] of Object.entries(own)) {
    const attacks = loadCorpus(family, 'attacks');
    const mine = attacks.filter((s) => inspectSample(s)?.family === family).length;
    assert.ok(mine / attacks.length >= min, `${family}: ${mine}/${attacks.length} under its own family`);
  }
});

test('corpus line format: comments, flags, escapes', () => {
  const s = parseCorpus("# a comment\n#\n\nO'Brien\nesc,body\tline\\nNote: x\\t\\x41\\u00e9\\\\\nkey\t__proto__\nheader,host\t127.0.0.1\n#1 priority\n");
  assert.deepEqual(
    s.map((x) => [x.text, x.key, x.opts.location, x.opts.hostField ?? false, x.line]),
    [
      ["O'Brien", false, 'query', false, 4],
      ['line\nNote: x\tAé\\', false, 'body', false, 5],
      ['__proto__', true, 'query', false, 6],
      ['127.0.0.1', false, 'header', true, 7],
      ['#1 priority', false, 'query', false, 8],
    ],
  );
  assert.throws(() => parseCorpus('bogus\tx'), /unknown flag bogus/);
});
