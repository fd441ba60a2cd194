/**
 * The admin API from the browser: same-origin fetches with the session cookie
 * (`__Host-rampart_session`, HttpOnly: this code never sees it) and the CSRF token on every
 * state-changing request (N63-6: "POST/PUT carry a session identifier that is checked"; the
 * browser adds Origin itself). Errors are RFC 9457 problem documents; their `code` drives the
 * console: RAMPART_ADMIN_SESSION_REQUIRED returns to the login page, RAMPART_ADMIN_REAUTH_REQUIRED
 * asks for both factors again and retries once.
 */

const CSRF_KEY = 'rampart.csrf';

/** A problem answer from the admin API. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    readonly title: string,
    readonly detail: string,
  ) {
    super(detail || title || code);
  }
}

type Hooks = {
  /** The session is gone (timed out, logged out elsewhere, disabled): back to login. */
  sessionEnded(message: string): void;
  /** Asks the person for password + second factor; resolves false when they cancel. */
  reauth(): Promise<boolean>;
};

let hooks: Hooks = { sessionEnded: () => {}, reauth: async () => false };

export function setApiHooks(h: Hooks): void {
  hooks = h;
}

/**
 * The CSRF token lives in sessionStorage (ASVS 3.2.3 allows HTML5 session storage; never
 * localStorage, N63-6): it survives a reload of this tab and dies with it.
 */
export function setCsrf(value: string | undefined): void {
  if (value === undefined) sessionStorage.removeItem(CSRF_KEY);
  else sessionStorage.setItem(CSRF_KEY, value);
}

function csrf(): string {
  return sessionStorage.getItem(CSRF_KEY) ?? '';
}

export interface RequestOptions {
  body?: unknown;
  /** Do not treat 401 as the end of the session (the login form itself). */
  anonymous?: boolean;
  signal?: AbortSignal;
}

async function problemOf(res: Response): Promise<ApiError> {
  let p: { code?: unknown; title?: unknown; detail?: unknown } = {};
  try {
    p = (await res.json()) as typeof p;
  } catch {
    // Not a problem document (a proxy in between): the status says enough.
  }
  return new ApiError(res.status, typeof p.code === 'string' ? p.code : `HTTP_${res.status}`, typeof p.title === 'string' ? p.title : res.statusText, typeof p.detail === 'string' ? p.detail : '');
}

/** The raw response of a successful call (downloads read its body as a stream). */
export async function call(method: 'GET' | 'POST', path: string, o: RequestOptions = {}, retried = false): Promise<Response> {
  const headers: Record<string, string> = { accept: 'application/json, application/problem+json, application/gzip' };
  if (method !== 'GET') headers['x-csrf-token'] = csrf();
  let body: string | undefined;
  if (o.body !== undefined) {
    headers['content-type'] = 'application/json';
    body = JSON.stringify(o.body);
  }
  const res = await fetch(path, { method, headers, credentials: 'same-origin', cache: 'no-store', redirect: 'error', ...(body !== undefined ? { body } : {}), ...(o.signal ? { signal: o.signal } : {}) });
  if (res.ok) return res;
  const err = await problemOf(res);
  if (!o.anonymous && err.code === 'RAMPART_ADMIN_SESSION_REQUIRED') {
    // The server says "The session timed out." only for the idle or absolute timeout (N63-3); a
    // session ended by a role change, a disable (FC-2) or a logout elsewhere answers the code's
    // generic detail ("...may have timed out"), which must not read as a timeout.
    hooks.sessionEnded(/^The session timed out\b/.test(err.detail) ? 'Your session timed out. Log in again.' : 'Your session has ended. Log in again.');
  } else if (!retried && err.code === 'RAMPART_ADMIN_REAUTH_REQUIRED') {
    if (await hooks.reauth()) return call(method, path, o, true);
  }
  throw err;
}

export async function getJson<T>(path: string, o: RequestOptions = {}): Promise<T> {
  return (await (await call('GET', path, o)).json()) as T;
}

export async function postJson<T>(path: string, body: unknown = {}, o: RequestOptions = {}): Promise<T> {
  const res = await call('POST', path, { ...o, body });
  if (res.status === 204) return undefined as T;
  return (await res.json()) as T;
}

/** A query string from the non-empty values. */
export function query(params: Record<string, string | number | undefined>): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== '') q.set(k, String(v));
  const s = q.toString();
  return s ? `?${s}` : '';
}

/** A human sentence for an error, for the alert region. */
export function describe(err: unknown): string {
  if (err instanceof ApiError) {
    if (err.status === 403 && err.code === 'RAMPART_ADMIN_FORBIDDEN') return 'Not permitted: your roles do not allow this action.';
    return err.detail ? `${err.title}: ${err.detail}` : err.title || err.code;
  }
  return err instanceof Error ? err.message : String(err);
}
