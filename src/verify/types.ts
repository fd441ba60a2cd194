/**
 * What `rampart verify` produces (issue 6): one result per control, with the requirement ids it
 * serves (../shared/REQUIREMENTS.md) and the evidence behind its status: what was sent and what
 * came back. A control is `pass` only when a probe showed it working; what could not be probed
 * (an identity not given, no admin plane) is `skipped` with the reason, never `pass`; a probe
 * that could not be carried out (target unreachable, a precondition unmet) is `error`.
 */

export type ControlStatus = 'pass' | 'fail' | 'skipped' | 'error';

export type ControlFamily = 'tls' | 'headers' | 'authentication' | 'authorization' | 'injection' | 'limits' | 'routing' | 'audit' | 'config';

export type Evidence = Record<string, unknown>;

export interface ControlResult {
  /** Stable id, e.g. `tls.1.1-refused`; SARIF rule id and JUnit test name. */
  id: string;
  family: ControlFamily;
  title: string;
  /** Requirement ids from REQUIREMENTS.md, e.g. ENC-1, API2, ASVS 14.4.5. */
  requirements: string[];
  status: ControlStatus;
  /** One line for people: why this status. */
  summary: string;
  /** What was sent and what came back (status, code, protocol, cipher, dates...). */
  evidence: Evidence;
  /** Passes with a caveat (a certificate close to expiry). */
  warnings?: string[];
}

export interface VerifySummary {
  passed: number;
  failed: number;
  skipped: number;
  errors: number;
}

export interface VerifyReport {
  tool: 'rampart verify';
  version: string;
  target: string;
  admin?: string;
  runId?: string;
  startedAt: string;
  finishedAt: string;
  /** Connections and requests made against the target (bounded by --max-probes). */
  probes: number;
  summary: VerifySummary;
  results: ControlResult[];
}

export function summarize(results: readonly ControlResult[]): VerifySummary {
  const s: VerifySummary = { passed: 0, failed: 0, skipped: 0, errors: 0 };
  for (const r of results) {
    if (r.status === 'pass') s.passed += 1;
    else if (r.status === 'fail') s.failed += 1;
    else if (r.status === 'skipped') s.skipped += 1;
    else s.errors += 1;
  }
  return s;
}

/** What a control is, independent of a run's outcome (probe files declare theirs as constants). */
export interface ControlDef {
  readonly id: string;
  readonly family: ControlFamily;
  readonly title: string;
  readonly requirements: readonly string[];
}

/** Builds a result; `summary` is kept to one line. */
export function result(c: ControlDef, status: ControlStatus, summary: string, evidence: Evidence = {}, warnings?: string[]): ControlResult {
  return { id: c.id, family: c.family, title: c.title, requirements: [...c.requirements], status, summary: summary.replace(/\s+/g, ' ').trim(), evidence, ...(warnings && warnings.length > 0 ? { warnings } : {}) };
}
