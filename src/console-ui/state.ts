/** Who is logged in, as GET /admin/api/me answered; the pages ask `can()` what to show. */
import type { AdminAction } from './roles.js';

export interface Me {
  user: { id: string; username: string; roles: string[]; disabled: boolean; createdAt: string };
  /** What the server lets this caller do (its roles, API5 default deny). */
  actions: string[];
  sessionExpiresAt?: string;
}

let current: Me | undefined;

export function setMe(m: Me | undefined): void {
  current = m;
}

export function me(): Me | undefined {
  return current;
}

/** Whether the server said this admin may do `action` (it decides again on every call). */
export function can(action: AdminAction): boolean {
  return current !== undefined && current.actions.includes(action);
}
