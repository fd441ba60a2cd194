/**
 * Media types (RFC 9110 §8.3.1: case-insensitive, parameters after ';') and the choice of the
 * most specific `content` key (OpenAPI 3.1 §4.8.14).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseContentType, normalizeContentKey, selectContentKey, bodyKind, jsonCharsetAcceptable } from '../../src/openapi/media-type.js';

test('Content-Type parsing: case, parameters, quoting; wildcards and junk refused', () => {
  const mt = parseContentType('Application/JSON ; Charset="UTF-8"; profile=x');
  assert.equal(mt?.essence, 'application/json');
  assert.deepEqual({ ...mt?.params }, { charset: 'UTF-8', profile: 'x' });
  for (const bad of [undefined, '', 'json', '/json', 'application/', '*/*', 'application/*', 'text/plain extra', 'a b/c']) {
    assert.equal(parseContentType(bad), undefined, String(bad));
  }
});

test('document keys are normalised and ranges kept', () => {
  assert.equal(normalizeContentKey('Application/JSON; charset=utf-8'), 'application/json');
  assert.equal(normalizeContentKey('application/*'), 'application/*');
  assert.equal(normalizeContentKey('*/*'), '*/*');
  assert.equal(normalizeContentKey('*/json'), undefined);
  assert.equal(normalizeContentKey('nonsense'), undefined);
});

test('the most specific key wins: exact, then +suffix range, then type/*, then */*', () => {
  const keys = ['*/*', 'application/*', 'application/*+json', 'application/json'];
  const pick = (ct: string) => selectContentKey(keys, parseContentType(ct)!);
  assert.equal(pick('application/json'), 'application/json');
  assert.equal(pick('application/vnd.api+json'), 'application/*+json');
  assert.equal(pick('application/xml'), 'application/*');
  assert.equal(pick('text/plain'), '*/*');
  assert.equal(selectContentKey(['application/json'], parseContentType('application/vnd.api+json')!), undefined);
  assert.equal(selectContentKey(['text/*'], parseContentType('application/json')!), undefined);
});

test('how bodies are read', () => {
  assert.equal(bodyKind(parseContentType('application/json')!), 'json');
  assert.equal(bodyKind(parseContentType('application/merge-patch+json')!), 'json');
  assert.equal(bodyKind(parseContentType('application/x-www-form-urlencoded')!), 'form');
  assert.equal(bodyKind(parseContentType('application/octet-stream')!), 'opaque');
  assert.equal(bodyKind(parseContentType('text/plain')!), 'opaque');
  assert.equal(jsonCharsetAcceptable(parseContentType('application/json; charset=utf8')!), true);
  assert.equal(jsonCharsetAcceptable(parseContentType('application/json; charset=utf-16')!), false);
});
