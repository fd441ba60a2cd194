/**
 * A configuration version as it travels from the repository to the live gateway (issue 6,
 * `rampart apply`): the configuration file, every OpenAPI document it names with the files those
 * `$ref` locally, and the public certificates it names, each with its SHA-256. Never a private
 * key, the secrets file, Rampart's signing keys, KEK material or a database path: those stay on
 * the gateway's own disk and are resolved against the gateway's own configuration folder, so a
 * bundle (stored in the database, shown to every `config.read` admin) holds nothing secret.
 *
 * The version hash (what every ledger record names, R17a4-3 (4)) is src/config/hash.ts's
 * `configHash` with `baseDir` = the folder the files sit in, over the configuration as loaded
 * from that folder and these parts, in this order:
 *
 *   1. each OpenAPI document, in `apis` order (exactly hash.ts's documents);
 *   2. then every other file of the bundle except the configuration file itself (the files the
 *      documents `$ref`, the certificates), in byte order of their bundle paths.
 *
 * For a configuration that names no certificate and whose documents reference no other file,
 * that is hash.ts's hash unchanged. The second group makes a rotated certificate or an edited
 * referenced schema a new version, as it must be: the hash has to name everything that decided.
 * The configuration file's own text is not a part (its canonical JSON is): as in hash.ts,
 * comments and formatting are not configuration.
 *
 * On the CLI, `localVersion` computes bundle and hash over the repository; on the gateway,
 * `loadBundle` verifies the bundle, writes it under `<stateDir>/config-versions/`, and computes
 * the same hash from there (test/unit/config-bundle.test.ts checks that they agree).
 */
import { createHash, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { basename, dirname, isAbsolute, join, relative, resolve as resolvePath, sep } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { parse as parseYaml } from 'yaml';
import { ConfigError, type ConfigIssue } from '../core/errors.js';
import { bundle as bundleRefs } from '../openapi/resolve-refs.js';
import { configHash } from './hash.js';
import { parseConfigWithWarnings } from './load.js';
import type { RampartConfig } from './types.js';

export const BUNDLE_FORMAT = 'rampart-config-bundle/1';

export interface BundleFile {
  /** Relative to the configuration file's folder, '/' separators, never '..' or absolute. */
  path: string;
  /** Hex SHA-256 of the bytes. */
  sha256: string;
  /** The bytes, base64. */
  data: string;
}

export interface ConfigBundle {
  format: typeof BUNDLE_FORMAT;
  /** The configuration file's name relative to its folder (usually `rampart.yaml`). */
  root: string;
  /** Sorted by path; the root is one of them. */
  files: BundleFile[];
}

/** A bundle made runnable on the gateway. */
export interface LoadedBundle {
  /** Shipped files resolve into `dir`; every other path against the gateway's own folder. */
  config: RampartConfig;
  warnings: ConfigIssue[];
  /** The version hash (see the file comment); equals `localVersion(...).hash` over the repository. */
  hash: string;
  bundle: ConfigBundle;
  /** The version's folder (`<stateDir>/config-versions/<hash prefix>-<bundle digest>`). */
  dir: string;
  /** The configuration file's name (for messages). */
  file: string;
}

/**
 * The fields whose files are shipped: public material only. Everything else a configuration
 * names (listen.tls.key, secretsFile, identity.signingKeysFile, ledger.encryption.kek.*, storage,
 * spill, checkpoint keys, publish and stream targets, the upstream client key) stays on the
 * gateway. admin.tls.key likewise.
 */
const SHIPPED = /^\/(?:listen\/tls\/(?:cert|ca)|admin\/tls\/cert|apis\/\d+\/(?:openapi|upstream\/ca|upstream\/clientCertificate\/cert))$/;

/** True for a JSON pointer whose file travels in the bundle. */
export function isShippedField(pointer: string): boolean {
  return SHIPPED.test(pointer);
}

/** A safe bundle path: relative, '/'-separated, no '.', '..' or empty segments, no backslash or NUL. */
export function isSafeBundlePath(p: string): boolean {
  if (p.length === 0 || p.length > 1024 || p.includes('\\') || p.includes('\0')) return false;
  return p.split('/').every((seg) => seg !== '' && seg !== '.' && seg !== '..');
}

const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

/** Where a file named in the configuration sits, and which field (or $ref) named it. */
interface Needed {
  rel: string;
  abs: string;
  field: string;
}

/**
 * The files a configuration text names (the shipped fields, and the files its documents `$ref`),
 * read from the YAML itself: neither `${ENV}` values nor the rest of the schema are needed to know
 * which files make up a version. A text the loader would refuse for its YAML is reported by the
 * loader (its messages name the line).
 */
function neededFiles(text: string, configFile: string): Needed[] {
  const dir = dirname(resolvePath(configFile));
  let raw: unknown;
  try {
    raw = parseYaml(text, { uniqueKeys: true, strict: true, maxAliasCount: 100 });
  } catch {
    parseConfigWithWarnings(text, configFile, { env: new Proxy({}, { get: () => '' }) });
    throw new ConfigError([{ file: configFile, message: 'cannot read the YAML' }]);
  }
  const at = (o: unknown, ...keys: (string | number)[]): unknown => keys.reduce<unknown>((v, k) => (v !== null && typeof v === 'object' ? (v as Record<string, unknown>)[k] : undefined), o);
  const fields: { pointer: string; value: unknown }[] = [
    { pointer: '/listen/tls/cert', value: at(raw, 'listen', 'tls', 'cert') },
    { pointer: '/listen/tls/ca', value: at(raw, 'listen', 'tls', 'ca') },
    { pointer: '/admin/tls/cert', value: at(raw, 'admin', 'tls', 'cert') },
  ];
  const apis = at(raw, 'apis');
  (Array.isArray(apis) ? apis : []).forEach((_, i) => {
    fields.push({ pointer: `/apis/${i}/openapi`, value: at(apis, i, 'openapi') });
    fields.push({ pointer: `/apis/${i}/upstream/ca`, value: at(apis, i, 'upstream', 'ca') });
    fields.push({ pointer: `/apis/${i}/upstream/clientCertificate/cert`, value: at(apis, i, 'upstream', 'clientCertificate', 'cert') });
  });
  const issues: ConfigIssue[] = [];
  const out: Needed[] = [];
  const place = (abs: string, field: string, written: string): void => {
    const rel = relative(dir, abs).split(sep).join('/');
    if (!isSafeBundlePath(rel)) {
      issues.push({ file: configFile, pointer: field, message: `${written} is outside the configuration's folder, so it cannot be shipped with the version; keep the file in the repository beside ${basename(configFile)} and name it by a relative path` });
      return;
    }
    out.push({ rel, abs, field });
  };
  for (const f of fields) {
    if (typeof f.value !== 'string') continue; // absent, or refused by the loader with its line
    if (f.value.includes('${')) {
      issues.push({ file: configFile, pointer: f.pointer, message: 'a shipped file is named by its path in the repository; ${ENV} is not allowed here' });
      continue;
    }
    if (isAbsolute(f.value)) {
      issues.push({ file: configFile, pointer: f.pointer, message: 'is an absolute path, so the file cannot be shipped with the version; keep it beside the configuration and name it by a relative path' });
      continue;
    }
    place(resolvePath(dir, f.value), f.pointer, 'the file');
  }
  if (issues.length > 0) throw new ConfigError(issues);
  // The documents' local $refs (src/openapi/resolve-refs.ts resolves them the same way at load).
  for (const doc of out.filter((n) => /^\/apis\/\d+\/openapi$/.test(n.field))) {
    // A missing document is reported by the caller, naming its field.
    if (!existsSync(doc.abs)) continue;
    for (const f of bundleRefs(doc.abs).files) {
      if (f.path === doc.abs) continue;
      place(f.path, doc.field, `a $ref of ${doc.rel} (${relative(dir, f.path).split(sep).join('/')})`);
    }
  }
  if (issues.length > 0) throw new ConfigError(issues);
  return out;
}

/**
 * The bundle of a configuration file: the file, its documents with their `$ref`d files, and its
 * public certificates; never a private key or secret (those fields are not read at all).
 *
 * @example
 * const bundle = await makeBundle('rampart.yaml');
 * bundle.files.map((f) => f.path); // ['openapi/brokerage.yaml', 'rampart.yaml', 'tls/cert.pem']
 */
export async function makeBundle(configFile: string): Promise<ConfigBundle> {
  let text: Buffer;
  try {
    text = await readFile(configFile);
  } catch (err) {
    throw new ConfigError([{ file: configFile, message: `cannot read the file (${(err as NodeJS.ErrnoException).code ?? 'error'})` }]);
  }
  const root = basename(configFile);
  const files = new Map<string, Buffer>([[root, text]]);
  for (const n of neededFiles(text.toString('utf8'), configFile)) {
    if (files.has(n.rel)) continue;
    try {
      files.set(n.rel, await readFile(n.abs));
    } catch (err) {
      throw new ConfigError([{ file: configFile, pointer: n.field, message: `${n.rel} cannot be read (${(err as NodeJS.ErrnoException).code ?? 'error'})` }]);
    }
  }
  return {
    format: BUNDLE_FORMAT,
    root,
    files: [...files.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([path, data]) => ({ path, sha256: sha256(data), data: data.toString('base64') })),
  };
}

/**
 * The version as the repository has it: its bundle, its configuration (loaded with `env`, as the
 * gateway will with its own) and its hash.
 *
 * @example
 * const { hash } = await localVersion('rampart.yaml'); // what `rampart plan` compares
 */
export async function localVersion(configFile: string, o: { env?: Readonly<Record<string, string | undefined>> } = {}): Promise<{ bundle: ConfigBundle; config: RampartConfig; hash: string }> {
  const bundle = await makeBundle(configFile);
  const files = filesOf(bundle);
  const text = files.get(bundle.root)!.toString('utf8');
  const { config } = parseConfigWithWarnings(text, configFile, o.env ? { env: o.env } : {});
  return { bundle, config, hash: versionHash(config, dirname(resolvePath(configFile)), files, bundle.root) };
}

/**
 * The version hash of `config` (loaded from `dir`) over the bundle's files (see the file comment).
 */
export function versionHash(config: RampartConfig, dir: string, files: ReadonlyMap<string, Buffer>, root: string): string {
  const rel = (p: string) => relative(dir, p).split(sep).join('/');
  const docPaths = new Set<string>();
  const docs = config.apis.map((a) => {
    const p = rel(a.openapi);
    const data = files.get(p);
    if (!data) throw new ConfigError([{ file: root, pointer: '/apis', message: `the bundle does not hold ${p} (the document of API ${a.name})` }]);
    docPaths.add(p);
    return data;
  });
  const others = [...files.keys()].filter((p) => p !== root && !docPaths.has(p)).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  return configHash(config, [...docs, ...others.map((p) => files.get(p)!)], { baseDir: dir });
}

/** The bytes of every file, by path (no checks: see checkBundle). */
export function filesOf(b: ConfigBundle): Map<string, Buffer> {
  return new Map(b.files.map((f) => [f.path, Buffer.from(f.data, 'base64')]));
}

/**
 * Checks a bundle received over the wire: its shape, safe paths, every SHA-256, the total size.
 * Returns the files' bytes. Problems are ConfigErrors naming the file (the admin API answers 422).
 */
export function checkBundle(value: unknown, o: { maxBytes?: number } = {}): { bundle: ConfigBundle; files: Map<string, Buffer>; bytes: number } {
  const fail = (message: string, file = '<bundle>'): never => {
    throw new ConfigError([{ file, message }]);
  };
  const b = value as Partial<ConfigBundle> | null;
  if (b === null || typeof b !== 'object' || Array.isArray(b)) return fail('the bundle must be an object');
  if (b.format !== BUNDLE_FORMAT) return fail(`format must be ${BUNDLE_FORMAT}`);
  if (typeof b.root !== 'string' || !isSafeBundlePath(b.root) || b.root.includes('/')) return fail('root must be the configuration file\'s name (no folder)');
  if (!Array.isArray(b.files) || b.files.length === 0 || b.files.length > 10_000) return fail('files must be a list of 1 to 10000 files');
  const files = new Map<string, Buffer>();
  let bytes = 0;
  for (const f of b.files as unknown[]) {
    const e = f as Partial<BundleFile> | null;
    if (e === null || typeof e !== 'object' || typeof e.path !== 'string' || typeof e.sha256 !== 'string' || typeof e.data !== 'string') return fail('every file needs path, sha256 and data (strings)');
    // Never '..' or an absolute path: a version's files are placed inside its own folder only.
    if (!isSafeBundlePath(e.path)) return fail('the path must be relative, with / separators, and must not leave the version\'s folder (no "..", ".", absolute paths or backslashes)', String(e.path).slice(0, 200));
    if (files.has(e.path)) return fail('appears twice in the bundle', e.path);
    if (!/^[A-Za-z0-9+/]*={0,2}$/.test(e.data) || e.data.length % 4 !== 0) return fail('data is not base64', e.path);
    const data = Buffer.from(e.data, 'base64');
    bytes += data.length;
    if (o.maxBytes !== undefined && bytes > o.maxBytes) return fail(`the bundle is larger than changes.maxBundleBytes (${o.maxBytes} bytes)`);
    if (sha256(data) !== e.sha256.toLowerCase()) return fail('its bytes do not match its sha256 (damaged or altered in transit)', e.path);
    files.set(e.path, data);
  }
  if (!files.has(b.root)) return fail(`the bundle does not hold its root ${b.root}`);
  const sorted = [...files.keys()].sort((x, y) => (x < y ? -1 : x > y ? 1 : 0));
  return {
    bundle: { format: BUNDLE_FORMAT, root: b.root, files: sorted.map((p) => ({ path: p, sha256: sha256(files.get(p)!), data: files.get(p)!.toString('base64') })) },
    files,
    bytes,
  };
}

export interface LoadBundleOptions {
  /** The gateway's configuration folder: keys, secrets and storage resolve against it. */
  configDir: string;
  /** Where versions are written (`<stateDir>/config-versions/`). */
  stateDir: string;
  /** `${NAME}` values: the gateway's environment (default process.env). */
  env?: Readonly<Record<string, string | undefined>>;
  /** Refuse bundles larger than this (the running configuration's changes.maxBundleBytes). */
  maxBytes?: number;
}

/**
 * Verifies a bundle, writes it under `<stateDir>/config-versions/` (folders 0700, files 0600) and
 * loads it: shipped files resolve into the version's folder, everything else against
 * `configDir`. The bundle must hold exactly the files its configuration names (no more, no less).
 * Throws ConfigError (file:line messages) when anything is wrong; nothing is left behind then.
 *
 * @example
 * const loaded = await loadBundle(bundle, { configDir: '/etc/rampart', stateDir: '/etc/rampart/.rampart' });
 * await gateway.activate(loaded);
 */
export async function loadBundle(value: ConfigBundle | unknown, o: LoadBundleOptions): Promise<LoadedBundle> {
  const { bundle, files } = checkBundle(value, o.maxBytes !== undefined ? { maxBytes: o.maxBytes } : {});
  const env = o.env ?? process.env;
  const text = files.get(bundle.root)!.toString('utf8');
  const versions = join(resolvePath(o.stateDir), 'config-versions');
  await mkdir(versions, { recursive: true, mode: 0o700 });
  const staging = join(versions, `.staging-${randomBytes(8).toString('hex')}`);
  let created: string | undefined = staging;
  try {
    await writeFiles(staging, files);
    // Exactly what the configuration names: nothing missing (it would fail later, or worse,
    // resolve elsewhere) and nothing extra (the hash covers every file, so it must mean something).
    const stagedRoot = join(staging, bundle.root);
    const needed = neededFiles(text, stagedRoot);
    const neededPaths = new Set([bundle.root, ...needed.map((n) => n.rel)]);
    const issues: ConfigIssue[] = [];
    for (const n of needed) if (!files.has(n.rel)) issues.push({ file: bundle.root, pointer: n.field, message: `names ${n.rel}, which the bundle does not hold` });
    for (const p of files.keys()) if (!neededPaths.has(p)) issues.push({ file: p, message: 'the bundle holds this file, but the configuration does not name it' });
    if (issues.length > 0) throw new ConfigError(issues);
    // The repository's view: every path inside the version's folder, as in a checkout.
    const repoView = parseConfigWithWarnings(text, stagedRoot, { env });
    const hash = versionHash(repoView.config, staging, files, bundle.root);
    const final = join(versions, `${hash.replace(/^sha256:/, '').slice(0, 32)}-${manifestDigest(bundle).slice(0, 12)}`);
    if (await exists(final)) {
      // Content-addressed: the same bundle was placed before (and may be running); keep it.
      await rm(staging, { recursive: true, force: true });
      created = undefined;
    } else {
      await rename(staging, final);
      created = final;
    }
    const within = resolvePath(final);
    const { config, warnings } = parseConfigWithWarnings(text, bundle.root, {
      env,
      resolveFile: (pointer, p) => {
        if (!isShippedField(pointer)) return resolvePath(o.configDir, p);
        const abs = resolvePath(within, p);
        // neededFiles refused absolute and escaping paths; this is the belt to those braces.
        if (!abs.startsWith(within + sep)) throw new ConfigError([{ file: bundle.root, pointer, message: 'a shipped file must stay inside the version\'s folder' }]);
        return abs;
      },
    });
    created = undefined;
    return { config, warnings, hash, bundle, dir: final, file: bundle.root };
  } catch (err) {
    if (created !== undefined) await rm(created, { recursive: true, force: true }).catch(() => {});
    throw err instanceof ConfigError ? relativeIssues(err, [staging, versions]) : err;
  }
}

/** Messages name the bundle's own paths (`openapi/api.yaml:12:3`), not the gateway's folders. */
function relativeIssues(err: ConfigError, dirs: string[]): ConfigError {
  const strip = (s: string): string => {
    for (const d of dirs) {
      const prefix = resolvePath(d) + sep;
      if (s.startsWith(prefix)) return s.slice(prefix.length).split(sep).join('/').replace(/^[0-9a-f]{32}-[0-9a-f]{12}\//, '');
    }
    return s;
  };
  const out = new ConfigError(err.issues.map((i) => ({ ...i, file: strip(i.file), message: i.message.split(resolvePath(dirs[0]!) + sep).join('') })));
  out.cause = err;
  return out;
}

async function writeFiles(dir: string, files: ReadonlyMap<string, Buffer>): Promise<void> {
  await mkdir(dir, { mode: 0o700 });
  for (const [p, data] of files) {
    const abs = join(dir, ...p.split('/'));
    await mkdir(dirname(abs), { recursive: true, mode: 0o700 });
    await writeFile(abs, data, { mode: 0o600, flag: 'wx' });
  }
}

async function exists(p: string): Promise<boolean> {
  try {
    await stat(p);
    return true;
  } catch {
    return false;
  }
}

/** SHA-256 over the sorted (path, sha256) list: names one exact bundle. */
export function manifestDigest(b: ConfigBundle): string {
  return createHash('sha256').update(JSON.stringify([b.root, b.files.map((f) => [f.path, f.sha256])])).digest('hex');
}

/** The bundle as stored in ConfigVersionRow.bundle: gzip'd JSON. */
export function encodeStoredBundle(b: ConfigBundle): Buffer {
  return gzipSync(Buffer.from(JSON.stringify(b), 'utf8'));
}

export function decodeStoredBundle(buf: Buffer): ConfigBundle {
  return JSON.parse(gunzipSync(buf).toString('utf8')) as ConfigBundle;
}

/** The text of one file of a bundle (undefined when absent). */
export function bundleText(b: ConfigBundle, path: string): string | undefined {
  const f = b.files.find((x) => x.path === path);
  return f ? Buffer.from(f.data, 'base64').toString('utf8') : undefined;
}

/**
 * The version hash of a bundle computed here, with `env` (the CLI's), without writing anything:
 * `rampart plan` uses it to tell a change of meaning from one of comments or formatting.
 */
export function hashOfBundle(b: ConfigBundle, o: { env?: Readonly<Record<string, string | undefined>> } = {}): string {
  const files = filesOf(b);
  const dir = resolvePath('/', '.rampart-bundle');
  const text = files.get(b.root)?.toString('utf8') ?? '';
  const { config } = parseConfigWithWarnings(text, join(dir, b.root), o.env ? { env: o.env } : {});
  return versionHash(config, dir, files, b.root);
}
