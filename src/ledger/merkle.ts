/**
 * The RFC 9162 §2.1 Merkle tree over the ledger's leaf hashes, and the proofs an examiner checks
 * offline against a signed checkpoint with nothing but the log's public key (AU-9(3) integrity
 * protection; R17a4-6 automatic verification; R17a4-8 records exported with the evidence that
 * locates them in the ledger).
 *
 * Record seq s is leaf index s-1, and its leaf hash is the one src/ledger/chain.ts already
 * stores: SHA-256(0x00 || canonical JSON). Interior nodes are SHA-256(0x01 || left || right), the
 * empty tree hashes to SHA-256(""). Everything here is pure and synchronous: callers hand in leaf
 * hashes as 32-byte Buffers; nothing reads a store.
 *
 * What it guarantees:
 * - merkleRoot / CompactRange / TreeView compute MTH exactly as RFC 9162 §2.1.1 defines it (the
 *   tests cross-check every size 1..70 against the recursive definition and the RFC 6962 vectors).
 * - CompactRange keeps only the O(log n) frontier ("compact range", as in transparency-dev), so the
 *   writer can checkpoint without re-reading the store, and a pruned prefix [0,P) survives as its
 *   compact range alone.
 * - inclusionProof / consistencyProof are the audit and consistency paths of §2.1.3.1 / §2.1.4.1;
 *   verifyInclusion / verifyConsistency are the verification algorithms of §2.1.3.2 / §2.1.4.2,
 *   step by step. A TreeView over a pruned ledger proves every leaf >= P and every old size >= P;
 *   anything it cannot prove is a RangeError with code RAMPART_MERKLE_RANGE, never a wrong proof.
 *
 * Sizes and indexes are JavaScript numbers (safe integers, so trees up to 2^53 - 1 leaves); all
 * bit arithmetic is done with division, never with 32-bit shifts.
 */
import { hash } from 'node:crypto';

/** Bytes in every hash of the tree (SHA-256). */
export const HASH_SIZE = 32;

/** Thrown (as a RangeError) for an index, size or range the tree or view cannot speak for. */
export const MERKLE_RANGE = 'RAMPART_MERKLE_RANGE';
/** Thrown (as a TypeError) for a leaf or node hash that is not a 32-byte Buffer. */
export const MERKLE_BAD_HASH = 'RAMPART_MERKLE_BAD_HASH';
/** Thrown by CompactRange.fromNodes for persisted state that cannot be a compact range. */
export const MERKLE_STATE_INVALID = 'RAMPART_MERKLE_STATE_INVALID';

function rangeError(message: string): RangeError & { code: typeof MERKLE_RANGE } {
  return Object.assign(new RangeError(message), { code: MERKLE_RANGE } as const);
}

function badHash(what: string): TypeError & { code: typeof MERKLE_BAD_HASH } {
  return Object.assign(new TypeError(`merkle: ${what} must be a ${HASH_SIZE}-byte Buffer`), { code: MERKLE_BAD_HASH } as const);
}

// Hashing. On Node 20 crypto.hash(..., 'buffer') costs ~1.6 us a call, but the same one-shot
// hash returned as a latin1 string costs ~0.25 us, and writing those 32 characters back as bytes
// costs less than the difference (measured on the 2-core VM; see bench/merkle-micro.ts). So node
// hashes are taken as latin1 and written straight into their destination; one reused 65-byte
// input buffer holds 0x01 || left || right (hashing is synchronous, so one buffer serves all).
const scratch = Buffer.alloc(1 + 2 * HASH_SIZE);
scratch[0] = 0x01;

/** out[outOff, outOff+32) = SHA-256(scratch), i.e. the node hash of whatever scratch holds. */
function hashScratchInto(out: Buffer, outOff: number): void {
  out.write(hash('sha256', scratch, 'binary'), outOff, HASH_SIZE, 'binary');
}

/** target[off..] = SHA-256(0x01 || left || right); target may alias left or right. */
function nodeInto(left: Buffer, right: Buffer, target: Buffer, off: number): void {
  left.copy(scratch, 1, 0, HASH_SIZE);
  right.copy(scratch, 1 + HASH_SIZE, 0, HASH_SIZE);
  hashScratchInto(target, off);
}

/**
 * dst[dOff, dOff+32) = src[sOff, sOff+32), for the one-node copies that make up proofs. A plain
 * loop: on Node 20, Buffer#copy from an offset allocates a Uint8Array view per call; for 32 bytes
 * the loop costs ~40 ns against ~57 ns, and proof generation went from ~400k to ~520k proofs/s.
 * (For the 64-byte child pairs Buffer#copy is the faster one, ~58 ns against ~78 ns.)
 */
function copy32(src: Uint8Array, sOff: number, dst: Uint8Array, dOff: number): void {
  for (let i = 0; i < HASH_SIZE; i++) dst[dOff + i] = src[sOff + i]!;
}

function isHash(b: unknown): b is Buffer {
  return Buffer.isBuffer(b) && b.length === HASH_SIZE;
}

function checkHash(b: unknown, what: string): asserts b is Buffer {
  if (!isHash(b)) throw badHash(what);
}

function isCount(n: unknown): n is number {
  return typeof n === 'number' && Number.isSafeInteger(n) && n >= 0;
}

/** 2^level as a number (exact for level <= 53). */
function pow2(level: number): number {
  return 2 ** level;
}

/** floor(x / 2^level) for a safe non-negative integer x. */
function shr(x: number, level: number): number {
  return Math.floor(x / pow2(level));
}

function isOdd(x: number): boolean {
  return x % 2 === 1;
}

function isPowerOfTwo(x: number): boolean {
  if (x < 1) return false;
  while (x % 2 === 0) x /= 2;
  return x === 1;
}

/** The smallest h with 2^h >= x (x >= 1). */
function ceilLog2(x: number): number {
  let h = 0;
  while (pow2(h) < x) h++;
  return h;
}

/** The number of trailing zero bits of x >= 1. */
function trailingZeros(x: number): number {
  let h = 0;
  while (x % 2 === 0) {
    x /= 2;
    h++;
  }
  return h;
}

/** The levels of the set bits of x, highest first: the levels of x's compact-range nodes. */
function setBitLevels(x: number): number[] {
  const levels: number[] = [];
  for (let h = 0; x > 0; h++, x = Math.floor(x / 2)) if (isOdd(x)) levels.push(h);
  return levels.reverse();
}

const EMPTY_ROOT = hash('sha256', '', 'buffer');

/**
 * MTH({}) = SHA-256(""), the root of the empty tree (RFC 9162 §2.1.1).
 *
 * @example
 * emptyRoot().toString('hex'); // 'e3b0c442...b855'
 */
export function emptyRoot(): Buffer {
  return Buffer.from(EMPTY_ROOT);
}

/**
 * The RFC 9162 leaf hash SHA-256(0x00 || data). The ledger computes its leaf hashes in chain.ts;
 * this is for tests, tools and the RFC vectors.
 *
 * @example
 * hashLeaf(Buffer.alloc(0)).toString('hex'); // '6e340b9c...a01d'
 */
export function hashLeaf(data: Uint8Array): Buffer {
  return hash('sha256', Buffer.concat([Buffer.of(0x00), data]), 'buffer');
}

/**
 * The interior node hash SHA-256(0x01 || left || right) (RFC 9162 §2.1.1).
 *
 * @example
 * const parent = nodeHash(leftChild, rightChild);
 */
export function nodeHash(left: Buffer, right: Buffer): Buffer {
  checkHash(left, 'left node');
  checkHash(right, 'right node');
  const out = Buffer.allocUnsafe(HASH_SIZE);
  nodeInto(left, right, out, 0);
  return out;
}

/** Slots in a CompactRange's node buffer: a safe-integer size has at most 53 set bits, plus one
 * transient node while append merges. */
const MAX_NODES = 64;

/**
 * The compact range (Merkle frontier) of the leaves [0, size): the roots of the perfect subtrees
 * that the binary decomposition of `size` splits the tree into, largest (leftmost) first. Appending
 * a leaf hashes amortised O(1) nodes; root() folds the O(log n) nodes right to left.
 *
 * The writer keeps one of these beside the chain head and persists nodes() with each checkpoint;
 * after a prune, the compact range of [0,P) is all that remains of the pruned records.
 *
 * @example
 * const cr = new CompactRange();
 * for (const leaf of leafHashes) cr.append(leaf);
 * const state = { size: cr.size, nodes: cr.nodes() }; // persist
 * const again = CompactRange.fromNodes(state.size, state.nodes);
 * again.root().equals(cr.root()); // true
 */
export class CompactRange {
  #size = 0;
  /** Node k (0 = leftmost, highest) at bytes [32k, 32k+32). */
  #nodes = Buffer.alloc(MAX_NODES * HASH_SIZE);
  #count = 0;

  /** Number of leaves covered: the range is [0, size). */
  get size(): number {
    return this.#size;
  }

  /** Appends the next leaf hash (leaf index `size`). */
  append(leaf: Buffer): void {
    checkHash(leaf, 'leaf hash');
    this.appendFrom(leaf, 0);
  }

  /**
   * Appends the leaf hash held in bytes[offset, offset+32): a verifier folding millions of leaves
   * from one packed buffer need not make a Buffer per leaf (./verify-ledger.ts).
   *
   * @example
   * for (let i = 0; i < n; i++) cr.appendFrom(page, 32 * i);
   */
  appendFrom(bytes: Uint8Array, offset: number): void {
    if (!(bytes instanceof Uint8Array) || !Number.isSafeInteger(offset) || offset < 0 || offset + HASH_SIZE > bytes.length) throw badHash('leaf hash');
    if (this.#size >= Number.MAX_SAFE_INTEGER) throw rangeError('merkle: a compact range cannot grow beyond 2^53 - 1 leaves');
    const nodes = this.#nodes;
    copy32(bytes, offset, nodes, this.#count * HASH_SIZE);
    this.#count++;
    // Each trailing 1 bit of the old size is a perfect subtree the new leaf now completes.
    for (let s = this.#size; isOdd(s); s = (s - 1) / 2) {
      const off = (this.#count - 2) * HASH_SIZE;
      nodes.copy(scratch, 1, off, off + 2 * HASH_SIZE);
      hashScratchInto(nodes, off);
      this.#count--;
    }
    this.#size++;
  }

  /** MTH(D[0:size]) in O(log size) hashes; the empty-tree hash for size 0. */
  root(): Buffer {
    if (this.#count === 0) return emptyRoot();
    const acc = Buffer.allocUnsafe(HASH_SIZE);
    const nodes = this.#nodes;
    nodes.copy(acc, 0, (this.#count - 1) * HASH_SIZE, this.#count * HASH_SIZE);
    for (let k = this.#count - 2; k >= 0; k--) {
      nodes.copy(scratch, 1, k * HASH_SIZE, (k + 1) * HASH_SIZE);
      acc.copy(scratch, 1 + HASH_SIZE, 0, HASH_SIZE);
      hashScratchInto(acc, 0);
    }
    return acc;
  }

  /** Copies of the compact-range nodes, leftmost (largest subtree) first; persist with `size`. */
  nodes(): Buffer[] {
    const out: Buffer[] = [];
    for (let k = 0; k < this.#count; k++) out.push(Buffer.from(this.#nodes.subarray(k * HASH_SIZE, (k + 1) * HASH_SIZE)));
    return out;
  }

  /** An independent copy (the writer can checkpoint one while the other keeps growing). */
  clone(): CompactRange {
    const c = new CompactRange();
    c.#size = this.#size;
    c.#count = this.#count;
    this.#nodes.copy(c.#nodes);
    return c;
  }

  /**
   * Restores a compact range from `size` and the nodes() it had. Throws an Error with code
   * RAMPART_MERKLE_STATE_INVALID when the node count does not match the size (one node per set
   * bit of size) or a node is not 32 bytes.
   *
   * @example
   * const cr = CompactRange.fromNodes(head.size, head.nodes.map((h) => Buffer.from(h, 'hex')));
   */
  static fromNodes(size: number, nodes: readonly Buffer[]): CompactRange {
    const invalid = (why: string): Error => Object.assign(new Error(`merkle: cannot restore a compact range: ${why}`), { code: MERKLE_STATE_INVALID });
    if (!isCount(size)) throw invalid(`size ${String(size)} is not a non-negative safe integer`);
    const want = setBitLevels(size).length;
    if (nodes.length !== want) throw invalid(`a range of ${size} leaves has ${want} nodes, got ${nodes.length}`);
    const c = new CompactRange();
    nodes.forEach((n, k) => {
      if (!isHash(n)) throw invalid(`node ${k} is not a ${HASH_SIZE}-byte Buffer`);
      n.copy(c.#nodes, k * HASH_SIZE);
    });
    c.#size = size;
    c.#count = want;
    return c;
  }
}

/**
 * MTH(D[start:end]) over leaf hashes, computed iteratively with a compact range (n-1 hashes,
 * O(log n) memory). The empty range gives the empty-tree hash.
 *
 * @example
 * const root = merkleRoot(leafHashes);          // the whole tree
 * const sub = merkleRoot(leafHashes, 4, 8);     // the subtree over leaves 4..7
 */
export function merkleRoot(leaves: readonly Buffer[], start = 0, end = leaves.length): Buffer {
  if (!isCount(start) || !isCount(end) || start > end || end > leaves.length) {
    throw rangeError(`merkle: range [${start}, ${end}) is not within the ${leaves.length} leaves given`);
  }
  const cr = new CompactRange();
  for (let i = start; i < end; i++) cr.append(leaves[i]!);
  return cr.root();
}

/**
 * Where proofs get their hashes. `rangeHash(start, end)` returns MTH(D[start:end]) for the
 * ranges a proof over a tree of at most `size` leaves needs: `start` is a multiple of the
 * smallest power of two >= end - start, so the range is either an aligned perfect subtree or the
 * ragged right edge [start, treeSize) of a smaller tree. The returned Buffer belongs to the caller.
 * A source that does not hold a range throws a RangeError with code RAMPART_MERKLE_RANGE.
 *
 * Implementations: leafArraySource (all leaf hashes in memory; each call hashes its range) and
 * TreeView (precomputed levels, optionally over a pruned prefix; O(1) per perfect subtree).
 */
export interface MerkleSource {
  /** The largest tree size the source can answer for. */
  readonly size: number;
  rangeHash(start: number, end: number): Buffer;
}

/**
 * A MerkleSource over all leaf hashes in memory. Each rangeHash call hashes its whole range, so a
 * proof costs O(n): fine for one proof; use TreeView for many.
 *
 * @example
 * const proof = inclusionProof(5, leaves.length, leafArraySource(leaves));
 */
export function leafArraySource(leaves: readonly Buffer[]): MerkleSource {
  return { size: leaves.length, rangeHash: (start, end) => merkleRoot(leaves, start, end) };
}

/**
 * Appends to `out` the sibling hashes on the path from node (level, index) up to the root of a
 * tree of `size` leaves, bottom-up: the RFC 9162 audit path when level = 0, and the tail of a
 * consistency proof otherwise (the order the §2.1.3.2 / §2.1.4.2 verifiers consume). A node with
 * no sibling (the last node of its level, a left child) is promoted and contributes nothing.
 */
function pathFrom(level: number, index: number, size: number, range: (start: number, end: number) => Buffer, out: Buffer[]): void {
  let width = pow2(level);
  let fn = index;
  let sn = Math.floor((size - 1) / width); // the last (possibly ragged) node of this level
  while (sn > 0) {
    if (isOdd(fn)) {
      out.push(range((fn - 1) * width, fn * width));
    } else if (fn < sn) {
      const start = (fn + 1) * width;
      out.push(range(start, Math.min(start + width, size)));
    }
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
    width *= 2;
  }
}

function checkInclusionArgs(leafIndex: number, treeSize: number, limit: number): void {
  if (!isCount(treeSize) || treeSize > limit) throw rangeError(`merkle: tree size ${String(treeSize)} is not within the ${limit} leaves available`);
  if (!isCount(leafIndex) || leafIndex >= treeSize) throw rangeError(`merkle: leaf index ${String(leafIndex)} is not in a tree of ${treeSize} leaves`);
}

function checkConsistencyArgs(oldSize: number, newSize: number, limit: number): void {
  if (!isCount(newSize) || newSize > limit) throw rangeError(`merkle: tree size ${String(newSize)} is not within the ${limit} leaves available`);
  // RFC 9162 §2.1.4: a consistency proof is defined for 0 < first <= second.
  if (!isCount(oldSize) || oldSize === 0 || oldSize > newSize) {
    throw rangeError(`merkle: no consistency proof from size ${String(oldSize)} to size ${newSize} (needs 0 < old size <= new size)`);
  }
}

/** The first consistency-proof node (level, index), per RFC 9162 §2.1.4.1 unrolled: the largest
 * perfect subtree ending at oldSize; it is omitted from the proof when it is the old root. */
function consistencyStart(oldSize: number): { level: number; index: number } {
  const level = trailingZeros(oldSize);
  return { level, index: shr(oldSize, level) - 1 };
}

/**
 * The RFC 9162 §2.1.3.1 inclusion proof (audit path) of leaf `leafIndex` in the tree of the first
 * `treeSize` leaves, bottom-up, as fresh 32-byte Buffers.
 *
 * @example
 * const proof = inclusionProof(seq - 1, checkpoint.size, view);
 * verifyInclusion(leafHash, seq - 1, checkpoint.size, proof, checkpoint.rootHash); // true
 */
export function inclusionProof(leafIndex: number, treeSize: number, source: MerkleSource): Buffer[] {
  checkInclusionArgs(leafIndex, treeSize, source.size);
  const out: Buffer[] = [];
  pathFrom(0, leafIndex, treeSize, (s, e) => source.rangeHash(s, e), out);
  return out;
}

/**
 * The RFC 9162 §2.1.4.1 consistency proof that the tree of `oldSize` leaves is a prefix of the
 * tree of `newSize` leaves. Empty when the sizes are equal; oldSize 0 is refused (the RFC defines
 * proofs for 0 < old size).
 *
 * @example
 * const proof = consistencyProof(previous.size, latest.size, view);
 * verifyConsistency(previous.size, latest.size, previous.rootHash, latest.rootHash, proof); // true
 */
export function consistencyProof(oldSize: number, newSize: number, source: MerkleSource): Buffer[] {
  checkConsistencyArgs(oldSize, newSize, source.size);
  const out: Buffer[] = [];
  if (oldSize === newSize) return out;
  const { level, index } = consistencyStart(oldSize);
  const range = (s: number, e: number): Buffer => source.rangeHash(s, e);
  if (index !== 0) out.push(range(oldSize - pow2(level), oldSize));
  pathFrom(level, index, newSize, range, out);
  return out;
}

/**
 * All node hashes of a tree of `size` leaves, level by level, so that every proof node is a copy
 * and not a computation: ~n hashes to build, 32 bytes per node (about 2 x 32 x n bytes in all).
 * Optionally the first P leaves are pruned and only their compact range is given: the view then
 * proves every leaf >= P, every tree size >= P and every consistency proof from an old size >= P
 * (each node such a proof needs lies in [P, n), is a node of the prefix's compact range, or
 * combines the two), and throws RAMPART_MERKLE_RANGE for anything else.
 *
 * Layout: level h holds the nodes with indexes first_h = floor(P / 2^h) through
 * ceil(n / 2^h) - 1, each covering leaves [j*2^h, (j+1)*2^h) clipped to n (the last one may be the
 * ragged right edge, MTH(D[j*2^h:n])); the prefix's compact-range node at level h, if any, is node
 * first_h - 1.
 *
 * @example
 * const view = new TreeView({ prefix: prunedRange, leaves: suffixLeafHashes });
 * view.root();                          // equals the checkpoint's root at view.size
 * view.inclusionProof(seq - 1);         // audit path in the tree of view.size leaves
 * view.consistencyProof(old.size);      // old checkpoint -> view.size
 */
export class TreeView implements MerkleSource {
  /** Leaves covered, pruned ones included: the view speaks for trees of up to this size. */
  readonly size: number;
  /** Leaves [0, prunedSize) are known only by their compact range. */
  readonly prunedSize: number;
  readonly #levels: Buffer[] = [];
  readonly #first: number[] = [];
  readonly #prefix: (Buffer | undefined)[] = [];

  constructor(init: { prefix?: CompactRange; leaves: readonly Buffer[] }) {
    const p = init.prefix?.size ?? 0;
    const n = p + init.leaves.length;
    if (n > Number.MAX_SAFE_INTEGER) throw rangeError('merkle: a tree view cannot exceed 2^53 - 1 leaves');
    this.prunedSize = p;
    this.size = n;
    const height = n <= 1 ? 0 : ceilLog2(n);

    if (init.prefix) {
      const prefixNodes = init.prefix.nodes();
      setBitLevels(p).forEach((h, k) => {
        this.#prefix[h] = prefixNodes[k]!;
      });
    }

    // Level 0: the suffix leaves, packed (the view owns its copy; the caller's array may change).
    const level0 = Buffer.allocUnsafe(init.leaves.length * HASH_SIZE);
    init.leaves.forEach((leaf, i) => {
      checkHash(leaf, `leaf hash ${p + i}`);
      leaf.copy(level0, i * HASH_SIZE, 0, HASH_SIZE);
    });
    this.#levels.push(level0);
    this.#first.push(p);

    for (let h = 1; h <= height; h++) {
      const first = shr(p, h);
      const last = Math.ceil(n / pow2(h)) - 1;
      const below = this.#levels[h - 1]!;
      const belowFirst = this.#first[h - 1]!;
      const belowLast = Math.ceil(n / pow2(h - 1)) - 1;
      const buf = Buffer.allocUnsafe(Math.max(0, last - first + 1) * HASH_SIZE);
      for (let j = first; j <= last; j++) {
        const out = (j - first) * HASH_SIZE;
        const left = 2 * j;
        if (left >= belowFirst && left + 1 <= belowLast) {
          // Both children stored side by side: one copy of 64 bytes.
          const off = (left - belowFirst) * HASH_SIZE;
          below.copy(scratch, 1, off, off + 2 * HASH_SIZE);
          hashScratchInto(buf, out);
        } else if (left + 1 <= belowLast) {
          // The left child is the prefix's compact-range node at level h-1.
          this.#prefix[h - 1]!.copy(scratch, 1);
          below.copy(scratch, 1 + HASH_SIZE, 0, HASH_SIZE);
          hashScratchInto(buf, out);
        } else {
          // No right child: the last node of the level below is promoted unchanged (RFC 9162's
          // split at the largest power of two < n puts it, alone, under this node).
          this.#copyNode(h - 1, left, buf, out);
        }
      }
      this.#levels.push(buf);
      this.#first.push(first);
    }
  }

  /** Copies node (level, index) into target[off..]; RAMPART_MERKLE_RANGE if the view lacks it. */
  #copyNode(level: number, index: number, target: Buffer, off: number): void {
    const lvl = this.#levels[level];
    if (lvl !== undefined) {
      const first = this.#first[level]!;
      const k = index - first;
      if (k >= 0 && (k + 1) * HASH_SIZE <= lvl.length) {
        copy32(lvl, k * HASH_SIZE, target, off);
        return;
      }
      const p = this.#prefix[level];
      if (k === -1 && p !== undefined) {
        p.copy(target, off);
        return;
      }
    }
    const from = index * pow2(level);
    if (from < this.prunedSize) {
      throw rangeError(`merkle: the subtree over leaves [${from}, ${Math.min(from + pow2(level), this.size)}) lies in the pruned prefix [0, ${this.prunedSize}); only its compact range is kept`);
    }
    throw rangeError(`merkle: the subtree over leaves [${from}, ${from + pow2(level)}) is not within this view of ${this.size} leaves`);
  }

  #node(level: number, index: number): Buffer {
    const out = Buffer.allocUnsafe(HASH_SIZE);
    this.#copyNode(level, index, out, 0);
    return out;
  }

  /** MTH(D[start:end]) for start aligned to 2^ceil(log2(end-start)) (see MerkleSource). */
  rangeHash(start: number, end: number): Buffer {
    if (!isCount(start) || !isCount(end) || start >= end || end > this.size) {
      throw rangeError(`merkle: range [${String(start)}, ${String(end)}) is not a non-empty range within this view of ${this.size} leaves`);
    }
    const level = ceilLog2(end - start);
    if (start % pow2(level) !== 0) throw rangeError(`merkle: range [${start}, ${end}) is not aligned to a subtree`);
    // A perfect subtree, or the ragged right edge of the whole view: stored as one node.
    if (end - start === pow2(level) || end === this.size) return this.#node(level, start / pow2(level));
    return this.#compose(start, end);
  }

  /** MTH(D[start:end]) from the perfect subtrees of the range's binary decomposition, folded
   * right to left (the shape RFC 9162's split at the largest power of two produces). */
  #compose(start: number, end: number): Buffer {
    const parts: [number, number][] = [];
    let pos = start;
    for (const h of setBitLevels(end - start)) {
      parts.push([h, pos / pow2(h)]);
      pos += pow2(h);
    }
    const [lastLevel, lastIndex] = parts[parts.length - 1]!;
    const acc = this.#node(lastLevel, lastIndex);
    for (let k = parts.length - 2; k >= 0; k--) {
      const [h, j] = parts[k]!;
      this.#copyNode(h, j, scratch, 1);
      acc.copy(scratch, 1 + HASH_SIZE, 0, HASH_SIZE);
      hashScratchInto(acc, 0);
    }
    return acc;
  }

  /** The ragged edges of the last smaller tree size asked for, by level: an export proves many
   * records against one older checkpoint, and each of its proofs needs the same few edges. */
  #edges: { size: number; byLevel: Map<number, Buffer> } = { size: -1, byLevel: new Map() };

  /** A copy of MTH(D[start:size]), the ragged last node at `level` of a tree of `size` leaves. */
  #ragged(level: number, start: number, size: number): Buffer {
    if (this.#edges.size !== size) this.#edges = { size, byLevel: new Map() };
    let edge = this.#edges.byLevel.get(level);
    if (edge === undefined) {
      edge = this.#compose(start, size);
      this.#edges.byLevel.set(level, edge);
    }
    return Buffer.from(edge);
  }

  /**
   * MTH(D[0:size]) for prunedSize <= size <= this.size (the empty-tree hash for size 0): O(1) for
   * the view's own size, O(log n) hashes for a smaller one.
   */
  root(size: number = this.size): Buffer {
    if (size === 0) return emptyRoot();
    if (!isCount(size) || size > this.size) throw rangeError(`merkle: tree size ${String(size)} is not within this view of ${this.size} leaves`);
    if (size < this.prunedSize) throw rangeError(`merkle: tree size ${size} lies in the pruned prefix [0, ${this.prunedSize}); its root is only in that checkpoint`);
    return this.rangeHash(0, size);
  }

  /**
   * The inclusion proof of leaf `index` in the tree of `size` leaves (default: the whole view).
   * Throws RAMPART_MERKLE_RANGE for a leaf in the pruned prefix.
   */
  inclusionProof(index: number, size: number = this.size): Buffer[] {
    checkInclusionArgs(index, size, this.size);
    if (index < this.prunedSize) {
      throw rangeError(`merkle: leaf ${index} lies in the pruned prefix [0, ${this.prunedSize}); no inclusion proof can be made for it`);
    }
    const out: Buffer[] = [];
    this.#path(0, index, size, out);
    return out;
  }

  /**
   * The consistency proof from the tree of `oldSize` leaves to the tree of `newSize` (default: the
   * whole view). Throws RAMPART_MERKLE_RANGE for an old size inside the pruned prefix.
   */
  consistencyProof(oldSize: number, newSize: number = this.size): Buffer[] {
    checkConsistencyArgs(oldSize, newSize, this.size);
    if (oldSize < this.prunedSize) {
      throw rangeError(`merkle: old size ${oldSize} lies in the pruned prefix [0, ${this.prunedSize}); prove consistency from the prune checkpoint (size ${this.prunedSize}) instead`);
    }
    const out: Buffer[] = [];
    if (oldSize === newSize) return out;
    const { level, index } = consistencyStart(oldSize);
    if (index !== 0) out.push(this.#node(level, index));
    this.#path(level, index, newSize, out);
    return out;
  }

  /** pathFrom() specialised to stored nodes: a copy per proof node, a computation only for the
   * ragged edge of a tree smaller than the view. */
  #path(level: number, index: number, size: number, out: Buffer[]): void {
    let width = pow2(level);
    let h = level;
    let fn = index;
    let sn = Math.floor((size - 1) / width);
    while (sn > 0) {
      if (isOdd(fn)) {
        out.push(this.#node(h, fn - 1));
      } else if (fn < sn) {
        const start = (fn + 1) * width;
        // Complete sibling, or the ragged edge of the view's own size: stored. Otherwise the
        // ragged edge of a smaller tree: composed from stored perfect subtrees.
        out.push(start + width <= size || size === this.size ? this.#node(h, fn + 1) : this.#ragged(h, start, size));
      }
      fn = Math.floor(fn / 2);
      sn = Math.floor(sn / 2);
      width *= 2;
      h++;
    }
  }
}

/** r = SHA-256(0x01 || a || b), in place (r may be a or b). */
function hashPair(a: Buffer, b: Buffer, r: Buffer): void {
  nodeInto(a, b, r, 0);
}

/**
 * Verifies an inclusion proof exactly as RFC 9162 §2.1.3.2 specifies. Returns false (never
 * throws) for a wrong proof, wrong index or size, malformed hashes, or leafIndex >= treeSize.
 *
 * @example
 * verifyInclusion(Buffer.from(stored.leafHash, 'hex'), seq - 1, cp.size, proof, cp.rootHash);
 */
export function verifyInclusion(leafHash: Buffer, leafIndex: number, treeSize: number, proof: readonly Buffer[], root: Buffer): boolean {
  if (!isHash(leafHash) || !isHash(root) || !isCount(leafIndex) || !isCount(treeSize) || !Array.isArray(proof)) return false;
  // 1. leaf_index >= tree_size fails.
  if (leafIndex >= treeSize) return false;
  // 2. fn = leaf_index, sn = tree_size - 1; 3. r = hash.
  let fn = leafIndex;
  let sn = treeSize - 1;
  const r = Buffer.from(leafHash);
  // 4. For each p in inclusion_path:
  for (const p of proof) {
    if (!isHash(p)) return false;
    // a. sn = 0 with proof left over fails.
    if (sn === 0) return false;
    if (isOdd(fn) || fn === sn) {
      // b. r = HASH(0x01 || p || r); if LSB(fn) not set, shift until it is or fn is 0.
      hashPair(p, r, r);
      if (!isOdd(fn)) {
        while (!isOdd(fn) && fn !== 0) {
          fn /= 2;
          sn = Math.floor(sn / 2);
        }
      }
    } else {
      // Otherwise r = HASH(0x01 || r || p).
      hashPair(r, p, r);
    }
    // c. Right-shift both once.
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  // 5. sn must be 0 and r the root.
  return sn === 0 && r.equals(root);
}

/**
 * Verifies a consistency proof exactly as RFC 9162 §2.1.4.2 specifies, for 0 < oldSize < newSize.
 * Edge cases: oldSize == newSize holds only with an empty proof and equal roots (a tree is
 * consistent with itself and the RFC's proof of that is empty); oldSize 0 and oldSize > newSize
 * are rejected, as the RFC defines proofs only for 0 < first. Returns false, never throws.
 *
 * @example
 * verifyConsistency(old.size, cp.size, old.rootHash, cp.rootHash, proof);
 */
export function verifyConsistency(oldSize: number, newSize: number, oldRoot: Buffer, newRoot: Buffer, proof: readonly Buffer[]): boolean {
  if (!isCount(oldSize) || !isCount(newSize) || !isHash(oldRoot) || !isHash(newRoot) || !Array.isArray(proof)) return false;
  if (!proof.every(isHash)) return false;
  if (oldSize === 0 || oldSize > newSize) return false;
  if (oldSize === newSize) return proof.length === 0 && oldRoot.equals(newRoot);
  // 1. An empty consistency_path fails.
  if (proof.length === 0) return false;
  // 2. If first is an exact power of 2, prepend first_hash.
  const path = isPowerOfTwo(oldSize) ? [oldRoot, ...proof] : proof;
  // 3. fn = first - 1, sn = second - 1; 4. while LSB(fn) set, shift both.
  let fn = oldSize - 1;
  let sn = newSize - 1;
  while (isOdd(fn)) {
    fn = (fn - 1) / 2;
    sn = Math.floor(sn / 2);
  }
  // 5. fr = sr = the first value of the path.
  const fr = Buffer.from(path[0]!);
  const sr = Buffer.from(path[0]!);
  // 6. For each subsequent value c:
  for (let k = 1; k < path.length; k++) {
    const c = path[k]!;
    if (sn === 0) return false;
    if (isOdd(fn) || fn === sn) {
      hashPair(c, fr, fr);
      hashPair(c, sr, sr);
      if (!isOdd(fn)) {
        while (!isOdd(fn) && fn !== 0) {
          fn /= 2;
          sn = Math.floor(sn / 2);
        }
      }
    } else {
      hashPair(sr, c, sr);
    }
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  // 7. fr must be first_hash, sr second_hash, and sn 0.
  return fr.equals(oldRoot) && sr.equals(newRoot) && sn === 0;
}
