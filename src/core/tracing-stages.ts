/**
 * Stage spans: wraps each stage of a configuration version so that its run is reported to the
 * tracer (./tracing.ts). Applied by the composition root only when tracing is configured, so the
 * pipeline without tracing is exactly the composer's (no wrapper, no clock read).
 *
 * A wrapped stage keeps the stage contract (./stage.ts): it answers synchronously when the stage
 * does, and an exception still propagates to the composer, which denies (fail closed).
 */
import type { Stage, StageResult } from './stage.js';
import type { Tracer } from './tracing.js';

export function traceStages(stages: readonly Stage[], tracer: Tracer): Stage[] {
  return stages.map((s) => traced(s, tracer));
}

function traced(stage: Stage, tracer: Tracer): Stage {
  const name = stage.name;
  return {
    name,
    run(ctx) {
      const t0 = process.hrtime.bigint();
      let r: StageResult | Promise<StageResult>;
      try {
        r = stage.run(ctx);
      } catch (err) {
        tracer.stage(ctx, name, t0, process.hrtime.bigint(), undefined, true);
        throw err;
      }
      if (r instanceof Promise) {
        return r.then(
          (d) => {
            tracer.stage(ctx, name, t0, process.hrtime.bigint(), d?.code, false);
            return d;
          },
          (err: unknown) => {
            tracer.stage(ctx, name, t0, process.hrtime.bigint(), undefined, true);
            throw err;
          },
        );
      }
      tracer.stage(ctx, name, t0, process.hrtime.bigint(), r?.code, false);
      return r;
    },
  };
}
