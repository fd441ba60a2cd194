/**
 * The report for people: one aligned line per control (status, id, one line of evidence), the
 * totals, and the run's marker id. ASCII status marks so that it reads the same in a CI log.
 */
import type { ControlStatus, VerifyReport } from '../types.js';

const MARK: Record<ControlStatus, string> = { pass: 'PASS', fail: 'FAIL', skipped: 'SKIP', error: 'ERR ' };

export function toTable(report: VerifyReport, o: { width?: number } = {}): string {
  const width = o.width ?? 160;
  const idWidth = Math.max(...report.results.map((r) => r.id.length), 7);
  const lines = [`rampart verify ${report.target}${report.runId ? ` (run ${report.runId})` : ''}`, ''];
  lines.push(`${'STATUS'.padEnd(6)}  ${'CONTROL'.padEnd(idWidth)}  EVIDENCE`);
  for (const r of report.results) {
    const warn = r.warnings && r.warnings.length > 0 ? ` (warning: ${r.warnings.join('; ')})` : '';
    // eslint-disable-next-line no-control-regex
    const text = `${r.summary}${warn}`.replace(/[\u0000-\u001f\u007f]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g, ' ');
    const head = `${MARK[r.status].padEnd(6)}  ${r.id.padEnd(idWidth)}  `;
    const room = Math.max(20, width - head.length);
    lines.push(`${head}${text.length > room ? `${text.slice(0, room - 3)}...` : text}`);
  }
  const s = report.summary;
  lines.push('', `${s.passed} passed, ${s.failed} failed, ${s.skipped} skipped, ${s.errors} could not be probed; ${report.probes} connections and requests to the target`);
  return `${lines.join('\n')}\n`;
}
