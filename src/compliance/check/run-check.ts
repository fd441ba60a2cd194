/**
 * `rampart check`: loads rampart.yaml as the gateway would, runs the config rules and, for every
 * API, the OpenAPI rules; the profile (the file's, or the one given) sets each finding's
 * severity; every finding names the line where a reader fixes it.
 *
 * A file the gateway would refuse is itself the finding: each problem the loader names
 * (src/config/load.ts ConfigError, with file, line and pointer) becomes an error, under the rule
 * it breaks when there is one (TLS below 1.2 is `tls-min-version`, not just "invalid"), and the
 * result is marked unreadable (exit 2): the other rules cannot run on a file that does not load.
 */
import { readFile } from 'node:fs/promises';
import { resolve as resolvePath } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { loadConfigWithWarnings } from '../../config/load.js';
import type { RampartConfig } from '../../config/types.js';
import { ConfigError, type ConfigIssue } from '../../core/errors.js';
import { loadApi } from '../../openapi/load.js';
import { bundle } from '../../openapi/resolve-refs.js';
import { checkConfig } from './config-rules.js';
import { compareFindings, countBySeverity, toFinding, type Finding, type RawFinding } from './findings.js';
import { checkOpenApi } from './openapi-rules.js';
import { createLocator, type Locator } from './positions.js';
import { isProfile, severityOf, type Profile } from './profiles.js';
import type { RuleId } from './rules.js';

export interface CheckOptions {
  configFile: string;
  /** Overrides the config's `profile` field. */
  profile?: Profile;
}

export interface CheckResult {
  /** The profile the severities were decided under. */
  profile: Profile;
  /** Absolute path of the config file checked. */
  configFile: string;
  findings: Finding[];
  errors: number;
  warnings: number;
  notes: number;
  /** The config file, or an API's OpenAPI document, could not be loaded at all (exit 2). */
  unreadable: boolean;
}

/**
 * Checks a configuration and its OpenAPI documents.
 *
 * @example
 * const r = await runCheck({ configFile: 'rampart.yaml', profile: 'finra' });
 * for (const f of r.findings) console.log(f.location.line, f.severity, f.ruleId, f.message);
 * process.exitCode = r.unreadable ? 2 : r.errors > 0 ? 1 : 0;
 */
export async function runCheck(opts: CheckOptions): Promise<CheckResult> {
  const configFile = resolvePath(opts.configFile);
  const texts = new Map<string, string>();
  // Loader findings already carry their line; they are errors whatever the profile, because the
  // gateway refuses to start on them.
  const refused: RawFinding[] = [];
  const raw: RawFinding[] = [];
  let profile: Profile = opts.profile ?? 'default';
  let unreadable = false;

  let configText: string | undefined;
  try {
    configText = await readFile(configFile, 'utf8');
    texts.set(configFile, configText);
  } catch {
    // loadConfigWithWarnings below names the reason (file not found, permissions) as a ConfigIssue.
  }

  let config: RampartConfig | undefined;
  try {
    const loaded = await loadConfigWithWarnings(configFile);
    config = loaded.config;
    raw.push(...loaded.warnings.filter((w) => !coveredWarning(w)).map((w) => fromIssue(w, 'config-warning', configFile)));
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    unreadable = true;
    if (opts.profile === undefined && configText !== undefined) profile = profileOf(configText);
    refused.push(...err.issues.map((i) => fromIssue(i, ruleForLoadIssue(i), configFile)));
  }

  if (config) {
    if (opts.profile === undefined) profile = config.profile;
    raw.push(...(await checkConfig(config, configFile)));
    for (const api of config.apis) {
      try {
        await loadApi({ name: api.name, file: api.openapi, qualifyScopes: config.apis.length > 1, closedObjects: api.closedObjects, reservedPrefix: config.reservedPrefix });
      } catch (err) {
        if (!(err instanceof ConfigError)) throw err;
        unreadable = true;
        refused.push(...err.issues.map((i) => fromIssue(i, 'openapi-invalid', api.openapi, `API ${api.name}: `)));
        continue;
      }
      const b = bundle(api.openapi);
      for (const f of b.files) texts.set(f.path, f.text);
      raw.push(...checkOpenApi(b, { name: api.name, closedObjects: api.closedObjects }));
    }
  }

  const locators = new Map<string, Locator>();
  const locatorOf = (file: string): Locator | undefined => {
    let l = locators.get(file);
    if (!l) {
      const text = texts.get(file);
      if (text === undefined) return undefined;
      l = createLocator(text);
      locators.set(file, l);
    }
    return l;
  };
  const findings = [
    ...refused.map((r) => toFinding(r, 'error', r.line === undefined ? locatorOf(r.file)?.locate(r.pointer) : undefined)),
    ...raw.map((r) => toFinding(r, severityOf(r.ruleId, profile), r.line === undefined ? locatorOf(r.file)?.locate(r.pointer) : undefined)),
  ].sort(compareFindings);
  return { profile, configFile, findings, ...countBySeverity(findings), unreadable };
}

/** A loader problem as a raw finding, keeping its file, line and pointer. */
function fromIssue(i: ConfigIssue, ruleId: RuleId, fallbackFile: string, prefix = ''): RawFinding {
  const file = i.file ? resolvePath(i.file) : fallbackFile;
  return {
    ruleId,
    file,
    pointer: i.pointer === '/' ? '' : (i.pointer ?? ''),
    message: `${prefix}${i.message}`,
    ...(i.line !== undefined ? { line: i.line, ...(i.column !== undefined ? { column: i.column } : {}) } : {}),
  };
}

/**
 * The rule a refusal breaks, where the loader enforces one of the check's rules itself (the
 * published schema's enum and maximum, the semantic checks in load.ts).
 */
function ruleForLoadIssue(i: ConfigIssue): RuleId {
  const p = i.pointer ?? '';
  if (p === '/listen/tls/minVersion') return 'tls-min-version';
  if ((p === '/listen/host' || p === '/listen/plainHttp') && /plain HTTP/i.test(i.message)) return 'plain-http-exposed';
  if (p === '/identity/tokens/lifetimeSeconds' && /<=/.test(i.message)) return 'token-lifetime';
  if (p === '/authThrottle/maxFailures' && /<=/.test(i.message)) return 'auth-throttle-loose';
  if (p.startsWith('/ledger/retention/') && />=/.test(i.message)) return 'retention-short';
  return 'config-invalid';
}

/** Loader warnings a check rule reports itself, with its rule id and requirement ids. */
function coveredWarning(w: ConfigIssue): boolean {
  const p = w.pointer ?? '';
  if (p === '/listen/plainHttp') return true; // plain-http-loopback, plain-http-behind-proxy
  if (/^\/apis\/\d+\/upstream\/url$/.test(p) && /plain HTTP/i.test(w.message)) return true; // upstream-plain-http
  return false;
}

/** The profile a file that does not load asks for, when it says so plainly. */
function profileOf(text: string): Profile {
  try {
    const data = parseYaml(text, { uniqueKeys: false }) as { profile?: unknown } | null;
    if (data && typeof data === 'object' && isProfile(data.profile)) return data.profile;
  } catch {
    // unparseable YAML: the default profile
  }
  return 'default';
}
