import { randomUUID } from 'node:crypto';
import { rmSync } from 'node:fs';
import { mkdir, rm, rmdir } from 'node:fs/promises';
import { logger } from '../../common/logger.js';
import { makeSlotReachableTempDir } from '../../common/slot-reachable-temp-dir.js';
import type { Detection } from '../../drivers/driver.js';
import { SandboxError } from '../../errors.js';
import type { Placement, PlacementRequest, Scheduler, SchedulerName } from '../scheduler.js';
import { PlacementExitedError } from '../wait-healthy.js';
import { registerExitHook } from './exit-hook.js';
import { isAddressInUse } from './port-race.js';

const log = logger('scheduler');

/** A placement request as `placeOnce` sees it: the signal also aborts when the scheduler closes. */
export type PlaceOnceRequest = PlacementRequest & { signal: AbortSignal };

/** What the shared lifecycle needs to know of a scheduler kind. */
export interface SchedulerLifecycleOptions {
  /** The class name, for error messages (`LocalScheduler is closed: no more placements`). */
  displayName: string;
  /** Stop (or cancel) every placement when this process exits or gets SIGINT/SIGTERM/SIGHUP. */
  exitHook: boolean;
  /** Where per-placement dirs are made; without it the scheduler owns a temp dir (when it has dirs at all). */
  baseDir?: string;
  /** The temp dir prefix of an owned base dir (`hpc-sandbox-local-`). */
  tempDirPrefix?: string;
  /** Placement dirs stay after stop(): close() then removes an owned base dir only when empty. */
  keepDirs?: boolean;
  /** An owned base dir is removed whenever nothing runs or starts (and made again on the next place()). */
  removeIdleBaseDir?: boolean;
  /** The exit hook also removes an owned base dir (synchronously). */
  removeBaseDirAtExit?: boolean;
  /**
   * How many times a dynamic-port placement is made when its server lost the picked port to
   * another program before binding it (`PlacementExitedError` with EADDRINUSE). @default 1
   */
  portRaceAttempts?: number;
}

/**
 * The lifecycle every scheduler shares, in the style of undici's `DispatcherBase`: the closed
 * guard, the abort of placements still being made when close() runs, ids, the exit hook, the
 * (owned) base dir and the port-race retry. A scheduler kind implements `placeOnce` (one attempt
 * at one placement, cleaning up after itself when it fails), `detect`, and the synchronous
 * `killNow` its exit hook runs.
 */
export abstract class SchedulerBase<P extends Placement = Placement> implements Scheduler {
  abstract readonly name: SchedulerName;
  readonly #lifecycle: SchedulerLifecycleOptions;
  readonly #placements = new Set<P>();
  /** Aborts placements still being made when close() runs, so none outlives the scheduler. */
  readonly #closing = new AbortController();
  /** Settles with each place() call: close() waits for them (their clean-up included). */
  readonly #placing = new Set<Promise<unknown>>();
  /** place() calls between their start and their end (clean-up included): the base dir is not idle. */
  #inFlight = 0;
  #closed = false;
  #baseDir: Promise<string> | undefined;
  #ownedBaseDir: string | undefined;
  #unregister: (() => void) | undefined;

  protected constructor(lifecycle: SchedulerLifecycleOptions) {
    this.#lifecycle = lifecycle;
  }

  abstract detect(options?: { signal?: AbortSignal }): Promise<Detection>;

  /** One attempt at one placement. On failure it stops and removes what it started, then throws. */
  protected abstract placeOnce(request: PlaceOnceRequest): Promise<P>;

  /** Process exit: synchronously kill (or cancel) what this scheduler started. */
  protected abstract killNow(): void;

  /** Placements that still run (or are stopping). */
  get placements(): readonly P[] {
    return [...this.#placements];
  }

  protected get closed(): boolean {
    return this.#closed;
  }

  /** The base dir of placement dirs (created on first use). */
  baseDir(): Promise<string> {
    this.#baseDir ??= (async () => {
      if (this.#lifecycle.baseDir) {
        await mkdir(this.#lifecycle.baseDir, { recursive: true });
        return this.#lifecycle.baseDir;
      }
      this.#ownedBaseDir = await makeSlotReachableTempDir(this.#lifecycle.tempDirPrefix ?? 'hpc-sandbox-');
      return this.#ownedBaseDir;
    })();
    return this.#baseDir;
  }

  /** A new placement id: `name` (default `sandbox`) and a unique suffix. */
  protected newId(name = 'sandbox'): string {
    return `${name}-${randomUUID().slice(0, 8)}`;
  }

  place(request: PlacementRequest): Promise<P> {
    if (this.#closed) {
      return Promise.reject(new SandboxError('HPCSB_PLACEMENT_FAILED', `${this.#lifecycle.displayName} is closed: no more placements`));
    }
    const signal = request.signal ? AbortSignal.any([request.signal, this.#closing.signal]) : this.#closing.signal;
    const placing = this.#place({ ...request, signal });
    const settled = placing.then(
      () => undefined,
      () => undefined,
    );
    this.#placing.add(settled);
    void settled.then(() => this.#placing.delete(settled));
    return placing;
  }

  async #place(request: PlaceOnceRequest): Promise<P> {
    if (this.#lifecycle.exitHook) this.#unregister ??= registerExitHook({ killNow: () => this.#killNow(), close: () => this.close() });
    this.#inFlight++;
    try {
      const placement = await this.#placeWithPortRaceRetry(request);
      this.#placements.add(placement);
      return placement;
    } finally {
      this.#inFlight--;
      await this.#removeBaseDirWhenIdle();
    }
  }

  async #placeWithPortRaceRetry(request: PlaceOnceRequest): Promise<P> {
    const attempts = request.ports.mode === 'static' ? 1 : (this.#lifecycle.portRaceAttempts ?? 1);
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.placeOnce(request);
      } catch (error) {
        // The port picked was free when checked but taken before the server bound it.
        const portRace = error instanceof PlacementExitedError && isAddressInUse(error.stderrTail);
        if (!portRace || attempt >= attempts) throw error;
        log('%s port race (attempt %d): %s', this.name, attempt, error.message);
      }
    }
  }

  /** A placement stopped: forget it (and remove an idle owned base dir). Placements call this from their stop(). */
  protected async placementStopped(placement: P): Promise<void> {
    this.#placements.delete(placement);
    await this.#removeBaseDirWhenIdle();
  }

  /**
   * A scheduler nobody closes (a pool's, a script's) must not leave its temp base dir behind: once
   * nothing runs or starts, the dir it made is removed, and made again by the next place().
   */
  async #removeBaseDirWhenIdle(): Promise<void> {
    if (!this.#lifecycle.removeIdleBaseDir || this.#lifecycle.keepDirs || !this.#ownedBaseDir) return;
    if (this.#placements.size > 0 || this.#inFlight > 0) return;
    const base = this.#ownedBaseDir;
    this.#baseDir = undefined;
    this.#ownedBaseDir = undefined;
    await rm(base, { recursive: true, force: true });
  }

  #killNow(): void {
    this.killNow();
    if (this.#lifecycle.removeBaseDirAtExit && this.#ownedBaseDir && !this.#lifecycle.keepDirs) {
      rmSync(this.#ownedBaseDir, { recursive: true, force: true, maxRetries: 2 });
    }
  }

  /** Stops every placement this scheduler made; removes the base dir when it made it. */
  async close(): Promise<void> {
    this.#closed = true;
    // A placement still starting is stopped and cleaned up by its own place(); wait for that, or
    // Ctrl-C would unregister the exit hook and orphan what it started.
    this.#closing.abort(new SandboxError('HPCSB_PLACEMENT_FAILED', `${this.#lifecycle.displayName} was closed while placing`));
    await Promise.all([...this.#placing]);
    const placements = [...this.#placements];
    const results = await Promise.allSettled(placements.map((p) => p.stop()));
    this.#unregister?.();
    this.#unregister = undefined;
    if (this.#ownedBaseDir) {
      const base = this.#ownedBaseDir;
      await (this.#lifecycle.keepDirs ? rmdir(base).catch(() => undefined) : rm(base, { recursive: true, force: true, maxRetries: 3 }));
    }
    await this.closeResources();
    const failures = results.flatMap((r, i) => (r.status === 'rejected' ? [{ placement: placements[i]!, error: r.reason as unknown }] : []));
    if (failures.length > 0) throw this.stopFailure(failures);
  }

  /** What a scheduler closes after its placements (a client it owns). */
  protected async closeResources(): Promise<void> {}

  /** The error close() throws when placements failed to stop. */
  protected stopFailure(failures: readonly { placement: P; error: unknown }[]): unknown {
    if (failures.length === 1) return failures[0]!.error;
    return new AggregateError(
      failures.map((f) => f.error),
      `${failures.length} placements failed to stop`,
    );
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}
