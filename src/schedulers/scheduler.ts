import type { Detection, Driver, DriverName, SandboxSpec } from '../drivers/driver.js';

/**
 * A scheduler places a sandbox server somewhere and finds it again: `local` (this machine),
 * `nomad` (a Nomad agent's HTTP API), `slurm` (sbatch/squeue/scancel).
 */
export type SchedulerName = 'local' | 'nomad' | 'slurm';
export const SCHEDULER_NAMES: readonly SchedulerName[] = ['local', 'nomad', 'slurm'];

/** `dynamic`: the scheduler picks a free port. `static`: this exact host port (Nomad `ReservedPorts`). */
export type PortRequest = { mode: 'dynamic' } | { mode: 'static'; port: number };

export interface PlacementRequest {
  driver: Driver;
  spec: SandboxSpec;
  ports: PortRequest;
  /** Prefix for ids and job names; a unique suffix is added. @default 'sandbox' */
  name?: string;
  signal?: AbortSignal;
}

/** Wall-clock instants (epoch ms, sub-ms precision) of each phase of a placement. */
export interface PlacementTimestamps {
  submitted: number;
  /** The scheduler knows where it runs (host and port). */
  placed?: number;
  /** The process or container was started. */
  started?: number;
  /** GET /health answered OK. */
  healthy?: number;
}

export interface PlacementEvent {
  time: number;
  type: string;
  message: string;
}

export interface PlacementExit {
  exitCode?: number | null;
  signal?: string | null;
  /** One line on why it ended (`exited with code 1`, `container removed`, `alloc failed: ...`). */
  reason: string;
}

export type PlacementStatus = 'running' | 'exited' | 'unknown';

/** One running sandbox server. Stop it (or `await using` it) to leave nothing behind. */
export interface Placement extends AsyncDisposable {
  readonly id: string;
  readonly scheduler: SchedulerName;
  readonly driver: DriverName;
  /** Address to dial (never a wildcard). */
  readonly host: string;
  readonly port: number;
  /** `http://host:port` */
  readonly url: string;
  /** The bearer token the server wants, when the spec set one. */
  readonly token?: string;
  /** Host path of the alloc dir (`alloc/data`, `local`, `secrets`), where the scheduler exposes one. */
  readonly allocDir?: string;
  /** Host path bound as the server's data dir, where the scheduler exposes one. */
  readonly dataDir?: string;
  readonly timestamps: PlacementTimestamps;
  readonly events: readonly PlacementEvent[];
  /** Settles when the sandbox is gone (exited, killed, lost, stopped). Never rejects. */
  readonly exited: Promise<PlacementExit>;
  status(options?: { signal?: AbortSignal }): Promise<PlacementStatus>;
  logs(options?: { tailLines?: number; signal?: AbortSignal }): Promise<{ stdout: string; stderr: string }>;
  /**
   * Waits until GET /health answers OK and records `timestamps.healthy`. Fails early, with the last
   * lines of stderr, when the sandbox exits first.
   */
  waitUntilHealthy(options?: { signal?: AbortSignal; timeoutMs?: number }): Promise<void>;
  /** Stops the sandbox and removes what it left (process group, container, mounts). Idempotent. */
  stop(options?: { signal?: AbortSignal }): Promise<void>;
}

export interface Scheduler extends AsyncDisposable {
  readonly name: SchedulerName;
  detect(options?: { signal?: AbortSignal }): Promise<Detection>;
  place(request: PlacementRequest): Promise<Placement>;
  /** Stops every placement this scheduler made that still runs. */
  close(): Promise<void>;
}

export type { Detection, Driver, DriverName, SandboxSpec };

/** `http://host:port` of a placement; an IPv6 host gets its brackets (`http://[::1]:8080`). */
export function placementUrl(host: string, port: number): string {
  return `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
}
