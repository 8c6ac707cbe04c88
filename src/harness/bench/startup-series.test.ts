import { describe, expect, it } from 'vitest';
import type { LegId, StartupSample } from '../results.js';
import { evaluateStartupReferences } from './startup-references.js';
import { type BenchEvent, runSeries, seriesFigures, summariseBurst, summariseSeries } from './startup-series.js';

const leg: LegId = { scheduler: 'local', driver: 'process' };
const okSample = (ms: number): StartupSample => ({ ok: true, placedMs: ms / 4, healthyMs: ms / 2, firstExecMs: ms });

describe('runSeries', () => {
  it('takes sequential samples one at a time, in order, and reports progress', async () => {
    let running = 0;
    let maxRunning = 0;
    const events: BenchEvent[] = [];
    const series = await runSeries({
      leg,
      plan: { mode: 'sequential', count: 3 },
      sample: async (i) => {
        running++;
        maxRunning = Math.max(maxRunning, running);
        await new Promise((r) => setTimeout(r, 5));
        running--;
        return okSample(100 * (i + 1));
      },
      onEvent: (e) => events.push(e),
    });
    expect(maxRunning).toBe(1);
    expect(series.samples.map((s) => s.firstExecMs)).toEqual([100, 200, 300]);
    expect(series.stats).toMatchObject({ n: 3, successRate: 1, median: 200 });
    expect(events.map((e) => e.type)).toEqual(['bench:start', 'bench:sample', 'bench:sample', 'bench:sample', 'bench:end']);
  });

  it('launches a burst all at once', async () => {
    let running = 0;
    let maxRunning = 0;
    await runSeries({
      leg,
      plan: { mode: 'burst', count: 4 },
      sample: async () => {
        running++;
        maxRunning = Math.max(maxRunning, running);
        await new Promise((r) => setTimeout(r, 20));
        running--;
        return okSample(10);
      },
    });
    expect(maxRunning).toBe(4);
  });

  it('launches a burst in rounds of burstSize', async () => {
    let running = 0;
    let maxRunning = 0;
    const series = await runSeries({
      leg,
      plan: { mode: 'burst', count: 5, burstSize: 2 },
      sample: async () => {
        running++;
        maxRunning = Math.max(maxRunning, running);
        await new Promise((r) => setTimeout(r, 10));
        running--;
        return okSample(10);
      },
    });
    expect(maxRunning).toBe(2);
    expect(series.samples).toHaveLength(5);
  });

  it('staggers launches by staggerMs without waiting for the previous start', async () => {
    const launchedAt: number[] = [];
    let running = 0;
    let maxRunning = 0;
    await runSeries({
      leg,
      plan: { mode: 'staggered', count: 3, staggerMs: 10 },
      sample: async (i) => {
        launchedAt[i] = performance.now();
        running++;
        maxRunning = Math.max(maxRunning, running);
        await new Promise((r) => setTimeout(r, 60));
        running--;
        return okSample(10);
      },
    });
    // Ordering and overlap, not durations: a launch never precedes the one before it, and the
    // 60 ms samples overlap because launches are 10 ms apart.
    expect(launchedAt[1]!).toBeGreaterThanOrEqual(launchedAt[0]!);
    expect(launchedAt[2]!).toBeGreaterThanOrEqual(launchedAt[1]!);
    expect(maxRunning).toBeGreaterThan(1);
  });

  it('stops when aborted and keeps the samples already taken, marked aborted', async () => {
    const controller = new AbortController();
    const series = await runSeries({
      leg,
      plan: { mode: 'sequential', count: 5 },
      signal: controller.signal,
      sample: async (i) => {
        if (i === 2) controller.abort();
        return okSample(100 * (i + 1));
      },
    });
    // #0 and #1 finished before the abort; #2 was in flight and returned, #3 never started
    expect(series.aborted).toBe(true);
    expect(series.samples.map((s) => s.firstExecMs)).toEqual([100, 200, 300]);
    expect(series.stats.n).toBe(3);
  });

  it('rethrows a sampler error that is not an abort', async () => {
    await expect(
      runSeries({ leg, plan: { mode: 'burst', count: 2 }, sample: async () => Promise.reject(new Error('bug in sampler')) }),
    ).rejects.toThrow('bug in sampler');
  });
});

describe('summariseSeries', () => {
  it('counts failures in the success rate and excludes them from the latency figures', () => {
    const series = summariseSeries(leg, 'burst', [okSample(100), { ok: false, error: 'boom' }, okSample(300)]);
    expect(series.stats).toMatchObject({ n: 3, median: 200, min: 100, max: 300 });
    expect(series.stats.successRate).toBeCloseTo(2 / 3);
    expect(series.phases.healthy).toMatchObject({ median: 100 });
    expect(series.recommendedHealthTimeoutMs?.value).toBe(2_000);
  });

  it('gives no health-timeout advice for a warm series', () => {
    const warm = summariseSeries(leg, 'warm', [{ ok: true, firstExecMs: 3 }]);
    expect(warm.recommendedHealthTimeoutMs).toBeUndefined();
    expect(warm.phases.healthy).toBeUndefined();
  });

  it('judges figures against the references, mode-specific names first', () => {
    const table = {
      '*': { 'startup.median': { value: 100, lower: null, upper: 0.5, unit: 'ms' } },
      'local x process': { 'startup.burst.p99': { value: 100, lower: null, upper: 0.1, unit: 'ms' } },
    };
    const samples = [okSample(100), okSample(140)];
    const burst = summariseSeries(leg, 'burst', samples, evaluateStartupReferences(table, leg, 'burst'));
    const byMetric = Object.fromEntries(burst.verdicts.map((v) => [v.metric, v.state]));
    expect(byMetric).toMatchObject({
      'startup.median': 'within', // 120 <= 150
      'startup.burst.p99': 'beyond', // 139.6 > 110
      'startup.p95': 'no-reference',
      'startup.successRate': 'no-reference',
    });
    expect(seriesFigures(burst)['healthy.median']).toBe(60);
  });
});

describe('the overhead reference', () => {
  const table = { '*': { 'startup.overhead': { value: 1.15, lower: null, upper: 0, unit: 'ratio' } } };
  const judge = evaluateStartupReferences(table, leg, 'sequential');

  it('is within while the 95% interval reaches inside the bound (noise on a busy machine)', () => {
    const verdict = judge({ overhead: 1.2, 'overhead.low': 1.05, 'overhead.high': 1.4 }).find((v) => v.metric === 'startup.overhead');
    expect(verdict).toMatchObject({ state: 'within', value: 1.2 });
    expect(verdict?.message).toBe('startup.overhead = 1.20 is above its bound, but its 95% interval [1.05-1.40] reaches inside it (noise): within');
  });

  it('is beyond when the whole interval is', () => {
    const verdict = judge({ overhead: 1.5, 'overhead.low': 1.3, 'overhead.high': 1.7 }).find((v) => v.metric === 'startup.overhead');
    expect(verdict?.state).toBe('beyond');
    expect(verdict?.message).toBe('1.5 is beyond reference value 1.15 (l=-inf, u=1.15); 95% interval [1.30-1.70] entirely beyond');
  });
});

describe('summariseBurst', () => {
  const ok = (ms: number): StartupSample => ({ ok: true, placedMs: ms / 4, healthyMs: ms / 2, firstExecMs: ms });

  it('times each round until its last start is ready, and gives P50, P99 and their ratio', () => {
    const burst = summariseBurst([ok(100), ok(120), ok(300), ok(110), ok(130), ok(150)], 3);
    expect(burst).toMatchObject({ size: 3, rounds: 2, successRate: 1 });
    expect(burst.allReady).toMatchObject({ n: 2, min: 150, max: 300, median: 225 });
    expect(burst.p50).toBe(125);
    expect(burst.p99).toBeCloseTo(292.5);
    expect(burst.tailRatio).toBeCloseTo(292.5 / 125);
  });

  it('gives a round with a failed start no all-ready time (the trainer is still waiting)', () => {
    const burst = summariseBurst([ok(100), { ok: false, error: 'timeout' }, ok(200), ok(210)], 2);
    expect(burst.successRate).toBe(0.75);
    expect(burst.allReady).toMatchObject({ n: 2, successRate: 0.5, median: 210 });
  });
});
