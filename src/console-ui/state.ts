/** Who is logged in, as GET /admin/api/me answered; the pages ask `can()` what to show. */
import { may, type AdminAction } from './roles.js';

export interface Me {
  user: { id: string; username: string; roles: string[]; disabled: boolean; createdAt: string };
  sessionExpiresAt?: string;
}

let current: Me | undefined;

export function setMe(m: Me | undefined): void {
  current = m;
}

export function me(): Me | undefined {
  return current;
}

/** Whether the logged-in admin's roles allow `action` (the server decides again on every call). */
export function can(action: AdminAction): boolean {
  return current !== undefined && may(current.user.roles, action);
}
