/**
 * SARIF 2.1.0 (OASIS, https://docs.oasis-open.org/sarif/sarif/v2.1.0/sarif-v2.1.0.html) output,
 * for code-scanning views in CI (GitHub, GitLab, Azure DevOps read it):
 *
 * - one run; tool.driver.name "rampart" with the version and every rule that fired (§3.19.23),
 *   each with shortDescription, help (the fix), defaultConfiguration.level under the profile
 *   and properties.tags = its requirement ids (§3.49.6 reportingDescriptor, §3.8 property bags);
 * - one result per finding: ruleId and ruleIndex, level error|warning|note (§3.27.10), message
 *   text, and a physicalLocation whose artifactLocation.uri is the file relative to the working
 *   folder (uriBaseId %SRCROOT%, §3.4.4) or an absolute file: URI, with region.startLine and
 *   startColumn when known (§3.30); the JSON pointer rides in a logical location.
 */
import { isAbsolute, relative, sep } from 'node:path';
import { pathToFileURL } from 'node:url';
import { VERSION } from '../../core/version.js';
import type { Finding, Severity } from './findings.js';
import { severityOf } from './profiles.js';
import { RULES, type RuleId } from './rules.js';
import type { CheckResult } from './run-check.js';

export const SARIF_SCHEMA = 'https://json.schemastore.org/sarif-2.1.0.json';
export const SARIF_VERSION = '2.1.0';

/** The subset of SARIF 2.1.0 that Rampart writes. */
export interface SarifLog {
  $schema: string;
  version: '2.1.0';
  runs: SarifRun[];
}

export interface SarifRun {
  tool: { driver: { name: string; version: string; informationUri?: string; rules: SarifRule[] } };
  originalUriBaseIds?: Record<string, { uri: string }>;
  results: SarifResult[];
  properties?: Record<string, unknown>;
}

export interface SarifRule {
  id: string;
  shortDescription: { text: string };
  help: { text: string };
  defaultConfiguration: { level: Severity };
  properties: { tags: string[] };
}

export interface SarifResult {
  ruleId: string;
  ruleIndex: number;
  level: Severity;
  message: { text: string };
  locations: {
    physicalLocation: { artifactLocation: { uri: string; uriBaseId?: string }; region?: { startLine: number; startColumn?: number } };
    logicalLocations?: { fullyQualifiedName: string; kind: string }[];
  }[];
  properties: { requirements: string[]; fix: string; pointer: string };
}

/**
 * The SARIF log of a check result.
 *
 * @example
 * await writeFile('rampart.sarif', JSON.stringify(toSarif(result), null, 2));
 */
export function toSarif(r: CheckResult, cwd: string = process.cwd()): SarifLog {
  const ids: RuleId[] = [...new Set(r.findings.map((f) => f.ruleId))].sort();
  const index = new Map(ids.map((id, i) => [id, i]));
  const rules: SarifRule[] = ids.map((id) => ({
    id,
    shortDescription: { text: RULES[id].title },
    help: { text: RULES[id].fix },
    defaultConfiguration: { level: severityOf(id, r.profile) },
    properties: { tags: [...RULES[id].requirements] },
  }));
  const srcroot = pathToFileURL(cwd.endsWith(sep) ? cwd : `${cwd}${sep}`).href;
  return {
    $schema: SARIF_SCHEMA,
    version: SARIF_VERSION,
    runs: [
      {
        tool: { driver: { name: 'rampart', version: VERSION, rules } },
        originalUriBaseIds: { '%SRCROOT%': { uri: srcroot } },
        results: r.findings.map((f) => result(f, index.get(f.ruleId)!, cwd)),
        properties: { profile: r.profile, unreadable: r.unreadable },
      },
    ],
  };
}

function result(f: Finding, ruleIndex: number, cwd: string): SarifResult {
  const rel = relative(cwd, f.location.file);
  const inside = rel !== '' && !rel.startsWith('..') && !isAbsolute(rel);
  const artifactLocation = inside ? { uri: rel.split(sep).map(encodeURIComponent).join('/'), uriBaseId: '%SRCROOT%' } : { uri: pathToFileURL(f.location.file).href };
  return {
    ruleId: f.ruleId,
    ruleIndex,
    level: f.severity,
    message: { text: f.message },
    locations: [
      {
        physicalLocation: {
          artifactLocation,
          ...(f.location.line !== undefined ? { region: { startLine: f.location.line, ...(f.location.column !== undefined ? { startColumn: f.location.column } : {}) } } : {}),
        },
        logicalLocations: [{ fullyQualifiedName: f.location.pointer || '/', kind: 'member' }],
      },
    ],
    properties: { requirements: [...f.requirements], fix: f.fix, pointer: f.location.pointer },
  };
}
