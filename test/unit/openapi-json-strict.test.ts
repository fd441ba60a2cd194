/**
 * The strict JSON parser: one parse, one truth (duplicate keys refused at any depth, with a
 * pointer to the object holding them), `__proto__` refused, depth bounded, syntax errors located
 * without quoting the input.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseStrictJson, findSyntaxError, lineColumnAt } from '../../src/openapi/json-strict.js';

function fails(text: string) {
  const r = parseStrictJson(text);
  assert.equal(r.ok, false, `expected failure for ${text}`);
  return (r as { ok: false; error: import('../../src/openapi/json-strict.js').StrictJsonError }).error;
}

test('valid documents parse like JSON.parse', () => {
  const samples = ['{}', '[]', '1', '"x"', 'null', '{"a":[1,{"b":"}\\"{"},[]],"c":{"d":{}}}', ' {"a" : 1 , "b" : [ true , false , null ] } ', '{"a":{"a":{"a":1}}}'];
  for (const s of samples) {
    const r = parseStrictJson(s);
    assert.ok(r.ok, s);
    assert.deepEqual(r.value, JSON.parse(s));
  }
});

test('the same key in different objects is not a duplicate', () => {
  const r = parseStrictJson('[{"id":1,"v":2},{"id":3,"v":4},{"x":{"id":5}}]');
  assert.ok(r.ok);
});

test('a duplicate key at the top level points at the root object', () => {
  const e = fails('{"amount":1,"amount":1000}');
  assert.equal(e.kind, 'duplicate-key');
  assert.equal(e.pointer, '');
  assert.equal(e.key, 'amount');
});

test('a duplicate key at depth points at the object holding it', () => {
  const e = fails('{"orders":[{"legs":[{"a":1},{"amount":1,"note":"x","amount":2}]}]}');
  assert.equal(e.kind, 'duplicate-key');
  assert.equal(e.pointer, '/orders/0/legs/1');
});

test('keys equal after unescaping are duplicates', () => {
  const e = fails('{"a":1,"\\u0061":2}');
  assert.equal(e.kind, 'duplicate-key');
  assert.equal(e.key, 'a');
});

test('escaped quotes and backslashes inside strings do not confuse the key scanner', () => {
  assert.ok(parseStrictJson('{"a\\"b":1,"a\\\\":2,"c":"\\\\","d":"\\"}{"}').ok);
  const e = fails('{"x":"\\\\","x":1}');
  assert.equal(e.kind, 'duplicate-key');
});

test('objects with many keys (Set path) still catch duplicates', () => {
  const keys = Array.from({ length: 40 }, (_, i) => `"k${i}":${i}`);
  assert.ok(parseStrictJson(`{${keys.join(',')}}`).ok);
  const e = fails(`{"wrap":{${keys.join(',')},"k17":0}}`);
  assert.equal(e.pointer, '/wrap');
  assert.equal(e.key, 'k17');
});

test('pointer segments are escaped (RFC 6901)', () => {
  const e = fails('{"a/b":{"c~d":{"x":1,"x":2}}}');
  assert.equal(e.pointer, '/a~1b/c~0d');
});

test('__proto__ is refused at any depth, escaped or not', () => {
  for (const s of ['{"__proto__":{"isAdmin":true}}', '{"a":[{"__proto__":1}]}', '{"\\u005f_proto__":{}}']) {
    const e = fails(s);
    assert.equal(e.kind, 'forbidden-key', s);
    assert.equal(e.message, 'forbidden key');
  }
  assert.equal(fails('{"a":[{"__proto__":1}]}').pointer, '/a/0');
  // As a value it is only a string.
  assert.ok(parseStrictJson('{"k":"__proto__"}').ok);
});

test('nesting beyond the limit is refused', () => {
  const deep = '['.repeat(200) + ']'.repeat(200);
  const e = fails(deep);
  assert.equal(e.kind, 'too-deep');
  assert.ok(parseStrictJson(deep, { maxDepth: 500 }).ok);
  assert.ok(parseStrictJson('['.repeat(128) + ']'.repeat(128)).ok);
});

test('invalid JSON is refused with an offset, and the message never quotes the input', () => {
  const secret = 'SSN-123-45-6789';
  for (const s of [`{"a":${secret}}`, `{"a":"${secret}"`, `{'a':1}`, '{"a":1,}', '[1,2', '', '  ', '{"a" 1}', 'tru', '01', '{"a":1}x', '"\u0001"']) {
    const e = fails(s);
    assert.equal(e.kind, 'syntax', s);
    assert.equal(e.message, 'must be valid JSON');
    assert.ok(!e.message.includes(secret));
    assert.ok(e.offset >= 0 && e.offset <= s.length, `${s}: ${e.offset}`);
  }
});

test('the syntax locator finds the first error', () => {
  assert.equal(findSyntaxError('{"a":1,}'), 7);
  assert.equal(findSyntaxError('[1,2'), 4);
  assert.equal(findSyntaxError('{"a":x}'), 5);
  assert.equal(findSyntaxError('{"a":1}x'), 7);
  assert.equal(findSyntaxError('{"a":"\\q"}'), 7);
  assert.deepEqual(lineColumnAt('{\n  "a": x\n}', findSyntaxError('{\n  "a": x\n}')), { line: 2, column: 8 });
});
