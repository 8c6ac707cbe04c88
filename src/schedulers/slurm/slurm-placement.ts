import { rm } from 'node:fs/promises';
import { logger } from '../../common/logger.js';
import type { DriverName } from '../../drivers/driver.js';
import { SandboxError } from '../../errors.js';
import type { PlacementEvent, PlacementExit, PlacementStatus, PlacementTimestamps } from '../scheduler.js';
import { readLogFiles } from '../shared/log-files.js';
import { PlacementBase } from '../shared/placement-base.js';
import type { SlurmCli } from './slurm-cli.js';
import type { SlurmJobWatch } from './slurm-job.js';
import { isTerminal } from './squeue.js';

const log = logger('scheduler:slurm');

export { now } from '../shared/clock.js';

/** Host paths of one Slurm placement (on storage the compute node sees). */
export interface SlurmJobDir {
  /** `<baseDir>/<placement id>` */
  root: string;
  /** `<root>/alloc/data`: the server's data dir (its ready file lands here). */
  data: string;
  script: string;
  startedFile: string;
  stdoutPath: string;
  stderrPath: string;
}

export interface SlurmPlacementInit {
  id: string;
  jobId: string;
  driver: DriverName;
  host: string;
  port: number;
  /** The node the job runs on (squeue %N). */
  node: string;
  /** Pid of the server (ready file): checked gone after stop when the node is this host. */
  serverPid?: number;
  localNode: boolean;
  token?: string;
  dir: SlurmJobDir;
  cli: SlurmCli;
  watch: SlurmJobWatch;
  timestamps: PlacementTimestamps;
  events: PlacementEvent[];
  keepJobDir: boolean;
  /** How long stop() waits for the job to leave squeue's running states. */
  stopTimeoutMs: number;
  onStopped: (placement: SlurmPlacement) => void;
}

/** A sandbox server running as a Slurm batch job, placed by `SlurmScheduler`. */
export class SlurmPlacement extends PlacementBase {
  readonly scheduler = 'slurm' as const;
  /** The Slurm job id. */
  readonly jobId: string;
  /** The node the job runs on. */
  readonly node: string;
  /** Pid of the server process on its node (from the ready file). */
  readonly serverPid?: number;
  readonly allocDir: string;
  readonly dataDir: string;
  readonly #init: SlurmPlacementInit;

  constructor(init: SlurmPlacementInit) {
    super({ ...init, exited: init.watch.exited });
    this.#init = init;
    this.jobId = init.jobId;
    this.node = init.node;
    if (init.serverPid !== undefined) this.serverPid = init.serverPid;
    this.allocDir = init.dir.root;
    this.dataDir = init.dir.data;
  }

  async status(): Promise<PlacementStatus> {
    if (this.exit || this.#init.watch.ended) return 'exited';
    const job = await this.#init.cli.squeue(this.jobId).catch(() => 'unknown' as const);
    if (job === 'unknown') return 'unknown';
    return job && !isTerminal(job.state) ? 'running' : 'exited';
  }

  async logs(options: { tailLines?: number } = {}): Promise<{ stdout: string; stderr: string }> {
    return readJobLogs(this.#init.dir, options.tailLines);
  }

  protected async stopOnce(): Promise<void> {
    this.event('stopping', `scancel ${this.jobId}`);
    try {
      await stopJob(this.#init.cli, this.#init.watch, this.#init.stopTimeoutMs);
      if (this.#init.localNode && this.serverPid !== undefined) await waitProcessGone(this.serverPid, this.#init.stopTimeoutMs, this.id);
      if (!this.#init.keepJobDir) await rm(this.allocDir, { recursive: true, force: true, maxRetries: 3 });
    } finally {
      this.#init.onStopped(this);
    }
    log('[%s] job %s stopped', this.id, this.jobId);
  }
}

/** The job's output and error files (sbatch --output/--error). */
export function readJobLogs(dir: SlurmJobDir, tailLines?: number): Promise<{ stdout: string; stderr: string }> {
  return readLogFiles(dir, tailLines);
}

/** scancel, then wait until squeue says the job ended (or forgot it). */
export async function stopJob(cli: SlurmCli, watch: SlurmJobWatch, timeoutMs: number): Promise<PlacementExit> {
  if (!watch.ended) await cli.scancel(watch.jobId);
  watch.hurry();
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new SandboxError('HPCSB_WAIT_TIMEOUT', `Slurm job ${watch.jobId} still ${watch.last?.state ?? 'listed'} ${timeoutMs}ms after scancel`)),
      timeoutMs,
    );
  });
  try {
    return await Promise.race([watch.exited, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Waits for `pid` to be gone (the job's processes are killed by slurmd after the job state changes). */
async function waitProcessGone(pid: number, timeoutMs: number, id: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (alive(pid)) {
    if (Date.now() > deadline) throw new SandboxError('HPCSB_WAIT_TIMEOUT', `Server process ${pid} of ${id} still runs ${timeoutMs}ms after its job ended`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
