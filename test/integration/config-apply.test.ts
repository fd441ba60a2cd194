/**
 * `rampart apply`, `approve` and `plan` against a real TLS gateway with its admin plane (issue 6):
 * the repository lives in its own folder (config, OpenAPI document, public certificate); the
 * gateway keeps its keys, secrets and database in its own. Every step goes through the admin
 * API with an admin's identity and is a ledger record (R17a4-3, AU-10):
 * - a changed version is submitted and applied; records after it carry its hash;
 * - a bad configuration is refused with file:line, nothing stored, the old version serving;
 * - the apply under load: not one request fails; a certificate rotated live through apply;
 * - `plan` shows no drift, then drift after a local edit (exit codes 0/1, 2 on error);
 * - under `changes.approvals: 1`: an unapproved apply is refused, the author's approval is
 *   refused, another admin's approval (a session with both factors) lets it apply, and a version
 *   cannot lower the bar for itself.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, X509Certificate } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import https from 'node:https';
import { join } from 'node:path';
import { Command } from 'commander';
import { parse, stringify } from 'yaml';
import { makeBundle } from '../../src/config/bundle.js';
import { registerConfigCommands } from '../../src/cli/config-cmds.js';
import { CliExit } from '../../src/cli/exit-codes.js';
import type { AdminRole } from '../../src/storage/types.js';
import { generateDevCertificate } from '../../src/tls/dev-cert.js';
import { FIXTURE_SPEC, rawRequest, startTestGateway, type TestGateway, peerFingerprint } from '../helpers/gateway.js';
import { addTestAdmin, adminRequest } from '../helpers/admin.js';
import { gatewayPrivates } from '../helpers/ledger-crypto.js';
import { tempDir } from '../helpers/tmp.js';

interface Res {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  json: any;
}

const PASSWORD = 'correct horse battery staple forever';

describe('configuration versions through the admin API (issue 6)', () => {
  let t: TestGateway;
  let port: number;
  let repoDir: ReturnType<typeof tempDir>;
  let repoFile: string;
  const users: Record<string, { totp: string; codes: string[] }> = {};
  let ownerToken: string;

  function call(method: string, path: string, o: { token?: string; cookie?: string; csrf?: string; body?: unknown } = {}): Promise<Res> {
    return adminRequest(port, method, path, o);
  }


  /** A person's session: password and a fresh recovery code (each works once), so reauth is fresh. */
  async function session(username: string): Promise<{ cookie: string; csrf: string }> {
    const res = await call('POST', '/admin/api/login', { body: { username, password: PASSWORD, recoveryCode: users[username]!.codes.shift() } });
    assert.equal(res.status, 200, JSON.stringify(res.json));
    const set = res.headers['set-cookie'] as string[];
    return { cookie: set[0]!.split(';')[0]!, csrf: res.json.csrfToken as string };
  }

  async function addUser(username: string, roles: AdminRole[]): Promise<void> {
    users[username] = await addTestAdmin(t, username, roles);
  }

  async function tokenOf(username: string): Promise<string> {
    const s = await session(username);
    const r = await call('POST', '/admin/api/tokens', { ...s, body: { actions: ['*'], minutes: 30 } });
    assert.equal(r.status, 201, JSON.stringify(r.json));
    return r.json.token as string;
  }

  /** Rewrites the repository's rampart.yaml. */
  function editRepo(change: (doc: Record<string, any>) => void): void {
    const doc = parse(readFileSync(repoFile, 'utf8')) as Record<string, any>;
    change(doc);
    writeFileSync(repoFile, stringify(doc));
  }

  async function submit(token = ownerToken, message = 'test change'): Promise<Res> {
    return call('POST', '/admin/api/config/versions', { token, body: { bundle: await makeBundle(repoFile), message } });
  }

  async function records(type: string) {
    await t.gw.ledgerParts!.drained();
    return (await t.gw.storage.ledger.search({ type: type as never, limit: 500, descending: true })).map((r) => r.record);
  }

  /** `rampart plan` in-process: its exit code and what it printed. */
  async function plan(args: string[]): Promise<{ code: number; out: string; err: string }> {
    const program = new Command('rampart').exitOverride();
    registerConfigCommands(program);
    let out = '';
    const write = process.stdout.write.bind(process.stdout);
    process.stdout.write = ((chunk: string) => {
      out += chunk;
      return true;
    }) as typeof process.stdout.write;
    try {
      await program.parseAsync(['node', 'rampart', 'plan', ...args]);
      return { code: 0, out, err: '' };
    } catch (err) {
      if (err instanceof CliExit) return { code: err.exitCode, out, err: err.message };
      throw err;
    } finally {
      process.stdout.write = write;
    }
  }

  const fingerprint = (): Promise<string> => peerFingerprint(t.gw.url);


  before(async () => {
    t = await startTestGateway({ tls: true, yaml: { admin: { listen: { port: 0 } }, authThrottle: { maxFailures: 100, windowSeconds: 60 } } });
    port = t.gw.admin!.port;
    await addUser('owner1', ['owner']);
    await addUser('security1', ['security']);
    await addUser('compliance1', ['compliance']);
    ownerToken = await tokenOf('owner1');
    // The repository: its own folder, the same settings, the document beside it, the public
    // certificate only (the key stays in the gateway's folder, t.dir/tls/key.pem).
    repoDir = tempDir('rampart-repo-');
    repoFile = join(repoDir.path, 'rampart.yaml');
    mkdirSync(join(repoDir.path, 'tls'));
    copyFileSync(join(t.dir, 'tls', 'cert.pem'), join(repoDir.path, 'tls', 'cert.pem'));
    copyFileSync(FIXTURE_SPEC, join(repoDir.path, 'api.yaml'));
    writeFileSync(repoFile, readFileSync(t.configFile, 'utf8'));
    editRepo((d) => {
      d.apis[0].openapi = 'api.yaml';
    });
  });
  after(async () => {
    await t?.close();
    repoDir?.remove();
  });

  it('refuses a configuration that does not validate, with file:line; nothing is stored and the old version keeps serving', async () => {
    const live = t.gw.runtime().hash;
    const saved = readFileSync(repoFile, 'utf8');
    editRepo((d) => {
      d.limits = { maxBodyBytes: -5 };
    });
    const bad = await submit();
    writeFileSync(repoFile, saved);
    assert.equal(bad.status, 422, JSON.stringify(bad.json));
    assert.equal(bad.json.code, 'RAMPART_CONFIG_INVALID');
    assert.match(bad.headers['content-type'] as string, /^application\/problem\+json/);
    assert.match(bad.json.detail, /^rampart\.yaml:\d+:\d+: \/limits\/maxBodyBytes: must be >= 0/m);
    assert.equal(bad.json.issues[0].file, 'rampart.yaml');

    // A broken OpenAPI document is refused by the gateway too, naming its line (the CLI's
    // makeBundle would refuse it first; here the bundle is altered after it was made).
    const bundle = await makeBundle(repoFile);
    const api = bundle.files.find((f) => f.path === 'api.yaml')!;
    const broken = Buffer.concat([Buffer.from(api.data, 'base64'), Buffer.from('\npaths: {}\n')]);
    Object.assign(api, { data: broken.toString('base64'), sha256: createHash('sha256').update(broken).digest('hex') });
    const badDoc = await call('POST', '/admin/api/config/versions', { token: ownerToken, body: { bundle, message: 'broken' } });
    assert.equal(badDoc.status, 422, JSON.stringify(badDoc.json));
    assert.match(badDoc.json.detail, /^api\.yaml:\d+:\d+: invalid YAML/m);
    // An override for an operation the document does not have is refused before anything is stored.
    editRepo((d) => {
      d.apis[0].operations = { noSuchOperation: { addScopes: ['x'] } };
    });
    const badOp = await submit();
    writeFileSync(repoFile, saved);
    assert.equal(badOp.status, 422);
    assert.match(badOp.json.detail, /operationId 'noSuchOperation' is not in the API document/);

    assert.deepEqual((await call('GET', '/admin/api/config/versions', { token: ownerToken })).json.versions, [], 'nothing stored');
    assert.equal(t.gw.runtime().hash, live, 'nothing swapped');
    assert.equal((await t.request('GET', '/public/ping')).status, 200);
    const refused = (await records('admin.action')).filter((r) => r.detail?.action === 'config.submit' && r.outcome === 'deny');
    assert.equal(refused.length, 3, 'each refusal is a ledger record');
    assert.equal(refused[0]!.reason, 'RAMPART_CONFIG_INVALID');
  });

  it('submits and applies a changed version; records after it carry the new hash; each step is a ledger record naming the admin', async () => {
    const previous = t.gw.runtime().hash;
    editRepo((d) => {
      d.limits = { ...(d.limits ?? {}), maxBodyBytes: 600_000 };
    });
    const sub = await submit(ownerToken, 'raise the body limit');
    assert.equal(sub.status, 201, JSON.stringify(sub.json));
    assert.match(sub.json.hash, /^sha256:[0-9a-f]{64}$/);
    assert.deepEqual([sub.json.created, sub.json.approvalsRequired, sub.json.approvals, sub.json.missing], [true, 0, 0, 0]);
    assert.equal((await submit()).status, 200, 'submitting the same version again stores nothing new');

    const applied = await call('POST', `/admin/api/config/versions/${sub.json.hash}/apply`, { token: ownerToken });
    assert.equal(applied.status, 200, JSON.stringify(applied.json));
    assert.deepEqual([applied.json.hash, applied.json.previous, applied.json.appliedBy], [sub.json.hash, previous, 'owner1']);
    assert.equal(t.gw.runtime().hash, sub.json.hash, 'the gateway runs the version under the hash the admin API named');
    assert.equal(t.gw.runtime().config.limits.maxBodyBytes, 600_000);

    assert.equal((await t.request('GET', '/public/ping')).status, 200);
    const exchange = (await records('exchange.completion'))[0]!;
    assert.equal(exchange.configHash, sub.json.hash, 'a record after the apply carries the new hash');

    const live = await call('GET', '/admin/api/config/live', { token: ownerToken });
    assert.equal(live.status, 200);
    assert.deepEqual([live.json.hash, live.json.appliedBy, live.json.source], [sub.json.hash, 'owner1', 'version']);
    assert.deepEqual(live.json.files.map((f: { path: string }) => f.path), ['api.yaml', 'rampart.yaml', 'tls/cert.pem']);
    assert.equal(live.json.configText, readFileSync(repoFile, 'utf8'));

    const acts = (await records('admin.action')).filter((r) => r.detail?.hash === sub.json.hash);
    const apply = acts.find((r) => r.detail?.action === 'config.apply')!;
    assert.ok(acts.find((r) => r.detail?.action === 'config.submit' && r.detail?.created === true), 'the submission is a record');
    assert.ok(apply, 'the application is a record');
    assert.equal(apply.detail?.previous, previous);
    assert.equal(apply.configHash, sub.json.hash);
    const [priv] = await gatewayPrivates(t.gw, [apply.seq]);
    assert.equal(priv!.personal!.principal, 'owner1', 'the record names who applied it (sealed)');
    const [activation] = await t.gw.storage.configs.activations(1);
    assert.deepEqual([activation!.hash, activation!.by], [sub.json.hash, 'owner1']);
  });

  it('applies under load with zero failed requests (kept-alive and fresh connections)', async () => {
    const keepAlive = new https.Agent({ keepAlive: true, maxSockets: 4, rejectUnauthorized: false });
    let stop = false;
    let done = 0;
    const failures: string[] = [];
    const worker = async (agent: https.Agent | false) => {
      while (!stop) {
        try {
          const r = await rawRequest(t.gw.url, 'GET', '/public/ping', { agent });
          if (r.status !== 200) failures.push(`${r.status} ${r.body.toString().slice(0, 200)}`);
        } catch (err) {
          failures.push(String(err));
        }
        done++;
      }
    };
    const workers = [worker(keepAlive), worker(keepAlive), worker(false), worker(false)];
    const hashes: string[] = [];
    try {
      for (const limit of [700_000, 800_000, 600_000]) {
        editRepo((d) => {
          d.limits.maxBodyBytes = limit;
        });
        const sub = await submit();
        assert.ok(sub.status === 201 || sub.status === 200, JSON.stringify(sub.json));
        const r = await call('POST', `/admin/api/config/versions/${sub.json.hash}/apply`, { token: ownerToken });
        assert.equal(r.status, 200, JSON.stringify(r.json));
        hashes.push(r.json.hash);
      }
    } finally {
      stop = true;
      await Promise.all(workers);
      keepAlive.destroy();
    }
    assert.deepEqual(failures, [], 'no request failed during the applies');
    assert.ok(done > 20, `the load ran (${done} requests)`);
    assert.equal(new Set(hashes).size, 3);
    assert.equal(t.gw.runtime().hash, hashes[2]);
  });

  it('rotates the certificate live through apply: the new key on the gateway, the new certificate in the repository', async () => {
    const before = await fingerprint();
    const keepAlive = new https.Agent({ keepAlive: true, maxSockets: 1, rejectUnauthorized: false });
    try {
      assert.equal((await rawRequest(t.gw.url, 'GET', '/public/ping', { agent: keepAlive })).status, 200);
      // Test fixture generated at run time: a throwaway self-signed certificate.
      const c = await generateDevCertificate({ hosts: ['localhost', '127.0.0.1'] });
      mkdirSync(join(t.dir, 'tls3'), { recursive: true });
      writeFileSync(join(t.dir, 'tls3', 'key.pem'), c.keyPem, { mode: 0o600 });
      mkdirSync(join(repoDir.path, 'tls3'), { recursive: true });
      writeFileSync(join(repoDir.path, 'tls3', 'cert.pem'), c.certPem);
      editRepo((d) => {
        d.listen.tls = { ...d.listen.tls, cert: 'tls3/cert.pem', key: 'tls3/key.pem' };
      });
      const sub = await submit();
      assert.equal(sub.status, 201, JSON.stringify(sub.json));
      assert.ok(!JSON.stringify((await call('GET', `/admin/api/config/versions/${sub.json.hash}?bundle=1`, { token: ownerToken })).json).includes('PRIVATE KEY'), 'no key travelled');
      const r = await call('POST', `/admin/api/config/versions/${sub.json.hash}/apply`, { token: ownerToken });
      assert.equal(r.status, 200, JSON.stringify(r.json));
      const after = await fingerprint();
      assert.notEqual(after, before);
      assert.equal(after, new X509Certificate(c.certPem).fingerprint256, 'new handshakes present the new certificate');
      const again = await new Promise<{ status: number; reused: boolean }>((resolve, reject) => {
        const u = new URL(t.gw.url);
        const req = https.request({ host: u.hostname, port: u.port, path: '/public/ping', agent: keepAlive, rejectUnauthorized: false }, (res) => {
          res.resume();
          res.on('end', () => resolve({ status: res.statusCode!, reused: req.reusedSocket }));
        });
        req.on('error', reject);
        req.end();
      });
      assert.deepEqual(again, { status: 200, reused: true }, 'the connection opened before the rotation still works');
    } finally {
      keepAlive.destroy();
    }
  });

  it('plan: no drift, then drift after editing a local file (exit 0, then 1; 2 on error)', async () => {
    process.env.RAMPART_ADMIN_TOKEN = ownerToken;
    try {
      const target = `https://127.0.0.1:${port}`;
      // The admin listener follows listen.tls, so it presents whatever certificate the repository
      // names now (an earlier test rotated it): trust that one.
      const cert = (parse(readFileSync(repoFile, 'utf8')) as { listen: { tls: { cert: string } } }).listen.tls.cert;
      const args = ['-c', repoFile, '--target', target, '--ca', join(existsSync(join(repoDir.path, cert)) ? repoDir.path : t.dir, cert)];
      // Whatever earlier tests left live: apply the repository as it is now.
      const sub = await submit();
      const ap = await call('POST', `/admin/api/config/versions/${sub.json.hash}/apply`, { token: ownerToken });
      assert.equal(ap.status, 200, JSON.stringify(ap.json));

      const same = await plan(args);
      assert.equal(same.code, 0, same.out + same.err);
      assert.match(same.out, /no drift/);

      // A comment is not drift: the same configuration.
      const text = readFileSync(repoFile, 'utf8');
      writeFileSync(repoFile, `# reviewed\n${text}`);
      const commented = await plan(args);
      assert.equal(commented.code, 0, commented.out);
      assert.match(commented.out, /comments or formatting only/);
      writeFileSync(repoFile, text);

      const doc = readFileSync(join(repoDir.path, 'api.yaml'), 'utf8');
      writeFileSync(join(repoDir.path, 'api.yaml'), doc.replace(/^info:\n/m, 'info:\n  description: drifted here\n'));
      editRepo((d) => {
        d.limits.maxBodyBytes = 123_456;
      });
      const drift = await plan(args);
      assert.equal(drift.code, 1, drift.out + drift.err);
      assert.match(drift.out, /^-\s+maxBodyBytes: \d+$/m);
      assert.match(drift.out, /^\+\s+maxBodyBytes: 123456$/m);
      assert.match(drift.out, /^changed api\.yaml$/m);
      assert.match(drift.out, /^\+\s+description: drifted here$/m);
      assert.match(drift.out, /^drift: /m);
      const json = await plan([...args, '--json']);
      assert.equal(json.code, 1);
      assert.deepEqual(JSON.parse(json.out).files, [{ path: 'api.yaml', change: 'changed' }]);
      writeFileSync(join(repoDir.path, 'api.yaml'), doc);
      writeFileSync(repoFile, text);

      const unreachable = await plan(['-c', repoFile, '--target', 'https://127.0.0.1:1']);
      assert.equal(unreachable.code, 2, unreachable.err);
    } finally {
      delete process.env.RAMPART_ADMIN_TOKEN;
    }
  });

  it('approvals: refused while missing, never by the author, never by a token; another admin with both factors lets it apply; the bar cannot be lowered', async () => {
    // Step 1: a version that asks for one approval (its own bar counts already).
    editRepo((d) => {
      d.changes = { approvals: 1 };
    });
    const v1 = await submit(ownerToken, 'require peer approval');
    assert.equal(v1.status, 201, JSON.stringify(v1.json));
    assert.deepEqual([v1.json.approvalsRequired, v1.json.missing], [1, 1]);
    const refused = await call('POST', `/admin/api/config/versions/${v1.json.hash}/apply`, { token: ownerToken });
    assert.equal(refused.status, 409);
    assert.equal(refused.json.code, 'RAMPART_CONFIG_APPROVALS_MISSING');
    assert.notEqual(t.gw.runtime().hash, v1.json.hash);

    const own = await session('owner1');
    const self = await call('POST', `/admin/api/config/versions/${v1.json.hash}/approve`, { ...own, body: { comment: 'mine' } });
    assert.equal(self.status, 403);
    assert.equal(self.json.code, 'RAMPART_CONFIG_SELF_APPROVAL');

    const byToken = await call('POST', `/admin/api/config/versions/${v1.json.hash}/approve`, { token: await tokenOf('security1'), body: {} });
    assert.equal(byToken.status, 401, 'an approval needs a person with a session, never a token');
    const noCsrf = await call('POST', `/admin/api/config/versions/${v1.json.hash}/approve`, { cookie: (await session('compliance1')).cookie, body: {} });
    assert.equal(noCsrf.status, 403);

    const reviewer = await session('compliance1');
    const ok = await call('POST', `/admin/api/config/versions/${v1.json.hash}/approve`, { ...reviewer, body: { comment: 'reviewed the diff' } });
    assert.equal(ok.status, 200, JSON.stringify(ok.json));
    assert.deepEqual([ok.json.duplicate, ok.json.approvals, ok.json.missing, ok.json.approvers], [false, 1, 0, ['compliance1']]);
    const dup = await call('POST', `/admin/api/config/versions/${v1.json.hash}/approve`, { ...reviewer, body: {} });
    assert.deepEqual([dup.status, dup.json.duplicate, dup.json.approvals], [200, true, 1], 'a second approval by the same admin is a no-op');

    const applied = await call('POST', `/admin/api/config/versions/${v1.json.hash}/apply`, { token: ownerToken });
    assert.equal(applied.status, 200, JSON.stringify(applied.json));
    assert.deepEqual(applied.json.approvers, ['compliance1']);
    assert.equal(t.gw.runtime().hash, v1.json.hash);

    // Step 2: a version that sets approvals back to 0 still needs the running version's 1.
    editRepo((d) => {
      d.changes = { approvals: 0 };
      d.limits.maxBodyBytes = 654_321;
    });
    const v2 = await submit(ownerToken, 'drop the approval rule');
    assert.deepEqual([v2.status, v2.json.approvalsRequired, v2.json.missing], [201, 1, 1]);
    assert.equal((await call('POST', `/admin/api/config/versions/${v2.json.hash}/apply`, { token: ownerToken })).status, 409);

    const info = await call('GET', `/admin/api/config/versions/${v1.json.hash}`, { token: ownerToken });
    assert.deepEqual([info.json.author, info.json.approvals[0].approver, info.json.approvals[0].comment, info.json.activations[0].by], ['owner1', 'compliance1', 'reviewed the diff', 'owner1']);

    const admin = await records('admin.action');
    const sec = await records('security.event');
    assert.ok(admin.some((r) => r.detail?.action === 'config.approve' && r.detail?.hash === v1.json.hash && r.detail?.duplicate === false), 'the approval is a record');
    assert.ok(sec.some((r) => r.detail?.event === 'config.approve' && r.reason === 'RAMPART_CONFIG_SELF_APPROVAL'), 'the self-approval attempt is a record');
    assert.ok(admin.some((r) => r.detail?.action === 'config.apply' && r.outcome === 'deny' && r.reason === 'RAMPART_CONFIG_APPROVALS_MISSING'), 'the refused apply is a record');
    const apply = admin.find((r) => r.detail?.action === 'config.apply' && r.outcome === 'success' && r.detail?.hash === v1.json.hash)!;
    assert.equal(apply.detail?.approvals, 1);
    const [priv] = await gatewayPrivates(t.gw, [apply.seq]);
    assert.equal(priv!.personal!.extra!.approvers, 'compliance1', 'the approvers are named (sealed)');
  });
});
