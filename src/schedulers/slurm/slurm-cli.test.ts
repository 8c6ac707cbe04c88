import { describe, expect, it } from 'vitest';
import type { ExecOptions, ExecResult } from '../../common/exec.js';
import { SlurmCli, sbatchArgs } from './slurm-cli.js';
import { SlurmCommandError } from './slurm-errors.js';

function runner(answers: Record<string, Partial<ExecResult>>) {
  const calls: string[][] = [];
  const run = async (file: string, args: readonly string[], _options?: ExecOptions): Promise<ExecResult> => {
    calls.push([file, ...args]);
    const answer = answers[file] ?? {};
    return { command: [file, ...args].join(' '), exitCode: 0, signal: undefined, stdout: '', stderr: '', durationMs: 1, timedOut: false, ...answer };
  };
  return { run, calls };
}

describe('SlurmCli', () => {
  it('submits with a clean environment, named output files and the options given (golden argv)', () => {
    expect(
      sbatchArgs({ scriptPath: '/s/j/job.sh', jobName: 'hpcsb-a-1', stdoutPath: '/s/j/slurm.out', stderrPath: '/s/j/slurm.err', workDir: '/s/j', partition: 'debug', timeLimit: '30', extraArgs: ['--account=lab'] }),
    ).toEqual([
      '--parsable',
      '--export=NONE',
      '--job-name=hpcsb-a-1',
      '--output=/s/j/slurm.out',
      '--error=/s/j/slurm.err',
      '--chdir=/s/j',
      '--ntasks=1',
      '--partition=debug',
      '--time=30',
      '--account=lab',
      '/s/j/job.sh',
    ]);
  });

  it('reads the job id of --parsable, with or without a cluster name', async () => {
    expect(await new SlurmCli(runner({ sbatch: { stdout: '41\n' } }).run).sbatch({ scriptPath: 'j', jobName: 'n', stdoutPath: 'o', stderrPath: 'e', workDir: 'w' })).toBe('41');
    expect(await new SlurmCli(runner({ sbatch: { stdout: '42;hpcsb\n' } }).run).sbatch({ scriptPath: 'j', jobName: 'n', stdoutPath: 'o', stderrPath: 'e', workDir: 'w' })).toBe('42');
  });

  it('turns a rejected submission into a classified error', async () => {
    const cli = new SlurmCli(runner({ sbatch: { exitCode: 1, stderr: 'sbatch: error: invalid partition specified: x\nsbatch: error: Batch job submission failed: Invalid partition name specified\n' } }).run);
    const error = await cli.sbatch({ scriptPath: 'j', jobName: 'n', stdoutPath: 'o', stderrPath: 'e', workDir: 'w', partition: 'x' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SlurmCommandError);
    expect(error).toMatchObject({ kind: 'invalid-partition' });
  });

  it('asks squeue for every state of one job and reads a purged job as gone', async () => {
    const listed = runner({ squeue: { stdout: 'CANCELLED|vm|None\n' } });
    expect(await new SlurmCli(listed.run).squeue('7')).toEqual({ state: 'CANCELLED', nodes: 'vm', reason: 'None' });
    expect(listed.calls[0]).toEqual(['squeue', '-h', '-t', 'all', '-j', '7', '-o', '%T|%N|%r']);
    const purged = runner({ squeue: { exitCode: 1, stderr: 'slurm_load_jobs error: Invalid job id specified\n' } });
    expect(await new SlurmCli(purged.run).squeue('7')).toBeUndefined();
    const down = runner({ squeue: { exitCode: 1, stderr: 'squeue: error: Unable to contact slurm controller (connect failure)\n' } });
    await expect(new SlurmCli(down.run).squeue('7')).rejects.toMatchObject({ kind: 'controller-unreachable' });
  });

  it('does not fail scancel of a job that already ended', async () => {
    const done = runner({ scancel: { exitCode: 1, stderr: 'scancel: error: Kill job error on job id 7: Job/step already completing or completed\n' } });
    await expect(new SlurmCli(done.run).scancel('7')).resolves.toBeUndefined();
    expect(done.calls).toEqual([['scancel', '7']]);
  });
});
