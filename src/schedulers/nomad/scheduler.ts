import { randomUUID } from 'node:crypto';
import { logger } from '../../common/logger.js';
import { AbortedError, ConfigError, WaitTimeoutError } from '../../errors.js';
import type { Detection } from '../../drivers/driver.js';
import type { PlacementTimestamps, SchedulerName } from '../scheduler.js';
import { now } from '../shared/clock.js';
import { type PlaceOnceRequest, SchedulerBase } from '../shared/scheduler-base.js';
import type { NomadAllocation, NomadEvaluation } from './api-types.js';
import { NomadClient, type NomadClientOptions } from './client.js';
import { describeNomadVersion } from './double.js';
import { NomadPlacementError } from './errors.js';
import { describePlacementFailure, describeTaskEvent, fatalTaskEvent } from './failures.js';
import { buildJob, JOB_TASK, type JobSpecOptions, type NomadJob } from './jobspec.js';
import { currentRunLabel, type RunLabel } from '../../common/run-label.js';
import { allocAddress, NomadPlacement, type AllocAddress } from './placement.js';

const log = logger('scheduler:nomad');

// Re-exported for callers that import the scheduler only (the harness labels double legs by it).
export { NOMAD_DOUBLE_VERSION } from './double.js';

export interface NomadSchedulerOptions extends Omit<NomadClientOptions, 'dispatcher'> {
  /** @default ['dc1'] */
  datacenters?: string[];
  /** CPU per sandbox, MHz. @default 500 */
  cpuMHz?: number;
  /** Memory per sandbox. @default 512 */
  memoryMB?: number;
  /** docker: run sandboxes `privileged` so bwrap works inside (see JobSpecOptions). @default false */
  dockerPrivileged?: boolean;
  /** Longest wait from register to an allocation with a port. @default 120_000 */
  placeTimeoutMs?: number;
  /** Job constraints every sandbox job carries (site profile). */
  constraints?: JobSpecOptions['constraints'];
  /** The runtime binary per driver on the cluster's nodes (site profile `drivers.<name>.binary`). */
  driverBinaries?: Partial<Record<string, string>>;
  /** The run label put in every job's Meta (`hpc-sandbox cleanup`). @default currentRunLabel() */
  runLabel?: RunLabel;
  /** Use this client (not closed by the scheduler) instead of building one. */
  client?: NomadClient;
}

/**
 * Places sandbox servers as Nomad `service` jobs (one job per placement, group `sandbox`, task
 * `server`, port label `http`), through the agent's HTTP API. Drivers map to Nomad task drivers:
 * docker -> `docker`; process, singularity, charliecloud -> `raw_exec`.
 *
 * @example
 * await using nomad = new NomadScheduler({ address: 'http://127.0.0.1:4646' });
 * await using sandbox = await nomad.place({ driver, spec, ports: { mode: 'dynamic' } });
 * await sandbox.waitUntilHealthy();
 */
export class NomadScheduler extends SchedulerBase<NomadPlacement> {
  readonly name: SchedulerName = 'nomad';
  readonly client: NomadClient;
  readonly #ownsClient: boolean;
  readonly #options: NomadSchedulerOptions;
  readonly #session = randomUUID();

  constructor(options: NomadSchedulerOptions = {}) {
    // Nomad keeps no dirs here, and its jobs outlive this process by design (`hpc-sandbox cleanup`
    // sweeps them by run label): no exit hook.
    super({ displayName: 'NomadScheduler', exitHook: false });
    this.#options = options;
    this.#ownsClient = options.client === undefined;
    this.client = options.client ?? new NomadClient(options);
  }

  /** Available when the agent answers, has a leader, and at least one node is ready. */
  async detect(options: { signal?: AbortSignal } = {}): Promise<Detection> {
    try {
      const self = await this.client.agentSelf(options);
      const label = describeNomadVersion(self.config?.Version?.Version ?? 'unknown');
      const leader = await this.client.leader(options);
      if (!leader) return { available: false, version: label, reason: `nomad: ${this.client.address} has no cluster leader yet` };
      const { value: nodes } = await this.client.nodes(options);
      const ready = nodes.filter((n) => n.Status === 'ready' && n.SchedulingEligibility !== 'ineligible');
      if (ready.length === 0) {
        return { available: false, version: label, reason: `nomad: no ready, eligible node (${nodes.map((n) => `${n.Name}: ${n.Status}`).join(', ') || 'no nodes'})` };
      }
      const drivers = new Set(ready.flatMap((n) => Object.entries(n.Drivers ?? {}).filter(([, d]) => d.Detected && d.Healthy).map(([name]) => name)));
      return {
        available: true,
        version: label,
        details: { address: this.client.address, leader, nodes: String(ready.length), drivers: [...drivers].sort().join(',') },
      };
    } catch (error) {
      return { available: false, reason: `nomad: ${this.client.address} did not answer: ${(error as Error).message}` };
    }
  }

  /**
   * Plans the sandbox with the driver, validates the job (`POST /v1/validate/job`), registers it,
   * and waits until Nomad has placed an allocation with a port. A placement failure (the
   * evaluation's FailedTGAllocs) or a fatal task event purges the job and throws
   * `NomadPlacementError` with Nomad's reason and the task's last stderr lines.
   */
  protected async placeOnce(request: PlaceOnceRequest): Promise<NomadPlacement> {
    const plan = await request.driver.plan(request.spec);
    const jobId = this.newId((request.name ?? 'sandbox').replace(/[^A-Za-z0-9_-]/g, '-'));
    const job = buildJob({
      jobId,
      plan,
      ports: request.ports,
      datacenters: this.#options.datacenters,
      namespace: this.#options.namespace,
      region: this.#options.region,
      cpuMHz: this.#options.cpuMHz,
      memoryMB: this.#options.memoryMB,
      dockerPrivileged: this.#options.dockerPrivileged,
      meta: { hpc_sandbox_session: this.#session },
      runLabel: this.#options.runLabel ?? currentRunLabel(),
      constraints: this.#options.constraints,
      binary: this.#options.driverBinaries?.[plan.driver],
    });
    await this.#validate(job, request.signal);
    const timestamps: PlacementTimestamps = { submitted: now() };
    try {
      // Inside the try: a register aborted or cut off mid-flight may still have registered the job.
      const registered = await this.client.registerJob(job, { signal: request.signal });
      log('[%s] registered (eval %s)', jobId, registered.EvalID);
      const taskDriver = plan.kind === 'container' ? 'docker' : 'raw_exec';
      if (registered.EvalID) await this.#awaitEvaluation(jobId, registered.EvalID, taskDriver, request.signal);
      const { alloc, address } = await this.#awaitAllocation(jobId, request.signal);
      timestamps.placed = now();
      const placement = new NomadPlacement({
        client: this.client,
        jobId,
        alloc,
        address,
        driver: plan.driver,
        token: request.spec.token,
        timestamps,
        onStopped: () => void this.placementStopped(placement),
      });
      return placement;
    } catch (error) {
      await this.client.deregisterJob(jobId, { purge: true }).catch((cleanup) => log('[%s] purge after failure failed: %s', jobId, cleanup));
      throw error;
    }
  }

  /** Nothing runs in this process: the exit hook is off (see the constructor). */
  protected killNow(): void {}

  /** After its placements stopped: the client, when the scheduler built it. */
  protected override async closeResources(): Promise<void> {
    if (this.#ownsClient) await this.client.close();
  }

  protected override stopFailure(failures: readonly { placement: NomadPlacement; error: unknown }[]): unknown {
    return new AggregateError(
      failures.map((f) => f.error),
      `${failures.length} Nomad placements failed to stop`,
    );
  }

  async #validate(job: NomadJob, signal: AbortSignal | undefined): Promise<void> {
    const result = await this.client.validateJob(job, { signal });
    const errors = [...(result.ValidationErrors ?? [])];
    if (errors.length === 0 && result.Error) errors.push(result.Error);
    if (errors.length > 0) {
      throw new ConfigError(`Nomad rejected job ${job.ID} (POST /v1/validate/job at ${this.client.address}):\n${errors.map((e) => `  * ${e}`).join('\n')}`);
    }
    if (result.Warnings) log('[%s] validation warnings: %s', job.ID, result.Warnings);
  }

  /** Waits for the register evaluation to finish; FailedTGAllocs there means "not placeable". */
  async #awaitEvaluation(jobId: string, evalId: string, taskDriver: string, signal: AbortSignal | undefined): Promise<void> {
    let evaluation: NomadEvaluation | undefined;
    let index = 0;
    const deadline = Date.now() + this.#placeTimeoutMs;
    while (Date.now() < deadline) {
      throwIfAborted(signal, jobId);
      const answer = await this.client.evaluation(evalId, { index: index || undefined, waitSeconds: this.#waitSeconds(deadline), signal });
      evaluation = answer.value;
      index = Math.max(answer.index, index + 1);
      if (evaluation.Status === 'pending') continue;
      const failed = Object.entries(evaluation.FailedTGAllocs ?? {});
      if (failed.length > 0) {
        const [group, metric] = failed[0]!;
        throw new NomadPlacementError(jobId, describePlacementFailure(group, metric, taskDriver), undefined);
      }
      if (evaluation.Status === 'failed' || evaluation.Status === 'canceled') {
        throw new NomadPlacementError(jobId, `evaluation ${evalId} ${evaluation.Status}: ${evaluation.StatusDescription ?? 'no description'}`, undefined);
      }
      return;
    }
    throw new WaitTimeoutError(`Nomad evaluation ${evalId} of job ${jobId} to complete`, this.#placeTimeoutMs, evaluation?.Status);
  }

  /** Waits for the job's allocation to get a port; fails early on a fatal task event. */
  async #awaitAllocation(jobId: string, signal: AbortSignal | undefined): Promise<{ alloc: NomadAllocation; address: AllocAddress }> {
    const deadline = Date.now() + this.#placeTimeoutMs;
    let index = 0;
    let last = 'no allocation yet';
    while (Date.now() < deadline) {
      throwIfAborted(signal, jobId);
      const answer = await this.client.jobAllocations(jobId, { index: index || undefined, waitSeconds: this.#waitSeconds(deadline), signal });
      index = Math.max(answer.index, index + 1);
      const stub = answer.value.find((a) => a.DesiredStatus === 'run');
      if (!stub) continue;
      last = `allocation ${stub.ID.slice(0, 8)} ${stub.ClientStatus}`;
      const fatal = fatalTaskEvent(stub.TaskStates?.[JOB_TASK]);
      if (fatal || stub.ClientStatus === 'failed') {
        const stderr = await this.client.taskLogs(stub.ID, JOB_TASK, 'stderr', { tailBytes: 4_096 }).catch(() => '');
        const lines = stderr.trimEnd().split('\n').slice(-20).join('\n');
        throw new NomadPlacementError(
          jobId,
          `task ${JOB_TASK} of allocation ${stub.ID.slice(0, 8)} failed: ${fatal ? describeTaskEvent(fatal) : stub.ClientDescription ?? 'failed'}`,
          lines ? `last lines of stderr:\n${lines}` : undefined,
        );
      }
      const { value: alloc } = await this.client.allocation(stub.ID, { signal });
      const address = allocAddress(alloc);
      if (address) return { alloc, address };
      last = `allocation ${stub.ID.slice(0, 8)} has no "http" port yet`;
    }
    throw new WaitTimeoutError(`Nomad job ${jobId} to be placed with a port`, this.#placeTimeoutMs, last);
  }

  get #placeTimeoutMs(): number {
    return this.#options.placeTimeoutMs ?? 120_000;
  }

  #waitSeconds(deadline: number): number {
    return Math.max(1, Math.min(30, Math.ceil((deadline - Date.now()) / 1000)));
  }
}

function throwIfAborted(signal: AbortSignal | undefined, jobId: string): void {
  if (signal?.aborted) throw new AbortedError(`Placing Nomad job ${jobId}`, { cause: signal.reason });
}
