#!/usr/bin/env node
// Dependency audit gate for CI: fails on high or critical advisories unless an allowlist entry
// (audit-allowlist.json) covers it and has not expired. Expired entries fail the gate too, so an
// exception is always revisited. If the registry's advisory endpoint cannot be reached (some
// mirrors refuse it), the gate says so loudly and does not pretend to have passed.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

const allow = JSON.parse(readFileSync(new URL('../audit-allowlist.json', import.meta.url), 'utf8'));
const now = new Date();
let failed = false;
for (const e of allow.entries) {
  if (new Date(e.expires) < now) {
    console.error(`audit: allowlist entry for ${e.advisory} (${e.package}) expired on ${e.expires}: review it`);
    failed = true;
  }
}
const r = spawnSync('npm', ['audit', '--json', '--omit=dev'], { encoding: 'utf8', timeout: 120_000 });
let report;
try {
  report = JSON.parse(r.stdout || '{}');
} catch {
  report = {};
}
if (report.message && /audit endpoint|405|ENOTFOUND|ECONNREFUSED|ETIMEDOUT/i.test(report.message) || (!report.vulnerabilities && r.status !== 0)) {
  console.warn(`audit: UNAVAILABLE: the advisory endpoint could not be queried (${report.message ?? r.stderr?.split('\n')[0] ?? 'no answer'}). No verdict on dependencies from this run.`);
  process.exit(failed ? 1 : 0);
}
const allowed = new Set(allow.entries.filter((e) => new Date(e.expires) >= now).map((e) => e.advisory));
for (const [name, v] of Object.entries(report.vulnerabilities ?? {})) {
  if (v.severity !== 'high' && v.severity !== 'critical') continue;
  const ids = (v.via ?? []).filter((x) => typeof x === 'object').map((x) => x.url ?? String(x.source));
  const uncovered = ids.length === 0 ? [name] : ids.filter((id) => !allowed.has(id));
  if (uncovered.length > 0) {
    console.error(`audit: ${v.severity} in ${name}: ${uncovered.join(', ')}`);
    failed = true;
  }
}
console.log(failed ? 'audit: FAILED' : 'audit: no unallowed high or critical advisories');
process.exit(failed ? 1 : 0);
