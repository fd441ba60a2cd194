/**
 * RateLimit response fields (API4: clients learn their limits and back off instead of hammering):
 * draft-ietf-httpapi-ratelimit-headers-11 (May 2026), the current revision. It replaced the
 * RateLimit-Limit / -Remaining / -Reset trio of drafts <= 06 with two Structured Fields (RFC 9651, formerly 8941:
 * Lists of Items whose value is a String):
 *
 *   RateLimit-Policy: "per-key";q=100;w=60          quota q units per window w seconds (s. 3.1)
 *   RateLimit: "per-key";r=42;t=18                  r units available now, effective window t (s. 4.1)
 *
 * `qu` (s. 3.1.2) is left out for requests (its default) and is "content-bytes" for byte quotas.
 * The quota-unit registry has no unit for records, so a records rule carries the vendor
 * parameter `rampart-unit="records"` instead (s. 3.1 allows vendor-prefixed parameters). A rule
 * whose burst differs from its limit carries `rampart-burst`, which explains an `r` above `q`.
 * No partition key (`pk`) is sent: ours are built from principals and addresses (s. 8.2).
 *
 * When refused, Retry-After (RFC 9110 s. 10.2.3) is sent and equals `t`, since s. 6 says
 * Retry-After SHOULD NOT point earlier than the end of the effective window.
 */
import type { LimitDecision } from './rules.js';

export interface RateLimitHeaderOptions {
  /**
   * `most-restrictive` (default): only the decision closest to refusal, as the brief and the
   * earlier drafts ask; `all`: every decision, most restrictive first (draft-11 allows Lists).
   */
  mode?: 'most-restrictive' | 'all';
}

/** Orders decisions from most to least restrictive: refused first (longest wait first), then by the smallest share left. */
function compare(a: LimitDecision, b: LimitDecision): number {
  if (a.allowed !== b.allowed) return a.allowed ? 1 : -1;
  if (!a.allowed) return (b.retryAfterSeconds ?? b.resetSeconds) - (a.retryAfterSeconds ?? a.resetSeconds);
  const fa = a.remaining / Math.max(1, a.capacity ?? a.limit);
  const fb = b.remaining / Math.max(1, b.capacity ?? b.limit);
  if (fa !== fb) return fa - fb;
  return b.resetSeconds - a.resetSeconds;
}

/** An sf-string (RFC 9651 s. 3.3.3): printable ASCII, with `"` and `\` escaped. */
function sfString(s: string): string {
  return `"${s.replace(/[^\x20-\x7e]/g, '').replace(/[\\"]/g, (c) => `\\${c}`)}"`;
}

function int(n: number): number {
  return Number.isFinite(n) && n > 0 ? Math.floor(n) : 0;
}

function policyItem(d: LimitDecision): string {
  let s = `${sfString(d.rule)};q=${int(d.limit)}`;
  if (d.unit === 'bytes') s += ';qu="content-bytes"';
  if (d.windowSeconds !== undefined && int(d.windowSeconds) > 0) s += `;w=${int(d.windowSeconds)}`;
  if (d.unit === 'records') s += ';rampart-unit="records"';
  if (d.capacity !== undefined && d.capacity !== d.limit) s += `;rampart-burst=${int(d.capacity)}`;
  return s;
}

function limitItem(d: LimitDecision): string {
  return `${sfString(d.rule)};r=${int(d.remaining)};t=${int(d.resetSeconds)}`;
}

/**
 * Headers for the most restrictive of the decisions (draft-ietf-httpapi-ratelimit-headers-11),
 * and Retry-After when it was refused. Lower-case names; an empty object for no decisions.
 *
 * @example
 * rateLimitHeaders([{ rule: 'per-key', allowed: false, limit: 100, remaining: 0, resetSeconds: 3, retryAfterSeconds: 3, windowSeconds: 60, unit: 'requests' }]);
 * // { 'ratelimit-policy': '"per-key";q=100;w=60', ratelimit: '"per-key";r=0;t=3', 'retry-after': '3' }
 */
export function rateLimitHeaders(decisions: readonly LimitDecision[], opts: RateLimitHeaderOptions = {}): Record<string, string> {
  if (decisions.length === 0) return {};
  const sorted = [...decisions].sort(compare);
  const chosen = opts.mode === 'all' ? sorted : sorted.slice(0, 1);
  const headers: Record<string, string> = {
    'ratelimit-policy': chosen.map(policyItem).join(', '),
    ratelimit: chosen.map(limitItem).join(', '),
  };
  const first = sorted[0];
  if (first && !first.allowed) headers['retry-after'] = String(Math.max(1, int(first.retryAfterSeconds ?? first.resetSeconds)));
  return headers;
}
