/**
 * Per-principal baselines (FC-3 "unusual user behaviour", ASVS 8.1.4): an exponentially weighted
 * mean and variance per feature, folded once per *active* minute of the principal (a minute in
 * which it made at least one request). Idle minutes are not folded: a retail customer who uses
 * the API ten minutes a day is compared with its own busy minutes, not with a day of zeros.
 *
 * What is folded for a minute is the peak, during that minute, of the same sliding-window sums
 * the detectors compare (requests, records, bytes, new object ids in the last 50-60 s), so the
 * baseline and the statistic it judges are measured the same way; the error share is the
 * minute's errors over its requests.
 *
 * Why EWMA and not a robust median/MAD: a median needs a window of samples per feature per
 * principal (60+ values x 5 features, about 2.4 KB) and a selection per fold; the EWMA needs two
 * numbers a feature and O(1) work, and adapts to slow drift. Its weakness, outliers, is handled
 * by (1) never folding a minute in which a finding fired, and (2) from the second minute on,
 * clipping a folded value at max(mean + clipSigmas x sd, 2 x mean) + 1 (winsorising), so one
 * burst cannot inflate the variance, a slow climb moves the baseline by at most that much per
 * minute (damped by the half-life), and a young baseline, which learns fast (alpha = 1/n), can
 * at most double per minute: the first, partial minute of a pull, still under the threshold,
 * cannot lift the threshold above the pull.
 * The first 1/alpha minutes use alpha = 1/n (the plain running mean), so a young baseline is not
 * biased toward zero.
 *
 * Mean and variance are blind to the time of day: a service account that runs three times
 * faster every night between 01:00 and 03:00 has a mean dominated by its day-time rate, and its
 * nightly peak sits many deviations above it. So each volume feature also keeps an envelope, a
 * decaying maximum of the (clipped) minutes folded: P = max(P x decay, x), halving over
 * `envelopeHalfLife` active minutes. A peak that recurs within the half-life (daily, for a
 * principal active all day) stays remembered, and thresholds are at least a multiple of it.
 * Only minutes without a finding are folded, so the envelope never learns an attack.
 */

/** Feature indexes, shared with the short window (model.ts). */
export const F_REQUESTS = 0;
export const F_RECORDS = 1;
export const F_BYTES = 2;
export const F_NOVEL = 3;
export const F_ERROR_SHARE = 4;
export const FEATURE_COUNT = 5;
export const FEATURE_NAMES: readonly string[] = ['requests', 'records', 'bytes', 'new object ids', 'error share'];

/**
 * EWMA mean and variance per feature.
 *
 * @example
 * const b = new Baseline();
 * const alpha = alphaForHalfLife(720);
 * for (const x of [10, 12, 9, 11]) b.fold(Float64Array.of(x, 0, 0, 0, 0), alpha, 4);
 * b.mean(0); // 10.5
 */
export class Baseline {
  /** Numbers a baseline takes in a shared store: mean and variance per feature, an envelope per volume feature. */
  static readonly SIZE = 2 * FEATURE_COUNT + F_ERROR_SHARE;
  /** Active minutes folded. */
  n = 0;

  /** `store` from `offset`: means, then variances, then envelopes (may be shared with other state). */
  constructor(
    private readonly store: Float64Array = new Float64Array(Baseline.SIZE),
    private readonly offset = 0,
  ) {}

  /**
   * Folds one active minute: `x[xOffset + i]` for each feature. `decay`: the envelope's factor
   * per fold (envelopeDecay()).
   */
  fold(x: Float64Array, alpha: number, clipSigmas: number, decay = 1, xOffset = 0): void {
    const clip = this.n > 0;
    this.n++;
    const a = Math.max(alpha, 1 / this.n);
    const st = this.store;
    const m = this.offset;
    const v = m + FEATURE_COUNT;
    const p = v + FEATURE_COUNT;
    for (let i = 0; i < FEATURE_COUNT; i++) {
      let xi = x[xOffset + i]!;
      const mi = st[m + i]!;
      const vi = st[v + i]!;
      if (clip) {
        const bySd = mi + clipSigmas * Math.sqrt(vi);
        const cap = (bySd > 2 * mi ? bySd : 2 * mi) + 1;
        if (xi > cap) xi = cap;
      }
      const d = xi - mi;
      st[m + i] = mi + a * d;
      st[v + i] = (1 - a) * (vi + a * d * d);
      if (i < F_ERROR_SHARE) {
        const pi = st[p + i]! * decay;
        st[p + i] = xi > pi ? xi : pi;
      }
    }
  }

  /** The envelope of a volume feature (0 for the error share). */
  peak(i: number): number {
    return i < F_ERROR_SHARE ? this.store[this.offset + 2 * FEATURE_COUNT + i]! : 0;
  }

  mean(i: number): number {
    return this.store[this.offset + i]!;
  }

  sd(i: number): number {
    return Math.sqrt(this.store[this.offset + FEATURE_COUNT + i]!);
  }
}

/**
 * The EWMA weight whose influence halves after `minutes` folds.
 *
 * @example
 * alphaForHalfLife(1); // 0.5
 */
export function alphaForHalfLife(minutes: number): number {
  return 1 - Math.pow(2, -1 / minutes);
}

/**
 * The envelope's decay per fold for a half-life in active minutes.
 *
 * @example
 * envelopeDecay(2880) ** 2880; // 0.5
 */
export function envelopeDecay(halfLifeMinutes: number): number {
  return Math.pow(2, -1 / halfLifeMinutes);
}
