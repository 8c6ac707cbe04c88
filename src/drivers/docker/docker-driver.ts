import { defaultImageRef } from '../../images/image-format.js';
import type { ContainerLaunchPlan, Detection, Driver, PlanOptions, SandboxSpec } from '../driver.js';
import { PLACEHOLDERS } from '../driver.js';
import { LABEL_PREFIX, runLabels, SESSION_ID_LABEL, sessionId } from '../labels.js';
import { currentRunLabel } from '../../common/run-label.js';
import { DEFAULT_LANG, DEFAULT_PATH, sandboxEnv } from '../sandbox-env.js';
import { CONTAINER_PORT, exposeBinds, IMAGE_DATA_DIR, IMAGE_SERVER_PATH, serverArgs } from '../server-command.js';
import { DockerEngine, dockerEndpoint } from './docker-engine.js';

export interface DockerDriverOptions {
  /** Where `DOCKER_HOST` is read. @default process.env */
  env?: NodeJS.ProcessEnv;
  /** Session id written into the container labels. @default sessionId() */
  sessionId?: string;
}

/** Security options that let bwrap create namespaces and mount /proc inside the container. */
/** The tun device pasta opens to give each slot its own network (see src/server/user-net.ts). */
export const TUN_DEVICE = '/dev/net/tun';

export const UNCONFINED_SECURITY_OPTS: readonly string[] = ['seccomp=unconfined', 'systempaths=unconfined'];

/**
 * The sandbox server in a Docker container started through the Engine API: a local image only
 * (never pulled), the container's port 8080 mapped to a host port, the data dir bound at /data.
 * `unconfined` (the default) turns off seccomp and /proc masking so bwrap works inside.
 */
export class DockerDriver implements Driver {
  readonly name = 'docker' as const;
  readonly #env: NodeJS.ProcessEnv;
  readonly #sessionId: string | undefined;

  constructor(options: DockerDriverOptions = {}) {
    this.#env = options.env ?? process.env;
    this.#sessionId = options.sessionId;
  }

  async detect(options: { signal?: AbortSignal } = {}): Promise<Detection> {
    const engine = new DockerEngine(dockerEndpoint(this.#env));
    const details: Record<string, string> = { endpoint: engine.endpoint.display };
    try {
      const version = await engine.version({ signal: options.signal, timeoutMs: 5_000 });
      details.apiVersion = version.ApiVersion;
      const podman = version.Components?.some((c) => /podman/i.test(c.Name));
      if (podman) details.engine = 'podman (Docker-compatible API)';
      const image = defaultImageRef('docker');
      details.defaultImage = (await engine.inspectImage(image, options)) ? `${image} (present)` : `${image} (absent: run hpc-sandbox image build --format docker)`;
      return { available: true, version: `${podman ? 'Podman' : 'Docker'} ${version.Version}`, details };
    } catch (error) {
      const why = error instanceof Error && 'body' in error ? String(error.body) : String(error);
      return { available: false, reason: `docker: cannot connect to ${engine.endpoint.display} (${why})`, details };
    }
  }

  async plan(spec: SandboxSpec, options: PlanOptions = {}): Promise<ContainerLaunchPlan> {
    const hostEnv = options.hostEnv ?? process.env;
    const unconfined = spec.unconfined ?? true;
    return {
      kind: 'container',
      driver: this.name,
      image: spec.image ?? defaultImageRef('docker'),
      command: ['node', IMAGE_SERVER_PATH, ...serverArgs(spec, { host: '0.0.0.0', port: String(CONTAINER_PORT), dataDir: IMAGE_DATA_DIR })],
      env: sandboxEnv(spec, hostEnv, { PATH: DEFAULT_PATH, HOME: '/tmp', LANG: DEFAULT_LANG }),
      containerPort: CONTAINER_PORT,
      binds: [{ source: PLACEHOLDERS.dataDir, target: IMAGE_DATA_DIR }, ...exposeBinds(spec)],
      devices: [TUN_DEVICE],
      securityOpts: unconfined ? [...UNCONFINED_SECURITY_OPTS] : [],
      labels: {
        [`${LABEL_PREFIX}.managed`]: 'true',
        // The owning run's host, pid and start (`hpc-sandbox cleanup`); a caller that pins the
        // session id (goldens, a CI job) owns the identity, so nothing process-specific is added.
        ...(this.#sessionId === undefined ? runLabels(currentRunLabel()) : {}),
        [SESSION_ID_LABEL]: this.#sessionId ?? sessionId(),
        [`${LABEL_PREFIX}.driver`]: this.name,
        [`${LABEL_PREFIX}.slots`]: String(spec.slots),
      },
    };
  }
}
