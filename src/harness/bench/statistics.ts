import type { Statistics } from '../results.js';

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
