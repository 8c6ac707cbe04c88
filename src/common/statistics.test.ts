import { describe, expect, it } from 'vitest';
import { bootstrapRatioOfMedians, computeStatistics, mannWhitneyU, percentile, seededRandom } from './statistics.js';

describe('computeStatistics', () => {
  it('interpolates percentiles linearly between ranks', () => {
    const values = Array.from({ length: 100 }, (_, i) => i + 1); // 1..100
    const stats = computeStatistics(values);
    expect(stats).toMatchObject({ n: 100, successRate: 1, min: 1, max: 100, mean: 50.5 });
    expect(stats.median).toBeCloseTo(50.5);
    expect(stats.p95).toBeCloseTo(95.05);
    expect(stats.p99).toBeCloseTo(99.01);
  });

  it('sorts its input and counts failed attempts in the success rate', () => {
    const stats = computeStatistics([30, 10, 20], 4);
    expect(stats).toMatchObject({ n: 4, successRate: 0.75, min: 10, median: 20, max: 30 });
  });

  it('gives NaN figures (null in JSON) when nothing succeeded', () => {
    const stats = computeStatistics([], 5);
    expect(stats.successRate).toBe(0);
    expect(stats.median).toBeNaN();
    expect(JSON.parse(JSON.stringify(stats)).p99).toBeNull();
  });

  it('returns the only value of a one-sample series for every percentile', () => {
    expect(computeStatistics([42])).toMatchObject({ median: 42, p95: 42, p99: 42 });
  });
});

describe('percentile', () => {
  it('refuses an empty series', () => {
    expect(() => percentile([], 0.5)).toThrow(RangeError);
  });
});

describe('bootstrapRatioOfMedians', () => {
  const ours = [120, 118, 125, 131, 122, 119, 127, 124, 121, 140];
  const bare = [100, 98, 103, 101, 99, 104, 100, 102, 97, 110];

  it('gives the ratio of medians with an interval around it', () => {
    const r = bootstrapRatioOfMedians(ours, bare);
    expect(r.value).toBeCloseTo(123 / 100.5, 6);
    expect(r.low).toBeLessThanOrEqual(r.value);
    expect(r.high).toBeGreaterThanOrEqual(r.value);
    expect(r.low).toBeGreaterThan(1.1);
    expect(r.high).toBeLessThan(1.35);
    expect(r).toMatchObject({ level: 0.95, resamples: 2000 });
  });

  it('is reproducible for one seed and changes with another', () => {
    expect(bootstrapRatioOfMedians(ours, bare, { seed: 7 })).toEqual(bootstrapRatioOfMedians(ours, bare, { seed: 7 }));
    expect(bootstrapRatioOfMedians(ours, bare, { seed: 7 }).low).not.toBe(bootstrapRatioOfMedians(ours, bare, { seed: 8 }).low);
  });

  it('gives NaN when a side has no successful sample', () => {
    expect(bootstrapRatioOfMedians([], bare).value).toBeNaN();
    expect(bootstrapRatioOfMedians(ours, [NaN]).low).toBeNaN();
  });
});

describe('seededRandom', () => {
  it('stays within [0, 1) and repeats for the same seed', () => {
    const a = seededRandom(42);
    const b = seededRandom(42);
    const draws = Array.from({ length: 1000 }, () => a());
    expect(draws.every((v) => v >= 0 && v < 1)).toBe(true);
    expect(draws.slice(0, 5)).toEqual(Array.from({ length: 5 }, () => b()));
  });
});

describe('mannWhitneyU', () => {
  it('finds no difference between two halves of one distribution', () => {
    const a = [10, 12, 11, 13, 12, 10, 11, 14];
    const b = [11, 12, 10, 13, 12, 11, 14, 10];
    expect(mannWhitneyU(a, b).pValue).toBeGreaterThan(0.5);
  });

  it('finds a shift between separated series (p as scipy gives, with continuity correction)', () => {
    const a = [1, 2, 3, 4, 5, 6, 7, 8];
    const b = [9, 10, 11, 12, 13, 14, 15, 16];
    const test = mannWhitneyU(a, b);
    expect(test.u).toBe(0);
    // scipy.stats.mannwhitneyu(a, b, method='asymptotic') -> p = 0.000931
    expect(test.pValue).toBeCloseTo(0.000931, 4);
  });

  it('returns p = 1 when a side is empty or every value ties', () => {
    expect(mannWhitneyU([], [1]).pValue).toBe(1);
    expect(mannWhitneyU([5, 5], [5, 5]).pValue).toBe(1);
  });
});
