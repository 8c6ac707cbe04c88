import { spawnSync } from 'node:child_process';
import { mkdir, rm, stat, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { tail } from '../../common/exec.js';
import { logger } from '../../common/logger.js';
import { which } from '../../common/which.js';
import type { Detection, ExecLaunchPlan } from '../../drivers/driver.js';
import { AbortedError, ConfigError, SandboxError } from '../../errors.js';
import { waitForReadyFile } from '../shared/ready-file.js';
import { type PlaceOnceRequest, SchedulerBase } from '../shared/scheduler-base.js';
import type { PlacementEvent, PlacementTimestamps } from '../scheduler.js';
import { PlacementExitedError } from '../wait-healthy.js';
import { renderBatchScript } from './batch-script.js';
import { type CommandRunner, SlurmCli } from './slurm-cli.js';
import { SlurmJobWatch } from './slurm-job.js';
import { now, readJobLogs, type SlurmJobDir, SlurmPlacement, stopJob } from './slurm-placement.js';

const log = logger('scheduler:slurm');

/** Submissions tried when the server loses its picked port to another program before binding it. */
const PORT_RACE_ATTEMPTS = 3;

/** Drivers whose plans Slurm runs (exec plans); docker and podman are not offered. */
export const SLURM_DRIVERS = ['process', 'singularity', 'charliecloud'] as const;

export interface SlurmSchedulerOptions {
  /**
   * Where job dirs (script, logs, data dir) are made. On a real cluster this MUST be on storage
   * the compute nodes share with this host (home, scratch): the job writes its ready file there.
   * @default a new temp dir (only right for a one-node cluster on this host; removed by close())
   */
  baseDir?: string;
  /** `sbatch --partition`. @default the cluster's default partition */
  partition?: string;
  /** `sbatch --time` (`MM`, `HH:MM:SS`, `D-HH:MM`). @default the partition's default */
  timeLimit?: string;
  /** Extra sbatch arguments (`--account=...`, `--qos=...`, `--mem=2G`). */
  sbatchArgs?: string[];
  /** Address the server binds (`{{bindHost}}`). @default '0.0.0.0' (reachable from this host on a real cluster) */
  bindHost?: string;
  /** How long a job may stay pending before place() gives up. @default 120_000 */
  startTimeoutMs?: number;
  /** How long a running job may take to write its ready file. @default 60_000 */
  readyTimeoutMs?: number;
  /** How long stop() waits for the job to end after scancel. @default 60_000 */
  stopTimeoutMs?: number;
  /** Keep job dirs after stop() (to read logs). @default false */
  keepJobDir?: boolean;
  /** The address to dial for a node. @default 127.0.0.1 for this host, else the node name */
  hostForNode?: (node: string) => string;
  /** Runs sbatch/squeue/scancel/scontrol/sinfo. @default src/common/exec.ts */
  run?: CommandRunner;
  /** scancel every job this scheduler submitted when this process exits or gets SIGINT/SIGTERM/SIGHUP. @default true */
  exitHook?: boolean;
}

/**
 * Places sandbox servers as Slurm batch jobs: one job per placement, the exec plan rendered into
 * a batch script (`{{port}}` a free port the script picks on the node, confirmed by the server's
 * ready file), submitted with sbatch and
 * followed with squeue; stop() is scancel. Exec plans only (process, singularity, charliecloud).
 *
 * @example
 * await using scheduler = new SlurmScheduler({ partition: 'debug', baseDir: '/shared/hpcsb' });
 * const placement = await scheduler.place({ driver: getDriver('process'), spec, ports: { mode: 'dynamic' } });
 * await placement.waitUntilHealthy();
 */
export class SlurmScheduler extends SchedulerBase<SlurmPlacement> {
  readonly name = 'slurm' as const;
  readonly #options: SlurmSchedulerOptions;
  readonly #cli: SlurmCli;
  /** Jobs submitted and not yet known stopped: what the exit hook cancels. */
  readonly #liveJobs = new Set<string>();

  constructor(options: SlurmSchedulerOptions = {}) {
    super({
      displayName: 'SlurmScheduler',
      exitHook: options.exitHook !== false,
      baseDir: options.baseDir,
      tempDirPrefix: 'hpc-sandbox-slurm-',
      keepDirs: options.keepJobDir ?? false,
      portRaceAttempts: PORT_RACE_ATTEMPTS,
    });
    this.#options = options;
    this.#cli = new SlurmCli(options.run);
  }

  async detect(options: { signal?: AbortSignal } = {}): Promise<Detection> {
    for (const command of ['sbatch', 'squeue', 'scancel', 'sinfo']) {
      if (!(await which(command))) return { available: false, reason: `slurm: ${command} not on PATH (apt-get install slurm-wlm)` };
    }
    let states: string;
    try {
      states = await this.#cli.sinfo(this.#options.partition, options.signal);
    } catch (error) {
      return { available: false, reason: `slurm: sinfo failed: ${(error as Error).message.split('\n').slice(1).map((l) => l.trim()).filter(Boolean).join('; ')}` };
    }
    const lines = states.split('\n').filter(Boolean);
    const usable = lines.filter((line) => /^(idle|mix|mixed|alloc|allocated|completing)\b/.test(line));
    const where = this.#options.partition ? `partition ${this.#options.partition}` : 'any partition';
    if (usable.length === 0) {
      return { available: false, reason: `slurm: no usable node in ${where} (sinfo: ${lines.join(', ') || 'nothing'})` };
    }
    const version = await this.#cli.run('sinfo', ['-V'], { timeoutMs: 10_000 }).then((r) => r.stdout.trim(), () => '');
    return { available: true, version: version || 'slurm', details: { nodes: usable.join(', '), ...(this.#options.partition ? { partition: this.#options.partition } : {}) } };
  }

  protected async placeOnce(request: PlaceOnceRequest): Promise<SlurmPlacement> {
    const driver = request.driver.name;
    if (!(SLURM_DRIVERS as readonly string[]).includes(driver)) {
      throw new ConfigError(`Driver ${driver} is not offered on slurm: Slurm runs exec plans only (${SLURM_DRIVERS.join(', ')}); use the local or nomad scheduler for ${driver}`);
    }
    const plan = await request.driver.plan(request.spec);
    if (plan.kind !== 'exec') throw new ConfigError(`Driver ${driver} planned a ${plan.kind} launch, which is not offered on slurm`);
    const id = this.newId(request.name);
    const root = join(await this.baseDir(), id);
    const dir: SlurmJobDir = {
      root,
      data: join(root, 'alloc', 'data'),
      script: join(root, 'job.sh'),
      startedFile: join(root, 'started'),
      stdoutPath: join(root, 'slurm.out'),
      stderrPath: join(root, 'slurm.err'),
    };
    await mkdir(dir.data, { recursive: true });
    let watch: SlurmJobWatch | undefined;
    try {
      return await this.#submitAndFollow(request, plan, id, dir, (w) => (watch = w));
    } catch (error) {
      if (watch) {
        await stopJob(this.#cli, watch, this.#options.stopTimeoutMs ?? 60_000).then(
          () => this.#liveJobs.delete(watch!.jobId),
          (e: unknown) => log('[%s] cleanup: %s', id, (e as Error).message),
        );
      }
      if (!this.#options.keepJobDir) await rm(root, { recursive: true, force: true, maxRetries: 3 });
      throw error;
    }
  }

  async #submitAndFollow(
    request: PlaceOnceRequest,
    plan: ExecLaunchPlan,
    id: string,
    dir: SlurmJobDir,
    onWatch: (watch: SlurmJobWatch) => void,
  ): Promise<SlurmPlacement> {
    const port = request.ports.mode === 'static' ? request.ports.port : undefined;
    await writeFile(
      dir.script,
      renderBatchScript(plan, { id, dataDir: dir.data, startedFile: dir.startedFile, bindHost: this.#options.bindHost ?? '0.0.0.0', ...(port !== undefined ? { port } : {}) }),
      { mode: 0o755 },
    );
    const timestamps: PlacementTimestamps = { submitted: now() };
    const jobId = await this.#cli.sbatch(
      {
        scriptPath: dir.script,
        jobName: `hpcsb-${id}`,
        stdoutPath: dir.stdoutPath,
        stderrPath: dir.stderrPath,
        workDir: dir.root,
        ...(this.#options.partition ? { partition: this.#options.partition } : {}),
        ...(this.#options.timeLimit ? { timeLimit: this.#options.timeLimit } : {}),
        ...(this.#options.sbatchArgs ? { extraArgs: this.#options.sbatchArgs } : {}),
      },
      request.signal,
    );
    this.#liveJobs.add(jobId);
    const events: PlacementEvent[] = [{ time: timestamps.submitted, type: 'submitted', message: `sbatch: job ${jobId} (driver ${plan.driver})` }];
    log('[%s] submitted job %s', id, jobId);
    const watch = new SlurmJobWatch(this.#cli, jobId);
    onWatch(watch);
    const fail = async (why: string, cause?: unknown): Promise<never> => {
      const { stderr } = await readJobLogs(dir, 20);
      throw new SandboxError(
        'HPCSB_PLACEMENT_FAILED',
        `Slurm placement ${id} (job ${jobId}, driver ${plan.driver}${this.#options.partition ? `, partition ${this.#options.partition}` : ''}) failed: ${why}` +
          (stderr ? `\nlast lines of ${dir.stderrPath}:\n${stderr}` : ''),
        { cause },
      );
    };
    const running = await watch.waitRunning({ timeoutMs: this.#options.startTimeoutMs ?? 120_000, signal: request.signal }).catch((error: unknown) => {
      if (request.signal.aborted) throw new AbortedError(`Placing ${id} (job ${jobId})`, { cause: request.signal.reason });
      return fail((error as Error).message, error);
    });
    timestamps.placed = now();
    const node = running.nodes;
    events.push({ time: timestamps.placed, type: 'placed', message: `running on ${node}` });
    const ready = await waitForReadyFile(dir.data, { until: watch.exited, timeoutMs: this.#options.readyTimeoutMs ?? 60_000, signal: request.signal });
    if (!ready) {
      const exit = await watch.exited;
      throw new PlacementExitedError(id, exit, (await readJobLogs(dir, 20)).stderr, 'wrote its ready file');
    }
    const started = await stat(dir.startedFile).then((s) => s.mtimeMs, () => undefined);
    timestamps.started = started ?? timestamps.placed;
    events.push({ time: timestamps.started, type: 'started', message: `server pid ${ready.pid} listens on port ${ready.port}` });
    const localNode = isThisHost(node);
    const host = this.#options.hostForNode?.(node) ?? (localNode ? '127.0.0.1' : node);
    const placement = new SlurmPlacement({
      id,
      jobId,
      driver: plan.driver,
      host,
      port: ready.port,
      node,
      serverPid: ready.pid,
      localNode,
      ...(request.spec.token !== undefined ? { token: request.spec.token } : {}),
      dir,
      cli: this.#cli,
      watch,
      timestamps,
      events,
      keepJobDir: this.#options.keepJobDir ?? false,
      stopTimeoutMs: this.#options.stopTimeoutMs ?? 60_000,
      onStopped: (p) => {
        void this.placementStopped(p);
        if (p.exitedSettled) this.#liveJobs.delete(p.jobId);
      },
    });
    if (request.signal.aborted) {
      await placement.stop();
      throw new AbortedError(`Placing ${id} (job ${jobId})`, { cause: request.signal.reason });
    }
    return placement;
  }

  protected override stopFailure(failures: readonly { placement: SlurmPlacement; error: unknown }[]): unknown {
    const lines = failures.map((f) => `${f.placement.id}: ${(f.error as Error).message}`);
    return new SandboxError('HPCSB_PLACEMENT_FAILED', `SlurmScheduler.close(): some placements did not stop:\n${tail(lines.join('\n'), 20)}`);
  }

  /** Synchronous last resort at process exit: scancel what still runs (job dirs stay). */
  protected killNow(): void {
    if (this.#liveJobs.size === 0) return;
    spawnSync('scancel', [...this.#liveJobs], { stdio: 'ignore', timeout: 5_000 });
  }
}

/** Whether the Slurm node name is this machine (the one-node cluster). */
export function isThisHost(node: string): boolean {
  const self = hostname();
  return node === self || node === self.split('.')[0] || node === 'localhost';
}
