import { spawnSync } from 'node:child_process';
import { readFile, stat } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { tail } from '../../common/exec.js';
import { logger } from '../../common/logger.js';
import type { ContainerLaunchPlan, Detection, ExecLaunchPlan, PlaceholderValues } from '../../drivers/driver.js';
import { renderPlaceholders } from '../../drivers/driver.js';
import { LABEL_PREFIX, SESSION_ID_LABEL, sessionId } from '../../drivers/labels.js';
import { AbortedError, SandboxError } from '../../errors.js';
import type { Placement, PlacementEvent, PlacementExit, PlacementRequest, PlacementTimestamps } from '../scheduler.js';
import { type HealthProbe, PlacementExitedError } from '../wait-healthy.js';
import { type AllocDir, createAllocDir, openToContainerUsers, removeAllocDir } from '../shared/alloc-dir.js';
import { type RunningContainer, dockerClient, startContainer } from './container-runner.js';
import { LocalPlacementError, PortInUseError, ReadyPortMismatchError } from './errors.js';
import { type LocalTask, LocalPlacement, now } from './local-placement.js';
import { type RunningProcess, startProcess } from './process-runner.js';
import { type PortReservation, reserveFreePort } from '../shared/port-reservations.js';
import { readyFilePath, waitForReadyFile } from '../shared/ready-file.js';
import { isAddressInUse } from '../shared/port-race.js';
import { dialAddress } from '../shared/dial-address.js';
import { type PlaceOnceRequest, SchedulerBase } from '../shared/scheduler-base.js';
import { PLACEHOLDER_VARIABLES, wrapInShell } from './shell-wrapper.js';

const log = logger('scheduler:local');

/** Label naming the placement a container belongs to. */
export const PLACEMENT_LABEL = `${LABEL_PREFIX}.placement-id`;

/** The Nomad-like task name used in alloc dir paths, log names and NOMAD_TASK_NAME. */
export const TASK_NAME = 'sandbox-server';

export interface LocalSchedulerOptions {
  /** Where alloc dirs are made. @default a new temp dir (removed by close()) */
  baseDir?: string;
  /** Keep alloc dirs after stop() (to read logs when debugging). @default false */
  keepAllocDir?: boolean;
  /** Address exec-plan servers bind (`{{bindHost}}`). @default '127.0.0.1' */
  bindHost?: string;
  /** Labels every container (`io.hpc-sandbox.session-id`) so leftovers can be swept. @default the process's `sessionId()` (`HPC_SANDBOX_SESSION_ID` or a random UUID) */
  sessionId?: string;
  /** SIGTERM (or `docker stop`) grace before SIGKILL. @default 5_000 */
  stopGraceMs?: number;
  /** How long an exec plan with a dynamic port may take to write its ready file, per start attempt. @default 60_000 */
  readyTimeoutMs?: number;
  /** Stop every placement when this process exits or gets SIGINT/SIGTERM/SIGHUP. @default true */
  exitHook?: boolean;
  /** How placements probe health in waitUntilHealthy(). @default GET /health polling */
  healthProbe?: (placement: Placement) => HealthProbe;
}

/**
 * Places sandbox servers on this machine the way a single Nomad client would: an alloc dir per
 * placement, exec plans as shell-wrapped process groups with Nomad-like environment variables,
 * container plans on the Docker Engine with a published port. The embedded default scheduler.
 *
 * @example
 * await using scheduler = new LocalScheduler();
 * const placement = await scheduler.place({ driver: getDriver('process'), spec, ports: { mode: 'dynamic' } });
 * await placement.waitUntilHealthy();
 */
export class LocalScheduler extends SchedulerBase<LocalPlacement> {
  readonly name = 'local' as const;
  readonly sessionId: string;
  readonly #options: LocalSchedulerOptions;
  readonly #starting = new Set<Starting>();

  constructor(options: LocalSchedulerOptions = {}) {
    super({
      displayName: 'LocalScheduler',
      exitHook: options.exitHook !== false,
      baseDir: options.baseDir,
      tempDirPrefix: 'hpc-sandbox-local-',
      keepDirs: options.keepAllocDir ?? false,
      removeIdleBaseDir: true,
      removeBaseDirAtExit: true,
    });
    this.#options = options;
    this.sessionId = options.sessionId ?? sessionId();
  }

  async detect(): Promise<Detection> {
    return {
      available: true,
      version: `node ${process.version}`,
      details: { baseDir: this.#options.baseDir ?? tmpdir(), sessionId: this.sessionId },
    };
  }

  protected async placeOnce(request: PlaceOnceRequest): Promise<LocalPlacement> {
    const id = this.newId(request.name);
    const timestamps: PlacementTimestamps = { submitted: now() };
    const events: PlacementEvent[] = [{ time: timestamps.submitted, type: 'submitted', message: `driver ${request.driver.name}` }];
    const starting: Starting = {};
    this.#starting.add(starting);
    let alloc: AllocDir | undefined;
    try {
      const plan = await request.driver.plan(request.spec);
      alloc = await createAllocDir(await this.baseDir(), id, TASK_NAME);
      const context: PlaceContext = { id, request, alloc, timestamps, events, starting };
      const placed = plan.kind === 'exec' ? await this.#placeExec(plan, context) : await this.#placeContainer(plan, context);
      // Static ports and containers do not wait on the signal: a caller (or close(), which aborts
      // it) that gave up meanwhile gets no placement, and the catch below stops what was started.
      if (request.signal.aborted) throw new AbortedError(`Placing ${id} (driver ${request.driver.name})`, { cause: request.signal.reason });
      const placement = new LocalPlacement({
        id,
        driver: plan.driver,
        host: placed.host,
        port: placed.port,
        token: request.spec.token,
        alloc,
        task: placed.task,
        timestamps,
        events,
        keepAllocDir: this.#options.keepAllocDir ?? false,
        probe: this.#options.healthProbe,
        onStopped: async (p) => {
          starting.port?.release();
          await this.placementStopped(p);
        },
      });
      log('[%s] placed: %s (%s)', id, placement.url, plan.driver);
      return placement;
    } catch (error) {
      await starting.task?.stop().catch(() => undefined);
      starting.port?.release();
      if (alloc && !this.#options.keepAllocDir) {
        const leftover = await removeAllocDir(alloc);
        if (leftover && starting.task?.removeLeftovers) await starting.task.removeLeftovers(alloc).catch(() => undefined);
        if (leftover) await removeAllocDir(alloc);
      }
      if (error instanceof SandboxError) throw error;
      throw new LocalPlacementError(id, request.driver.name, (error as Error).message, { cause: error });
    } finally {
      this.#starting.delete(starting);
    }
  }

  async #placeExec(plan: ExecLaunchPlan, ctx: PlaceContext): Promise<{ host: string; port: number; task: LocalTask }> {
    const bindHost = this.#options.bindHost ?? '127.0.0.1';
    const dialHost = dialAddress(bindHost);
    const ports = ctx.request.ports;
    if (ports.mode === 'static') {
      await assertPortFree(bindHost, ports.port);
      this.#placed(ctx, dialHost, ports.port);
      const task = await this.#startExec(plan, ctx, { port: String(ports.port), dataDir: ctx.alloc.data, bindHost }, dialHost);
      return { host: dialHost, port: ports.port, task };
    }

    // Dynamic: the scheduler picks the port, so `{{port}}` is the real one everywhere (argv, env,
    // NOMAD_PORT_http). Another process may take it before the server listens: then the server
    // exits with EADDRINUSE and is started again on another port.
    const tried: number[] = [];
    for (let attempt = 1; ; attempt++) {
      const reservation = await reserveFreePort(bindHost);
      ctx.starting.port = reservation;
      tried.push(reservation.port);
      const stderrOffset = await fileSize(ctx.alloc.stderrPath);
      const values: PlaceholderValues = { port: String(reservation.port), dataDir: ctx.alloc.data, bindHost };
      const task = await this.#startExec(plan, ctx, values, dialHost);
      const ready = await waitForReadyFile(ctx.alloc.data, {
        until: task.exited,
        timeoutMs: this.#options.readyTimeoutMs ?? 60_000,
        signal: ctx.request.signal,
      });
      if (ready) {
        if (ready.port !== reservation.port) {
          throw new ReadyPortMismatchError(ctx.id, reservation.port, ready.port, readyFilePath(ctx.alloc.data));
        }
        const host = ready.host === bindHost ? dialHost : dialAddress(ready.host);
        this.#placed(ctx, host, ready.port);
        return { host, port: ready.port, task };
      }
      const exit = await task.exited;
      const stderr = await readFrom(ctx.alloc.stderrPath, stderrOffset);
      const portTaken = isAddressInUse(stderr);
      if (portTaken && attempt < DYNAMIC_PORT_ATTEMPTS) {
        ctx.events.push({
          time: now(),
          type: 'port-taken',
          message:
            `port ${reservation.port} was taken by another process before the server listened (${exit.reason}, EADDRINUSE); ` +
            `attempt ${attempt + 1} of ${DYNAMIC_PORT_ATTEMPTS} with a new port`,
        });
        log('[%s] port %d taken before the server listened: retrying on a new port', ctx.id, reservation.port);
        await task.stop();
        ctx.starting.task = undefined;
        ctx.starting.port = undefined;
        reservation.release();
        continue;
      }
      const what = portTaken
        ? `listened: ports ${tried.join(', ')} were each taken by another process first (EADDRINUSE, ${attempt} attempts)`
        : `wrote its ready file (port ${reservation.port})`;
      throw new PlacementExitedError(ctx.id, exit, tail(stderr, 20), what);
    }
  }

  /** Starts an exec plan with the placeholders set to `values`; records it as the starting task. */
  async #startExec(plan: ExecLaunchPlan, ctx: PlaceContext, values: PlaceholderValues, dialHost: string): Promise<LocalTask> {
    const env: Record<string, string> = {};
    for (const [k, v] of Object.entries(plan.env)) env[k] = renderPlaceholders(v, values);
    Object.assign(env, nomadEnvironment(ctx, values, dialHost), {
      [PLACEHOLDER_VARIABLES.port]: values.port,
      [PLACEHOLDER_VARIABLES.dataDir]: values.dataDir,
      [PLACEHOLDER_VARIABLES.bindHost]: values.bindHost,
    });
    const proc = await startProcess({
      argv: launchArgv(plan.argv, values),
      env,
      cwd: ctx.alloc.task,
      stdoutPath: ctx.alloc.stdoutPath,
      stderrPath: ctx.alloc.stderrPath,
      processGroup: true,
    });
    const task = processTask(proc, this.#options.stopGraceMs ?? 5_000);
    ctx.starting.task = task;
    ctx.timestamps.started = now();
    ctx.events.push({ time: ctx.timestamps.started, type: 'started', message: `pid ${proc.pid} (process group ${proc.pgid}), port ${values.port}` });
    return task;
  }

  async #placeContainer(plan: ContainerLaunchPlan, ctx: PlaceContext): Promise<{ host: string; port: number; task: LocalTask }> {
    const ports = ctx.request.ports;
    if (ports.mode === 'static') await assertPortFree('127.0.0.1', ports.port);
    await openToContainerUsers(ctx.alloc);
    const values: PlaceholderValues = { port: String(plan.containerPort), dataDir: ctx.alloc.data, bindHost: '0.0.0.0' };
    const render = (s: string) => renderPlaceholders(s, values);
    const env: Record<string, string> = {};
    for (const [k, v] of Object.entries(plan.env)) env[k] = render(v);
    let container: RunningContainer;
    try {
      container = await startContainer({
        name: `hpc-sandbox-${ctx.id}`,
        image: plan.image,
        command: plan.command.map(render),
        env,
        containerPort: plan.containerPort,
        hostPort: ports.mode === 'static' ? ports.port : 0,
        hostIp: '127.0.0.1',
        binds: plan.binds.map((b) => ({ ...b, source: render(b.source) })),
        securityOpts: plan.securityOpts,
        devices: plan.devices,
        labels: { ...plan.labels, [SESSION_ID_LABEL]: this.sessionId, [PLACEMENT_LABEL]: ctx.id, [`${LABEL_PREFIX}.scheduler`]: 'local' },
        stdoutPath: ctx.alloc.stdoutPath,
        stderrPath: ctx.alloc.stderrPath,
      });
    } catch (error) {
      const message = (error as Error).message ?? String(error);
      if (ports.mode === 'static' && /port is already allocated|address already in use/i.test(message)) {
        throw new PortInUseError('127.0.0.1', ports.port, message.trim(), { cause: error });
      }
      throw error;
    }
    const task = containerTask(container, plan.image, this.#options.stopGraceMs ?? 5_000);
    ctx.starting.task = task;
    ctx.timestamps.started = now();
    ctx.events.push({ time: ctx.timestamps.started, type: 'started', message: `container ${container.id.slice(0, 12)} (${container.name})` });
    this.#placed(ctx, '127.0.0.1', container.hostPort);
    return { host: '127.0.0.1', port: container.hostPort, task };
  }

  #placed(ctx: PlaceContext, host: string, port: number): void {
    ctx.timestamps.placed = now();
    ctx.events.push({ time: ctx.timestamps.placed, type: 'placed', message: `${host}:${port}` });
  }

  /** Process exit: SIGKILL and `docker rm -f`, synchronously (the base removes the dirs). */
  protected killNow(): void {
    for (const p of this.placements) p.killNow();
    for (const s of this.#starting) s.task?.killNow();
  }
}

interface PlaceContext {
  id: string;
  request: PlacementRequest;
  alloc: AllocDir;
  timestamps: PlacementTimestamps;
  events: PlacementEvent[];
  starting: Starting;
}

/** What a placement being made holds, for its clean-up when it fails or the process exits. */
interface Starting {
  task?: LocalTask;
  /** The dynamic port reserved for it: released when the placement fails or stops. */
  port?: PortReservation;
}

/** How many times an exec plan with a dynamic port is started when its port keeps being taken. */
const DYNAMIC_PORT_ATTEMPTS = 3;

/** The variables a Nomad raw_exec task sees, so the same env-expansion checks pass locally. */
function nomadEnvironment(ctx: PlaceContext, values: PlaceholderValues, dialHost: string): Record<string, string> {
  return {
    NOMAD_ALLOC_DIR: ctx.alloc.shared,
    NOMAD_TASK_DIR: ctx.alloc.local,
    NOMAD_SECRETS_DIR: ctx.alloc.secrets,
    NOMAD_ALLOC_ID: ctx.id,
    NOMAD_ALLOC_NAME: `${ctx.id}.${TASK_NAME}[0]`,
    NOMAD_TASK_NAME: TASK_NAME,
    NOMAD_PORT_http: values.port,
    NOMAD_HOST_PORT_http: values.port,
    NOMAD_IP_http: dialHost,
    NOMAD_ADDR_http: `${dialHost}:${values.port}`,
  };
}

function processTask(proc: RunningProcess, graceMs: number): LocalTask {
  return {
    processGroup: proc.pgid,
    exited: proc.exited.then((e) => ({ exitCode: e.exitCode, signal: e.signal, reason: e.reason })),
    isAlive: () => proc.isAlive(),
    stop: async () => {
      await proc.stop({ graceMs });
    },
    killNow: () => proc.kill('SIGKILL'),
  };
}

function containerTask(container: RunningContainer, image: string, graceMs: number): LocalTask {
  return {
    containerId: container.id,
    exited: container.exited.then((e): PlacementExit => ({ exitCode: e.exitCode, reason: e.reason })),
    isAlive: () => container.exit === undefined,
    stop: async () => {
      await container.stop({ graceMs });
    },
    killNow: () => {
      if (container.exit === undefined) spawnSync('docker', ['rm', '-f', container.id], { stdio: 'ignore', timeout: 10_000 });
    },
    // Files the container's user wrote may resist a non-root host user: delete them as root inside.
    removeLeftovers: async (dir) => {
      const docker = await dockerClient();
      const helper = await docker.createContainer({
        Image: image,
        Entrypoint: [],
        User: '0',
        Cmd: ['/bin/sh', '-c', 'rm -rf /alloc/* /alloc/.[!.]* 2>/dev/null; true'],
        Labels: { [SESSION_ID_LABEL]: 'cleanup' },
        HostConfig: { Binds: [`${dir.shared}:/alloc`] },
      });
      try {
        await helper.start();
        await helper.wait();
      } finally {
        await helper.remove({ force: true }).catch(() => undefined);
      }
    },
  };
}

/**
 * The argv that starts an exec plan. With a `$` anywhere, through the shell wrapper so variables
 * expand as in a Nomad task; without one there is nothing to expand, so the placeholders are
 * rendered here and the program starts directly (one exec fewer on the start-up path).
 */
export function launchArgv(argv: readonly string[], values: PlaceholderValues): string[] {
  if (argv.some((a) => a.includes('$'))) return wrapInShell(argv);
  return argv.map((a) => renderPlaceholders(a, values));
}

export { dialAddress } from '../shared/dial-address.js';

/** Throws `PortInUseError` when `port` cannot be bound on `host` right now. */
export async function assertPortFree(host: string, port: number): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    const server = createServer();
    server.once('error', (error: NodeJS.ErrnoException) =>
      reject(error.code === 'EADDRINUSE' ? new PortInUseError(host, port, `${error.code}: ${error.message}`, { cause: error }) : error),
    );
    server.listen({ host, port, exclusive: true }, () => server.close(() => resolve()));
  });
}

/** Size of the file at `path`, 0 when there is none yet. */
async function fileSize(path: string): Promise<number> {
  return (await stat(path).catch(() => undefined))?.size ?? 0;
}

/** The text of `path` from byte `offset` on (what one attempt wrote to a log shared by attempts). */
async function readFrom(path: string, offset: number): Promise<string> {
  const bytes = await readFile(path).catch(() => Buffer.alloc(0));
  return bytes.subarray(offset).toString('utf8');
}
