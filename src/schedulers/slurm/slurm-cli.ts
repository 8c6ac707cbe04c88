import { exec, type ExecOptions, type ExecResult } from '../../common/exec.js';
import { slurmError, type SlurmCommandError } from './slurm-errors.js';
import { parseScontrolExit, parseSqueueLine, SQUEUE_FORMAT, type SqueueJob } from './squeue.js';

/** Runs one command; `exec` from src/common/exec.ts unless a test passes a stand-in. */
export type CommandRunner = (file: string, args: readonly string[], options?: ExecOptions) => Promise<ExecResult>;

export interface SbatchRequest {
  scriptPath: string;
  jobName: string;
  stdoutPath: string;
  stderrPath: string;
  workDir: string;
  partition?: string;
  timeLimit?: string;
  extraArgs?: readonly string[];
}

/** The sbatch argv for `request` (golden in the unit tests). */
export function sbatchArgs(request: SbatchRequest): string[] {
  return [
    '--parsable',
    '--export=NONE',
    `--job-name=${request.jobName}`,
    `--output=${request.stdoutPath}`,
    `--error=${request.stderrPath}`,
    `--chdir=${request.workDir}`,
    '--ntasks=1',
    ...(request.partition ? [`--partition=${request.partition}`] : []),
    ...(request.timeLimit ? [`--time=${request.timeLimit}`] : []),
    ...(request.extraArgs ?? []),
    request.scriptPath,
  ];
}

/** sbatch, squeue, scancel and scontrol, with every failure classified by slurm-errors.ts. */
export class SlurmCli {
  constructor(
    readonly run: CommandRunner = exec,
    readonly env?: NodeJS.ProcessEnv,
  ) {}

  async #call(file: string, args: readonly string[], signal?: AbortSignal): Promise<ExecResult> {
    const result = await this.run(file, args, { signal, timeoutMs: 30_000, ...(this.env ? { env: this.env, cleanEnv: true } : {}) });
    if (result.exitCode !== 0) throw slurmError(result);
    return result;
  }

  /** Submits; resolves the job id (`--parsable` prints `id` or `id;cluster`). */
  async sbatch(request: SbatchRequest, signal?: AbortSignal): Promise<string> {
    const { stdout } = await this.#call('sbatch', sbatchArgs(request), signal);
    const id = stdout.trim().split(';')[0] ?? '';
    if (!/^\d+(_\d+)?$/.test(id)) throw new Error(`sbatch --parsable printed no job id: ${JSON.stringify(stdout)}`);
    return id;
  }

  /** The job's state (`-t all`: ended jobs too, for MinJobAge), or undefined when Slurm no longer knows it. */
  async squeue(jobId: string, signal?: AbortSignal): Promise<SqueueJob | undefined> {
    try {
      return parseSqueueLine((await this.#call('squeue', ['-h', '-t', 'all', '-j', jobId, '-o', SQUEUE_FORMAT], signal)).stdout);
    } catch (error) {
      if ((error as SlurmCommandError).kind === 'invalid-job-id') return undefined;
      throw error;
    }
  }

  /** Cancels; a job that already ended or was purged is not an error. */
  async scancel(jobId: string, signal?: AbortSignal): Promise<void> {
    try {
      await this.#call('scancel', [jobId], signal);
    } catch (error) {
      const kind = (error as SlurmCommandError).kind;
      if (kind !== 'invalid-job-id' && kind !== 'job-already-done') throw error;
    }
  }

  /** Exit code and signal of an ended job (`scontrol show job -o`), when Slurm still has it. */
  async exitOf(jobId: string, signal?: AbortSignal): Promise<{ exitCode: number; signal: number } | undefined> {
    try {
      return parseScontrolExit((await this.#call('scontrol', ['show', 'job', '-o', jobId], signal)).stdout);
    } catch {
      return undefined;
    }
  }

  /** `sinfo -h -o '%T|%P|%N'` of the partition (or all): state, partition, nodes per line. */
  async sinfo(partition?: string, signal?: AbortSignal): Promise<string> {
    return (await this.#call('sinfo', ['-h', '-o', '%T|%P|%N', ...(partition ? ['-p', partition] : [])], signal)).stdout;
  }
}
