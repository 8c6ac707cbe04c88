import { describe, expect, it } from 'vitest';
import type { SlurmCli } from './slurm-cli.js';
import { SlurmJobWatch } from './slurm-job.js';
import type { SqueueJob } from './squeue.js';

/** A SlurmCli whose squeue answers follow a script, one answer per poll (the last one repeats). */
function scriptedCli(answers: Array<SqueueJob | undefined>, exit = { exitCode: 1, signal: 0 }): SlurmCli {
  let poll = 0;
  return {
    squeue: async () => answers[Math.min(poll++, answers.length - 1)],
    exitOf: async () => exit,
  } as unknown as SlurmCli;
}

describe('SlurmJobWatch.waitRunning', () => {
  it('resolves with the node of a job that ran and ended between two polls (it did run)', async () => {
    const watch = new SlurmJobWatch(scriptedCli([{ state: 'PENDING', nodes: '', reason: 'None' }, { state: 'FAILED', nodes: 'vm', reason: 'NonZeroExitCode' }]), '7', { minIntervalMs: 1 });
    await expect(watch.waitRunning({ timeoutMs: 5_000 })).resolves.toMatchObject({ state: 'FAILED', nodes: 'vm' });
    await expect(watch.exited).resolves.toMatchObject({ exitCode: 1, reason: expect.stringContaining('job 7 FAILED') });
  });

  it('rejects for a job that ended without ever getting a node', async () => {
    const watch = new SlurmJobWatch(scriptedCli([{ state: 'PENDING', nodes: '', reason: 'None' }, { state: 'CANCELLED', nodes: '', reason: 'None' }]), '8', { minIntervalMs: 1 });
    await expect(watch.waitRunning({ timeoutMs: 5_000 })).rejects.toThrow(/it ended before it ran: job 8 CANCELLED/);
  });

  it('resolves once the job runs on a node', async () => {
    const watch = new SlurmJobWatch(
      scriptedCli([{ state: 'PENDING', nodes: '', reason: 'Priority' }, { state: 'RUNNING', nodes: 'vm', reason: 'None' }, { state: 'COMPLETED', nodes: 'vm', reason: 'None' }], { exitCode: 0, signal: 0 }),
      '9',
      { minIntervalMs: 1 },
    );
    await expect(watch.waitRunning({ timeoutMs: 5_000 })).resolves.toMatchObject({ state: 'RUNNING', nodes: 'vm' });
    await expect(watch.exited).resolves.toMatchObject({ exitCode: 0 });
  });
});
