/**
 * ReDoS regressions in the XSS detector (API4). `JS_URL` took a run of blanks in front of the
 * scheme, so a long run of tabs or newlines was re-scanned from each of its characters;
 * `ATTR_BREAKOUT` let blanks after a quote split three ways (`\s*\/?[\s/]*`). No timing
 * threshold: the runner's timeout fails a scan that does not finish.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { detectXss } from '../../src/threat/inspect/xss.js';

test('API4: 100k tabs or newlines before a colon are answered, and a scheme after them is still found', () => {
  assert.equal(detectXss('\t'.repeat(100_000) + 'j:'), undefined);
  assert.equal(detectXss('\n'.repeat(100_000) + ':'), undefined);
  assert.equal(detectXss('\t'.repeat(100_000) + 'javascript:alert(1)'), 'xss.js-url');
  assert.equal(detectXss('\n'.repeat(100_000) + 'java\tscript:alert(1)'), 'xss.js-url');
});

test('the js-url rule keeps its meaning: a scheme glued to a scheme character is not one', () => {
  assert.equal(detectXss('javascript:alert(1)'), 'xss.js-url');
  assert.equal(detectXss('href= \x01 vbscript:msgbox(1)'), 'xss.js-url');
  assert.equal(detectXss('xjavascript:alert(1)'), undefined);
  assert.equal(detectXss('my.javascript:alert(1)'), undefined);
  assert.equal(detectXss('javascript: the good parts'), undefined);
});

test('API4: a quote, 100k spaces and a short `on=` are answered; a real handler after them is found', () => {
  assert.equal(detectXss("'" + ' '.repeat(100_000) + 'on='), undefined);
  assert.equal(detectXss("'" + ' /'.repeat(50_000) + 'on='), undefined);
  assert.equal(detectXss("'" + ' '.repeat(100_000) + 'onclick=alert(1)'), 'xss.event-handler');
  assert.equal(detectXss('" / onmouseover="alert(1)'), 'xss.event-handler');
});
