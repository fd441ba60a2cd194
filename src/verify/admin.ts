/**
 * The verifier's way to the admin plane, by URL (`--admin`), with the operator's admin token
 * (RAMPART_ADMIN_TOKEN or the token file of `rampart admin login`). TLS is verified against the
 * system roots plus `--ca` and the configured admin certificate (src/cli/admin-client.ts does the
 * same for the configured admin plane). Calls to the admin plane are not probes of the target and
 * do not count against --max-probes.
 */
import { rootCertificates } from 'node:tls';
import { Agent, request } from 'undici';

export class AdminApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string | undefined,
    message: string,
  ) {
    super(message);
    this.name = 'AdminApiError';
  }
}

export interface AdminApi {
  readonly url: string;
  call<T = unknown>(method: 'GET' | 'POST', path: string, body?: unknown): Promise<T>;
  /** How many calls were made (evidence). */
  readonly calls: number;
  close(): Promise<void>;
}

export function createAdminApi(o: { url: string; token: string; ca: readonly string[]; insecure: boolean; timeoutMs: number }): AdminApi {
  const base = o.url.replace(/\/+$/, '');
  const dispatcher = new Agent({ connect: { ca: [...rootCertificates, ...o.ca], rejectUnauthorized: !o.insecure }, headersTimeout: o.timeoutMs, bodyTimeout: o.timeoutMs });
  let calls = 0;
  return {
    url: base,
    get calls() {
      return calls;
    },
    async call<T>(method: 'GET' | 'POST', path: string, body?: unknown): Promise<T> {
      calls += 1;
      let r;
      try {
        r = await request(`${base}${path}`, {
          method,
          dispatcher,
          headers: { authorization: `Bearer ${o.token}`, accept: 'application/json', ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
          ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
        });
      } catch (err) {
        throw new AdminApiError(0, (err as NodeJS.ErrnoException).code, `the admin API at ${base} cannot be reached: ${(err as Error).message}`);
      }
      const text = await r.body.text();
      let parsed: unknown;
      try {
        parsed = text ? JSON.parse(text) : undefined;
      } catch {
        parsed = undefined;
      }
      if (r.statusCode >= 400) {
        const p = (parsed ?? {}) as { title?: string; detail?: string; code?: string };
        throw new AdminApiError(r.statusCode, p.code, `${method} ${path}: ${r.statusCode} ${p.title ?? ''}${p.detail ? `: ${p.detail}` : ''}${p.code ? ` (${p.code})` : ''}`);
      }
      return parsed as T;
    },
    close: () => dispatcher.close(),
  };
}
