import { access, readdir } from 'node:fs/promises';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeWith } from '../../../test/gate.js';
import type { CapabilityName } from '../../../test/capabilities.js';
import { SandboxClient } from '../../client/sandbox-client.js';
import { exec } from '../../common/exec.js';
import { getDriver } from '../../drivers/index.js';
import type { Driver, DriverName, SandboxSpec } from '../../drivers/driver.js';
import { isSandboxError } from '../../errors.js';
import { PlacementExitedError } from '../wait-healthy.js';
import type { SlurmPlacement } from './slurm-placement.js';
import { SlurmScheduler } from './slurm-scheduler.js';
import { SlurmCommandError } from './slurm-errors.js';

const SPEC: SandboxSpec = { slots: 2, envAllowlist: [], env: { MODE: 'slurm-it' }, isolation: 'auto', token: 'slurm-t0ken' };

const LEGS: Array<{ driver: DriverName; needs: CapabilityName[]; squashfs?: boolean }> = [
  { driver: 'process', needs: ['slurm'] },
  { driver: 'charliecloud', needs: ['slurm', 'charliecloud', 'squashfs'], squashfs: true },
];

const exists = (path: string) => access(path).then(() => true, () => false);

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** No job of the placement in squeue (or only in a terminal state), no server process, no job dir. */
async function expectNothingLeft(placement: SlurmPlacement): Promise<void> {
  const queue = await exec('squeue', ['-h', '-j', placement.jobId, '-o', '%T'], { timeoutMs: 10_000 });
  // Ended jobs stay listed for MinJobAge in a terminal state; purged ones are "Invalid job id".
  const state = queue.stdout.trim();
  expect(state === '' || /^(CANCELLED|COMPLETED|FAILED|TIMEOUT)/.test(state), `squeue says ${state}`).toBe(true);
  const running = await exec('squeue', ['-h', '-t', 'PENDING,RUNNING,COMPLETING', '-n', `hpcsb-${placement.id}`, '-o', '%i'], { timeoutMs: 10_000 });
  expect(running.stdout.trim()).toBe('');
  expect(placement.serverPid).toBeGreaterThan(0);
  expect(processAlive(placement.serverPid!)).toBe(false);
  expect(await exists(placement.allocDir)).toBe(false);
}

for (const leg of LEGS) {
  describeWith(leg.needs, `slurm x ${leg.driver}`, () => {
    let scheduler: SlurmScheduler;
    let spec: SandboxSpec = SPEC;

    beforeAll(async () => {
      if (leg.squashfs) {
        const { ensureImage } = await import('../../images/index.js');
        spec = { ...SPEC, image: (await ensureImage('squashfs')).defaultRef };
      }
      scheduler = new SlurmScheduler({ bindHost: '127.0.0.1', timeLimit: '10' });
    }, 600_000);

    afterAll(async () => {
      const base = await scheduler.baseDir();
      await scheduler.close();
      expect(await exists(base)).toBe(false);
    });

    it('runs bash in a sandbox placed by sbatch, then scancel leaves nothing behind', async () => {
      const placement = (await scheduler.place({ driver: getDriver(leg.driver), spec, ports: { mode: 'dynamic' }, name: `it-${leg.driver}` })) as SlurmPlacement;
      try {
        expect(placement.jobId).toMatch(/^\d+$/);
        expect(placement.url).toBe(`http://127.0.0.1:${placement.port}`);
        expect(placement.port).toBeGreaterThan(0);
        await placement.waitUntilHealthy({ timeoutMs: 60_000 });
        expect(placement.timestamps).toMatchObject({ submitted: expect.any(Number), placed: expect.any(Number), started: expect.any(Number), healthy: expect.any(Number) });
        expect(await placement.status()).toBe('running');
        const client = new SandboxClient(placement.url, { token: 'slurm-t0ken' });
        try {
          const echo = await client.bash('slot_0', 'echo "mode=$MODE slurm=${SLURM_JOB_ID:-none}"');
          expect(echo.success).toBe(true);
          // The plan's env arrives; the job's SLURM_* variables do not (env -i).
          expect(echo.output).toBe('mode=slurm-it slurm=none');
        } finally {
          await client.close();
        }
        expect((await placement.logs()).stderr).toContain('sandbox server listening on');
      } finally {
        await placement.stop();
      }
      expect((await placement.exited).reason).toMatch(/^stopped \(job \d+ CANCELLED/);
      expect(await placement.status()).toBe('exited');
      await expectNothingLeft(placement);
    });
  });
}

describeWith(['slurm'], 'slurm errors', () => {
  it('names the partition and the remedy when the partition does not exist, leaving nothing behind', async () => {
    await using scheduler = new SlurmScheduler({ partition: 'no-such-partition', bindHost: '127.0.0.1' });
    const error = await scheduler.place({ driver: getDriver('process'), spec: SPEC, ports: { mode: 'dynamic' } }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SlurmCommandError);
    expect((error as SlurmCommandError).kind).toBe('invalid-partition');
    expect(isSandboxError(error, 'HPCSB_CONFIG_INVALID')).toBe(true);
    expect((error as Error).message).toMatch(/invalid partition specified: no-such-partition/);
    expect((error as Error).message).toMatch(/sinfo -s/);
    expect(scheduler.placements).toEqual([]);
    const detection = await scheduler.detect();
    expect(detection).toMatchObject({ available: false });
    expect(detection.reason).toMatch(/no-such-partition/);
  });

  it('fails place() with the exit and the stderr of a server that dies before its ready file, leaving nothing behind', async () => {
    await using scheduler = new SlurmScheduler({ bindHost: '127.0.0.1' });
    const crashing: Driver = {
      name: 'process',
      detect: async () => ({ available: true }),
      plan: async () => ({ kind: 'exec', driver: 'process', argv: ['/bin/sh', '-c', 'echo "cannot listen on {{port}}" >&2; exit 3'], env: {}, processGroup: false }),
    };
    const error = await scheduler.place({ driver: crashing, spec: SPEC, ports: { mode: 'dynamic' }, name: 'crash' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PlacementExitedError);
    expect((error as Error).message).toMatch(/FAILED.*exit code 3/);
    expect((error as Error).message).toMatch(/cannot listen on \d+/);
    expect(scheduler.placements).toEqual([]);
    expect(await readdir(await scheduler.baseDir())).toEqual([]);
  });

  it('resubmits when the server loses its picked port (EADDRINUSE), up to three jobs', async () => {
    const submissions: string[] = [];
    await using scheduler = new SlurmScheduler({
      bindHost: '127.0.0.1',
      run: (file, args, options) => {
        if (file === 'sbatch') submissions.push(args.at(-1)!);
        return exec(file, args, options);
      },
    });
    const losing: Driver = {
      name: 'process',
      detect: async () => ({ available: true }),
      plan: async () => ({ kind: 'exec', driver: 'process', argv: ['/bin/sh', '-c', 'echo "Error: listen EADDRINUSE: address already in use 127.0.0.1:{{port}}" >&2; exit 1'], env: {}, processGroup: false }),
    };
    const error = await scheduler.place({ driver: losing, spec: SPEC, ports: { mode: 'dynamic' }, name: 'race' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PlacementExitedError);
    expect((error as Error).message).toMatch(/EADDRINUSE/);
    expect(submissions).toHaveLength(3);
    expect(new Set(submissions).size).toBe(3);
    expect(await readdir(await scheduler.baseDir())).toEqual([]);
  });

  it('refuses docker with a clear configuration error', async () => {
    await using scheduler = new SlurmScheduler();
    const error = await scheduler.place({ driver: getDriver('docker'), spec: SPEC, ports: { mode: 'dynamic' } }).catch((e: unknown) => e);
    expect(isSandboxError(error, 'HPCSB_CONFIG_INVALID')).toBe(true);
    expect((error as Error).message).toMatch(/docker is not offered on slurm/);
  });
});
