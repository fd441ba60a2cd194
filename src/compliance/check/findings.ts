/**
 * What `rampart check` reports: one Finding per problem, naming the rule (a stable id), the
 * severity under the profile in force, the requirement ids the rule serves, where (file, line
 * and the JSON pointer, RFC 6901, into the config or the OpenAPI document) and how to fix it.
 */
import { RULES, type RuleId } from './rules.js';

export type Severity = 'error' | 'warning' | 'note';

export interface FindingLocation {
  /** Absolute path of the config file or OpenAPI document. */
  file: string;
  /** 1-based; absent when the pointer names nothing written in the file (a default) and no parent does either. */
  line?: number;
  column?: number;
  /** JSON pointer into the file's document ('' for the whole document). */
  pointer: string;
}

export interface Finding {
  ruleId: RuleId;
  severity: Severity;
  /** Requirement ids from REQUIREMENTS.md. */
  requirements: readonly string[];
  message: string;
  location: FindingLocation;
  fix: string;
}

/**
 * What a rule produces before the profile decides its severity and the position is looked up.
 * `pointer` is relative to `file`'s own document.
 */
export interface RawFinding {
  ruleId: RuleId;
  message: string;
  file: string;
  pointer: string;
  /** A fix hint more specific than the rule's. */
  fix?: string;
  /** Known already (e.g. from a loader's ConfigIssue): no lookup needed. */
  line?: number;
  column?: number;
}

/**
 * Completes a raw finding with the severity and the rule's requirement ids.
 *
 * @example
 * const f = toFinding({ ruleId: 'ledger-not-strict', message: '...', file, pointer: '/ledger/durability' }, 'error', { line: 12, column: 15 });
 */
export function toFinding(raw: RawFinding, severity: Severity, pos: { line?: number; column?: number } | undefined): Finding {
  const rule = RULES[raw.ruleId];
  const line = raw.line ?? pos?.line;
  const column = raw.line !== undefined ? raw.column : pos?.column;
  return {
    ruleId: raw.ruleId,
    severity,
    requirements: rule.requirements,
    message: raw.message,
    location: { file: raw.file, ...(line !== undefined ? { line } : {}), ...(line !== undefined && column !== undefined ? { column } : {}), pointer: raw.pointer },
    fix: raw.fix ?? rule.fix,
  };
}

const RANK: Record<Severity, number> = { error: 0, warning: 1, note: 2 };

/** Sort order of reports: by file, then line, then severity (errors first), then rule id. */
export function compareFindings(a: Finding, b: Finding): number {
  return (
    a.location.file.localeCompare(b.location.file) ||
    (a.location.line ?? 0) - (b.location.line ?? 0) ||
    (a.location.column ?? 0) - (b.location.column ?? 0) ||
    RANK[a.severity] - RANK[b.severity] ||
    a.ruleId.localeCompare(b.ruleId) ||
    a.location.pointer.localeCompare(b.location.pointer)
  );
}

/** Counts per severity. */
export function countBySeverity(findings: readonly Finding[]): { errors: number; warnings: number; notes: number } {
  let errors = 0;
  let warnings = 0;
  let notes = 0;
  for (const f of findings) {
    if (f.severity === 'error') errors++;
    else if (f.severity === 'warning') warnings++;
    else notes++;
  }
  return { errors, warnings, notes };
}
