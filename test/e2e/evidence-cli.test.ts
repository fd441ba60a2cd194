/**
 * The examiner workflow from the command line (R17a4-8, R17a4-10; RSP-2), as an operator runs it
 * on a single-node install without an admin plane: `rampart init`, `keys create`, `start`, real
 * traffic over TLS, a graceful SIGTERM, then with the gateway stopped `rampart evidence export`
 * (local mode), `rampart ledger keys` for the public key, and `rampart evidence verify` offline
 * with that key alone: exit 0 for the package as exported, exit 1 with one FAIL line per problem
 * for a tampered copy or the wrong key. `rampart audit access` answers who touched a customer.
 * Every command is the compiled CLI in a child process; nothing is mocked.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createTarWriter, readTarGzAll } from '../../src/evidence/tar.js';
import { generateNoteKey } from '../../src/ledger/signed-note.js';
import { FIXTURE_SPEC } from '../helpers/gateway.js';
import { startTestUpstream, type TestUpstream } from '../helpers/upstream.js';
import { tempDir } from '../helpers/tmp.js';
import { TIMEOUT, freePort, get, kill, listening, ok, run, show, startGatewayProcess, type Gateway } from '../helpers/cli.js';

interface VerifyJson {
  ok: boolean;
  records: number;
  recordsProved: number;
  privateChecked: number;
  checkpoints: number;
  proofTreeSize: number;
  findings: { where: string; problem: string }[];
}

test('evidence export with the gateway stopped, verify offline with the public key; a tampered copy fails', TIMEOUT, async (t) => {
  const tmp = tempDir('rampart-evidence-cli-');
  const dir = tmp.path;
  let upstream: TestUpstream | undefined;
  let gw: Gateway | undefined;
  try {
    copyFileSync(FIXTURE_SPEC, join(dir, 'gateway-test.yaml'));
    upstream = await startTestUpstream();
    const port = await freePort();
    await ok(dir, ['init', '--openapi', './gateway-test.yaml', '--upstream', upstream.url, '--listen', `127.0.0.1:${port}`]);
    const ca = readFileSync(join(dir, '.rampart/tls/dev-cert.pem'), 'utf8');
    const key = (JSON.parse((await ok(dir, ['keys', 'create', '--name', 'alice', '--scopes', 'accounts:read', '--subject', 'cus_1', '--json'])).stdout) as { key: string }).key;

    const from = new Date().toISOString();
    gw = startGatewayProcess(dir);
    await listening(gw);
    for (const [path, auth, status] of [['/accounts', true, 200], ['/accounts/acc_1', true, 200], ['/accounts', false, 401]] as const) {
      const r = await get(port, ca, path, auth ? { authorization: `Bearer ${key}` } : {});
      assert.equal(r.status, status, `${path}: ${r.text}`);
    }
    assert.ok(gw.child.kill('SIGTERM'));
    assert.deepEqual(await gw.exited, { code: 0, signal: null }, `rampart start stderr:\n${gw.stderr()}`);
    const to = new Date().toISOString();

    const pkg = join(dir, 'evidence.tar.gz');
    let exported = { records: 0, bytes: 0, manifestSha256: '', out: '' };
    let verifier = '';

    await t.test('evidence export (local mode) writes one package with every record of the range', async () => {
      const args = ['evidence', 'export', '--from', from, '--to', to, '--out', pkg, '--purpose', 'exam 17', '--json'];
      const r = await ok(dir, args);
      exported = JSON.parse(r.stdout) as typeof exported;
      assert.equal(exported.out, pkg);
      assert.match(exported.manifestSha256, /^[0-9a-f]{64}$/);
      const inRange = JSON.parse((await ok(dir, ['audit', 'search', '--from', from, '--to', to, '--limit', '1000', '--json'])).stdout) as unknown[];
      // gateway.started, two allowed exchanges (two records each), one denial, gateway.stopped.
      assert.equal(inRange.length, 7);
      assert.equal(exported.records, inRange.length, show(args, r));
      const again = await run(dir, args);
      assert.notEqual(again.code, 0, show(args, again));
      assert.match(again.stderr, /exists; refusing to replace it/, show(args, again));
    });

    await t.test('ledger keys prints the checkpoint verifier key', async () => {
      const r = await ok(dir, ['ledger', 'keys']);
      const lines = r.stdout.trim().split('\n');
      assert.equal(lines.length, 1, r.stdout);
      verifier = lines[0]!;
      assert.match(verifier, /^[^\s+]+\+[0-9a-f]{8}\+[A-Za-z0-9+/=]+$/);
      const json = JSON.parse((await ok(dir, ['ledger', 'keys', '--json'])).stdout) as { verifierKey: string }[];
      assert.deepEqual(json.map((k) => k.verifierKey), [verifier]);
    });

    await t.test('evidence verify with the public key alone exits 0, as text and as JSON', async () => {
      const args = ['evidence', 'verify', pkg, '--public-key', verifier];
      const r = await ok(dir, args);
      const n = exported.records;
      assert.match(r.stdout, new RegExp(`^${n} records, ${n} proved against the signed checkpoint at size \\d+; [1-9]\\d* checkpoints verified; [1-9]\\d* private parts and \\d+ bodies matched their commitments$`, 'm'), show(args, r));
      assert.match(r.stdout, /^package verified$/m);
      assert.doesNotMatch(r.stdout, /FAIL/);
      writeFileSync(join(dir, 'checkpoint.pub'), `${verifier}\n`);
      const j = JSON.parse((await ok(dir, ['evidence', 'verify', pkg, '--public-key', 'checkpoint.pub', '--json'])).stdout) as VerifyJson;
      assert.equal(j.ok, true);
      assert.deepEqual(j.findings, []);
      assert.equal(j.records, n);
      assert.equal(j.recordsProved, n);
      assert.ok(j.privateChecked > 0);
    });

    await t.test('a tampered copy exits 1 with a FAIL line naming records.jsonl', async () => {
      const files = await readTarGzAll(pkg, { maxEntryBytes: 1 << 30, maxTotalBytes: 1 << 30 });
      const text = files.get('records.jsonl')!.toString('utf8');
      const at = text.indexOf('"time":"2') + '"time":"'.length;
      files.set('records.jsonl', Buffer.from(`${text.slice(0, at)}3${text.slice(at + 1)}`, 'utf8'));
      const bad = join(dir, 'tampered.tar.gz');
      const tar = createTarWriter(bad);
      for (const [name, data] of files) await tar.add(name, data);
      await tar.close();

      const args = ['evidence', 'verify', bad, '--public-key', verifier];
      const r = await run(dir, args);
      assert.equal(r.code, 1, show(args, r));
      assert.match(r.stdout, /^FAIL records\.jsonl: digest-mismatch: the manifest says sha256 [0-9a-f]{64}, the contents hash to [0-9a-f]{64}$/m, show(args, r));
      assert.match(r.stdout, /^package NOT verified: 1 problem$/m);
      const j = await run(dir, [...args, '--json']);
      assert.equal(j.code, 1, show([...args, '--json'], j));
      const parsed = JSON.parse(j.stdout) as VerifyJson;
      assert.equal(parsed.ok, false);
      assert.deepEqual(parsed.findings.map((f) => f.where), ['records.jsonl']);
    });

    await t.test('the wrong public key exits 1 with a FAIL line on the manifest signature; garbage is not a package', async () => {
      const other = generateNoteKey('examiner-other').verifierKey;
      const wrongKey = await run(dir, ['evidence', 'verify', pkg, '--public-key', other]);
      assert.equal(wrongKey.code, 1, show(['evidence', 'verify'], wrongKey));
      assert.match(wrongKey.stdout, /^FAIL manifest: manifest\.sig does not verify under the given key: the note is signed by no known key \(signatures from: [^\s+]+\+[0-9a-f]{8}\)$/m, show(['evidence', 'verify'], wrongKey));
      writeFileSync(join(dir, 'garbage.tar.gz'), 'not a package');
      const garbage = await run(dir, ['evidence', 'verify', 'garbage.tar.gz', '--public-key', verifier]);
      assert.equal(garbage.code, 1, show(['evidence', 'verify', 'garbage.tar.gz'], garbage));
      assert.match(garbage.stderr, /garbage\.tar\.gz is not a readable evidence package/);
    });

    await t.test('audit access names who touched cus_1 (RSP-2)', async () => {
      const args = ['audit', 'access', '--from', from, '--to', to, '--subject', 'cus_1', '--json'];
      const r = JSON.parse((await ok(dir, args)).stdout) as { rows: { subject: string; principal: string; records: number; denied: number; operations: string[] }[] };
      assert.deepEqual(r.rows.map((x) => ({ subject: x.subject, principal: x.principal, records: x.records, denied: x.denied, operations: x.operations })), [
        { subject: 'cus_1', principal: 'alice', records: 4, denied: 0, operations: ['listAccounts', 'getAccount'] },
      ]);
    });
  } finally {
    await kill(gw);
    await upstream?.close();
    tmp.remove();
  }
});
