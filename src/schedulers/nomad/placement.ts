import { tail } from '../../common/exec.js';
import { logger } from '../../common/logger.js';
import type { DriverName } from '../../drivers/driver.js';
import type { PlacementEvent, PlacementStatus, PlacementTimestamps } from '../scheduler.js';
import { now } from '../shared/clock.js';
import { dialAddress } from '../shared/dial-address.js';
import { PlacementBase } from '../shared/placement-base.js';
import { isTerminalClientStatus, NomadAllocationWatch } from './allocation-watch.js';
import type { NomadAllocation, NomadAllocStub } from './api-types.js';
import type { NomadClient } from './client.js';
import { NomadApiError } from './errors.js';
import { describeTaskEvent } from './failures.js';
import { JOB_TASK, PORT_LABEL } from './jobspec.js';

const log = logger('scheduler:nomad');

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
export class NomadPlacement extends PlacementBase {
  readonly scheduler = 'nomad' as const;
  readonly jobId: string;
  readonly allocId: string;
  readonly #client: NomadClient;
  readonly #watch: NomadAllocationWatch;
  readonly #onStopped: (() => void) | undefined;

  constructor(init: NomadPlacementInit) {
    const events: PlacementEvent[] = [];
    const watch = new NomadAllocationWatch(init.client, init.alloc, (alloc) => recordTaskEvents(alloc, events, init.timestamps));
    super({
      id: `${init.jobId}/${init.alloc.ID.slice(0, 8)}`,
      driver: init.driver,
      host: init.address.host,
      port: init.address.port,
      token: init.token,
      timestamps: init.timestamps,
      events,
      exited: watch.exited,
      // The task events (Killing, Terminated, Killed) already tell the end, with Nomad's times.
      exitEvent: false,
      // A refused or unreachable purge changed nothing: the next stop() tries it again.
      retryFailedStop: true,
    });
    this.#client = init.client;
    this.#watch = watch;
    this.jobId = init.jobId;
    this.allocId = init.alloc.ID;
    this.#onStopped = init.onStopped;
  }

  /** Nomad's client status of the allocation at the last observation (`pending`, `running`, ...). */
  get clientStatus(): string {
    return this.#watch.last.ClientStatus;
  }

  async status(options: { signal?: AbortSignal } = {}): Promise<PlacementStatus> {
    try {
      const { value } = await this.#client.allocation(this.allocId, options);
      this.#watch.observe(value);
      if (value.ClientStatus === 'running') return 'running';
      if (isTerminalClientStatus(value.ClientStatus) || value.DesiredStatus !== 'run') return 'exited';
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

  /**
   * Deregisters the job with purge and waits (bounded) until the allocation has ended. After a
   * failed purge (agent refused or unreachable) the next stop() tries again.
   */
  protected async stopOnce({ signal }: { signal?: AbortSignal }): Promise<void> {
    log('[%s] stopping (purge)', this.id);
    try {
      await this.#client.deregisterJob(this.jobId, { purge: true, signal });
    } catch (error) {
      // An agent that is gone (a dev agent that shut down took its allocations with it) leaves
      // nothing to purge once the allocation was seen ending; anything else is a real failure.
      if (!(this.exit && !(error instanceof NomadApiError))) throw error;
      log('[%s] agent unreachable after the allocation ended (%s): nothing to purge', this.id, this.exit.reason);
    }
    const timeout = AbortSignal.timeout(30_000);
    await Promise.race([
      this.exited,
      new Promise<void>((resolve) => timeout.addEventListener('abort', () => resolve(), { once: true })),
    ]);
    this.#watch.stop();
    this.#onStopped?.();
  }
}

/** Adds the task events Nomad reports that the list does not hold yet; the first `Started` is `timestamps.started`. */
function recordTaskEvents(alloc: NomadAllocation | NomadAllocStub, events: PlacementEvent[], timestamps: PlacementTimestamps): void {
  const state = alloc.TaskStates?.[JOB_TASK];
  const seen = new Set(events.map((e) => `${e.time}|${e.type}|${e.message}`));
  for (const event of state?.Events ?? []) {
    const mapped: PlacementEvent = { time: Math.round((event.Time ?? 0) / 1e6), type: event.Type, message: describeTaskEvent(event) };
    const key = `${mapped.time}|${mapped.type}|${mapped.message}`;
    if (!seen.has(key)) {
      seen.add(key);
      events.push(mapped);
    }
    if (event.Type === 'Started' && timestamps.started === undefined) {
      timestamps.started = event.Time ? event.Time / 1e6 : now();
    }
  }
}
