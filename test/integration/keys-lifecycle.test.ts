/**
 * Keys take effect on a running gateway without a restart: created, revoked (through the real
 * CLI, another process), expired. Tests wait on the effect, never on a clock.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';

const run = promisify(execFile);
const BIN = fileURLToPath(new URL('../../../bin/rampart', import.meta.url));
let t: TestGateway;
before(async () => {
  t = await startTestGateway();
});
after(async () => t.close());

async function until(fn: () => Promise<boolean>, what: string, tries = 200): Promise<void> {
  for (let i = 0; i < tries; i++) {
    if (await fn()) return;
    await new Promise((r) => setTimeout(r, 25));
  }
  assert.fail(`timed out waiting for: ${what}`);
}

test('a key created and revoked with the CLI takes effect on the running gateway', async () => {
  const { stdout } = await run(process.execPath, [BIN, 'keys', 'create', '-c', t.configFile, '--name', 'cli-key', '--scopes', 'accounts:read', '--subject', 'cus_9', '--expires', '30d', '--json']);
  const created = JSON.parse(stdout);
  assert.match(created.key, /^rmpk_[a-z2-7]{12}_[A-Za-z0-9_-]{43}$/);
  const get = () => t.request('GET', '/accounts', { headers: { authorization: `Bearer ${created.key}` } });
  await until(async () => (await get()).status === 200, 'new key accepted');

  const list = JSON.parse((await run(process.execPath, [BIN, 'keys', 'list', '-c', t.configFile, '--json'])).stdout);
  const listed = list.find((k: { id: string }) => k.id === created.id);
  assert.equal(listed.status, 'active');
  assert.ok(!JSON.stringify(list).includes(created.key.slice(18)), 'list never shows secrets');

  await run(process.execPath, [BIN, 'keys', 'revoke', created.id, '-c', t.configFile]);
  await until(async () => (await get()).status === 401, 'revoked key refused');
  const r = await get();
  assert.equal(r.json().code, 'RAMPART_AUTH_INVALID');
});

test('revoking an unknown key exits with NOT_FOUND', async () => {
  await assert.rejects(run(process.execPath, [BIN, 'keys', 'revoke', 'nosuchkeyxxx', '-c', t.configFile]), (e: { code: number }) => e.code === 3);
});

test('an expired key is refused', async () => {
  const { key } = await t.key(['accounts:read'], { expiresAt: Date.now() + 300 });
  const get = () => t.request('GET', '/accounts', { headers: { authorization: `Bearer ${key}` } });
  assert.equal((await get()).status, 200);
  await until(async () => (await get()).status === 401, 'expired key refused');
});

test('a guessed secret for a real key id is refused, and repeated failures are throttled', async () => {
  const own = await startTestGateway({ yaml: { authThrottle: { maxFailures: 5, windowSeconds: 60 } } });
  try {
    await throttled(own);
  } finally {
    await own.close();
  }
});

async function throttled(t: TestGateway): Promise<void> {
  const { key } = await t.key(['accounts:read']);
  const forged = key.slice(0, 18) + (key[18] === 'A' ? 'B' : 'A') + key.slice(19);
  for (let i = 0; i < 5; i++) {
    const r = await t.request('GET', '/accounts', { headers: { authorization: `Bearer ${forged}` } });
    assert.equal(r.status, 401);
  }
  const before = t.upstream.seen.length;
  // Even the right key is now refused from this address, before it is looked at (N63-5).
  const r = await t.request('GET', '/accounts', { headers: { authorization: `Bearer ${key}` } });
  assert.equal(r.status, 429);
  assert.equal(r.json().code, 'RAMPART_AUTH_THROTTLED');
  assert.ok(Number(r.headers['retry-after']) > 0);
  assert.equal(t.upstream.seen.length, before);
}
