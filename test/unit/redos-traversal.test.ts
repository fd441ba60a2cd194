/**
 * ReDoS regression in the path-traversal detector (API4): `/var/www/html/…\.php` was a regex with
 * `[^\s]*` after an unanchored prefix, so every occurrence of the prefix re-scanned the rest of
 * the value. No timing threshold: the runner's timeout fails a scan that does not finish.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { detectTraversal } from '../../src/threat/inspect/traversal.js';

const ROOT = '/var/www/html/';

test('API4: the web root repeated to 100k characters without a script is answered, and is not sensitive', () => {
  const v = ROOT.repeat(Math.ceil(100_000 / ROOT.length));
  assert.ok(v.length >= 100_000);
  assert.equal(detectTraversal(v), undefined);
  assert.equal(detectTraversal(v + '!'), undefined);
});

test('API4: a script after 100k characters of web roots in the same run is still found', () => {
  const v = ROOT.repeat(Math.ceil(100_000 / ROOT.length));
  assert.equal(detectTraversal(v + 'index.php'), 'traversal.sensitive');
  assert.equal(detectTraversal(v + '.env'), 'traversal.sensitive');
});

test('the web-root rule keeps its meaning: same run of non-space only, .php or .env anywhere in it', () => {
  assert.equal(detectTraversal('/var/www/html/shell.php'), 'traversal.sensitive');
  assert.equal(detectTraversal('x /var/www/html/a/b/config.env.bak'), 'traversal.sensitive');
  assert.equal(detectTraversal('/var/www/html/index.html'), undefined);
  // A space ends the run: the .php belongs to another word.
  assert.equal(detectTraversal('/var/www/html/index.html see notes.php'), undefined);
  // A later occurrence in another run is still checked.
  assert.equal(detectTraversal('/var/www/html/a.txt and /var/www/html/b.php'), 'traversal.sensitive');
  assert.equal(detectTraversal(' '.repeat(100_000) + '/var/www/html/x.php'), 'traversal.sensitive');
});
