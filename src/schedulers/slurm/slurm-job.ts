import { logger } from '../../common/logger.js';
import type { PlacementExit } from '../scheduler.js';
import type { SlurmCli } from './slurm-cli.js';
import { isHopelessPending, isTerminal, type SqueueJob } from './squeue.js';

const log = logger('scheduler:slurm');

/**
 * Follows one Slurm job through squeue: short polls at first (a job usually starts within a
 * scheduler pass of ~0-3 s), backing off to `maxIntervalMs` while it runs, short again while it is
 * being stopped. `exited` settles once the job reaches a terminal state or squeue forgets it.
 */
export class SlurmJobWatch {
  readonly exited: Promise<PlacementExit>;
  #last: SqueueJob | undefined;
  #interval: number;
  #wake: (() => void) | undefined;
  #listeners = new Set<() => void>();
  #done = false;
  #lastError: string | undefined;

  constructor(
    readonly cli: SlurmCli,
    readonly jobId: string,
    readonly options: { minIntervalMs?: number; maxIntervalMs?: number } = {},
  ) {
    this.#interval = options.minIntervalMs ?? 100;
    this.exited = this.#loop();
  }

  /** The last squeue answer. */
  get last(): SqueueJob | undefined {
    return this.#last;
  }

  get ended(): boolean {
    return this.#done;
  }

  /** Poll at the shortest interval again (while stopping). */
  hurry(): void {
    this.#interval = this.options.minIntervalMs ?? 100;
    this.#wake?.();
  }

  async #loop(): Promise<PlacementExit> {
    const max = this.options.maxIntervalMs ?? 2_000;
    let failures = 0;
    for (;;) {
      let job: SqueueJob | undefined;
      try {
        job = await this.cli.squeue(this.jobId);
        failures = 0;
      } catch (error) {
        // A controller hiccup is not the end of the job: keep asking, say so after a while.
        failures++;
        this.#lastError = (error as Error).message;
        log('squeue %s failed (%d in a row): %s', this.jobId, failures, this.#lastError);
        if (failures >= 30) return this.#finish({ reason: `lost: squeue failed ${failures} times: ${this.#lastError}` });
        await this.#sleep(Math.min(max, 1_000));
        continue;
      }
      if (!job) return this.#finish({ reason: `job ${this.jobId} is gone from squeue` });
      this.#last = job;
      this.#notify();
      if (isTerminal(job.state)) {
        const exit = await this.cli.exitOf(this.jobId);
        const reason = `job ${this.jobId} ${job.state}${job.reason && job.reason !== 'None' ? ` (${job.reason})` : ''}` +
          (exit ? `, exit code ${exit.exitCode}${exit.signal ? ` signal ${exit.signal}` : ''}` : '');
        return this.#finish({ exitCode: exit?.exitCode ?? null, signal: exit?.signal ? String(exit.signal) : null, reason });
      }
      await this.#sleep(this.#interval);
      // While it waits to start, a job may run any moment: keep polls short until it runs.
      const cap = job.state === 'PENDING' || job.state === 'CONFIGURING' ? Math.min(max, 250) : max;
      this.#interval = Math.min(cap, Math.round(this.#interval * 1.5));
    }
  }

  #finish(exit: PlacementExit): PlacementExit {
    this.#done = true;
    this.#notify();
    return exit;
  }

  #notify(): void {
    for (const listener of this.#listeners) listener();
  }

  #sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.#wake = undefined;
        resolve();
      }, ms);
      this.#wake = () => {
        clearTimeout(timer);
        this.#wake = undefined;
        resolve();
      };
    });
  }

  /**
   * Resolves the job once it RUNs on a node; rejects with the reason when it ends first, can never
   * start (`PartitionDown`...), the signal aborts or `timeoutMs` passes.
   */
  waitRunning(options: { timeoutMs: number; signal?: AbortSignal }): Promise<SqueueJob> {
    return new Promise((resolve, reject) => {
      const check = () => {
        const job = this.#last;
        if (job && (job.state === 'RUNNING' || job.state === 'COMPLETING') && job.nodes) return settle(() => resolve(job));
        // A job that ended on a node did run, however briefly (a server that crashed at once on a
        // busy machine ends between two polls): the caller then reports its exit and stderr.
        if (this.#done && job?.nodes) return settle(() => resolve(job));
        if (this.#done) return settle(() => void this.exited.then((exit) => reject(new Error(`it ended before it ran: ${exit.reason}`))));
        if (job?.state === 'PENDING' && isHopelessPending(job.reason)) {
          return settle(() => reject(new Error(`it can never start: pending with reason ${job.reason}`)));
        }
      };
      const onAbort = () => settle(() => reject(options.signal?.reason ?? new Error('aborted')));
      const timer = setTimeout(
        () => settle(() => reject(new Error(`not running after ${options.timeoutMs}ms (last: ${this.#last ? `${this.#last.state} ${this.#last.reason}` : this.#lastError ?? 'no answer'})`))),
        options.timeoutMs,
      );
      const settle = (fn: () => void) => {
        clearTimeout(timer);
        this.#listeners.delete(check);
        options.signal?.removeEventListener('abort', onAbort);
        fn();
      };
      if (options.signal?.aborted) return onAbort();
      options.signal?.addEventListener('abort', onAbort, { once: true });
      this.#listeners.add(check);
      check();
    });
  }
}
