/**
 * Failed-authentication counter per client address (N63-5, ASVS 2.2.1): after `maxFailures`
 * failures within the window, the address gets 429 before any credential is looked at, so a
 * guesser learns nothing more. In memory and bounded; the distributed version (Redis) arrives
 * with the rate-limit work behind the same two methods.
 */
export interface AuthThrottle {
  /** Seconds until the address may try again, or 0 when it is not throttled. */
  retryAfter(address: string, now?: number): number;
  fail(address: string, now?: number): void;
}

export function createAuthThrottle(opts: { maxFailures: number; windowSeconds: number; maxTracked?: number }): AuthThrottle {
  const windowMs = opts.windowSeconds * 1000;
  const maxTracked = opts.maxTracked ?? 100_000;
  const entries = new Map<string, { start: number; count: number }>();
  function sweep(now: number): void {
    for (const [k, e] of entries) if (now - e.start >= windowMs) entries.delete(k);
    // Still full after expiry: drop the oldest (insertion order) rather than grow without bound.
    while (entries.size >= maxTracked) {
      const first = entries.keys().next();
      if (first.done) break;
      entries.delete(first.value);
    }
  }
  return {
    retryAfter(address, now = Date.now()) {
      const e = entries.get(address);
      if (!e) return 0;
      if (now - e.start >= windowMs) {
        entries.delete(address);
        return 0;
      }
      return e.count >= opts.maxFailures ? Math.ceil((e.start + windowMs - now) / 1000) : 0;
    },
    fail(address, now = Date.now()) {
      let e = entries.get(address);
      if (!e || now - e.start >= windowMs) {
        if (!e && entries.size >= maxTracked) sweep(now);
        e = { start: now, count: 0 };
        entries.set(address, e);
      }
      e.count++;
    },
  };
}
