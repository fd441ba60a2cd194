/**
 * SQL injection: the lexer's contexts and tokens, each rule on its classic payloads, and the text
 * decisions the rules make on purpose (docs/inspection.md): apostrophes in names, SQL words in
 * prose, "1=1 is true", "10 or 20".
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { detectSqli, sqlPossible } from '../../src/threat/inspect/sql.js';
import { tokenize, fingerprint } from '../../src/threat/inspect/sql-lexer.js';
import { inspectValue } from '../../src/threat/inspect/index.js';

const fp = (s: string, ctx: 0 | 39 | 34 = 0) => fingerprint(tokenize(s.toLowerCase(), ctx)).fp;
const sqli = (s: string) => detectSqli(s.toLowerCase());

test('lexer: strings, comments, numbers, words, operators', () => {
  assert.equal(fp("admin' or 1=1--", 39), 's&1=1c');
  assert.equal(fp("o'brien", 39), 'sn');
  assert.equal(fp("o'brien"), 'nq', 'outside a string the quote opens one that never closes');
  assert.equal(fp("'it''s' 'a\\'b'"), 'ss', 'doubled quotes and backslash escapes stay inside the string');
  assert.equal(fp("x'4142' n'abc' 0x41 0b101 1.5e3 .5"), 'ss1111');
  assert.equal(fp('1union select 1e0union'), '1UE1U', 'a number glued to a keyword is split');
  assert.equal(fp('5pm 2nd 100k'), 'nnn', 'a number glued to another word is an identifier');
  assert.equal(fp('sleep (5) sleep(5) foo(1) foo (1) if(1)'), 'F(1)F(1)f(1)n(1)F(1)');
  assert.equal(fp('a is not null and b in (1) or c like d'), 'n=!t&n=(1)&n=n');
  assert.equal(fp('order by 1 group by 2 having'), 'B1B1H');
  assert.equal(fp('@@version @x && || <=> <> != := ::'), 'vv&&===oo');
  assert.equal(fp('1 /* c */ union -- x\n select # y'), '1UEc', 'block and inner line comments are whitespace; a trailing one stays');
  assert.equal(fp('/*!50000union*/ /*!select*/ 1'), 'UE1', 'MySQL executable comments are code');
});

test('tautologies in string and numeric context', () => {
  for (const p of ["' OR '1'='1", "admin' or 1=1--", '" or ""="', "') or ('a'='a", "' or true--", "' or 1#", "' || 1=1--", "' or not 1=2--", "'or-1=-1--", '1 OR 1=1', '1) AND 1=1 AND (1=1', '-1 or 1=1', 'id=1 and 1=1', 'abc) and 1234=1234 and (5678=5678', "' or ''-'", "'='", "'-0-'"]) {
    assert.equal(sqli(p), 'sqli.tautology', p);
  }
});

test('union, stacked, time, order by, having, subquery, conditional, functions', () => {
  const cases: [string, string][] = [
    ["' UNION SELECT 1,2--", 'sqli.union'],
    ['1 union all select null,null', 'sqli.union'],
    ['1 union(select 1)', 'sqli.union'],
    ["'; DROP TABLE users--", 'sqli.stacked'],
    ['1; delete from accounts', 'sqli.stacked'],
    ["'; exec xp_cmdshell 'dir'--", 'sqli.stacked'],
    ["'; declare @q varchar(9)--", 'sqli.stacked'],
    ['1;select pg_sleep(5)--', 'sqli.stacked'],
    ['1 waitfor delay \'0:0:5\'', 'sqli.time'],
    ['x benchmark(1000000,md5(1))', 'sqli.time'],
    ['sleep(5)#', 'sqli.time'],
    ['1 ORDER BY 5--', 'sqli.order-by'],
    ["' order by 3#", 'sqli.order-by'],
    ['1 order by 2', 'sqli.order-by'],
    ['1 having 1=1', 'sqli.having'],
    ["'+sleep(5)+'", 'sqli.operator'],
    ['1 rlike (select 1)', 'sqli.operator'],
    ['(select @@version)', 'sqli.subquery'],
    ['select * from users', 'sqli.subquery'],
    ['1,(select 1)', 'sqli.subquery'],
    ['case when 1=1 then 1 else 0 end', 'sqli.conditional'],
    ['if(1=1,1,0)', 'sqli.conditional'],
    ['x extractvalue(1,1)', 'sqli.dangerous-function'],
    ['information_schema.tables', 'sqli.dangerous-function'],
    ['@@version', 'sqli.system-variable'],
    ["' into outfile '/tmp/x'", 'sqli.into-outfile'],
    ['char(97)+char(100)', 'sqli.obfuscation'],
    ['admin\'--', 'sqli.truncation'],
    ['admin\')#', 'sqli.truncation'],
  ];
  for (const [p, rule] of cases) assert.equal(sqli(p), rule, p);
});

test('comment obfuscation: UN/**/ION is read with the comment removed too', () => {
  assert.equal(sqli('1 UN/**/ION SEL/**/ECT 1,2'), 'sqli.union');
  assert.equal(sqli("1'/**/or/**/'1'='1"), 'sqli.tautology');
});

test('text that stays text (documented decisions)', () => {
  for (const t of [
    "O'Brien",
    "D'Angelo & Sons",
    "It's 5 o'clock",
    'Please sell 100 shares; thanks!',
    'select the best fund',
    'Select 2 funds from the list below',
    'drop me a line',
    'Order by 5 pm',
    'Please order by 5 and call me',
    '1=1 is true',
    '10 or 20',
    '5 or 10% off',
    'true or false',
    'If (and only if) the price drops, buy',
    "Clients' #1 priority",
    'Union Bank; select account',
    '5\' 10" tall',
    'Wait -- don\'t execute yet',
  ]) {
    assert.equal(sqli(t), undefined, t);
    assert.equal(inspectValue(t, { location: 'body' }), undefined, t);
  }
});

test('the gate lexes only what could match', () => {
  assert.equal(sqlPossible("o'brien"), false);
  assert.equal(sqlPossible('buy 50; no margin'), false);
  assert.equal(sqlPossible('(see note)'), false);
  assert.equal(sqlPossible("x' or 1=1"), true);
  assert.equal(sqlPossible('x sleep (5)'), true);
  assert.equal(sqlPossible("'-'"), true);
  assert.equal(sqlPossible('un/**/ion'), true);
});

test('encoded payloads are caught in the decoded variant, and via says which', () => {
  assert.deepEqual(inspectValue('%27%20OR%201%3D1--', { location: 'query' }), { family: 'sqli', rule: 'sqli.tautology', via: 'url' });
  assert.deepEqual(inspectValue('%2527%2520OR%25201%253D1--', { location: 'query' }), { family: 'sqli', rule: 'sqli.tautology', via: 'url2' });
  assert.deepEqual(inspectValue('&#39; OR 1=1--', { location: 'query' }), { family: 'sqli', rule: 'sqli.tautology', via: 'html' });
  assert.deepEqual(inspectValue('\\u0027 OR 1=1--', { location: 'query' }), { family: 'sqli', rule: 'sqli.tautology', via: 'unicode' });
  assert.deepEqual(inspectValue('ʼ OR ʼ1ʼ=ʼ1', { location: 'query' }), { family: 'sqli', rule: 'sqli.tautology', via: 'nfkc' }, 'best-fit apostrophe');
  assert.deepEqual(inspectValue('1+union+select+1,2', { location: 'body' }), { family: 'sqli', rule: 'sqli.union', via: 'plus' });
});
