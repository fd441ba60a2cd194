/**
 * Loads `rampart.yaml`: YAML with positions, the published JSON Schema, `${ENV}` substitution,
 * semantic checks, defaults, paths resolved against the file's folder, and a deep-frozen result
 * (STYLE: fastify's lib/initial-config-validation.js: validate once at start, list every
 * problem, freeze).
 *
 * Every problem becomes a ConfigIssue naming the file, the line and column, the JSON pointer and
 * what was expected, e.g. `rampart.yaml:12:5: /listen/port: must be <= 65535`, and all of them
 * are thrown together as one ConfigError, so an operator fixes the file in one pass.
 * Messages never echo a configured value (it may hold a substituted secret); they name keys,
 * types and the allowed forms only.
 */
import { existsSync, readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { isIP } from 'node:net';
import { hostname } from 'node:os';
import { dirname, join, resolve as resolvePath } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Ajv2020, type ErrorObject, type ValidateFunction } from 'ajv/dist/2020.js';
import { isAlias, isMap, isScalar, isSeq, LineCounter, parseDocument, type Document } from 'yaml';
import { ConfigError, type ConfigIssue } from '../core/errors.js';
import type { ExternalIssuerConfig } from '../identity/external-issuers.js';
import type { KekConfig } from '../crypto/kek/open.js';
import { DEFAULT_RETENTION_DAYS, type RetentionDays } from '../ledger/sealer.js';
import { streamTargetsOf } from './stream-config.js';
import type {
  ApiConfig,
  OperationOverride,
  AuthorizationConfig,
  IdentityConfig,
  AdminConfig,
  OwnerSourceConfig,
  PublishTarget,
  RampartConfig,
  RateRuleConfig,
  StorageConfig,
  TlsConfig,
} from './types.js';

/** A loaded configuration and the non-fatal findings to print at start. */
export interface LoadedConfig {
  config: RampartConfig;
  /** Things that are allowed but deserve an operator's attention (e.g. plain HTTP upstreams). */
  warnings: ConfigIssue[];
}

type Env = Readonly<Record<string, string | undefined>>;

export interface ParseOptions {
  /** Variables for `${NAME}` substitution; defaults to `process.env`. */
  env?: Env;
  /**
   * Where a relative path written at `pointer` (e.g. `/listen/tls/cert`, `/apis/0/openapi`)
   * lives; absent: against the file's folder. A configuration version shipped by `rampart apply`
   * (src/config/bundle.ts) resolves its shipped files into the version's folder and everything
   * else (keys, secrets, storage) against the gateway's own folder. Absolute paths are passed too.
   */
  resolveFile?: (pointer: string, path: string) => string;
}

/**
 * Defaults applied to everything the file leaves out. The schema documents the same values as
 * `default` (test/unit/config-load.test.ts checks they agree). `node` defaults to the host name
 * and `closedObjects` to true under profile `finra`; both are decided at load time.
 */
export const CONFIG_DEFAULTS = deepFreeze({
  profile: 'default',
  listen: { host: '0.0.0.0', port: 8443, plainHttp: false, tls: { minVersion: 'TLSv1.2' } },
  trustedProxies: [] as string[],
  limits: {
    maxHeaderBytes: 16384,
    maxBodyBytes: 1024 * 1024,
    maxUrlLength: 4096,
    headersTimeoutMs: 10_000,
    requestTimeoutMs: 30_000,
    keepAliveTimeoutMs: 5_000,
  },
  cors: { origins: [] as string[], allowHeaders: ['authorization', 'content-type'], maxAgeSeconds: 600 },
  secretsFile: '.rampart/secrets.json',
  storage: { driver: 'sqlite', sqlite: { path: '.rampart/rampart.db' }, postgres: { schema: 'rampart', poolSize: 10 } },
  ledger: { durability: 'strict' as 'strict' | 'buffered', maxBatch: 256 },
  authThrottle: { maxFailures: 20, windowSeconds: 60 },
  inspection: { enabled: true, headers: ['user-agent', 'referer'] },
  responses: { contract: 'strip' as const, invalid: 'block' as const, undeclaredStatus: 'allow-errors' as const, undocumentedBody: 'allow' as const, maxInspectBytes: 8 * 1024 * 1024, maxPageSize: 500 },
  reservedPrefix: '/.rampart',
  headers: { hstsMaxAgeSeconds: 63_072_000, cacheControl: 'no-store' },
  // Issue 6: no approvals by default (the finra profile asks for 1); bundles up to 8 MiB.
  changes: { approvals: 0, maxBundleBytes: 8 * 1024 * 1024 },
  // Issue 7: tracing is off unless configured; when on, every new trace is recorded by default.
  tracing: { sampleRatio: 1, serviceName: 'rampart' },
  api: {
    mount: { prefix: '/' },
    closedObjects: false,
    operations: {} as Record<string, OperationOverride>,
    upstream: { timeoutMs: 15_000, connectTimeoutMs: 5_000, connections: 64 },
  },
} as const);

/**
 * Reads, validates and freezes a configuration file.
 *
 * @example
 * const config = await loadConfig('rampart.yaml');
 * config.listen.port; // 8443 unless the file says otherwise
 */
export async function loadConfig(file: string): Promise<RampartConfig> {
  return (await loadConfigWithWarnings(file)).config;
}

/**
 * Like loadConfig, and also returns the warnings the gateway prints at start.
 *
 * @example
 * const { config, warnings } = await loadConfigWithWarnings('rampart.yaml');
 * for (const w of warnings) console.warn(formatConfigIssue(w));
 */
export async function loadConfigWithWarnings(file: string, options: ParseOptions = {}): Promise<LoadedConfig> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    const why = e.code === 'ENOENT' ? 'file not found (run `rampart init` to create one, or pass -c FILE)' : `cannot read the file (${e.code ?? e.message})`;
    throw new ConfigError([{ file, message: why }]);
  }
  return parseConfigWithWarnings(text, file, options);
}

/**
 * Parses and validates configuration text. `file` names the text in messages, and its folder is
 * where relative paths are resolved from.
 *
 * @example
 * const config = parseConfig(readFileSync('rampart.yaml', 'utf8'), 'rampart.yaml');
 */
export function parseConfig(text: string, file: string, options: ParseOptions = {}): RampartConfig {
  return parseConfigWithWarnings(text, file, options).config;
}

/**
 * Like parseConfig, and also returns the warnings.
 *
 * @example
 * const { warnings } = parseConfigWithWarnings(text, 'rampart.yaml', { env: { DATABASE_URL: url } });
 */
export function parseConfigWithWarnings(text: string, file: string, options: ParseOptions = {}): LoadedConfig {
  const env = options.env ?? process.env;
  const lineCounter = new LineCounter();
  // uniqueKeys: a repeated key is an error, never "last one wins" (one parse, one truth).
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true, strict: true });
  const pos = new Positions(doc, lineCounter, file);

  // 1. YAML syntax. Warnings (an unknown tag, say) are errors too: the file must mean one thing.
  // After the first syntax error the parser's later findings are mostly echoes of it, so only
  // that one is reported; duplicate keys are independent of each other and all reported.
  const yamlProblems = [...doc.errors, ...doc.warnings].sort((a, b) => a.pos[0] - b.pos[0]);
  if (yamlProblems.length > 0) {
    const firstSyntax = yamlProblems.find((e) => e.code !== 'DUPLICATE_KEY');
    const reported = yamlProblems.filter((e) => e.code === 'DUPLICATE_KEY' || e === firstSyntax);
    throw new ConfigError(
      reported
        .map((e) => ({ ...pos.atOffset(e.pos[0]), message: `${e.message.replace(/\s+at line \d+, column \d+[\s\S]*$/, '')} (YAML ${e.code})` }))
        .sort(byPosition),
    );
  }

  let data: unknown;
  try {
    data = doc.toJS({ maxAliasCount: 100 });
  } catch (err) {
    throw new ConfigError([{ file, line: 1, column: 1, message: `cannot read the YAML: ${(err as Error).message}` }]);
  }

  // 2. Plain data only, and ${ENV} substitution (before the schema, so it checks the real value).
  const issues: ConfigIssue[] = [];
  data = substitute(data, '', env, pos, issues);
  const substitutionPointers = new Set(issues.map((i) => i.pointer));

  // 3. The published schema.
  const validate = schemaValidator();
  if (!validate(data)) {
    for (const err of validate.errors ?? []) {
      const issue = schemaIssue(err, pos);
      if (!issue || substitutionPointers.has(issue.pointer)) continue;
      if (!issues.some((i) => i.pointer === issue.pointer && i.message === issue.message)) issues.push(issue);
    }
  }
  if (issues.length > 0) throw new ConfigError(issues.sort(byPosition));

  // 4. What the schema cannot say.
  const raw = data as RawConfig;
  const warnings: ConfigIssue[] = [];
  semanticChecks(raw, pos, issues, warnings);
  if (issues.length > 0) throw new ConfigError(issues.sort(byPosition));

  // 5. Defaults and paths.
  const config = deepFreeze(applyDefaults(raw, dirname(resolvePath(file)), options.resolveFile));
  return { config, warnings: warnings.sort(byPosition) };
}

// ---------------------------------------------------------------------------------------------
// Positions: JSON pointer -> line and column in the YAML text

class Positions {
  constructor(
    private readonly doc: Document,
    private readonly lc: LineCounter,
    readonly file: string,
  ) {}

  atOffset(offset: number): Pick<ConfigIssue, 'file' | 'line' | 'column'> {
    const { line, col } = this.lc.linePos(offset);
    return { file: this.file, line, column: col };
  }

  /**
   * Where the value at `pointer` is written. For `mode: 'key'`, where its key is written (used
   * for unknown and missing properties). Falls back to the deepest node that exists.
   */
  of(pointer: string, mode: 'value' | 'key' = 'value'): Pick<ConfigIssue, 'file' | 'line' | 'column'> {
    const segments = pointer === '' ? [] : pointer.split('/').slice(1).map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'));
    let node: unknown = this.doc.contents;
    let keyNode: unknown;
    for (const seg of segments) {
      if (isAlias(node)) node = node.resolve(this.doc);
      if (isMap(node)) {
        const pair = node.items.find((p) => (isScalar(p.key) ? String(p.key.value) : String(p.key)) === seg);
        if (!pair) break;
        keyNode = pair.key;
        node = pair.value;
      } else if (isSeq(node)) {
        const item = node.items[Number(seg)];
        if (item === undefined) break;
        keyNode = item;
        node = item;
      } else {
        break;
      }
    }
    const start = (n: unknown): number | undefined => {
      const range = (n as { range?: [number, number, number] } | null | undefined)?.range;
      return range ? range[0] : undefined;
    };
    // An empty value (`listen:` with nothing after it) has no text of its own: point at its key.
    const emptyValue = isScalar(node) && node.value === null && !!node.range && node.range[0] === node.range[1];
    const offset = mode === 'key' || emptyValue ? start(keyNode) ?? start(node) : start(node) ?? start(keyNode);
    return offset === undefined ? { file: this.file, line: 1, column: 1 } : this.atOffset(offset);
  }
}

function byPosition(a: ConfigIssue, b: ConfigIssue): number {
  return (a.line ?? 0) - (b.line ?? 0) || (a.column ?? 0) - (b.column ?? 0);
}

// ---------------------------------------------------------------------------------------------
// ${ENV} substitution

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/**
 * Replaces `${NAME}` in every string value (not in keys) with the environment variable, and
 * `$${` with a literal `${`. Also refuses YAML values that are not plain JSON data (!!binary,
 * !!set, ...), which the schema could not describe.
 */
function substitute(value: unknown, pointer: string, env: Env, pos: Positions, issues: ConfigIssue[]): unknown {
  if (typeof value === 'string') return value.includes('${') ? expand(value, pointer, env, pos, issues) : value;
  if (value === null || typeof value === 'number' || typeof value === 'boolean') return value;
  if (Array.isArray(value)) return value.map((v, i) => substitute(v, `${pointer}/${i}`, env, pos, issues));
  if (typeof value === 'object' && Object.getPrototypeOf(value) === Object.prototype) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) {
      // defineProperty: a key named __proto__ stays a plain (unknown, hence refused) property.
      Object.defineProperty(out, k, {
        value: substitute(v, `${pointer}/${k.replace(/~/g, '~0').replace(/\//g, '~1')}`, env, pos, issues),
        enumerable: true,
        writable: true,
        configurable: true,
      });
    }
    return out;
  }
  issues.push({ ...pos.of(pointer), pointer: pointer || '/', message: 'must be plain YAML data (a string, number, boolean, list or mapping); tagged values such as !!binary or !!set are not allowed' });
  // Replaced by null so the schema does not list the internals of a Buffer or Set as properties.
  return null;
}

function expand(s: string, pointer: string, env: Env, pos: Positions, issues: ConfigIssue[]): string {
  let out = '';
  let i = 0;
  while (i < s.length) {
    if (s.startsWith('$${', i)) {
      out += '${';
      i += 3;
      continue;
    }
    if (s.startsWith('${', i)) {
      const end = s.indexOf('}', i + 2);
      const name = end < 0 ? '' : s.slice(i + 2, end);
      if (end < 0 || !ENV_NAME.test(name)) {
        issues.push({ ...pos.of(pointer), pointer, message: 'malformed variable reference: write ${NAME} with NAME of letters, digits and _ (or $${ for a literal ${)' });
        return s;
      }
      const v = env[name];
      if (v === undefined) {
        issues.push({ ...pos.of(pointer), pointer, message: `environment variable ${name} is not set (referenced as \${${name}})` });
        return s;
      }
      out += v;
      i = end + 1;
      continue;
    }
    out += s[i];
    i += 1;
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Schema

interface SchemaNode {
  type?: string;
  enum?: unknown[];
  const?: unknown;
  $ref?: string;
  properties?: Record<string, SchemaNode>;
  errorMessage?: string;
  description?: string;
}

let compiled: { validate: ValidateFunction; schema: SchemaNode & { $defs?: Record<string, SchemaNode> } } | undefined;

/**
 * Path of the published schema (shipped in the package's `schema/` folder).
 *
 * @example
 * const schema = JSON.parse(readFileSync(configSchemaPath(), 'utf8'));
 */
export function configSchemaPath(): string {
  // dist/src/config/load.js -> ../../../schema; src/config/load.ts (run directly) -> ../../schema
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let up = 0; up < 5; up++) {
    const candidate = join(dir, 'schema', 'rampart.schema.json');
    if (existsSync(candidate)) return candidate;
    dir = dirname(dir);
  }
  throw new Error('schema/rampart.schema.json not found beside the Rampart installation');
}

function schemaValidator(): ValidateFunction {
  if (!compiled) {
    const schema = JSON.parse(readFileSync(configSchemaPath(), 'utf8')) as SchemaNode & { $defs?: Record<string, SchemaNode> };
    // allErrors: report every problem at once. verbose: keep parentSchema for errorMessage.
    const ajv = new Ajv2020({ allErrors: true, verbose: true, strict: true, strictTypes: false, strictRequired: false });
    // `errorMessage` is an annotation in the published schema (VS Code shows it too); Rampart
    // uses it as the message for pattern/enum/required/not failures.
    ajv.addKeyword({ keyword: 'errorMessage', schemaType: 'string' });
    compiled = { validate: ajv.compile(schema), schema };
  }
  return compiled.validate;
}

function resolveRef(s: SchemaNode | undefined): SchemaNode | undefined {
  if (s?.$ref?.startsWith('#/$defs/') && compiled) return compiled.schema.$defs?.[s.$ref.slice('#/$defs/'.length)];
  return s;
}

function expected(s: SchemaNode | undefined): string {
  const r = resolveRef(s);
  if (!r) return '';
  if (r.const !== undefined) return ` (expected ${JSON.stringify(r.const)})`;
  if (r.enum) return ` (expected one of: ${r.enum.map(String).join(', ')})`;
  if (r.type) return ` (expected ${article(r.type)})`;
  return '';
}

function article(type: string): string {
  return { object: 'a mapping', array: 'a list', integer: 'an integer', number: 'a number', string: 'a string', boolean: 'true or false', null: 'null' }[type] ?? type;
}

function foundType(v: unknown): string {
  if (v === null) return 'an empty value';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'a mapping';
  if (typeof v === 'number') return Number.isInteger(v) ? 'an integer' : 'a number';
  if (typeof v === 'boolean') return 'true/false';
  return `a ${typeof v}`;
}

const MESSAGE_KEYWORDS = new Set(['pattern', 'enum', 'const', 'not', 'required']);

function schemaIssue(err: ErrorObject, pos: Positions): (ConfigIssue & { pointer: string }) | undefined {
  const parent = err.parentSchema as SchemaNode | undefined;
  const custom = MESSAGE_KEYWORDS.has(err.keyword) ? parent?.errorMessage : undefined;
  const p = err.params as Record<string, unknown>;
  const at = (pointer: string, mode: 'value' | 'key', message: string) => ({ ...pos.of(pointer, mode), pointer: pointer || '/', message });
  switch (err.keyword) {
    case 'if':
      // "must match then/else schema": the failing branch reports the real problem.
      return undefined;
    case 'required': {
      const missing = String(p.missingProperty);
      const pointer = `${err.instancePath}/${missing}`;
      return at(pointer, 'key', custom ?? `missing required property "${missing}"${expected(parent?.properties?.[missing])}`);
    }
    case 'additionalProperties': {
      const extra = String(p.additionalProperty);
      const known = Object.keys(parent?.properties ?? {});
      const guess = known.find((k) => editDistance(k.toLowerCase(), extra.toLowerCase()) <= 2);
      const pointer = `${err.instancePath}/${extra.replace(/~/g, '~0').replace(/\//g, '~1')}`;
      return at(pointer, 'key', `unknown property "${extra}"${guess ? ` (did you mean "${guess}"?)` : ''}; expected one of: ${known.join(', ')}`);
    }
    case 'type':
      return at(err.instancePath, 'value', `must be ${article(String(p.type))} (found ${foundType(err.data)})`);
    case 'enum':
      return at(err.instancePath, 'value', custom ?? `must be one of: ${(p.allowedValues as unknown[]).map(String).join(', ')}`);
    case 'const':
      return at(err.instancePath, 'value', custom ?? `must be ${JSON.stringify(p.allowedValue)}`);
    case 'not':
    case 'false schema':
      return at(err.instancePath, 'key', custom ?? 'is not allowed here');
    case 'uniqueItems': {
      const [first, dup] = [Number(p.i), Number(p.j)].sort((x, y) => x - y);
      return at(`${err.instancePath}/${dup}`, 'value', `duplicate entry (same as item ${first}); entries must be unique`);
    }
    case 'minItems':
      return at(err.instancePath, 'value', `must have at least ${String(p.limit)} ${Number(p.limit) === 1 ? 'entry' : 'entries'}`);
    case 'pattern':
      return at(err.instancePath, 'value', custom ?? `must match the pattern ${String(p.pattern)}`);
    default:
      return at(err.instancePath, 'value', err.message ?? `is invalid (${err.keyword})`);
  }
}

function editDistance(a: string, b: string): number {
  const d = Array.from({ length: a.length + 1 }, (_, i) => [i, ...Array<number>(b.length).fill(0)]);
  for (let j = 1; j <= b.length; j++) d[0]![j] = j;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      d[i]![j] = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
  }
  return d[a.length]![b.length]!;
}

// ---------------------------------------------------------------------------------------------
// Semantic checks

/** The file's content after the schema accepted it: everything optional is still optional. */
interface RawConfig {
  version: 1;
  profile?: 'default' | 'finra';
  node?: string;
  listen: { host?: string; port?: number; tls?: Partial<TlsConfig> & { cert: string; key: string }; plainHttp?: boolean };
  trustedProxies?: string[];
  limits?: Partial<RampartConfig['limits']>;
  cors?: Partial<RampartConfig['cors']>;
  secretsFile?: string;
  admin?: {
    listen: { host?: string; port: number };
    tls?: { cert: string; key: string };
    sessions?: Partial<AdminConfig['sessions']>;
    lockout?: Partial<AdminConfig['lockout']>;
    sso?: { issuer: string; jwksUri: string; audience: string; usernameClaim?: string; requireAmr?: string[]; algorithms?: string[] };
    webauthn?: { rpId?: string; origins?: string[] };
  };
  identity?: { signingKeysFile?: string; issuer?: string; assertion?: Partial<IdentityConfig['assertion']>; tokens?: Partial<IdentityConfig['tokens']>; clientCertificates?: Record<string, { scopes?: string[]; subject?: string }>; issuers?: (Omit<Partial<ExternalIssuerConfig>, 'claims'> & { issuer: string; jwksUri: string; audiences: string[]; claims?: Partial<ExternalIssuerConfig['claims']> })[] };
  storage?: {
    driver?: 'sqlite' | 'postgres';
    sqlite?: { path?: string };
    postgres?: { url: string; retentionUrl?: string; schema?: string; poolSize?: number };
  };
  ledger?: {
    durability?: 'strict' | 'buffered';
    maxBatch?: number;
    spill?: { dir?: string; maxBytes?: number };
    encryption?: { kek?: KekConfig };
    retention?: Partial<RetentionDays>;
    bodies?: Partial<RampartConfig['ledger']['bodies']>;
    checkpoints?: { intervalSeconds?: number; origin?: string; signingKeyFile?: string; publish?: PublishTarget[] };
    selfVerify?: { intervalSeconds?: number };
    stream?: unknown[];
  };
  authThrottle?: Partial<RampartConfig['authThrottle']>;
  inspection?: Partial<RampartConfig['inspection']>;
  responses?: Partial<Omit<RampartConfig['responses'], 'dlp'>> & { dlp?: Partial<RampartConfig['responses']['dlp']> };
  rateLimits?: { backend?: 'memory' | 'redis'; redis?: { url: string; prefix?: string; commandTimeoutMs?: number; onOutage?: 'local' | 'refuse' }; rules?: (Omit<RateRuleConfig, 'unit'> & { unit?: RateRuleConfig['unit'] })[] };
  anomaly?: Partial<RampartConfig['anomaly']>;
  reservedPrefix?: string;
  headers?: Partial<RampartConfig['headers']>;
  changes?: Partial<RampartConfig['changes']>;
  observability?: { tracing?: { otlpEndpoint: string; sampleRatio?: number; serviceName?: string } };
  apis: RawApi[];
}

interface RawApi {
  name: string;
  openapi: string;
  upstream: { url: string; timeoutMs?: number; connectTimeoutMs?: number; connections?: number; ca?: string; clientCertificate?: { cert: string; key: string } };
  mount?: { prefix?: string; host?: string };
  closedObjects?: boolean;
  operations?: Record<string, OperationOverride>;
  authorization?: {
    objects: Record<string, { in: string[]; owner: OwnerSourceConfig; cacheSeconds?: number }>;
    anyObjectScopes?: string[];
    denyAs?: AuthorizationConfig['denyAs'];
    maxObjects?: number;
  };
}

function authorizationOf(z: NonNullable<RawApi['authorization']>): AuthorizationConfig {
  return {
    objects: Object.fromEntries(
      Object.entries(z.objects).map(([kind, o]) => [
        kind,
        {
          in: [...o.in],
          owner: 'lookup' in o.owner ? { lookup: { ...o.owner.lookup } } : { table: Object.fromEntries(Object.entries(o.owner.table).map(([k, v]) => [k, [...v]])) },
          cacheSeconds: o.cacheSeconds ?? 300,
        },
      ]),
    ),
    anyObjectScopes: [...(z.anyObjectScopes ?? [])],
    denyAs: z.denyAs ?? 'forbidden',
    maxObjects: z.maxObjects ?? 50,
  };
}

/**
 * True for names and addresses that only the local machine can reach.
 *
 * @example
 * isLoopbackHost('127.0.0.1'); // true
 * isLoopbackHost('0.0.0.0'); // false: every interface
 */
export function isLoopbackHost(host: string): boolean {
  const h = host.toLowerCase().replace(/^\[(.*)\]$/, '$1');
  if (h === 'localhost' || h.endsWith('.localhost')) return true;
  if (isIP(h) === 4) return h.startsWith('127.');
  // eslint-disable-next-line security/detect-unsafe-regex -- bounded: {1,4}, {7} and {0,3} cap the match at 39 characters, and h already passed isIP
  if (isIP(h) === 6) return h === '::1' || /^::ffff:127\./.test(h) || /^(0{1,4}:){7}0{0,3}1$/.test(h);
  return false;
}

function isAddressOrCidr(s: string): boolean {
  const [addr = '', len, ...rest] = s.split('/');
  const family = isIP(addr);
  if (family === 0 || rest.length > 0) return false;
  if (len === undefined) return true;
  return /^\d{1,3}$/.test(len) && Number(len) <= (family === 4 ? 32 : 128);
}

function semanticChecks(c: RawConfig, pos: Positions, issues: ConfigIssue[], warnings: ConfigIssue[]): void {
  const issue = (list: ConfigIssue[], pointer: string, message: string, mode: 'value' | 'key' = 'value') =>
    list.push({ ...pos.of(pointer, mode), pointer, message });

  (c.trustedProxies ?? []).forEach((p, i) => {
    if (!isAddressOrCidr(p)) issue(issues, `/trustedProxies/${i}`, 'must be an IPv4/IPv6 address or a CIDR range such as 10.0.0.0/8');
  });

  // ENC-1: plain HTTP only where nobody else can listen in, or behind a TLS-terminating proxy.
  if (c.listen.plainHttp === true) {
    const host = c.listen.host ?? CONFIG_DEFAULTS.listen.host;
    const hostPointer = c.listen.host === undefined ? '/listen/plainHttp' : '/listen/host';
    if (isLoopbackHost(host)) {
      issue(warnings, '/listen/plainHttp', 'plain HTTP on a loopback address: for local development only (ENC-1)');
    } else if ((c.trustedProxies ?? []).length > 0) {
      issue(warnings, '/listen/plainHttp', `plain HTTP on ${host}: acceptable only because a trusted proxy terminates TLS in front of the gateway (ENC-1); make sure nothing else can reach this port`);
    } else {
      issue(issues, hostPointer, `plain HTTP on a non-loopback address (${host}) is refused (ENC-1): use listen.tls, bind 127.0.0.1, or list the TLS-terminating proxy in trustedProxies`);
    }
  }

  // The admin plane is TLS only, whatever the data plane does (N63-3 cookies are Secure).
  if (c.admin && !c.admin.tls && !c.listen.tls) {
    issue(issues, '/admin', 'the admin listener is TLS only: set admin.tls (cert and key) or listen.tls');
  }

  const limits = { ...CONFIG_DEFAULTS.limits, ...c.limits };
  if (limits.headersTimeoutMs > limits.requestTimeoutMs) {
    issue(issues, c.limits?.headersTimeoutMs !== undefined ? '/limits/headersTimeoutMs' : '/limits/requestTimeoutMs', 'headersTimeoutMs must not exceed requestTimeoutMs (the headers are part of the request)');
  }

  const pg = c.storage?.postgres;
  if (c.storage?.driver === 'postgres' && pg) {
    let url: URL | undefined;
    try {
      url = new URL(pg.url);
    } catch {
      issue(issues, '/storage/postgres/url', 'is not a valid URL (expected postgres://user@host:port/database)');
    }
    const sslmode = url?.searchParams.get('sslmode');
    if (url && !isLoopbackHost(url.hostname) && sslmode !== 'verify-full' && sslmode !== 'verify-ca') {
      issue(warnings, '/storage/postgres/url', 'the database connection is not verified TLS; add sslmode=verify-full (ASVS 9.2.2)');
    }
    if (pg.retentionUrl !== undefined) {
      let ret: URL | undefined;
      try {
        ret = new URL(pg.retentionUrl);
      } catch {
        issue(issues, '/storage/postgres/retentionUrl', 'is not a valid URL (expected postgres://user@host:port/database)');
      }
      // AU-9(4): the point of a second URL is a second role; the same user would add nothing.
      if (ret && url && decodeURIComponent(ret.username) === decodeURIComponent(url.username)) {
        issue(issues, '/storage/postgres/retentionUrl', `connects as the same role as url (${decodeURIComponent(url.username) || 'the default user'}); it must be the retention role`);
      }
      if (ret && url && (ret.host !== url.host || ret.pathname !== url.pathname)) {
        issue(issues, '/storage/postgres/retentionUrl', 'must reach the same server and database as url');
      }
      const retSsl = ret?.searchParams.get('sslmode');
      if (ret && !isLoopbackHost(ret.hostname) && retSsl !== 'verify-full' && retSsl !== 'verify-ca') {
        issue(warnings, '/storage/postgres/retentionUrl', 'the database connection is not verified TLS; add sslmode=verify-full (ASVS 9.2.2)');
      }
    }
  }

  threatChecks(c, issue, issues, warnings);

  const otlp = c.observability?.tracing?.otlpEndpoint;
  if (otlp !== undefined) {
    let u: URL | undefined;
    try {
      u = new URL(otlp);
    } catch {
      issue(issues, '/observability/tracing/otlpEndpoint', 'is not a valid URL (expected http(s)://host[:port][/path])');
    }
    if (u) {
      if (u.protocol !== 'https:' && u.protocol !== 'http:') issue(issues, '/observability/tracing/otlpEndpoint', 'must use http or https (OTLP/HTTP)');
      else if (u.username || u.password || u.search || u.hash) issue(issues, '/observability/tracing/otlpEndpoint', 'must not contain credentials, a query or a fragment');
      else if (u.protocol === 'http:' && !isLoopbackHost(u.hostname)) issue(warnings, '/observability/tracing/otlpEndpoint', `plain HTTP to a non-loopback collector (${u.hostname}): spans cross the network unencrypted; use https (ASVS 9.2.2)`);
    }
  }

  const reserved = c.reservedPrefix ?? CONFIG_DEFAULTS.reservedPrefix;
  const names = new Map<string, number>();
  const mounts = new Map<string, number>();
  c.apis.forEach((api, i) => {
    const base = `/apis/${i}`;
    const first = names.get(api.name);
    if (first !== undefined) {
      issue(issues, `${base}/name`, `duplicate API name "${api.name}" (already used by /apis/${first}, line ${pos.of(`/apis/${first}/name`).line}); names must be unique`);
    } else {
      names.set(api.name, i);
    }

    const prefix = api.mount?.prefix ?? CONFIG_DEFAULTS.api.mount.prefix;
    const host = api.mount?.host;
    const mountKey = `${host ?? '*'} ${prefix}`;
    const mountPointer = api.mount ? `${base}/mount` : base;
    const sameMount = mounts.get(mountKey);
    if (sameMount !== undefined) {
      issue(issues, mountPointer, `mounted at the same prefix ${prefix}${host ? ` and host ${host}` : ''} as /apis/${sameMount} (line ${pos.of(`/apis/${sameMount}`).line}); give each API its own prefix or host`);
    } else {
      mounts.set(mountKey, i);
    }
    if (prefix === reserved || prefix.startsWith(`${reserved}/`)) {
      issue(issues, api.mount?.prefix !== undefined ? `${base}/mount/prefix` : mountPointer, `is under the reserved prefix ${reserved}, which belongs to Rampart's own endpoints`);
    }

    let url: URL | undefined;
    try {
      url = new URL(api.upstream.url);
    } catch {
      issue(issues, `${base}/upstream/url`, 'is not a valid URL (expected http(s)://host[:port][/base-path])');
    }
    if (url) {
      if (url.protocol !== 'https:' && url.protocol !== 'http:') {
        issue(issues, `${base}/upstream/url`, 'must use http or https');
      } else if (url.username || url.password) {
        issue(issues, `${base}/upstream/url`, 'must not contain credentials; Rampart authenticates to the upstream with its own identity assertion or mTLS');
      } else if (url.search || url.hash || api.upstream.url.includes('?') || api.upstream.url.includes('#')) {
        issue(issues, `${base}/upstream/url`, 'must not contain a query or fragment (expected http(s)://host[:port][/base-path])');
      } else if (url.protocol === 'http:' && !isLoopbackHost(url.hostname)) {
        issue(warnings, `${base}/upstream/url`, `plain HTTP to a non-loopback upstream (${url.hostname}): requests and responses cross the network unencrypted; use https (API10, ASVS 9.2.2)`);
      }
    }
  });
}

/** Rate limits, quotas and inspection exceptions: what the schema cannot say. */
function threatChecks(c: RawConfig, issue: (list: ConfigIssue[], pointer: string, message: string, mode?: 'value' | 'key') => void, issues: ConfigIssue[], warnings: ConfigIssue[]): void {
  const rl = c.rateLimits;
  if (rl?.backend === 'redis' && !rl.redis) issue(issues, '/rateLimits/backend', 'backend redis needs rateLimits.redis.url');
  if (rl?.redis && rl.backend !== 'redis') issue(warnings, '/rateLimits/redis', 'rateLimits.redis is ignored unless backend is redis');
  const seen = new Map<string, number>();
  (rl?.rules ?? []).forEach((r, i) => {
    const at = `/rateLimits/rules/${i}`;
    const first = seen.get(r.name);
    if (first !== undefined) issue(issues, `${at}/name`, `duplicate rule name "${r.name}" (already used by /rateLimits/rules/${first}); names must be unique`);
    else seen.set(r.name, i);
    if (r.burst !== undefined && (r.unit ?? 'requests') !== 'requests') issue(issues, `${at}/burst`, 'burst applies to request limits only (unit requests)');
    if ((r.unit === 'bytes' || r.unit === 'records') && r.by === 'address') issue(warnings, `${at}/by`, 'a data-volume quota per address is easily spread over addresses; count it per principal or key');
  });
  const a = c.anomaly;
  if (a?.enforce === true && a.enabled === false) issue(warnings, '/anomaly/enforce', 'enforce has no effect while anomaly.enabled is false');
}

// ---------------------------------------------------------------------------------------------
// Defaults and paths

function applyDefaults(c: RawConfig, dir: string, resolveFile?: ParseOptions['resolveFile']): RampartConfig {
  const D = CONFIG_DEFAULTS;
  const path = (p: string, pointer: string) => (resolveFile ? resolveFile(pointer, p) : resolvePath(dir, p));
  const profile = c.profile ?? 'default';

  const tls: TlsConfig | undefined = c.listen.tls
    ? {
        cert: path(c.listen.tls.cert, '/listen/tls/cert'),
        key: path(c.listen.tls.key, '/listen/tls/key'),
        ...(c.listen.tls.ca !== undefined ? { ca: path(c.listen.tls.ca, '/listen/tls/ca') } : {}),
        minVersion: c.listen.tls.minVersion ?? D.listen.tls.minVersion,
      }
    : undefined;

  const storage: StorageConfig =
    c.storage?.driver === 'postgres' && c.storage.postgres
      ? {
          driver: 'postgres',
          postgres: {
            url: c.storage.postgres.url,
            ...(c.storage.postgres.retentionUrl !== undefined ? { retentionUrl: c.storage.postgres.retentionUrl } : {}),
            schema: c.storage.postgres.schema ?? D.storage.postgres.schema,
            poolSize: c.storage.postgres.poolSize ?? D.storage.postgres.poolSize,
          },
        }
      : { driver: 'sqlite', sqlite: { path: path(c.storage?.sqlite?.path ?? D.storage.sqlite.path, '/storage/sqlite/path') } };

  const apis: ApiConfig[] = c.apis.map((a, i) => ({
    name: a.name,
    openapi: path(a.openapi, `/apis/${i}/openapi`),
    upstream: {
      url: a.upstream.url,
      timeoutMs: a.upstream.timeoutMs ?? D.api.upstream.timeoutMs,
      connectTimeoutMs: a.upstream.connectTimeoutMs ?? D.api.upstream.connectTimeoutMs,
      connections: a.upstream.connections ?? D.api.upstream.connections,
      ...(a.upstream.ca !== undefined ? { ca: path(a.upstream.ca, `/apis/${i}/upstream/ca`) } : {}),
      ...(a.upstream.clientCertificate !== undefined ? { clientCertificate: { cert: path(a.upstream.clientCertificate.cert, `/apis/${i}/upstream/clientCertificate/cert`), key: path(a.upstream.clientCertificate.key, `/apis/${i}/upstream/clientCertificate/key`) } } : {}),
    },
    mount: {
      prefix: a.mount?.prefix ?? D.api.mount.prefix,
      ...(a.mount?.host !== undefined ? { host: a.mount.host } : {}),
    },
    // API3: the finra profile closes object schemas unless the file says otherwise.
    closedObjects: a.closedObjects ?? (profile === 'finra' ? true : D.api.closedObjects),
    operations: Object.fromEntries(
      Object.entries(a.operations ?? {}).map(([id, o]) => [
        id,
        {
          ...(o.addScopes ? { addScopes: [...o.addScopes] } : {}),
          ...(o.scopes ? { scopes: [...o.scopes] } : {}),
          ...(o.cacheControl !== undefined ? { cacheControl: o.cacheControl } : {}),
          ...(o.requireClientCertificate !== undefined ? { requireClientCertificate: o.requireClientCertificate } : {}),
          ...(o.inspection !== undefined ? { inspection: { allow: o.inspection.allow.map((x) => ({ field: x.field, ...(x.families ? { families: [...x.families] } : {}) })) } } : {}),
          ...(o.maxPageSize !== undefined ? { maxPageSize: o.maxPageSize } : {}),
          ...(o.highRisk !== undefined ? { highRisk: o.highRisk } : {}),
        },
      ]),
    ),
    ...(a.authorization ? { authorization: authorizationOf(a.authorization) } : {}),
  }));

  return {
    version: 1,
    profile,
    node: c.node ?? hostname(),
    listen: {
      host: c.listen.host ?? D.listen.host,
      port: c.listen.port ?? D.listen.port,
      ...(tls ? { tls } : {}),
      plainHttp: c.listen.plainHttp ?? D.listen.plainHttp,
    },
    trustedProxies: [...(c.trustedProxies ?? D.trustedProxies)],
    limits: { ...D.limits, ...c.limits },
    cors: {
      origins: [...(c.cors?.origins ?? D.cors.origins)],
      allowHeaders: [...(c.cors?.allowHeaders ?? D.cors.allowHeaders)],
      maxAgeSeconds: c.cors?.maxAgeSeconds ?? D.cors.maxAgeSeconds,
    },
    secretsFile: path(c.secretsFile ?? D.secretsFile, '/secretsFile'),
    ...(c.admin
      ? {
          admin: {
            listen: { host: c.admin.listen.host ?? '127.0.0.1', port: c.admin.listen.port },
            // semanticChecks guarantees one of the two.
            tls: c.admin.tls ? { cert: path(c.admin.tls.cert, '/admin/tls/cert'), key: path(c.admin.tls.key, '/admin/tls/key') } : { cert: tls!.cert, key: tls!.key },
            sessions: { idleMinutes: c.admin.sessions?.idleMinutes ?? 30, absoluteHours: c.admin.sessions?.absoluteHours ?? 12, reauthMinutes: c.admin.sessions?.reauthMinutes ?? 5 },
            lockout: { maxFailures: c.admin.lockout?.maxFailures ?? 5, lockMinutes: c.admin.lockout?.lockMinutes ?? 15 },
            // Port 0 (tests) is resolved when the listener starts.
            webauthn: { rpId: c.admin.webauthn?.rpId ?? 'localhost', origins: [...(c.admin.webauthn?.origins ?? [])] },
            ...(c.admin.sso
              ? {
                  sso: {
                    issuer: c.admin.sso.issuer,
                    jwksUri: c.admin.sso.jwksUri,
                    audience: c.admin.sso.audience,
                    usernameClaim: c.admin.sso.usernameClaim ?? 'preferred_username',
                    requireAmr: [...(c.admin.sso.requireAmr ?? ['mfa'])],
                    algorithms: [...(c.admin.sso.algorithms ?? ['RS256', 'ES256', 'EdDSA'])],
                  },
                }
              : {}),
          },
        }
      : {}),
    identity: {
      signingKeysFile: c.identity?.signingKeysFile !== undefined ? path(c.identity.signingKeysFile, '/identity/signingKeysFile') : join(dirname(path(c.secretsFile ?? D.secretsFile, '/secretsFile')), 'signing-keys.json'),
      issuer: c.identity?.issuer ?? 'rampart',
      assertion: {
        header: c.identity?.assertion?.header ?? 'x-rampart-identity',
        lifetimeSeconds: c.identity?.assertion?.lifetimeSeconds ?? 60,
        // Reused by default: a signature per request (about 50 us) is more than the whole CPU budget
        // of the controls (DESIGN.md); 0 binds each assertion to its request (jti = request id).
        cacheSeconds: Math.min(c.identity?.assertion?.cacheSeconds ?? 30, Math.floor((c.identity?.assertion?.lifetimeSeconds ?? 60) / 2)),
      },
      tokens: { lifetimeSeconds: c.identity?.tokens?.lifetimeSeconds ?? 600 },
      clientCertificates: Object.fromEntries(
        Object.entries(c.identity?.clientCertificates ?? {}).map(([id, v]) => [id, { scopes: [...(v.scopes ?? [])], ...(v.subject !== undefined ? { subject: v.subject } : {}) }]),
      ),
      issuers: (c.identity?.issuers ?? []).map((i) => ({
        issuer: i.issuer,
        jwksUri: i.jwksUri,
        audiences: [...i.audiences],
        algorithms: [...(i.algorithms ?? ['RS256', 'ES256', 'EdDSA'])],
        clockSkewSeconds: i.clockSkewSeconds ?? 30,
        maxLifetimeSeconds: i.maxLifetimeSeconds ?? 3600,
        claims: { principal: i.claims?.principal ?? 'sub', ...(i.claims?.subject !== undefined ? { subject: i.claims.subject } : {}), scopes: i.claims?.scopes ?? 'scope' },
      })),
    },
    storage,
    ledger: ledgerOf(c, D, path, c.node ?? hostname()),
    authThrottle: { ...D.authThrottle, ...c.authThrottle },
    ...threatOf(c),
    reservedPrefix: c.reservedPrefix ?? D.reservedPrefix,
    headers: { ...D.headers, ...c.headers },
    changes: {
      // R17a4-3, AU-10: the finra profile has every change approved by someone other than its author.
      approvals: c.changes?.approvals ?? (profile === 'finra' ? 1 : D.changes.approvals),
      maxBundleBytes: c.changes?.maxBundleBytes ?? D.changes.maxBundleBytes,
    },
    observability: observabilityOf(c),
    apis,
  };
}

/** Tracing (issue 7; docs/observability.md): absent unless configured. */
function observabilityOf(c: RawConfig): RampartConfig['observability'] {
  const t = c.observability?.tracing;
  if (!t) return {};
  return { tracing: { otlpEndpoint: t.otlpEndpoint, sampleRatio: t.sampleRatio ?? CONFIG_DEFAULTS.tracing.sampleRatio, serviceName: t.serviceName ?? CONFIG_DEFAULTS.tracing.serviceName } };
}

/** Inspection, responses, rate limits and anomaly detection with their defaults (issue 5; docs/threat-defence.md). */
function threatOf(c: RawConfig): Pick<RampartConfig, 'inspection' | 'responses' | 'rateLimits' | 'anomaly'> {
  const D = CONFIG_DEFAULTS;
  const r = c.responses ?? {};
  const rl = c.rateLimits ?? {};
  return {
    inspection: {
      enabled: c.inspection?.enabled ?? D.inspection.enabled,
      headers: [...(c.inspection?.headers ?? D.inspection.headers)],
      skip: [...(c.inspection?.skip ?? [])],
    },
    responses: {
      contract: r.contract ?? D.responses.contract,
      invalid: r.invalid ?? D.responses.invalid,
      undeclaredStatus: r.undeclaredStatus ?? D.responses.undeclaredStatus,
      undocumentedBody: r.undocumentedBody ?? D.responses.undocumentedBody,
      maxInspectBytes: r.maxInspectBytes ?? D.responses.maxInspectBytes,
      maxPageSize: r.maxPageSize ?? D.responses.maxPageSize,
      dlp: {
        classes: Object.fromEntries(Object.entries(r.dlp?.classes ?? {}).map(([k, v]) => [k, { ...v, ...(Array.isArray(v.reveal) ? { reveal: [...v.reveal] } : {}) }])),
        detect: { ...r.dlp?.detect },
        keyNames: r.dlp?.keyNames ?? true,
        secretNames: r.dlp?.secretNames ?? 'credentials',
      },
    },
    rateLimits: {
      backend: rl.backend ?? 'memory',
      ...(rl.backend === 'redis' && rl.redis
        ? { redis: { url: rl.redis.url, prefix: rl.redis.prefix ?? 'rampart:rl:', commandTimeoutMs: rl.redis.commandTimeoutMs ?? 100, onOutage: rl.redis.onOutage ?? 'local' } }
        : {}),
      rules: (rl.rules ?? []).map((x) => ({ ...x, unit: x.unit ?? 'requests', ...(x.operations ? { operations: [...x.operations] } : {}) })),
    },
    anomaly: { enabled: c.anomaly?.enabled ?? true, enforce: c.anomaly?.enforce ?? true, model: { ...c.anomaly?.model } },
  };
}

/** The ledger section with its defaults; files default to the secrets file's folder (never committed). */
function ledgerOf(c: RawConfig, D: typeof CONFIG_DEFAULTS, path: (p: string, pointer: string) => string, node: string): RampartConfig['ledger'] {
  const l = c.ledger ?? {};
  const secretsDir = dirname(path(c.secretsFile ?? D.secretsFile, '/secretsFile'));
  const kek: KekConfig = l.encryption?.kek
    ? l.encryption.kek.provider === 'file'
      ? { ...l.encryption.kek, file: path(l.encryption.kek.file, '/ledger/encryption/kek/file') }
      : l.encryption.kek.provider === 'pkcs11'
        ? { ...l.encryption.kek, module: path(l.encryption.kek.module, '/ledger/encryption/kek/module') }
        : { ...l.encryption.kek }
    : { provider: 'file', file: join(secretsDir, 'ledger-kek.json') };
  return {
    durability: l.durability ?? D.ledger.durability,
    maxBatch: l.maxBatch ?? D.ledger.maxBatch,
    spill: { dir: l.spill?.dir !== undefined ? path(l.spill.dir, '/ledger/spill/dir') : join(secretsDir, 'spill'), maxBytes: l.spill?.maxBytes ?? 256 * 1024 * 1024 },
    encryption: { kek },
    retention: { ...DEFAULT_RETENTION_DAYS, ...l.retention },
    bodies: {
      capture: l.bodies?.capture ?? true,
      maxBytes: l.bodies?.maxBytes ?? 65_536,
      defaultPersonal: l.bodies?.defaultPersonal ?? 'keep',
      personal: { ...l.bodies?.personal },
      opaque: l.bodies?.opaque ?? 'omit',
    },
    checkpoints: {
      intervalSeconds: l.checkpoints?.intervalSeconds ?? 60,
      origin: l.checkpoints?.origin ?? `rampart/${node}`,
      signingKeyFile: l.checkpoints?.signingKeyFile !== undefined ? path(l.checkpoints.signingKeyFile, '/ledger/checkpoints/signingKeyFile') : join(secretsDir, 'checkpoint-key.json'),
      publish: (l.checkpoints?.publish ?? []).map((t, i) => ('file' in t ? { file: path(t.file, `/ledger/checkpoints/publish/${i}/file`) } : { ...t })),
    },
    selfVerify: { intervalSeconds: l.selfVerify?.intervalSeconds ?? 3600 },
    stream: streamTargetsOf(l.stream, (p) => path(p, '/ledger/stream')),
  };
}

/** Freezes an object graph, so no stage can change the configuration it was given. */
function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}
