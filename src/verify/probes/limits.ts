/**
 * Resource limits (API4): a body over the configured cap gets 413, and requests past a rate
 * limit's budget get 429.
 *
 * The oversized body is streamed with chunked transfer coding and no Content-Length, so a gateway
 * that only compares the declared length cannot pass: the cap must hold while the body arrives
 * (src/gateway/body.ts). Its size is `limits.maxBodyBytes` + 1 KiB when the configuration is
 * given, else 11 MiB (above the 1 MiB default and any usual cap). Writing stops at the answer.
 *
 * The rate-limit probe sends at most budget + 1 requests and stops at the first 429: within the
 * budget they may all be served, the next must not be (docs/rate-limits.md: a bucket holds
 * `burst ?? limit` requests from idle).
 */
import { exchangeEvidence, type Exchange, type ProbeClient } from '../http.js';
import type { Identities } from '../identities.js';
import { result, type ControlResult } from '../types.js';

export const DEFAULT_OVERSIZED_BYTES = 11 * 1024 * 1024;

const BODY = { id: 'limits.body-size', family: 'limits', title: 'A body over the size cap: 413', requirements: ['API4'] } as const;
const RATE = { id: 'limits.rate', family: 'limits', title: 'Requests past the rate limit\'s budget: 429', requirements: ['API4'] } as const;

export async function oversizedBodyProbe(i: { client: ProbeClient; identities: Identities; maxBodyBytes?: number }): Promise<ControlResult> {
  const ob = i.identities.oversizedBody;
  if (!ob) return result(BODY, 'skipped', 'not given: oversizedBody (a POST/PUT operation with a JSON body)');
  const bytes = i.maxBodyBytes !== undefined ? i.maxBodyBytes + 1024 : DEFAULT_OVERSIZED_BYTES;
  const credential = ob.auth === 'customer' ? i.identities.customer?.credential : undefined;
  try {
    const ex = await i.client.request(BODY.id, { method: ob.method, path: ob.path, headers: { 'content-type': 'application/json' }, streamJsonBytes: bytes, ...(credential ? { credential } : {}) });
    const r = ex.response;
    const ev = { ...exchangeEvidence(ex), bodyBytesPlanned: bytes, sizeFrom: i.maxBodyBytes !== undefined ? `limits.maxBodyBytes ${i.maxBodyBytes} + 1024` : 'no configuration given: 11 MiB', framing: 'chunked, no Content-Length' };
    if (r.status === 413) return result(BODY, 'pass', `413${r.code ? ` ${r.code}` : ''} after ${ex.sent.bodyBytes ?? '?'} of ${bytes} bytes`, ev);
    if (r.status === 401 || r.status === 403) return result(BODY, 'error', `the credential was refused (${r.status}${r.code ? ` ${r.code}` : ''}) before the body mattered`, ev);
    if (r.code === 'RAMPART_ROUTE_NOT_FOUND' || r.code === 'RAMPART_METHOD_NOT_ALLOWED') return result(BODY, 'error', `${ob.method} ${ob.path} is not an operation of the API (${r.code})`, ev);
    return result(BODY, 'fail', `a ${bytes}-byte body got ${r.status}${r.code ? ` ${r.code}` : ''}`, ev);
  } catch (err) {
    return result(BODY, 'error', (err as Error).message, { path: ob.path, bodyBytesPlanned: bytes });
  }
}

export async function rateLimitProbe(i: { client: ProbeClient; identities: Identities }): Promise<ControlResult> {
  const rl = i.identities.rateLimit;
  if (!rl) return result(RATE, 'skipped', 'not given: rateLimit (a path and the budget its rule allows)');
  const credential = rl.auth === 'customer' ? i.identities.customer?.credential : undefined;
  const statuses: number[] = [];
  let last: Exchange | undefined;
  try {
    for (let n = 1; n <= rl.budget + 1; n++) {
      last = await i.client.request(RATE.id, { method: rl.method, path: rl.path, ...(credential ? { credential } : {}) });
      const r = last.response;
      statuses.push(r.status);
      const ev = { requests: n, budget: rl.budget, statuses: compress(statuses), last: exchangeEvidence(last, ['retry-after', 'ratelimit', 'ratelimit-policy']) };
      if (r.status === 429) return result(RATE, 'pass', `429${r.code ? ` ${r.code}` : ''} at request ${n} of at most ${rl.budget + 1}`, ev);
      if (r.status === 401 || r.status === 403) return result(RATE, 'error', `request ${n} was refused (${r.status}${r.code ? ` ${r.code}` : ''}): the budget was never reached`, ev);
      if (r.code === 'RAMPART_ROUTE_NOT_FOUND' || r.code === 'RAMPART_METHOD_NOT_ALLOWED') return result(RATE, 'error', `${rl.method} ${rl.path} is not an operation of the API (${r.code})`, ev);
    }
    return result(RATE, 'fail', `no 429 in ${rl.budget + 1} requests (budget ${rl.budget})`, { requests: statuses.length, budget: rl.budget, statuses: compress(statuses), ...(last ? { last: exchangeEvidence(last) } : {}) });
  } catch (err) {
    return result(RATE, 'error', (err as Error).message, { requests: statuses.length, budget: rl.budget, statuses: compress(statuses) });
  }
}

/** [200, 200, 200, 429] -> '200 x3, 429' (evidence stays one line for long runs). */
function compress(s: readonly number[]): string {
  const out: string[] = [];
  for (let i = 0; i < s.length; ) {
    let j = i;
    while (j < s.length && s[j] === s[i]) j++;
    out.push(j - i > 1 ? `${s[i]} x${j - i}` : String(s[i]));
    i = j;
  }
  return out.join(', ');
}
