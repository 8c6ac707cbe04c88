import { readFile, writeFile, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { checkAgainstNomadSchema } from '../../../fixtures/nomad/openapi-check.js';
import { projectRoot } from '../../common/paths.js';
import type { Driver, LaunchPlan } from '../../drivers/driver.js';
import { GOLDEN_HOST_ENV, GOLDEN_SPEC, LEAK_MARKER } from '../../drivers/golden-spec.js';
import { CharliecloudDriver, DockerDriver, ProcessDriver, SingularityDriver } from '../../drivers/index.js';
import type { PortRequest } from '../scheduler.js';
import { buildJob, escapeForNomad, rawExecLaunchScript } from './jobspec.js';

const GOLDEN_DIR = join(projectRoot(), 'fixtures', 'nomad', 'jobs');

const drivers: Record<string, { driver: Driver; image?: string }> = {
  process: { driver: new ProcessDriver({ nodePath: '/opt/node/bin/node', bundlePath: '/opt/hpc/sandbox-server.mjs' }) },
  docker: { driver: new DockerDriver({ sessionId: 'golden-session' }), image: 'hpc-sandbox/sandbox:local' },
  singularity: { driver: new SingularityDriver({ env: GOLDEN_HOST_ENV }), image: '/images/sandbox.sif' },
  charliecloud: { driver: new CharliecloudDriver({ env: GOLDEN_HOST_ENV }), image: '/images/sandbox.sqfs' },
};
const portModes: Record<string, PortRequest> = { dynamic: { mode: 'dynamic' }, static: { mode: 'static', port: 8080 } };

async function planFor(name: string): Promise<LaunchPlan> {
  const { driver, image } = drivers[name]!;
  return driver.plan({ ...GOLDEN_SPEC, image }, { hostEnv: GOLDEN_HOST_ENV });
}

describe('buildJob', () => {
  it('carries a site profile\'s datacenters, resources, constraints, runtime binary and the run label, in Nomad\'s Job schema', async () => {
    const job = buildJob({
      jobId: 'site-1',
      plan: await planFor('singularity'),
      ports: { mode: 'dynamic' },
      datacenters: ['hpc-east'],
      namespace: 'research',
      cpuMHz: 1000,
      memoryMB: 2048,
      constraints: [{ attribute: '${meta.rack}', operator: '=', value: 'a' }],
      binary: '/opt/apptainer/bin/apptainer',
      runLabel: { runId: 'run-1', host: 'login1', pid: 42, startedAtMs: 1_700_000_000_000 },
    });
    expect(job.Datacenters).toEqual(['hpc-east']);
    expect(job.Namespace).toBe('research');
    expect(job.Constraints).toEqual([{ LTarget: '${meta.rack}', RTarget: 'a', Operand: '=' }]);
    expect(job.Meta).toMatchObject({ hpc_sandbox_run: 'run-1', hpc_sandbox_run_host: 'login1', hpc_sandbox_run_pid: '42', hpc_sandbox_run_started: '1700000000000' });
    const task = (job.TaskGroups[0]!.Tasks as Array<{ Resources: unknown; Config: { args: string[] } }>)[0]!;
    expect(task.Resources).toEqual({ CPU: 1000, MemoryMB: 2048 });
    expect(task.Config.args[3]).toBe('/opt/apptainer/bin/apptainer');
    expect(checkAgainstNomadSchema({ Job: job }, 'JobRegisterRequest')).toEqual([]);
  });

  for (const driverName of Object.keys(drivers)) {
    for (const [portName, ports] of Object.entries(portModes)) {
      it(`${driverName} x ${portName}: matches fixtures/nomad/jobs/${driverName}-${portName}.job.json and Nomad's Job schema`, async () => {
        const job = buildJob({ jobId: `golden-${driverName}-${portName}`, plan: await planFor(driverName), ports });
        const body = { Job: job };
        const file = join(GOLDEN_DIR, `${driverName}-${portName}.job.json`);
        const text = JSON.stringify(body, null, 2) + '\n';
        if (process.env.UPDATE_GOLDEN === '1') {
          await mkdir(GOLDEN_DIR, { recursive: true });
          await writeFile(file, text);
        }
        expect(text, `golden ${file} is stale: run UPDATE_GOLDEN=1 npx vitest run --project unit src/schedulers/nomad`).toBe(await readFile(file, 'utf8'));
        expect(checkAgainstNomadSchema(body, 'JobRegisterRequest')).toEqual([]);
        expect(text).not.toContain(LEAK_MARKER);
        expect(text).not.toContain('{{');
      });
    }
  }

  it('runs exec plans under raw_exec with Nomad-side variables and no `To`, so sandboxes share a node', async () => {
    const job = buildJob({ jobId: 'j', plan: await planFor('process'), ports: { mode: 'dynamic' } });
    const group = job.TaskGroups[0] as any;
    expect(group.Networks).toEqual([{ Mode: 'host', DynamicPorts: [{ Label: 'http' }] }]);
    expect(group.Update).toEqual({ HealthCheck: 'task_states', MinHealthyTime: 0 });
    expect(group.Services).toBeUndefined();
    const task = group.Tasks[0];
    expect(task.Driver).toBe('raw_exec');
    expect(task.Config.command).toBe('/bin/sh');
    expect(task.Config.args.slice(0, 3)).toEqual(['-c', rawExecLaunchScript(Object.keys(task.Env)), 'hpc-sandbox-launch']);
    expect(task.Config.args[1]).toBe(
      'mkdir -p "$NOMAD_ALLOC_DIR/data" && exec env -i PATH="$PATH" HOME="$HOME" LANG="$LANG" HF_TOKEN="$HF_TOKEN" MODE="$MODE" SELF_URL="$SELF_URL" HPC_SANDBOX_TOKEN="$HPC_SANDBOX_TOKEN" "$@"',
    );
    expect(task.Config.args).toContain('${NOMAD_PORT_http}');
    expect(task.Config.args).toContain('${NOMAD_ALLOC_DIR}/data');
    expect(task.Env.SELF_URL).toBe('http://${NOMAD_IP_http}:${NOMAD_PORT_http}');
    // The token stays out of argv (ps) as the driver intends.
    expect(task.Config.args.join(' ')).not.toContain('t0ken');
  });

  it('maps the docker host port To the container port, with the local image and the alloc data volume', async () => {
    const job = buildJob({ jobId: 'j', plan: await planFor('docker'), ports: { mode: 'static', port: 9090 } });
    const group = job.TaskGroups[0] as any;
    expect(group.Networks).toEqual([{ Mode: 'host', ReservedPorts: [{ Label: 'http', Value: 9090, To: 8080 }] }]);
    const config = group.Tasks[0].Config;
    expect(config).toMatchObject({ image: 'hpc-sandbox/sandbox:local', force_pull: false, ports: ['http'], volumes: ['../alloc/data:/data'] });
    expect(group.Tasks[0].Env.SELF_URL).toBe('http://0.0.0.0:${NOMAD_PORT_http}');
    // The docker CLI's systempaths=unconfined cannot pass through Nomad; privileged is opt-in.
    expect(config.security_opt).toEqual(['seccomp=unconfined']);
    expect(config.privileged).toBeUndefined();
    const privileged = buildJob({ jobId: 'j', plan: await planFor('docker'), ports: { mode: 'dynamic' }, dockerPrivileged: true });
    expect((privileged.TaskGroups[0] as any).Tasks[0].Config.privileged).toBe(true);
  });

  it('refuses a `latest` (or untagged) docker image: Nomad would try to pull it', async () => {
    const plan = await planFor('docker');
    for (const image of ['sandbox', 'sandbox:latest', 'registry:5000/team/sandbox']) {
      expect(() => buildJob({ jobId: 'j', plan: { ...plan, image } as LaunchPlan, ports: { mode: 'dynamic' } })).toThrowError(
        `Docker image ${image} has the tag \`latest\``,
      );
    }
    expect(() => buildJob({ jobId: 'j', plan: { ...plan, image: 'registry:5000/sandbox:v1' } as LaunchPlan, ports: { mode: 'dynamic' } })).not.toThrow();
  });

  it('escapes literal ${ and %{ in driver config so Nomad does not interpolate them', async () => {
    expect(escapeForNomad('echo ${HOME} %{x} $PLAIN')).toBe('echo $${HOME} %%{x} $PLAIN');
    const plan = await planFor('process');
    const job = buildJob({ jobId: 'j', plan: { ...plan, argv: [...(plan as any).argv, 'x${USER}'] } as LaunchPlan, ports: { mode: 'dynamic' } });
    expect((job.TaskGroups[0] as any).Tasks[0].Config.args).toContain('x$${USER}');
  });

  it('says which driver plan was empty', async () => {
    const plan = { kind: 'exec', driver: 'process', argv: [], env: {}, processGroup: true } as LaunchPlan;
    expect(() => buildJob({ jobId: 'j', plan, ports: { mode: 'dynamic' } })).toThrow(
      expect.objectContaining({ code: 'HPCSB_CONFIG_INVALID', message: expect.stringContaining('process launch plan has an empty argv') }),
    );
  });
});

describe('checkAgainstNomadSchema', () => {
  it('rejects a misspelled field and a duration given as a string', () => {
    const problems = checkAgainstNomadSchema(
      { Job: { ID: 'x', TaskGroups: [{ Name: 'g', Tasks: [{ Name: 't', Resources: { Memory: 512 }, KillTimeout: '5s' }] }] } },
      'JobRegisterRequest',
    );
    expect(problems.sort()).toEqual([
      'JobRegisterRequest.Job.TaskGroups[0].Tasks[0].KillTimeout: expected integer (durations are ns), got "5s"',
      'JobRegisterRequest.Job.TaskGroups[0].Tasks[0].Resources.Memory: unknown field (Nomad would silently drop it)',
    ].sort());
  });
});
