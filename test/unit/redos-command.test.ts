/**
 * ReDoS regressions in the command-injection detector (API4: a value of up to 1 MiB is inspected,
 * so a super-linear scan stalls the event loop). Each input is crafted for the code it guards;
 * there is no timing threshold: the former code did not finish these in any reasonable time, and
 * the runner's timeout fails a test that hangs.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { detectCommand } from '../../src/threat/inspect/command.js';
import { inspectValue } from '../../src/threat/inspect/index.js';

test('API4: `${v/` repeated 25k times without a `}` is not an IFS trick, and is answered', () => {
  // Was `\$\{[a-z_]+\/\/?[^}]*\}` in the IFS regex: each `${a/` re-scanned the rest for a `}`.
  const v = '${a/'.repeat(25_000);
  assert.equal(v.length, 100_000);
  assert.equal(detectCommand(v, false), undefined);
  // The same text closed once at the very end is pattern substitution: still found.
  assert.equal(detectCommand(v + '}', false), 'command.ifs');
  // Input is lower-cased by the caller (inspect-value.ts).
  assert.equal(detectCommand('cat${path//:/ }', false), 'command.ifs');
  assert.equal(detectCommand('price ${a/b', false), undefined);
});

test('API4: a run of 100k newlines is scanned once, and a command after it is still found', () => {
  const run = '\n'.repeat(100_000);
  assert.equal(detectCommand(run, true), undefined);
  assert.equal(detectCommand(run + 'x', true), undefined);
  // An encoded newline separates commands: the word after the run is what the shell runs.
  assert.equal(detectCommand(run + 'whoami', true), 'command.separator');
  assert.equal(detectCommand('\r\n'.repeat(50_000) + 'id', true), 'command.separator');
});

test('API4: the whole inspector answers on the same 100k-character values', () => {
  assert.equal(inspectValue('${a/'.repeat(25_000), { location: 'query', skip: new Set(['evasion']) })?.family ?? 'none', 'none');
  assert.equal(inspectValue('%0a'.repeat(33_333) + 'whoami', { location: 'query', skip: new Set(['crlf']) })?.rule, 'command.separator');
  // And with the CRLF family too: its header-line scan takes each newline run once.
  assert.ok(inspectValue('%0a'.repeat(33_333) + 'whoami', { location: 'query' }), 'refused');
  assert.equal(inspectValue('\n'.repeat(40_000) + 'x', { location: 'body', skip: new Set(['command', 'evasion']) })?.family ?? 'none', 'none');
  assert.equal(inspectValue('\n'.repeat(40_000) + 'Set-Cookie: a=b', { location: 'body' })?.family, 'crlf');
});
