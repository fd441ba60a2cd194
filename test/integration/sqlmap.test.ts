/**
 * A real attack tool against the inspection (issue 5): Debian's sqlmap, run against a
 * deliberately injectable upstream (SQL built by string concatenation over SQLite). Directly it
 * finds the injection (which proves the target is injectable and the test can fail); through the
 * gateway it must find nothing. Skipped, with the reason printed, where sqlmap is not installed
 * (.ci/run installs it).
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { spawn, spawnSync } from 'node:child_process';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { tempDir } from '../helpers/tmp.js';

const SPEC = fileURLToPath(new URL('../../../test/fixtures/openapi/injectable-test.yaml', import.meta.url));
const HAVE_SQLMAP = spawnSync('sqlmap', ['--version'], { stdio: 'ignore' }).status === 0;

/** The injectable upstream: `SELECT name FROM items WHERE name = '<q>'`, errors answered with 500. */
async function startInjectable(): Promise<{ url: string; close(): Promise<void> }> {
  const db = new Database(':memory:');
  db.exec("CREATE TABLE items(id INTEGER PRIMARY KEY, name TEXT); INSERT INTO items(name) VALUES ('apple'),('banana'),('cherry'); CREATE TABLE users(id INTEGER, password TEXT); INSERT INTO users VALUES (1, 'test-fixture-not-a-password');");
  const server = http.createServer((req, res) => {
    const q = new URL(req.url!, 'http://x').searchParams.get('q') ?? '';
    try {
      // Deliberately injectable: this is the target, not an example.
      const rows = db.prepare(`SELECT name FROM items WHERE name = '${q}'`).all() as { name: unknown }[];
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ results: rows.map((r) => String(r.name)).slice(0, 100) }));
    } catch (err) {
      res.writeHead(500, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: (err as Error).message }));
    }
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () => new Promise<void>((r) => { server.closeAllConnections(); server.close(() => { db.close(); r(); }); }),
  };
}

function sqlmap(url: string, outDir: string): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve) => {
    const child = spawn('sqlmap', ['-u', url, '--batch', '--level=1', '--risk=1', '--flush-session', '--disable-coloring', `--output-dir=${outDir}`, '--timeout=10', '--retries=0'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    child.on('exit', (code) => resolve({ code, out }));
  });
}

describe('sqlmap against a deliberately injectable upstream', { skip: HAVE_SQLMAP ? false : 'sqlmap is not installed (apt-get install sqlmap)' }, () => {
  let up: Awaited<ReturnType<typeof startInjectable>>;
  let t: TestGateway;
  const out = tempDir('rampart-sqlmap-');
  before(async () => {
    up = await startInjectable();
    t = await startTestGateway({ spec: SPEC, upstreamUrl: up.url, yaml: { anomaly: { enforce: false } } });
  });
  after(async () => {
    await t.close();
    await up.close();
    out.remove();
  });

  it('directly, sqlmap finds the injection (the target is injectable)', { timeout: 300_000 }, async () => {
    const r = await sqlmap(`${up.url}/items?q=apple`, out.path);
    assert.match(r.out, /identified the following injection point/, r.out.slice(-2000));
  });

  it('through the gateway, sqlmap finds nothing, and every attempt is refused and recorded', { timeout: 300_000 }, async () => {
    const r = await sqlmap(`${t.gw.url}/items?q=apple`, out.path);
    assert.doesNotMatch(r.out, /identified the following injection point/, r.out.slice(-3000));
    assert.match(r.out, /do not appear to be injectable|not injectable/i, r.out.slice(-2000));
    await t.gw.ledger.flush();
    const refused = await t.gw.storage.ledger.search({ reason: 'RAMPART_INJECTION_DETECTED', limit: 1000 });
    assert.ok(refused.length >= 10, `the attempts are in the ledger (${refused.length})`);
  });
});
