/**
 * What each admin role may do (issue 3: "owner, admin, security, compliance, examiner, each
 * limited to what it needs"; API5 default deny: an action not listed for a role is refused).
 *
 *   owner       everything, including users and roles
 *   admin       keys and users (not the owner role)
 *   security    keys (create, revoke, list)
 *   compliance  read-only: keys, users, audit
 *   examiner    read-only: audit and evidence only
 */
import type { AdminRole } from '../storage/types.js';

export type AdminAction = 'keys.read' | 'keys.write' | 'users.read' | 'users.write' | 'audit.read';

const GRANTS: Record<AdminRole, readonly AdminAction[]> = {
  owner: ['keys.read', 'keys.write', 'users.read', 'users.write', 'audit.read'],
  admin: ['keys.read', 'keys.write', 'users.read', 'users.write', 'audit.read'],
  security: ['keys.read', 'keys.write', 'audit.read'],
  compliance: ['keys.read', 'users.read', 'audit.read'],
  examiner: ['audit.read'],
};

export const ADMIN_ROLES: readonly AdminRole[] = ['owner', 'admin', 'security', 'compliance', 'examiner'];

export function may(roles: readonly AdminRole[], action: AdminAction): boolean {
  return roles.some((r) => GRANTS[r]?.includes(action));
}
