/**
 * The TOTP enrolment QR code as SVG (issue 7, src/admin/qr-svg.ts). The SVG must decode to the
 * very code qrcode-terminal prints for the same input (the module matrix read back from the SVG's
 * rects equals the matrix read back from qrcode-terminal's own terminal rendering), so the console
 * and `rampart admin` show the same, scannable code (FC-1).
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { qrMatrix, qrSvg, QUIET_ZONE } from '../../src/admin/qr-svg.js';
import { otpauthUri, terminalQr } from '../../src/admin/totp.js';

/** Reads qrcode-terminal's "small" rendering back into modules (true = dark). */
function matrixFromTerminal(text: string): boolean[][] {
  // Half blocks: each character is two modules, the upper and the lower (qrcode-terminal lib/main.js).
  const cell: Record<string, [boolean, boolean]> = { '\u2588': [false, false], '\u2580': [false, true], '\u2584': [true, false], ' ': [true, true] };
  const lines = text.split('\n').slice(1).filter((l) => l.length > 0 && !/^\u2580+$/.test(l));
  const n = lines[0]!.length - 2;
  const rows: boolean[][] = [];
  for (const line of lines) {
    const upper: boolean[] = [];
    const lower: boolean[] = [];
    for (const ch of [...line].slice(1, n + 1)) {
      const c = cell[ch];
      assert.ok(c, `unexpected character ${JSON.stringify(ch)} in the terminal rendering`);
      upper.push(c[0]);
      lower.push(c[1]);
    }
    rows.push(upper, lower);
  }
  return rows.slice(0, n);
}

/** Reads the SVG's dark rects back into modules (quiet zone removed). */
function matrixFromSvg(svg: string): boolean[][] {
  const view = /viewBox="0 0 (\d+) (\d+)"/.exec(svg);
  assert.ok(view, 'the SVG has a viewBox in module units');
  const size = Number(view[1]);
  const n = size - 2 * QUIET_ZONE;
  const rows = Array.from({ length: n }, () => Array.from({ length: n }, () => false));
  const dark = /<g fill="#000">(.*)<\/g>/.exec(svg);
  assert.ok(dark, 'the dark modules are grouped');
  const rect = /<rect x="(\d+)" y="(\d+)" width="(\d+)" height="1"\/>/g;
  let count = 0;
  for (let m = rect.exec(dark[1]!); m; m = rect.exec(dark[1]!)) {
    const x = Number(m[1]) - QUIET_ZONE;
    const y = Number(m[2]) - QUIET_ZONE;
    const w = Number(m[3]);
    assert.ok(x >= 0 && y >= 0 && x + w <= n && y < n, 'no dark module in the quiet zone');
    for (let i = 0; i < w; i++) {
      assert.equal(rows[y]![x + i], false, 'rects do not overlap');
      rows[y]![x + i] = true;
    }
    count++;
  }
  assert.ok(count > 0);
  // Nothing but the background and the rects: no text, no script, nothing from the input.
  assert.equal(dark[1]!.replace(rect, ''), '');
  return rows;
}

describe('qr-svg: the TOTP QR code as SVG', () => {
  const uri = otpauthUri('JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP', { account: 'ada.lovelace', issuer: 'Rampart' });

  it('the SVG decodes to the module matrix qrcode-terminal renders for the same URI', async () => {
    const fromTerminal = matrixFromTerminal(await terminalQr(uri));
    const fromSvg = matrixFromSvg(qrSvg(uri));
    assert.equal(fromSvg.length, fromTerminal.length, 'same version (size)');
    assert.deepEqual(fromSvg, fromTerminal);
    assert.deepEqual(qrMatrix(uri), fromTerminal);
  });

  it('a different input gives a different code (the comparison can fail)', async () => {
    const other = matrixFromTerminal(await terminalQr(otpauthUri('KRSXG5CTMVRXEZLUKN2XAZLSKNSWG4TFOQ', { account: 'ada.lovelace', issuer: 'Rampart' })));
    assert.notDeepEqual(matrixFromSvg(qrSvg(uri)), other);
  });

  it('has the finder patterns where ISO/IEC 18004 puts them and a 4-module quiet zone', () => {
    const m = qrMatrix(uri);
    const n = m.length;
    assert.equal((n - 17) % 4, 0, 'a QR size is 17 + 4 x version');
    for (const [r0, c0] of [[0, 0], [0, n - 7], [n - 7, 0]] as const) {
      for (let i = 0; i < 7; i++) {
        for (let j = 0; j < 7; j++) {
          const ring = Math.max(Math.abs(i - 3), Math.abs(j - 3));
          assert.equal(m[r0 + i]![c0 + j], ring !== 2, `finder module (${r0 + i}, ${c0 + j})`);
        }
      }
    }
    const svg = qrSvg(uri);
    assert.match(svg, new RegExp(`viewBox="0 0 ${n + 8} ${n + 8}"`));
    assert.match(svg, /^<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg" /);
    assert.ok(!/<script|on[a-z]+=|href/i.test(svg), 'no script, handler or link');
  });

  it('encodes non-ASCII input as its UTF-8 bytes, and refuses what no QR code holds', async () => {
    const text = 'Rampart:jos\u00e9';
    const utf8AsBytes = Buffer.from(text, 'utf8').toString('latin1');
    // qrcode-terminal writes one byte per UTF-16 unit: given the UTF-8 bytes, it draws our code.
    assert.deepEqual(qrMatrix(text), matrixFromTerminal(await terminalQr(utf8AsBytes)));
    // Given the text itself it would write 0xE9 for the e-acute (Latin-1), a different code.
    assert.notDeepEqual(qrMatrix(text), matrixFromTerminal(await terminalQr(text)));
    assert.throws(() => qrMatrix('x'.repeat(3000)), RangeError);
  });
});
