import { tail } from '../../common/exec.js';
import { logger } from '../../common/logger.js';
import type { DriverName } from '../../drivers/driver.js';
import { NomadApiError } from './errors.js';
import type { NomadAllocation, NomadAllocStub, NomadTaskState } from './api-types.js';
import type { NomadClient } from './client.js';
import { describeTaskEvent, fatalTaskEvent } from './failures.js';
import { JOB_TASK, PORT_LABEL } from './jobspec.js';
import { placementUrl, type Placement, type PlacementEvent, type PlacementExit, type PlacementStatus, type PlacementTimestamps, type SchedulerName } from '../scheduler.js';
import { waitForHealthy } from '../wait-healthy.js';
import { dialAddress } from '../shared/dial-address.js';

const log = logger('scheduler:nomad');

const TERMINAL_CLIENT_STATUSES = new Set(['complete', 'failed', 'lost']);

/** Where an allocation's `http` port is: host to dial and host port. */
export interface AllocAddress {
  host: string;
  port: number;
}

/**
 * The dial address of an allocation's port: `AllocatedResources.Shared.Ports` (`HostIP`, `Value`),
 * falling back to the group network's `DynamicPorts`/`ReservedPorts` with the network `IP`.
 * Undefined while Nomad has not assigned it.
 */
export function allocAddress(alloc: NomadAllocation, label = PORT_LABEL): AllocAddress | undefined {
  const shared = alloc.AllocatedResources?.Shared;
  const port = shared?.Ports?.find((p) => p.Label === label);
  if (port?.Value) return { host: dialAddress(port.HostIP), port: port.Value };
  for (const network of shared?.Networks ?? []) {
    const found = [...(network.DynamicPorts ?? []), ...(network.ReservedPorts ?? [])].find((p) => p.Label === label);
    if (found?.Value) return { host: dialAddress(found.HostIP ?? network.IP), port: found.Value };
  }
  return undefined;
}


export interface NomadPlacementInit {
  client: NomadClient;
  jobId: string;
  alloc: NomadAllocation;
  address: AllocAddress;
  driver: DriverName;
  token?: string;
  timestamps: PlacementTimestamps;
  /** Called once the job is purged (the scheduler forgets it). */
  onStopped?: () => void;
}

/**
 * One sandbox server running as a Nomad allocation. A background blocking query follows the
 * allocation (events, exit); `stop()` deregisters the job with purge and waits for the allocation
 * to end, so nothing keeps running.
 */
export class NomadPlacement implements Placement {
  readonly scheduler: SchedulerName = 'nomad';
  readonly id: string;
  readonly jobId: string;
  readonly allocId: string;
  readonly driver: DriverName;
  readonly host: string;
  readonly port: number;
  readonly url: string;
  readonly token?: string;
  readonly timestamps: PlacementTimestamps;
  readonly exited: Promise<PlacementExit>;
  readonly #client: NomadClient;
  readonly #events: PlacementEvent[] = [];
  readonly #watch = new AbortController();
  readonly #onStopped: (() => void) | undefined;
  #lastAlloc: NomadAllocation | NomadAllocStub;
  #stopping: Promise<void> | undefined;
  #exit: PlacementExit | undefined;

  constructor(init: NomadPlacementInit) {
    this.#client = init.client;
    this.jobId = init.jobId;
    this.allocId = init.alloc.ID;
    this.id = `${init.jobId}/${init.alloc.ID.slice(0, 8)}`;
    this.driver = init.driver;
    this.host = init.address.host;
    this.port = init.address.port;
    this.url = placementUrl(this.host, this.port);
    if (init.token !== undefined) this.token = init.token;
    this.timestamps = init.timestamps;
    this.#onStopped = init.onStopped;
    this.#lastAlloc = init.alloc;
    this.#absorb(init.alloc);
    this.exited = this.#follow(init.alloc).then((exit) => (this.#exit = exit));
  }

  get events(): readonly PlacementEvent[] {
    return this.#events;
  }

  /** Nomad's client status of the allocation at the last observation (`pending`, `running`, ...). */
  get clientStatus(): string {
    return this.#lastAlloc.ClientStatus;
  }

  async status(options: { signal?: AbortSignal } = {}): Promise<PlacementStatus> {
    try {
      const { value } = await this.#client.allocation(this.allocId, options);
      this.#absorb(value);
      if (value.ClientStatus === 'running') return 'running';
      if (TERMINAL_CLIENT_STATUSES.has(value.ClientStatus) || value.DesiredStatus !== 'run') return 'exited';
      return 'unknown';
    } catch (error) {
      if (error instanceof NomadApiError && error.statusCode === 404) return 'exited';
      throw error;
    }
  }

  /** The task's stdout and stderr through `/v1/client/fs/logs` (last 64 KiB, then `tailLines`). */
  async logs(options: { tailLines?: number; signal?: AbortSignal } = {}): Promise<{ stdout: string; stderr: string }> {
    const read = (type: 'stdout' | 'stderr') => this.#client.taskLogs(this.allocId, JOB_TASK, type, { tailBytes: 65_536, signal: options.signal });
    const [stdout, stderr] = await Promise.all([read('stdout'), read('stderr')]);
    const cut = (text: string) => (options.tailLines === undefined ? text : tail(text, options.tailLines));
    return { stdout: cut(stdout), stderr: cut(stderr) };
  }

  async waitUntilHealthy(options: { signal?: AbortSignal; timeoutMs?: number } = {}): Promise<void> {
    await waitForHealthy(this, options);
    this.timestamps.healthy ??= performance.timeOrigin + performance.now();
  }

  /**
   * Deregisters the job with purge and waits (bounded) until the allocation has ended. Idempotent;
   * after a failed purge (agent refused or unreachable) the next call tries again.
   */
  stop(options: { signal?: AbortSignal } = {}): Promise<void> {
    this.#stopping ??= this.#stop(options.signal).catch((error: unknown) => {
      this.#stopping = undefined;
      throw error;
    });
    return this.#stopping;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.stop();
  }

  async #stop(signal: AbortSignal | undefined): Promise<void> {
    log('[%s] stopping (purge)', this.id);
    try {
      await this.#client.deregisterJob(this.jobId, { purge: true, signal });
    } catch (error) {
      // An agent that is gone (a dev agent that shut down took its allocations with it) leaves
      // nothing to purge once the allocation was seen ending; anything else is a real failure.
      if (!(this.#exit && !(error instanceof NomadApiError))) throw error;
      log('[%s] agent unreachable after the allocation ended (%s): nothing to purge', this.id, this.#exit.reason);
    }
    const timeout = AbortSignal.timeout(30_000);
    await Promise.race([
      this.exited,
      new Promise<void>((resolve) => timeout.addEventListener('abort', () => resolve(), { once: true })),
    ]);
    this.#watch.abort();
    this.#onStopped?.();
  }

  /** Follows the allocation with blocking queries until it is terminal or gone. Never rejects. */
  async #follow(first: NomadAllocation): Promise<PlacementExit> {
    let index = first.ModifyIndex ?? 0;
    let failures = 0;
    for (;;) {
      const exit = this.#exitOf(this.#lastAlloc);
      if (exit) return exit;
      if (this.#watch.signal.aborted) return { reason: 'placement stopped' };
      try {
        const { value, index: next } = await this.#client.allocation(this.allocId, { index, waitSeconds: 30, signal: this.#watch.signal });
        this.#absorb(value);
        index = Math.max(next, index);
        failures = 0;
      } catch (error) {
        if (this.#watch.signal.aborted) return { reason: 'placement stopped' };
        if (error instanceof NomadApiError && error.statusCode === 404) return { reason: 'allocation is gone (job purged or garbage-collected)' };
        // The agent went away (shut down, network): a few retries, then the sandbox counts as lost.
        if (++failures >= 5) return { reason: `lost contact with Nomad: ${(error as Error).message}` };
        await new Promise((resolve) => setTimeout(resolve, 500 * failures));
      }
    }
  }

  #exitOf(alloc: NomadAllocation | NomadAllocStub): PlacementExit | undefined {
    if (!TERMINAL_CLIENT_STATUSES.has(alloc.ClientStatus)) return undefined;
    const state: NomadTaskState | undefined = alloc.TaskStates?.[JOB_TASK];
    const fatal = fatalTaskEvent(state);
    const terminated = [...(state?.Events ?? [])].reverse().find((e) => e.Type === 'Terminated');
    const why = fatal ? describeTaskEvent(fatal) : terminated ? describeTaskEvent(terminated) : alloc.ClientDescription || 'no task event';
    return {
      exitCode: terminated?.ExitCode ?? null,
      reason: `allocation ${alloc.ID.slice(0, 8)} ${alloc.ClientStatus}: ${why}`,
    };
  }

  #absorb(alloc: NomadAllocation | NomadAllocStub): void {
    this.#lastAlloc = alloc;
    const state = alloc.TaskStates?.[JOB_TASK];
    const seen = new Set(this.#events.map((e) => `${e.time}|${e.type}|${e.message}`));
    for (const event of state?.Events ?? []) {
      const mapped: PlacementEvent = { time: Math.round((event.Time ?? 0) / 1e6), type: event.Type, message: describeTaskEvent(event) };
      const key = `${mapped.time}|${mapped.type}|${mapped.message}`;
      if (!seen.has(key)) {
        seen.add(key);
        this.#events.push(mapped);
      }
      if (event.Type === 'Started' && this.timestamps.started === undefined) {
        this.timestamps.started = event.Time ? event.Time / 1e6 : performance.timeOrigin + performance.now();
      }
    }
  }
}
