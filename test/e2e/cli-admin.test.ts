/**
 * The CLI through the admin plane, end to end with the compiled `bin/rampart` in child processes:
 * `admin bootstrap` (first owner, TOTP enrolment), `keys` refused until the operator logs in,
 * `admin login` with password and TOTP keeping a short-lived admin token in the operator's own
 * file, `keys create|list|revoke` through the admin API naming the operator, and `--break-glass`
 * acting on the database directly, recorded.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { appendFileSync, copyFileSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { authenticator } from 'otplib';
import { FIXTURE_SPEC } from '../helpers/gateway.js';
import { startTestUpstream } from '../helpers/upstream.js';
import { tempDir } from '../helpers/tmp.js';
import { TIMEOUT, freePort, get, kill, listening, run, show, startGatewayProcess, waitFor, type Gateway } from '../helpers/cli.js';

const PASSWORD = 'the operators own long passphrase';

test('management commands go through the admin API as the logged-in operator; break-glass is recorded', TIMEOUT, async () => {
  const tmp = tempDir('rampart-cli-admin-');
  const dir = tmp.path;
  const up = await startTestUpstream();
  let gw: Gateway | undefined;
  const env = { RAMPART_ADMIN_TOKEN_FILE: join(dir, 'operator', 'admin-token.json'), RAMPART_ADMIN_PASSWORD: PASSWORD };
  try {
    copyFileSync(FIXTURE_SPEC, join(dir, 'gateway-test.yaml'));
    const port = await freePort();
    const adminPort = await freePort();
    const init = await run(dir, ['init', '--openapi', './gateway-test.yaml', '--upstream', up.url, '--listen', `127.0.0.1:${port}`]);
    assert.equal(init.code, 0, show(['init'], init));
    appendFileSync(join(dir, 'rampart.yaml'), `\nadmin:\n  listen:\n    host: 127.0.0.1\n    port: ${adminPort}\n`);
    const ca = readFileSync(join(dir, '.rampart/tls/dev-cert.pem'), 'utf8');

    const boot = await run(dir, ['admin', 'bootstrap', '--username', 'opsowner', '--json'], env);
    assert.equal(boot.code, 0, show(['admin', 'bootstrap'], boot));
    const bootOut = JSON.parse(boot.stdout) as { totp: { uri: string }; recoveryCodes: string[] };
    const secret = new URL(bootOut.totp.uri).searchParams.get('secret')!;

    const early = await run(dir, ['keys', 'create', '--name', 'app', '--scopes', 'accounts:read'], env);
    assert.equal(early.code, 2, show(['keys', 'create'], early));
    assert.match(early.stderr, /rampart admin login/);

    gw = startGatewayProcess(dir);
    await listening(gw);

    const login = await run(dir, ['admin', 'login', '--username', 'opsowner', '--minutes', '30', '--json'], { ...env, RAMPART_ADMIN_TOTP: authenticator.generate(secret) });
    assert.equal(login.code, 0, show(['admin', 'login'], login));
    assert.equal(statSync(env.RAMPART_ADMIN_TOKEN_FILE).mode & 0o777, 0o600, 'the token file is the operator\'s alone');
    const badLogin = await run(dir, ['admin', 'login', '--username', 'opsowner'], { ...env, RAMPART_ADMIN_TOTP: '000000' });
    assert.notEqual(badLogin.code, 0, 'a wrong code is refused');

    const created = await run(dir, ['keys', 'create', '--name', 'app', '--scopes', 'accounts:read', '--subject', 'cus_7', '--expires', '2d', '--json'], env);
    assert.equal(created.code, 0, show(['keys', 'create'], created));
    const key = JSON.parse(created.stdout) as { key: string; id: string; createdBy: string };
    assert.equal(key.createdBy, 'admin:opsowner', 'the change names the operator');
    assert.equal((await get(port, ca, '/accounts', { authorization: `Bearer ${key.key}` })).status, 200);

    const listed = await run(dir, ['keys', 'list', '--json'], env);
    assert.equal(listed.code, 0, show(['keys', 'list'], listed));
    assert.ok((JSON.parse(listed.stdout) as { id: string }[]).some((k) => k.id === key.id));
    assert.ok(!listed.stdout.includes(key.key), 'never the secret');

    const revoked = await run(dir, ['keys', 'revoke', key.id], env);
    assert.equal(revoked.code, 0, show(['keys', 'revoke'], revoked));
    await waitFor('the revoked key to be refused', async () => ((await get(port, ca, '/accounts', { authorization: `Bearer ${key.key}` })).status === 401 ? true : undefined));

    // User changes need a person: `users create` logs the operator in (here with a recovery code).
    const made = await run(dir, ['users', 'create', '--as', 'opsowner', '--username', 'second', '--roles', 'security', '--json'], { ...env, RAMPART_ADMIN_RECOVERY_CODE: bootOut.recoveryCodes[0]!, RAMPART_NEW_ADMIN_PASSWORD: 'a fresh and lengthy passphrase here' });
    assert.equal(made.code, 0, show(['users', 'create'], made));
    const second = JSON.parse(made.stdout) as { user: { id: string; roles: string[] }; totp: { uri: string }; recoveryCodes: string[] };
    assert.deepEqual(second.user.roles, ['security']);
    assert.equal(second.recoveryCodes.length, 10);
    const users = await run(dir, ['users', 'list', '--json'], env);
    assert.equal(users.code, 0, show(['users', 'list'], users));
    assert.deepEqual((JSON.parse(users.stdout) as { username: string }[]).map((u) => u.username).sort(), ['opsowner', 'second']);
    const disabled = await run(dir, ['users', 'disable', second.user.id, '--as', 'opsowner'], { ...env, RAMPART_ADMIN_RECOVERY_CODE: bootOut.recoveryCodes[1]! });
    assert.equal(disabled.code, 0, show(['users', 'disable'], disabled));

    gw.child.kill('SIGTERM');
    assert.equal((await gw.exited).code, 0);
    gw = undefined;

    const glass = await run(dir, ['keys', 'create', '--name', 'emergency', '--scopes', 'accounts:read', '--break-glass', '--json'], env);
    assert.equal(glass.code, 0, show(['keys', 'create', '--break-glass'], glass));
    assert.match(glass.stderr, /BREAK-GLASS/);
    const search = await run(dir, ['audit', 'search', '--json', '--limit', '200'], env);
    assert.ok(search.stdout.includes('"break-glass"'), 'the break-glass use is a ledger record');
    assert.ok(search.stdout.includes('"key.create"'), 'the key made through the admin API is a ledger record');
    const verify = await run(dir, ['audit', 'verify'], env);
    assert.equal(verify.code, 0, show(['audit', 'verify'], verify));
  } finally {
    await kill(gw);
    await up.close();
    tmp.remove();
  }
});
