/**
 * Micro-benchmark of ledger body capture (src/ledger/capture.ts): µs per body for a ~2 KiB JSON
 * response with a handful of classified fields (target: well under 20 µs), against JSON.parse +
 * JSON.stringify of the same text in the same run (the floor any parse-and-reserialise capture
 * pays), plus a form body, a body with 19-digit ids (the verbatim-number path) and the lazy
 * classification of every operation of the demo document. Prints ratios (DESIGN: never a timed test).
 *
 *   npx tsc -p tsconfig.json && node dist/bench/capture-micro.js
 */
import { fileURLToPath } from 'node:url';
import { captureBody, type CapturePolicy } from '../src/ledger/capture.js';
import { buildClassificationMap } from '../src/openapi/classification.js';
import { loadApi } from '../src/openapi/load.js';

const ROUNDS = 7;

function median(xs: number[]): number {
  const s = xs.slice().sort((a, b) => a - b);
  return s[s.length >> 1]!;
}

/** Median over rounds of the time per call, in nanoseconds; each round runs for ~minMs. */
function measure(fn: () => void, minMs = 150): number {
  for (let i = 0; i < 2000; i++) fn(); // warm-up (JIT)
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

const us = (ns: number): string => `${(ns / 1000).toFixed(2)} µs`;
const C = 'x-rampart-classification';

const map = buildClassificationMap(
  {
    Customer: {
      type: 'object',
      properties: {
        id: { type: 'string', [C]: 'subject-id' },
        name: { type: 'string', [C]: 'name' },
        ssn: { type: 'string', [C]: 'ssn' },
        email: { type: 'string', [C]: 'email' },
        phone: { type: 'string', [C]: 'phone' },
        address: { $ref: '#/Address' },
        accounts: { type: 'array', items: { $ref: '#/Account' } },
      },
    },
    Address: { type: 'object', [C]: 'address', properties: { line1: { type: 'string' }, city: { type: 'string' } } },
    Account: {
      type: 'object',
      properties: { id: { type: 'string' }, accountNumber: { type: 'string', [C]: 'account-number' }, cashBalance: { type: 'number' } },
    },
  },
  '/Customer',
);

function customer(idDigits: boolean): unknown {
  return {
    id: 'cus_7Hq2LmR9xT',
    name: 'Ada Lovelace',
    ssn: '123-45-6789',
    dateOfBirth: '1815-12-10',
    email: 'ada@example.com',
    phone: '+442079460000',
    address: { line1: '12 St James Square', line2: null, city: 'London', state: 'LN', postalCode: '10001', country: 'GB' },
    createdAt: '2024-01-02T03:04:05.678Z',
    preferences: { language: 'en-GB', marketingOptIn: false, statements: 'electronic', theme: 'dark' },
    accounts: Array.from({ length: 9 }, (_, i) => ({
      id: idDigits ? 123456789012345 + i : `acc_${i}Xq9LmT2v`,
      accountNumber: `00012345${i}`,
      type: i % 2 ? 'margin' : 'cash',
      status: 'open',
      currency: 'USD',
      cashBalance: 10234.56 + i,
      openedAt: '2023-05-0' + (i + 1),
      flags: ['pdt', 'options'],
    })),
  };
}

const policy: CapturePolicy = { maxBytes: 65536, personal: { ssn: 'redact', 'account-number': 'redact' }, defaultPersonal: 'keep', opaque: 'omit' };
const text = JSON.stringify(customer(false));
const body = Buffer.from(text);
// 20-digit integers: beyond 2^53, so JSON.parse would round them.
const bigText = JSON.stringify(customer(true)).replace(/"id":(\d+)/g, (_m, d: string) => `"id":${d}67890`);
const bigBody = Buffer.from(bigText);
const form = Buffer.from('id=cus_7Hq2LmR9xT&name=Ada+Lovelace&ssn=123-45-6789&email=ada%40example.com&password=hunter2&amount=100.00&memo=rent+for+may&accountNumber=000123456');

console.log(`node ${process.version}, ${process.arch}`);
const sample = captureBody({ contentType: 'application/json', body, map, policy });
console.log(`JSON body ${body.length} bytes, ${sample.redacted.length} redacted, ${sample.classesSeen.length} classes seen, subjects ${JSON.stringify(sample.subjects)}`);

// Interleaved so that both sides see the same machine load (the ratio is the stable figure).
const pairs: { capture: number; floor: number; noMap: number }[] = [];
for (let r = 0; r < ROUNDS; r++) {
  pairs.push({
    capture: measure(() => void captureBody({ contentType: 'application/json', body, map, policy }), 60),
    floor: measure(() => void JSON.stringify(JSON.parse(body.toString('utf8'))), 60),
    noMap: measure(() => void captureBody({ contentType: 'application/json', body, map: undefined, policy }), 60),
  });
}
const capture = median(pairs.map((p) => p.capture));
const floor = median(pairs.map((p) => p.floor));
const ratio = median(pairs.map((p) => p.capture / p.floor));
const noMap = median(pairs.map((p) => p.noMap));
console.log(`capture   ${us(capture)}/body (target well under 20 µs); parse+stringify alone ${us(floor)}; capture = ${ratio.toFixed(2)}x that floor; names only (no map) ${us(noMap)}`);
const big = measure(() => void captureBody({ contentType: 'application/json', body: bigBody, map, policy }));
console.log(`big ids   ${us(big)}/body (${bigBody.length} bytes with nine 20-digit integers kept verbatim) = ${(big / capture).toFixed(2)}x the plain body`);
const formNs = measure(() => void captureBody({ contentType: 'application/x-www-form-urlencoded', body: form, map, policy }));
console.log(`form      ${us(formNs)}/body (${form.length} bytes)`);

const spec = fileURLToPath(new URL('../../demo/brokerage.openapi.yaml', import.meta.url));
const times: number[] = [];
let ops = 0;
for (let r = 0; r < ROUNDS; r++) {
  const api = await loadApi({ name: 'demo', file: spec, qualifyScopes: false, closedObjects: true, reservedPrefix: '/.rampart' });
  const t0 = performance.now();
  for (const op of api.operations) void op.classifications;
  times.push(performance.now() - t0);
  ops = api.operations.length;
}
console.log(`classify  all ${ops} operations of the demo document on first access: ${median(times).toFixed(2)} ms (${((median(times) * 1000) / ops).toFixed(0)} µs per operation)`);
