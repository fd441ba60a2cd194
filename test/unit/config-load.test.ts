/**
 * rampart.yaml loading: defaults and resolved paths for a valid file; for an invalid one, every
 * problem with the exact line and column, the JSON pointer and what was expected. Real files in
 * temp folders, loaded through loadConfig as `rampart start` does.
 */
import { test, describe, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { ConfigError, type ConfigIssue } from '../../src/core/errors.js';
import { CONFIG_DEFAULTS, configSchemaPath, isLoopbackHost, loadConfig, loadConfigWithWarnings, parseConfig } from '../../src/config/load.js';
import { tempDir } from '../helpers/tmp.js';

const tmp = tempDir('rampart-config-');
after(() => tmp.remove());

let n = 0;
/** Writes `text` as a rampart.yaml in its own folder and returns the path. */
function file(text: string): string {
  const dir = join(tmp.path, `case-${++n}`);
  mkdirSync(dir, { recursive: true });
  const f = join(dir, 'rampart.yaml');
  writeFileSync(f, text);
  return f;
}

// Line numbers below refer to this text; keep it in step with the tests.
const BASE = [
  'version: 1', //                               1
  'listen:', //                                  2
  '  host: 127.0.0.1', //                        3
  '  port: 8443', //                             4
  '  tls:', //                                   5
  '    cert: tls/cert.pem', //                   6
  '    key: tls/key.pem', //                     7
  'apis:', //                                    8
  '  - name: brokerage', //                      9
  '    openapi: specs/brokerage.yaml', //        10
  '    upstream:', //                            11
  '      url: http://127.0.0.1:9000', //         12
  '      timeoutMs: 2000', //                    13
];
const text = (lines: string[]) => `${lines.join('\n')}\n`;
/** BASE with 1-based line `line` replaced by `by` (several lines allowed, or none). */
const replace = (line: number, ...by: string[]) => text([...BASE.slice(0, line - 1), ...by, ...BASE.slice(line)]);
/** BASE with `lines` inserted before 1-based line `line`. */
const insert = (line: number, ...lines: string[]) => text([...BASE.slice(0, line - 1), ...lines, ...BASE.slice(line - 1)]);

async function issuesOf(yaml: string): Promise<{ f: string; issues: readonly ConfigIssue[]; message: string }> {
  const f = file(yaml);
  try {
    await loadConfig(f);
  } catch (err) {
    assert.ok(err instanceof ConfigError, `expected ConfigError, got ${String(err)}`);
    return { f, issues: err.issues, message: err.message };
  }
  assert.fail('expected the configuration to be refused');
}

function findIssue(issues: readonly ConfigIssue[], pointer: string): ConfigIssue {
  const i = issues.find((x) => x.pointer === pointer);
  assert.ok(i, `no issue for ${pointer}; got:\n${issues.map((x) => `${x.line}:${x.column} ${x.pointer} ${x.message}`).join('\n')}`);
  return i;
}

describe('a valid configuration', () => {
  test('loads with production defaults and paths resolved against its folder', async () => {
    const f = file(text(BASE));
    const dir = join(f, '..');
    const config = await loadConfig(f);
    assert.equal(config.version, 1);
    assert.equal(config.profile, 'default');
    assert.equal(config.node, hostname());
    assert.deepEqual(config.listen, {
      host: '127.0.0.1',
      port: 8443,
      tls: { cert: join(dir, 'tls/cert.pem'), key: join(dir, 'tls/key.pem'), minVersion: 'TLSv1.2' },
      plainHttp: false,
    });
    assert.deepEqual(config.trustedProxies, []);
    assert.deepEqual(config.limits, {
      maxHeaderBytes: 16384,
      maxBodyBytes: 1048576,
      maxUrlLength: 4096,
      headersTimeoutMs: 10000,
      requestTimeoutMs: 30000,
      keepAliveTimeoutMs: 5000,
    });
    assert.deepEqual(config.cors, { origins: [], allowHeaders: ['authorization', 'content-type'], maxAgeSeconds: 600 });
    assert.equal(config.secretsFile, join(dir, '.rampart/secrets.json'));
    assert.deepEqual(config.storage, { driver: 'sqlite', sqlite: { path: join(dir, '.rampart/rampart.db') } });
    assert.deepEqual(config.ledger, {
      durability: 'strict',
      maxBatch: 256,
      spill: { dir: join(dir, '.rampart/spill'), maxBytes: 268435456 },
      // Development KEK by default, beside the secrets file (`check --profile finra` reports it).
      encryption: { kek: { provider: 'file', file: join(dir, '.rampart/ledger-kek.json') } },
      // Six years for records (R17a4-1, R4511-1), three for bodies (R17a4-2).
      retention: { exchange: 2192, personal: 2192, bodies: 1096, admin: 2192, security: 2192, system: 2192 },
      bodies: { capture: true, maxBytes: 65536, defaultPersonal: 'keep', personal: {}, opaque: 'omit' },
      checkpoints: { intervalSeconds: 60, origin: `rampart/${hostname()}`, signingKeyFile: join(dir, '.rampart/checkpoint-key.json'), publish: [] },
      selfVerify: { intervalSeconds: 3600 },
      stream: [],
    });
    assert.deepEqual(config.authThrottle, { maxFailures: 20, windowSeconds: 60 });
    assert.equal(config.reservedPrefix, '/.rampart');
    assert.deepEqual(config.headers, { hstsMaxAgeSeconds: 63072000, cacheControl: 'no-store' });
    assert.deepEqual(config.apis, [
      {
        name: 'brokerage',
        openapi: join(dir, 'specs/brokerage.yaml'),
        upstream: { url: 'http://127.0.0.1:9000', timeoutMs: 2000, connectTimeoutMs: 5000, connections: 64 },
        mount: { prefix: '/' },
        closedObjects: false,
        operations: {},
      },
    ]);
  });

  test('a minimal file gets the default listener 0.0.0.0:8443 with TLS', async () => {
    const config = await loadConfig(file(text(BASE.filter((_, i) => i !== 2 && i !== 3))));
    assert.equal(config.listen.host, '0.0.0.0');
    assert.equal(config.listen.port, 8443);
    assert.ok(config.listen.tls);
  });

  test('every optional section, explicitly set, is kept; absolute paths stay as they are', async () => {
    const f = file(
      text([
        ...BASE.slice(0, 7),
        '    ca: /etc/rampart/clients.pem',
        '    minVersion: TLSv1.3',
        'node: gw-1',
        'trustedProxies: [10.0.0.0/8, "::1", 192.168.1.1]',
        'cors:',
        '  origins: [https://app.example.com, "http://localhost:3000", "https://[::1]:8443"]',
        'storage:',
        '  driver: postgres',
        '  postgres:',
        '    url: postgres://rampart@127.0.0.1:5432/rampart',
        '    poolSize: 4',
        'reservedPrefix: /_gw',
        ...BASE.slice(7, 12),
        '      ca: ca/upstream.pem',
        '    mount: { prefix: /v1, host: api.example.com }',
        '    closedObjects: true',
        '    operations:',
        '      getAccount: { addScopes: ["accounts:read"], cacheControl: "private, max-age=60" }',
        '      placeOrder: { scopes: ["orders:write"] }',
      ]),
    );
    const dir = join(f, '..');
    const config = await loadConfig(f);
    assert.equal(config.listen.tls?.ca, '/etc/rampart/clients.pem');
    assert.equal(config.listen.tls?.minVersion, 'TLSv1.3');
    assert.equal(config.node, 'gw-1');
    assert.deepEqual(config.trustedProxies, ['10.0.0.0/8', '::1', '192.168.1.1']);
    assert.deepEqual(config.cors.origins, ['https://app.example.com', 'http://localhost:3000', 'https://[::1]:8443']);
    assert.deepEqual(config.storage, { driver: 'postgres', postgres: { url: 'postgres://rampart@127.0.0.1:5432/rampart', schema: 'rampart', poolSize: 4 } });
    assert.equal(config.reservedPrefix, '/_gw');
    const api = config.apis[0]!;
    assert.equal(api.upstream.ca, join(dir, 'ca/upstream.pem'));
    assert.deepEqual(api.mount, { prefix: '/v1', host: 'api.example.com' });
    assert.equal(api.closedObjects, true);
    assert.deepEqual(api.operations, {
      getAccount: { addScopes: ['accounts:read'], cacheControl: 'private, max-age=60' },
      placeOrder: { scopes: ['orders:write'] },
    });
  });

  test('profile finra closes object schemas unless an API says otherwise', async () => {
    const config = await loadConfig(
      file(text(['profile: finra', ...BASE, '  - name: legacy', '    openapi: legacy.yaml', '    upstream: { url: "https://legacy.internal" }', '    mount: { prefix: /legacy }', '    closedObjects: false'])),
    );
    assert.equal(config.apis[0]!.closedObjects, true);
    assert.equal(config.apis[1]!.closedObjects, false);
  });

  test('the result is deeply frozen', async () => {
    const config = await loadConfig(file(text(BASE)));
    for (const o of [config, config.listen, config.listen.tls, config.limits, config.apis, config.apis[0], config.apis[0]!.upstream, config.apis[0]!.operations, config.storage]) {
      assert.ok(Object.isFrozen(o));
    }
    assert.throws(() => {
      (config.listen as { port: number }).port = 1;
    }, TypeError);
    assert.throws(() => {
      (config.apis as unknown[]).push({});
    }, TypeError);
  });
});

describe('errors name the file, the line, the column and what was expected', () => {
  test('a wrong type deep in the tree', async () => {
    const { f, issues, message } = await issuesOf(replace(13, '      timeoutMs: fast'));
    assert.equal(issues.length, 1);
    assert.deepEqual(issues[0], { file: f, line: 13, column: 18, pointer: '/apis/0/upstream/timeoutMs', message: 'must be an integer (found a string)' });
    assert.equal(message, `${f}:13:18: /apis/0/upstream/timeoutMs: must be an integer (found a string)`);
  });

  test('a number out of range, in the documented format', async () => {
    const { f, message } = await issuesOf(replace(4, '  port: 70000'));
    assert.equal(message, `${f}:4:9: /listen/port: must be <= 65535`);
  });

  test('an unknown key (a typo) points at the key and suggests the right one', async () => {
    const { issues } = await issuesOf(replace(5, '  tsl:'));
    const typo = findIssue(issues, '/listen/tsl');
    assert.equal(typo.line, 5);
    assert.equal(typo.column, 3);
    assert.match(typo.message, /^unknown property "tsl" \(did you mean "tls"\?\); expected one of: host, port, tls, plainHttp$/);
    // ... and the listener now lacks TLS, reported at its parent key.
    const missing = findIssue(issues, '/listen/tls');
    assert.deepEqual([missing.line, missing.column], [2, 1]);
    assert.match(missing.message, /`tls` \(cert and key\) is required unless `plainHttp: true`/);
  });

  test('an unknown top-level key', async () => {
    const { issues } = await issuesOf(insert(8, 'limit:', '  maxBodyBytes: 10'));
    const i = findIssue(issues, '/limit');
    assert.deepEqual([i.line, i.column], [8, 1]);
    assert.match(i.message, /did you mean "limits"/);
  });

  test('a missing required key points at its parent key', async () => {
    const { issues } = await issuesOf(text(BASE.filter((_, i) => i !== 6)));
    assert.equal(issues.length, 1);
    assert.deepEqual(issues[0], { file: issues[0]!.file, line: 5, column: 3, pointer: '/listen/tls/key', message: 'missing required property "key" (expected a string)' });
  });

  test('a missing required key in a list item points at the item', async () => {
    const { issues } = await issuesOf(text(BASE.slice(0, 10)));
    assert.equal(issues.length, 1);
    assert.deepEqual([issues[0]!.line, issues[0]!.column, issues[0]!.pointer], [9, 5, '/apis/0/upstream']);
    assert.equal(issues[0]!.message, 'missing required property "upstream" (expected a mapping)');
  });

  test('a YAML syntax error', async () => {
    const { f, issues, message } = await issuesOf(replace(3, '\thost: 127.0.0.1'));
    assert.equal(issues.length, 1);
    assert.equal(message, `${f}:3:1: Tabs are not allowed as indentation (YAML TAB_AS_INDENT)`);
  });

  test('a YAML structure error reports the first problem, not its echoes', async () => {
    const { f, message } = await issuesOf(replace(4, '   port: 8443'));
    assert.equal(message, `${f}:3:9: Nested mappings are not allowed in compact mappings (YAML BLOCK_AS_IMPLICIT_KEY)`);
  });

  test('every duplicate key is reported', async () => {
    const { issues } = await issuesOf(text([...BASE, '    upstream: { url: "https://x.internal" }', 'version: 1']));
    assert.deepEqual(issues.map((i) => [i.line, i.column]), [[14, 5], [15, 1]]);
  });

  test('a duplicate key points at the second occurrence', async () => {
    const { f, issues, message } = await issuesOf(insert(5, '  port: 9443'));
    assert.equal(issues.length, 1);
    assert.equal(message, `${f}:5:3: Map keys must be unique (YAML DUPLICATE_KEY)`);
  });

  test('TLS 1.1 as minVersion is refused (ENC-1)', async () => {
    const { f, message } = await issuesOf(insert(8, '    minVersion: TLSv1.1'));
    assert.equal(message, `${f}:8:17: /listen/tls/minVersion: must be TLSv1.2 or TLSv1.3; TLS 1.0, TLS 1.1 and SSL are refused (ENC-1)`);
  });

  test("cors origins '*' and 'null' are refused (ASVS 14.5.3)", async () => {
    const { issues } = await issuesOf(text([...BASE, 'cors:', "  origins: ['*', 'null', 'https://*.example.com', https://ok.example.com, https://app.example.com/]"]));
    const pointers = issues.map((i) => [i.pointer, i.line, i.column]);
    assert.deepEqual(pointers, [
      ['/cors/origins/0', 15, 13],
      ['/cors/origins/1', 15, 18],
      ['/cors/origins/2', 15, 26],
      ['/cors/origins/4', 15, 75],
    ]);
    assert.match(issues[0]!.message, /must be an exact origin .* '\*', 'null' and wildcards are not allowed/);
  });

  test('plain HTTP on 0.0.0.0 is refused (ENC-1)', async () => {
    const { f, message } = await issuesOf(text(['version: 1', 'listen:', '  host: 0.0.0.0', '  port: 8080', '  plainHttp: true', ...BASE.slice(7)]));
    assert.equal(
      message,
      `${f}:3:9: /listen/host: plain HTTP on a non-loopback address (0.0.0.0) is refused (ENC-1): use listen.tls, bind 127.0.0.1, or list the TLS-terminating proxy in trustedProxies`,
    );
  });

  test('plain HTTP with the default host is refused at plainHttp', async () => {
    const { issues } = await issuesOf(text(['version: 1', 'listen:', '  plainHttp: true', ...BASE.slice(7)]));
    assert.deepEqual([issues[0]!.pointer, issues[0]!.line, issues[0]!.column], ['/listen/plainHttp', 3, 14]);
  });

  test('plain HTTP together with tls is refused', async () => {
    const { issues } = await issuesOf(insert(5, '  plainHttp: true'));
    assert.deepEqual([issues[0]!.pointer, issues[0]!.line], ['/listen/tls', 6]);
    assert.match(issues[0]!.message, /cannot be combined with `plainHttp: true`/);
  });

  test('every problem is reported at once, in file order', async () => {
    const { issues } = await issuesOf(
      text(['version: 2', 'listen:', '  port: -1', '  tls: { cert: c.pem, key: k.pem }', 'ledger:', '  durability: lazy', 'apis:', '  - name: Bad_Name', '    openapi: a.yaml', '    upstream: { url: "ftp://x" }', '    mount: { prefix: /v1/ }']),
    );
    assert.deepEqual(
      issues.map((i) => `${i.line}:${i.column} ${i.pointer}`),
      ['1:10 /version', '3:9 /listen/port', '6:15 /ledger/durability', '8:11 /apis/0/name', '10:22 /apis/0/upstream/url', '11:22 /apis/0/mount/prefix'],
    );
    assert.equal(issues[0]!.message, 'must be 1');
    assert.equal(issues[2]!.message, 'must be `strict` or `buffered`');
  });

  test('an empty file', async () => {
    const { issues } = await issuesOf('');
    assert.deepEqual([issues[0]!.line, issues[0]!.column, issues[0]!.pointer, issues[0]!.message], [1, 1, '/', 'must be a mapping (found an empty value)']);
  });

  test('a missing file names the file', async () => {
    const missing = join(tmp.path, 'nope', 'rampart.yaml');
    await assert.rejects(loadConfig(missing), (err: unknown) => {
      assert.ok(err instanceof ConfigError);
      assert.match(err.message, new RegExp(`^${missing.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}: file not found`));
      return true;
    });
  });

  test('tagged YAML values are refused', async () => {
    const { issues } = await issuesOf(replace(3, '  host: !!binary aGVsbG8='));
    assert.equal(issues.length, 1);
    assert.deepEqual([issues[0]!.pointer, issues[0]!.line], ['/listen/host', 3]);
  });
});

describe('checks beyond the schema', () => {
  test('API names must be unique', async () => {
    const { issues } = await issuesOf(text([...BASE, '  - name: brokerage', '    openapi: other.yaml', '    upstream: { url: "https://other.internal" }', '    mount: { prefix: /other }']));
    assert.equal(issues.length, 1);
    assert.deepEqual([issues[0]!.pointer, issues[0]!.line, issues[0]!.column], ['/apis/1/name', 14, 11]);
    assert.match(issues[0]!.message, /duplicate API name "brokerage" \(already used by \/apis\/0, line 9\)/);
  });

  test('two APIs on the same prefix and host are refused; another host is fine', async () => {
    const second = ['  - name: second', '    openapi: other.yaml', '    upstream: { url: "https://other.internal" }'];
    const { issues } = await issuesOf(text([...BASE, ...second]));
    assert.deepEqual([issues[0]!.pointer, issues[0]!.line], ['/apis/1', 14]);
    assert.match(issues[0]!.message, /same prefix \/ as \/apis\/0/);
    await loadConfig(file(text([...BASE, ...second, '    mount: { prefix: /, host: other.example.com }'])));
  });

  test('a mount under the reserved prefix is refused', async () => {
    const { issues } = await issuesOf(text([...BASE, '    mount:', '      prefix: /.rampart/api']));
    assert.deepEqual([issues[0]!.pointer, issues[0]!.line, issues[0]!.column], ['/apis/0/mount/prefix', 15, 15]);
    assert.match(issues[0]!.message, /under the reserved prefix \/\.rampart/);
  });

  test('upstream URLs: http(s) only, no credentials, no query; plain http off-box warns', async () => {
    const creds = await issuesOf(replace(12, '      url: https://user:pw@backend.internal'));
    assert.match(creds.issues[0]!.message, /must not contain credentials/);
    assert.ok(!creds.message.includes('pw@'), 'the message must not echo the URL');
    const query = await issuesOf(replace(12, '      url: https://backend.internal/api?x=1'));
    assert.match(query.issues[0]!.message, /must not contain a query/);
    const { warnings } = await loadConfigWithWarnings(file(replace(12, '      url: http://backend.internal:8080/api')));
    assert.equal(warnings.length, 1);
    assert.deepEqual([warnings[0]!.pointer, warnings[0]!.line, warnings[0]!.column], ['/apis/0/upstream/url', 12, 12]);
    assert.match(warnings[0]!.message, /plain HTTP to a non-loopback upstream/);
    assert.deepEqual((await loadConfigWithWarnings(file(text(BASE)))).warnings, []);
  });

  test('plain HTTP behind a trusted proxy is a warning; on loopback too', async () => {
    const plain = (host: string, extra: string[] = []) => text(['version: 1', ...extra, 'listen:', `  host: ${host}`, '  plainHttp: true', ...BASE.slice(7)]);
    const proxied = await loadConfigWithWarnings(file(plain('0.0.0.0', ['trustedProxies: [10.0.0.0/8]'])));
    assert.equal(proxied.config.listen.plainHttp, true);
    assert.equal(proxied.config.listen.tls, undefined);
    assert.match(proxied.warnings[0]!.message, /trusted proxy terminates TLS/);
    const local = await loadConfigWithWarnings(file(plain('127.0.0.1')));
    assert.match(local.warnings[0]!.message, /loopback address: for local development only/);
  });

  test('trusted proxies must be addresses or CIDR ranges', async () => {
    const { issues } = await issuesOf(text(['trustedProxies: [10.0.0.0/8, 10.0.0.0/33, proxy.internal]', ...BASE]));
    assert.deepEqual(issues.map((i) => i.pointer), ['/trustedProxies/1', '/trustedProxies/2']);
  });

  test('headersTimeoutMs may not exceed requestTimeoutMs', async () => {
    const { issues } = await issuesOf(text([...BASE, 'limits: { headersTimeoutMs: 60000 }']));
    assert.equal(issues[0]!.pointer, '/limits/headersTimeoutMs');
  });

  test('isLoopbackHost', () => {
    for (const h of ['localhost', '127.0.0.1', '127.8.9.10', '::1', '[::1]', '::ffff:127.0.0.1', 'api.localhost']) assert.ok(isLoopbackHost(h), h);
    for (const h of ['0.0.0.0', '::', '10.0.0.1', 'example.com', '128.0.0.1']) assert.ok(!isLoopbackHost(h), h);
  });
});

describe('${ENV} substitution', () => {
  const NAME = `RAMPART_TEST_PG_URL_${process.pid}`;
  const pg = (url: string) => text([...BASE, 'storage:', '  driver: postgres', '  postgres:', `    url: ${url}`]);

  test('a set variable is substituted before validation', async () => {
    process.env[NAME] = 'postgres://rampart:s3cret@127.0.0.1:5432/rampart';
    try {
      const config = await loadConfig(file(pg(`"\${${NAME}}"`)));
      assert.equal(config.storage.driver === 'postgres' && config.storage.postgres.url, 'postgres://rampart:s3cret@127.0.0.1:5432/rampart');
    } finally {
      delete process.env[NAME];
    }
  });

  test('an unset variable is an error naming the line and the variable', async () => {
    const { f, issues, message } = await issuesOf(pg(`"\${${NAME}}"`));
    assert.equal(issues.length, 1, 'no second, schema error for the same value');
    assert.equal(message, `${f}:17:10: /storage/postgres/url: environment variable ${NAME} is not set (referenced as \${${NAME}})`);
  });

  test('inside a longer string, $${ escapes, and parseConfig takes an explicit environment', () => {
    const config = parseConfig(
      text([...BASE.slice(0, 9), '    openapi: "specs/$${literal}/${SPEC}.yaml"', ...BASE.slice(10), 'storage:', '  driver: postgres', '  postgres:', '    url: postgres://${PGUSER}@${PGHOST}:5432/db']),
      '/srv/rampart/rampart.yaml',
      { env: { SPEC: 'v2', PGUSER: 'gw', PGHOST: '127.0.0.1' } },
    );
    assert.equal(config.apis[0]!.openapi, '/srv/rampart/specs/${literal}/v2.yaml');
    assert.equal(config.storage.driver === 'postgres' && config.storage.postgres.url, 'postgres://gw@127.0.0.1:5432/db');
  });

  test('storage.postgres.retentionUrl: another role on the same database, or a clear error (AU-9(4))', async () => {
    const split = (ret: string) => text([...BASE, 'storage:', '  driver: postgres', '  postgres:', '    url: postgres://gw@127.0.0.1:5432/db', `    retentionUrl: ${ret}`]);
    const config = await loadConfig(file(split('postgres://ret@127.0.0.1:5432/db')));
    assert.equal(config.storage.driver === 'postgres' && config.storage.postgres.retentionUrl, 'postgres://ret@127.0.0.1:5432/db');
    const same = await issuesOf(split('postgres://gw:pw@127.0.0.1:5432/db'));
    assert.match(same.message, /:18:19: \/storage\/postgres\/retentionUrl: connects as the same role as url \(gw\); it must be the retention role/);
    const elsewhere = await issuesOf(split('postgres://ret@127.0.0.1:5432/other'));
    assert.match(elsewhere.message, /\/storage\/postgres\/retentionUrl: must reach the same server and database as url/);
    const bad = await issuesOf(split('mysql://ret@127.0.0.1/db'));
    assert.match(bad.message, /\/storage\/postgres\/retentionUrl: must be a postgres:\/\/ or postgresql:\/\/ URL/);
  });

  test('a malformed reference is an error', () => {
    assert.throws(
      () => parseConfig(replace(12, '      url: "${UPSTREAM"'), 'rampart.yaml', { env: {} }),
      (err: unknown) => err instanceof ConfigError && /^rampart\.yaml:12:12: \/apis\/0\/upstream\/url: malformed variable reference/.test(err.message),
    );
  });
});

describe('the published schema', () => {
  const schema = JSON.parse(readFileSync(configSchemaPath(), 'utf8')) as Record<string, unknown>;

  test('compiles under strict Ajv (draft 2020-12)', () => {
    const ajv = new Ajv2020({ strict: true, strictTypes: false, strictRequired: false });
    ajv.addKeyword({ keyword: 'errorMessage', schemaType: 'string' });
    ajv.compile(schema);
  });

  type S = Record<string, unknown> & { properties?: Record<string, S>; $defs?: Record<string, S>; items?: S; additionalProperties?: unknown; $ref?: string };
  const defs = (schema as S).$defs ?? {};
  const deref = (s: S): S => (s.$ref ? { ...defs[s.$ref.replace('#/$defs/', '')]!, ...s } : s);

  /** Every object schema that defines properties, with its path. */
  function objects(s: S, path: string, out: [string, S][] = []): [string, S][] {
    if (s.properties) {
      out.push([path, s]);
      for (const [k, v] of Object.entries(s.properties)) objects(deref(v), `${path}/${k}`, out);
    }
    if (s.items && typeof s.items === 'object') objects(deref(s.items), `${path}/items`, out);
    if (s.additionalProperties && typeof s.additionalProperties === 'object') objects(deref(s.additionalProperties as S), `${path}/*`, out);
    return out;
  }
  const all = objects(schema as S, '');

  test('every property has a description (editors show them)', () => {
    assert.ok(all.length > 10);
    for (const [path, o] of all) {
      for (const [k, v] of Object.entries(o.properties!)) {
        assert.ok(typeof deref(v).description === 'string' && (deref(v).description as string).length > 10, `${path}/${k} lacks a description`);
      }
    }
  });

  test('every object refuses unknown properties (a typo is an error)', () => {
    for (const [path, o] of all) assert.equal(o.additionalProperties, false, `${path} allows unknown properties`);
  });

  test("the schema's documented defaults are the loader's defaults", async () => {
    // BASE without host, port and timeoutMs: everything else optional is left out already.
    const sqliteFile = file(text(BASE.filter((_, i) => i !== 2 && i !== 3 && i !== 12)));
    const pgFile = file(text([...BASE, 'storage:', '  driver: postgres', '  postgres: { url: "postgres://127.0.0.1/db" }']));
    const dir = join(sqliteFile, '..');
    const sqlite = await loadConfig(sqliteFile);
    const pg = await loadConfig(pgFile);
    // Defaults that are relative paths come back resolved against the file's folder.
    const PATHS = new Set(['/secretsFile', '/storage/sqlite/path']);
    const checked: string[] = [];
    const walk = (s: S, path: string, value: unknown) => {
      if (value === undefined) return; // the other storage driver's branch
      for (const [k, raw] of Object.entries(s.properties ?? {})) {
        const v = deref(raw);
        const actual: unknown = (value as Record<string, unknown>)[k];
        if ('default' in v && (typeof v.default !== 'object' || Array.isArray(v.default))) {
          const expected = PATHS.has(`${path}/${k}`) ? join(dir, v.default as string) : v.default;
          assert.deepEqual(actual, expected, `default of ${path}/${k}`);
          checked.push(`${path}/${k}`);
        }
        if (v.properties) walk(v, `${path}/${k}`, actual);
      }
    };
    const root = schema as S;
    walk(root, '', sqlite);
    walk(deref(root.properties!.apis!.items!), '/apis/0', sqlite.apis[0]);
    walk(deref(root.properties!.storage!.properties!.postgres!), '/storage/postgres', pg.storage.driver === 'postgres' ? pg.storage.postgres : undefined);
    for (const p of ['/profile', '/listen/host', '/listen/port', '/listen/tls/minVersion', '/listen/plainHttp', '/trustedProxies', '/limits/maxBodyBytes', '/cors/allowHeaders', '/secretsFile', '/storage/driver', '/storage/sqlite/path', '/storage/postgres/schema', '/storage/postgres/poolSize', '/ledger/durability', '/ledger/maxBatch', '/authThrottle/maxFailures', '/reservedPrefix', '/headers/hstsMaxAgeSeconds', '/headers/cacheControl', '/apis/0/upstream/timeoutMs', '/apis/0/upstream/connections', '/apis/0/mount/prefix', '/apis/0/closedObjects']) {
      assert.ok(checked.includes(p), `${p} was not compared (checked: ${checked.join(', ')})`);
    }
    assert.equal(CONFIG_DEFAULTS.limits.maxBodyBytes, 1048576);
  });
});
