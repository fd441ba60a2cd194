/**
 * The public API the gateway's inspect stage calls: inspectValue / inspectKey, per-field skips,
 * location strictness (CRLF), host fields, the fast path, the length cap, and the promise never
 * to throw on any input (fail closed: an internal error is a Finding, never "allow").
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { inspectKey, inspectValue, isHarmless, INJECTION_FAMILIES, REASON_CODES, isInjectionFamily, MAX_INSPECT_CHARS, type Finding } from '../../src/threat/inspect/index.js';

test('families and reason codes are complete and stable', () => {
  assert.deepEqual([...INJECTION_FAMILIES], ['prototype-pollution', 'nosql', 'crlf', 'traversal', 'sqli', 'xss', 'command', 'ldap', 'xpath', 'ssrf', 'evasion']);
  for (const f of INJECTION_FAMILIES) assert.match(REASON_CODES[f], /^RAMPART_INJECTION_[A-Z_]+$/);
  assert.equal(new Set(Object.values(REASON_CODES)).size, INJECTION_FAMILIES.length);
  assert.equal(isInjectionFamily('sqli'), true);
  assert.equal(isInjectionFamily('sql'), false);
});

test('a finding names family, rule and decoding; rules start with their family', () => {
  const f = inspectValue('<img src=x onerror=alert(1)>', { location: 'body' });
  assert.deepEqual(f, { family: 'xss', rule: 'xss.event-handler', via: 'raw' });
  for (const v of ["1' or '1'='1", '; cat /etc/passwd', '../../etc/passwd', 'http://127.0.0.1/', '*)(uid=*', '{"$gt":""}']) {
    const x = inspectValue(v, { location: 'query' })!;
    assert.ok(x.rule.startsWith(`${x.family}.`), `${v}: ${x.rule}`);
  }
});

test('skip: a field excepted from a family is not refused for it, other families still apply', () => {
  const v = '1 UNION SELECT 1,2';
  assert.equal(inspectValue(v, { location: 'body' })?.family, 'sqli');
  assert.equal(inspectValue(v, { location: 'body', skip: new Set(['sqli']) }), undefined);
  // an SQL exception does not open the XSS door
  assert.equal(inspectValue('<script>alert(1)</script>', { location: 'body', skip: new Set(['sqli']) })?.family, 'xss');
  // the XPath tautology is also an SQL one: skipping only sqli still refuses it as xpath
  assert.equal(inspectValue("' or '1'='1", { location: 'body', skip: new Set(['sqli']) })?.family, 'xpath');
  assert.equal(inspectValue('%25252527', { location: 'body' })?.rule, 'evasion.deep-encoding');
  assert.equal(inspectValue('%25252527', { location: 'body', skip: new Set(['evasion']) }), undefined);
});

test('CRLF strictness depends on the location', () => {
  const note = 'Hi,\nLocation: our NYC office\nThanks';
  assert.equal(inspectValue(note, { location: 'body' }), undefined, 'a note in a body may have line breaks');
  assert.equal(inspectValue(note, { location: 'header' })?.rule, 'crlf.control');
  assert.equal(inspectValue(note, { location: 'query' })?.rule, 'crlf.control');
  assert.equal(inspectValue(note, { location: 'path' })?.rule, 'crlf.control');
  assert.equal(inspectValue('x\r\nSet-Cookie: a=1', { location: 'body' })?.rule, 'crlf.header');
  assert.equal(inspectValue('x%0d%0aX-Any: 1', { location: 'body' })?.rule, 'crlf.header', 'an encoded line break before any header line');
  assert.equal(inspectValue('tab\tseparated', { location: 'header' }), undefined, 'tab is allowed in field values (RFC 9110)');
});

test('inspectKey: prototype pollution and NoSQL operators first, then the value checks', () => {
  assert.deepEqual(inspectKey('__proto__'), { family: 'prototype-pollution', rule: 'prototype-pollution.key', via: 'raw' });
  assert.deepEqual(inspectKey('constructor[prototype]'), { family: 'prototype-pollution', rule: 'prototype-pollution.key', via: 'raw' });
  assert.equal(inspectKey('constructor'), undefined, 'alone it pollutes nothing; its prototype key below is refused');
  assert.deepEqual(inspectKey('%5F%5Fproto%5F%5F'), { family: 'prototype-pollution', rule: 'prototype-pollution.key', via: 'url' });
  assert.deepEqual(inspectKey('$where'), { family: 'nosql', rule: 'nosql.operator-key', via: 'raw' });
  assert.deepEqual(inspectKey('password[$ne]'), { family: 'nosql', rule: 'nosql.operator-key', via: 'raw' });
  assert.equal(inspectKey('$ne', { skip: new Set(['nosql']) }), undefined);
  assert.equal(inspectKey('name\r\nX: 1')?.family, 'crlf', 'keys get the strict control-character check');
  assert.equal(inspectKey("x' or 1=1--")?.family, 'sqli');
  for (const k of ['accountId', 'amount_usd', 'first-name', 'note', '_id', '__v', 'proto', 'protocol']) assert.equal(inspectKey(k), undefined, k);
});

test('fast path: plain text is harmless without decoding; anything suspicious goes the slow way', () => {
  for (const s of ['Ann Example', 'acc_alice_1', '2024-05-12', '12/05/2024', 'Note: 10:30', '10% off', '$1,234.50', 'Order #123', 'ann@example.com', 'José Müller', 'buy/sell', 'Why? Because!']) assert.equal(isHarmless(s), true, s);
  for (const s of ["O'Brien", 'a;b', 'a=b', '<b>', '(x)', '%27', '&amp;', 'a\\b', 'x\ny', '..', '/etc/passwd', 'etc/passwd', 'http://x', 'localhost:80', '10.0.0.1:22', '$ne', '__proto__', 'constructor.prototype', '1 union select 1', '1 or 1 like 1', 'select null', '＜', 'ʼ', '‥', 'a--b', '.htaccess', '#', '@@version', 'or 1 between 0 and 2']) {
    assert.equal(isHarmless(s), false, s);
  }
});

test('length cap: longer than MAX_INSPECT_CHARS is refused as evasion.too-long; up to it is inspected in full', () => {
  assert.equal(MAX_INSPECT_CHARS, 1 << 20);
  assert.deepEqual(inspectValue('a'.repeat(MAX_INSPECT_CHARS + 1), { location: 'body' }), { family: 'evasion', rule: 'evasion.too-long', via: 'raw' });
  const tail = `${'Lorem ipsum dolor sit amet. '.repeat(37_000)}' OR 1=1--`;
  assert.ok(tail.length <= MAX_INSPECT_CHARS);
  assert.equal(inspectValue(tail, { location: 'body' })?.family, 'sqli', 'an attack at the end of a long value is found');
  assert.equal(inspectValue('Lorem ipsum dolor sit amet. '.repeat(37_000), { location: 'body' }), undefined);
  // a lower cap per deployment; never above MAX_INSPECT_CHARS
  assert.equal(inspectValue('a'.repeat(70_000), { location: 'body', maxChars: 65_536 })?.rule, 'evasion.too-long');
  assert.equal(inspectValue('a'.repeat(70_000), { location: 'body', maxChars: 1 << 30 }), undefined);
  assert.equal(inspectValue('a'.repeat(MAX_INSPECT_CHARS + 1), { location: 'body', maxChars: 1 << 30 })?.rule, 'evasion.too-long');
});

/** Deterministic pseudo-random generator (mulberry32) for the fuzz test. */
function rng(seed: number): () => number {
  let a = seed;
  return () => {
    a |= 0;
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

test('never throws: random hostile input, lone surrogates, odd escapes, every location', () => {
  const pieces = ["'", '"', '`', ';', '|', '&', '<', '>', '(', ')', '{', '}', '[', ']', '%', '%2', '%25', '%c0', '%u', '%uD800', '&#', '&#x', '&#x110000;', '\\u', '\\u{', '\\x', '\\0', '\0', '\r', '\n', '\ud800', '\udc00', '\ufdfa', '＜', '/*', '*/', '/*!', '--', '#', '@@', '$', '${', '$(', '://', 'http://', '[::', ']', ':', '.', '..', '/', '\\', 'or', 'union', 'select', 'sleep(', 'javascript:', 'on', '=', '0x', '1', 'a', ' '];
  const next = rng(42);
  const locations = ['path', 'query', 'header', 'body', 'form', 'key'] as const;
  let found = 0;
  for (let i = 0; i < 3000; i++) {
    let s = '';
    const n = 1 + Math.floor(next() * 24);
    for (let j = 0; j < n; j++) s += pieces[Math.floor(next() * pieces.length)];
    const location = locations[i % locations.length]!;
    let f: Finding | undefined;
    assert.doesNotThrow(() => {
      f = location === 'key' ? inspectKey(s) : inspectValue(s, { location, hostField: i % 7 === 0 });
    }, JSON.stringify(s));
    if (f) {
      found++;
      assert.ok(INJECTION_FAMILIES.includes(f.family) && f.rule.startsWith(`${f.family}.`) && typeof f.via === 'string', JSON.stringify(f));
    }
  }
  assert.ok(found > 1000, `most random metacharacter soup is refused (${found}/3000)`);
});

test('fail closed: a value that is not a string is an inspector error, not "allow"', () => {
  assert.deepEqual(inspectValue(42 as unknown as string, { location: 'body' }), { family: 'evasion', rule: 'evasion.inspector-error', via: 'raw' });
  assert.deepEqual(inspectKey(null as unknown as string), { family: 'evasion', rule: 'evasion.inspector-error', via: 'raw' });
});
