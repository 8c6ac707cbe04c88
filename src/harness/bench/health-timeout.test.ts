import { describe, expect, it } from 'vitest';
import { recommendHealthTimeout } from './health-timeout.js';
import { computeStatistics } from '../../common/statistics.js';

describe('recommendHealthTimeout', () => {
  it('adds one second to a small P99 and rounds up to a whole second', () => {
    const rec = recommendHealthTimeout(computeStatistics([100, 200, 300]));
    // P99 = 298 ms: 2 x P99 = 596 < P99 + 1 s = 1298 -> 2000
    expect(rec?.value).toBe(2_000);
    expect(rec?.basis).toContain('max(2 x P99, P99 + 1 s)');
    expect(rec?.basis).toContain('3 of 3 starts');
  });

  it('doubles a large P99', () => {
    // P99 = 5000 ms: 2 x P99 = 10000 > 6000 -> 10000
    expect(recommendHealthTimeout(computeStatistics([5_000]))?.value).toBe(10_000);
  });

  it('gives no advice without a healthy sample', () => {
    expect(recommendHealthTimeout(computeStatistics([], 3))).toBeUndefined();
    expect(recommendHealthTimeout(undefined)).toBeUndefined();
  });
});
