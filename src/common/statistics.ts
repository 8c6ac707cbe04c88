/** Summary of one latency series (ms); failed attempts count in `n` and `successRate` only. */
export interface Statistics {
  n: number;
  successRate: number;
  min: number;
  median: number;
  p95: number;
  p99: number;
  max: number;
  mean: number;
}

/**
 * Summary statistics of one latency series, as ComputeSDK reports time-to-interactive: median,
 * P95, P99 and the success rate. Percentiles interpolate linearly between the two nearest ranks
 * (numpy's default, Hyndman-Fan type 7), so small series still give a P99 between the two
 * slowest samples instead of snapping to the maximum.
 *
 * `values` are the successful samples only; `attempts` counts every attempt, failed or not, so
 * `successRate = values.length / attempts`. With no successful sample every figure is NaN
 * (`null` in report.json): there is nothing to summarise, and 0 would read as "instant".
 */
export function computeStatistics(values: readonly number[], attempts: number = values.length): Statistics {
  const sorted = values.filter((v) => Number.isFinite(v)).sort((a, b) => a - b);
  const successRate = attempts > 0 ? sorted.length / attempts : 0;
  if (sorted.length === 0) {
    return { n: attempts, successRate, min: NaN, median: NaN, p95: NaN, p99: NaN, max: NaN, mean: NaN };
  }
  return {
    n: attempts,
    successRate,
    min: sorted[0]!,
    median: percentile(sorted, 0.5),
    p95: percentile(sorted, 0.95),
    p99: percentile(sorted, 0.99),
    max: sorted[sorted.length - 1]!,
    mean: sorted.reduce((sum, v) => sum + v, 0) / sorted.length,
  };
}

/** The `q`-quantile (0..1) of an ascending, non-empty array, linearly interpolated. */
export function percentile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) throw new RangeError('percentile of an empty series');
  const rank = (sorted.length - 1) * Math.min(1, Math.max(0, q));
  const lower = Math.floor(rank);
  const upper = Math.ceil(rank);
  return sorted[lower]! + (sorted[upper]! - sorted[lower]!) * (rank - lower);
}

/** The median of unsorted values (NaN when empty). */
export function median(values: readonly number[]): number {
  const sorted = values.filter((v) => Number.isFinite(v)).sort((a, b) => a - b);
  return sorted.length === 0 ? NaN : percentile(sorted, 0.5);
}

/**
 * A small seeded pseudo-random generator (mulberry32): uniform in [0, 1). Bootstrap intervals
 * use it so the same samples always give the same interval (reports and tests are reproducible).
 */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A ratio with its two-sided confidence interval. */
export interface RatioEstimate {
  /** median(numerator) / median(denominator). */
  value: number;
  low: number;
  high: number;
  /** Confidence level of [low, high], e.g. 0.95. */
  level: number;
  /** Bootstrap resamples drawn. */
  resamples: number;
}

export interface BootstrapOptions {
  /** @default 2000 */
  resamples?: number;
  /** @default 0.95 */
  level?: number;
  /** Seed of the generator, so the interval is reproducible. @default 1 */
  seed?: number;
}

/**
 * The ratio of medians `median(a) / median(b)` with a percentile bootstrap interval: both
 * series are resampled independently with replacement, the ratio of the resampled medians is
 * taken `resamples` times, and the interval is the (1-level)/2 and (1+level)/2 quantiles of
 * those ratios. Medians, not means, because startup series have long right tails. NaN figures
 * when either series is empty.
 *
 * @example bootstrapRatioOfMedians([110, 120, 130], [100, 100, 105]) // { value: 1.2, low: ..., high: ... }
 */
export function bootstrapRatioOfMedians(a: readonly number[], b: readonly number[], options: BootstrapOptions = {}): RatioEstimate {
  const resamples = options.resamples ?? 2_000;
  const level = options.level ?? 0.95;
  const xs = a.filter((v) => Number.isFinite(v));
  const ys = b.filter((v) => Number.isFinite(v));
  if (xs.length === 0 || ys.length === 0) return { value: NaN, low: NaN, high: NaN, level, resamples: 0 };
  const random = seededRandom(options.seed ?? 1);
  const draw = (values: number[]): number => {
    const picked = Array.from({ length: values.length }, () => values[Math.floor(random() * values.length)]!);
    return percentile(picked.sort((p, q) => p - q), 0.5);
  };
  const ratios: number[] = [];
  for (let i = 0; i < resamples; i++) ratios.push(draw(xs) / draw(ys));
  ratios.sort((p, q) => p - q);
  return {
    value: median(xs) / median(ys),
    low: percentile(ratios, (1 - level) / 2),
    high: percentile(ratios, (1 + level) / 2),
    level,
    resamples,
  };
}

/** Outcome of a two-sided Mann-Whitney U test. */
export interface RankTest {
  /** U of the first series. */
  u: number;
  /** Normal approximation with tie and continuity correction, two-sided. */
  pValue: number;
}

/**
 * Two-sided Mann-Whitney U test (Wilcoxon rank-sum) of whether `a` and `b` come from the same
 * distribution: ranks with ties averaged, a normal approximation with tie correction and a
 * continuity correction. It assumes nothing about the shape of the distributions, which suits
 * latencies; with fewer than ~8 samples a side the approximation is rough, so callers should
 * also demand a minimum relative change. p = 1 when either side is empty.
 */
export function mannWhitneyU(a: readonly number[], b: readonly number[]): RankTest {
  const xs = a.filter((v) => Number.isFinite(v));
  const ys = b.filter((v) => Number.isFinite(v));
  const n1 = xs.length;
  const n2 = ys.length;
  if (n1 === 0 || n2 === 0) return { u: NaN, pValue: 1 };
  const all = [...xs.map((v) => ({ v, first: true })), ...ys.map((v) => ({ v, first: false }))].sort((p, q) => p.v - q.v);
  let rankSum = 0;
  let tieTerm = 0;
  for (let i = 0; i < all.length; ) {
    let j = i;
    while (j + 1 < all.length && all[j + 1]!.v === all[i]!.v) j++;
    const rank = (i + j + 2) / 2; // ranks are 1-based: average of i+1..j+1
    const size = j - i + 1;
    tieTerm += size ** 3 - size;
    for (let k = i; k <= j; k++) if (all[k]!.first) rankSum += rank;
    i = j + 1;
  }
  const u = rankSum - (n1 * (n1 + 1)) / 2;
  const n = n1 + n2;
  const mean = (n1 * n2) / 2;
  const variance = ((n1 * n2) / 12) * (n + 1 - tieTerm / (n * (n - 1)));
  if (variance <= 0) return { u, pValue: 1 };
  const z = Math.max(0, Math.abs(u - mean) - 0.5) / Math.sqrt(variance);
  return { u, pValue: Math.min(1, 2 * (1 - normalCdf(z))) };
}

/** Standard normal CDF (Abramowitz-Stegun 7.1.26 erf, error < 1.5e-7). */
function normalCdf(z: number): number {
  const x = Math.abs(z) / Math.SQRT2;
  const t = 1 / (1 + 0.3275911 * x);
  const poly = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))));
  const erf = 1 - poly * Math.exp(-x * x);
  return z >= 0 ? (1 + erf) / 2 : (1 - erf) / 2;
}
