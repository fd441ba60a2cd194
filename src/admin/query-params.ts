/**
 * Query-string parameters of the admin plane's read routes (issue 7, the console): each is parsed
 * once, strictly, and a bad one is a 400 naming the parameter (never a silent default that would
 * show the examiner other records than asked for). A repeated parameter is refused, as the data
 * plane refuses repeated scalars (DESIGN.md: one parse, one truth).
 */
import type { IncomingMessage } from 'node:http';
import type { AdminAction } from './roles.js';
import { may } from './roles.js';
import { AdminFailure, type Caller } from './server.js';

export class QueryParams {
  readonly #p: URLSearchParams;
  constructor(req: IncomingMessage) {
    const url = req.url ?? '';
    const q = url.indexOf('?');
    this.#p = new URLSearchParams(q === -1 ? '' : url.slice(q + 1));
  }

  /** A string of 1..max characters, or undefined when absent. */
  string(name: string, max = 512): string | undefined {
    const all = this.#p.getAll(name);
    if (all.length === 0) return undefined;
    if (all.length > 1) throw bad(`${name}: given more than once`);
    const v = all[0]!;
    if (v.length === 0 || v.length > max) throw bad(`${name}: a string of 1-${max} characters`);
    return v;
  }

  /** An ISO 8601 time (or UTC milliseconds), as UTC milliseconds. */
  time(name: string): number | undefined {
    const v = this.string(name, 64);
    if (v === undefined) return undefined;
    const t = /^[0-9]{1,15}$/.test(v) ? Number(v) : Date.parse(v);
    if (!Number.isSafeInteger(t) || t < 0) throw bad(`${name}: an ISO 8601 time or UTC milliseconds`);
    return t;
  }

  /** An integer in [min, max]. */
  int(name: string, min: number, max: number): number | undefined {
    const v = this.string(name, 20);
    if (v === undefined) return undefined;
    if (!/^-?[0-9]+$/.test(v)) throw bad(`${name}: an integer from ${min} to ${max}`);
    const n = Number(v);
    if (!Number.isSafeInteger(n) || n < min || n > max) throw bad(`${name}: an integer from ${min} to ${max}`);
    return n;
  }

  /** One of the allowed values. */
  oneOf<T extends string>(name: string, allowed: readonly T[]): T | undefined {
    const v = this.string(name, 64);
    if (v === undefined) return undefined;
    if (!(allowed as readonly string[]).includes(v)) throw bad(`${name}: one of ${allowed.join(', ')}`);
    return v as T;
  }
}

function bad(detail: string): AdminFailure {
  return new AdminFailure('RAMPART_ADMIN_BAD_REQUEST', detail);
}

/**
 * Whether the caller may do `action`: its roles allow it and, with an admin token, the token
 * carries it (a token holds at most what its minter chose). The same rule as the route check in
 * ./server.ts, for actions that widen a route's answer (evidence.personal, evidence.bodies).
 */
export function callerMay(caller: Caller, action: AdminAction): boolean {
  return may(caller.user.roles, action) && (caller.token === undefined || caller.token.actions.includes(action));
}

/** A UTC time as ISO 8601 (AU-8, ASVS 7.3.4). */
export function iso(ms: number): string {
  return new Date(ms).toISOString();
}
