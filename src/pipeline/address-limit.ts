/**
 * Stage `address-limit`: before any credential is looked at. An address that failed
 * authentication too often gets 429 (N63-5, ASVS 2.2.1); then the rate limits kept per address
 * (`rateLimits.rules` with `by: address`, API4) and a block or throttle the anomaly model put on
 * the address (a burst of authentication failures, FC-3).
 */
import { deny, type Stage } from '../core/stage.js';
import type { AuthThrottle } from './auth-throttle.js';
import type { LimitsRuntime } from '../threat/limits-runtime.js';

export function createAddressLimitStage(throttle: AuthThrottle, limits?: LimitsRuntime): Stage {
  return {
    name: 'address-limit',
    run(ctx) {
      const wait = throttle.retryAfter(ctx.clientAddress);
      if (wait > 0) return deny('RAMPART_AUTH_THROTTLED', { headers: { 'retry-after': String(wait) } });
      return limits?.checkAddress(ctx);
    },
  };
}
