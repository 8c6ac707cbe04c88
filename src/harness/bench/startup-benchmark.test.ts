import { describe, expect, it } from 'vitest';
import type { Driver, DriverName } from '../../drivers/driver.js';
import type { Placement, Scheduler } from '../../schedulers/scheduler.js';
import type { HarnessComponents } from '../components.js';
import { runSuite } from '../runner.js';
import type { SandboxApi } from '../sandbox-api.js';
import { parseSuite } from '../suite/load.js';
import type { WarmupEvent } from './benchmark-leg.js';
import { startupBenchmark } from './startup-benchmark.js';
import type { BenchEvent } from './startup-series.js';

const SUITE = `
name: startup-test
matrix: { scheduler: [local], driver: [process, docker] }
benchmarks:
  startup: { modes: [sequential, burst], iterations: 3, burstSize: 3, warmup: 1 }
references:
  '*':
    startup.median: { value: 1000, lower: null, upper: 0.5, unit: ms }
`;

/** Stand-in runtime: placements become healthy at once; counts every place and stop. */
function fakeComponents(options: { dockerMissing?: boolean; execFails?: boolean; placeMs?: number } = {}) {
  const counts = { placed: 0, stopped: 0 };
  const scheduler = {
    name: 'local',
    async place() {
      counts.placed++;
      if (options.placeMs) await new Promise((resolve) => setTimeout(resolve, options.placeMs));
      const now = performance.timeOrigin + performance.now();
      const timestamps: Placement['timestamps'] = { submitted: now, placed: now };
      return {
        url: `http://127.0.0.1:${counts.placed}`,
        timestamps,
        async waitUntilHealthy() {
          timestamps.healthy = performance.timeOrigin + performance.now();
        },
        async stop() {
          counts.stopped++;
        },
      } as unknown as Placement;
    },
    async close() {},
  } as unknown as Scheduler;
  const driver = (name: DriverName): Driver =>
    ({
      name,
      detect: async () =>
        name === 'docker' && options.dockerMissing ? { available: false, reason: 'docker: cannot connect to /var/run/docker.sock' } : { available: true, version: `${name} 1.0` },
      plan: async () => ({ kind: 'exec', driver: name, argv: ['true'], env: {}, processGroup: false }),
    }) as Driver;
  const client = (): SandboxApi =>
    ({
      bash: async () =>
        options.execFails
          ? { success: false, stdout: '', stderr: 'bash: not found', exitCode: 127, timedOut: false, raw: {} }
          : { success: true, stdout: 'benchmark\n', stderr: '', exitCode: 0, timedOut: false, raw: {} },
    }) as unknown as SandboxApi;
  const components: HarnessComponents = {
    driver,
    openScheduler: async () => ({ available: true, scheduler, version: 'local', double: false, close: async () => {} }),
    ensureImage: async (_d, spec) => spec.image,
    client,
  };
  return { components, counts };
}

describe('startupBenchmark through runSuite', () => {
  it('benchmarks every available leg and mode, skips a missing driver, stops every placement', async () => {
    const { components, counts } = fakeComponents({ dockerMissing: true });
    const suite = parseSuite(SUITE, 'startup.yaml');
    const events: Array<BenchEvent | WarmupEvent> = [];
    const report = await runSuite(suite, { command: 'bench', components, env: {}, benchmark: startupBenchmark(suite, { components, bare: false, onEvent: (e) => events.push(e) }) });
    expect(report.command).toBe('bench');
    expect(report.legs.map((l) => [l.name, l.state, l.reason])).toEqual([
      ['local x process', 'passed', undefined],
      ['local x docker', 'skipped', 'docker: cannot connect to /var/run/docker.sock'],
    ]);
    expect(report.benchmarks.map((s) => [s.name, s.mode, s.stats.n, s.stats.successRate])).toEqual([
      ['local x process', 'sequential', 3, 1],
      ['local x process', 'burst', 3, 1],
    ]);
    expect(report.benchmarks[0]!.verdicts.find((v) => v.metric === 'startup.median')?.state).toBe('within');
    // 1 warm-up + 3 sequential + 3 burst, every one stopped
    expect(counts).toEqual({ placed: 7, stopped: 7 });
    expect(report.summary.verdict).toBe('pass');
    expect(events.map((e) => e.type).filter((t, i, all) => all.indexOf(t) === i)).toEqual(['bench:warmup', 'bench:start', 'bench:sample', 'bench:end']);
  });

  it('fails the run when no start of a series succeeds, quoting the error', async () => {
    const { components, counts } = fakeComponents({ execFails: true });
    const suite = parseSuite(
      `
name: startup-fail
matrix: { scheduler: [local], driver: [process] }
sandbox: { healthTimeoutMs: 300 }
benchmarks:
  startup: { modes: [sequential], iterations: 2, warmup: 0 }
`,
      'startup.yaml',
    );
    const report = await runSuite(suite, { command: 'bench', components, env: {}, benchmark: startupBenchmark(suite, { components, bare: false }) });
    const verdict = report.benchmarks[0]!.verdicts.find((v) => v.metric === 'startup.sequential.successRate');
    expect(verdict?.state).toBe('beyond');
    expect(verdict?.message).toMatch(/^0 of 2 sequential starts succeeded \(first error: no successful exec within 300 ms \(echo benchmark in slot_0 of http:\/\/127\.0\.0\.1:1 did not succeed: success=false exit=127/);
    expect(counts).toEqual({ placed: 2, stopped: 2 });
    expect(report.summary.verdict).toBe('fail');
  });

  it('refuses a suite without a startup benchmark section', () => {
    const suite = parseSuite('name: x\nmatrix: { scheduler: [local], driver: [process] }\n', 'x.yaml');
    expect(() => startupBenchmark(suite)).toThrow(/has no `benchmarks.startup` section/);
  });

  it('runs warm starts on the pool it is given, and keeps the cold series when no pool starts', async () => {
    const suiteText = SUITE.replace('modes: [sequential, burst]', 'modes: [sequential, warm]').replace('driver: [process, docker]', 'driver: [process]');
    const suite = parseSuite(suiteText, 'startup.yaml');
    let closed = 0;
    const { components } = fakeComponents();
    const working = await runSuite(suite, {
      command: 'bench',
      components,
      env: {},
      benchmark: startupBenchmark(suite, {
        components,
        bare: false,
        openWarmSlots: async () => ({ sample: async () => ({ ok: true, firstExecMs: 4 }), close: async () => void closed++ }),
      }),
    });
    expect(working.benchmarks.map((s) => [s.mode, s.stats.n, s.stats.median])).toEqual([
      ['sequential', 3, expect.any(Number)],
      ['warm', 3, 4],
    ]);
    expect(closed).toBe(1);

    const broken = await runSuite(suite, {
      command: 'bench',
      components,
      env: {},
      benchmark: startupBenchmark(suite, { components, bare: false, openWarmSlots: async () => Promise.reject(new Error('SlotPool could not start')) }),
    });
    expect(broken.benchmarks.map((s) => [s.mode, s.stats.successRate])).toEqual([
      ['sequential', 1],
      ['warm', 0],
    ]);
    expect(broken.benchmarks[1]!.samples[0]!.error).toBe('no warm pool: SlotPool could not start');
    expect(broken.summary.verdict).toBe('fail');
  });

  /** A bare runtime that takes `ms` per start, like our fake scheduler with `placeMs`. */
  const fakeBare = (ms: number) => async () => ({
    label: 'fake bare',
    sample: async () => {
      const started = performance.now();
      await new Promise((resolve) => setTimeout(resolve, ms));
      const elapsed = performance.now() - started;
      return { ok: true, placedMs: elapsed, healthyMs: elapsed, firstExecMs: elapsed };
    },
  });
  const overheadSuite = `
name: overhead
matrix: { scheduler: [local], driver: [process] }
benchmarks:
  startup: { modes: [sequential, burst], iterations: 6, burstSize: 3, warmup: 0 }
references:
  '*':
    startup.overhead: { value: 1.5, lower: null, upper: 0, unit: ratio }
`;

  it('measures the bare runtime beside every cold series and judges the overhead ratio', async () => {
    const { components } = fakeComponents({ placeMs: 20 });
    const suite = parseSuite(overheadSuite, 'startup.yaml');
    const report = await runSuite(suite, { command: 'bench', components, env: {}, benchmark: startupBenchmark(suite, { components, bare: fakeBare(20) }) });
    for (const series of report.benchmarks) {
      expect(series.baseline?.runtime).toBe('fake bare');
      expect(series.baseline?.stats.n).toBe(6);
      expect(series.overhead?.low).toBeLessThanOrEqual(series.overhead!.value);
      expect(Number.isFinite(series.overhead?.value)).toBe(true);
      expect(series.verdicts.find((v) => v.metric === 'startup.overhead')?.state).toBe('within');
    }
    expect(report.benchmarks[1]!.burst).toMatchObject({ size: 3, rounds: 2, successRate: 1 });
    expect(report.summary.verdict).toBe('pass');
  });

  it('fails on the overhead ratio when placement is made slower on purpose, the bare runtime unchanged', async () => {
    const { components } = fakeComponents({ placeMs: 20 });
    const suite = parseSuite(overheadSuite, 'startup.yaml');
    const report = await runSuite(suite, {
      command: 'bench',
      components,
      env: {},
      benchmark: startupBenchmark(suite, { components, bare: fakeBare(20), placementDelayMs: 40 }),
    });
    const verdict = report.benchmarks[0]!.verdicts.find((v) => v.metric === 'startup.overhead');
    expect(verdict?.state).toBe('beyond');
    expect(verdict?.message).toMatch(/^\d+(\.\d+)? is beyond reference value 1\.5 \(l=-inf, u=1\.5\); 95% interval \[\d\.\d\d-\d\.\d\d\] entirely beyond$/);
    expect(report.benchmarks[0]!.overhead!.low).toBeGreaterThan(1.5);
    expect(report.summary.verdict).toBe('fail');
  });

  it('records why a leg has no baseline and still reports its figures', async () => {
    const { components } = fakeComponents();
    const suite = parseSuite(overheadSuite, 'startup.yaml');
    const report = await runSuite(suite, {
      command: 'bench',
      components,
      env: {},
      benchmark: startupBenchmark(suite, { components, bare: async () => ({ unavailable: 'no bare baseline for slurm legs yet' }) }),
    });
    expect(report.benchmarks[0]!.baselineUnavailable).toBe('no bare baseline for slurm legs yet');
    expect(report.benchmarks[0]!.overhead).toBeUndefined();
    expect(report.benchmarks[0]!.verdicts.find((v) => v.metric === 'startup.overhead')).toBeUndefined();
  });

  it('--burst N adds the burst mode and runs whole rounds of N', async () => {
    const { components, counts } = fakeComponents();
    const suite = parseSuite(SUITE.replace('modes: [sequential, burst]', 'modes: [sequential]').replace('driver: [process, docker]', 'driver: [process]'), 'startup.yaml');
    const report = await runSuite(suite, { command: 'bench', components, env: {}, benchmark: startupBenchmark(suite, { components, bare: false, burstSize: 8 }) });
    expect(report.benchmarks.map((s) => [s.mode, s.stats.n])).toEqual([
      ['sequential', 3],
      ['burst', 8],
    ]);
    expect(report.benchmarks[1]!.burst).toMatchObject({ size: 8, rounds: 1, successRate: 1 });
    expect(report.benchmarks[1]!.burst!.allReady.n).toBe(1);
    expect(counts.placed).toBe(1 + 3 + 8);
  });
});
