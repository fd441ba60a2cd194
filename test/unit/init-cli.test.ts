/**
 * `rampart init` end to end, as a user runs it: a child process in a temp folder, then the
 * written files are checked as the gateway will use them (loaded by the real loader, the dev
 * certificate parsed by node's X509Certificate and served in a real TLS handshake).
 *
 * It runs `node bin/rampart init ...` when the whole CLI is built. While other subcommands are
 * still being written (bin/rampart imports all of them), it runs a small commander program that
 * registers only init.ts and maps errors to exit codes as src/cli/main.ts does; the test prints
 * which of the two it used.
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { join, resolve } from 'node:path';
import tls from 'node:tls';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { loadConfig } from '../../src/config/load.js';
import { loadSecrets } from '../../src/config/secrets.js';
import { DEV_CERT_SUBJECT } from '../../src/tls/dev-cert.js';
import { tlsServerOptions } from '../../src/tls/server-options.js';
import { tempDir } from '../helpers/tmp.js';

const REPO = fileURLToPath(new URL('../../../', import.meta.url));
const BIN = join(REPO, 'bin', 'rampart');
const DIST_SRC = join(REPO, 'dist', 'src');
const tmp = tempDir('rampart-init-');
const DAY_MS = 86_400_000;

/** The command line to run: the real bin, or the init-only program (see the header). */
let cli: string[] = [];
let cliMode = '';

before(async () => {
  try {
    await import(pathToFileURL(join(DIST_SRC, 'cli', 'main.js')).href);
    cli = [BIN];
    cliMode = 'node bin/rampart (the full CLI)';
  } catch (err) {
    const script = join(tmp.path, 'init-only-cli.mjs');
    const url = (p: string) => JSON.stringify(pathToFileURL(join(DIST_SRC, p)).href);
    writeFileSync(
      script,
      `import { Command, CommanderError } from ${JSON.stringify(import.meta.resolve('commander'))};
import { register } from ${url('cli/init.js')};
import { CliExit } from ${url('cli/exit-codes.js')};
import { ConfigError } from ${url('core/errors.js')};
const program = new Command('rampart').exitOverride();
register(program);
try {
  await program.parseAsync(process.argv);
} catch (err) {
  if (err instanceof CommanderError) process.exitCode = err.exitCode === 0 ? 0 : 2;
  else if (err instanceof CliExit) { if (err.message) process.stderr.write(err.message + '\\n'); process.exitCode = err.exitCode; }
  else if (err instanceof ConfigError) { process.stderr.write('rampart: invalid configuration\\n' + err.message + '\\n'); process.exitCode = 78; }
  else { process.stderr.write('rampart: ' + (err && err.message ? err.message : String(err)) + '\\n'); process.exitCode = 70; }
}
`,
    );
    cli = [script];
    cliMode = `an init-only commander program: the full CLI does not load yet (${(err as Error).message})`;
  }
});
after(() => tmp.remove());

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function rampart(cwd: string, ...args: string[]): Promise<Run> {
  return new Promise((done) => {
    execFile(process.execPath, [...cli, ...args], { cwd, timeout: 60_000, env: { ...process.env, RAMPART_KEY_HASH_SECRET: '' } }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : -1) : 0;
      done({ code, stdout, stderr });
    });
  });
}

const SPEC = `openapi: 3.0.3
info:
  title: Acme Brokerage API
  version: "1.0"
security:
  - oauth: [accounts:read]
paths:
  /accounts:
    get:
      operationId: listAccounts
      security: [{ oauth: [accounts:read] }]
      responses: { "200": { description: ok } }
  /orders:
    post:
      operationId: placeOrder
      security: [{ oauth: [orders:write] }]
      responses: { "201": { description: created } }
`;

let n = 0;
/** A fresh project folder with specs/api.yaml. */
function project(): string {
  const dir = join(tmp.path, `project-${++n}`);
  mkdirSync(join(dir, 'specs'), { recursive: true });
  writeFileSync(join(dir, 'specs', 'api.yaml'), SPEC);
  return dir;
}
const mode = (p: string) => statSync(p).mode & 0o777;
const posix = process.platform !== 'win32';

describe('rampart init', () => {
  let dir: string;
  let first: Run;

  before(async () => {
    dir = project();
    first = await rampart(dir, 'init', '--openapi', 'specs/api.yaml', '--upstream', 'http://127.0.0.1:3000');
  });

  test('succeeds and prints the next steps', (t) => {
    t.diagnostic(`ran ${cliMode}`);
    assert.equal(first.code, 0, first.stderr);
    assert.match(first.stdout, /the configuration loads and validates/);
    assert.match(first.stdout, /^ {2}rampart start$/m);
    assert.match(first.stdout, /^ {2}rampart keys create --name my-app --scopes accounts:read,orders:write$/m);
    assert.match(first.stdout, /curl --cacert \.rampart\/tls\/dev-cert\.pem .* https:\/\/localhost:8443\//);
    assert.equal(first.stderr, '');
  });

  test('the written rampart.yaml loads as written, with the document path relative to it', async () => {
    const file = join(dir, 'rampart.yaml');
    const text = readFileSync(file, 'utf8');
    assert.match(text, /^ {4}openapi: "specs\/api\.yaml"$/m);
    const config = await loadConfig(file);
    assert.equal(config.apis.length, 1);
    const api = config.apis[0]!;
    assert.equal(api.name, 'acme-brokerage-api');
    assert.equal(api.openapi, join(dir, 'specs', 'api.yaml'));
    assert.equal(api.upstream.url, 'http://127.0.0.1:3000');
    assert.deepEqual(config.listen, {
      host: '127.0.0.1',
      port: 8443,
      tls: { cert: join(dir, '.rampart/tls/dev-cert.pem'), key: join(dir, '.rampart/tls/dev-key.pem'), minVersion: 'TLSv1.2' },
      plainHttp: false,
    });
    assert.equal(config.secretsFile, join(dir, '.rampart/secrets.json'));
    assert.deepEqual(config.storage, { driver: 'sqlite', sqlite: { path: join(dir, '.rampart/rampart.db') } });
  });

  test('every section is explained by a comment', () => {
    const lines = readFileSync(join(dir, 'rampart.yaml'), 'utf8').split('\n');
    const sections = lines.map((l, i) => [l, i] as const).filter(([l]) => /^[a-zA-Z]+:/.test(l));
    assert.ok(sections.length >= 12, `only ${sections.length} sections`);
    for (const [line, i] of sections) assert.match(lines[i - 1] ?? '', /^#/, `no comment above "${line}"`);
    assert.ok(lines.filter((l) => /^\s*#/.test(l)).length >= 40);
  });

  test('TLS material and secrets are private; .gitignore covers them', async () => {
    const cert = join(dir, '.rampart/tls/dev-cert.pem');
    const key = join(dir, '.rampart/tls/dev-key.pem');
    const secrets = join(dir, '.rampart/secrets.json');
    for (const f of [cert, key, secrets]) assert.ok(existsSync(f), f);
    if (posix) {
      assert.equal(mode(key), 0o600);
      assert.equal(mode(secrets), 0o600);
      assert.equal(mode(join(dir, '.rampart')), 0o700);
      assert.equal(mode(join(dir, '.rampart/tls')), 0o700);
    }
    assert.equal((await loadSecrets(secrets)).keyHashSecret.length, 32);
    assert.match(readFileSync(join(dir, '.gitignore'), 'utf8'), /^\.rampart\/$/m);
  });

  test('the certificate is a ≤ 90-day ECDSA P-256 DEVELOPMENT certificate for localhost, 127.0.0.1 and ::1', () => {
    const cert = new X509Certificate(readFileSync(join(dir, '.rampart/tls/dev-cert.pem')));
    assert.equal(cert.subject, DEV_CERT_SUBJECT.replace(/^CN=/, 'CN='));
    assert.match(cert.subject, /DEVELOPMENT/);
    const sans = (cert.subjectAltName ?? '').split(', ').sort();
    assert.deepEqual(sans, ['DNS:localhost', 'IP Address:0:0:0:0:0:0:0:1', 'IP Address:127.0.0.1']);
    const from = Date.parse(cert.validFrom);
    const to = Date.parse(cert.validTo);
    assert.ok(to - from <= 90 * DAY_MS, `validity ${(to - from) / DAY_MS} days`);
    assert.ok(to - Date.now() > 89 * DAY_MS);
    assert.ok(from <= Date.now());
    assert.equal(cert.ca, false);
    assert.deepEqual(cert.keyUsage, ['1.3.6.1.5.5.7.3.1']); // serverAuth
    assert.equal(cert.publicKey.asymmetricKeyType, 'ec');
    assert.equal(cert.publicKey.asymmetricKeyDetails?.namedCurve, 'prime256v1');
    assert.ok(cert.checkPrivateKey(createPrivateKey(readFileSync(join(dir, '.rampart/tls/dev-key.pem')))));
    assert.ok(cert.verify(cert.publicKey), 'self-signed');
  });

  test('a TLS client that trusts the dev certificate connects to https://localhost with it', async () => {
    const config = await loadConfig(join(dir, 'rampart.yaml'));
    const server = https.createServer(await tlsServerOptions(config.listen.tls!), (_q, r) => r.end('ok'));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      const protocol = await new Promise<string | null>((ok, fail) => {
        const s = tls.connect({ host: '127.0.0.1', port: (server.address() as AddressInfo).port, servername: 'localhost', ca: readFileSync(config.listen.tls!.cert) }, () => {
          ok(s.getProtocol());
          s.end();
        });
        s.on('error', fail);
      });
      assert.equal(protocol, 'TLSv1.3');
    } finally {
      server.close();
    }
  });

  test('refuses to overwrite without --force, and changes nothing', async () => {
    const before = readFileSync(join(dir, 'rampart.yaml'), 'utf8');
    const r = await rampart(dir, 'init', '--openapi', 'specs/api.yaml', '--upstream', 'http://127.0.0.1:4000');
    assert.equal(r.code, 1);
    assert.match(r.stderr, /rampart\.yaml already exists; use --force to overwrite it/);
    assert.equal(readFileSync(join(dir, 'rampart.yaml'), 'utf8'), before);
  });

  test('--force rewrites the config and certificate but keeps the secrets', async () => {
    const secretsBefore = readFileSync(join(dir, '.rampart/secrets.json'), 'utf8');
    const certBefore = readFileSync(join(dir, '.rampart/tls/dev-cert.pem'), 'utf8');
    const r = await rampart(dir, 'init', '--openapi', 'specs/api.yaml', '--upstream', 'https://backend.internal', '--listen', '0.0.0.0:9443', '--name', 'brokerage', '--force');
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /secrets\.json .*\[kept\]/);
    assert.equal(readFileSync(join(dir, '.rampart/secrets.json'), 'utf8'), secretsBefore);
    assert.notEqual(readFileSync(join(dir, '.rampart/tls/dev-cert.pem'), 'utf8'), certBefore);
    const config = await loadConfig(join(dir, 'rampart.yaml'));
    assert.deepEqual([config.listen.host, config.listen.port, config.apis[0]!.name, config.apis[0]!.upstream.url], ['0.0.0.0', 9443, 'brokerage', 'https://backend.internal']);
    assert.equal(readFileSync(join(dir, '.gitignore'), 'utf8').match(/^\.rampart\/$/gm)?.length, 1, 'not added twice');
  });
});

describe('rampart init, other layouts and bad input', () => {
  test('-c into a subfolder, an existing .gitignore extended, a specific listen host in the SANs, --json', async () => {
    const dir = project();
    mkdirSync(join(dir, 'deploy', 'gw'), { recursive: true });
    writeFileSync(join(dir, 'deploy', 'gw', '.gitignore'), 'node_modules/\n*.log');
    const r = await rampart(dir, 'init', '--openapi', 'specs/api.yaml', '--upstream', 'http://10.1.2.3:8080', '--listen', '192.168.10.5:8443', '-c', 'deploy/gw/gateway.yaml', '--json');
    assert.equal(r.code, 0, r.stderr);
    const out = JSON.parse(r.stdout) as { configFile: string; apiName: string; certificate: { hosts: string[] }; warnings: string[] };
    const file = join(dir, 'deploy', 'gw', 'gateway.yaml');
    assert.equal(resolve(out.configFile), file);
    assert.deepEqual(out.certificate.hosts, ['localhost', '127.0.0.1', '::1', '192.168.10.5']);
    // Plain HTTP to another machine is allowed but warned about (API10), on stderr.
    assert.equal(out.warnings.length, 1);
    assert.match(r.stderr, /warning: .*plain HTTP to a non-loopback upstream/);
    assert.match(readFileSync(file, 'utf8'), /^ {4}openapi: "\.\.\/\.\.\/specs\/api\.yaml"$/m);
    const config = await loadConfig(file);
    assert.equal(config.apis[0]!.openapi, join(dir, 'specs', 'api.yaml'));
    assert.equal(config.listen.tls!.cert, join(dir, 'deploy/gw/.rampart/tls/dev-cert.pem'));
    assert.equal(readFileSync(join(dir, 'deploy', 'gw', '.gitignore'), 'utf8'), 'node_modules/\n*.log\n\n# Rampart: development TLS keys, secrets and the local database; never commit them.\n.rampart/\n');
    const cert = new X509Certificate(readFileSync(config.listen.tls!.cert));
    assert.match(cert.subjectAltName ?? '', /IP Address:192\.168\.10\.5/);
  });

  test('a missing OpenAPI document: exit 3, nothing written', async () => {
    const dir = project();
    const r = await rampart(dir, 'init', '--openapi', 'specs/nope.yaml', '--upstream', 'http://127.0.0.1:3000');
    assert.equal(r.code, 3);
    assert.match(r.stderr, /OpenAPI document not found: specs\/nope\.yaml/);
    assert.equal(existsSync(join(dir, 'rampart.yaml')), false);
    assert.equal(existsSync(join(dir, '.rampart')), false);
  });

  test('a file that is not OpenAPI 3: exit 1, nothing written', async () => {
    const dir = project();
    writeFileSync(join(dir, 'specs', 'swagger.json'), JSON.stringify({ swagger: '2.0', info: { title: 'x' }, paths: {} }));
    writeFileSync(join(dir, 'specs', 'other.yaml'), 'just: a mapping\n');
    writeFileSync(join(dir, 'specs', 'broken.yaml'), 'openapi: [3.0\n');
    for (const [f, message] of [
      ['swagger.json', /is Swagger 2\.0; Rampart needs OpenAPI 3\.0 or 3\.1/],
      ['other.yaml', /has no `openapi: 3\.0\.x` or `openapi: 3\.1\.x` field/],
      ['broken.yaml', /is not valid YAML or JSON/],
    ] as const) {
      const r = await rampart(dir, 'init', '--openapi', `specs/${f}`, '--upstream', 'http://127.0.0.1:3000');
      assert.equal(r.code, 1, f);
      assert.match(r.stderr, message);
    }
    assert.equal(existsSync(join(dir, 'rampart.yaml')), false);
  });

  test('bad options: exit 2 (usage)', async () => {
    const dir = project();
    for (const args of [
      ['--listen', 'localhost'],
      ['--listen', '127.0.0.1:70000'],
      ['--upstream', 'ftp://files.internal'],
      ['--upstream', 'https://user:pw@backend.internal'],
      ['--name', 'Not A Name'],
    ]) {
      const base = ['init', '--openapi', 'specs/api.yaml', '--upstream', 'http://127.0.0.1:3000'];
      const i = base.indexOf(args[0]!);
      const argv = i >= 0 ? [...base.slice(0, i), ...args, ...base.slice(i + 2)] : [...base, ...args];
      const r = await rampart(dir, ...argv);
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
      assert.ok(!r.stderr.includes('pw@'), 'no credentials echoed');
    }
    const missing = await rampart(dir, 'init', '--openapi', 'specs/api.yaml');
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /--upstream/);
    assert.equal(existsSync(join(dir, 'rampart.yaml')), false);
  });

  test('--help describes every option', async () => {
    const r = await rampart(tmp.path, 'init', '--help');
    assert.equal(r.code, 0);
    for (const o of ['--openapi', '--upstream', '--listen', '--name', '--force', '--config', '--json']) assert.ok(r.stdout.includes(o), o);
  });
});
