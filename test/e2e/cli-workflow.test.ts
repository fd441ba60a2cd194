/**
 * The operator workflow from the README ("Using it on your API"), end to end and from one folder,
 * exactly as a person runs it: `rampart init`, `keys create`, `start`, requests over real TLS
 * (verified against the development certificate init wrote), `keys revoke` on the running
 * gateway, `audit verify|search`, a graceful SIGTERM with a request in flight, the configuration
 * error path and the help texts. Every command is the compiled CLI `bin/rampart` in a child
 * process; the upstream is a real HTTP server on loopback. Nothing is mocked.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { FIXTURE_SPEC } from '../helpers/gateway.js';
import { parseKey } from '../../src/keys/format.js';
import { startTestUpstream, type TestUpstream } from '../helpers/upstream.js';
import { tempDir } from '../helpers/tmp.js';

import { TIMEOUT, freePort, get, kill, listening, ok, run, show, startGatewayProcess, waitFor, type Gateway } from '../helpers/cli.js';

/** The line (1-based) of the first line of `text` that matches `re`. */
function lineOf(text: string, re: RegExp): number {
  const i = text.split('\n').findIndex((l) => re.test(l));
  assert.ok(i >= 0, `no line matches ${re}`);
  return i + 1;
}

interface AuditRow {
  seq: number;
  type: string;
  operationId?: string;
  outcome: string;
  status?: number;
  reason?: string;
  keyId?: string;
  detail?: Record<string, unknown>;
  personal: { principal?: string; subject?: string } | null;
}

test('the README operator workflow works from one folder: init, keys, start, revoke, audit, graceful stop', TIMEOUT, async (t) => {
  const tmp = tempDir('rampart-cli-');
  const dir = tmp.path;
  let upstream: TestUpstream | undefined;
  let gw: Gateway | undefined;
  try {
    copyFileSync(FIXTURE_SPEC, join(dir, 'gateway-test.yaml'));
    upstream = await startTestUpstream();
    const up = upstream;
    const port = await freePort();
    let ca = '';
    let key = '';
    let keyId = '';

    await t.test('init writes rampart.yaml, .rampart/ material and a .gitignore, and refuses to run twice without --force', async () => {
      const args = ['init', '--openapi', './gateway-test.yaml', '--upstream', up.url, '--listen', `127.0.0.1:${port}`];
      const r = await ok(dir, args);
      assert.match(r.stdout, /initialised/, show(args, r));
      const yaml = readFileSync(join(dir, 'rampart.yaml'), 'utf8');
      assert.match(yaml, new RegExp(`^\\s+port: ${port}$`, 'm'));
      assert.match(yaml, /openapi: "gateway-test\.yaml"/);
      assert.ok(yaml.includes(`url: "${up.url}"`), yaml);
      for (const f of ['.rampart/tls/dev-cert.pem', '.rampart/tls/dev-key.pem', '.rampart/secrets.json']) assert.ok(existsSync(join(dir, f)), `${f} exists`);
      for (const f of ['.rampart/tls/dev-key.pem', '.rampart/secrets.json']) assert.equal(statSync(join(dir, f)).mode & 0o777, 0o600, `${f} is 0600`);
      const gitignore = readFileSync(join(dir, '.gitignore'), 'utf8').split(/\r?\n/).map((l) => l.trim());
      assert.ok(gitignore.includes('.rampart/'), `.gitignore covers .rampart/: ${gitignore.join('|')}`);
      ca = readFileSync(join(dir, '.rampart/tls/dev-cert.pem'), 'utf8');

      const again = await run(dir, args);
      assert.notEqual(again.code, 0, show(args, again));
      assert.match(again.stderr, /rampart\.yaml already exists; use --force/, show(args, again));
      assert.equal(readFileSync(join(dir, 'rampart.yaml'), 'utf8'), yaml, 'the refused init left rampart.yaml alone');
    });

    await t.test('keys create --json prints the key once, with its id and scopes', async () => {
      const args = ['keys', 'create', '--name', 'ci', '--scopes', 'accounts:read', '--subject', 'cus_1', '--expires', '1d', '--json'];
      const r = await ok(dir, args);
      const created = JSON.parse(r.stdout) as { key: string; id: string; name: string; status: string; scopes: string[]; subject: string; expiresAt: string };
      assert.match(created.key, /^rmpk_[A-Za-z0-9]{12}_[A-Za-z0-9_-]{43}$/);
      assert.ok(created.key.startsWith(`rmpk_${created.id}_`), 'the key embeds its id');
      assert.equal(created.name, 'ci');
      assert.equal(created.status, 'active');
      assert.deepEqual(created.scopes, ['accounts:read']);
      assert.equal(created.subject, 'cus_1');
      const ttl = Date.parse(created.expiresAt) - Date.now();
      assert.ok(ttl > 23 * 3600_000 && ttl <= 24 * 3600_000, `expires in about a day: ${created.expiresAt}`);
      key = created.key;
      keyId = created.id;
      assert.ok(!readFileSync(join(dir, '.rampart/secrets.json'), 'utf8').includes(parseKey(key)!.secret), 'the key secret is not stored');
    });

    await t.test('admin bootstrap creates the first owner with TOTP enrolment and recovery codes, once, and records it', async () => {
      const weak = await run(dir, ['admin', 'bootstrap', '--username', 'owner', '--json'], { RAMPART_ADMIN_PASSWORD: 'password' });
      assert.equal(weak.code, 2, show(['admin', 'bootstrap'], weak));
      assert.match(weak.stderr, /password refused/);
      const args = ['admin', 'bootstrap', '--username', 'owner', '--json'];
      const r = await run(dir, args, { RAMPART_ADMIN_PASSWORD: 'a long and unguessable passphrase for ops' });
      assert.equal(r.code, 0, show(args, r));
      const out = JSON.parse(r.stdout) as { user: { roles: string[] }; totp: { uri: string }; recoveryCodes: string[] };
      assert.deepEqual(out.user.roles, ['owner']);
      assert.match(out.totp.uri, /^otpauth:\/\/totp\/Rampart:owner\?/);
      assert.equal(out.recoveryCodes.length, 10);
      const again = await run(dir, args, { RAMPART_ADMIN_PASSWORD: 'a long and unguessable passphrase for ops' });
      assert.equal(again.code, 1, show(args, again));
      assert.match(again.stderr, /an admin user exists already/);
      const human = await run(dir, ['audit', 'search', '--json', '--limit', '50']);
      assert.ok(human.stdout.includes('user.bootstrap'), 'the bootstrap is a ledger record');
    });

    gw = startGatewayProcess(dir);
    const url = await listening(gw);
    assert.equal(url, `https://127.0.0.1:${port}`);
    const g = gw;

    await t.test('the started gateway serves TLS with the dev certificate: 200 with the key, 401 without, ready', async () => {
      const allowed = await get(port, ca, '/accounts', { authorization: `Bearer ${key}` });
      assert.equal(allowed.status, 200, allowed.text);
      const seen = up.seen.filter((s) => s.url === '/accounts');
      assert.equal(seen.length, 1, 'the allowed request reached the upstream once');
      assert.equal(seen[0]!.headers.authorization, undefined, 'Rampart credentials never reach the upstream');
      assert.ok(!JSON.stringify(seen[0]!.headers).includes(key), 'the key is nowhere in the upstream headers');

      const denied = await get(port, ca, '/accounts');
      assert.equal(denied.status, 401, denied.text);
      assert.match(String(denied.headers['content-type']), /^application\/problem\+json/);
      const problem = denied.json() as { status: number; code: string; title: string };
      assert.equal(problem.status, 401);
      assert.equal(problem.code, 'RAMPART_AUTH_REQUIRED');
      assert.equal(up.seen.filter((s) => s.url === '/accounts').length, 1, 'the denied request never reached the upstream');

      // Readiness is probed in the background (keys fresh, ledger, upstream): it may take a moment.
      const ready = await waitFor('GET /.rampart/ready to answer 200', async () => {
        const r = await get(port, ca, '/.rampart/ready');
        return r.status === 200 ? r : undefined;
      });
      assert.equal((ready.json() as { status: string }).status, 'ready');
    });

    await t.test('identity rotate on the running gateway: the new key is published and signs; the old one stays published', async () => {
      const kidsOf = async () => ((await get(port, ca, '/.rampart/jwks.json')).json() as { keys: { kid: string; d?: string }[] }).keys;
      const before = await kidsOf();
      assert.equal(before.length, 1);
      assert.ok(before.every((k) => k.d === undefined));
      assert.equal(statSync(join(dir, '.rampart/signing-keys.json')).mode & 0o777, 0o600, 'signing keys are 0600');
      const r = await ok(dir, ['identity', 'rotate', '--json']);
      const rotated = JSON.parse(r.stdout) as { active: string; keys: { kid: string }[] };
      assert.notEqual(rotated.active, before[0]!.kid);
      // The gateway follows the file on its own poll: wait for the effect.
      let after = await kidsOf();
      for (let i = 0; i < 200 && !after.some((k) => k.kid === rotated.active); i++) {
        await new Promise((res) => setTimeout(res, 100));
        after = await kidsOf();
      }
      assert.deepEqual(after.map((k) => k.kid).sort(), [before[0]!.kid, rotated.active].sort());
      await get(port, ca, '/accounts', { authorization: `Bearer ${key}` });
      const last = up.seen.filter((x) => x.url === '/accounts').at(-1)!;
      const header = JSON.parse(Buffer.from(String(last.headers['x-rampart-identity']).split('.')[0]!, 'base64url').toString()) as { kid: string };
      assert.equal(header.kid, rotated.active, 'the upstream now receives assertions signed with the new key');
      const listed = JSON.parse((await ok(dir, ['identity', 'keys', '--json'])).stdout) as { kid: string; retiredAt?: string }[];
      assert.equal(listed.length, 2);
      assert.ok(listed.find((k) => k.kid === before[0]!.kid)?.retiredAt);
    });

    await t.test('keys revoke on the running gateway: the same request is refused within the poll interval', async () => {
      const args = ['keys', 'revoke', keyId];
      const r = await ok(dir, args);
      assert.match(r.stdout, new RegExp(`revoked ${keyId}`));
      const refused = await waitFor('the revoked key to be refused', async () => {
        const res = await get(port, ca, '/accounts', { authorization: `Bearer ${key}` });
        if (res.status === 401) return res;
        assert.equal(res.status, 200, `before the refusal the key still works: ${res.text}`);
        return undefined;
      });
      assert.equal((refused.json() as { code: string }).code, 'RAMPART_AUTH_INVALID');
      const list = JSON.parse((await ok(dir, ['keys', 'list', '--json'])).stdout) as { id: string; status: string }[];
      assert.equal(list.find((k) => k.id === keyId)?.status, 'revoked');
      const revokeMissing = await run(dir, ['keys', 'revoke', 'nosuchkey000']);
      assert.equal(revokeMissing.code, 3, show(['keys', 'revoke', 'nosuchkey000'], revokeMissing));
    });

    await t.test('audit verify and search work beside the running gateway', async () => {
      const verify = await ok(dir, ['audit', 'verify']);
      assert.match(verify.stdout, /^chain: intact, \d+ records verified/);

      const args = ['audit', 'search', '--json', '--limit', '50'];
      const rows = JSON.parse((await ok(dir, args)).stdout) as AuditRow[];
      assert.ok(Array.isArray(rows) && rows.length > 0, 'search prints a JSON array');
      const decision = rows.find((r) => r.type === 'exchange.decision' && r.operationId === 'listAccounts' && r.outcome === 'allow');
      assert.ok(decision, `an allow decision for listAccounts: ${JSON.stringify(rows.map((r) => [r.type, r.operationId, r.outcome]))}`);
      assert.equal(decision.keyId, keyId);
      assert.equal(decision.personal?.principal, 'ci', 'the key name is the principal');
      assert.equal(decision.personal?.subject, 'cus_1');
      assert.ok(!JSON.stringify(rows).includes(key), 'no record holds the key');
      assert.ok(rows.some((r) => r.type === 'exchange.decision' && r.operationId === 'listAccounts' && r.status === 401), 'denials are recorded too');

      const vj = JSON.parse((await ok(dir, ['audit', 'verify', '--json'])).stdout) as { count: number; firstBad?: unknown; head?: { seq: number } };
      assert.ok(vj.count >= rows.length, JSON.stringify(vj));
      assert.ok(!vj.firstBad, JSON.stringify(vj));
    });

    await t.test('SIGTERM lets the in-flight request finish, exits 0 and records gateway.stopped', async () => {
      const before = up.seen.length;
      const slow = get(port, ca, '/slow?ms=400');
      await waitFor('the slow request to reach the upstream', () => up.seen.slice(before).some((s) => s.url.startsWith('/slow')));
      assert.ok(g.child.kill('SIGTERM'), 'SIGTERM delivered');
      const res = await slow;
      assert.equal(res.status, 200, res.text);
      assert.deepEqual(res.json(), { slow: true });
      const exit = await g.exited;
      assert.deepEqual(exit, { code: 0, signal: null }, `rampart start stderr:\n${g.stderr()}`);

      const rows = JSON.parse((await ok(dir, ['audit', 'search', '--json'])).stdout) as AuditRow[];
      const events = rows.filter((r) => r.type === 'system.event').map((r) => r.detail?.event);
      assert.deepEqual(events, ['gateway.started', 'gateway.stopped'], JSON.stringify(rows.filter((r) => r.type === 'system.event')));
      const slowRows = rows.filter((r) => r.operationId === 'slow');
      assert.equal(slowRows.find((r) => r.type === 'exchange.decision')?.outcome, 'allow', JSON.stringify(slowRows));
      assert.equal(slowRows.find((r) => r.type === 'exchange.completion')?.status, 200, JSON.stringify(slowRows));
      const stoppedSeq = rows.find((r) => r.detail?.event === 'gateway.stopped')!.seq;
      assert.ok(slowRows.every((r) => r.seq < stoppedSeq), 'the in-flight exchange completed before the stop was recorded');
      await ok(dir, ['audit', 'verify']);
    });
  } finally {
    await kill(gw);
    await upstream?.close();
    tmp.remove();
  }
});

test('start with a broken configuration exits 78 naming the file and the line', TIMEOUT, async () => {
  const tmp = tempDir('rampart-cli-config-');
  const dir = tmp.path;
  const gateways: Gateway[] = [];
  try {
    copyFileSync(FIXTURE_SPEC, join(dir, 'gateway-test.yaml'));
    // init does not contact the upstream, so nothing needs to listen there.
    await ok(dir, ['init', '--openapi', './gateway-test.yaml', '--upstream', 'http://127.0.0.1:9', '--listen', '127.0.0.1:0']);
    const good = readFileSync(join(dir, 'rampart.yaml'), 'utf8');
    const cases = [
      { file: 'broken-port.yaml', text: good.replace(/^(\s+)port: 0$/m, '$1port: 99999'), line: /^\s+port: 99999$/, what: /port/ },
      { file: 'broken-typo.yaml', text: good.replace(/^trustedProxies:/m, 'trustedProxys:'), line: /^trustedProxys:/, what: /trustedProxys/ },
    ];
    for (const c of cases) {
      assert.notEqual(c.text, good, `${c.file} differs from rampart.yaml`);
      writeFileSync(join(dir, c.file), c.text);
      const line = lineOf(c.text, c.line);
      // Spawned like a long-running start, so a configuration that wrongly loads cannot hang the test.
      const gw = startGatewayProcess(dir, ['-c', c.file]);
      gateways.push(gw);
      let timer: NodeJS.Timeout | undefined;
      const exit = await Promise.race([gw.exited, new Promise<{ code: string; signal: null }>((r) => (timer = setTimeout(() => r({ code: 'still running after 30 s', signal: null }), 30_000)))]);
      clearTimeout(timer);
      const msg = `rampart start -c ${c.file} -> ${JSON.stringify(exit)}\n--- stdout ---\n${gw.stdout()}\n--- stderr ---\n${gw.stderr()}`;
      assert.equal(exit.code, 78, msg);
      assert.ok(gw.stderr().includes(`${c.file}:${line}`), `stderr names ${c.file}:${line}\n${msg}`);
      assert.match(gw.stderr(), c.what, msg);
      assert.doesNotMatch(gw.stdout(), /listening/, msg);
    }
  } finally {
    for (const gw of gateways) await kill(gw);
    tmp.remove();
  }
});

test('--help lists the commands and subcommands; an unknown option is bad usage (exit 2)', TIMEOUT, async () => {
  const tmp = tempDir('rampart-cli-help-');
  try {
    const expected: [string[], string[]][] = [
      [['--help'], ['demo', 'init', 'start', 'keys', 'audit']],
      [['keys', '--help'], ['create', 'list', 'revoke']],
      [['audit', '--help'], ['verify', 'search', 'tail']],
    ];
    for (const [args, commands] of expected) {
      const r = await ok(tmp.path, args);
      assert.match(r.stdout, /^Usage: rampart/m, show(args, r));
      for (const c of commands) assert.match(r.stdout, new RegExp(`^\\s+${c}\\b`, 'm'), `${c} listed\n${show(args, r)}`);
    }
    for (const args of [['--no-such-option'], ['keys', 'list', '--no-such-option'], ['audit', 'search', '--limit', 'ten'], ['start', '--key-poll-ms', 'abc'], ['start', '--key-poll-ms', '0']]) {
      const r = await run(tmp.path, args);
      assert.equal(r.code, 2, show(args, r));
      assert.ok(r.stderr.length > 0, `an explanation on stderr\n${show(args, r)}`);
    }
  } finally {
    tmp.remove();
  }
});
