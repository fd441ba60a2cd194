/**
 * ReDoS hardening of the discriminator-mapping scan in response-document.ts (API4). The former
 * regex was exponential on a mapping whose entries are separated by blanks without commas and
 * never closed; rebuildDocument only scans text that JSON.parse accepted, where that cannot occur,
 * so the test runs the new regex on its worst valid input: a 100k-character flat mapping that
 * fails at its last value, and checks the document that comes back.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rebuildDocument } from '../../src/openapi/response-document.js';

function doc(mapping: string): string {
  return `{"openapi":"3.0.3","info":{"title":"t","version":"1"},"paths":{},"components":{"schemas":{"P":{"discriminator":{"propertyName":"k","mapping":${mapping}}}}}}`;
}
const file = (text: string) => [{ path: '/tmp/redos-api.json', text, format: 'json' as const, mount: '', parseMs: 0 }];

test('API4: a 100k-character flat mapping that ends in a non-string value is scanned and rebuilt', () => {
  const entries: string[] = [];
  for (let i = 0; entries.join(' , ').length < 100_000; i++) entries.push(`"k${i}" :  "#/components/schemas/P"`);
  const text = doc(`{ ${entries.join(' , ')} , "last": 1 }`);
  assert.ok(text.length > 100_000);
  assert.deepEqual(rebuildDocument(file(text)), JSON.parse(text));
});

test('a flat mapping of local references comes back as parsed', () => {
  const local = doc('{ "a" : "#/components/schemas/P" ,\n "b":"P" }');
  assert.deepEqual(rebuildDocument(file(local)), JSON.parse(local));
});
