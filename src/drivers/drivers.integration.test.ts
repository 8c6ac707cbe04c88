import { randomUUID } from 'node:crypto';
import { tmpdir } from 'node:os';
import { afterEach, describe, expect, it } from 'vitest';
import { describeWith } from '../../test/gate.js';
import { execOrThrow } from '../common/exec.js';
import { ensureImage } from '../images/index.js';
import { CharliecloudDriver } from './charliecloud/charliecloud-driver.js';
import { DockerDriver } from './docker/docker-driver.js';
import type { SandboxSpec } from './driver.js';
import { ProcessDriver } from './process/process-driver.js';
import { SingularityDriver } from './singularity/singularity-driver.js';
import { startContainerPlan, startExecPlan, type StartedPlan } from './testing/start-plan.js';

// Each driver's plan, started by hand (no scheduler) on this machine: the server must come up and
// answer /health with bwrap usable inside, and nothing may be left behind.
const spec: SandboxSpec = { slots: 2, envAllowlist: [], env: { PROBE: 'yes' }, isolation: 'auto' };

const started: StartedPlan[] = [];
afterEach(async () => {
  const left = (await Promise.all(started.splice(0).map((s) => s.stop()))).flat();
  expect(left).toEqual([]);
});

describe('detect() on this machine', () => {
  it('process: available with this node and the built bundle', async () => {
    expect(await new ProcessDriver().detect()).toMatchObject({ available: true, version: `node ${process.version}` });
  });

  it('singularity: Apptainer is not installable here, and detect says so (or finds it), naming the SIF it would run', async () => {
    const driver = new SingularityDriver();
    const detection = await driver.detect();
    if (detection.available) expect(detection.version).toMatch(/version/);
    else expect(detection.reason).toMatch(new RegExp(`^apptainer: not on PATH \\(nor singularity\\); it would run the SIF ${driver.defaultImage.replaceAll('.', '\\.')} \\((built: [0-9a-f]{16}/sandbox\\.sif, \\d+ MB|not built here: hpc-sandbox image build --format sif)\\)$`));
    expect(detection.details).toMatchObject({ image: driver.defaultImage });
  });
});

describe('process driver, live', () => {
  it('starts the bundle and answers /health', async ({ signal }) => {
    const server = await startExecPlan(await new ProcessDriver().plan(spec), signal);
    started.push(server);
    expect(await server.health(signal)).toMatchObject({ status: 'ok', slots: 2 });
  });
});

describeWith(['docker'], 'docker driver, live', () => {
  it('detects the engine with its version', async () => {
    const detection = await new DockerDriver().detect();
    expect(detection).toMatchObject({ available: true, version: expect.stringMatching(/^Docker \d+\./) });
  });

  it('without `unconfined`, Docker keeps bwrap from isolating slots (why it is the default)', async ({ signal }) => {
    await ensureImage('docker', { signal });
    const server = await startContainerPlan(await new DockerDriver().plan({ ...spec, unconfined: false }), `io.hpc-sandbox.test-run=${randomUUID()}`, signal);
    started.push(server);
    const health = await server.health(signal);
    expect(health.status).toBe('ok');
    expect(health.isolation?.active, `isolation: ${JSON.stringify(health.isolation)}`).toBe(false);
  });

  it('runs the plan on the offline image: /health answers and bwrap works inside', async ({ signal }) => {
    await ensureImage('docker', { signal });
    const server = await startContainerPlan(await new DockerDriver().plan(spec), `io.hpc-sandbox.test-run=${randomUUID()}`, signal);
    started.push(server);
    const health = await server.health(signal);
    expect(health).toMatchObject({ status: 'ok', slots: 2, bwrap_available: true });
    expect(health.isolation?.active, `isolation: ${JSON.stringify(health.isolation)}`).toBe(true);
  });
});

describeWith(['charliecloud'], 'charliecloud driver, live', () => {
  it('detects ch-run with its version and SquashFS support', async () => {
    const detection = await new CharliecloudDriver().detect();
    expect(detection).toMatchObject({ available: true, version: expect.stringMatching(/^ch-run \d/) });
    expect(detection.details?.squashfs).toBeDefined();
  });

  it('runs the plan on the directory image: /health answers and bwrap works inside', async ({ signal }) => {
    const { defaultRef } = await ensureImage('dir', { signal });
    const server = await startExecPlan(await new CharliecloudDriver().plan({ ...spec, image: defaultRef }), signal);
    started.push(server);
    const health = await server.health(signal);
    expect(health).toMatchObject({ status: 'ok', slots: 2, bwrap_available: true });
    expect(health.isolation?.active, `isolation: ${JSON.stringify(health.isolation)}`).toBe(true);
  });

  it('the server sees exactly the plan environment, not the launcher environment ch-run would pass', async ({ signal }) => {
    const { defaultRef } = await ensureImage('dir', { signal });
    const plan = await new CharliecloudDriver().plan(
      { ...spec, image: defaultRef, env: { PROBE: "'quoted'", DOLLAR: '$HOME:x' }, token: 'tok' },
      { hostEnv: { ...process.env } },
    );
    // Same ch-run options and image, `env` instead of the server.
    const argv = [...plan.argv.slice(0, plan.argv.indexOf('--') + 1), 'env'].map((a) => a.replace('{{dataDir}}', tmpdir()));
    const r = await execOrThrow(argv[0]!, argv.slice(1), { env: { ...plan.env, LAUNCHER_SECRET: 'must-not-leak' }, cleanEnv: true, signal });
    const inside = Object.fromEntries(r.stdout.trim().split('\n').map((line) => [line.slice(0, line.indexOf('=')), line.slice(line.indexOf('=') + 1)]));
    expect(inside).toEqual({
      PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
      HOME: '/tmp',
      LANG: 'C.UTF-8',
      PROBE: "'quoted'",
      DOLLAR: '$HOME:x',
      HPC_SANDBOX_TOKEN: 'tok',
      CH_RUNNING: 'Weird Al Yankovic',
    });
  });
});

describeWith(['charliecloud', 'squashfs'], 'charliecloud driver on SquashFS, live', () => {
  it('runs the default image (SquashFS: ch-run forks) and stopping the group leaves nothing', async ({ signal }) => {
    await ensureImage('squashfs', { signal });
    const server = await startExecPlan(await new CharliecloudDriver().plan(spec), signal);
    started.push(server);
    expect(await server.health(signal)).toMatchObject({ status: 'ok', slots: 2, bwrap_available: true });
  });
});

describeWith(['apptainer'], 'singularity driver, live', () => {
  it('runs the default image (SIF) with a clean environment: /health answers and bwrap works inside', async ({ signal }) => {
    await ensureImage('sif', { signal });
    const server = await startExecPlan(await new SingularityDriver().plan(spec), signal);
    started.push(server);
    const health = await server.health(signal);
    expect(health).toMatchObject({ status: 'ok', slots: 2, bwrap_available: true });
  });
});
