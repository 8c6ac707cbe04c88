import { describe, expect, it } from 'vitest';
import type { ExecResult } from '../../common/exec.js';
import { classifySlurmStderr, slurmError } from './slurm-errors.js';

/** Real stderr of Slurm 22.05.8 commands, captured on the one-node cluster (and the reference notes). */
const FIXTURES: Array<[string, string]> = [
  ['sbatch: error: invalid partition specified: nosuch\nsbatch: error: Batch job submission failed: Invalid partition name specified\n', 'invalid-partition'],
  ['slurm_load_jobs error: Invalid job id specified\n', 'invalid-job-id'],
  ['scancel: error: Kill job error on job id 99999: Invalid job id specified\n', 'invalid-job-id'],
  ['scancel: error: Kill job error on job id 12: Job/step already completing or completed\n', 'job-already-done'],
  ['sbatch: error: Invalid time limit specification\n', 'invalid-time-limit'],
  ['sbatch: error: Batch job submission failed: Requested time limit is invalid (missing or exceeds some limit)\n', 'invalid-time-limit'],
  ['sbatch: error: Batch job submission failed: Job violates accounting/QOS policy (job submit limit, user\'s size and/or time limits)\n', 'policy-violation'],
  ['squeue: error: Unable to contact slurm controller (connect failure)\n', 'controller-unreachable'],
  ['sinfo: error: slurm_receive_msg: Zero Bytes were transmitted or received\nslurm_load_partitions: Zero Bytes were transmitted or received\n', 'controller-unreachable'],
  ['sbatch: error: If munged is up, restart with --num-threads=10\nsbatch: error: Munge encode failed: Failed to access "/run/munge/munge.socket.2": No such file or directory\n', 'controller-unreachable'],
  ['spawn sbatch ENOENT', 'command-unavailable'],
  ['sbatch: error: something new\n', 'unknown'],
];

const result = (stderr: string, exitCode: number | undefined = 1): ExecResult => ({
  command: 'sbatch --parsable job.sh',
  exitCode,
  signal: undefined,
  stdout: '',
  stderr,
  durationMs: 12,
  timedOut: false,
});

describe('classifySlurmStderr', () => {
  for (const [stderr, kind] of FIXTURES) {
    it(`reads ${JSON.stringify(stderr.split('\n')[0])} as ${kind}`, () => {
      expect(classifySlurmStderr(stderr)).toBe(kind);
    });
  }
});

describe('slurmError', () => {
  it('makes an invalid partition a configuration error quoting Slurm and saying what to do', () => {
    const error = slurmError(result(FIXTURES[0]![0]));
    expect(error).toMatchObject({ kind: 'invalid-partition', code: 'HPCSB_CONFIG_INVALID', exitCode: 1 });
    expect(error.message).toContain('sbatch --parsable job.sh');
    expect(error.message).toContain('invalid partition specified: nosuch');
    expect(error.message).toContain('sinfo -s');
  });

  it('makes an unreachable controller a scheduler-unavailable error', () => {
    expect(slurmError(result(FIXTURES[7]![0]))).toMatchObject({ kind: 'controller-unreachable', code: 'HPCSB_SCHEDULER_UNAVAILABLE' });
  });

  it('tells a command that could not start from one that failed', () => {
    expect(slurmError({ ...result(''), exitCode: undefined })).toMatchObject({ kind: 'command-unavailable', code: 'HPCSB_SCHEDULER_UNAVAILABLE' });
    expect(slurmError({ ...result(''), timedOut: true })).toMatchObject({ kind: 'timed-out' });
    expect(slurmError(result('sbatch: error: something new\n'))).toMatchObject({ kind: 'unknown', code: 'HPCSB_PLACEMENT_FAILED' });
  });
});
