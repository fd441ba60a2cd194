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
  | 'evidence.bodies';

export const ADMIN_ACTIONS: readonly AdminAction[] = [
  'keys.read', 'keys.write', 'users.read', 'users.write', 'audit.read', 'holds.read', 'holds.write', 'retention.write', 'evidence.export', 'evidence.personal', 'evidence.bodies',
];

const GRANTS: Record<AdminRole, readonly AdminAction[]> = {
  owner: ['keys.read', 'keys.write', 'users.read', 'users.write', 'audit.read', 'holds.read', 'evidence.export'],
  admin: ['keys.read', 'keys.write', 'users.read', 'users.write', 'audit.read'],
  security: ['keys.read', 'keys.write', 'audit.read'],
  compliance: ['keys.read', 'users.read', 'audit.read', 'holds.read', 'holds.write', 'retention.write', 'evidence.export', 'evidence.personal', 'evidence.bodies'],
  examiner: ['audit.read', 'holds.read', 'evidence.export', 'evidence.personal'],
};

export const ADMIN_ROLES: readonly AdminRole[] = ['owner', 'admin', 'security', 'compliance', 'examiner'];

export function may(roles: readonly AdminRole[], action: AdminAction): boolean {
  return roles.some((r) => GRANTS[r]?.includes(action));
}
