/**
 * CLI progress (issue 7): drawn on a terminal, silent in a pipe and with --json.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { barLine, createActivity, createProgress, progressEnabled, withActivity, type ProgressStream } from '../../src/cli/progress.js';

function fakeStream(isTTY: boolean, columns = 80): ProgressStream & { text: string } {
  const s = { isTTY, columns, text: '', write(x: string) { s.text += x; return true; } };
  return s;
}

test('on a terminal the bar is drawn with count and percentage, then the line is cleared', () => {
  const tty = fakeStream(true);
  let t = 0;
  const p = createProgress('exporting records', { stream: tty, env: {}, now: () => t });
  assert.equal(p.active, true);
  p.update(0, 200);
  t = 1000;
  p.update(100, 200);
  t = 2000;
  p.update(200, 200);
  p.done();
  assert.match(tty.text, /exporting records \[#{15}\.{15}\] {2}50% 100\/200 100\/s ETA 1s/);
  assert.match(tty.text, /\[#{30}\] 100% 200\/200/);
  assert.ok(tty.text.endsWith('\r\x1b[2K'), 'the last write clears the line');
});

test('redraws are throttled but the final count is always drawn', () => {
  const tty = fakeStream(true);
  const p = createProgress('x', { stream: tty, env: {}, now: () => 5 });
  for (let i = 0; i <= 1000; i++) p.update(i, 1000);
  // First draw, then nothing until done === total (same instant).
  assert.equal(tty.text.split('\r\x1b[2K').filter(Boolean).length, 2);
  assert.match(tty.text, /1000\/1000/);
});

test('in a pipe nothing is written, whatever is reported', () => {
  const pipe = fakeStream(false);
  const p = createProgress('exporting records', { stream: pipe, env: {} });
  assert.equal(p.active, false);
  p.update(1, 2);
  p.update(2, 2);
  p.done();
  const a = createActivity('purging', { stream: pipe, env: {} });
  a.done();
  assert.equal(pipe.text, '');
});

test('--json, TERM=dumb and RAMPART_NO_PROGRESS keep a terminal quiet too', () => {
  const tty = fakeStream(true);
  assert.equal(progressEnabled({ stream: tty, env: {} }), true);
  assert.equal(progressEnabled({ stream: tty, env: {}, json: true }), false);
  assert.equal(progressEnabled({ stream: tty, env: { TERM: 'dumb' } }), false);
  assert.equal(progressEnabled({ stream: tty, env: { RAMPART_NO_PROGRESS: '1' } }), false);
  assert.equal(progressEnabled({ stream: tty, env: { RAMPART_NO_PROGRESS: '0' } }), true);
  createProgress('x', { stream: tty, env: {}, json: true }).update(1, 1);
  assert.equal(tty.text, '');
});

test('an activity spinner shows the elapsed time and is cleared even when the work fails', async () => {
  const tty = fakeStream(true);
  let t = 0;
  await assert.rejects(
    withActivity('purging expired data', { stream: tty, env: {}, now: () => t }, async () => {
      t = 3000;
      throw new Error('boom');
    }),
    /boom/,
  );
  assert.match(tty.text, /\| purging expired data 0s/);
  assert.ok(tty.text.endsWith('\r\x1b[2K'));
});

test('the bar fits narrow terminals', () => {
  const line = barLine('re-wrapping data keys', 5, 10, 1, 40);
  assert.ok(line.length <= 39, line);
  assert.match(line, /50% 5\/10/);
  assert.ok(barLine('x', 1, 2, 0, 10).length <= 9);
});
