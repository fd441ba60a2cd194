/**
 * The RFC 9162 Merkle tree of the ledger (src/ledger/merkle.ts): roots, compact ranges, inclusion
 * and consistency proofs, and their verification (AU-9(3), R17a4-6, R17a4-8).
 *
 * Everything is checked against an independent transcription of the RFC's recursive definitions
 * (MTH, PATH, PROOF/SUBPROOF of RFC 9162 §2.1.1, §2.1.3.1, §2.1.4.1) hashed with createHash, and
 * against the RFC 6962 reference vectors as published in transparency-dev/merkle
 * (proof/verify_test.go) and certificate-transparency-go.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import {
  CompactRange,
  consistencyProof,
  emptyRoot,
  hashLeaf,
  inclusionProof,
  leafArraySource,
  merkleRoot,
  nodeHash,
  TreeView,
  verifyConsistency,
  verifyInclusion,
} from '../../src/ledger/merkle.js';

// ---- the RFC, transcribed recursively ---------------------------------------------------------

const sha = (...parts: Buffer[]): Buffer => {
  const h = createHash('sha256');
  for (const p of parts) h.update(p);
  return h.digest();
};
const refLeaf = (d: Buffer): Buffer => sha(Buffer.of(0), d);
const refNode = (l: Buffer, r: Buffer): Buffer => sha(Buffer.of(1), l, r);
/** The largest power of two smaller than n (n > 1). */
const split = (n: number): number => {
  let k = 1;
  while (k * 2 < n) k *= 2;
  return k;
};
function mth(d: readonly Buffer[]): Buffer {
  if (d.length === 0) return sha();
  if (d.length === 1) return d[0]!;
  const k = split(d.length);
  return refNode(mth(d.slice(0, k)), mth(d.slice(k)));
}
function path(m: number, d: readonly Buffer[]): Buffer[] {
  if (d.length <= 1) return [];
  const k = split(d.length);
  return m < k ? [...path(m, d.slice(0, k)), mth(d.slice(k))] : [...path(m - k, d.slice(k)), mth(d.slice(0, k))];
}
function subproof(m: number, d: readonly Buffer[], b: boolean): Buffer[] {
  if (m === d.length) return b ? [] : [mth(d)];
  const k = split(d.length);
  return m <= k ? [...subproof(m, d.slice(0, k), b), mth(d.slice(k))] : [...subproof(m - k, d.slice(k), false), mth(d.slice(0, k))];
}
const proof = (m: number, d: readonly Buffer[]): Buffer[] => subproof(m, d, true);

/** n distinct leaf hashes. */
const makeLeaves = (n: number, salt = 'leaf'): Buffer[] => Array.from({ length: n }, (_, i) => refLeaf(Buffer.from(`${salt}-${i}`)));
const hex = (bs: readonly Buffer[]): string[] => bs.map((b) => b.toString('hex'));
const h = (s: string): Buffer => Buffer.from(s, 'hex');
const flip = (b: Buffer, bit: number): Buffer => {
  const c = Buffer.from(b);
  c[0]! ^= 1 << bit;
  return c;
};
const rangeCode = (fn: () => unknown): void => {
  assert.throws(fn, (err: any) => err.code === 'RAMPART_MERKLE_RANGE' && err instanceof RangeError);
};

// ---- RFC 6962 / 9162 reference vectors (transparency-dev/merkle proof/verify_test.go) ----------

const VECTOR_DATA = ['', '00', '10', '2021', '3031', '40414243', '5051525354555657', '606162636465666768696a6b6c6d6e6f'].map(h);
const VECTOR_LEAVES = VECTOR_DATA.map((d) => hashLeaf(d));
const VECTOR_ROOTS = [
  '6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d',
  'fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125',
  'aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77',
  'd37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7',
  '4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4',
  '76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef',
  'ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c',
  '5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328',
];
/** [leaf index (0-based), tree size, path]. */
const VECTOR_INCLUSION: [number, number, string[]][] = [
  [0, 1, []],
  [0, 8, ['96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7', '5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e', '6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4']],
  [5, 8, ['bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b', 'ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0', 'd37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7']],
  [2, 3, ['fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125']],
  [1, 5, ['6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d', '5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e', 'bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b']],
];
/** [old size, new size, proof]. */
const VECTOR_CONSISTENCY: [number, number, string[]][] = [
  [1, 1, []],
  [1, 8, ['96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7', '5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e', '6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4']],
  [6, 8, ['0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a', 'ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0', 'd37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7']],
  [2, 5, ['5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e', 'bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b']],
  [6, 7, ['0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a', 'b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f', 'd37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7']],
];
const SOME_HASH = h('abacaba000000000000000000000000000000000000000000060061e00123456');
const EMPTY_HASH = h('e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');

describe('RFC 6962 / 9162 reference vectors', () => {
  it('hashes the empty tree, the leaves and the 8-leaf root as published', () => {
    assert.equal(emptyRoot().toString('hex'), EMPTY_HASH.toString('hex'));
    assert.equal(VECTOR_LEAVES[0]!.toString('hex'), VECTOR_ROOTS[0]);
    assert.equal(merkleRoot(VECTOR_LEAVES).toString('hex'), '5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328');
  });

  it('gives the published root for every size 1..8, by every route', () => {
    const view = new TreeView({ leaves: VECTOR_LEAVES });
    const cr = new CompactRange();
    for (let n = 1; n <= 8; n++) {
      cr.append(VECTOR_LEAVES[n - 1]!);
      assert.equal(merkleRoot(VECTOR_LEAVES, 0, n).toString('hex'), VECTOR_ROOTS[n - 1], `merkleRoot size ${n}`);
      assert.equal(cr.root().toString('hex'), VECTOR_ROOTS[n - 1], `CompactRange size ${n}`);
      assert.equal(view.root(n).toString('hex'), VECTOR_ROOTS[n - 1], `TreeView.root(${n})`);
      assert.equal(new TreeView({ leaves: VECTOR_LEAVES.slice(0, n) }).root().toString('hex'), VECTOR_ROOTS[n - 1]);
    }
  });

  it('produces and verifies the published inclusion proofs, and rejects their corruptions', () => {
    const view = new TreeView({ leaves: VECTOR_LEAVES });
    for (const [i, n, want] of VECTOR_INCLUSION) {
      const root = h(VECTOR_ROOTS[n - 1]!);
      const leaf = VECTOR_LEAVES[i]!;
      assert.deepEqual(hex(view.inclusionProof(i, n)), want, `TreeView proof ${i}/${n}`);
      assert.deepEqual(hex(inclusionProof(i, n, leafArraySource(VECTOR_LEAVES))), want, `array proof ${i}/${n}`);
      const p = want.map(h);
      assert.ok(verifyInclusion(leaf, i, n, p, root), `verify ${i}/${n}`);
      // The probes of transparency-dev's corruptInclusionProof.
      const bad: [string, boolean][] = [
        ['index - 1', verifyInclusion(leaf, i - 1, n, p, root)],
        ['index + 1', verifyInclusion(leaf, i + 1, n, p, root)],
        ['index ^ 2', verifyInclusion(leaf, i ^ 2, n, p, root)],
        ['size * 2', verifyInclusion(leaf, i, n * 2, p, root)],
        ['size / 2', verifyInclusion(leaf, i, Math.floor(n / 2), p, root)],
        ['wrong leaf', verifyInclusion(refLeaf(Buffer.from('WrongLeaf')), i, n, p, root)],
        ['empty root', verifyInclusion(leaf, i, n, p, EMPTY_HASH)],
        ['random root', verifyInclusion(leaf, i, n, p, SOME_HASH)],
        ['trailing root', verifyInclusion(leaf, i, n, [...p, root], root)],
        ['preceding root', verifyInclusion(leaf, i, n, [root, ...p], root)],
        ['trailing garbage', verifyInclusion(leaf, i, n, [...p, Buffer.alloc(0)], root)],
      ];
      p.forEach((_, k) => bad.push([`proof[${k}] bit 3`, verifyInclusion(leaf, i, n, p.map((x, j) => (j === k ? flip(x, 3) : x)), root)]));
      if (p.length > 0) bad.push(['removed component', verifyInclusion(leaf, i, n, p.slice(0, -1), root)]);
      if (p.length > 1) bad.push(['inserted component', verifyInclusion(leaf, i, n, [p[0]!, SOME_HASH, ...p.slice(1)], root)]);
      for (const [what, ok] of bad) assert.equal(ok, false, `${i}/${n}: ${what} verified`);
    }
  });

  it('produces and verifies the published consistency proofs, and rejects their corruptions', () => {
    const view = new TreeView({ leaves: VECTOR_LEAVES });
    for (const [m, n, want] of VECTOR_CONSISTENCY) {
      const r1 = h(VECTOR_ROOTS[m - 1]!);
      const r2 = h(VECTOR_ROOTS[n - 1]!);
      assert.deepEqual(hex(view.consistencyProof(m, n)), want, `TreeView proof ${m}->${n}`);
      assert.deepEqual(hex(consistencyProof(m, n, leafArraySource(VECTOR_LEAVES))), want, `array proof ${m}->${n}`);
      const p = want.map(h);
      assert.ok(verifyConsistency(m, n, r1, r2, p), `verify ${m}->${n}`);
      if (p.length === 0) continue;
      // The probes of transparency-dev's corruptConsistencyProof.
      const bad: [string, boolean][] = [
        ['size1 - 1', verifyConsistency(m - 1, n, r1, r2, p)],
        ['size1 + 1', verifyConsistency(m + 1, n, r1, r2, p)],
        ['size1 ^ 2', verifyConsistency(m ^ 2, n, r1, r2, p)],
        ['size2 * 2', verifyConsistency(m, n * 2, r1, r2, p)],
        ['size2 / 2', verifyConsistency(m, Math.floor(n / 2), r1, r2, p)],
        ['wrong root1', verifyConsistency(m, n, SOME_HASH, r2, p)],
        ['wrong root2', verifyConsistency(m, n, r1, SOME_HASH, p)],
        ['swapped roots', verifyConsistency(m, n, r2, r1, p)],
        ['empty proof', verifyConsistency(m, n, r1, r2, [])],
        ['trailing garbage', verifyConsistency(m, n, r1, r2, [...p, Buffer.alloc(0)])],
        ['trailing root1', verifyConsistency(m, n, r1, r2, [...p, r1])],
        ['trailing root2', verifyConsistency(m, n, r1, r2, [...p, r2])],
        ['preceding root1', verifyConsistency(m, n, r1, r2, [r1, ...p])],
        ['preceding root2', verifyConsistency(m, n, r1, r2, [r2, ...p])],
        ['preceding proof[0]', verifyConsistency(m, n, r1, r2, [p[0]!, ...p])],
        ['truncated', verifyConsistency(m, n, r1, r2, p.slice(0, -1))],
      ];
      p.forEach((_, k) => bad.push([`proof[${k}] bit 4`, verifyConsistency(m, n, r1, r2, p.map((x, j) => (j === k ? flip(x, 4) : x)))]));
      for (const [what, ok] of bad) assert.equal(ok, false, `${m}->${n}: ${what} verified`);
    }
  });

  it('handles the edge cases of transparency-dev TestVerifyConsistency, with 0 sizes rejected (RFC 9162: 0 < first)', () => {
    const r1 = sha(Buffer.from("don't care 1"));
    const r2 = sha(Buffer.from("don't care 2"));
    assert.equal(verifyConsistency(1, 1, r1, r2, []), false, 'equal sizes, different roots');
    assert.equal(verifyConsistency(1, 1, r2, r2, []), true, 'equal sizes, equal roots, empty proof');
    assert.equal(verifyConsistency(1, 1, EMPTY_HASH, EMPTY_HASH, [EMPTY_HASH]), false, 'equal sizes with a non-empty proof');
    assert.equal(verifyConsistency(1, 0, r1, r2, []), false, 'time travel');
    assert.equal(verifyConsistency(2, 1, r1, r2, []), false, 'time travel');
    assert.equal(verifyConsistency(1, 2, r1, r2, []), false, 'empty proof');
    // Go accepts 0 -> n trivially; RFC 9162 §2.1.4 defines consistency only for 0 < first.
    assert.equal(verifyConsistency(0, 0, r1, r1, []), false);
    assert.equal(verifyConsistency(0, 1, r1, r2, []), false);
    rangeCode(() => consistencyProof(0, 3, leafArraySource(makeLeaves(3))));
  });

  it('verifies a single-entry tree and rejects the probes of TestVerifyInclusion', () => {
    const leaf = hashLeaf(Buffer.from('data'));
    assert.ok(verifyInclusion(leaf, 0, 1, [], leaf));
    assert.equal(verifyInclusion(leaf, 0, 1, [], Buffer.alloc(0)), false);
    assert.equal(verifyInclusion(Buffer.alloc(0), 0, 1, [], leaf), false);
    for (const [i, n] of [[0, 0], [0, 1], [1, 0], [2, 1]] as const) {
      assert.equal(verifyInclusion(SOME_HASH, i, n, [], Buffer.alloc(0)), false);
      assert.equal(verifyInclusion(Buffer.alloc(0), i, n, [], EMPTY_HASH), false);
      assert.equal(verifyInclusion(SOME_HASH, i, n, [], EMPTY_HASH), false);
    }
  });
});

describe('roots', () => {
  it('merkleRoot equals the recursive MTH for every size 0..70', () => {
    const leaves = makeLeaves(70);
    for (let n = 0; n <= 70; n++) assert.equal(merkleRoot(leaves, 0, n).toString('hex'), mth(leaves.slice(0, n)).toString('hex'), `size ${n}`);
  });

  it('merkleRoot over a sub-range equals MTH of that slice', () => {
    const leaves = makeLeaves(40);
    for (const [s, e] of [[0, 0], [3, 4], [4, 8], [5, 40], [16, 32], [17, 39]] as const) {
      assert.equal(merkleRoot(leaves, s, e).toString('hex'), mth(leaves.slice(s, e)).toString('hex'), `[${s}, ${e})`);
    }
    rangeCode(() => merkleRoot(leaves, 5, 41));
    rangeCode(() => merkleRoot(leaves, 6, 5));
  });

  it('nodeHash is SHA-256(0x01 || left || right) and refuses hashes that are not 32 bytes', () => {
    const [a, b] = makeLeaves(2) as [Buffer, Buffer];
    assert.deepEqual(nodeHash(a, b), refNode(a, b));
    assert.throws(() => nodeHash(a, Buffer.alloc(31)), (err: any) => err.code === 'RAMPART_MERKLE_BAD_HASH' && err instanceof TypeError);
  });

  it('TreeView.root equals MTH for every size of every view up to 70 leaves', () => {
    const leaves = makeLeaves(70);
    for (let n = 0; n <= 70; n++) {
      const view = new TreeView({ leaves: leaves.slice(0, n) });
      assert.equal(view.size, n);
      for (let s = 0; s <= n; s++) assert.equal(view.root(s).toString('hex'), mth(leaves.slice(0, s)).toString('hex'), `view ${n}, size ${s}`);
      rangeCode(() => view.root(n + 1));
    }
  });
});

describe('CompactRange', () => {
  it('has one node per set bit of its size and the MTH root at every size', () => {
    const leaves = makeLeaves(70);
    const cr = new CompactRange();
    assert.deepEqual(cr.root(), emptyRoot());
    for (let n = 1; n <= 70; n++) {
      cr.append(leaves[n - 1]!);
      assert.equal(cr.size, n);
      assert.equal(cr.nodes().length, n.toString(2).replace(/0/g, '').length);
      assert.equal(cr.root().toString('hex'), mth(leaves.slice(0, n)).toString('hex'), `size ${n}`);
    }
  });

  it('its nodes are the perfect subtrees of the size decomposition, largest first', () => {
    const leaves = makeLeaves(13); // 13 = 8 + 4 + 1
    const cr = new CompactRange();
    for (const l of leaves) cr.append(l);
    assert.deepEqual(hex(cr.nodes()), hex([mth(leaves.slice(0, 8)), mth(leaves.slice(8, 12)), leaves[12]!]));
  });

  it('survives a save/restore round trip at every size and keeps growing identically', () => {
    const leaves = makeLeaves(45);
    for (let p = 0; p <= 40; p++) {
      const cr = new CompactRange();
      for (let i = 0; i < p; i++) cr.append(leaves[i]!);
      const saved = { size: cr.size, nodes: cr.nodes().map((b) => b.toString('hex')) };
      const restored = CompactRange.fromNodes(saved.size, saved.nodes.map(h));
      assert.deepEqual(restored.root(), cr.root());
      for (let i = p; i < 45; i++) {
        restored.append(leaves[i]!);
        cr.append(leaves[i]!);
      }
      assert.deepEqual(hex(restored.nodes()), hex(cr.nodes()));
      assert.equal(restored.root().toString('hex'), mth(leaves).toString('hex'), `restored at ${p}`);
    }
  });

  it('returns copies: mutating nodes() or a clone does not change the range', () => {
    const cr = new CompactRange();
    for (const l of makeLeaves(5)) cr.append(l);
    const root = cr.root();
    cr.nodes()[0]!.fill(0);
    const c = cr.clone();
    c.append(makeLeaves(1, 'x')[0]!);
    assert.deepEqual(cr.root(), root);
    assert.equal(cr.size, 5);
    assert.equal(c.size, 6);
  });

  it('refuses state that cannot be a compact range', () => {
    const bad = (fn: () => unknown): void => {
      assert.throws(fn, (err: any) => err.code === 'RAMPART_MERKLE_STATE_INVALID');
    };
    const [a, b] = makeLeaves(2) as [Buffer, Buffer];
    bad(() => CompactRange.fromNodes(3, [a])); // 3 = 2 + 1 needs two nodes
    bad(() => CompactRange.fromNodes(4, [a, b]));
    bad(() => CompactRange.fromNodes(1, [Buffer.alloc(31)]));
    bad(() => CompactRange.fromNodes(-1, []));
    bad(() => CompactRange.fromNodes(1.5, [a]));
    assert.throws(() => new CompactRange().append(Buffer.alloc(33)), (err: any) => err.code === 'RAMPART_MERKLE_BAD_HASH');
  });

  it('does its arithmetic beyond 32 bits', () => {
    // A restored range of 2^40 + 1 leaves: one perfect subtree of 2^40 leaves and one leaf.
    const [big, leaf, next] = makeLeaves(3) as [Buffer, Buffer, Buffer];
    const size = 2 ** 40 + 1;
    const cr = CompactRange.fromNodes(size, [big, leaf]);
    assert.deepEqual(cr.root(), refNode(big, leaf));
    cr.append(next);
    assert.equal(cr.size, size + 1);
    assert.deepEqual(hex(cr.nodes()), hex([big, refNode(leaf, next)]));
    // And the verifier: the last leaf of a tree of 2^40 + 1 leaves has the big subtree as its path.
    assert.ok(verifyInclusion(leaf, 2 ** 40, size, [big], refNode(big, leaf)));
    assert.equal(verifyInclusion(leaf, 2 ** 40 - 1, size, [big], refNode(big, leaf)), false);
    assert.ok(verifyConsistency(2 ** 40, size, big, refNode(big, leaf), [leaf]));
  });
});

describe('inclusion proofs', () => {
  const N = 40;
  const leaves = makeLeaves(N);
  const full = new TreeView({ leaves });
  const roots = Array.from({ length: N + 1 }, (_, n) => mth(leaves.slice(0, n)));

  it('equal the RFC audit path for every leaf of every size up to 40, from an array and from a view', () => {
    const array = leafArraySource(leaves);
    for (let n = 1; n <= N; n++) {
      for (let i = 0; i < n; i++) {
        const want = hex(path(i, leaves.slice(0, n)));
        assert.deepEqual(hex(full.inclusionProof(i, n)), want, `view ${i}/${n}`);
        assert.deepEqual(hex(inclusionProof(i, n, array)), want, `array ${i}/${n}`);
        assert.deepEqual(hex(inclusionProof(i, n, full)), want, `view as source ${i}/${n}`);
      }
    }
  });

  it('verify, and fail with a flipped bit, another leaf, another index, a dropped or extra node', () => {
    for (let n = 1; n <= N; n++) {
      for (let i = 0; i < n; i++) {
        const leaf = leaves[i]!;
        const p = full.inclusionProof(i, n);
        const root = roots[n]!;
        assert.ok(verifyInclusion(leaf, i, n, p, root), `${i}/${n}`);
        for (let k = 0; k < p.length; k++) {
          for (const bit of [0, 7]) assert.equal(verifyInclusion(leaf, i, n, p.map((x, j) => (j === k ? flip(x, bit) : x)), root), false, `${i}/${n} bit ${bit} of [${k}]`);
        }
        assert.equal(verifyInclusion(flip(leaf, 0), i, n, p, root), false);
        assert.equal(verifyInclusion(leaf, i, n, p, flip(root, 0)), false);
        for (let j = 0; j < n; j++) if (j !== i) assert.equal(verifyInclusion(leaf, j, n, p, root), false, `${i}/${n} as index ${j}`);
        if (p.length > 0) assert.equal(verifyInclusion(leaf, i, n, p.slice(1), root), false);
        if (p.length > 0) assert.equal(verifyInclusion(leaf, i, n, p.slice(0, -1), root), false);
        assert.equal(verifyInclusion(leaf, i, n, [...p, root], root), false);
        assert.equal(verifyInclusion(leaf, i, n, [root, ...p], root), false);
        assert.equal(verifyInclusion(leaf, n, n, p, root), false, 'index == size');
      }
    }
  });

  it('fail for any other tree size whose audit path differs', () => {
    // The size is bound by the signed checkpoint, not by the proof: the path of leaf 0 in a tree of
    // 3 also verifies as "leaf 0 of 4" against the root of 3 (both sizes hash the same two
    // siblings in the same order), so only the root of the claimed size is a fair test. Against
    // it, every size whose audit path differs must fail.
    for (let n = 1; n <= N; n++) {
      for (let i = 0; i < n; i++) {
        const p = full.inclusionProof(i, n);
        for (let m = i + 1; m <= N; m++) {
          if (m === n || hex(full.inclusionProof(i, m)).join() === hex(p).join()) continue;
          assert.equal(verifyInclusion(leaves[i]!, i, m, p, roots[m]!), false, `${i}/${n} as size ${m}`);
        }
      }
    }
  });

  it('are refused for a leaf outside the tree or a tree larger than the source', () => {
    rangeCode(() => full.inclusionProof(5, 5));
    rangeCode(() => full.inclusionProof(-1, 5));
    rangeCode(() => full.inclusionProof(0, N + 1));
    rangeCode(() => full.inclusionProof(1.5, 5));
    rangeCode(() => inclusionProof(3, 41, leafArraySource(leaves)));
  });
});

describe('consistency proofs', () => {
  const N = 40;
  const leaves = makeLeaves(N);
  const full = new TreeView({ leaves });
  const roots = Array.from({ length: N + 1 }, (_, n) => mth(leaves.slice(0, n)));

  it('equal the RFC PROOF for every pair of sizes up to 40, from an array and from a view', () => {
    const array = leafArraySource(leaves);
    for (let n = 1; n <= N; n++) {
      for (let m = 1; m <= n; m++) {
        const want = hex(proof(m, leaves.slice(0, n)));
        assert.deepEqual(hex(full.consistencyProof(m, n)), want, `view ${m}->${n}`);
        assert.deepEqual(hex(consistencyProof(m, n, array)), want, `array ${m}->${n}`);
      }
    }
  });

  it('verify for every pair, and fail with a flipped bit, wrong roots, a dropped or extra node', () => {
    for (let n = 1; n <= N; n++) {
      for (let m = 1; m <= n; m++) {
        const p = full.consistencyProof(m, n);
        const [r1, r2] = [roots[m]!, roots[n]!];
        assert.ok(verifyConsistency(m, n, r1, r2, p), `${m}->${n}`);
        for (let k = 0; k < p.length; k++) {
          for (const bit of [0, 7]) assert.equal(verifyConsistency(m, n, r1, r2, p.map((x, j) => (j === k ? flip(x, bit) : x))), false, `${m}->${n} bit ${bit} of [${k}]`);
        }
        assert.equal(verifyConsistency(m, n, flip(r1, 0), r2, p), false);
        assert.equal(verifyConsistency(m, n, r1, flip(r2, 0), p), false);
        if (p.length > 0) {
          assert.equal(verifyConsistency(m, n, r2, r1, p), false, 'swapped roots');
          assert.equal(verifyConsistency(m, n, r1, r2, p.slice(0, -1)), false, 'truncated');
          assert.equal(verifyConsistency(m, n, r1, r2, p.slice(1)), false, 'first node dropped');
          assert.equal(verifyConsistency(m, n, r1, r2, []), false, 'empty');
        }
        assert.equal(verifyConsistency(m, n, r1, r2, [...p, r2]), false, 'trailing node');
        assert.equal(verifyConsistency(m, n, r1, r2, [r1, ...p]), false, 'preceding node');
        assert.equal(verifyConsistency(n, m, r2, r1, p), m === n, 'reversed sizes');
      }
    }
  });

  it('fail for any other pair of sizes whose proof differs', () => {
    for (let n = 2; n <= 24; n++) {
      for (let m = 1; m < n; m++) {
        const p = full.consistencyProof(m, n);
        for (let m2 = 1; m2 <= 24; m2++) {
          for (let n2 = m2; n2 <= 24; n2++) {
            if ((m2 === m && n2 === n) || hex(full.consistencyProof(m2, n2)).join() === hex(p).join()) continue;
            assert.equal(verifyConsistency(m2, n2, roots[m2]!, roots[n2]!, p), false, `${m}->${n} as ${m2}->${n2}`);
          }
        }
      }
    }
  });

  it('are refused for sizes outside the source', () => {
    rangeCode(() => full.consistencyProof(0, 5));
    rangeCode(() => full.consistencyProof(6, 5));
    rangeCode(() => full.consistencyProof(1, N + 1));
    rangeCode(() => consistencyProof(2, N + 1, leafArraySource(leaves)));
  });
});

describe('TreeView over a pruned prefix', () => {
  const N = 33;
  const leaves = makeLeaves(N, 'pruned');

  const viewFor = (p: number, n: number): TreeView => {
    const prefix = new CompactRange();
    for (let i = 0; i < p; i++) prefix.append(leaves[i]!);
    return new TreeView({ prefix, leaves: leaves.slice(p, n) });
  };

  it('gives the roots and proofs of the full view for every provable index and size', () => {
    for (let n = 1; n <= N; n++) {
      const full = new TreeView({ leaves: leaves.slice(0, n) });
      for (let p = 0; p <= n; p++) {
        const view = viewFor(p, n);
        assert.equal(view.size, n);
        assert.equal(view.prunedSize, p);
        for (let s = Math.max(p, 1); s <= n; s++) {
          assert.deepEqual(view.root(s), full.root(s), `P=${p} n=${n}: root(${s})`);
          for (let i = p; i < s; i++) assert.deepEqual(hex(view.inclusionProof(i, s)), hex(full.inclusionProof(i, s)), `P=${p} n=${n}: inclusion ${i}/${s}`);
          for (let m = Math.max(p, 1); m <= s; m++) assert.deepEqual(hex(view.consistencyProof(m, s)), hex(full.consistencyProof(m, s)), `P=${p} n=${n}: consistency ${m}->${s}`);
        }
      }
    }
  });

  it('works as a MerkleSource for the free proof functions', () => {
    const view = viewFor(11, 30);
    const full = new TreeView({ leaves: leaves.slice(0, 30) });
    for (let i = 11; i < 30; i++) assert.deepEqual(hex(inclusionProof(i, 30, view)), hex(full.inclusionProof(i, 30)));
    for (let m = 11; m <= 30; m++) assert.deepEqual(hex(consistencyProof(m, 27 > m ? 27 : m, view)), hex(full.consistencyProof(m, 27 > m ? 27 : m)));
  });

  it('refuses what lies inside the prefix with RAMPART_MERKLE_RANGE', () => {
    const view = viewFor(13, 30);
    rangeCode(() => view.inclusionProof(12));
    rangeCode(() => view.inclusionProof(0, 20));
    rangeCode(() => view.root(12));
    rangeCode(() => view.consistencyProof(12, 30));
    rangeCode(() => view.rangeHash(8, 10)); // inside the prefix node [8, 12)
    assert.deepEqual(view.rangeHash(8, 12), mth(leaves.slice(8, 12))); // that node itself is kept
    assert.throws(() => view.inclusionProof(3), /pruned prefix \[0, 13\)/);
    assert.deepEqual(view.root(0), emptyRoot());
  });

  it('holds copies: changing the caller\'s leaves or a returned proof changes nothing', () => {
    const suffix = leaves.slice(5, 20).map((b) => Buffer.from(b));
    const prefix = new CompactRange();
    for (let i = 0; i < 5; i++) prefix.append(leaves[i]!);
    const view = new TreeView({ prefix, leaves: suffix });
    const root = view.root();
    suffix[3]!.fill(0);
    view.inclusionProof(7)[0]!.fill(0);
    view.root().fill(0);
    assert.deepEqual(view.root(), root);
    assert.ok(verifyInclusion(leaves[7]!, 7, 20, view.inclusionProof(7), root));
  });

  it('proves every leaf of a 5000-leaf ledger pruned at 1234', () => {
    const many = makeLeaves(5000, 'big');
    const prefix = new CompactRange();
    for (let i = 0; i < 1234; i++) prefix.append(many[i]!);
    const view = new TreeView({ prefix, leaves: many.slice(1234) });
    const root = merkleRoot(many);
    assert.deepEqual(view.root(), root);
    for (let i = 1234; i < 5000; i++) assert.ok(verifyInclusion(many[i]!, i, 5000, view.inclusionProof(i), root), `leaf ${i}`);
    const r3000 = merkleRoot(many, 0, 3000);
    assert.deepEqual(view.root(3000), r3000);
    for (const i of [1234, 1500, 2047, 2048, 2999]) assert.ok(verifyInclusion(many[i]!, i, 3000, view.inclusionProof(i, 3000), r3000));
    assert.ok(verifyConsistency(1234, 5000, prefix.root(), root, view.consistencyProof(1234)));
    assert.ok(verifyConsistency(3000, 5000, r3000, root, view.consistencyProof(3000)));
  });

  it('a view of the prefix alone has the prefix root', () => {
    for (const p of [1, 2, 3, 4, 7, 8, 13, 32]) {
      const view = viewFor(p, p);
      assert.deepEqual(view.root(), mth(leaves.slice(0, p)), `P=${p}`);
      rangeCode(() => view.inclusionProof(p - 1));
    }
  });
});
