/**
 * JUnit XML for CI (the de-facto schema Jenkins, GitLab and GitHub reporters read): one
 * <testsuite> per control family, one <testcase> per control; `fail` is a <failure>, `error` an
 * <error>, `skipped` a <skipped> with the reason; the evidence goes in <system-out> as JSON.
 */
import type { ControlFamily, ControlResult, VerifyReport } from '../types.js';
import { summarize } from '../types.js';
import { xmlAttr, xmlText } from './xml.js';

export function toJunit(report: VerifyReport): string {
  const families = new Map<ControlFamily, ControlResult[]>();
  for (const r of report.results) {
    const list = families.get(r.family) ?? [];
    list.push(r);
    families.set(r.family, list);
  }
  const s = report.summary;
  const lines = [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<testsuites name="${xmlAttr(`rampart verify ${report.target}`)}" tests="${report.results.length}" failures="${s.failed}" errors="${s.errors}" skipped="${s.skipped}" timestamp="${xmlAttr(report.startedAt)}">`,
  ];
  for (const [family, results] of families) {
    const fs = summarize(results);
    lines.push(`  <testsuite name="${xmlAttr(family)}" tests="${results.length}" failures="${fs.failed}" errors="${fs.errors}" skipped="${fs.skipped}" timestamp="${xmlAttr(report.startedAt)}">`);
    for (const r of results) {
      const name = `${r.id}: ${r.title}`;
      lines.push(`    <testcase classname="${xmlAttr(`rampart.verify.${family}`)}" name="${xmlAttr(name)}" time="0">`);
      const why = `${r.summary}${r.requirements.length > 0 ? ` [${r.requirements.join(', ')}]` : ''}`;
      if (r.status === 'fail') lines.push(`      <failure message="${xmlAttr(why)}" type="control-failed">${xmlText(r.summary)}</failure>`);
      else if (r.status === 'error') lines.push(`      <error message="${xmlAttr(why)}" type="probe-error">${xmlText(r.summary)}</error>`);
      else if (r.status === 'skipped') lines.push(`      <skipped message="${xmlAttr(r.summary)}"/>`);
      lines.push(`      <system-out>${xmlText(JSON.stringify({ requirements: r.requirements, summary: r.summary, ...(r.warnings ? { warnings: r.warnings } : {}), evidence: r.evidence }, null, 2))}</system-out>`);
      lines.push('    </testcase>');
    }
    lines.push('  </testsuite>');
  }
  lines.push('</testsuites>');
  return `${lines.join('\n')}\n`;
}
