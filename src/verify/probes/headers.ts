/**
 * Security headers (ENC-3, API8), read on answers the other probes already received, so this
 * family costs no request of its own: an API answer (the customer's own object, 2xx) and a denial
 * (the request without credentials, 401). Rampart sets the same headers on both
 * (src/gateway/headers.ts `securityHeaders`, src/gateway/respond.ts `applySecurityHeaders`):
 * HSTS with includeSubDomains on TLS, nosniff, X-Frame-Options DENY with CSP frame-ancestors
 * 'none', and Cache-Control (default no-store) on API answers.
 */
import type { IncomingHttpHeaders } from 'node:http';
import type { Exchange } from '../http.js';
import { result, type ControlResult } from '../types.js';

/** ENC-3 asks two years (Mozilla); ASVS 14.4.5 one year at least: below one year fails. */
export const MIN_HSTS_SECONDS = 31_536_000;

const C = {
  hsts: { id: 'headers.hsts', family: 'headers', title: 'Strict-Transport-Security max-age >= 1 year with includeSubDomains', requirements: ['ENC-3', 'ASVS 14.4.5'] },
  nosniff: { id: 'headers.nosniff', family: 'headers', title: 'X-Content-Type-Options: nosniff', requirements: ['API8', 'ASVS 14.4.4'] },
  cache: { id: 'headers.cache-control', family: 'headers', title: 'Cache-Control: no-store on API answers', requirements: ['API8'] },
  framing: { id: 'headers.framing', family: 'headers', title: 'Framing refused (X-Frame-Options or CSP frame-ancestors)', requirements: ['API8'] },
} as const;

const one = (h: IncomingHttpHeaders, name: string): string | undefined => {
  const v = h[name];
  return Array.isArray(v) ? v.join(', ') : v;
};

export function hstsProblem(v: string | undefined): string | undefined {
  if (v === undefined) return 'absent';
  const parts = v.split(';').map((p) => p.trim().toLowerCase());
  const age = parts.map((p) => /^max-age="?(\d+)"?$/.exec(p)).find((m) => m !== null);
  if (!age) return `no max-age in "${v}"`;
  if (Number(age[1]) < MIN_HSTS_SECONDS) return `max-age ${age[1]} < ${MIN_HSTS_SECONDS}`;
  if (!parts.includes('includesubdomains')) return 'no includeSubDomains';
  return undefined;
}

export function framingProblem(h: IncomingHttpHeaders): string | undefined {
  const xfo = one(h, 'x-frame-options')?.trim().toUpperCase();
  if (xfo === 'DENY' || xfo === 'SAMEORIGIN') return undefined;
  const csp = one(h, 'content-security-policy');
  const fa = csp?.split(';').map((d) => d.trim()).find((d) => d.toLowerCase().startsWith('frame-ancestors'));
  if (fa !== undefined && /^frame-ancestors\s+('none'|'self')$/i.test(fa)) return undefined;
  return `X-Frame-Options ${xfo ?? 'absent'}, CSP frame-ancestors ${fa ?? 'absent'}`;
}

export function nosniffProblem(h: IncomingHttpHeaders): string | undefined {
  const v = one(h, 'x-content-type-options');
  return v?.trim().toLowerCase() === 'nosniff' ? undefined : `X-Content-Type-Options ${v ?? 'absent'}`;
}

export function cacheProblem(h: IncomingHttpHeaders): string | undefined {
  const v = one(h, 'cache-control');
  return v !== undefined && v.toLowerCase().split(',').map((d) => d.trim()).includes('no-store') ? undefined : `Cache-Control ${v ?? 'absent'}`;
}

/**
 * @param apiAnswer the customer's own object (2xx), when a customer was given
 * @param denial the unauthenticated request's answer
 */
export function headerResults(o: { tls: boolean; apiAnswer?: Exchange; denial?: Exchange }): ControlResult[] {
  const seen: { label: string; ex: Exchange }[] = [];
  if (o.apiAnswer && o.apiAnswer.response.status >= 200 && o.apiAnswer.response.status < 300) seen.push({ label: 'API answer', ex: o.apiAnswer });
  if (o.denial) seen.push({ label: 'denial', ex: o.denial });
  if (seen.length === 0) {
    const why = 'no answer to read headers from: give customer.ownObject (identities file)';
    return Object.values(C).map((c) => result(c, 'skipped', why));
  }
  const names = ['strict-transport-security', 'x-content-type-options', 'cache-control', 'x-frame-options', 'content-security-policy'];
  const evidence = Object.fromEntries(
    seen.map(({ label, ex }) => [label, { request: `${ex.sent.method} ${ex.sent.path}`, status: ex.response.status, headers: Object.fromEntries(names.map((n) => [n, one(ex.response.headers, n) ?? null])) }]),
  );
  const note = seen.length === 1 ? ' (no 2xx API answer was seen: only the denial was read)' : '';
  const judge = (c: (typeof C)[keyof typeof C], check: (h: IncomingHttpHeaders) => string | undefined, okText: string): ControlResult => {
    const bad = seen.map(({ label, ex }) => ({ label, p: check(ex.response.headers) })).filter((x) => x.p !== undefined);
    if (bad.length > 0) return result(c, 'fail', bad.map((b) => `${b.label}: ${b.p}`).join('; '), evidence);
    return result(c, 'pass', `${okText} on ${seen.map((s) => s.label).join(' and ')}${note}`, evidence);
  };
  return [
    o.tls
      ? judge(C.hsts, (h) => hstsProblem(one(h, 'strict-transport-security')), one(seen[0]!.ex.response.headers, 'strict-transport-security') ?? '')
      : result(C.hsts, 'fail', 'plain HTTP: HSTS cannot protect a site served without TLS', evidence),
    judge(C.nosniff, nosniffProblem, 'nosniff'),
    judge(C.cache, cacheProblem, one(seen[0]!.ex.response.headers, 'cache-control') ?? ''),
    judge(C.framing, framingProblem, 'framing refused'),
  ];
}
