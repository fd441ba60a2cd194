/**
 * Rate limits on Redis through real gateways (issue 5, API4): two `rampart start` processes, each
 * with its own ledger, share one limit through the machine's Redis; when Redis cannot be reached
 * (a TCP proxy the test cuts, never the shared server) limits fall back to per-node ones with an
 * alert recorded, or, under `onOutage: refuse`, traffic is refused with 503.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { copyFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { stringify } from 'yaml';
import { Redis } from 'ioredis';
import { loadConfig } from '../../src/config/load.js';
import { ensureSecrets } from '../../src/config/secrets.js';
import { openStorage } from '../../src/storage/open.js';
import { createKey } from '../../src/keys/create.js';
import { FIXTURE_SPEC, startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { freePort, kill, startGatewayProcess, waitFor, type Gateway } from '../helpers/cli.js';
import { tempDir } from '../helpers/tmp.js';
import { startTestUpstream, type TestUpstream } from '../helpers/upstream.js';
import { startTcpProxy, type TcpProxy } from '../helpers/tcp-proxy.js';

const REDIS = 'redis://127.0.0.1:6379';

async function dropPrefix(prefix: string): Promise<void> {
  const r = new Redis(REDIS, { lazyConnect: true, maxRetriesPerRequest: 1 });
  await r.connect();
  try {
    let cursor = '0';
    do {
      const [next, keys] = await r.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 500);
      cursor = next;
      if (keys.length > 0) await r.del(...keys);
    } while (cursor !== '0');
  } finally {
    r.disconnect();
  }
}

function get(port: number, path: string, key: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path, headers: { authorization: `Bearer ${key}` }, agent: false }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode!));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('two gateway processes share one limit through Redis', () => {
  const prefix = `rampart-test-${randomBytes(6).toString('hex')}:`;
  const dirs = [tempDir('rampart-rl-a-'), tempDir('rampart-rl-b-')];
  let upstream: TestUpstream;
  const gws: Gateway[] = [];
  const ports: number[] = [];
  const keys: string[] = [];

  before(async () => {
    upstream = await startTestUpstream();
    for (const [i, dir] of dirs.entries()) {
      const port = await freePort();
      ports.push(port);
      const file = join(dir.path, 'rampart.yaml');
      writeFileSync(
        file,
        stringify({
          version: 1,
          node: `node-${i}`,
          listen: { host: '127.0.0.1', port, plainHttp: true },
          secretsFile: 'secrets.json',
          storage: { driver: 'sqlite', sqlite: { path: 'rampart.db' } },
          ledger: { selfVerify: { intervalSeconds: 0 } },
          anomaly: { enforce: false },
          rateLimits: { backend: 'redis', redis: { url: REDIS, prefix }, rules: [{ name: 'per-customer', by: 'principal', limit: 30, windowSeconds: 3600 }] },
          apis: [{ name: 'test', openapi: FIXTURE_SPEC, upstream: { url: upstream.url }, mount: { prefix: '/' } }],
        }),
      );
      // The nodes of one deployment share the server secret (it keys the counters, as it keys API keys).
      if (i === 1) copyFileSync(join(dirs[0]!.path, 'secrets.json'), join(dir.path, 'secrets.json'));
      const config = await loadConfig(file);
      const secrets = await ensureSecrets(config.secretsFile);
      const storage = await openStorage(config.storage);
      // Each node has its own store here; the customer is the same, so is its budget.
      keys.push((await createKey(storage.keys, secrets.keyHashSecret, { name: `app-${i}`, scopes: ['accounts:read'], subject: 'cus_shared' })).key);
      await storage.close();
      const gw = startGatewayProcess(dir.path, ['-c', file]);
      gws.push(gw);
      await waitFor(`gateway ${i} to listen`, () => /listening on/.test(gw.stdout()), 30_000);
    }
  });
  after(async () => {
    for (const g of gws) await kill(g);
    await upstream.close();
    for (const d of dirs) d.remove();
    await dropPrefix(prefix);
  });

  it('30 per window in total: alternating between the nodes, exactly 30 of 50 requests pass', async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 50; i++) statuses.push(await get(ports[i % 2]!, '/accounts?limit=1', keys[i % 2]!));
    const ok = statuses.filter((s) => s === 200).length;
    const limited = statuses.filter((s) => s === 429).length;
    assert.equal(ok, 30, statuses.join(','));
    assert.equal(limited, 20);
    assert.ok(statuses.slice(0, 30).every((s) => s === 200), 'the first 30 pass, wherever they land');
    // Both nodes refused: the limit is global, not 30 per node.
    assert.ok(statuses.slice(30).every((s) => s === 429));
  });
});

describe('Redis unreachable', () => {
  let proxy: TcpProxy;
  const prefix = `rampart-test-${randomBytes(6).toString('hex')}:`;
  before(async () => {
    proxy = await startTcpProxy('127.0.0.1', 6379);
  });
  after(async () => {
    await proxy.close();
    await dropPrefix(prefix);
  });

  async function gatewayOnProxy(onOutage: 'local' | 'refuse'): Promise<TestGateway> {
    return startTestGateway({
      yaml: {
        anomaly: { enforce: false },
        rateLimits: { backend: 'redis', redis: { url: `redis://127.0.0.1:${proxy.port}`, prefix: `${prefix}${onOutage}:`, commandTimeoutMs: 100, onOutage }, rules: [{ name: 'per-key', by: 'key', limit: 3, windowSeconds: 3600 }] },
      },
    });
  }

  it('falls back to per-node limits with an alert, never to no limit, and goes back to Redis when it returns', async () => {
    const t = await gatewayOnProxy('local');
    try {
      const { key } = await t.key(['accounts:read']);
      const h = { authorization: `Bearer ${key}` };
      assert.equal((await t.request('GET', '/accounts?limit=1', { headers: h })).status, 200, 'through Redis');
      proxy.cut();
      const during: number[] = [];
      for (let i = 0; i < 5; i++) during.push((await t.request('GET', '/accounts?limit=1', { headers: h })).status);
      assert.ok(during.includes(429), `still limited while Redis is away: ${during.join(',')}`);
      assert.ok(during.slice(0, 2).every((s) => s === 200), `traffic goes on meanwhile: ${during.join(',')}`);
      await t.gw.ledger.flush();
      const events = await waitFor('the outage to be recorded', async () => {
        await t.gw.ledger.flush();
        const recs = await t.gw.storage.ledger.search({ type: 'security.event', limit: 50 });
        return recs.find((r) => r.record.detail?.event === 'ratelimit.redis-down');
      });
      assert.equal(events.record.detail?.onOutage, 'local');
      proxy.restore();
      await waitFor('Redis to be used again', async () => {
        await t.request('GET', '/accounts?limit=1', { headers: h });
        await t.gw.ledger.flush();
        const recs = await t.gw.storage.ledger.search({ type: 'security.event', limit: 50 });
        return recs.find((r) => r.record.detail?.event === 'ratelimit.redis-up');
      }, 15_000);
    } finally {
      proxy.restore();
      await t.close();
    }
  });

  it('onOutage: refuse answers 503 while Redis is away', async () => {
    const t = await gatewayOnProxy('refuse');
    try {
      const { key } = await t.key(['accounts:read']);
      const h = { authorization: `Bearer ${key}` };
      assert.equal((await t.request('GET', '/accounts?limit=1', { headers: h })).status, 200);
      proxy.cut();
      const r = await t.request('GET', '/accounts?limit=1', { headers: h });
      assert.equal(r.status, 503);
      assert.equal(r.json().code, 'RAMPART_RATE_LIMIT_UNAVAILABLE');
    } finally {
      proxy.restore();
      await t.close();
    }
  });
});

