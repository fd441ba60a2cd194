/**
 * Scores and thresholds (docs/anomaly.md "Score"). Every detector reduces what it saw to a ratio
 * r = observed / threshold, and the score is
 *
 *     score = alert + (throttle - alert) x log2(r)        (r >= 1), capped at 10
 *
 * so with the defaults (alert 4, throttle 7, block 9) the threshold itself scores 4 (alert),
 * twice the threshold 7 (throttle) and about 3.2 x the threshold 9 (block). Fixed-score cases
 * (a new network, a dormant account) carry their score in the config. The action is the highest
 * level the score reaches, capped by the kind's `maxAction`.
 */
import type { ActionLevel } from './types.js';

export const MAX_SCORE = 10;

/**
 * The threshold a warm principal's window sum is compared with: at least the floor, `multiple`
 * times its usual value, `sigmas` standard deviations over it, and `envelopeMultiple` times the
 * highest minute it has recently had (baseline.ts, envelope).
 *
 * @example
 * threshold(30, 10, 5, 3, 4, 18, 1.5);  // max(30, 30, 10 + 4*5 = 30, 27) = 30
 */
export function threshold(floor: number, mean: number, sd: number, multiple: number, sigmas: number, peak: number, envelopeMultiple: number): number {
  const a = multiple * mean;
  const b = mean + sigmas * sd;
  const c = envelopeMultiple * peak;
  return Math.max(floor, a, b, c);
}

/**
 * Score of a ratio observed/threshold (0 below 1).
 *
 * @example
 * ratioScore(1, 4, 7);   // 4
 * ratioScore(2, 4, 7);   // 7
 * ratioScore(0.9, 4, 7); // 0
 */
export function ratioScore(r: number, alert: number, throttle: number): number {
  if (!(r >= 1)) return 0;
  const s = alert + (throttle - alert) * Math.log2(r);
  return s > MAX_SCORE ? MAX_SCORE : s;
}

/** 0 none, 1 alert, 2 throttle, 3 block. */
export type Level = 0 | 1 | 2 | 3;

export const LEVEL_OF: Readonly<Record<ActionLevel, Level>> = Object.freeze({ alert: 1, throttle: 2, block: 3 });
export const ACTION_OF: readonly (ActionLevel | undefined)[] = [undefined, 'alert', 'throttle', 'block'];

/**
 * The level a score reaches.
 *
 * @example
 * levelOf(7.5, { alert: 4, throttle: 7, block: 9 }); // 2 (throttle)
 */
export function levelOf(score: number, s: { alert: number; throttle: number; block: number }): Level {
  return score >= s.block ? 3 : score >= s.throttle ? 2 : score >= s.alert ? 1 : 0;
}
