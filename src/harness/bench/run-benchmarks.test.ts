import { describe, expect, it } from 'vitest';
import type { Driver, DriverName } from '../../drivers/driver.js';
import type { Placement, Scheduler } from '../../schedulers/scheduler.js';
import type { HarnessComponents } from '../components.js';
import { parseRequirements } from '../requirements.js';
import type { SandboxApi } from '../sandbox-api.js';
import { parseSuite } from '../suite/load.js';
import { type BenchRunEvent, runStartupBenchmarks } from './run-benchmarks.js';

const SUITE = `
name: startup-test
matrix: { scheduler: [local], driver: [process, docker] }
benchmarks:
  startup: { modes: [sequential, burst], iterations: 3, burstSize: 3, warmup: 1 }
references:
  '*':
    startup.median: { value: 1000, lower: null, upper: 0.5, unit: ms }
`;

function fakeComponents(options: { dockerMissing?: boolean; execFails?: boolean } = {}) {
  let placed = 0;
  let stopped = 0;
  let clock = 0;
  const scheduler = {
    name: 'local',
    async place() {
      placed++;
      const timestamps: Placement['timestamps'] = { submitted: clock, placed: clock };
      return {
        url: `http://127.0.0.1:${placed}`,
        timestamps,
        async waitUntilHealthy() {
          timestamps.healthy = performance.timeOrigin + performance.now();
        },
        async stop() {
          stopped++;
        },
      } as unknown as Placement;
    },
    async close() {},
  } as unknown as Scheduler;
  clock = performance.timeOrigin + performance.now();
  const driver = (name: DriverName): Driver =>
    ({
      name,
      detect: async () => (name === 'docker' && options.dockerMissing ? { available: false, reason: 'docker: cannot connect to /var/run/docker.sock' } : { available: true, version: `${name} 1.0` }),
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
  return { components, counts: () => ({ placed, stopped }) };
}

describe('runStartupBenchmarks', () => {
  it('benchmarks every available leg and mode, skips a missing driver with its reason, stops every placement', async () => {
    const { components, counts } = fakeComponents({ dockerMissing: true });
    const events: BenchRunEvent[] = [];
    const report = await runStartupBenchmarks(parseSuite(SUITE, 'startup.yaml'), {
      components,
      requirements: parseRequirements({}),
      onEvent: (e) => events.push(e),
    });
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
    expect(counts()).toEqual({ placed: 7, stopped: 7 });
    expect(report.summary).toMatchObject({ legs: { passed: 1, failed: 0, skipped: 1 }, verdict: 'pass' });
    expect(events.filter((e) => e.type === 'leg:skip')).toHaveLength(1);
    expect(events.at(-1)?.type).toBe('run:end');
  });

  it('fails a required leg that cannot run instead of skipping it', async () => {
    const { components } = fakeComponents({ dockerMissing: true });
    const report = await runStartupBenchmarks(parseSuite(SUITE, 'startup.yaml'), {
      components,
      requirements: parseRequirements({ HPC_SANDBOX_REQUIRE: 'local:docker' }),
    });
    const docker = report.legs.find((l) => l.leg.driver === 'docker');
    expect(docker).toMatchObject({ state: 'failed' });
    expect(docker?.reason).toContain('required by HPC_SANDBOX_REQUIRE');
    expect(report.summary.verdict).toBe('fail');
  });

  it('fails a leg where no start succeeds, quoting the error', async () => {
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
    const report = await runStartupBenchmarks(suite, { components, requirements: parseRequirements({}) });
    expect(report.legs[0]).toMatchObject({ state: 'failed' });
    expect(report.legs[0]!.reason).toMatch(/^sequential: no start succeeded \(no successful exec within 300 ms \(echo benchmark in slot_0 of http:\/\/127\.0\.0\.1:1 did not succeed: success=false exit=127/);
    expect(report.benchmarks[0]!.stats.successRate).toBe(0);
    expect(counts()).toEqual({ placed: 2, stopped: 2 });
    expect(report.summary.verdict).toBe('fail');
  });

  it('refuses a suite without a startup benchmark section', async () => {
    const suite = parseSuite('name: x\nmatrix: { scheduler: [local], driver: [process] }\n', 'x.yaml');
    await expect(runStartupBenchmarks(suite, { components: fakeComponents().components })).rejects.toMatchObject({ code: 'HPCSB_CONFIG_INVALID' });
  });
});
