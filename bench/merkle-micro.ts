/**
 * Micro-benchmark of the ledger's RFC 9162 Merkle tree (src/ledger/merkle.ts): the root over 1M
 * leaves (target >= 1M leaves/s on the 2-core VM, so a checkpoint or a verification run over six
 * years of records is bounded by I/O, not hashing), building a TreeView, and the proofs an
 * evidence export makes, one per record (R17a4-8), plus their verification. Median of rounds,
 * wall clock; the machine's other load shows up here, so read the figures as orders of magnitude.
 *
 *   npx tsc -p tsconfig.json && node dist/bench/merkle-micro.js [leaves]
 */
import { randomBytes } from 'node:crypto';
import { cpus, loadavg } from 'node:os';
import { buildStoredRecord, GENESIS_HASH } from '../src/ledger/chain.js';
import { CompactRange, merkleRoot, TreeView, verifyConsistency, verifyInclusion } from '../src/ledger/merkle.js';
import { checkChainPage, packChainRows, type RawChainRow } from '../src/ledger/packed-chain.js';

const N = Number(process.argv[2] ?? 1_000_000);
const ROUNDS = 5;

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

/**
 * Runs fn `rounds` times; returns the median CPU seconds of this process (user + system) and fn's
 * last result. CPU time rather than wall clock: the VM is shared, and time spent waiting for a
 * core says nothing about this code (wall clock is printed once at the end for comparison).
 */
function time<T>(fn: () => T, rounds = ROUNDS): { s: number; result: T } {
  const ts: number[] = [];
  let result: T | undefined;
  for (let r = 0; r < rounds; r++) {
    const c0 = process.cpuUsage();
    result = fn();
    const c = process.cpuUsage(c0);
    ts.push((c.user + c.system) / 1e6);
  }
  return { s: median(ts), result: result as T };
}

const rate = (count: number, s: number): string => `${(count / s / 1e6).toFixed(2)} M/s`;

function main(): void {
  const wall0 = process.hrtime.bigint();
  const cpu0 = process.cpuUsage();
  console.log(`merkle-micro: ${N} leaves, ${cpus().length} cores (${cpus()[0]?.model}), node ${process.version}, load ${loadavg()[0]!.toFixed(1)}; CPU time, median of ${ROUNDS} rounds`);
  const backing = randomBytes(N * 32);
  const leaves = Array.from({ length: N }, (_, i) => backing.subarray(i * 32, i * 32 + 32));

  const root = time(() => merkleRoot(leaves));
  console.log(`merkleRoot over ${N} leaves:         ${(root.s * 1000).toFixed(0)} ms  ${rate(N, root.s)} leaves (target >= 1 M/s)`);

  const cr = time(() => {
    const c = new CompactRange();
    for (const l of leaves) c.append(l);
    return c;
  });
  const rootS = time(() => {
    for (let i = 0; i < 1000; i++) cr.result.root();
  }).s;
  const rootUs = (rootS * 1e6) / 1000;
  console.log(`CompactRange.append x ${N}:         ${(cr.s * 1000).toFixed(0)} ms  ${rate(N, cr.s)} leaves; root() ${rootUs.toFixed(1)} us`);
  const crFrom = time(() => {
    const c = new CompactRange();
    for (let i = 0; i < N; i++) c.appendFrom(backing, i * 32);
    return c;
  });
  if (!crFrom.result.root().equals(cr.result.root())) throw new Error('appendFrom differs from append');
  console.log(`CompactRange.appendFrom x ${N}:     ${(crFrom.s * 1000).toFixed(0)} ms  ${rate(N, crFrom.s)} leaves (one packed buffer, as verification folds them)`);

  // The verifier's per-record check (src/ledger/packed-chain.ts): text seq, leaf hash, chain link.
  const pageRows = 10_000;
  const rows: RawChainRow[] = [];
  let prev = GENESIS_HASH;
  for (let seq = 1; seq <= pageRows; seq++) {
    const st = buildStoredRecord({ v: 1, seq, ts: 1_764_322_200_000 + seq, type: 'exchange.decision', node: 'bench', api: 'brokerage', operationId: 'getAccount', route: '/accounts/{accountId}', method: 'GET', outcome: 'allow', status: 200, stage: 'ledger', reason: 'RAMPART_OK', configHash: 'sha256:bench', personalCommit: 'ab'.repeat(32) }, prev);
    prev = st.chainHash;
    rows.push([seq, st.canonical, st.leafHash, st.chainHash]);
  }
  const page = packChainRows(rows);
  const checked = time(() => checkChainPage(page, 1, GENESIS_HASH));
  if (checked.result.ok !== pageRows) throw new Error('checkChainPage refused an intact page');
  console.log(`checkChainPage (verification, ${page.bytes.length / pageRows | 0} B records): ${rate(pageRows, checked.s)} records (2 hashes each; the Merkle fold is 1 more)`);

  const build = time(() => new TreeView({ leaves }), 3);
  const view = build.result;
  if (!view.root().equals(root.result)) throw new Error('TreeView root differs from merkleRoot');
  console.log(`TreeView build over ${N} leaves:     ${(build.s * 1000).toFixed(0)} ms  ${rate(N, build.s)} leaves`);

  const all = time(() => {
    let nodes = 0;
    for (let i = 0; i < N; i++) nodes += view.inclusionProof(i).length;
    return nodes;
  }, 3);
  console.log(`inclusion proofs, every leaf:        ${(all.s * 1000).toFixed(0)} ms  ${rate(N, all.s)} proofs (${(all.result / N).toFixed(1)} nodes each)`);

  const smaller = N - 12345;
  const older = time(() => {
    for (let i = 0; i < N; i += 10) view.inclusionProof(i % smaller, smaller);
  }, 3);
  console.log(`inclusion proofs at an older size:   ${rate(N / 10, older.s)} proofs (ragged edge composed)`);

  const pairs = Array.from({ length: 100_000 }, (_, k) => {
    const a = 1 + ((k * 7919) % (N - 1));
    return [a, a + ((k * 104_729) % (N - a + 1))] as const;
  });
  const cons = time(() => {
    for (const [m, n] of pairs) view.consistencyProof(m, n);
  }, 3);
  console.log(`consistency proofs:                  ${rate(pairs.length, cons.s)} proofs`);

  const sample = Array.from({ length: 100_000 }, (_, k) => (k * 7919) % N);
  const proofs = sample.map((i) => view.inclusionProof(i));
  const rootHash = view.root();
  const ver = time(() => {
    for (let k = 0; k < sample.length; k++) if (!verifyInclusion(leaves[sample[k]!]!, sample[k]!, N, proofs[k]!, rootHash)) throw new Error('proof failed');
  }, 3);
  console.log(`verifyInclusion:                     ${rate(sample.length, ver.s)} proofs`);
  const cproofs = pairs.slice(0, 10_000).map(([m, n]) => ({ m, n, p: view.consistencyProof(m, n), r1: view.root(m), r2: view.root(n) }));
  const cver = time(() => {
    for (const c of cproofs) if (!verifyConsistency(c.m, c.n, c.r1, c.r2, c.p)) throw new Error('consistency failed');
  }, 3);
  console.log(`verifyConsistency:                   ${rate(cproofs.length, cver.s)} proofs`);

  // A ledger pruned at half: the prefix survives as its compact range only.
  const p = Math.floor(N / 2) + 1;
  const prefix = new CompactRange();
  for (let i = 0; i < p; i++) prefix.append(leaves[i]!);
  const pruned = time(() => new TreeView({ prefix, leaves: leaves.slice(p) }), 3);
  if (!pruned.result.root().equals(root.result)) throw new Error('pruned TreeView root differs');
  const pp = time(() => {
    for (let i = p; i < N; i++) pruned.result.inclusionProof(i);
  }, 3);
  console.log(`pruned at ${p}: build ${(pruned.s * 1000).toFixed(0)} ms, ${rate(N - p, pp.s)} proofs`);
  const cpu = process.cpuUsage(cpu0);
  console.log(`whole run: ${(Number(process.hrtime.bigint() - wall0) / 1e9).toFixed(1)} s wall, ${((cpu.user + cpu.system) / 1e6).toFixed(1)} s CPU`);
}

main();
