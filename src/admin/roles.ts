/**
 * What each admin role may do (issue 3: "owner, admin, security, compliance, examiner, each
 * limited to what it needs"; API5 default deny: an action not listed for a role is refused).
 *
 *   owner       keys, users and roles, audit, holds (read) and evidence export without personal
 *               data; legal holds, purges and personal data are compliance's (separation of duties)
 *   admin       keys and users (not the owner role)
 *   security    keys (create, revoke, list)
 *   compliance  reads keys, users, audit; sets and lifts legal holds and runs the purge
 *               (issue 4: "set and lifted only by the compliance role"); exports evidence with
 *               personal data and bodies
 *   examiner    read-only: audit and evidence (with personal data, not bodies)
 *
 * Configuration changes (issue 6; approvals and applications are ledger records, R17a4-3, AU-10): owner, admin and security submit and apply
 * versions; approving is a person's act (never a token) by someone other than the author, open
 * to owner, security and compliance; everyone reads versions. `verify.run` (probes with an
 * authenticated marker, a signed attestation in the ledger) is owner's, security's and
 * compliance's.
 */
import type { AdminRole } from '../storage/types.js';

export type AdminAction =
  | 'keys.read'
  | 'keys.write'
  | 'users.read'
  | 'users.write'
  | 'audit.read'
  | 'holds.read'
  | 'holds.write'
  | 'retention.write'
  | 'evidence.export'
  | 'evidence.personal'
  | 'evidence.bodies'
  | 'config.read'
  | 'config.submit'
  | 'config.approve'
  | 'config.apply'
  | 'verify.run';

export const ADMIN_ACTIONS: readonly AdminAction[] = [
  'keys.read', 'keys.write', 'users.read', 'users.write', 'audit.read', 'holds.read', 'holds.write', 'retention.write', 'evidence.export', 'evidence.personal', 'evidence.bodies',
  'config.read', 'config.submit', 'config.approve', 'config.apply', 'verify.run',
];

const GRANTS: Record<AdminRole, readonly AdminAction[]> = {
  owner: ['keys.read', 'keys.write', 'users.read', 'users.write', 'audit.read', 'holds.read', 'evidence.export', 'config.read', 'config.submit', 'config.approve', 'config.apply', 'verify.run'],
  admin: ['keys.read', 'keys.write', 'users.read', 'users.write', 'audit.read', 'config.read', 'config.submit', 'config.apply'],
  security: ['keys.read', 'keys.write', 'audit.read', 'config.read', 'config.submit', 'config.approve', 'config.apply', 'verify.run'],
  compliance: ['keys.read', 'users.read', 'audit.read', 'holds.read', 'holds.write', 'retention.write', 'evidence.export', 'evidence.personal', 'evidence.bodies', 'config.read', 'config.approve', 'verify.run'],
  examiner: ['audit.read', 'holds.read', 'evidence.export', 'evidence.personal', 'config.read'],
};

export const ADMIN_ROLES: readonly AdminRole[] = ['owner', 'admin', 'security', 'compliance', 'examiner'];

export function may(roles: readonly AdminRole[], action: AdminAction): boolean {
  return roles.some((r) => GRANTS[r]?.includes(action));
}
