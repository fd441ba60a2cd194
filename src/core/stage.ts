/**
 * The stage contract (STYLE point 1): a stage is built once per configuration version by a
 * factory that checks its options and precomputes; per request it returns nothing to continue,
 * or a Denial. Synchronous stages return synchronously so the hot path allocates no promises.
 * "Not responsible" is a value (continue), not an error; an exception in a stage denies the
 * request (fail closed) with RAMPART_INTERNAL.
 */
import type { Denial, RequestContext } from './context.js';

export type StageResult = Denial | undefined;

export interface Stage {
  /** Stable stage name, recorded in the ledger as the deciding stage. */
  readonly name: StageName;
  run(ctx: RequestContext): StageResult | Promise<StageResult>;
}

/** Pipeline order from DESIGN.md; later stages (principal limit, inspect, authorize) slot in. */
export type StageName =
  | 'parse'
  | 'address-limit'
  | 'route'
  | 'authenticate'
  | 'scope'
  | 'principal-limit'
  | 'validate'
  | 'inspect'
  | 'authorize'
  | 'ledger'
  | 'proxy'
  | 'respond';

export function deny(code: Denial['code'], extra?: Omit<Denial, 'code'>): Denial {
  return extra ? { code, ...extra } : { code };
}
