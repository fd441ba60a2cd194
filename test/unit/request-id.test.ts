/**
 * Request ids are UUIDv7 (RFC 9562 5.7): time-ordered, so the ledger's request-id index stays
 * append-local (issue 4's append throughput), and random enough not to be guessed.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { requestId } from '../../src/core/request-id.js';

const V7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

test('the RFC 9562 layout: version 7, variant 10, the millisecond time in the first 48 bits', () => {
  const at = Date.UTC(2026, 10, 28, 12, 0, 0, 123);
  const id = requestId(at);
  assert.match(id, V7);
  assert.equal(parseInt(id.replace(/-/g, '').slice(0, 12), 16), at);
  assert.equal(parseInt(requestId(0).slice(0, 8), 16), 0);
  assert.equal(parseInt(requestId(2 ** 48 - 1).replace(/-/g, '').slice(0, 12), 16), 2 ** 48 - 1);
});

test('ids of later milliseconds sort after earlier ones; within one they differ', () => {
  const ids: string[] = [];
  for (let ms = 1_700_000_000_000; ms < 1_700_000_000_000 + 2000; ms++) ids.push(requestId(ms));
  assert.deepEqual([...ids].sort(), ids);
  const same = new Set(Array.from({ length: 100_000 }, () => requestId(1_700_000_000_000)));
  assert.equal(same.size, 100_000, 'no collision among 100k ids of one millisecond');
  for (const id of [...same].slice(0, 1000)) assert.match(id, V7);
});

test('the random part is not constant across pool refills (74 random bits per id)', () => {
  const tails = new Set<string>();
  for (let i = 0; i < 1000; i++) tails.add(requestId(1).slice(15));
  assert.equal(tails.size, 1000);
});
