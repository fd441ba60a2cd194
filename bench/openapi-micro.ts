/**
 * Micro-benchmark of the OpenAPI layer: load time of a large generated document, routing and
 * validation cost per operation, and the strict JSON parser against JSON.parse. Prints ratios
 * measured in the same run (DESIGN: never a timed test).
 *
 *   npx tsc -p tsconfig.json && node dist/bench/openapi-micro.js [--yaml]
 *
 * --yaml also loads the YAML form of the document (the `yaml` package parses ~2-4 MB/s).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadApi, apiStats, warmUp } from '../src/openapi/load.js';
import { parseStrictJson } from '../src/openapi/json-strict.js';
import type { ApiModel, RouteMatch } from '../src/openapi/types.js';
import { writeAwkwardSpec, type AwkwardSample } from '../test/helpers/awkward-spec.js';

const ROUNDS = 7;

function median(xs: number[]): number {
  const s = xs.slice().sort((a, b) => a - b);
  return s[s.length >> 1]!;
}

/** Median over rounds of the time per call, in nanoseconds; each round runs for ~minMs. */
function measure(fn: () => void, minMs = 150): number {
  for (let i = 0; i < 200; i++) fn(); // warm-up
  let n = 1;
  for (;;) {
    const t0 = performance.now();
    for (let i = 0; i < n; i++) fn();
    if (performance.now() - t0 > minMs / 4) break;
    n *= 2;
  }
  const per: number[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    const t0 = performance.now();
    for (let i = 0; i < n; i++) fn();
    per.push(((performance.now() - t0) * 1e6) / n);
  }
  return median(per);
}

const fmt = (ns: number): string => (ns >= 1000 ? `${(ns / 1000).toFixed(2)} µs` : `${ns.toFixed(0)} ns`);
const opts = (file: string) => ({ name: 'bench', file, qualifyScopes: false, closedObjects: true, reservedPrefix: '/.rampart' });

async function loadTimes(file: string, runs: number): Promise<{ api: ApiModel; ms: number; parseMs: number }> {
  const ms: number[] = [];
  const parse: number[] = [];
  let api!: ApiModel;
  for (let i = 0; i < runs; i++) {
    api = await loadApi(opts(file));
    const st = apiStats(api);
    ms.push(st.loadMs);
    parse.push(st.parseMs);
  }
  return { api, ms: median(ms), parseMs: median(parse) };
}

function parts(m: Extract<RouteMatch, { kind: 'found' }>, s: AwkwardSample, body: Buffer | undefined) {
  return { pathParams: m.pathParams, rawQuery: s.rawQuery, headers: s.headers, body };
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'rampart-bench-openapi-'));
  try {
    console.log(`node ${process.version}, ${process.arch}`);

    // 1. Load: ~3 MB, 660 operations (the test's document), JSON.
    const spec = writeAwkwardSpec(dir);
    const { api, ms, parseMs } = await loadTimes(spec.file, 5);
    console.log(`\nload  ${(spec.bytes / 1e6).toFixed(2)} MB JSON, ${spec.operations} operations: ${ms.toFixed(1)} ms median of 5 (parse ${parseMs.toFixed(1)} ms); validators compiled at load: ${apiStats(api).schemaCompiles}`);
    const t0 = performance.now();
    const warm = await warmUp(api, { sliceMs: 10 });
    const st = apiStats(api);
    console.log(`warm  all ${warm.compiled} operations: ${(performance.now() - t0).toFixed(0)} ms wall, ${st.schemaCompiles} schemas compiled in ${st.compileMs.toFixed(0)} ms (${(st.compileMs / warm.compiled).toFixed(2)} ms per operation on first use without warm-up)`);
    if (process.argv.includes('--yaml')) {
      const y = writeAwkwardSpec(dir, { format: 'yaml' });
      const ly = await loadTimes(y.file, 1);
      console.log(`load  ${(y.bytes / 1e6).toFixed(2)} MB YAML: ${ly.ms.toFixed(0)} ms (parse ${ly.parseMs.toFixed(0)} ms) = ${(ly.ms / ms).toFixed(1)}x the JSON form`);
    }

    // 2. Routing on a 1,210-operation document: every operation's path, round robin.
    const big = writeAwkwardSpec(join(dir), { groups: 110, padding: 40 });
    const bigApi = (await loadTimes(big.file, 1)).api;
    let k = 0;
    const samples = big.samples;
    const route = measure(() => {
      const s = samples[k++ % samples.length]!;
      bigApi.match(s.method, s.path);
    });
    const literal = measure(() => bigApi.match('GET', '/g55/items/search'));
    const deep = measure(() => bigApi.match('GET', '/g55/items/123/lines/L7'));
    const miss = measure(() => bigApi.match('GET', '/g55/nothing/here'));
    console.log(`\nroute ${big.operations} operations: ${fmt(route)} per match (round robin); literal ${fmt(literal)}, 4 segments + 2 params ${fmt(deep)}, not-found ${fmt(miss)}`);

    // 3. Route + validate per operation (compiled), by kind of request.
    await warmUp(bigApi);
    const bodies = samples.map((s) => (s.body === undefined ? undefined : Buffer.from(s.body)));
    const kinds: Record<string, number[]> = {};
    for (let i = 0; i < samples.length; i += 11) {
      // one group's eleven operations, representative of the rest
      if (i > 11 * 3) break;
      for (let j = i; j < i + 11; j++) {
        const s = samples[j]!;
        const body = bodies[j];
        const m = bigApi.match(s.method, s.path) as Extract<RouteMatch, { kind: 'found' }>;
        const p = parts(m, s, body);
        const ns = measure(() => {
          const mm = bigApi.match(s.method, s.path) as Extract<RouteMatch, { kind: 'found' }>;
          mm.operation.validate(p);
        }, 60);
        const key = s.id.replace(/\d+$/, '');
        (kinds[key] ??= []).push(ns);
      }
    }
    console.log('\nroute + validate, per request (compiled):');
    for (const [key, list] of Object.entries(kinds)) {
      const s = samples.find((x) => x.id.startsWith(key))!;
      const what = s.body ? `${s.body.length} B JSON body` : s.rawQuery ? `query ${s.rawQuery.length} B` : 'path params only';
      console.log(`  ${key.padEnd(12)} ${fmt(median(list)).padStart(9)}  (${what})`);
    }
    const all = Object.values(kinds).flat();
    console.log(`  mean over operations: ${fmt(all.reduce((a, b) => a + b, 0) / all.length)}; route alone is ${((route / (all.reduce((a, b) => a + b, 0) / all.length)) * 100).toFixed(0)}% of it`);

    // 4. Strict JSON vs JSON.parse.
    console.log('\nstrict JSON (duplicate keys, __proto__, depth) vs JSON.parse:');
    for (const size of [1_000, 10_000, 100_000]) {
      const text = sampleJson(size);
      const plain = measure(() => JSON.parse(text));
      const strict = measure(() => parseStrictJson(text));
      console.log(`  ${String(text.length).padStart(7)} B: JSON.parse ${fmt(plain).padStart(9)}, strict ${fmt(strict).padStart(9)}  ratio ${(strict / plain).toFixed(2)}x`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** A realistic body: orders with legs, amounts, strings with escapes, nested objects. */
function sampleJson(bytes: number): string {
  const orders: unknown[] = [];
  let i = 0;
  let text = '';
  do {
    orders.push({
      id: `ord_${i.toString(36).padStart(8, '0')}`,
      account: { id: 1000 + i, currency: 'USD', tags: ['a', 'b\\c', 'quote "q"'] },
      side: i % 2 ? 'buy' : 'sell',
      quantity: i * 3,
      limitPrice: i % 3 ? 101.25 + i : null,
      legs: [
        { symbol: 'ACME', ratio: 1, note: 'first leg' },
        { symbol: 'INIT', ratio: -2, note: 'second leg, with ünïcode and \u00e9' },
      ],
      submittedAt: '2025-01-02T03:04:05.678Z',
    });
    i++;
    text = JSON.stringify({ orders, count: orders.length });
  } while (text.length < bytes);
  return text;
}

await main();
