/**
 * DLP masking transforms: mask keeps separators, partial keeps what each class may show (last 4,
 * e-mail domain, birth year, IPv4 network, initials), and none of them leaks more on short or odd
 * values or breaks a character.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { keepInitials, keepTail, maskAll, partialDate, partialEmail, partialIp, partialValue, transform } from '../../src/threat/dlp/mask.js';

test('mask: every character but separators', () => {
  assert.equal(maskAll('123-45-6789'), '***-**-****');
  assert.equal(maskAll('(202) 555-0143'), '(***) ***-****');
  assert.equal(maskAll('jane@example.com'), '****@*******.***');
  assert.equal(maskAll('Zoë 😀'), '*** **', 'a surrogate pair becomes two stars, never half a character');
  assert.equal(maskAll(''), '');
});

test('partial: the last four of identifiers, at most half of short ones', () => {
  assert.equal(partialValue('ssn', '123-45-6789'), '***-**-6789');
  assert.equal(partialValue('ssn', '123456789'), '*****6789');
  assert.equal(partialValue('card-number', '4111 1111 1111 1111'), '**** **** **** 1111');
  assert.equal(partialValue('account-number', 'GB82WEST12345698765432'), '******************5432');
  assert.equal(partialValue('routing-number', '011000015'), '*****0015');
  assert.equal(partialValue('phone', '+1 (202) 555-0143'), '+* (***) ***-0143');
  assert.equal(partialValue('tax-id', '12-3456789'), '**-***6789');
  // Short values never show more than half.
  assert.equal(keepTail('4321'), '**21');
  assert.equal(keepTail('1234567'), '****567');
  assert.equal(keepTail('7'), '*');
  assert.equal(keepTail('N/A'), '*/A', 'half of 2 letters');
});

test('partial: e-mail, date of birth, IP address, names and everything else', () => {
  assert.equal(partialEmail('jane.doe@example.com'), 'j***@example.com');
  assert.equal(partialEmail('😀x@example.com'), '😀***@example.com');
  assert.equal(partialEmail('not-an-email'), '***-**-*****');
  assert.equal(partialEmail('@example.com'), '@*******.***');
  assert.equal(partialDate('1984-03-14'), '1984-**-**');
  assert.equal(partialDate('03/14/1984'), '**/**/1984');
  assert.equal(partialDate('1984-03-14T00:00:00Z'), '1984-**-*****:**:***');
  assert.equal(partialDate('March 14, 1984'), '***** **, ****');
  assert.equal(partialIp('203.0.113.77'), '203.0.*.*');
  assert.equal(partialIp('2001:db8::1'), '****:***::*');
  assert.equal(keepInitials('Alice Example'), 'A**** E******');
  assert.equal(keepInitials('100 Fictional Avenue, Apt 4B'), '1** F******** A*****, A** 4*');
  assert.equal(keepInitials('😀bc de'), '😀** d*');
  assert.equal(partialValue('name', "O'Brien-Smith"), 'O******-S****');
  assert.equal(partialValue('passport', 'X1234567'), 'X*******');
});

test('transform dispatches on the action; none leaves the text alone', () => {
  assert.equal(transform('mask', 'ssn', '123-45-6789'), '***-**-****');
  assert.equal(transform('partial', 'ssn', '123-45-6789'), '***-**-6789');
  assert.equal(transform('none', 'ssn', '123-45-6789'), '123-45-6789');
});
