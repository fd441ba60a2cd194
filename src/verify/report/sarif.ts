/**
 * SARIF 2.1.0 (OASIS, https://docs.oasis-open.org/sarif/sarif/v2.1.0/) for code-scanning
 * dashboards: every control is a rule (id, title, requirement ids as tags); each failing control
 * is a result of level `error`, each control that could not be probed a result of level
 * `warning`; passes and skips are not results. The target has no source file, so a result's
 * location is the target URL as an artifact location.
 */
import type { VerifyReport } from '../types.js';

export const SARIF_SCHEMA = 'https://json.schemastore.org/sarif-2.1.0.json';

export function toSarif(report: VerifyReport): object {
  const rules = report.results.map((r) => ({
    id: r.id,
    name: r.id.replace(/[^A-Za-z0-9]+(.)?/g, (_m, c: string | undefined) => (c ? c.toUpperCase() : '')),
    shortDescription: { text: r.title },
    fullDescription: { text: `${r.title} (${r.requirements.join(', ')})` },
    defaultConfiguration: { level: 'error' },
    properties: { tags: [r.family, ...r.requirements] },
  }));
  const index = new Map(report.results.map((r, i) => [r.id, i]));
  const results = report.results
    .filter((r) => r.status === 'fail' || r.status === 'error')
    .map((r) => ({
      ruleId: r.id,
      ruleIndex: index.get(r.id)!,
      level: r.status === 'fail' ? 'error' : 'warning',
      kind: 'fail',
      message: { text: `${r.status === 'fail' ? 'Control failed' : 'Control could not be probed'}: ${r.summary}` },
      locations: [{ physicalLocation: { artifactLocation: { uri: report.target } } }],
      properties: { status: r.status, requirements: r.requirements, evidence: r.evidence },
    }));
  return {
    $schema: SARIF_SCHEMA,
    version: '2.1.0',
    runs: [
      {
        tool: { driver: { name: 'rampart verify', version: report.version, rules } },
        invocations: [{ executionSuccessful: true, startTimeUtc: report.startedAt, endTimeUtc: report.finishedAt }],
        results,
        properties: { target: report.target, summary: report.summary, ...(report.runId ? { runId: report.runId } : {}) },
      },
    ],
  };
}
