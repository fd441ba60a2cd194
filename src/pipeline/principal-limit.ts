/**
 * Stage `principal-limit`: after the scope check (a caller without the scope learns nothing from
 * a 429) and before the body is read: the rate limits and volume quotas of the principal, the
 * credential and the operation (API4, API6), and what the anomaly model decided about them
 * (FC-3). See ../threat/limits-runtime.ts for the keys and the order of checks.
 */
import type { Stage } from '../core/stage.js';
import type { LimitsRuntime } from '../threat/limits-runtime.js';

export function createPrincipalLimitStage(limits: LimitsRuntime): Stage {
  return {
    name: 'principal-limit',
    run: (ctx) => limits.checkPrincipal(ctx),
  };
}
