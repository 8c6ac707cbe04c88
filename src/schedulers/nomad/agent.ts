import { spawn, type ChildProcess } from 'node:child_process';
import { readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { freePorts } from '../../common/free-port.js';
import { isAbsolute, join } from 'node:path';
import { tail } from '../../common/exec.js';
import { makeSlotReachableTempDir } from '../../common/slot-reachable-temp-dir.js';
import { logger } from '../../common/logger.js';
import { projectRoot } from '../../common/paths.js';
import { which } from '../../common/which.js';
import type { DriverName } from '../../drivers/driver.js';
import { AbortedError, ConfigError, SandboxError, UnavailableError, WaitTimeoutError } from '../../errors.js';
import type { NomadNodeStub } from './api-types.js';
import { NomadClient } from './client.js';
import { describeNomadVersion, isNomadDoubleBinary, NOMAD_DOUBLE_ENV, NOMAD_DOUBLE_VERSION } from './double.js';

const log = logger('scheduler:nomad:agent');

/** How long a ready node may take to report the leg's driver healthy before Nomad's reason is final. */
const DRIVER_GRACE_MS = 3_000;

/** Nomad task driver that runs a hpc-sandbox driver's plan. */
export type NomadTaskDriver = 'docker' | 'raw_exec';

/** docker -> `docker`; process, singularity, charliecloud, podman -> `raw_exec`. */
export function nomadTaskDriverFor(driver: DriverName): NomadTaskDriver {
  return driver === 'docker' ? 'docker' : 'raw_exec';
}

/** The agent config under hcl/ for a task driver: `nomad-docker.hcl` or `nomad-singularity.hcl`. */
export function agentConfigFor(taskDriver: NomadTaskDriver): string {
  return join(projectRoot(), 'hcl', taskDriver === 'docker' ? 'nomad-docker.hcl' : 'nomad-singularity.hcl');
}

export interface LocalAgentOptions {
  /** The leg's driver; the agent must report its Nomad task driver detected and healthy. @default 'process' */
  driver?: DriverName;
  /** Agent config: a path, or a name under hcl/ (`nomad-docker`). @default by driver (agentConfigFor) */
  config?: string;
  /** The `nomad` executable. @default `nomad` on PATH of `env` */
  nomadBinary?: string;
  /** Environment of the agent (raw_exec tasks inherit it). @default process.env */
  env?: NodeJS.ProcessEnv;
  /** HTTP/RPC/Serf ports. @default three free loopback ports */
  ports?: { http: number; rpc: number; serf: number };
  /** Data dir (allocations live under `<dataDir>/alloc`). @default a new temp dir, removed on stop */
  dataDir?: string;
  /** Wait for the leg's task driver to be healthy (false: a leader and a ready node suffice). @default true */
  waitForDriver?: boolean;
  /** @default 60_000 */
  startupTimeoutMs?: number;
  signal?: AbortSignal;
}

/** A `nomad agent -dev` this process started. Stop it (or `await using` it) to leave nothing behind. */
export interface LocalNomadAgent extends AsyncDisposable {
  /** `http://127.0.0.1:<http port>` */
  readonly address: string;
  /** What the agent says of itself: `Nomad v1.9.7`, or `Nomad v0.0.0-hpc-sandbox-double (test double)`. */
  readonly version: string;
  /** True when the agent is hpc-sandbox's test double, not Nomad. */
  readonly isDouble: boolean;
  readonly pid: number;
  /** Settles when the agent process has ended, through stop() or on its own (a crash, a kill). */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  readonly ports: { http: number; rpc: number; serf: number };
  readonly dataDir: string;
  /** The rendered config the agent runs with. */
  readonly configPath: string;
  /** The agent's own log so far (stdout and stderr interleaved), last `lines` lines. */
  logs(lines?: number): string;
  /** SIGINT, wait for the dev agent to destroy its allocations, SIGKILL after `graceMs`. Idempotent. */
  stop(options?: { graceMs?: number }): Promise<void>;
}

/**
 * Boots `nomad agent -dev -config <rendered hcl>` with its own data dir and collision-free ports,
 * and waits until there is a leader, a ready node, and the leg's task driver is detected and
 * healthy. Otherwise fails with Nomad's own reason (`raw_exec: disabled`, `docker: Failed to
 * connect to docker daemon`) and the agent's last log lines.
 *
 * @example
 * await using agent = await startLocalAgent({ driver: 'docker' });
 * await using nomad = new NomadScheduler({ address: agent.address });
 */
export async function startLocalAgent(options: LocalAgentOptions = {}): Promise<LocalNomadAgent> {
  const env = options.env ?? process.env;
  const taskDriver = nomadTaskDriverFor(options.driver ?? 'process');
  const binary = options.nomadBinary ?? (await which('nomad', env));
  if (!binary) throw new UnavailableError('nomad', 'not on PATH (install Nomad, or set NOMAD_ADDR to use a running agent)', 'HPCSB_SCHEDULER_UNAVAILABLE');
  if (env[NOMAD_DOUBLE_ENV] !== '1' && (await isNomadDoubleBinary(binary))) throw doubleRefused(binary);
  const template = resolveConfig(options.config) ?? agentConfigFor(taskDriver);
  const ports = options.ports ?? (await agentPorts());
  const config = await renderAgentConfig(template, ports);
  const workDir = await makeSlotReachableTempDir('hpc-sandbox-nomad-');
  const dataDir = options.dataDir ?? join(workDir, 'data');
  const configPath = join(workDir, 'agent.hcl');
  try {
    await writeFile(configPath, config);
  } catch (error) {
    await rm(workDir, { recursive: true, force: true });
    throw error;
  }
  const args = ['agent', '-dev', '-config', configPath, '-data-dir', dataDir];
  log('starting %s %s', binary, args.join(' '));
  const child = spawn(binary, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
  const output: string[] = [];
  const collect = (chunk: Buffer) => {
    output.push(chunk.toString('utf8'));
    if (output.length > 2_000) output.splice(0, output.length - 2_000);
  };
  child.stdout?.on('data', collect);
  child.stderr?.on('data', collect);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once('exit', (code, signal) => resolve({ code, signal }));
    child.once('error', (error) => {
      output.push(`spawn failed: ${error.message}\n`);
      resolve({ code: null, signal: null });
    });
  });
  const address = `http://127.0.0.1:${ports.http}`;
  const agent = new RunningAgent(child, exited, output, { address, ports, dataDir, configPath, workDir, ownsDataDir: options.dataDir === undefined, commandLine: `${binary} ${args.join(' ')}` });
  try {
    const rawVersion = await waitUntilReady(agent, options.waitForDriver === false ? undefined : taskDriver, options.startupTimeoutMs ?? 60_000, options.signal);
    agent.isDouble = rawVersion === NOMAD_DOUBLE_VERSION;
    // The binary check misses a copy of the double; its version does not lie.
    if (agent.isDouble && env[NOMAD_DOUBLE_ENV] !== '1') throw doubleRefused(binary);
    agent.version = describeNomadVersion(rawVersion);
    log('agent %s ready at %s', agent.version, address);
    return agent;
  } catch (error) {
    await agent.stop().catch(() => undefined);
    throw error;
  }
}

function doubleRefused(binary: string): ConfigError {
  return new ConfigError(
    `Refusing to boot ${binary}: it is the hpc-sandbox Nomad TEST DOUBLE (${NOMAD_DOUBLE_VERSION}), not Nomad, and ${NOMAD_DOUBLE_ENV}=1 ` +
      '(set only by the test setup) is not set. Put a real `nomad` first on PATH, pass --nomad <path>, or set NOMAD_ADDR to a running agent.',
  );
}

class RunningAgent implements LocalNomadAgent {
  version = 'unknown';
  isDouble = false;
  readonly address: string;
  readonly ports: { http: number; rpc: number; serf: number };
  readonly dataDir: string;
  readonly configPath: string;
  /** What was run, for error messages. */
  readonly commandLine: string;
  readonly #workDir: string;
  readonly #ownsDataDir: boolean;
  #stopping: Promise<void> | undefined;

  constructor(
    readonly child: ChildProcess,
    readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>,
    readonly output: string[],
    init: {
      address: string;
      ports: { http: number; rpc: number; serf: number };
      dataDir: string;
      configPath: string;
      workDir: string;
      ownsDataDir: boolean;
      commandLine: string;
    },
  ) {
    this.address = init.address;
    this.ports = init.ports;
    this.dataDir = init.dataDir;
    this.configPath = init.configPath;
    this.commandLine = init.commandLine;
    this.#workDir = init.workDir;
    this.#ownsDataDir = init.ownsDataDir;
  }

  get pid(): number {
    return this.child.pid ?? -1;
  }

  logs(lines = 40): string {
    return tail(this.output.join(''), lines);
  }

  stop(options: { graceMs?: number } = {}): Promise<void> {
    this.#stopping ??= this.#stop(options.graceMs ?? 20_000);
    return this.#stopping;
  }

  async #stop(graceMs: number): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null && this.child.pid !== undefined) {
      this.child.kill('SIGINT');
      const timer = setTimeout(() => this.child.kill('SIGKILL'), graceMs);
      await this.exited;
      clearTimeout(timer);
    }
    await rm(this.#workDir, { recursive: true, force: true });
    if (this.#ownsDataDir) await rm(this.dataDir, { recursive: true, force: true });
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.stop();
  }
}

async function waitUntilReady(agent: RunningAgent, taskDriver: NomadTaskDriver | undefined, timeoutMs: number, signal: AbortSignal | undefined): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  await using client = new NomadClient({ address: agent.address, token: '' });
  let last = 'agent not answering yet';
  let exit: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  void agent.exited.then((ended) => (exit = ended));
  const check = () => {
    if (exit) {
      throw new SandboxError(
        'HPCSB_SCHEDULER_UNAVAILABLE',
        `${agent.commandLine} exited (code ${exit.code}${exit.signal ? `, signal ${exit.signal}` : ''}) before it was ready:\n${agent.logs(30)}`,
      );
    }
    if (signal?.aborted) throw new AbortedError(`Starting the Nomad agent at ${agent.address}`, { cause: signal.reason });
    if (Date.now() > deadline) {
      throw new WaitTimeoutError(`nomad agent at ${agent.address} to be ready` + (taskDriver ? ` for ${taskDriver}` : ''), timeoutMs, `${last}; agent log:\n${agent.logs(30)}`);
    }
  };
  // Before the HTTP listener is up nothing can block on an index: a short poll is the only way.
  let leader = '';
  while (!leader) {
    check();
    try {
      leader = await client.leader({ signal: signal ? AbortSignal.any([signal, AbortSignal.timeout(2_000)]) : AbortSignal.timeout(2_000) });
      if (!leader) last = 'no cluster leader yet';
    } catch (error) {
      last = (error as Error).message;
    }
    if (!leader) await new Promise((resolve) => setTimeout(resolve, 100));
  }
  const self = await client.agentSelf({ signal });
  const version = self.config?.Version?.Version ?? 'unknown';
  // From here on, blocking queries on /v1/nodes: the node registers after its first fingerprint.
  let index = 0;
  let readySince: number | undefined;
  for (;;) {
    check();
    const graceLeftMs = readySince === undefined ? Infinity : readySince + DRIVER_GRACE_MS - Date.now();
    const waitSeconds = Math.max(1, Math.min(10, Math.ceil(Math.min(deadline - Date.now(), graceLeftMs) / 1000)));
    let nodes: NomadNodeStub[] = [];
    try {
      const answer = await client.nodes({ index: index || undefined, waitSeconds, signal });
      nodes = answer.value;
      index = Math.max(answer.index, index + 1);
    } catch (error) {
      last = (error as Error).message;
      await new Promise((resolve) => setTimeout(resolve, 200));
      continue;
    }
    const node = nodes.find((n) => n.Status === 'ready');
    if (!node) {
      last = nodes.length ? `node ${nodes[0]!.Name} is ${nodes[0]!.Status}` : 'no node registered yet';
      continue;
    }
    if (!taskDriver) return version;
    const info = node.Drivers?.[taskDriver];
    if (info?.Detected && info.Healthy) return version;
    last = `driver ${taskDriver} on node ${node.Name}: detected=${info?.Detected ?? false}, healthy=${info?.Healthy ?? false}, "${info?.HealthDescription ?? 'not fingerprinted'}"`;
    // Fingerprints run before registration; give a late change a few seconds, then report Nomad's reason.
    readySince ??= Date.now();
    if (Date.now() - readySince >= DRIVER_GRACE_MS) {
      throw new UnavailableError(
        `nomad ${taskDriver} driver`,
        `the agent at ${agent.address} reports ${last}` +
          (taskDriver === 'raw_exec' ? ' (enable it: plugin "raw_exec" { config { enabled = true } })' : ' (is dockerd running and its socket reachable?)'),
        'HPCSB_SCHEDULER_UNAVAILABLE',
      );
    }
  }
}

function resolveConfig(config: string | undefined): string | undefined {
  if (!config) return undefined;
  if (isAbsolute(config) || config.includes('/')) return config;
  return join(projectRoot(), 'hcl', config.endsWith('.hcl') ? config : `${config}.hcl`);
}

/** The template with this agent's ports and loopback bind (agent configs get no env interpolation). */
export async function renderAgentConfig(templatePath: string, ports: { http: number; rpc: number; serf: number }): Promise<string> {
  let template: string;
  try {
    template = await readFile(templatePath, 'utf8');
  } catch (cause) {
    const names = (await readdir(join(projectRoot(), 'hcl')).catch(() => [])).filter((name) => name.endsWith('.hcl'));
    throw new ConfigError(
      `Cannot read the Nomad agent config ${templatePath}: ${(cause as NodeJS.ErrnoException).code ?? (cause as Error).message} ` +
        `(a name resolves under hcl/: ${names.map((name) => name.replace(/\.hcl$/, '')).join(', ') || 'none'}; or give a path)`,
      { cause },
    );
  }
  return (
    `# Rendered by hpc-sandbox from ${templatePath}\n` +
    `bind_addr = "127.0.0.1"\n` +
    `ports {\n  http = ${ports.http}\n  rpc  = ${ports.rpc}\n  serf = ${ports.serf}\n}\n\n` +
    template
  );
}

/** Three distinct free loopback ports (the OS picks them; a tiny race remains until Nomad binds). */
async function agentPorts(): Promise<{ http: number; rpc: number; serf: number }> {
  const [http, rpc, serf] = (await freePorts(3)) as [number, number, number];
  return { http, rpc, serf };
}
