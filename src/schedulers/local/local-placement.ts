import { rmSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { tail } from '../../common/exec.js';
import { logger } from '../../common/logger.js';
import type { DriverName } from '../../drivers/driver.js';
import {
  placementUrl,
  type Placement,
  type PlacementEvent,
  type PlacementExit,
  type PlacementStatus,
  type PlacementTimestamps,
} from '../scheduler.js';
import { type HealthProbe, waitForHealthy } from '../wait-healthy.js';
import { type AllocDir, removeAllocDir } from '../shared/alloc-dir.js';

const log = logger('scheduler:local');

/** Wall-clock epoch ms with sub-millisecond precision. */
export function now(): number {
  return performance.timeOrigin + performance.now();
}

/** What runs a placement on this machine: a process group or a container. */
export interface LocalTask {
  /** Process group of an exec plan (its leader's pid). */
  readonly processGroup?: number;
  /** Container id of a container plan. */
  readonly containerId?: string;
  /** Settles when the task has ended. Never rejects. */
  readonly exited: Promise<PlacementExit>;
  /** Whether anything of the task still runs. */
  isAlive(): boolean;
  /** Ends the task and everything it started. Idempotent. */
  stop(): Promise<void>;
  /** Synchronous best effort for process exit (SIGKILL, `docker rm -f`). */
  killNow(): void;
  /** Removes what the task left in the alloc dir that this user cannot delete (container-owned files). */
  removeLeftovers?(dir: AllocDir): Promise<void>;
}

export interface LocalPlacementInit {
  id: string;
  driver: DriverName;
  host: string;
  port: number;
  token?: string;
  alloc: AllocDir;
  task: LocalTask;
  timestamps: PlacementTimestamps;
  events: PlacementEvent[];
  keepAllocDir: boolean;
  probe?: (placement: LocalPlacement) => HealthProbe;
  /** Called once the placement is stopped (the scheduler forgets it). */
  onStopped: (placement: LocalPlacement) => void | Promise<void>;
}

/** A sandbox server placed on this machine by `LocalScheduler`. */
export class LocalPlacement implements Placement {
  readonly id: string;
  readonly scheduler = 'local' as const;
  readonly driver: DriverName;
  readonly host: string;
  readonly port: number;
  readonly url: string;
  readonly token?: string;
  readonly allocDir: string;
  readonly dataDir: string;
  readonly timestamps: PlacementTimestamps;
  readonly events: PlacementEvent[];
  readonly exited: Promise<PlacementExit>;
  /** Process group of an exec plan: `kill -- -<processGroup>` reaches every process of the sandbox. */
  readonly processGroup?: number;
  /** Docker container id of a container plan. */
  readonly containerId?: string;
  readonly #alloc: AllocDir;
  readonly #task: LocalTask;
  readonly #init: LocalPlacementInit;
  #exit: PlacementExit | undefined;
  #stopping: Promise<void> | undefined;

  constructor(init: LocalPlacementInit) {
    this.#init = init;
    this.id = init.id;
    this.driver = init.driver;
    this.host = init.host;
    this.port = init.port;
    this.url = placementUrl(init.host, init.port);
    if (init.token !== undefined) this.token = init.token;
    this.#alloc = init.alloc;
    this.allocDir = init.alloc.root;
    this.dataDir = init.alloc.data;
    this.timestamps = init.timestamps;
    this.events = init.events;
    this.#task = init.task;
    if (init.task.processGroup !== undefined) this.processGroup = init.task.processGroup;
    if (init.task.containerId !== undefined) this.containerId = init.task.containerId;
    this.exited = init.task.exited.then((exit) => {
      this.#exit = this.#stopping ? { ...exit, reason: `stopped (${exit.reason})` } : exit;
      this.#event('exited', this.#exit.reason);
      return this.#exit;
    });
  }

  #event(type: string, message: string): void {
    this.events.push({ time: now(), type, message });
  }

  async status(): Promise<PlacementStatus> {
    return this.#exit ? 'exited' : 'running';
  }

  async logs(options: { tailLines?: number } = {}): Promise<{ stdout: string; stderr: string }> {
    const read = async (path: string) => {
      const text = await readFile(path, 'utf8').catch(() => '');
      return options.tailLines === undefined ? text : tail(text, options.tailLines);
    };
    const [stdout, stderr] = await Promise.all([read(this.#alloc.stdoutPath), read(this.#alloc.stderrPath)]);
    return { stdout, stderr };
  }

  async waitUntilHealthy(options: { signal?: AbortSignal; timeoutMs?: number } = {}): Promise<void> {
    await waitForHealthy(this, { ...options, probe: this.#init.probe?.(this) });
    this.timestamps.healthy ??= now();
    this.#event('healthy', `GET ${this.url}/health answered OK`);
  }

  /** Synchronous last resort (process exit): kill the task, remove the alloc dir. */
  killNow(): void {
    this.#task.killNow();
    if (!this.#init.keepAllocDir) rmSync(this.allocDir, { recursive: true, force: true, maxRetries: 2 });
  }

  stop(): Promise<void> {
    this.#stopping ??= this.#stop();
    return this.#stopping;
  }

  async #stop(): Promise<void> {
    this.#event('stopping', 'stop requested');
    try {
      await this.#task.stop();
      await this.exited;
      if (!this.#init.keepAllocDir) await this.#removeAllocDir();
    } finally {
      await this.#init.onStopped(this);
    }
    log('[%s] stopped', this.id);
  }

  async #removeAllocDir(): Promise<void> {
    let failure = await removeAllocDir(this.#alloc);
    if (failure && this.#task.removeLeftovers) {
      await this.#task.removeLeftovers(this.#alloc);
      failure = await removeAllocDir(this.#alloc);
    }
    if (failure) throw new Error(`Could not remove alloc dir ${this.allocDir} of ${this.id}: ${failure.message}`, { cause: failure });
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.stop();
  }
}
