import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import type { Placement } from '../schedulers/scheduler.js';
import { runCheckUnderPolicy, type CheckSite } from './check-policy.js';
import { defineCheck, type Check, type PlacedSandbox } from './checks/check.js';
import { CheckFailure } from './checks/check-failure.js';
import { isolationCheck } from './checks/isolation.js';
import { parseRequirements } from './requirements.js';
import type { BashOutcome, SandboxApi, SandboxHealth } from './sandbox-api.js';
import { parseSuite, sandboxSpecFor } from './suite/load.js';

// The check policy without a sandbox: a stand-in site answers the way a server does, and the
// checks are the real isolation check or small checks declared here.

const SUITE = parseSuite('name: policy\nmatrix: { scheduler: [local], driver: [process] }\nsandbox: { slots: 2 }\nchecks: [isolation]\n', 'policy.yaml');
const NO_REQUIREMENTS = parseRequirements({});
const BWRAP_REQUIRED = parseRequirements({ HPC_SANDBOX_REQUIRE: 'bwrap' });

const ok = (stdout = ''): BashOutcome => ({ success: true, output: stdout, stdout, stderr: '', exitCode: 0, timedOut: false, raw: {} });

/** A client that answers like a sandbox server with `health`; `inside` is what the isolation probe from slot 0 prints. */
function serverLike(health: SandboxHealth, inside = ''): SandboxApi {
  return {
    health: async () => health,
    bash: async (_slot, command) => ok(command.startsWith('pwd') ? '/data/slot_1\n' : command.includes('/proc/self/status') ? inside : ''),
    batch: async (calls) => calls.map(() => ok()),
    readFile: async () => ({ ok: true, content: '', raw: {} }),
    writeFile: async () => ({ ok: true, content: '', raw: {} }),
    reset: async () => undefined,
  };
}

function site(client: SandboxApi, overrides: Partial<CheckSite> = {}): CheckSite {
  const placement = { id: 'p1', scheduler: 'local', driver: 'process', host: '127.0.0.1', port: 40_001, url: 'http://127.0.0.1:40001' } as Placement;
  const spec = sandboxSpecFor(SUITE, 'process');
  return {
    placement,
    client,
    spec,
    ports: SUITE.ports,
    leg: { scheduler: 'local', driver: 'process' },
    hostEnv: {},
    signal: new AbortController().signal,
    placeSandbox: async () => {
      throw new Error('this site places no second sandbox');
    },
    ...overrides,
  };
}

const isolation = { entry: { name: 'isolation', options: {} }, check: isolationCheck as unknown as Check };
const noBwrap = serverLike({ status: 'ok', slots: 2, bwrap_available: false, isolation: { reason: 'bwrap: setting up uid map: Permission denied' } });
const hostNetwork = serverLike(
  { status: 'ok', slots: 2, port: 40_001, bwrap_available: true, isolation: { network: { open: 'host', reason: 'no pasta or slirp4netns on this machine' } } },
  'CapEff:\t0000000000000000\nNoNewPrivs:\t1\nSeccomp:\t2\nreached-server 40001\n',
);

describe('runCheckUnderPolicy', () => {
  it('keeps DEGRADED isolation without bwrap when nothing requires bwrap', async () => {
    const result = await runCheckUnderPolicy({ ...isolation, site: site(noBwrap), requirements: NO_REQUIREMENTS });
    expect(result).toMatchObject({ check: 'isolation', state: 'degraded', reason: expect.stringContaining('bwrap: setting up uid map: Permission denied') });
  });

  it('fails DEGRADED isolation when HPC_SANDBOX_REQUIRE demands bwrap', async () => {
    const result = await runCheckUnderPolicy({ ...isolation, site: site(noBwrap), requirements: BWRAP_REQUIRED });
    expect(result).toEqual({
      check: 'isolation',
      state: 'failed',
      durationMs: expect.any(Number),
      error: {
        message: "HPC_SANDBOX_REQUIRE demands bwrap, but isolation is DEGRADED: slots are not isolated: bwrap is not usable in the sandbox (bwrap: setting up uid map: Permission denied); slot 0 cannot see slot 1's files",
        code: 'HPCSB_CHECK_FAILED',
      },
    });
  });

  it('keeps isolation DEGRADED only by the host network even when bwrap is required', async () => {
    const result = await runCheckUnderPolicy({ ...isolation, site: site(hostNetwork), requirements: BWRAP_REQUIRED });
    expect(result).toMatchObject({
      state: 'degraded',
      reason: "commands share the host network and reach the server's port: no pasta or slirp4netns on this machine",
      details: { degradedBy: 'network' },
    });
  });

  it('keeps DEGRADED of a check that declares no policy for it, whatever is required', async () => {
    const weak = defineCheck({ name: 'weak', description: 'always DEGRADED', options: z.object({}), run: async () => ({ state: 'degraded', reason: 'weak here' }) });
    const result = await runCheckUnderPolicy({ entry: { name: 'weak', options: {} }, check: weak as unknown as Check, site: site(noBwrap), requirements: BWRAP_REQUIRED });
    expect(result).toEqual({ check: 'weak', state: 'degraded', durationMs: expect.any(Number), reason: 'weak here', details: undefined });
  });

  it('fails an unknown check by name without running anything', async () => {
    const result = await runCheckUnderPolicy({ entry: { name: 'nope', options: {} }, check: undefined, site: site(noBwrap), requirements: NO_REQUIREMENTS });
    expect(result).toEqual({ check: 'nope', state: 'failed', durationMs: 0, error: { message: 'unknown check "nope"' } });
  });

  it('abandons a check that ignores its signal at the time limit, and says so', async () => {
    const hangs = defineCheck({ name: 'hangs', description: 'never answers', options: z.object({}), run: () => new Promise(() => undefined) });
    const result = await runCheckUnderPolicy({ entry: { name: 'hangs', options: {} }, check: hangs as unknown as Check, site: site(noBwrap), requirements: NO_REQUIREMENTS, timeoutMs: 30 });
    expect(result).toMatchObject({ check: 'hangs', state: 'failed', error: { message: expect.stringMatching(/^hangs did not finish within 30 ms: /) } });
  });

  it('says aborted, with why, when the run is cancelled', async () => {
    const controller = new AbortController();
    const hangs = defineCheck({
      name: 'hangs',
      description: 'never answers',
      options: z.object({}),
      run: () => {
        setTimeout(() => controller.abort(new Error('Ctrl-C')), 10);
        return new Promise(() => undefined);
      },
    });
    const result = await runCheckUnderPolicy({ entry: { name: 'hangs', options: {} }, check: hangs as unknown as Check, site: site(noBwrap, { signal: controller.signal }), requirements: NO_REQUIREMENTS });
    expect(result).toMatchObject({ state: 'failed', error: { message: 'aborted: Ctrl-C' } });
  });

  it("keeps a CheckFailure's message and code, and reports bad options as a failure", async () => {
    const strict = defineCheck({
      name: 'strict',
      description: 'fails on purpose',
      options: z.object({ times: z.number().default(1) }).strict(),
      run: async () => {
        throw new CheckFailure('strict', 'slot 0 answered 2, expected 1');
      },
    });
    const failing = await runCheckUnderPolicy({ entry: { name: 'strict', options: {} }, check: strict as unknown as Check, site: site(noBwrap), requirements: NO_REQUIREMENTS });
    expect(failing).toMatchObject({ state: 'failed', error: { message: 'slot 0 answered 2, expected 1', code: 'HPCSB_CHECK_FAILED' } });
    const badOptions = await runCheckUnderPolicy({ entry: { name: 'strict', options: { times: 'two' } }, check: strict as unknown as Check, site: site(noBwrap), requirements: NO_REQUIREMENTS });
    expect(badOptions).toMatchObject({ state: 'failed', error: { message: expect.stringContaining('times'), code: undefined } });
  });

  it("hands the check's own signal (run and time limit joined) to the check and to placeSandbox", async () => {
    let given: AbortSignal | undefined;
    let seen: AbortSignal | undefined;
    const places = defineCheck({
      name: 'places',
      description: 'places a second sandbox',
      options: z.object({}),
      run: async ({ signal, placeSandbox }) => {
        seen = signal;
        await placeSandbox();
        return { state: 'passed', details: { placed: true } };
      },
    });
    const second = site(noBwrap, {
      placeSandbox: async (_overrides, signal) => {
        given = signal;
        return {} as PlacedSandbox;
      },
    });
    const result = await runCheckUnderPolicy({ entry: { name: 'places', options: {} }, check: places as unknown as Check, site: second, requirements: NO_REQUIREMENTS });
    expect(result).toEqual({ check: 'places', state: 'passed', durationMs: expect.any(Number), details: { placed: true } });
    expect(given).toBeDefined();
    expect(given).toBe(seen);
    expect(given).not.toBe(second.signal);
  });
});
