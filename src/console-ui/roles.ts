/**
 * What each admin role may do, as the server decides it (src/admin/roles.ts, API5 default deny).
 * The console hides what the role cannot do; the server still refuses it (403), which the pages
 * handle. This copy is pinned to the server's table by test/e2e/console.test.ts, which imports
 * both and compares them, so the two cannot drift apart silently.
 */
export type AdminRole = 'owner' | 'admin' | 'security' | 'compliance' | 'examiner';

export type AdminAction =
  | 'keys.read' | 'keys.write' | 'users.read' | 'users.write' | 'audit.read' | 'holds.read' | 'holds.write'
  | 'retention.write' | 'evidence.export' | 'evidence.personal' | 'evidence.bodies'
  | 'config.read' | 'config.submit' | 'config.approve' | 'config.apply' | 'verify.run';

export const GRANTS: Readonly<Record<AdminRole, readonly AdminAction[]>> = {
  owner: ['keys.read', 'keys.write', 'users.read', 'users.write', 'audit.read', 'holds.read', 'evidence.export', 'config.read', 'config.submit', 'config.approve', 'config.apply', 'verify.run'],
  admin: ['keys.read', 'keys.write', 'users.read', 'users.write', 'audit.read', 'config.read', 'config.submit', 'config.apply'],
  security: ['keys.read', 'keys.write', 'audit.read', 'config.read', 'config.submit', 'config.approve', 'config.apply', 'verify.run'],
  compliance: ['keys.read', 'users.read', 'audit.read', 'holds.read', 'holds.write', 'retention.write', 'evidence.export', 'evidence.personal', 'evidence.bodies', 'config.read', 'config.approve', 'verify.run'],
  examiner: ['audit.read', 'holds.read', 'evidence.export', 'evidence.personal', 'config.read'],
};

export const ROLES: readonly AdminRole[] = ['owner', 'admin', 'security', 'compliance', 'examiner'];

export function may(roles: readonly string[], action: AdminAction): boolean {
  return roles.some((r) => (GRANTS as Record<string, readonly AdminAction[] | undefined>)[r]?.includes(action) === true);
}
