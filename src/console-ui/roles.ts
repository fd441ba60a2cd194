/**
 * The admin roles and actions by name (src/admin/roles.ts). What a caller may do is not decided
 * here: GET /admin/api/me lists the caller's actions as the server computes them, and the
 * console hides the rest; the server still refuses anything else (403), which the pages handle.
 */
export type AdminRole = 'owner' | 'admin' | 'security' | 'compliance' | 'examiner';

export type AdminAction =
  | 'keys.read' | 'keys.write' | 'users.read' | 'users.write' | 'audit.read' | 'holds.read' | 'holds.write'
  | 'retention.write' | 'evidence.export' | 'evidence.personal' | 'evidence.bodies'
  | 'config.read' | 'config.submit' | 'config.approve' | 'config.apply' | 'verify.run';

export const ROLES: readonly AdminRole[] = ['owner', 'admin', 'security', 'compliance', 'examiner'];
