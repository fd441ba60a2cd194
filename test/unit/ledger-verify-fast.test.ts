/**
 * The fast verification path (AU-9(3), R17a4-6): packed pages (src/ledger/packed-chain.ts), the
 * hashing thread (src/ledger/chain-hasher.ts, verify-worker.ts) and the pipelined verifyChain
 * (src/ledger/verify.ts). It must never accept a row that the row-by-row check refuses, and on a
 * real store it must report exactly what the full (`deep`) check reports, in every tampering
 * case, at every page size, with and without the thread.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { canonicalize } from '../../src/ledger/canonical.js';
import { buildStoredRecord, chainHash, GENESIS_HASH, leafHash, quickSeqOf } from '../../src/ledger/chain.js';
import { createChainHasher } from '../../src/ledger/chain-hasher.js';
import { signCheckpoint } from '../../src/ledger/checkpoint-note.js';
import { CompactRange } from '../../src/ledger/merkle.js';
import { checkChainPage, leafOffset, packChainRows, pageFromAggregate, type RawChainRow } from '../../src/ledger/packed-chain.js';
import type { LedgerRecord } from '../../src/ledger/record.js';
import { generateNoteKey } from '../../src/ledger/signed-note.js';
import { verifyChain, type VerifiedRun } from '../../src/ledger/verify.js';
import { verifyLedger } from '../../src/ledger/verify-ledger.js';
import { openSqliteStorage, type SqliteStorage } from '../../src/storage/sqlite/store.js';
import { handBatch } from '../contract/storage-contract.js';
import { tempDir } from '../helpers/tmp.js';

const T0 = 1_764_322_200_000;

/** n chained records as raw rows (seq, canonical, leaf, chain); `detail` varies the texts. */
function chainRows(n: number, from = 1, prev = GENESIS_HASH, detail: (seq: number) => Record<string, string | number> = (seq) => ({ i: seq })): RawChainRow[] {
  const rows: RawChainRow[] = [];
  for (let seq = from; seq < from + n; seq++) {
    const record: LedgerRecord = { v: 1, seq, ts: T0 + seq, type: 'exchange.decision', node: 'gw-1', outcome: 'allow', configHash: 'cf'.repeat(32), route: '/accounts/{accountId}', detail: detail(seq) };
    const s = buildStoredRecord(record, prev);
    prev = s.chainHash;
    rows.push([seq, s.canonical, s.leafHash, s.chainHash]);
  }
  return rows;
}

/** The row-by-row acceptance test of verify.ts (its fast test), as the reference. */
function reference(rows: readonly RawChainRow[], expected: number, prev: string): number {
  for (let i = 0; i < rows.length; i++) {
    const [seq, text, leaf, chain] = rows[i]!;
    const ok = seq === expected + i && quickSeqOf(text) === seq && leafHash(text) === leaf && chainHash(prev, leaf) === chain;
    if (!ok) return i;
    prev = chain;
  }
  return rows.length;
}

/** A deterministic generator, so a failure names its case. */
function rng(seed: number): () => number {
  let x = (Math.imul(seed, 0x9e3779b1) ^ 0x5bd1e995) >>> 0 || 1;
  const next = (): number => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 2 ** 32;
  };
  // The first outputs of a small seed are small: skip them.
  for (let i = 0; i < 8; i++) next();
  return next;
}

type Mutation = (rows: RawChainRow[], at: number, r: () => number) => void;

const set = (rows: RawChainRow[], at: number, i: 0 | 1 | 2 | 3, v: number | string): void => {
  const row: (number | string)[] = [...rows[at]!];
  row[i] = v;
  rows[at] = row as unknown as RawChainRow;
};

/** What someone with write access to the store might do to one row (or a pair). */
const mutations: Record<string, Mutation> = {
  'a byte of the text': (rows, at, r) => {
    const t = rows[at]![1];
    const k = Math.floor(r() * t.length);
    set(rows, at, 1, t.slice(0, k) + String.fromCharCode(t.charCodeAt(k) ^ 1) + t.slice(k + 1));
  },
  'text changed, leaf re-hashed': (rows, at) => {
    const t = rows[at]![1].replace('"outcome":"allow"', '"outcome":"deny"');
    set(rows, at, 1, t);
    set(rows, at, 2, leafHash(t));
  },
  'text and both hashes recomputed (the next row no longer links)': (rows, at) => {
    const prev = at > 0 ? rows[at - 1]![3] : GENESIS_HASH;
    const t = rows[at]![1].replace('"outcome":"allow"', '"outcome":"deny"');
    set(rows, at, 1, t);
    set(rows, at, 2, leafHash(t));
    set(rows, at, 3, chainHash(prev, leafHash(t)));
  },
  'leaf hash in upper case': (rows, at) => set(rows, at, 2, rows[at]![2].toUpperCase()),
  'chain hash in upper case': (rows, at) => set(rows, at, 3, rows[at]![3].toUpperCase()),
  'a hash that is not hex': (rows, at) => set(rows, at, 3, `${rows[at]![3].slice(0, 63)}g`),
  'a hash one character short': (rows, at) => set(rows, at, 2, rows[at]![2].slice(1)),
  'a hash one character long': (rows, at) => set(rows, at, 3, `${rows[at]![3]}0`),
  'row key moved': (rows, at) => set(rows, at, 0, rows[at]![0] + 1),
  'seq inside the text changed, hashes recomputed': (rows, at) => {
    const prev = at > 0 ? rows[at - 1]![3] : GENESIS_HASH;
    const t = rows[at]![1].replace(`"seq":${rows[at]![0]},`, `"seq":${rows[at]![0] + 7},`);
    set(rows, at, 1, t);
    set(rows, at, 2, leafHash(t));
    set(rows, at, 3, chainHash(prev, leafHash(t)));
  },
  'two rows exchanged': (rows, at) => {
    if (at + 1 >= rows.length) return;
    const a = rows[at]!;
    const b = rows[at + 1]!;
    rows[at] = [a[0], b[1], b[2], b[3]];
    rows[at + 1] = [b[0], a[1], a[2], a[3]];
  },
  'text replaced by non-ASCII text': (rows, at) => set(rows, at, 1, rows[at]![1].replace('gw-1', 'gw-é')),
  'text holding a lone surrogate, hashes recomputed': (rows, at) => {
    const prev = at > 0 ? rows[at - 1]![3] : GENESIS_HASH;
    const t = rows[at]![1].replace('gw-1', 'gw-\ud800');
    set(rows, at, 1, t);
    set(rows, at, 2, leafHash(t));
    set(rows, at, 3, chainHash(prev, leafHash(t)));
  },
  'a row left out': (rows, at) => {
    rows.splice(at, 1);
  },
  'text truncated': (rows, at) => set(rows, at, 1, rows[at]![1].slice(0, 5)),
  'empty text': (rows, at) => set(rows, at, 1, ''),
};

describe('checkChainPage', () => {
  it('accepts an intact page, ASCII or not, and gives the decoded hashes', () => {
    for (const detail of [(seq: number) => ({ i: seq }), (seq: number) => ({ name: `José ${seq} 😀` })]) {
      const rows = chainRows(50, 1, GENESIS_HASH, detail);
      const r = checkChainPage(packChainRows(rows), 1, GENESIS_HASH);
      assert.equal(r.ok, 50);
      for (let i = 0; i < 50; i++) {
        assert.equal(r.hashes.toString('hex', leafOffset(i), leafOffset(i) + 32), rows[i]![2]);
        assert.equal(r.hashes.toString('hex', leafOffset(i) + 32, leafOffset(i) + 64), rows[i]![3]);
      }
    }
  });

  it('continues from a prefix: the expected seq and chain hash of the row before', () => {
    const rows = chainRows(30);
    const page = packChainRows(rows.slice(10));
    assert.equal(checkChainPage(page, 11, rows[9]![3]).ok, 20);
    assert.equal(checkChainPage(page, 12, rows[9]![3]).ok, 0, 'another expected seq');
    assert.equal(checkChainPage(page, 11, rows[8]![3]).ok, 0, 'another previous chain hash');
    assert.equal(checkChainPage(page, 11, rows[9]![3].toUpperCase()).ok, 0, 'an anchor that is not lower-case hex is left to the full check');
  });

  it('never accepts a row the row-by-row check refuses, and accepts every row before it (600 tampered pages)', () => {
    const names = Object.keys(mutations);
    const positions = new Set<number>();
    let cases = 0;
    for (let c = 0; c < 600; c++) {
      const r = rng(c + 1);
      const rows = chainRows(24, 101, 'ab'.repeat(32), c % 3 === 0 ? (seq) => ({ who: `Zoë-${seq}` }) : (seq) => ({ i: seq }));
      const name = names[c % names.length]!;
      const at = Math.floor(r() * rows.length);
      positions.add(at);
      mutations[name]!(rows, at, r);
      if (r() < 0.3) mutations[names[Math.floor(r() * names.length)]!]!(rows, Math.floor(r() * rows.length), r);
      const want = reference(rows, 101, 'ab'.repeat(32));
      const got = checkChainPage(packChainRows(rows), 101, 'ab'.repeat(32)).ok;
      assert.equal(got, want, `case ${c}: ${name} at row ${at}`);
      cases++;
    }
    assert.equal(cases, 600);
    assert.ok(positions.size > 20, 'tampering at rows all over the page');
  });

  it('refuses a malformed page instead of guessing', () => {
    const page = packChainRows(chainRows(3));
    assert.throws(() => checkChainPage({ ...page, hashes: page.hashes.slice(1) }, 1, GENESIS_HASH), TypeError);
    assert.throws(() => checkChainPage({ ...page, lens: page.lens.subarray(1) }, 1, GENESIS_HASH), TypeError);
    // Lengths that run past the bytes: nothing beyond them is accepted.
    const lens = new Uint32Array(page.lens);
    lens[1] = 1_000_000;
    assert.equal(checkChainPage({ ...page, lens }, 1, GENESIS_HASH).ok, 1);
  });
});

describe('pageFromAggregate (the SQLite reader packing in SQL)', () => {
  const rows = chainRows(5);
  const agg = (rs: RawChainRow[]): [string, string, Buffer, string] => [
    JSON.stringify(rs.map((r) => r[0])),
    JSON.stringify(rs.map((r) => Buffer.byteLength(r[1]))),
    Buffer.concat([Buffer.of(0), ...rs.map((r) => Buffer.from(r[1]))]),
    rs.map((r) => r[2] + r[3]).join(''),
  ];

  it('gives the page packChainRows gives', () => {
    const p = pageFromAggregate(...agg(rows))!;
    const q = packChainRows(rows);
    assert.deepEqual([...p.seqs], [...q.seqs]);
    assert.deepEqual([...p.lens], [...q.lens]);
    assert.ok(Buffer.from(p.bytes).equals(Buffer.from(q.bytes)));
    assert.equal(p.hashes, q.hashes);
    assert.equal(checkChainPage(p, 1, GENESIS_HASH).ok, 5);
  });

  it('declines what it cannot pack exactly (the caller packs row by row)', () => {
    const nonAscii = rows.map((r, i): RawChainRow => (i === 2 ? [r[0], r[1].replace('gw-1', 'gw-é'), r[2], r[3]] : r));
    assert.equal(pageFromAggregate(...agg(nonAscii)), undefined, 'a text that is not ASCII');
    const [s, l, b, h] = agg(rows);
    assert.equal(pageFromAggregate(s, l, b, h.slice(1)), undefined, 'hashes of another length');
    assert.equal(pageFromAggregate(s, JSON.stringify([1, 2]), b, h), undefined, 'counts that disagree');
    assert.equal(pageFromAggregate(s, l, Buffer.concat([b, Buffer.of(0x41)]), h), undefined, 'bytes that do not add up');
    assert.equal(pageFromAggregate(s, l, null, h), undefined);
    const bad = Buffer.from(b);
    bad[10] = 0xff;
    assert.equal(pageFromAggregate(s, l, bad, h), undefined, 'a stored byte that is not ASCII');
    assert.equal(pageFromAggregate('[]', '[]', null, null)?.seqs.length, 0, 'an empty page');
  });
});

describe('the hashing thread', () => {
  it('shares a page with this thread and gives what the inline check gives', async () => {
    const hasher = createChainHasher({ thread: true });
    try {
      for (const bad of [20, 139, 140, 150, 199, -1]) {
        const rows = chainRows(200);
        if (bad >= 0) rows[bad] = [rows[bad]![0], rows[bad]![1].replace('allow', 'deny!'), rows[bad]![2], rows[bad]![3]];
        const page = packChainRows(rows);
        const r = await hasher.check(page, 1, GENESIS_HASH, true);
        const inline = checkChainPage(page, 1, GENESIS_HASH);
        assert.equal(r.ok, bad >= 0 ? bad : 200, `tampered row ${bad}`);
        assert.equal(inline.ok, r.ok);
        assert.ok(r.hashes.subarray(0, leafOffset(r.ok)).equals(inline.hashes.subarray(0, leafOffset(r.ok))), 'the same decoded hashes');
      }
      assert.equal(hasher.offloaded, 6, 'the thread took part in every page');
      // A malformed page is refused, not guessed at.
      await assert.rejects(hasher.check({ ...packChainRows(chainRows(100)), hashes: 'x' }, 1, GENESIS_HASH, true), TypeError);
      // A page not worth the thread, and any page after close(), is checked inline.
      assert.equal((await hasher.check(packChainRows(chainRows(10)), 1, GENESIS_HASH, true)).ok, 10);
      assert.equal(hasher.offloaded, 6);
    } finally {
      await hasher.close();
    }
    assert.equal((await hasher.check(packChainRows(chainRows(100)), 1, GENESIS_HASH, true)).ok, 100);
    assert.equal(hasher.offloaded, 6);
  });
});

/** A SQLite store holding `n` hand-built records (system events, some with a private part). */
async function storeWith(n: number): Promise<{ s: SqliteStorage; path: string; dispose(): Promise<void> }> {
  const dir = tempDir('rampart-verify-fast-');
  const path = join(dir.path, 'rampart.db');
  const s = await openSqliteStorage(path);
  let prev = GENESIS_HASH;
  for (let from = 1; from <= n; from += 97) {
    const batch = handBatch(from, Math.min(97, n - from + 1), prev);
    await s.ledger.append(batch);
    prev = batch[batch.length - 1]!.stored.chainHash;
  }
  return {
    s,
    path,
    async dispose() {
      await s.close();
      dir.remove();
    },
  };
}

type Tamper = (db: Database.Database) => void;

const rowOf = (db: Database.Database, seq: number): { canonical: string; leaf_hash: string; chain_hash: string } =>
  db.prepare('SELECT canonical, leaf_hash, chain_hash FROM ledger_records WHERE seq = ?').get(seq) as { canonical: string; leaf_hash: string; chain_hash: string };

const tampers: Record<string, Tamper> = {
  untouched: () => {},
  'a field changed in place': (db) => db.prepare("UPDATE ledger_records SET canonical = replace(canonical, '\"n1\"', '\"n2\"') WHERE seq = 130").run(),
  'a leaf re-hashed': (db) => {
    const t = rowOf(db, 64).canonical.replace('"n1"', '"n2"');
    db.prepare('UPDATE ledger_records SET canonical = ?, leaf_hash = ? WHERE seq = 64').run(t, leafHash(t));
  },
  'a row deleted': (db) => db.prepare('DELETE FROM ledger_records WHERE seq = 65').run(),
  'two rows exchanged': (db) => {
    db.prepare('UPDATE ledger_records SET seq = -200 WHERE seq = 200').run();
    db.prepare('UPDATE ledger_records SET seq = 200 WHERE seq = 201').run();
    db.prepare('UPDATE ledger_records SET seq = 201 WHERE seq = -200').run();
  },
  'a hash in upper case': (db) => db.prepare('UPDATE ledger_records SET chain_hash = upper(chain_hash) WHERE seq = 7').run(),
  'a hash cut short': (db) => db.prepare('UPDATE ledger_records SET leaf_hash = substr(leaf_hash, 2) WHERE seq = 250').run(),
  'the tail rewritten from seq 100 with a non-ASCII field (hashes and head recomputed)': (db) => {
    let prev = rowOf(db, 99).chain_hash;
    for (let seq = 100; seq <= 300; seq++) {
      const rec = JSON.parse(rowOf(db, seq).canonical) as Record<string, unknown>;
      const t = canonicalize({ ...rec, node: seq === 100 ? 'nœud' : rec.node });
      const leaf = leafHash(t);
      prev = chainHash(prev, leaf);
      db.prepare('UPDATE ledger_records SET canonical = ?, leaf_hash = ?, chain_hash = ? WHERE seq = ?').run(t, leaf, prev, seq);
    }
    db.prepare('UPDATE chain_head SET chain_hash = ? WHERE id = 1').run(prev);
  },
  'a forged row beyond the head': (db) => {
    const last = rowOf(db, 300);
    const t = last.canonical.replace('"seq":300', '"seq":301');
    const leaf = leafHash(t);
    db.prepare(
      "INSERT INTO ledger_records (seq, ts, type, outcome, canonical, leaf_hash, chain_hash) VALUES (301, 0, 'system.event', 'info', ?, ?, ?)",
    ).run(t, leaf, chainHash(last.chain_hash, leaf));
  },
  'the last row deleted': (db) => db.prepare('DELETE FROM ledger_records WHERE seq = 300').run(),
};

describe('verifyChain: the fast path reports what the full check reports', () => {
  for (const [name, tamper] of Object.entries(tampers)) {
    it(name, async () => {
      const fx = await storeWith(300);
      const db = new Database(fx.path);
      try {
        tamper(db);
        const deep = await verifyChain(fx.s.ledger, { deep: true, checkPrivate: false });
        for (const batch of [7, 64, 1000]) {
          for (const hashThread of [true, false]) {
            const leaves: string[] = [];
            const fast = await verifyChain(fx.s.ledger, {
              batch,
              hashThread,
              checkPrivate: false,
              onVerified: (run: VerifiedRun) => {
                for (let i = 0; i < run.count; i++) leaves.push(`${run.firstSeq + i}:${run.leaves.toString('hex', run.leafAt(i), run.leafAt(i) + 32)}:${run.chainHash(i)}`);
              },
            });
            assert.deepEqual(fast, deep, `batch ${batch}, thread ${hashThread}`);
            // Every record reported as verified, in order, once, with its stored hashes.
            const want = (db.prepare('SELECT seq, leaf_hash, chain_hash FROM ledger_records WHERE seq <= ? ORDER BY seq').all(deep.count) as { seq: number; leaf_hash: string; chain_hash: string }[])
              .slice(0, deep.count)
              .map((r) => `${r.seq}:${r.leaf_hash}:${r.chain_hash}`);
            if (deep.ok || deep.firstBad!.problem !== 'inserted') assert.deepEqual(leaves.slice(0, deep.count), want);
          }
        }
      } finally {
        db.close();
        await fx.dispose();
      }
    });
  }

  it('readChainPacked gives the rows readChain gives, packed (including a page it packs row by row)', async () => {
    const fx = await storeWith(150);
    const db = new Database(fx.path);
    try {
      const t = rowOf(db, 70).canonical.replace('"n1"', '"ñ1"');
      db.prepare('UPDATE ledger_records SET canonical = ? WHERE seq = 70').run(t);
      for (const [from, limit] of [[1, 50], [51, 50], [60, 1000], [151, 10]] as const) {
        const packed = await fx.s.ledger.readChainPacked!(from, limit);
        const rows = (await fx.s.ledger.readChain!(from, limit)).map((r): RawChainRow => [r.seq, r.canonical, r.leafHash, r.chainHash]);
        const want = packChainRows(rows);
        assert.deepEqual([...packed.seqs], [...want.seqs]);
        assert.deepEqual([...packed.lens], [...want.lens]);
        assert.ok(Buffer.from(packed.bytes).equals(Buffer.from(want.bytes)), `bytes from ${from}`);
        assert.equal(packed.hashes, want.hashes);
      }
    } finally {
      db.close();
      await fx.dispose();
    }
  });
});

describe('verifyLedger over pages', () => {
  it('checks every checkpoint, at page edges too, and names the one whose root was rewritten', async () => {
    const fx = await storeWith(300);
    try {
      const key = generateNoteKey('rampart/test');
      const range = new CompactRange();
      const sizes = new Set([1, 6, 7, 8, 63, 64, 65, 127, 128, 299, 300]);
      for (let from = 1; from <= 300; from += 100) {
        for (const r of await fx.s.ledger.readChain!(from, 100)) {
          range.append(Buffer.from(r.leafHash, 'hex'));
          if (!sizes.has(r.seq)) continue;
          // The checkpoint at 128 signs a wrong root, as after a rewrite of records 1..128.
          const root = r.seq === 128 ? Buffer.alloc(32, 7) : range.root();
          const note = signCheckpoint({ origin: 'rampart/test', size: r.seq, rootHash: root, chainHash: r.chainHash, ts: T0, kind: 'periodic' }, key.signerKey);
          await fx.s.checkpoints.insertCheckpoint({ treeSize: r.seq, ts: T0, kind: 'periodic', rootHash: root.toString('hex'), chainHash: r.chainHash, note, compactRange: range.nodes().map((x) => x.toString('hex')) });
        }
      }
      for (const batch of [7, 64, 1000]) {
        const v = await verifyLedger({ ledger: fx.s.ledger, checkpoints: fx.s.checkpoints, verifierKeys: [key.verifierKey], batch, checkPrivate: false });
        assert.equal(v.count, 300);
        assert.equal(v.checkpointsVerified.store, sizes.size - 1, `batch ${batch}`);
        assert.deepEqual(v.findings.map((f) => [f.treeSize, f.problem]), [[128, 'root-mismatch']]);
        assert.equal(v.ok, false);
      }
    } finally {
      await fx.dispose();
    }
  });
});
