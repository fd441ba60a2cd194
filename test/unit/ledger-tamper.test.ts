/**
 * Tamper evidence (AU-9(3), R17a4-6): 50 records written through the real writer, then changed
 * directly in the database as someone with write access would, on both backends. verifyChain,
 * and `rampart audit verify` through the compiled CLI, must name the first bad seq and what
 * happened there.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import pg from 'pg';
import { stringify } from 'yaml';
import { canonicalize } from '../../src/ledger/canonical.js';
import { chainHash, leafHash } from '../../src/ledger/chain.js';
import type { ChainProblem } from '../../src/ledger/chain.js';
import { verifyChain } from '../../src/ledger/verify.js';
import { createLedger } from '../../src/ledger/writer.js';
import { openStorage } from '../../src/storage/open.js';
import type { StorageConfig } from '../../src/config/types.js';
import type { Storage } from '../../src/storage/types.js';
import { createTempDatabase } from '../helpers/pg.js';
import { tempDir } from '../helpers/tmp.js';
import { DataKeyRing } from '../../src/crypto/data-keys.js';
import { openFileKekProvider } from '../../src/crypto/kek/file.js';
import { seal } from '../../src/crypto/aead.js';
import { createSealer, privateAad, type Sealer } from '../../src/ledger/sealer.js';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const bin = join(root, 'bin', 'rampart');
const fixtureSpec = join(root, 'test', 'fixtures', 'openapi', 'gateway-test.yaml');

/** SQL with `?` placeholders, run the same way on both backends. */
interface Raw {
  all(sql: string, params?: unknown[]): Promise<Record<string, unknown>[]>;
  run(sql: string, params?: unknown[]): Promise<void>;
  /** Backend-specific: replace the sealed private part of a record. */
  setSealed(seq: number, sealed: Buffer): Promise<void>;
  close(): Promise<void>;
}

interface Fixture {
  storage: Storage;
  raw: Raw;
  storageConfig: StorageConfig;
  dispose(): Promise<void>;
}

interface Backend {
  name: string;
  fresh(): Promise<Fixture>;
}

const sqlite: Backend = {
  name: 'sqlite',
  async fresh() {
    const dir = tempDir('rampart-tamper-');
    const path = join(dir.path, 'rampart.db');
    const storageConfig: StorageConfig = { driver: 'sqlite', sqlite: { path } };
    const storage = await openStorage(storageConfig);
    const db = new Database(path);
    const raw: Raw = {
      all: async (sql, params = []) => db.prepare(sql).all(...params) as Record<string, unknown>[],
      run: async (sql, params = []) => {
        db.prepare(sql).run(...params);
      },
      setSealed: async (seq, sealed) => {
        db.prepare('UPDATE ledger_sealed SET sealed = ? WHERE seq = ?').run(sealed, seq);
      },
      close: async () => {
        db.close();
      },
    };
    return {
      storage,
      raw,
      storageConfig,
      async dispose() {
        await raw.close();
        await storage.close();
        dir.remove();
      },
    };
  },
};

const postgres: Backend = {
  name: 'postgres',
  async fresh() {
    const tdb = await createTempDatabase('rampart_tamper');
    const storageConfig: StorageConfig = { driver: 'postgres', postgres: { url: tdb.url, schema: 'rampart', poolSize: 4 } };
    const storage = await openStorage(storageConfig);
    const client = new pg.Client({ connectionString: tdb.url });
    await client.connect();
    await client.query('SET search_path TO rampart');
    const numbered = (sql: string): string => {
      let i = 0;
      return sql.replace(/\?/g, () => `$${++i}`);
    };
    const raw: Raw = {
      all: async (sql, params = []) => (await client.query(numbered(sql), params)).rows as Record<string, unknown>[],
      run: async (sql, params = []) => {
        await client.query(numbered(sql), params);
      },
      setSealed: async (seq, sealed) => {
        await client.query('UPDATE ledger_sealed SET sealed = $1 WHERE seq = $2', [sealed, seq]);
      },
      close: () => client.end(),
    };
    return {
      storage,
      raw,
      storageConfig,
      async dispose() {
        await raw.close();
        await storage.close();
        await tdb.drop();
      },
    };
  },
};

/** Where the tests' development KEK files live (one per storage, in a folder of their own). */
const sealerDir = tempDir('rampart-tamper-kek-').path;

const rings = new WeakMap<Sealer, DataKeyRing>();
const ringOf = (s: Sealer): DataKeyRing => rings.get(s)!;

/** 50 decisions of different kinds; seq 10 has status 200. Returns the sealer (and keeps its ring for attackers). */
async function write50(storage: Storage): Promise<Sealer> {
  const ring = new DataKeyRing(storage.dataKeys, await openFileKekProvider(join(sealerDir, 'kek.json')));
  const sealer = await createSealer(ring);
  rings.set(sealer, ring);
  const ledger = await createLedger(storage.ledger, { node: 'gw-1', maxBatch: 16, sealer });
  await Promise.all(
    Array.from({ length: 50 }, (_, i) =>
      ledger.append({
        type: 'exchange.decision',
        outcome: i % 5 === 2 ? 'deny' : 'allow',
        status: i % 5 === 2 ? 403 : 200,
        reason: i % 5 === 2 ? 'RAMPART_SCOPE_MISSING' : 'RAMPART_OK',
        stage: i % 5 === 2 ? 'scope' : 'ledger',
        configHash: 'cf'.repeat(32),
        requestId: `req-${i}`,
        api: 'brokerage',
        operationId: 'getAccount',
        method: 'GET',
        route: '/accounts/{accountId}',
        personal: { principal: `app-${i % 3}`, clientAddress: '192.0.2.10', pathParams: { accountId: `ACC-${i}` } },
      }),
    ),
  );
  await ledger.close();
  return sealer;
}

interface Row {
  canonical: string;
  leaf_hash: string;
  chain_hash: string;
}

async function row(raw: Raw, seq: number): Promise<Row> {
  const [r] = await raw.all('SELECT canonical, leaf_hash, chain_hash FROM ledger_records WHERE seq = ?', [seq]);
  assert.ok(r, `row ${seq} exists`);
  return r as unknown as Row;
}

/** Moves every record (and private part) with seq >= from by `delta`, as an attacker making room or closing a gap would. */
async function renumber(raw: Raw, from: number, delta: number): Promise<void> {
  for (const t of ['ledger_records', 'ledger_private']) {
    await raw.run(`UPDATE ${t} SET seq = -(seq + ?) WHERE seq >= ?`, [delta, from]);
    await raw.run(`UPDATE ${t} SET seq = -seq WHERE seq < 0`);
  }
}

async function setHead(raw: Raw, seq: number): Promise<void> {
  const r = await row(raw, seq);
  await raw.run('UPDATE chain_head SET seq = ?, chain_hash = ? WHERE id = 1', [seq, r.chain_hash]);
}

const RECORD_COLS = 'ts, type, request_id, api, operation_id, status, outcome, reason, canonical, leaf_hash, chain_hash';

/**
 * A forged record at `seq` (after the tail was moved up to make room), modelled on the record
 * that used to be there, hashing correctly and, if `linked`, chaining from the record before it.
 */
async function forge(raw: Raw, seq: number, linked: boolean): Promise<void> {
  const before = await row(raw, seq - 1);
  const model = JSON.parse((await row(raw, seq + 1)).canonical) as Record<string, unknown>;
  const canonical = canonicalize({ ...model, seq, requestId: 'forged', status: 200, outcome: 'allow', reason: 'RAMPART_OK' });
  const leaf = leafHash(canonical);
  const chain = linked ? chainHash(before.chain_hash, leaf) : 'f'.repeat(64);
  await raw.run(`INSERT INTO ledger_records (seq, ${RECORD_COLS}) VALUES (?, ?, 'exchange.decision', 'forged', 'brokerage', 'getAccount', 200, 'allow', 'RAMPART_OK', ?, ?, ?)`, [seq, model.ts, canonical, leaf, chain]);
}

interface Scenario {
  name: string;
  /** `ctx` lets a scenario act as an attacker who also holds the data keys. */
  tamper(raw: Raw, ctx: { storage: Storage; sealer: Sealer }): Promise<void>;
  expect: { seq: number; problem: ChainProblem } | null;
  /** Also run `rampart audit verify` on this one. */
  cli?: boolean;
}

const scenarios: Scenario[] = [
  { name: 'untouched', tamper: async () => {}, expect: null, cli: true },
  {
    name: 'a field changed in place (no re-hash)',
    tamper: (raw) => raw.run('UPDATE ledger_records SET canonical = replace(canonical, ?, ?) WHERE seq = 10', ['"status":200', '"status":201']),
    expect: { seq: 10, problem: 'modified' },
    cli: true,
  },
  {
    name: 'a field changed and its leaf hash recomputed (chain not recomputed)',
    async tamper(raw) {
      const canonical = (await row(raw, 10)).canonical.replace('"status":200', '"status":201');
      await raw.run('UPDATE ledger_records SET canonical = ?, leaf_hash = ? WHERE seq = 10', [canonical, leafHash(canonical)]);
    },
    expect: { seq: 10, problem: 'modified' },
  },
  {
    name: 'the stored text replaced by something that is not a record',
    tamper: (raw) => raw.run("UPDATE ledger_records SET canonical = 'not json' WHERE seq = 5"),
    expect: { seq: 5, problem: 'modified' },
  },
  {
    name: 'a row deleted',
    tamper: (raw) => raw.run('DELETE FROM ledger_records WHERE seq = 25'),
    expect: { seq: 25, problem: 'missing' },
    cli: true,
  },
  {
    name: 'a row deleted, the tail renumbered and the head moved to match',
    async tamper(raw) {
      await raw.run('DELETE FROM ledger_records WHERE seq = 25');
      await raw.run('DELETE FROM ledger_private WHERE seq = 25');
      await renumber(raw, 26, -1);
      await setHead(raw, 49);
    },
    expect: { seq: 25, problem: 'missing' },
  },
  {
    name: 'the last row deleted',
    tamper: (raw) => raw.run('DELETE FROM ledger_records WHERE seq = 50'),
    expect: { seq: 50, problem: 'missing' },
  },
  {
    name: 'a forged row inserted, linked to its predecessor, the tail renumbered and the head moved',
    async tamper(raw) {
      await renumber(raw, 20, 1);
      await forge(raw, 20, true);
      await setHead(raw, 51);
    },
    expect: { seq: 20, problem: 'inserted' },
    cli: true,
  },
  {
    name: 'a forged row inserted with a made-up chain hash',
    async tamper(raw) {
      await renumber(raw, 20, 1);
      await forge(raw, 20, false);
    },
    expect: { seq: 20, problem: 'inserted' },
  },
  {
    name: 'a forged row appended beyond the head',
    async tamper(raw) {
      // Built on record 50 so that it links: only the head betrays it.
      const prev = await row(raw, 50);
      const model = JSON.parse(prev.canonical) as Record<string, unknown>;
      const canonical = canonicalize({ ...model, seq: 51, requestId: 'forged' });
      const leaf = leafHash(canonical);
      await raw.run(`INSERT INTO ledger_records (seq, ${RECORD_COLS}) VALUES (51, ?, 'exchange.decision', 'forged', 'brokerage', 'getAccount', 200, 'allow', 'RAMPART_OK', ?, ?, ?)`, [model.ts, canonical, leaf, chainHash(prev.chain_hash, leaf)]);
    },
    expect: { seq: 51, problem: 'inserted' },
  },
  {
    name: 'two rows swapped',
    async tamper(raw) {
      await raw.run('UPDATE ledger_records SET seq = -30 WHERE seq = 30');
      await raw.run('UPDATE ledger_records SET seq = 30 WHERE seq = 31');
      await raw.run('UPDATE ledger_records SET seq = 31 WHERE seq = -30');
    },
    expect: { seq: 30, problem: 'reordered' },
    cli: true,
  },
  {
    // An attacker with the data key decrypts, changes who did it, and seals it again properly:
    // the envelope opens, but the salted commitment in the chain no longer matches.
    name: 'who did it changed in the private part, re-sealed with the right key',
    tamper: async (raw, { storage, sealer }) => {
      const [row] = await storage.ledger.readPrivate([7]);
      const p = await sealer.openPrivate(row!);
      p.personal = { ...p.personal, principal: 'someone-else' };
      const dekId = row!.sealed!.dekId;
      const key = await ringOf(sealer).keyById(dekId);
      await raw.setSealed(7, seal(key, Buffer.from(JSON.stringify(p)), privateAad(7, dekId)));
    },
    expect: { seq: 7, problem: 'modified' },
  },
  {
    name: 'a sealed private part altered without the key',
    tamper: async (raw, { storage }) => {
      const [row] = await storage.ledger.readPrivate([7]);
      const b = Buffer.from(row!.sealed!.sealed);
      b[b.length - 20] = b[b.length - 20]! ^ 0x01;
      await raw.setSealed(7, b);
    },
    expect: { seq: 7, problem: 'modified' },
  },
  {
    name: 'a row moved to another seq, leaving a gap',
    tamper: (raw) => raw.run('UPDATE ledger_records SET seq = 60 WHERE seq = 50'),
    expect: { seq: 50, problem: 'seq-gap' },
  },
];

const cliAvailable = ((): boolean => {
  const r = spawnSync(process.execPath, [bin, 'audit', 'verify', '--help'], { encoding: 'utf8', timeout: 15_000 });
  return r.status === 0;
})();

function runCliVerify(dir: string, storageConfig: StorageConfig): { status: number | null; stdout: string; stderr: string } {
  const file = join(dir, 'rampart.yaml');
  writeFileSync(
    file,
    stringify({
      version: 1,
      listen: { host: '127.0.0.1', port: 0, plainHttp: true },
      secretsFile: 'secrets.json',
      storage: storageConfig,
      apis: [{ name: 'test', openapi: fixtureSpec, upstream: { url: 'http://127.0.0.1:9' }, mount: { prefix: '/' } }],
    }),
  );
  // --no-private: these records were sealed under the tests' own KEK, not this configuration's.
  const r = spawnSync(process.execPath, [bin, 'audit', 'verify', '--no-private', '-c', file], { encoding: 'utf8', timeout: 30_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

for (const backend of [sqlite, postgres]) {
  describe(`tamper evidence: ${backend.name}`, () => {
    for (const sc of scenarios) {
      it(sc.expect ? `${sc.name}: first bad seq ${sc.expect.seq} (${sc.expect.problem})` : `${sc.name}: intact`, async (t) => {
        const fx = await backend.fresh();
        try {
          const sealer = await write50(fx.storage);
          await sc.tamper(fx.raw, { storage: fx.storage, sealer });
          for (const batch of [1000, 7]) {
            const v = await verifyChain(fx.storage.ledger, { batch, sealer });
            if (sc.expect) {
              assert.equal(v.ok, false);
              assert.deepEqual({ seq: v.firstBad?.seq, problem: v.firstBad?.problem }, sc.expect, v.firstBad?.detail);
              assert.ok(v.count <= sc.expect.seq - 1, `count ${v.count}`);
            } else {
              assert.deepEqual(v, { ok: true, count: 50, head: await fx.storage.ledger.head() });
            }
          }
          if (sc.cli) {
            if (!cliAvailable) {
              t.diagnostic('the compiled CLI is not available in this build; checked through the library only');
              return;
            }
            const dir = tempDir('rampart-tamper-cli-');
            try {
              const r = runCliVerify(dir.path, fx.storageConfig);
              if (sc.expect) {
                assert.equal(r.status, 1, r.stderr);
                assert.equal(r.stderr.trim(), `ledger broken at seq ${sc.expect.seq}: ${sc.expect.problem}`);
              } else {
                assert.equal(r.status, 0, r.stderr);
                assert.match(r.stdout, /^chain: intact, 50 records verified, head seq 50 [0-9a-f]{64}/);
              }
            } finally {
              dir.remove();
            }
          }
        } finally {
          await fx.dispose();
        }
      });
    }
  });
}
