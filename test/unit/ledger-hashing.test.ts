/**
 * The hashing primitives of the ledger, pinned: canonical JSON (RFC 8785 style), the RFC 9162
 * leaf and chain hashes (against vectors computed with openssl), and the salted commitments.
 * A change here silently invalidates every stored chain, so these values must never move.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, createHmac } from 'node:crypto';
import { canonicalize } from '../../src/ledger/canonical.js';
import { buildStoredRecord, chainHash, GENESIS_HASH, leafHash, recordSeqOf, verifySequence } from '../../src/ledger/chain.js';
import { commitBody, commitPersonal, newBodyCommitter, verifyBodyCommit, verifyPersonalCommit } from '../../src/ledger/commit.js';
import type { LedgerRecord, StoredRecord } from '../../src/ledger/record.js';

describe('canonical JSON', () => {
  it('sorts members by UTF-16 code units (RFC 8785 §3.2.3 example)', () => {
    const o = { '\u20ac': 'Euro Sign', '\r': 'Carriage Return', '\ufb33': 'Hebrew Letter Dalet With Dagesh', '1': 'One', '\ud83d\ude00': 'Emoji: Grinning Face', '\u0080': 'Control', '\u00f6': 'Latin Small Letter O With Diaeresis' };
    // Compared as text: parsing it back would move the integer-like key "1" first.
    const order = ['\r', '1', '\u0080', '\u00f6', '\u20ac', '\ud83d\ude00', '\ufb33'];
    assert.equal(canonicalize(o), `{${order.map((k) => `${JSON.stringify(k)}:${JSON.stringify(o[k as keyof typeof o])}`).join(',')}}`);
  });

  it('has no whitespace, omits undefined members, and nests', () => {
    assert.equal(canonicalize({ b: [1, 'x', null, true, { d: 1, c: undefined, a: false }], a: {} }), '{"a":{},"b":[1,"x",null,true,{"a":false,"d":1}]}');
    assert.equal(canonicalize(Object.assign(Object.create(null) as object, { z: 1, y: 2 })), '{"y":2,"z":1}');
  });

  it('writes numbers and strings as ECMAScript JSON does', () => {
    assert.equal(canonicalize([0, -0, 1, -1.5, 0.1, 1e21, 5e-7, 2 ** 53 - 1]), '[0,0,1,-1.5,0.1,1e+21,5e-7,9007199254740991]');
    assert.equal(canonicalize('a"b\\c\u0000\u001f\n'), JSON.stringify('a"b\\c\u0000\u001f\n'));
    assert.equal(canonicalize('é😀\u2028'), '"é😀\u2028"');
    assert.equal(canonicalize('x\ud800y'), '"x\\ud800y"', 'a lone surrogate is escaped');
  });

  it('equals JSON.stringify of the same object with sorted keys', () => {
    const rec = { v: 1, seq: 42, ts: 1_700_000_000_123, type: 'exchange.decision', route: '/a/{b}', detail: { q: 'say "hi"', n: null, f: 0.25 } };
    const sorted = (o: Record<string, unknown>): Record<string, unknown> =>
      Object.fromEntries(Object.keys(o).sort().map((k) => [k, o[k] && typeof o[k] === 'object' ? sorted(o[k] as Record<string, unknown>) : o[k]]));
    assert.equal(canonicalize(rec), JSON.stringify(sorted(rec)));
  });

  it('refuses what JSON would silently change', () => {
    for (const bad of [Number.NaN, Infinity, -Infinity, 1n, () => 1, Symbol('s'), undefined, [undefined], new Date(0), Buffer.from('x'), new Map(), { a: { b: Number.NaN } }]) {
      assert.throws(() => canonicalize(bad), TypeError, String(bad));
    }
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    assert.throws(() => canonicalize(cyclic), TypeError);
  });
});

describe('RFC 9162 hashes', () => {
  it('leaf = SHA-256(0x00 || canonical), pinned with openssl', () => {
    assert.equal(leafHash('{}'), '28a3a18f6cd6406b086e9ffda1f9b8a13dbcf44b0f3f32cb9031a11fd053acf9');
    assert.equal(leafHash('{"a":1}'), 'c7261463ebd776f4650b6d0fe942d9cc38c925d90f77d440ab6df8d5dd258c5f');
    const text = '{"route":"/ä/😀"}';
    assert.equal(leafHash(text), createHash('sha256').update(Buffer.from([0])).update(text, 'utf8').digest('hex'));
  });

  it('chain = SHA-256(0x01 || prev || leaf), from 32 zero bytes, pinned with openssl', () => {
    assert.equal(GENESIS_HASH, '0'.repeat(64));
    assert.equal(chainHash(GENESIS_HASH, leafHash('{}')), '1f42ae262679597b1b25a082d99e368464d8a3243613e766350d1cee09893057');
    const a = leafHash('{"a":1}');
    const prev = chainHash(GENESIS_HASH, leafHash('{}'));
    const ref = createHash('sha256').update(Buffer.from([1])).update(Buffer.from(prev, 'hex')).update(Buffer.from(a, 'hex')).digest('hex');
    assert.equal(chainHash(prev, a), ref);
  });

  it('a hash that is not 64 hex digits never links', () => {
    assert.equal(chainHash('zz' + '0'.repeat(62), leafHash('{}')), 'invalid');
    assert.equal(chainHash(GENESIS_HASH, leafHash('{}').slice(1)), 'invalid');
    assert.equal(chainHash(GENESIS_HASH, `${leafHash('{}').slice(0, 62)}zz`), 'invalid');
  });

  it('verifySequence accepts an intact sequence and names the first bad record', () => {
    const recs: StoredRecord[] = [];
    let prev = GENESIS_HASH;
    for (let seq = 1; seq <= 5; seq++) {
      const r: LedgerRecord = { v: 1, seq, ts: seq, type: 'system.event', node: 'n', outcome: 'info', configHash: 'x' };
      const s = buildStoredRecord(r, prev);
      prev = s.chainHash;
      recs.push(s);
    }
    assert.deepEqual(verifySequence(recs), { ok: true, count: 5, last: { seq: 5, chainHash: prev } });
    assert.equal(verifySequence(recs.slice(2), { seq: 2, chainHash: recs[1]!.chainHash }).ok, true);
    const tampered = recs.map((r) => ({ ...r }));
    tampered[3] = { ...tampered[3]!, canonical: tampered[3]!.canonical.replace('"ts":4', '"ts":9') };
    const v = verifySequence(tampered);
    assert.equal(v.ok, false);
    assert.deepEqual({ seq: v.firstBad!.seq, problem: v.firstBad!.problem, count: v.count }, { seq: 4, problem: 'modified', count: 3 });
    assert.equal(recordSeqOf(recs[0]!.canonical), 1);
    assert.equal(recordSeqOf(' {"seq":1}'), undefined, 'not canonical: leading space');
    assert.equal(recordSeqOf('{"seq":1,"a":2}'), undefined, 'not canonical: unsorted');
  });
});

describe('salted commitments', () => {
  it('a streamed body commits the same as the whole body, keyed by a fresh 256-bit salt', () => {
    const body = Buffer.from('{"amount":"1250.00","to":"ACC-2"}');
    const c = newBodyCommitter();
    c.update(body.subarray(0, 7));
    c.update(body.subarray(7).toString('utf8'));
    assert.equal(c.length, body.length);
    const got = c.finish();
    assert.match(got.salt, /^[0-9a-f]{64}$/);
    assert.equal(got.length, body.length);
    assert.equal(got.mac, createHmac('sha256', Buffer.from(got.salt, 'hex')).update(body).digest('hex'));
    assert.ok(verifyBodyCommit(body, got));
    assert.ok(!verifyBodyCommit(Buffer.from('{"amount":"9250.00","to":"ACC-2"}'), got));
    assert.throws(() => c.finish(), TypeError);
    assert.throws(() => c.update('x'), TypeError);
    const empty = commitBody('');
    assert.equal(empty.length, 0);
    assert.ok(verifyBodyCommit('', empty));
  });

  it('equal values get different commitments (no guessing small values) that still verify', () => {
    const fields = { principal: 'alice', pathParams: { ssn: '078-05-1120' } };
    const a = commitPersonal(fields);
    const b = commitPersonal(fields);
    assert.notEqual(a.salt, b.salt);
    assert.notEqual(a.commit, b.commit);
    assert.equal(a.commit, createHmac('sha256', Buffer.from(a.salt, 'hex')).update(canonicalize(fields)).digest('hex'));
    assert.ok(verifyPersonalCommit({ pathParams: { ssn: '078-05-1120' }, principal: 'alice' }, a.salt, a.commit), 'key order does not matter');
    assert.ok(!verifyPersonalCommit({ ...fields, principal: 'mallory' }, a.salt, a.commit));
    assert.ok(!verifyPersonalCommit(fields, b.salt, a.commit));
    assert.ok(!verifyPersonalCommit(fields, a.salt, 'not hex'));
    const salts = new Set(Array.from({ length: 500 }, () => commitBody('x').salt));
    assert.equal(salts.size, 500);
  });
});
