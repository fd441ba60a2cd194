/**
 * Who must approve a configuration version before it runs (issue 6: "a profile can require N
 * distinct approvers other than the author"; R17a4-3, AU-10 irrefutable evidence of who approved).
 *
 * - The number required is the larger of the running version's `changes.approvals` and the new
 *   version's: a version cannot lower the bar in order to pass itself.
 * - Approvers count once each, never the author, and only while their admin account is enabled
 *   (FC-2: a departed admin's approval stops counting with their access).
 */
import type { RampartConfig } from './types.js';

/** The approvals a new version needs while `live` runs. */
export function requiredApprovals(live: Pick<RampartConfig, 'changes'> | undefined, next: Pick<RampartConfig, 'changes'>): number {
  return Math.max(live?.changes.approvals ?? 0, next.changes.approvals);
}

/** Whether `approver` may approve a version `author` submitted; a reason when not. */
export function mayApprove(author: string, approver: string): { ok: true } | { ok: false; reason: string } {
  if (normal(author) === normal(approver)) return { ok: false, reason: 'the author of a version cannot approve it; another admin must' };
  return { ok: true };
}

export interface ApprovalStatus {
  required: number;
  /** Distinct approvers who count (sorted), author and disabled admins left out. */
  approvers: string[];
  missing: number;
  satisfied: boolean;
}

/**
 * Counts the approvals of a version by `author`.
 *
 * @example
 * approvalStatus({ author: 'alice', approvals: [{ approver: 'bob' }, { approver: 'alice' }], required: 1 });
 * // { required: 1, approvers: ['bob'], missing: 0, satisfied: true }
 */
export function approvalStatus(o: { author: string; approvals: readonly { approver: string }[]; required: number; active?: (approver: string) => boolean }): ApprovalStatus {
  if (!Number.isInteger(o.required) || o.required < 0) throw new TypeError('approvalStatus: required must be a non-negative integer');
  const approvers = [...new Set(o.approvals.map((a) => normal(a.approver)))]
    .filter((a) => a !== normal(o.author) && (o.active ? o.active(a) : true))
    .sort();
  const missing = Math.max(0, o.required - approvers.length);
  return { required: o.required, approvers, missing, satisfied: missing === 0 };
}

/** Admin usernames are stored lower-case (src/admin/server.ts); compare them the same way. */
function normal(name: string): string {
  return name.toLowerCase();
}
