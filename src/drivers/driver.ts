/**
 * A driver knows how to contain the sandbox server process: it detects whether its runtime works
 * here and turns a sandbox spec into a launch plan. It knows nothing of schedulers or suites: the
 * scheduler decides where the plan runs and fills in the placeholders (port, data dir, bind host).
 */
export type DriverName = 'process' | 'docker' | 'singularity' | 'charliecloud' | 'podman';
export const DRIVER_NAMES: readonly DriverName[] = ['process', 'docker', 'singularity', 'charliecloud', 'podman'];

/** Result of probing a driver or scheduler: available with a version, or not, with a one-line reason. */
export interface Detection {
  available: boolean;
  /** What the runtime says of itself, e.g. `apptainer version 1.3.4`, `Docker 28.2.2`. */
  version?: string;
  /** Why not, naming the thing that is missing: `apptainer: not on PATH`. */
  reason?: string;
  /** Extra facts for `doctor` and reports (binary path, socket, bwrap inside...). */
  details?: Record<string, string>;
}

/** How bubblewrap is used for each slot inside the server. */
export type IsolationMode = 'auto' | 'require' | 'off';

/** What to run: the same spec works for every driver and scheduler. */
export interface SandboxSpec {
  /** Number of slots (`slot_0`..`slot_{N-1}`). */
  slots: number;
  /** Driver-specific image: Docker tag, SIF path, SquashFS file or directory. Undefined: the driver's default image. */
  image?: string;
  /** Names of host variables that cross into the sandbox. Nothing else of the host environment does. */
  envAllowlist: string[];
  /** Variables set inside the sandbox. Values may contain placeholders (`{{port}}`, `{{dataDir}}`). */
  env: Record<string, string>;
  /** bwrap per slot: `auto` uses it when usable, `require` refuses to run commands without it, `off` never uses it. */
  isolation: IsolationMode;
  /** Bearer token the server requires on every endpoint but /health. */
  token?: string;
  /** Docker/Podman: run with `seccomp=unconfined` and `systempaths=unconfined` so bwrap works inside. */
  unconfined?: boolean;
  /**
   * Grants: host paths every slot sees (a dataset read-only, a shared scratch read-write). The
   * driver binds each into the container at `dest` and the server exposes it to the slots there.
   */
  expose?: ExposedPath[];
}

/** One grant of `SandboxSpec.expose`. */
export interface ExposedPath {
  /** Absolute host path; it must exist when the server starts. */
  source: string;
  /** Where slots see it. @default source */
  dest?: string;
  /** @default 'ro' */
  mode?: 'ro' | 'rw';
}

/**
 * Placeholders a scheduler substitutes in plan argv, env values and bind sources:
 * `{{port}}` the port the server listens on, `{{dataDir}}` the host path of the alloc data dir,
 * `{{bindHost}}` the address the server binds.
 */
export const PLACEHOLDERS = { port: '{{port}}', dataDir: '{{dataDir}}', bindHost: '{{bindHost}}' } as const;
export type PlaceholderValues = { port: string; dataDir: string; bindHost: string };

/** A program started on the host, sharing the host network (process, singularity, charliecloud). */
export interface ExecLaunchPlan {
  kind: 'exec';
  driver: DriverName;
  /** argv[0] is the program. Elements may contain placeholders. */
  argv: string[];
  /** The complete environment of the launched program: the host environment never passes unless listed. */
  env: Record<string, string>;
  /** Start it as the leader of its own process group and signal the group (ch-run on SquashFS forks). */
  processGroup: boolean;
}

/** A container started through an engine API (docker, podman), with a host port mapped to `containerPort`. */
export interface ContainerLaunchPlan {
  kind: 'container';
  driver: DriverName;
  image: string;
  /** Command run inside the container (entrypoint overridden). */
  command: string[];
  env: Record<string, string>;
  containerPort: number;
  /** Bind mounts; `source` may contain `{{dataDir}}`. */
  binds: Array<{ source: string; target: string; readOnly?: boolean }>;
  /**
   * Host devices passed into the container when the host has them: `/dev/net/tun`, which the
   * server's pasta needs to give each slot its own network.
   */
  devices: string[];
  securityOpts: string[];
  labels: Record<string, string>;
}

export type LaunchPlan = ExecLaunchPlan | ContainerLaunchPlan;

export interface PlanOptions {
  /** Where allowlisted values are read from. @default process.env */
  hostEnv?: NodeJS.ProcessEnv;
}

export interface Driver {
  readonly name: DriverName;
  /** Is the runtime usable here? Never throws: an unusable runtime is `{ available: false, reason }`. */
  detect(options?: { signal?: AbortSignal }): Promise<Detection>;
  /** The launch plan for `spec`. Throws `ConfigError` for a spec this driver cannot run (no image...). */
  plan(spec: SandboxSpec, options?: PlanOptions): Promise<LaunchPlan>;
}

/** Replaces every placeholder in `text`. */
export function renderPlaceholders(text: string, values: PlaceholderValues): string {
  return text
    .replaceAll(PLACEHOLDERS.port, values.port)
    .replaceAll(PLACEHOLDERS.dataDir, values.dataDir)
    .replaceAll(PLACEHOLDERS.bindHost, values.bindHost);
}
