import { describe, expect, it } from 'vitest';
import type { Detection, Driver, DriverName, SandboxSpec } from '../drivers/driver.js';
import { UnavailableError } from '../errors.js';
import type { Placement, PlacementRequest, Scheduler } from '../schedulers/scheduler.js';
import type { HarnessComponents } from './components.js';
import { RunEvents, type RunEvent } from './events.js';
import { runSuite, SuiteRun } from './runner.js';
import type { BashOutcome, SandboxApi } from './sandbox-api.js';
import { parseSuite } from './suite/load.js';

/**
 * Stand-in runtime: drivers that are present or missing, a scheduler whose placements record
 * what they were asked and whether they were stopped, a client that answers like a server
 * without bwrap (so the isolation check reports DEGRADED).
 */
function standIns(options: { missing?: DriverName[]; placeFails?: boolean; imageUnavailable?: DriverName[]; healthHangs?: boolean } = {}) {
  const placements: Array<{ request: PlacementRequest; stopped: boolean; plannedEnv?: Record<string, string> }> = [];
  const driver = (name: DriverName): Driver => ({
    name,
    detect: async (): Promise<Detection> =>
      options.missing?.includes(name) ? { available: false, reason: `${name}: not on PATH` } : { available: true, version: `${name} 1.0` },
    plan: async (spec: SandboxSpec, planOptions) => ({
      kind: 'exec',
      driver: name,
      argv: ['server'],
      env: Object.fromEntries(spec.envAllowlist.flatMap((v) => (planOptions?.hostEnv?.[v] === undefined ? [] : [[v, planOptions.hostEnv[v] as string]]))),
      processGroup: false,
    }),
  });
  const scheduler: Scheduler = {
    name: 'local',
    detect: async () => ({ available: true }),
    place: async (request) => {
      if (options.placeFails) throw new Error('no free port');
      const plan = await request.driver.plan(request.spec);
      const record = { request, stopped: false, plannedEnv: plan.env };
      placements.push(record);
      const port = 40_000 + placements.length;
      const placement: Placement = {
        id: `p${placements.length}`,
        scheduler: 'local',
        driver: request.driver.name,
        host: '127.0.0.1',
        port,
        url: `http://127.0.0.1:${port}`,
        timestamps: { submitted: 1000, placed: 1010, healthy: 1050 },
        events: [],
        exited: new Promise(() => undefined),
        status: async () => 'running',
        logs: async () => ({ stdout: '', stderr: '' }),
        waitUntilHealthy: async () => undefined,
        stop: async () => {
          record.stopped = true;
        },
        [Symbol.asyncDispose]: async () => {
          record.stopped = true;
        },
      };
      return placement;
    },
    close: async () => undefined,
    [Symbol.asyncDispose]: async () => undefined,
  };
  const ok = (stdout = ''): BashOutcome => ({ success: true, output: stdout, stdout, stderr: '', exitCode: 0, timedOut: false, raw: {} });
  const client = (): SandboxApi => ({
    health: async () => (options.healthHangs ? new Promise<never>(() => undefined) : { status: 'ok', slots: 2, bwrap_available: false, isolation: { reason: 'bwrap: setting up uid map: Permission denied' } }) as never,
    bash: async (_slot, command) => ok(command.startsWith('pwd') ? '/data/slot_1\n' : ''),
    batch: async (calls) => calls.map(() => ok()),
    readFile: async () => ({ ok: true, content: '', raw: {} }),
    writeFile: async () => ({ ok: true, content: '', raw: {} }),
    reset: async () => undefined,
  });
  const components: HarnessComponents = {
    driver,
    openScheduler: async () => ({ available: true, scheduler, version: 'stand-in 0', double: false, close: async () => undefined }),
    ensureImage: async (d, spec) => {
      if (options.imageUnavailable?.includes(d.name)) throw new UnavailableError('mksquashfs', 'not on PATH');
      return spec.image;
    },
    client,
  };
  return { components, placements };
}

const SUITE = `name: unit
matrix:
  scheduler: [local]
  driver: [process, docker, charliecloud]
sandbox: { slots: 2 }
checks: [isolation, env-expansion]
`;

function collect(events: RunEvents): RunEvent[] {
  const seen: RunEvent[] = [];
  events.on('event', (event) => seen.push(event));
  return seen;
}

describe('runSuite', () => {
  it('skips legs whose software is missing, with the reason, and stops every placement', async () => {
    const { components, placements } = standIns({ missing: ['docker'], imageUnavailable: ['charliecloud'] });
    const events = new RunEvents();
    const seen = collect(events);
    const report = await runSuite(parseSuite(SUITE, 'unit.yaml'), { components, events, env: {}, checks: ['isolation'] });

    expect(report.legs.map((l) => [l.name, l.state, l.reason])).toEqual([
      ['local x process', 'passed', undefined],
      ['local x docker', 'skipped', 'docker: not on PATH'],
      ['local x charliecloud', 'skipped', 'mksquashfs is not available: not on PATH'],
    ]);
    expect(report.legs[0]?.checks).toMatchObject([
      { check: 'isolation', state: 'degraded', reason: expect.stringContaining('bwrap: setting up uid map: Permission denied') },
    ]);
    expect(report.legs[1]?.checks).toEqual([{ check: 'isolation', state: 'skipped', reason: 'docker: not on PATH' }]);
    expect(report.summary).toEqual({
      legs: { passed: 1, failed: 0, skipped: 2 },
      checks: { passed: 0, failed: 0, skipped: 2, degraded: 1 },
      verdict: 'pass',
    });
    expect(report.legs[0]?.placement).toEqual({ id: 'p1', host: '127.0.0.1', port: 40001, phasesMs: { placed: 10, healthy: 50, firstExec: expect.any(Number) } });
    expect(placements.every((p) => p.stopped)).toBe(true);
    expect(seen.map((e) => `${e.type}${'leg' in e ? ` ${e.leg.name}` : ''}`)).toEqual([
      'run:start',
      'leg:start local x process',
      'check:start local x process',
      'check:end local x process',
      'leg:end local x process',
      'leg:start local x docker',
      'leg:skip local x docker',
      'check:end local x docker',
      'leg:end local x docker',
      'leg:start local x charliecloud',
      'leg:skip local x charliecloud',
      'check:end local x charliecloud',
      'leg:end local x charliecloud',
      'run:end',
    ]);
  });

  it('fails required legs instead of skipping them (HPC_SANDBOX_REQUIRE)', async () => {
    const { components } = standIns({ missing: ['docker', 'charliecloud'] });
    const report = await runSuite(parseSuite(SUITE, 'unit.yaml'), { components, env: { HPC_SANDBOX_REQUIRE: 'local:docker' }, checks: ['isolation'] });
    expect(report.legs.map((l) => [l.name, l.state, l.reason])).toEqual([
      ['local x process', 'passed', undefined],
      ['local x docker', 'failed', 'local x docker is required by HPC_SANDBOX_REQUIRE but cannot run: docker: not on PATH'],
      ['local x charliecloud', 'skipped', 'charliecloud: not on PATH'],
    ]);
    expect(report.legs[1]?.checks).toEqual([
      { check: 'isolation', state: 'failed', durationMs: 0, error: { message: 'local x docker is required by HPC_SANDBOX_REQUIRE but cannot run: docker: not on PATH' } },
    ]);
    expect(report.summary.verdict).toBe('fail');
  });

  it('turns DEGRADED isolation into a failure when HPC_SANDBOX_REQUIRE names bwrap', async () => {
    const { components } = standIns();
    const report = await runSuite(parseSuite(SUITE, 'unit.yaml'), { components, env: { HPC_SANDBOX_REQUIRE: 'bwrap' }, legs: ['local:process'], checks: ['isolation'] });
    expect(report.legs[0]?.checks[0]).toMatchObject({
      state: 'failed',
      error: { message: expect.stringMatching(/^HPC_SANDBOX_REQUIRE demands bwrap, but isolation is DEGRADED: slots are not isolated: bwrap is not usable/) },
    });
  });

  it('reports a placement failure on the leg and on each check', async () => {
    const { components } = standIns({ placeFails: true });
    const report = await runSuite(parseSuite(SUITE, 'unit.yaml'), { components, env: {}, legs: ['local x process'] });
    expect(report.legs[0]).toMatchObject({ state: 'failed', reason: 'setting up local x process failed: no free port' });
    expect(report.legs[0]?.checks.map((c) => c.state)).toEqual(['failed', 'failed']);
  });

  it("adds the checks' variables to the spec and plans with the run's host environment", async () => {
    const { components, placements } = standIns();
    await runSuite(parseSuite(SUITE, 'unit.yaml'), { components, env: { HPC_SANDBOX_CHECK_DENIED: 'x' }, legs: ['local x process'] });
    const spec = placements[0]?.request.spec;
    expect(spec?.env).toMatchObject({ HPC_SANDBOX_CHECK_PORT: '{{port}}' });
    expect(spec?.envAllowlist).toEqual(['HPC_SANDBOX_CHECK_ALLOWED']);
    expect(placements[0]?.plannedEnv).toEqual({ HPC_SANDBOX_CHECK_ALLOWED: 'allowed value with spaces' });
  });

  it('rejects unknown leg and check selections with the choices, as configuration errors', async () => {
    const { components, placements } = standIns();
    const badLeg = runSuite(parseSuite(SUITE, 'unit.yaml'), { components, legs: ['slurm:process'] });
    await expect(badLeg).rejects.toThrow('suite unit.yaml has no leg "slurm x process"; legs: local x process, local x docker, local x charliecloud');
    await expect(badLeg).rejects.toMatchObject({ code: 'HPCSB_CONFIG_INVALID' });
    const badCheck = runSuite(parseSuite(SUITE, 'unit.yaml'), { components, checks: ['bash'] });
    await expect(badCheck).rejects.toThrow('suite unit.yaml has no check "bash"; checks: isolation, env-expansion');
    await expect(badCheck).rejects.toMatchObject({ code: 'HPCSB_CONFIG_INVALID' });
    const noChecks = runSuite(parseSuite('name: bench-only\nmatrix: { scheduler: [local], driver: [process] }\n', 'bench-only.yaml'), { components });
    await expect(noChecks).rejects.toThrow('suite bench-only.yaml has no `checks`: nothing to check on its legs');
    await expect(noChecks).rejects.toMatchObject({ code: 'HPCSB_CONFIG_INVALID' });
    expect(placements).toEqual([]);
  });

  it('stops everything and returns an aborted report when cancelled mid-run', async () => {
    const { components, placements } = standIns();
    const controller = new AbortController();
    const events = new RunEvents();
    events.on('check:end', () => controller.abort(new Error('Ctrl-C')));
    const report = await runSuite(parseSuite(SUITE, 'unit.yaml'), { components, events, env: {}, signal: controller.signal, checks: ['isolation'] });
    expect(report.aborted).toBe(true);
    expect(report.summary.verdict).toBe('fail');
    expect(report.legs.map((l) => l.name)).toEqual(['local x process']);
    expect(placements.length).toBeGreaterThan(0);
    expect(placements.every((p) => p.stopped)).toBe(true);
  });
});

describe('a check that ignores its signal', () => {
  it('is abandoned when the run is cancelled, and the leg is still torn down', async () => {
    const { components, placements } = standIns({ healthHangs: true });
    const controller = new AbortController();
    const events = new RunEvents();
    events.on('check:start', () => setTimeout(() => controller.abort(new Error('Ctrl-C')), 20));
    const report = await runSuite(parseSuite(SUITE, 'unit.yaml'), { components, events, env: {}, signal: controller.signal, checks: ['isolation'] });
    expect(report.aborted).toBe(true);
    expect(report.legs[0]?.checks[0]).toMatchObject({ state: 'failed', error: { message: 'aborted: Ctrl-C' } });
    expect(placements.every((p) => p.stopped)).toBe(true);
  });
});

describe('SuiteRun', () => {
  it('refuses to open legs once closed', async () => {
    const { components } = standIns();
    const suite = parseSuite(SUITE, 'unit.yaml');
    const run = new SuiteRun(suite, { components, env: {} });
    await run.close();
    await expect(run.openLeg(suite.legs[0]!)).rejects.toThrow('suite run unit (already closed) was aborted');
  });

  it('stops a placement that arrives after its leg finished (an abandoned check still placing) instead of leaking it', async () => {
    const { components, placements } = standIns();
    const suite = parseSuite(SUITE, 'unit.yaml');
    const run = new SuiteRun(suite, { components, env: {} });
    try {
      const session = await run.openLeg(suite.legs[0]!);
      expect(session.state).toBe('ready');
      await session.finish();
      await expect(session.place({}, new AbortController().signal)).rejects.toThrow(
        'placing hpcsb-unit-local-process-2 on leg local x process (the leg had already finished) was aborted',
      );
      expect(placements).toHaveLength(2);
      expect(placements.map((p) => p.stopped)).toEqual([true, true]);
    } finally {
      await run.close();
    }
  });
});
