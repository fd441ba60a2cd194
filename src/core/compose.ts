/**
 * The composer: runs stages in order until one denies (STYLE: hono's compose, but linear: the
 * data plane has no "after" half; the respond side is the proxy's streaming path). Returns the
 * denial with the deciding stage filled in. An exception in a stage is a denial (fail closed).
 */
import type { Denial, RequestContext } from './context.js';
import type { Stage, StageResult } from './stage.js';

export type Pipeline = (ctx: RequestContext) => Denial | undefined | Promise<Denial | undefined>;

export function compose(stages: readonly Stage[]): Pipeline {
  const list = stages.slice();
  const n = list.length;
  function fail(stage: Stage, err: unknown): Denial {
    return { code: 'RAMPART_INTERNAL', stage: stage.name, cause: err };
  }
  // Runs synchronously as long as stages answer synchronously; switches to async at the first
  // promise, so the common all-sync path costs no microtask per stage.
  async function continueAsync(ctx: RequestContext, i: number, pending: Promise<StageResult>): Promise<Denial | undefined> {
    let stage = list[i]!;
    let r: StageResult;
    try {
      r = await pending;
    } catch (err) {
      return fail(stage, err);
    }
    if (r) return { ...r, stage: r.stage ?? stage.name };
    for (i = i + 1; i < n; i++) {
      stage = list[i]!;
      try {
        r = await stage.run(ctx);
      } catch (err) {
        return fail(stage, err);
      }
      if (r) return { ...r, stage: r.stage ?? stage.name };
    }
    return undefined;
  }
  return function run(ctx) {
    for (let i = 0; i < n; i++) {
      const stage = list[i]!;
      let r: StageResult | Promise<StageResult>;
      try {
        r = stage.run(ctx);
      } catch (err) {
        return fail(stage, err);
      }
      if (r === undefined) continue;
      if (r instanceof Promise) return continueAsync(ctx, i, r);
      return { ...r, stage: r.stage ?? stage.name };
    }
    return undefined;
  };
}
