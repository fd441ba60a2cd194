/**
 * Human and JSON renderings of a check result. Human: grouped by file, one line per finding in
 * the compiler form editors and CI logs link from (`file:line: severity rule-id [REQ-IDS]
 * message`), the fix indented below, a summary last. JSON: the result as data, for scripts.
 */
import { isAbsolute, relative, sep } from 'node:path';
import type { Finding } from './findings.js';
import type { CheckResult } from './run-check.js';

/**
 * A path for display: relative to `cwd` when inside it, else absolute.
 *
 * @example
 * displayPath('/srv/app/rampart.yaml', '/srv/app'); // 'rampart.yaml'
 */
export function displayPath(file: string, cwd: string = process.cwd()): string {
  const rel = relative(cwd, file);
  return rel !== '' && !rel.startsWith('..') && !isAbsolute(rel) ? rel.split(sep).join('/') : file;
}

/**
 * The human report.
 *
 * @example
 * process.stdout.write(formatHuman(await runCheck({ configFile: 'rampart.yaml' })));
 */
export function formatHuman(r: CheckResult, cwd: string = process.cwd()): string {
  const lines: string[] = [];
  const byFile = new Map<string, Finding[]>();
  for (const f of r.findings) {
    const list = byFile.get(f.location.file) ?? [];
    list.push(f);
    byFile.set(f.location.file, list);
  }
  for (const [file, list] of byFile) {
    const shown = displayPath(file, cwd);
    lines.push(shown);
    for (const f of list) {
      const where = f.location.line !== undefined ? `${shown}:${f.location.line}` : shown;
      const reqs = f.requirements.length > 0 ? ` [${f.requirements.join(', ')}]` : '';
      lines.push(`  ${where}: ${f.severity} ${f.ruleId}${reqs} ${f.message}`);
      lines.push(`      at ${f.location.pointer || '/'}; fix: ${f.fix}`);
    }
    lines.push('');
  }
  lines.push(summaryLine(r));
  return `${lines.join('\n')}\n`;
}

/** `2 errors, 3 warnings, 1 note (profile finra)`, and whether something could not be read. */
export function summaryLine(r: CheckResult): string {
  const n = (count: number, word: string) => `${count} ${word}${count === 1 ? '' : 's'}`;
  const what = r.findings.length === 0 ? 'no findings' : `${n(r.errors, 'error')}, ${n(r.warnings, 'warning')}, ${n(r.notes, 'note')}`;
  return `${what} (profile ${r.profile})${r.unreadable ? '; the configuration or an OpenAPI document could not be loaded' : ''}`;
}

/**
 * The JSON report: the result with paths as given to the formatter (absolute), plus counts.
 *
 * @example
 * const data = JSON.parse(formatJson(result));
 * data.findings[0].ruleId; // 'kek-development-provider'
 */
export function formatJson(r: CheckResult): string {
  return `${JSON.stringify(
    {
      profile: r.profile,
      configFile: r.configFile,
      unreadable: r.unreadable,
      summary: { errors: r.errors, warnings: r.warnings, notes: r.notes },
      findings: r.findings,
    },
    null,
    2,
  )}\n`;
}
