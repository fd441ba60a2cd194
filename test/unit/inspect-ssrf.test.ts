/**
 * SSRF (API7, ASVS 5.2.6): the syntactic IP parsers (inet_aton forms, IPv6 with embedded IPv4),
 * the ranges, host names, what counts as URL-shaped, and parser differentials. No DNS lookup is
 * made: a public-looking name is judged by its spelling only.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseIPv4, parseIPv6, classifyIPv4, classifyIPv6 } from '../../src/threat/inspect/ip.js';
import { classifyHost, detectSsrf } from '../../src/threat/inspect/ssrf.js';
import { inspectValue } from '../../src/threat/inspect/index.js';

const ip = (s: string) => {
  const v = parseIPv4(s);
  return v === undefined ? undefined : [v >>> 24, (v >>> 16) & 255, (v >>> 8) & 255, v & 255].join('.');
};

test('IPv4 in every inet_aton form', () => {
  assert.equal(ip('127.0.0.1'), '127.0.0.1');
  assert.equal(ip('127.1'), '127.0.0.1');
  assert.equal(ip('127.0.1'), '127.0.0.1');
  assert.equal(ip('2130706433'), '127.0.0.1');
  assert.equal(ip('017700000001'), '127.0.0.1');
  assert.equal(ip('0x7f000001'), '127.0.0.1');
  assert.equal(ip('0x7f.1'), '127.0.0.1');
  assert.equal(ip('0177.0.0.01'), '127.0.0.1');
  assert.equal(ip('0'), '0.0.0.0');
  assert.equal(ip('10.0.0.1.'), '10.0.0.1', 'trailing dot');
  for (const bad of ['256.0.0.1', '1.2.3.4.5', '08.1.1.1', '1..1', 'example.com', '0x', '4294967296']) assert.equal(ip(bad), bad === '0x' ? '0.0.0.0' : undefined, bad);
});

test('IPv6: compression, embedded IPv4, zone ids, invalid forms', () => {
  assert.deepEqual(parseIPv6('::1'), [...new Array(15).fill(0), 1]);
  assert.deepEqual(parseIPv6('::ffff:127.0.0.1')?.slice(10), [255, 255, 127, 0, 0, 1]);
  assert.deepEqual(parseIPv6('::ffff:7f00:1')?.slice(10), [255, 255, 127, 0, 0, 1]);
  assert.deepEqual(parseIPv6('fe80::1%eth0')?.slice(0, 2), [0xfe, 0x80]);
  assert.deepEqual(parseIPv6('1:2:3:4:5:6:7:8')?.slice(14), [0, 8]);
  for (const bad of ['1:2:3:4:5:6:7:8:9', '::1::', 'g::1', '1:2:3', ':::', '::ffff:300.0.0.1']) assert.equal(parseIPv6(bad), undefined, bad);
});

test('ranges', () => {
  const c4 = (s: string) => classifyIPv4(parseIPv4(s)!);
  assert.equal(c4('169.254.169.254'), 'metadata');
  assert.equal(c4('100.100.100.200'), 'metadata');
  assert.equal(c4('127.255.0.1'), 'loopback');
  assert.equal(c4('0.1.2.3'), 'unspecified');
  assert.equal(c4('10.1.2.3'), 'private');
  assert.equal(c4('172.16.0.1'), 'private');
  assert.equal(c4('172.31.255.255'), 'private');
  assert.equal(c4('172.32.0.1'), undefined);
  assert.equal(c4('192.168.1.1'), 'private');
  assert.equal(c4('169.254.1.1'), 'link-local');
  assert.equal(c4('100.64.0.1'), 'cgnat');
  assert.equal(c4('100.128.0.1'), undefined);
  assert.equal(c4('224.0.0.1'), 'reserved');
  assert.equal(c4('255.255.255.255'), 'reserved');
  assert.equal(c4('8.8.8.8'), undefined);
  assert.equal(c4('93.184.216.34'), undefined);
  const c6 = (s: string) => classifyIPv6(parseIPv6(s)!);
  assert.equal(c6('::1'), 'loopback');
  assert.equal(c6('::'), 'unspecified');
  assert.equal(c6('::ffff:169.254.169.254'), 'metadata');
  assert.equal(c6('::ffff:8.8.8.8'), undefined);
  assert.equal(c6('64:ff9b::10.0.0.1'), 'private');
  assert.equal(c6('2002:7f00:1::'), 'loopback');
  assert.equal(c6('fd00:ec2::254'), 'metadata');
  assert.equal(c6('fc00::1'), 'private');
  assert.equal(c6('fe80::1'), 'link-local');
  assert.equal(c6('ff02::1'), 'reserved');
  assert.equal(c6('2606:4700:4700::1111'), undefined);
});

test('host names: loopback, metadata, internal suffixes, rebinding services; public names pass (no DNS)', () => {
  assert.equal(classifyHost('localhost'), 'ssrf.loopback');
  assert.equal(classifyHost('LOCALHOST.'), 'ssrf.loopback');
  assert.equal(classifyHost('api.localhost'), 'ssrf.internal-name');
  assert.equal(classifyHost('metadata.google.internal'), 'ssrf.metadata');
  assert.equal(classifyHost('db.internal'), 'ssrf.internal-name');
  assert.equal(classifyHost('127.0.0.1.nip.io'), 'ssrf.internal-name');
  assert.equal(classifyHost('[::1]'), 'ssrf.loopback');
  assert.equal(classifyHost('localhostel.example.com'), undefined);
  assert.equal(classifyHost('metadata.example.com'), undefined);
  // Resolves to 127.0.0.1 in public DNS, but no lookup is made: the proxy's allowlist must catch it.
  assert.equal(classifyHost('localtest.example'), undefined);
});

test('URL shapes: scheme://, special schemes without slashes, //host, host:port, host fields', () => {
  assert.equal(detectSsrf('http://169.254.169.254/latest/', false), 'ssrf.metadata');
  assert.equal(detectSsrf('see http://10.0.0.5/report please', false), 'ssrf.private');
  assert.equal(detectSsrf('http:127.0.0.1/', false), 'ssrf.loopback');
  assert.equal(detectSsrf('http:\\\\127.0.0.1\\x', false), 'ssrf.loopback');
  assert.equal(detectSsrf('//localhost:8080', false), 'ssrf.loopback');
  assert.equal(detectSsrf('127.0.0.1:6379', false), 'ssrf.loopback');
  assert.equal(detectSsrf('[::1]:22', false), 'ssrf.loopback');
  assert.equal(detectSsrf('gopher://example.com/_x', false), 'ssrf.scheme');
  assert.equal(detectSsrf('10:30', false), undefined, 'a clock time is not host:port');
  assert.equal(detectSsrf('0.5:1', false), undefined, 'nor is a ratio');
  assert.equal(detectSsrf('10.0.0.1', false), undefined, 'a bare address is not URL-shaped');
  assert.equal(detectSsrf('10.0.0.1', true), 'ssrf.private', 'unless the field is a host field');
  assert.equal(detectSsrf('https://www.example.com/a?b=c', false), undefined);
});

test('parser differentials: every host a parser could pick is checked', () => {
  assert.equal(detectSsrf('http://good.example@127.0.0.1/', false), 'ssrf.loopback');
  assert.equal(detectSsrf('http://127.0.0.1:80@good.example/', false), 'ssrf.loopback');
  assert.equal(detectSsrf('http://127.0.0.1#@good.example/', false), 'ssrf.loopback');
  assert.equal(detectSsrf('http://good.example#@127.0.0.1/', false), 'ssrf.loopback');
  assert.equal(detectSsrf('http://user:pass@good.example/', false), undefined);
  // WHATWG URL's own view: IDNA and percent-decoding of the host
  assert.equal(detectSsrf('http://%6c%6f%63%61%6c%68%6f%73%74/', false), 'ssrf.loopback');
});

test('through inspectValue: decoded and folded forms, via', () => {
  assert.deepEqual(inspectValue('http://2130706433/', { location: 'query' }), { family: 'ssrf', rule: 'ssrf.loopback', via: 'raw' });
  assert.deepEqual(inspectValue('http%3A%2F%2F169.254.169.254%2F', { location: 'query' }), { family: 'ssrf', rule: 'ssrf.metadata', via: 'url' });
  assert.deepEqual(inspectValue('http://①②⑦.⓪.⓪.①/', { location: 'body' }), { family: 'ssrf', rule: 'ssrf.loopback', via: 'raw' }, 'WHATWG IDNA folds it already');
  assert.deepEqual(inspectValue('//①②⑦.⓪.⓪.①/', { location: 'body' }), { family: 'ssrf', rule: 'ssrf.loopback', via: 'nfkc' });
  assert.deepEqual(inspectValue('metadata.google.internal', { location: 'body', hostField: true }), { family: 'ssrf', rule: 'ssrf.metadata', via: 'raw' });
  assert.equal(inspectValue('https://api.example.com:8443/v1/callback', { location: 'body' }), undefined);
});
