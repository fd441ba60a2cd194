/**
 * Stage `address-limit`: an address that failed authentication too often gets 429 before any
 * credential is looked at (N63-5, ASVS 2.2.1). General per-address rate limits slot in here
 * with the rate-limit work.
 */
import { deny, type Stage } from '../core/stage.js';
import type { AuthThrottle } from './auth-throttle.js';

export function createAddressLimitStage(throttle: AuthThrottle): Stage {
  return {
    name: 'address-limit',
    run(ctx) {
      const wait = throttle.retryAfter(ctx.clientAddress);
      if (wait > 0) return deny('RAMPART_AUTH_THROTTLED', { headers: { 'retry-after': String(wait) } });
      return undefined;
    },
  };
}
