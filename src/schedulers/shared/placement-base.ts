import type { DriverName } from '../../drivers/driver.js';
import {
  placementUrl,
  type Placement,
  type PlacementEvent,
  type PlacementExit,
  type PlacementStatus,
  type PlacementTimestamps,
  type SchedulerName,
} from '../scheduler.js';
import { type HealthProbe, waitForHealthy } from '../wait-healthy.js';
import { now } from './clock.js';

export interface PlacementBaseInit {
  id: string;
  driver: DriverName;
  host: string;
  port: number;
  token?: string;
  timestamps: PlacementTimestamps;
  events: PlacementEvent[];
  /** Settles when the task, job or allocation has ended. Never rejects. */
  exited: Promise<PlacementExit>;
  /**
   * Record an `exited` event with the reason. Off where the scheduler's own events already tell
   * the end, with its own times (Nomad's task events: Killing, Terminated, Killed). @default true
   */
  exitEvent?: boolean;
  /**
   * A stop() that failed is tried again by the next stop() call. Only where a failed stopOnce has
   * changed nothing, so trying again is safe (Nomad: a refused or unreachable purge). @default false:
   * a failed stop is final, and every later call reports the same failure.
   */
  retryFailedStop?: boolean;
}

/**
 * What every placement shares: its address and url, the event list, the exit (reason marked
 * `stopped (...)` when stop() caused it), idempotent stop() and waitUntilHealthy(). A placement
 * kind implements `status`, `logs` and `stopOnce`.
 */
export abstract class PlacementBase implements Placement {
  abstract readonly scheduler: SchedulerName;
  readonly id: string;
  readonly driver: DriverName;
  readonly host: string;
  readonly port: number;
  readonly url: string;
  readonly token?: string;
  readonly timestamps: PlacementTimestamps;
  readonly events: PlacementEvent[];
  readonly exited: Promise<PlacementExit>;
  readonly #retryFailedStop: boolean;
  #exit: PlacementExit | undefined;
  #stopping: Promise<void> | undefined;

  protected constructor(init: PlacementBaseInit) {
    this.id = init.id;
    this.driver = init.driver;
    this.host = init.host;
    this.port = init.port;
    this.url = placementUrl(init.host, init.port);
    if (init.token !== undefined) this.token = init.token;
    this.timestamps = init.timestamps;
    this.events = init.events;
    this.#retryFailedStop = init.retryFailedStop ?? false;
    const exitEvent = init.exitEvent ?? true;
    this.exited = init.exited.then((exit) => {
      this.#exit = this.#stopping ? { ...exit, reason: `stopped (${exit.reason})` } : exit;
      if (exitEvent) this.event('exited', this.#exit.reason);
      return this.#exit;
    });
  }

  /** The exit, once `exited` has settled. */
  protected get exit(): PlacementExit | undefined {
    return this.#exit;
  }

  /** Whether `exited` has settled (the sandbox is over). */
  get exitedSettled(): boolean {
    return this.#exit !== undefined;
  }

  protected event(type: string, message: string): void {
    this.events.push({ time: now(), type, message });
  }

  abstract status(options?: { signal?: AbortSignal }): Promise<PlacementStatus>;
  abstract logs(options?: { tailLines?: number; signal?: AbortSignal }): Promise<{ stdout: string; stderr: string }>;

  /** How waitUntilHealthy() probes health. @default undefined: GET /health polling */
  protected healthProbe(): HealthProbe | undefined {
    return undefined;
  }

  /**
   * Stops the sandbox and removes what it left; runs once, whatever stop() calls come (again after
   * a failure only with `retryFailedStop`). `signal` is the first stop() call's.
   */
  protected abstract stopOnce(options: { signal?: AbortSignal }): Promise<void>;

  async waitUntilHealthy(options: { signal?: AbortSignal; timeoutMs?: number } = {}): Promise<void> {
    const probe = this.healthProbe();
    await waitForHealthy(this, probe ? { ...options, probe } : options);
    this.timestamps.healthy ??= now();
    this.event('healthy', `GET ${this.url}/health answered OK`);
  }

  stop(options: { signal?: AbortSignal } = {}): Promise<void> {
    this.#stopping ??= this.stopOnce(options).catch((error: unknown) => {
      if (this.#retryFailedStop) this.#stopping = undefined;
      throw error;
    });
    return this.#stopping;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.stop();
  }
}
