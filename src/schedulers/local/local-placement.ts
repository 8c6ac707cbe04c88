import { rmSync } from 'node:fs';
import { logger } from '../../common/logger.js';
import type { DriverName } from '../../drivers/driver.js';
import type { PlacementEvent, PlacementExit, PlacementStatus, PlacementTimestamps } from '../scheduler.js';
import type { HealthProbe } from '../wait-healthy.js';
import { type AllocDir, removeAllocDir } from '../shared/alloc-dir.js';
import { readLogFiles } from '../shared/log-files.js';
import { PlacementBase } from '../shared/placement-base.js';

const log = logger('scheduler:local');

export { now } from '../shared/clock.js';

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
export class LocalPlacement extends PlacementBase {
  readonly scheduler = 'local' as const;
  readonly allocDir: string;
  readonly dataDir: string;
  /** Process group of an exec plan: `kill -- -<processGroup>` reaches every process of the sandbox. */
  readonly processGroup?: number;
  /** Docker container id of a container plan. */
  readonly containerId?: string;
  readonly #alloc: AllocDir;
  readonly #task: LocalTask;
  readonly #init: LocalPlacementInit;

  constructor(init: LocalPlacementInit) {
    super({ ...init, exited: init.task.exited });
    this.#init = init;
    this.#alloc = init.alloc;
    this.allocDir = init.alloc.root;
    this.dataDir = init.alloc.data;
    this.#task = init.task;
    if (init.task.processGroup !== undefined) this.processGroup = init.task.processGroup;
    if (init.task.containerId !== undefined) this.containerId = init.task.containerId;
  }

  async status(): Promise<PlacementStatus> {
    return this.exit ? 'exited' : 'running';
  }

  async logs(options: { tailLines?: number } = {}): Promise<{ stdout: string; stderr: string }> {
    return readLogFiles(this.#alloc, options.tailLines);
  }

  protected override healthProbe(): HealthProbe | undefined {
    return this.#init.probe?.(this);
  }

  /** Synchronous last resort (process exit): kill the task, remove the alloc dir. */
  killNow(): void {
    this.#task.killNow();
    if (!this.#init.keepAllocDir) rmSync(this.allocDir, { recursive: true, force: true, maxRetries: 2 });
  }

  protected async stopOnce(): Promise<void> {
    this.event('stopping', 'stop requested');
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
}
