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
    this.exited = init.exited.then((exit) => {
      this.#exit = this.#stopping ? { ...exit, reason: `stopped (${exit.reason})` } : exit;
      this.event('exited', this.#exit.reason);
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

  /** Stops the sandbox and removes what it left; runs once, whatever stop() calls come. */
  protected abstract stopOnce(): Promise<void>;

  async waitUntilHealthy(options: { signal?: AbortSignal; timeoutMs?: number } = {}): Promise<void> {
    const probe = this.healthProbe();
    await waitForHealthy(this, probe ? { ...options, probe } : options);
    this.timestamps.healthy ??= now();
    this.event('healthy', `GET ${this.url}/health answered OK`);
  }

  stop(): Promise<void> {
    this.#stopping ??= this.stopOnce();
    return this.#stopping;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.stop();
  }
}
