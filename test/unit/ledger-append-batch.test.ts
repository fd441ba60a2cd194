/**
 * Batched appends to SQLite (src/storage/sqlite/worker.ts: multi-row INSERTs, index rows sorted
 * by tag) and the blind tagger (src/ledger/blind-index.ts): faster, with exactly the rows, tags
 * and all-or-nothing behaviour of before (AU-9(3), RSP-2, "nothing acknowledged is lost").
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { blindTag, blindTagger, type IndexKind } from '../../src/ledger/blind-index.js';
import { GENESIS_HASH } from '../../src/ledger/chain.js';
import { verifyChain } from '../../src/ledger/verify.js';
import { openSqliteStorage } from '../../src/storage/sqlite/store.js';
import type { AppendItem } from '../../src/storage/types.js';
import { handBatch } from '../contract/storage-contract.js';
import { tempDir } from '../helpers/tmp.js';

describe('blindTagger', () => {
  it('gives exactly the HMAC tags of blindTag, for any key length, kind and value', () => {
    const values = ['', 'a', 'cus_4242', 'acc_alice_1', 'x'.repeat(63), 'y'.repeat(64), 'z'.repeat(1000), 'José', '😀', 'a\ud800b', '\u0000', 'trailing\udc00'];
    for (const len of [1, 16, 32, 63, 64, 65, 100]) {
      const key = randomBytes(len);
      const tag = blindTagger(key);
      for (const kind of ['principal', 'subject', 'object'] as const) {
        for (const v of values) assert.ok(tag(kind, v).equals(blindTag(key, kind, v)), `key ${len} bytes, ${kind} ${JSON.stringify(v)}`);
      }
      // The scratch buffer grows for a long value and still gives the right tag for short ones after.
      assert.ok(tag('subject', 'cus_1').equals(blindTag(key, 'subject', 'cus_1')));
    }
  });

  it('gives each tag a buffer of its own and refuses what is not a kind or a string', () => {
    const tag = blindTagger(randomBytes(32));
    const t = tag('subject', 'cus_1');
    assert.equal(t.length, 16);
    assert.equal(t.byteOffset, 0);
    assert.equal(t.buffer.byteLength, 16, 'not a slice of a shared pool (tags cross to the storage thread)');
    assert.throws(() => tag('owner' as IndexKind, 'x'), TypeError);
    assert.throws(() => tag('subject', 42 as unknown as string), TypeError);
  });
});

describe('SQLite batched append', () => {
  const dekOf = (seq: number): string | undefined => (seq % 5 === 0 ? undefined : `dk_${seq % 3}`);
  const tagsOf = (seq: number): Buffer[] => {
    const t = [Buffer.from(`subject-${seq % 11}`.padEnd(16, '.')), Buffer.from(`object-${seq % 17}`.padEnd(16, '.'))];
    if (seq % 4 === 0) t.push(Buffer.from(t[0]!)); // the same value twice in one record: one entry
    if (seq % 7 === 0) t.push(Buffer.from(`principal-${seq}`.padEnd(16, '.')));
    return seq % 9 === 0 ? [] : t;
  };
  const bodiesOf = (seq: number): { part: 'request' | 'response'; dekId: string }[] =>
    seq % 6 === 0 ? [{ part: 'request', dekId: 'dk_b' }, { part: 'response', dekId: 'dk_b' }] : seq % 6 === 1 ? [{ part: 'response', dekId: 'dk_b' }] : [];

  it('stores every row of batches of any size (across the multi-row chunks), and nothing more', async () => {
    const dir = tempDir('rampart-append-batch-');
    const path = join(dir.path, 'rampart.db');
    const s = await openSqliteStorage(path);
    try {
      let prev = GENESIS_HASH;
      let next = 1;
      const all: AppendItem[] = [];
      for (const size of [1, 31, 32, 63, 64, 65, 127, 129, 300]) {
        const batch = handBatch(next, size, prev, { priv: dekOf, tags: tagsOf, bodies: bodiesOf });
        await s.ledger.append(batch);
        all.push(...batch);
        prev = batch[batch.length - 1]!.stored.chainHash;
        next += size;
      }
      const n = next - 1;
      assert.deepEqual(await s.ledger.head(), { seq: n, chainHash: prev });
      const db = new Database(path, { readonly: true });
      try {
        const count = (t: string): number => (db.prepare(`SELECT count(*) AS n FROM ${t}`).get() as { n: number }).n;
        assert.equal(count('ledger_records'), n);
        assert.equal(count('ledger_sealed'), all.filter((it) => it.priv).length);
        assert.equal(count('ledger_bodies'), all.reduce((k, it) => k + (it.bodies?.length ?? 0), 0));
        const distinct = all.reduce((k, it) => k + new Set((it.index ?? []).map((e) => e.tag.toString('hex'))).size, 0);
        assert.equal(count('ledger_index'), distinct);
        // Each row holds what was appended for its seq.
        const stored = db.prepare('SELECT seq, ts, type, outcome, canonical, leaf_hash, chain_hash FROM ledger_records ORDER BY seq').all() as Record<string, unknown>[];
        stored.forEach((r, i) => {
          const it = all[i]!.stored;
          assert.deepEqual(r, { seq: it.record.seq, ts: it.record.ts, type: it.record.type, outcome: it.record.outcome, canonical: it.canonical, leaf_hash: it.leafHash, chain_hash: it.chainHash });
        });
      } finally {
        db.close();
      }
      const seqs = Array.from({ length: n }, (_, i) => i + 1);
      const privates = await s.ledger.readPrivate(seqs);
      assert.deepEqual(
        privates.map((p) => [p.seq, p.sealed?.dekId, p.sealed?.sealed.toString('hex')]),
        all.filter((it) => it.priv).map((it) => [it.priv!.seq, it.priv!.dekId, it.priv!.sealed.toString('hex')]),
      );
      const bodies = await s.ledger.readBodies(seqs);
      assert.deepEqual(
        bodies.map((b) => [b.seq, b.part, b.sealed.toString('hex')]),
        all.flatMap((it) => (it.bodies ?? []).map((b) => [b.seq, b.part, b.sealed.toString('hex')])).sort((a, b) => (a[0] as number) - (b[0] as number) || String(a[1]).localeCompare(String(b[1]))),
      );
      const index = await s.ledger.readIndex!(seqs);
      const want = all.flatMap((it) => [...new Set((it.index ?? []).map((e) => e.tag.toString('hex')))].sort().map((h) => [it.stored.record.seq, h]));
      assert.deepEqual(index.map((e) => [e.seq, e.tag.toString('hex')]), want);
      // Found through the (tag, ts) key as before.
      const hits = await s.ledger.searchIndex([Buffer.from('subject-3'.padEnd(16, '.'))], 0, Number.MAX_SAFE_INTEGER, 10_000);
      assert.deepEqual(hits.map((h) => h.seq), seqs.filter((q) => q % 11 === 3 && q % 9 !== 0));
      assert.equal((await verifyChain(s.ledger)).ok, true);
    } finally {
      await s.close();
      dir.remove();
    }
  });

  it('writes nothing of a batch when one row conflicts, in any chunk, and takes the batch once the conflict is gone', async () => {
    const dir = tempDir('rampart-append-batch-');
    const path = join(dir.path, 'rampart.db');
    const s = await openSqliteStorage(path);
    const db = new Database(path);
    try {
      const first = handBatch(1, 10, GENESIS_HASH, { priv: dekOf, tags: tagsOf });
      await s.ledger.append(first);
      const batch = handBatch(11, 150, first[9]!.stored.chainHash, { priv: dekOf, tags: tagsOf, bodies: bodiesOf });
      // A sealed row already there for seq 141 (its record's chunk is the third of the batch).
      db.prepare('INSERT INTO ledger_sealed (seq, dek_id, sealed) VALUES (141, ?, ?)').run('dk_x', randomBytes(8));
      await assert.rejects(s.ledger.append(batch), /UNIQUE|constraint/i);
      const count = (t: string): number => (db.prepare(`SELECT count(*) AS n FROM ${t}`).get() as { n: number }).n;
      assert.equal(count('ledger_records'), 10);
      assert.equal(count('ledger_bodies'), 0);
      assert.equal(count('ledger_sealed'), first.filter((it) => it.priv).length + 1);
      assert.deepEqual(await s.ledger.head(), { seq: 10, chainHash: first[9]!.stored.chainHash });
      db.prepare('DELETE FROM ledger_sealed WHERE seq = 141').run();
      await s.ledger.append(batch);
      assert.equal(count('ledger_records'), 160);
      assert.equal((await verifyChain(s.ledger)).ok, true);
    } finally {
      db.close();
      await s.close();
      dir.remove();
    }
  });
});
