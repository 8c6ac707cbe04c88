import { existsSync } from 'node:fs';
import { createWriteStream, type WriteStream } from 'node:fs';
import type Dockerode from 'dockerode';
import { logger } from '../../common/logger.js';
import { SESSION_ID_LABEL } from '../../drivers/labels.js';

const log = logger('scheduler:local:container');

export interface ContainerExit {
  exitCode: number | null;
  /** `exited with code 137`, `container removed`, ... */
  reason: string;
}

export interface StartContainerOptions {
  /** A local image: it is never pulled (there is no registry). */
  image: string;
  /** Command run inside the container; the image entrypoint is overridden. */
  command: readonly string[];
  env: Record<string, string>;
  /** Port the server listens on inside the container. */
  containerPort: number;
  /** Host port: `0` lets Docker pick a free one. */
  hostPort: number;
  /** Host address the port is published on. @default '127.0.0.1' */
  hostIp?: string;
  binds: ReadonlyArray<{ source: string; target: string; readOnly?: boolean }>;
  /** Host devices to pass in; those the host lacks are left out. */
  devices?: readonly string[];
  /** Docker CLI style: `seccomp=unconfined`, `systempaths=unconfined` (translated to empty masked and read-only paths). */
  securityOpts: readonly string[];
  labels: Record<string, string>;
  /** Container name (unique on the engine). */
  name?: string;
  /** Where the container's output is copied to, as it comes. */
  stdoutPath: string;
  stderrPath: string;
}

/** A container started by `startContainer`; stop it to remove it. */
export interface RunningContainer {
  readonly id: string;
  readonly name: string;
  /** The host port mapped to `containerPort`. */
  readonly hostPort: number;
  /** Settles when the container has stopped or is gone. Never rejects. */
  readonly exited: Promise<ContainerExit>;
  readonly exit: ContainerExit | undefined;
  /** SIGKILL (`docker kill`). */
  kill(): Promise<void>;
  /** Stops (SIGTERM, SIGKILL after `graceMs`) and removes the container. Idempotent. */
  stop(options?: { graceMs?: number }): Promise<ContainerExit>;
}

let dockerodePromise: Promise<Dockerode> | undefined;

/**
 * The Docker Engine client, found the way testcontainers finds it (DOCKER_HOST, config, socket).
 * Ryuk is disabled before testcontainers loads: the reaper is an image we cannot pull; our own
 * session label and stop() clean up instead.
 */
export function dockerClient(): Promise<Dockerode> {
  dockerodePromise ??= (async () => {
    process.env.TESTCONTAINERS_RYUK_DISABLED ??= 'true';
    const { getContainerRuntimeClient } = await import('testcontainers');
    return (await getContainerRuntimeClient()).container.dockerode;
  })();
  dockerodePromise.catch(() => (dockerodePromise = undefined));
  return dockerodePromise;
}

/** Translates Docker CLI `--security-opt` values into HostConfig fields, as the CLI does client-side. */
export function securityHostConfig(securityOpts: readonly string[]): Pick<
  Dockerode.HostConfig,
  'SecurityOpt' | 'MaskedPaths' | 'ReadonlyPaths'
> {
  const config: Pick<Dockerode.HostConfig, 'SecurityOpt' | 'MaskedPaths' | 'ReadonlyPaths'> = {};
  const passed: string[] = [];
  for (const opt of securityOpts) {
    if (opt === 'systempaths=unconfined') {
      config.MaskedPaths = [];
      config.ReadonlyPaths = [];
    } else {
      passed.push(opt);
    }
  }
  if (passed.length > 0) config.SecurityOpt = passed;
  return config;
}

/**
 * Creates and starts a container from a local image with one published port, streams its output
 * into files and reports its end through `exited`. The caller owns the container: `stop()` removes
 * it. Test doubles of other schedulers reuse this to really start container tasks.
 */
export async function startContainer(options: StartContainerOptions): Promise<RunningContainer> {
  const docker = await dockerClient();
  const portKey = `${options.containerPort}/tcp`;
  const container = await docker.createContainer({
    name: options.name,
    Image: options.image,
    Entrypoint: [],
    Cmd: [...options.command],
    Env: Object.entries(options.env).map(([k, v]) => `${k}=${v}`),
    Labels: options.labels,
    ExposedPorts: { [portKey]: {} },
    HostConfig: {
      PortBindings: {
        [portKey]: [{ HostIp: options.hostIp ?? '127.0.0.1', HostPort: options.hostPort ? String(options.hostPort) : '' }],
      },
      Binds: options.binds.map((b) => `${b.source}:${b.target}${b.readOnly ? ':ro' : ''}`),
      ...securityHostConfig(options.securityOpts),
      Devices: (options.devices ?? []).filter((path) => existsSync(path)).map((path) => ({ PathOnHost: path, PathInContainer: path, CgroupPermissions: 'rwm' })),
    },
  });
  const started = new StartedContainer(container, options);
  try {
    await container.start();
    // The engine keeps the output from the start on: following it afterwards loses nothing, and
    // saves a round trip (attach) before the start.
    const [info] = await Promise.all([container.inspect(), started.followOutput(docker)]);
    const binding = info.NetworkSettings.Ports?.[portKey]?.[0];
    const hostPort = Number(binding?.HostPort);
    if (!Number.isInteger(hostPort) || hostPort <= 0) {
      throw new Error(`Container ${info.Name} has no host port bound for ${portKey}: ${JSON.stringify(info.NetworkSettings.Ports)}`);
    }
    started.setStarted(info.Name.replace(/^\//, ''), hostPort);
    log('[ctr %s] started %s, %s -> 127.0.0.1:%d', container.id.slice(0, 12), options.image, portKey, hostPort);
    return started;
  } catch (error) {
    await started.stop({ graceMs: 0 }).catch(() => undefined);
    throw error;
  }
}

class StartedContainer implements RunningContainer {
  readonly id: string;
  name = '';
  hostPort = 0;
  exit: ContainerExit | undefined;
  readonly exited: Promise<ContainerExit>;
  #resolveExit!: (exit: ContainerExit) => void;
  #streams: WriteStream[] = [];
  #stopping: Promise<ContainerExit> | undefined;

  constructor(
    private readonly container: Dockerode.Container,
    private readonly options: StartContainerOptions,
  ) {
    this.id = container.id;
    this.exited = new Promise((resolve) => (this.#resolveExit = resolve));
  }

  setStarted(name: string, hostPort: number): void {
    this.name = name;
    this.hostPort = hostPort;
    this.#watchExit();
  }

  async followOutput(docker: Dockerode): Promise<void> {
    const stream = (await this.container.logs({ follow: true, stdout: true, stderr: true })) as unknown as NodeJS.ReadableStream;
    const stdout = createWriteStream(this.options.stdoutPath, { flags: 'a' });
    const stderr = createWriteStream(this.options.stderrPath, { flags: 'a' });
    this.#streams.push(stdout, stderr);
    docker.modem.demuxStream(stream, stdout, stderr);
    stream.on('error', () => undefined);
  }

  #watchExit(): void {
    this.container.wait().then(
      (result: { StatusCode?: number }) => this.#settle({ exitCode: result.StatusCode ?? null, reason: `exited with code ${result.StatusCode}` }),
      (error: Error) => this.#settle({ exitCode: null, reason: `container gone: ${error.message}` }),
    );
  }

  #settle(exit: ContainerExit): void {
    if (this.exit) return;
    this.exit = exit;
    log('[ctr %s] %s', this.id.slice(0, 12), exit.reason);
    this.#resolveExit(exit);
  }

  async kill(): Promise<void> {
    await this.container.kill().catch(ignoreGone);
  }

  stop(options: { graceMs?: number } = {}): Promise<ContainerExit> {
    this.#stopping ??= this.#stop(options.graceMs ?? 5_000);
    return this.#stopping;
  }

  async #stop(graceMs: number): Promise<ContainerExit> {
    // A failed graceful stop must not keep the container: the forced removal below kills it anyway.
    await this.container
      .stop({ t: Math.ceil(graceMs / 1000) })
      .catch(ignoreGone)
      .catch((error: Error) => log('[ctr %s] stop failed, removing by force: %s', this.id.slice(0, 12), error.message));
    await this.container.remove({ force: true, v: true }).catch(ignoreGone);
    this.#settle({ exitCode: null, reason: 'container removed' });
    await Promise.all(this.#streams.map((s) => new Promise((resolve) => s.end(resolve))));
    return this.exit!;
  }
}

/** Containers this session (or any session, without `sessionId`) left behind; `remove` deletes them. */
export async function sweepContainers(sessionId?: string, options: { remove?: boolean } = {}): Promise<string[]> {
  const docker = await dockerClient();
  const label = sessionId ? `${SESSION_ID_LABEL}=${sessionId}` : SESSION_ID_LABEL;
  const found = await docker.listContainers({ all: true, filters: { label: [label] } });
  if (options.remove) {
    await Promise.all(found.map((c) => docker.getContainer(c.Id).remove({ force: true, v: true }).catch(ignoreGone)));
  }
  return found.map((c) => c.Id);
}

function ignoreGone(error: { statusCode?: number }): void {
  // 304: already stopped; 404: already removed; 409: removal already in progress.
  if (error.statusCode === 304 || error.statusCode === 404 || error.statusCode === 409) return;
  throw error;
}
