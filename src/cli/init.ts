/**
 * `rampart init --openapi FILE --upstream URL [--listen HOST:PORT] [--name NAME] [--force] [-c FILE]`
 *
 * Sets up a working gateway folder in one command: a commented rampart.yaml that loads as
 * written, a development TLS certificate (ENC-1: TLS from the first minute), the server secrets
 * (0600) and a .gitignore entry that keeps all of that local material out of the repository.
 * The written file is loaded through the real loader before success is reported.
 *
 * It needs no storage, so it does not import ./common.ts (which opens the storage drivers); the
 * `-c` option and its default are the same as everywhere else.
 */
import type { Command } from 'commander';
import { X509Certificate } from 'node:crypto';
import { chmod, mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { isIP } from 'node:net';
import { dirname, isAbsolute, join, relative, resolve, sep } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { CONFIG_DEFAULTS, isLoopbackHost, loadConfigWithWarnings } from '../config/load.js';
import { ensureSecretsFile } from '../config/secrets.js';
import { formatConfigIssue, type ConfigIssue } from '../core/errors.js';
import { DEV_CERT_MAX_DAYS, generateDevCertificate } from '../tls/dev-cert.js';
import { CliExit, EXIT } from './exit-codes.js';

const DEFAULT_CONFIG_FILE = 'rampart.yaml';
const DEFAULT_LISTEN = '127.0.0.1:8443';
const API_NAME = /^[a-z][a-z0-9-]{0,39}$/;
/** Local, never-committed material lives here, beside the config file. */
const LOCAL_DIR = '.rampart';
const DEV_HOSTS = ['localhost', '127.0.0.1', '::1'];

export interface InitOptions {
  openapi: string;
  upstream: string;
  listen?: string;
  name?: string;
  force?: boolean;
  /** Configuration file to write (default ./rampart.yaml). */
  config?: string;
  /** Folder relative paths are taken from (default: the current directory). */
  cwd?: string;
}

export interface InitResult {
  configFile: string;
  apiName: string;
  listen: { host: string; port: number };
  files: { path: string; what: string; mode?: string; created: boolean }[];
  certificate: { hosts: string[]; validTo: string };
  warnings: string[];
  /** Scopes found in the OpenAPI document, for the `keys create` hint. */
  scopes: string[];
}

/**
 * Adds `init` to the CLI.
 *
 * @example
 * const program = new Command('rampart');
 * register(program);
 * await program.parseAsync(['node', 'rampart', 'init', '--openapi', 'api.yaml', '--upstream', 'http://127.0.0.1:3000']);
 */
export function register(program: Command): void {
  program
    .command('init')
    .description('write a commented rampart.yaml, a development TLS certificate and local secrets')
    .requiredOption('--openapi <file>', 'OpenAPI 3.x document (YAML or JSON) of the API to protect')
    .requiredOption('--upstream <url>', 'base URL of the API behind the gateway, e.g. http://127.0.0.1:3000')
    .option('--listen <host:port>', 'where the gateway listens (TLS)', DEFAULT_LISTEN)
    .option('--name <name>', 'short API name, ^[a-z][a-z0-9-]{0,39}$ (default: from the document title)')
    .option('--force', 'overwrite an existing configuration file and development certificate (secrets are always kept)')
    .option('-c, --config <file>', 'configuration file to write', DEFAULT_CONFIG_FILE)
    .option('--json', 'print what was written as JSON')
    .action(async (opts: InitOptions & { json?: boolean }) => {
      const result = await initProject(opts);
      for (const w of result.warnings) process.stderr.write(`rampart: warning: ${w}\n`);
      if (opts.json) {
        process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
      } else {
        process.stdout.write(summary(result, opts.config ?? DEFAULT_CONFIG_FILE));
      }
    });
}

/**
 * What `rampart init` does, without the printing.
 *
 * @example
 * await initProject({ openapi: 'openapi.yaml', upstream: 'http://127.0.0.1:3000' });
 */
export async function initProject(opts: InitOptions): Promise<InitResult> {
  const cwd = opts.cwd ?? process.cwd();
  const configFile = resolve(cwd, opts.config ?? DEFAULT_CONFIG_FILE);
  const dir = dirname(configFile);
  const listen = parseListen(opts.listen ?? DEFAULT_LISTEN);
  const upstream = checkUpstream(opts.upstream);

  // Check everything before writing anything.
  if (!opts.force && (await exists(configFile))) {
    throw new CliExit(EXIT.FAILED, `rampart: ${opts.config ?? DEFAULT_CONFIG_FILE} already exists; use --force to overwrite it`);
  }
  const openapiFile = resolve(cwd, opts.openapi);
  const spec = await readOpenApi(openapiFile, opts.openapi);
  const apiName = opts.name ?? nameFromTitle(spec.title);
  if (!API_NAME.test(apiName)) {
    throw new CliExit(EXIT.USAGE, `rampart: --name must match ^[a-z][a-z0-9-]{0,39}$ (lower case letters, digits and '-', starting with a letter)`);
  }

  await mkdir(dir, { recursive: true });
  const files: InitResult['files'] = [];

  // Development TLS material (ENC-1, ENC-2: ECDSA P-256, at most 90 days).
  const tlsDir = join(dir, LOCAL_DIR, 'tls');
  await mkdir(tlsDir, { recursive: true, mode: 0o700 });
  const certFile = join(tlsDir, 'dev-cert.pem');
  const keyFile = join(tlsDir, 'dev-key.pem');
  const hosts = certHosts(listen.host);
  let validTo = opts.force ? undefined : await reusableCertificate(certFile, keyFile, hosts);
  const certCreated = validTo === undefined;
  if (certCreated) {
    const dev = await generateDevCertificate({ hosts, days: DEV_CERT_MAX_DAYS });
    await writePrivate(keyFile, dev.keyPem);
    await writeFile(certFile, dev.certPem, { mode: 0o644 });
    validTo = new Date(new X509Certificate(dev.certPem).validTo).toISOString();
  }
  files.push({ path: certFile, what: `development certificate for ${hosts.join(', ')}, valid until ${validTo!.slice(0, 10)}`, created: certCreated });
  files.push({ path: keyFile, what: 'its private key', mode: '0600', created: certCreated });

  // Server secrets: kept if present (the stored key hashes depend on them), else generated.
  const secretsFile = join(dir, LOCAL_DIR, 'secrets.json');
  const { created: secretsCreated } = await ensureSecretsFile(secretsFile);
  files.push({ path: secretsFile, what: 'key-hash secret', mode: '0600', created: secretsCreated });

  const gitignore = join(dir, '.gitignore');
  const gitignoreChanged = await ensureGitignored(gitignore);
  files.push({ path: gitignore, what: `keeps ${LOCAL_DIR}/ out of git`, created: gitignoreChanged });

  const text = configText({
    apiName,
    openapi: relativePath(dir, openapiFile),
    upstream,
    listen,
  });
  try {
    await writeFile(configFile, text, { flag: opts.force ? 'w' : 'wx' });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') {
      throw new CliExit(EXIT.FAILED, `rampart: ${opts.config ?? DEFAULT_CONFIG_FILE} already exists; use --force to overwrite it`);
    }
    throw err;
  }
  files.unshift({ path: configFile, what: `configuration: API "${apiName}" -> ${upstream}`, created: true });

  // Prove that the file works as written, through the same loader `rampart start` uses.
  let warnings: ConfigIssue[];
  try {
    warnings = (await loadConfigWithWarnings(configFile)).warnings;
  } catch (err) {
    throw new CliExit(EXIT.SOFTWARE, `rampart: the written configuration does not load (this is a bug in init):\n${(err as Error).message}`);
  }

  return {
    configFile,
    apiName,
    listen,
    files,
    certificate: { hosts, validTo: validTo! },
    warnings: warnings.map(formatConfigIssue),
    scopes: spec.scopes,
  };
}

function parseListen(value: string): { host: string; port: number } {
  const m = /^\[([0-9A-Fa-f:.]+)\]:(\d{1,5})$/.exec(value) ?? /^([^\s:[\]]+):(\d{1,5})$/.exec(value);
  const port = m ? Number(m[2]) : NaN;
  if (!m || port > 65535) {
    throw new CliExit(EXIT.USAGE, `rampart: --listen must be HOST:PORT, e.g. 127.0.0.1:8443 or [::1]:8443`);
  }
  return { host: m[1]!, port };
}

function checkUpstream(value: string): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new CliExit(EXIT.USAGE, 'rampart: --upstream must be an http(s) URL, e.g. http://127.0.0.1:3000');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new CliExit(EXIT.USAGE, 'rampart: --upstream must use http or https');
  if (url.username || url.password) throw new CliExit(EXIT.USAGE, 'rampart: --upstream must not contain credentials');
  if (url.search || url.hash) throw new CliExit(EXIT.USAGE, 'rampart: --upstream must not contain a query or fragment');
  return value;
}

/**
 * Existence and a first look only: a YAML/JSON mapping with an `openapi: 3.x` field. The full
 * loader (src/openapi/load.ts) checks the rest when the gateway starts.
 */
async function readOpenApi(file: string, shown: string): Promise<{ title: string | undefined; scopes: string[] }> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new CliExit(EXIT.NOT_FOUND, `rampart: OpenAPI document not found: ${shown}`);
    throw new CliExit(EXIT.FAILED, `rampart: cannot read the OpenAPI document ${shown} (${code ?? (err as Error).message})`);
  }
  let doc: unknown;
  try {
    doc = parseYaml(text, { maxAliasCount: 100 });
  } catch (err) {
    throw new CliExit(EXIT.FAILED, `rampart: ${shown} is not valid YAML or JSON: ${(err as Error).message.split('\n')[0]}`);
  }
  const o = doc as { openapi?: unknown; swagger?: unknown; info?: { title?: unknown } } | null;
  if (!o || typeof o !== 'object' || Array.isArray(o)) throw new CliExit(EXIT.FAILED, `rampart: ${shown} is not an OpenAPI document (expected a mapping with an \`openapi\` field)`);
  if (o.swagger !== undefined) throw new CliExit(EXIT.FAILED, `rampart: ${shown} is Swagger 2.0; Rampart needs OpenAPI 3.0 or 3.1`);
  if (typeof o.openapi !== 'string' || !/^3\.[01]\.\d+/.test(o.openapi)) {
    throw new CliExit(EXIT.FAILED, `rampart: ${shown} has no \`openapi: 3.0.x\` or \`openapi: 3.1.x\` field`);
  }
  return { title: typeof o.info?.title === 'string' ? o.info.title : undefined, scopes: scopesOf(o) };
}

/** Scopes named in the document's security requirements (for the `keys create` hint). */
function scopesOf(doc: object): string[] {
  const found = new Set<string>();
  const add = (security: unknown) => {
    if (!Array.isArray(security)) return;
    for (const req of security) {
      if (!req || typeof req !== 'object') continue;
      for (const scopes of Object.values(req as Record<string, unknown>)) {
        if (Array.isArray(scopes)) for (const s of scopes) if (typeof s === 'string') found.add(s);
      }
    }
  };
  const d = doc as { security?: unknown; paths?: Record<string, Record<string, { security?: unknown }> | null> };
  add(d.security);
  for (const item of Object.values(d.paths ?? {})) {
    if (!item || typeof item !== 'object') continue;
    for (const op of Object.values(item)) if (op && typeof op === 'object') add(op.security);
  }
  return [...found].sort();
}

function nameFromTitle(title: string | undefined): string {
  const slug = (title ?? '')
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^[^a-z]+/, '')
    .slice(0, 40)
    .replace(/-+$/, '');
  return API_NAME.test(slug) ? slug : 'api';
}

function certHosts(listenHost: string): string[] {
  const hosts = [...DEV_HOSTS];
  const h = listenHost.toLowerCase();
  // A specific address or name gets its own SAN; the wildcard addresses are not names.
  if (h !== '0.0.0.0' && h !== '::' && !hosts.includes(h) && (isIP(h) !== 0 || /^[a-z0-9.-]+$/.test(h))) hosts.push(h);
  return hosts;
}

/** An existing dev certificate is kept if it still covers the hosts for more than a day. */
async function reusableCertificate(certFile: string, keyFile: string, hosts: string[]): Promise<string | undefined> {
  try {
    const [pem] = await Promise.all([readFile(certFile, 'utf8'), stat(keyFile)]);
    const cert = new X509Certificate(pem);
    const validTo = new Date(cert.validTo);
    if (validTo.getTime() - Date.now() < 86_400_000) return undefined;
    const san = (cert.subjectAltName ?? '').toLowerCase();
    const covers = hosts.every((h) => (isIP(h) === 6 ? true : san.includes(h)));
    return covers ? validTo.toISOString() : undefined;
  } catch {
    return undefined;
  }
}

async function writePrivate(file: string, content: string): Promise<void> {
  await writeFile(file, content, { mode: 0o600 });
  await chmod(file, 0o600); // the mode above applies only when the file is new
}

/** Adds `.rampart/` to the .gitignore beside the config unless a line already covers it. */
async function ensureGitignored(file: string): Promise<boolean> {
  let current = '';
  try {
    current = await readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  const covering = new Set([LOCAL_DIR, `${LOCAL_DIR}/`, `/${LOCAL_DIR}`, `/${LOCAL_DIR}/`, `${LOCAL_DIR}/*`, `/${LOCAL_DIR}/*`, `${LOCAL_DIR}/**`, `/${LOCAL_DIR}/**`]);
  if (current.split(/\r?\n/).some((line) => covering.has(line.trim()))) return false;
  const sepNl = current === '' || current.endsWith('\n') ? '' : '\n';
  await writeFile(file, `${current}${sepNl}${current === '' ? '' : '\n'}# Rampart: development TLS keys, secrets and the local database; never commit them.\n${LOCAL_DIR}/\n`);
  return true;
}

function relativePath(from: string, to: string): string {
  const rel = relative(from, to);
  return rel === '' || isAbsolute(rel) ? to : rel.split(sep).join('/');
}

/** A YAML double-quoted scalar; `${` is escaped so the loader does not substitute it. */
function q(s: string): string {
  return JSON.stringify(s.replace(/\$\{/g, '$${'));
}

function configText(o: { apiName: string; openapi: string; upstream: string; listen: { host: string; port: number } }): string {
  const D = CONFIG_DEFAULTS;
  const A = D.api;
  const plainUpstream = o.upstream.startsWith('http:') && !isLoopbackHost(new URL(o.upstream).hostname);
  return `# rampart.yaml: configuration of the Rampart gateway, written by \`rampart init\`.
#
# This file and the OpenAPI document it names are the whole truth of what the gateway enforces:
# keep them in version control and review changes like code. Every key is described in
# docs/configuration.md and in schema/rampart.schema.json (point your editor's YAML support at
# it to get completion and errors while typing). Relative paths are resolved against this
# file's folder. String values may use \${ENV_VAR}, e.g. a database URL with its password.

# Format version of this file.
version: 1

# Compliance profile: default, or finra (closes object schemas on every API against mass
# assignment, API3, and makes \`rampart check\` stricter).
profile: ${D.profile}

# Name of this node on audit records (default: the host name).
# node: gateway-1

# Where clients connect. TLS 1.2 and 1.3 only, Mozilla intermediate ciphers (ENC-1, ENC-2).
# The certificate is a self-signed DEVELOPMENT certificate for ${certHosts(o.listen.host).join(', ')},
# valid for ${DEV_CERT_MAX_DAYS} days: use a real one (lifespan at most 90 days recommended) before
# production. Plain HTTP (plainHttp: true, without tls) is only accepted on a loopback address
# or behind a TLS-terminating proxy listed in trustedProxies.
listen:
  host: ${q(o.listen.host)}
  port: ${o.listen.port}
  tls:
    cert: ${LOCAL_DIR}/tls/dev-cert.pem
    key: ${LOCAL_DIR}/tls/dev-key.pem
    minVersion: ${D.listen.tls.minVersion}   # or TLSv1.3; nothing lower is accepted

# Proxies (addresses or CIDR ranges) whose X-Forwarded-For header is believed. Empty: the TCP
# peer is the client.
trustedProxies: []

# Bounds on what a client may send (API4); over a bound the request is refused before anything
# else looks at it: 431 headers, 413 body, 414 URL, 408 too slow.
limits:
  maxHeaderBytes: ${D.limits.maxHeaderBytes}
  maxBodyBytes: ${D.limits.maxBodyBytes}        # 1 MiB, after any content decoding
  maxUrlLength: ${D.limits.maxUrlLength}
  headersTimeoutMs: ${D.limits.headersTimeoutMs}
  requestTimeoutMs: ${D.limits.requestTimeoutMs}
  keepAliveTimeoutMs: ${D.limits.keepAliveTimeoutMs}

# Browser clients on other origins. Exact origins only; '*' and 'null' are refused
# (ASVS 14.5.3). Empty: no cross-origin browser access.
cors:
  origins: []                   # e.g. [https://app.example.com]
  allowHeaders: [${D.cors.allowHeaders.join(', ')}]
  maxAgeSeconds: ${D.cors.maxAgeSeconds}

# Server secrets (the key under which API keys are hashed). Created by init with mode 0600 and
# ignored by git; never commit it. In containers set RAMPART_KEY_HASH_SECRET instead.
secretsFile: ${D.secretsFile}

# Keys, configuration versions and the audit ledger. SQLite needs no set-up. For PostgreSQL:
#   storage:
#     driver: postgres
#     postgres:
#       url: \${DATABASE_URL}      # postgres://user:pass@host/db?sslmode=verify-full
storage:
  driver: ${D.storage.driver}
  sqlite:
    path: ${D.storage.sqlite.path}

# The tamper-evident audit ledger (R17a4-3, AU-9): strict = every record is committed with a
# full fsync before the request is forwarded and before the response completes; buffered =
# acknowledged once fsynced in a local spill journal (a full journal means 503).
ledger:
  durability: ${D.ledger.durability}
  maxBatch: ${D.ledger.maxBatch}
  # Personal data and bodies are sealed (AES-256-GCM) under data keys wrapped by this KEK. The
  # default is a development key file beside the secrets; in production use an HSM:
  #   encryption:
  #     kek: { provider: pkcs11, module: /usr/lib/softhsm/libsofthsm2.so, tokenLabel: rampart, pinEnv: RAMPART_HSM_PIN, keyLabel: rampart-kek }
  # Retention in days per record class (R17a4-1/2, R4511-1): 6 years for records, 3 for bodies.
  retention: { exchange: 2192, personal: 2192, bodies: 1096, admin: 2192, security: 2192, system: 2192 }
  # Signed checkpoints (RFC 9162 Merkle root, Ed25519) every minute and at shutdown. Publish them
  # outside the store, so that a rewritten store is caught (AU-9(2); required under finra):
  checkpoints:
    intervalSeconds: 60
    publish:
      - file: .rampart/published-heads.jsonl   # better: a path on another volume or a WORM mount
      # - webhook: https://audit.example.com/rampart/heads

# Failed authentications allowed per client address and window before 429 (N63-5, ASVS 2.2.1).
authThrottle:
  maxFailures: ${D.authThrottle.maxFailures}
  windowSeconds: ${D.authThrottle.windowSeconds}

# Injection inspection of every string bound for the upstream (ASVS 5.3.4, API7): SQL, XSS,
# OS command, path traversal, LDAP/XPath, NoSQL operators, prototype pollution, CRLF, SSRF.
# A field that legitimately carries such text is excepted per operation (see operations below).
inspection:
  enabled: true
  headers: [user-agent, referer]   # inspected besides the header parameters the document declares

# Upstream responses: checked against the document's response schemas (API3, API10) and masked
# per x-rampart-classification and the caller's scopes (DLP) before the client sees them.
responses:
  contract: ${D.responses.contract}                  # undeclared properties: strip | block | report | off
  invalid: ${D.responses.invalid}                   # any other break of the schema: block (502) | report
  maxPageSize: ${D.responses.maxPageSize}                 # largest page a list operation may ask for (API4)
  dlp:
    classes:
      ssn: { action: partial, reveal: pii:read }       # ***-**-6789 unless the caller holds pii:read
      date-of-birth: { action: mask, reveal: pii:read }
    detect: { ssn: partial, card-number: partial }   # unclassified SSNs and card numbers anywhere

# Rate limits and data-volume quotas (API4, API6): 429 with Retry-After and RateLimit headers.
# memory counts per node; with several nodes use backend: redis (same rules, shared counters).
rateLimits:
  backend: memory
  # redis: { url: \${REDIS_URL}, onOutage: local }   # local: per-node limits and an alert; refuse: 503
  rules:
    - { name: per-principal, by: principal, limit: 600, windowSeconds: 60, burst: 100 }
    - { name: per-address, by: address, limit: 1200, windowSeconds: 60 }
    - { name: records-per-hour, by: principal, unit: records, limit: 50000, windowSeconds: 3600 }

# Anomaly detection (FC-3): per-principal baselines; enumeration sweeps, bulk pulls, bursts of
# failed authentication and keys used from new networks raise an alert, then throttle or block
# for a while (enforce: false keeps it to alerts). See docs/anomaly.md.
anomaly:
  enabled: true
  enforce: true

# Rampart's own endpoints (health, metrics) live under this prefix; no API may be mounted there.
reservedPrefix: ${D.reservedPrefix}

# Headers on every response: HSTS for 2 years (ENC-3) and no caching of financial data.
headers:
  hstsMaxAgeSeconds: ${D.headers.hstsMaxAgeSeconds}
  cacheControl: ${D.headers.cacheControl}

# The APIs behind the gateway. Only the operations in each OpenAPI document exist (API9); every
# request is checked against it before it is forwarded.
apis:
  - name: ${o.apiName}
    openapi: ${q(o.openapi)}
    upstream:
      url: ${q(o.upstream)}${plainUpstream ? '   # plain HTTP over the network: prefer https (API10)' : ''}
      timeoutMs: ${A.upstream.timeoutMs}            # no response headers in time: 504
      connectTimeoutMs: ${A.upstream.connectTimeoutMs}
      connections: ${A.upstream.connections}
      # ca: certs/upstream-ca.pem  # to verify an https upstream with a private CA
    mount:
      prefix: ${A.mount.prefix}                    # or e.g. /v1; stripped before matching the document
      # host: api.example.com      # to publish the API on one host name only
    # Refuse unknown properties in request bodies even where the document allows them (API3).
    closedObjects: ${A.closedObjects}
    # Per-operation overrides, by operationId:
    # operations:
    #   getAccount:
    #     addScopes: [accounts:read]   # or scopes: [...] to replace the document's scopes
    #     cacheControl: private, max-age=60
    #     maxPageSize: 100               # a list operation's own page cap
    #     highRisk: true                 # transfers, credential changes: watched closely
    #     inspection:
    #       allow: [{ field: body/notes, families: [sqli] }]   # a field that may carry SQL-like text
`;
}

function summary(r: InitResult, configArg: string): string {
  const rel = (p: string) => relative(process.cwd(), p) || '.';
  const width = Math.max(...r.files.map((f) => rel(f.path).length));
  const lines = r.files.map((f) => `  ${rel(f.path).padEnd(width)}  ${f.what}${f.mode ? ` (${f.mode})` : ''}${f.created ? '' : ' [kept]'}`);
  const c = configArg === DEFAULT_CONFIG_FILE ? '' : ` -c ${configArg}`;
  const scopes = r.scopes.length > 0 ? r.scopes.slice(0, 6).join(',') : '<scope,...>';
  const host = r.listen.host === '0.0.0.0' || r.listen.host === '::' || isLoopbackHost(r.listen.host) ? 'localhost' : r.listen.host;
  const cert = rel(r.files.find((f) => f.path.endsWith('dev-cert.pem'))!.path);
  return `rampart: initialised; the configuration loads and validates.
${lines.join('\n')}

Next steps:
  rampart start${c}
  rampart keys create${c} --name my-app --scopes ${scopes}
  curl --cacert ${cert} -H "Authorization: Bearer <key>" https://${host}:${r.listen.port === 0 ? '<port shown by rampart start>' : r.listen.port}/...
`;
}

async function exists(p: string): Promise<boolean> {
  return stat(p).then(
    () => true,
    () => false,
  );
}
