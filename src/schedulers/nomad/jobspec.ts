import { ConfigError } from '../../errors.js';
import { PLACEHOLDERS, type ContainerLaunchPlan, type ExecLaunchPlan, type LaunchPlan } from '../../drivers/driver.js';
import type { PortRequest } from '../scheduler.js';
import { toNomadMeta, type RunLabel } from '../../common/run-label.js';

/** Names inside every job this project registers: one group, one task, one port label. */
export const JOB_GROUP = 'sandbox';
export const JOB_TASK = 'server';
export const PORT_LABEL = 'http';

const SECOND_NS = 1_000_000_000;

/**
 * A Nomad job as sent to `POST /v1/jobs` (`{"Job": ...}`): Go field names, durations in ns.
 * Loose on purpose: the golden files and the OpenAPI check pin the exact shape.
 */
export type NomadJob = Record<string, unknown> & { ID: string; TaskGroups: Array<Record<string, unknown>> };

export interface JobSpecOptions {
  jobId: string;
  plan: LaunchPlan;
  ports: PortRequest;
  /** @default ['dc1'] (the `-dev` agent's datacenter; `['*']` matches all on Nomad >= 1.5) */
  datacenters?: string[];
  namespace?: string;
  region?: string;
  /** Allocations of the group (the slot pool scales it). @default 1 */
  count?: number;
  /** CPU in MHz. @default 500 (as Atropos) */
  cpuMHz?: number;
  /** @default 512 (as Atropos) */
  memoryMB?: number;
  /**
   * docker: run the container `privileged` (Nomad's only way to unmask /proc paths, which bwrap
   * inside the sandbox needs; `systempaths=unconfined` cannot pass through Nomad). Needs
   * `allow_privileged = true` on the agent. @default false
   */
  dockerPrivileged?: boolean;
  /** Extra job meta (the scheduler adds the driver and session). */
  meta?: Record<string, string>;
  /** The run that owns the job, in `Meta` (`hpc-sandbox cleanup` finds dead runs' jobs by it). */
  runLabel?: RunLabel;
  /** Job constraints (`${attr.kernel.name} = linux`, `${meta.rack} = a`), from the site profile. */
  constraints?: ReadonlyArray<{ attribute: string; operator?: string; value?: string }>;
  /** The runtime binary on the cluster's nodes for exec plans (`/opt/apptainer/bin/apptainer`): replaces the plan's argv[0]. */
  binary?: string;
}

/**
 * The Nomad job for a driver's launch plan.
 *
 * - exec plans (process, singularity, charliecloud) run under `raw_exec` through
 *   `sh -c 'mkdir -p "$NOMAD_ALLOC_DIR/data" && exec env -i NAME="$NAME"... "$@"'`: the data dir
 *   exists before an Apptainer/ch-run bind needs it, and `env -i` gives the program exactly the
 *   plan's environment (raw_exec would otherwise hand it the whole agent environment). Nomad
 *   interpolates `${NOMAD_PORT_http}`, `${NOMAD_ALLOC_DIR}` and `${NOMAD_IP_http}` (the address
 *   Nomad advertises for the port) in the args and the task Env on the client.
 *   Dynamic ports carry no `To`, so `NOMAD_PORT_http` is the host port and several sandboxes share
 *   a node.
 * - container plans run under `docker` with the host port mapped `To` the container port, the
 *   local image (`force_pull: false`, tag must not be `latest`), and the data dir as the alloc's
 *   `../alloc/data` volume (inside the alloc dir, so it needs no `volumes.enabled`).
 *
 * Every job has `Update: {HealthCheck: task_states, MinHealthyTime: 0}` (scaling is refused while
 * a deployment runs), no Consul services (unplaceable without Consul), no restarts or reschedules
 * (a broken sandbox must fail loudly, with its stderr, instead of flapping).
 */
export function buildJob(options: JobSpecOptions): NomadJob {
  const { plan, ports } = options;
  const sitePlan = plan.kind === 'exec' && options.binary ? { ...plan, argv: [options.binary, ...plan.argv.slice(1)] } : plan;
  const task = sitePlan.kind === 'exec' ? rawExecTask(sitePlan) : dockerTask(sitePlan, options.dockerPrivileged ?? false);
  const containerPort = plan.kind === 'container' ? plan.containerPort : undefined;
  const network =
    ports.mode === 'static'
      ? { Mode: 'host', ReservedPorts: [{ Label: PORT_LABEL, Value: ports.port, ...(containerPort ? { To: containerPort } : {}) }] }
      : { Mode: 'host', DynamicPorts: [{ Label: PORT_LABEL, ...(containerPort ? { To: containerPort } : {}) }] };
  const job: NomadJob = {
    ID: options.jobId,
    Name: options.jobId,
    Type: 'service',
    Datacenters: options.datacenters ?? ['dc1'],
    ...(options.namespace ? { Namespace: options.namespace } : {}),
    ...(options.region ? { Region: options.region } : {}),
    Meta: { hpc_sandbox_driver: plan.driver, hpc_sandbox_ports: ports.mode, ...options.meta, ...(options.runLabel ? toNomadMeta(options.runLabel) : {}) },
    ...(options.constraints?.length
      ? { Constraints: options.constraints.map((c) => ({ LTarget: c.attribute, RTarget: c.value ?? '', Operand: c.operator ?? '=' })) }
      : {}),
    TaskGroups: [
      {
        Name: JOB_GROUP,
        Count: options.count ?? 1,
        Networks: [network],
        Update: { HealthCheck: 'task_states', MinHealthyTime: 0 },
        RestartPolicy: { Attempts: 0, Interval: 300 * SECOND_NS, Delay: 15 * SECOND_NS, Mode: 'fail' },
        ReschedulePolicy: { Attempts: 0, Unlimited: false },
        Tasks: [
          {
            Name: JOB_TASK,
            ...task,
            Resources: { CPU: options.cpuMHz ?? 500, MemoryMB: options.memoryMB ?? 512 },
            KillTimeout: 10 * SECOND_NS,
            LogConfig: { MaxFiles: 2, MaxFileSizeMB: 10 },
          },
        ],
      },
    ],
  };
  return job;
}

/**
 * The raw_exec launch script for a plan whose environment has `names`: the values travel in the
 * task `Env` (out of `ps` and of the args), and `env -i NAME="$NAME" ...` hands the program exactly
 * those. Nomad leaves `$NAME` (no braces) alone, so the shell expands it.
 */
export function rawExecLaunchScript(names: readonly string[]): string {
  const keep = names.map((name) => `${name}="$${name}"`).join(' ');
  return `mkdir -p "$NOMAD_ALLOC_DIR/data" && exec env -i ${keep}${keep ? ' ' : ''}"$@"`;
}

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

function rawExecTask(plan: ExecLaunchPlan): Record<string, unknown> {
  const values = {
    port: `\${NOMAD_PORT_${PORT_LABEL}}`,
    dataDir: '${NOMAD_ALLOC_DIR}/data',
    bindHost: `\${NOMAD_IP_${PORT_LABEL}}`,
  };
  const [program, ...rest] = plan.argv;
  if (!program) throw new ConfigError(`The ${plan.driver} launch plan has an empty argv: nothing for raw_exec to run`);
  const names = Object.keys(plan.env);
  const bad = names.find((name) => !ENV_NAME.test(name));
  if (bad) throw new ConfigError(`The ${plan.driver} launch plan sets \`${bad}\`, which is not an environment variable name ([A-Za-z_][A-Za-z0-9_]*)`);
  const env = mapValues(plan.env, (value) => renderTaskEnv(value, values));
  return {
    Driver: 'raw_exec',
    Config: {
      command: '/bin/sh',
      args: ['-c', rawExecLaunchScript(names), 'hpc-sandbox-launch', ...[program, ...rest].map((part) => renderForNomad(part, values))],
    },
    ...(names.length > 0 ? { Env: env } : {}),
  };
}

function dockerTask(plan: ContainerLaunchPlan, privileged: boolean): Record<string, unknown> {
  const tag = imageTag(plan.image);
  if (tag === 'latest') {
    throw new ConfigError(
      `Docker image ${plan.image} has the tag \`latest\`: Nomad always pulls \`latest\` (force_pull is ignored for it), ` +
        'and a locally built image is in no registry. Tag it, e.g. `hpc-sandbox:local`.',
    );
  }
  const values = { port: `\${NOMAD_PORT_${PORT_LABEL}}`, dataDir: '${NOMAD_ALLOC_DIR}/data', bindHost: '0.0.0.0' };
  const [entrypoint, ...args] = plan.command.map((part) => renderForNomad(part, values));
  if (!entrypoint) throw new ConfigError(`The ${plan.driver} launch plan for ${plan.image} has an empty command`);
  const volumes = plan.binds.map((bind) => {
    // Relative sources resolve against the task dir; `../alloc/data` is the alloc's shared data dir.
    const source = escapeForNomad(bind.source).replaceAll(PLACEHOLDERS.dataDir, '../alloc/data');
    return `${source}:${bind.target}${bind.readOnly ? ':ro' : ''}`;
  });
  // `systempaths=unconfined` is a docker CLI option (empty MaskedPaths/ReadonlyPaths): the Engine
  // API rejects it in SecurityOpt and Nomad's docker driver cannot express it. Only `privileged`
  // unmasks those paths (bwrap inside needs them); it is opt-in (`dockerPrivileged`) and needs
  // `allow_privileged = true` on the agent (hcl/nomad-docker.hcl).
  const unmaskSystemPaths = privileged;
  const securityOpts = plan.securityOpts.filter((opt) => opt !== 'systempaths=unconfined');
  const config: Record<string, unknown> = {
    image: escapeForNomad(plan.image),
    force_pull: false,
    ports: [PORT_LABEL],
    entrypoint: [entrypoint],
    ...(args.length > 0 ? { args } : {}),
    ...(volumes.length > 0 ? { volumes } : {}),
    ...(securityOpts.length > 0 ? { security_opt: securityOpts.map(escapeForNomad) } : {}),
    ...(unmaskSystemPaths ? { privileged: true } : {}),
    ...(plan.devices.length > 0 ? { devices: plan.devices.map((path) => ({ host_path: path, container_path: path })) } : {}),
    ...(Object.keys(plan.labels).length > 0 ? { labels: mapValues(plan.labels, escapeForNomad) } : {}),
  };
  const env = mapValues(plan.env, (value) => renderTaskEnv(value, values));
  return { Driver: 'docker', Config: config, ...(Object.keys(env).length > 0 ? { Env: env } : {}) };
}

/**
 * Driver config strings are HCL templates on the Nomad client: a literal `${` or `%{` must be
 * doubled, or Nomad fails the task (`Failed Validation`, unknown variable).
 */
export function escapeForNomad(text: string): string {
  // A function replacement: in a replacement string `$$` would collapse to one `$`.
  return text.replaceAll('${', () => '$${').replaceAll('%{', () => '%%{');
}

/** Task Env goes through Nomad's plain `${name}` replace (no escape exists): placeholders only. */
function renderTaskEnv(text: string, values: { port: string; dataDir: string; bindHost: string }): string {
  return text.replaceAll(PLACEHOLDERS.port, values.port).replaceAll(PLACEHOLDERS.dataDir, values.dataDir).replaceAll(PLACEHOLDERS.bindHost, values.bindHost);
}

function renderForNomad(text: string, values: { port: string; dataDir: string; bindHost: string }): string {
  return escapeForNomad(text)
    .replaceAll(PLACEHOLDERS.port, values.port)
    .replaceAll(PLACEHOLDERS.dataDir, values.dataDir)
    .replaceAll(PLACEHOLDERS.bindHost, values.bindHost);
}

function imageTag(image: string): string {
  const withoutDigest = image.split('@')[0] ?? image;
  const lastSegment = withoutDigest.split('/').pop() ?? withoutDigest;
  if (image.includes('@')) return 'digest';
  const colon = lastSegment.indexOf(':');
  return colon === -1 ? 'latest' : lastSegment.slice(colon + 1);
}

function mapValues(record: Record<string, string>, fn: (value: string) => string): Record<string, string> {
  return Object.fromEntries(Object.entries(record).map(([key, value]) => [key, fn(value)]));
}
