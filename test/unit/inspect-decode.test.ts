/**
 * Decoding before inspection: percent (once, twice, three times, %u, overlong UTF-8), HTML
 * references, JS escapes, NFKC and best-fit folding, NUL removal; the variant labels that end up
 * in Finding.via; and the bounds (passes, variant count and length).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeVariants, escapeDecode, htmlDecode, percentDecode, foldCompat, MAX_VARIANTS, DECODE_PASSES } from '../../src/threat/inspect/decode.js';

const texts = (v: string) => decodeVariants(v).variants.map((x) => [x.via, x.text]);

test('percent: one, two and three levels, each a labelled variant', () => {
  assert.deepEqual(texts('%2527%2520OR'), [
    ['raw', '%2527%2520OR'],
    ['url', '%27%20OR'],
    ['url2', "' OR"],
  ]);
  assert.deepEqual(texts('%252527')[3], ['url3', "'"]);
  assert.equal(decodeVariants('%252527').evasion, undefined);
});

test('still encoded after three passes is evasion.deep-encoding', () => {
  assert.equal(DECODE_PASSES, 3);
  const d = decodeVariants('%25252527');
  assert.equal(d.evasion, 'evasion.deep-encoding');
  assert.equal(d.variants.length, 4, 'raw + three passes, the fourth is not inspected');
  assert.equal(decodeVariants('&amp;amp;amp;amp;lt;').evasion, 'evasion.deep-encoding');
  assert.equal(decodeVariants('100%25 sure').evasion, undefined);
});

test('percent details: UTF-8 runs, Latin-1 fallback, %u, + only in encoded text, invalid escapes kept', () => {
  assert.equal(percentDecode('caf%C3%A9').text, 'café');
  assert.equal(percentDecode('a%a0b').text, 'a\u00a0b', 'a byte that is not UTF-8 is Latin-1 (NBSP: whitespace to MySQL)');
  assert.equal(percentDecode('%u003cscript').text, '<script');
  assert.equal(percentDecode('1+union+select%201').text, '1 union select 1');
  assert.equal(percentDecode('a%2Bb').text, 'a+b', 'a decoded %2B stays a plus');
  assert.equal(percentDecode('1+1').text, '1+1', 'no escape: + is not form encoding');
  assert.equal(percentDecode('100% %zz %4').text, '100% %zz %4');
});

test('overlong UTF-8 is decoded to what it pretends to be and flagged', () => {
  const r = percentDecode('..%c0%af..%e0%80%afetc');
  assert.equal(r.text, '../../etc');
  assert.equal(r.overlong, true);
  assert.equal(decodeVariants('%c0%ae%c0%ae/').evasion, 'evasion.overlong-utf8');
  assert.equal(percentDecode('%c3%a9').overlong, false);
});

test('HTML references: named (case-sensitive, legacy ones without ;), decimal, hex, leading zeros', () => {
  assert.equal(htmlDecode('&lt;script&gt;'), '<script>');
  assert.equal(htmlDecode('&LT;&lt&amp'), '<<&');
  assert.equal(htmlDecode('&#39;&#x27;&#X27;&#0000039;'), "''''");
  assert.equal(htmlDecode('java&Tab;script&colon;'), 'java\tscript:');
  assert.equal(htmlDecode('&Colon;'), '&Colon;', 'not the ASCII colon');
  assert.equal(htmlDecode('AT&T and &unknown;'), 'AT&T and &unknown;');
  assert.equal(htmlDecode('&#0;&#xD800;&#99999999;'), '\ufffd\ufffd\ufffd');
});

test('JS escapes: \\u, \\u{}, \\x, octal; letter escapes and \\\\ are left alone', () => {
  assert.equal(escapeDecode('\\u003cscript\\x3e'), '<script>');
  assert.equal(escapeDecode('\\u{27}\\047'), "''");
  assert.equal(escapeDecode('C:\\new\\report'), 'C:\\new\\report');
  assert.equal(escapeDecode('\\\\u0027'), "\\'");
});

test('NFKC and best-fit folding: fullwidth, enclosed digits, modifier apostrophe, Unicode slashes', () => {
  assert.equal(foldCompat('＜script＞'), '<script>');
  assert.equal(foldCompat('①②⑦.⓪.⓪.①'), '127.0.0.1');
  assert.equal(foldCompat('ʼ OR ʼ1ʼ'), "' OR '1'");
  assert.equal(foldCompat('..∕..∕etc'), '../../etc');
  assert.equal(foldCompat('sel\u200bect'), 'select');
  assert.deepEqual(texts('＇ OR 1=1')[1], ['nfkc', "' OR 1=1"]);
});

test('several decoders in one pass are joined in the label; NUL and + variants', () => {
  assert.deepEqual(texts('%26lt%3Bscript')[1], ['url+html', '<script'], 'entity inside percent: one pass');
  assert.deepEqual(texts('%2526lt%253B')[2], ['url2+html2', '<']);
  assert.deepEqual(texts('&#x25;3C')[1], ['html', '%3C']);
  assert.deepEqual(texts('&#x3c;%3e')[1], ['url+html', '<>']);
  assert.deepEqual(texts('<scr%00ipt>').at(-1), ['nul', '<script>']);
  assert.deepEqual(texts('1+union+select+1').at(-1), ['plus', '1 union select 1']);
  assert.deepEqual(texts('plain text'), [['raw', 'plain text']]);
});

test('bounds: at most MAX_VARIANTS variants, none longer than 4x the input', () => {
  const nasty = `${'\ufdfa'.repeat(1000)}%25%32%35%32%37&amp;amp;\\u0025<scr\0ipt>+x`;
  const d = decodeVariants(nasty);
  assert.ok(d.variants.length <= MAX_VARIANTS);
  for (const v of d.variants) assert.ok(v.text.length <= nasty.length * 4, `${v.via}: ${v.text.length}`);
  const seen = new Set(d.variants.map((v) => v.text));
  assert.equal(seen.size, d.variants.length, 'variants are distinct');
});
