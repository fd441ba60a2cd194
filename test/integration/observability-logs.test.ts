/**
 * Logs are JSON with request ids and never secrets (issue 7; ASVS 7.1.1, DESIGN non-negotiables):
 * a gateway logging at debug level serves requests carrying an API key, a bearer token and a
 * cookie, and an upstream failure; every line is scanned for those values.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { loadConfig } from '../../src/config/load.js';
import { ensureSecrets } from '../../src/config/secrets.js';
import { startGateway } from '../../src/gateway/start.js';
import { createKey } from '../../src/keys/create.js';
import { createLogger } from '../../src/core/log.js';
import { FIXTURE_SPEC, rawRequest } from '../helpers/gateway.js';
import { startTestUpstream } from '../helpers/upstream.js';
import { tempDir } from '../helpers/tmp.js';

test('request logs carry the request id and none of the key, token or cookie', async () => {
  const tmp = tempDir('rampart-obs-logs-');
  const upstream = await startTestUpstream();
  let text = '';
  const sink = new Writable({ write(c: Buffer, _e, cb) { text += c.toString('utf8'); cb(); } });
  const file = join(tmp.path, 'rampart.yaml');
  writeFileSync(file, stringify({
    version: 1,
    listen: { host: '127.0.0.1', port: 0, plainHttp: true },
    secretsFile: 'secrets.json',
    storage: { driver: 'sqlite', sqlite: { path: 'rampart.db' } },
    apis: [{ name: 'test', openapi: FIXTURE_SPEC, upstream: { url: upstream.url, timeoutMs: 1000, connectTimeoutMs: 500 }, mount: { prefix: '/' } }],
  }));
  const config = await loadConfig(file);
  const secrets = await ensureSecrets(config.secretsFile);
  const gw = await startGateway({ config, configDir: tmp.path, logger: createLogger({ level: 'debug', destination: sink }), keyPollMs: 50, shutdownGraceMs: 2000 });
  const ids: string[] = [];
  let key = '';
  const cookie = 'session=Cookie-Value-7f3a9c';
  const bearer = 'Bearer not-a-real-token-9b2e41';
  try {
    key = (await createKey(gw.storage.keys, secrets.keyHashSecret, { name: 'log-test', scopes: ['accounts:read'], subject: 'cus_1' })).key;
    await gw.keys.refresh();
    const send = async (method: string, path: string, headers: Record<string, string>, status: number) => {
      const r = await rawRequest(gw.url, method, path, { headers, agent: false });
      assert.equal(r.status, status, `${method} ${path}`);
      ids.push(String(r.headers['x-request-id']));
    };
    await send('GET', '/accounts', { 'x-api-key': key, cookie }, 200);
    await send('GET', '/accounts', { authorization: `Bearer ${key}x`, cookie }, 401);
    await send('GET', '/keyed', { 'x-api-key': key, authorization: bearer, cookie }, 401);
    // An upstream failure: the warn line about it names the request.
    await send('GET', '/broken', { cookie, authorization: bearer }, 502);
  } finally {
    await gw.close();
    await upstream.close();
    tmp.remove();
  }
  await new Promise((r) => setImmediate(r));
  const lines = text.split('\n').filter(Boolean);
  assert.ok(lines.length > 0);
  const parsed = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
  for (const p of parsed) {
    assert.equal(typeof p.msg, 'string');
    assert.match(String(p.time), /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/, 'UTC ISO time (ASVS 7.3.4)');
  }
  // Every exchange is on a line with its request id (the debug access log), and the failure's
  // warning names its request too.
  for (const id of ids) assert.ok(parsed.some((p) => p.requestId === id && p.msg === 'exchange'), `no access line for ${id}`);
  assert.ok(parsed.some((p) => p.requestId === ids[3] && p.level === 40), 'the upstream failure is logged with its request id');
  const secretsSeen = [key, key.slice(-12), 'Cookie-Value-7f3a9c', 'not-a-real-token-9b2e41'];
  for (const s of secretsSeen) assert.ok(!text.includes(s), `a log line contains a secret (${s.slice(0, 4)}...)`);
  // No client address and no path with object ids in the access lines (personal data).
  for (const p of parsed.filter((x) => x.msg === 'exchange')) {
    assert.equal(p.path, undefined);
    assert.doesNotMatch(JSON.stringify(p), /127\.0\.0\.1/);
  }
});

test('the redaction paths catch credentials a caller logs by mistake', async () => {
  let text = '';
  const sink = new Writable({ write(c: Buffer, _e, cb) { text += c.toString('utf8'); cb(); } });
  const l = createLogger({ level: 'info', destination: sink });
  l.info({ headers: { authorization: 'Bearer S1', cookie: 'c=S2', 'x-api-key': 'S3', 'set-cookie': ['s=S4'], 'proxy-authorization': 'S5' } }, 'headers');
  l.info({ req: { headers: { authorization: 'S6', cookie: 'S7' } }, err: { token: 'S8', password: 'S9' } }, 'nested');
  l.info({ key: 'S10', secret: 'S11', token: 'S12', client_secret: 'S13' }, 'top');
  await new Promise((r) => setImmediate(r));
  for (let i = 1; i <= 13; i++) assert.ok(!new RegExp(`\\bS${i}\\b`).test(text), `S${i} reached the log`);
  assert.equal(text.match(/\[redacted\]/g)?.length, 13);
});
