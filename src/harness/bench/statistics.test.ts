import { describe, expect, it } from 'vitest';
import { computeStatistics, percentile } from './statistics.js';

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
