import { describe, expect, it } from 'vitest';
import { sbatchArgs } from './slurm-cli.js';
import { sbatchOptionArgs } from './sbatch-options.js';
import { classifySlurmStderr } from './slurm-errors.js';

const label = { runId: 'run-1', host: 'login1', pid: 4242, startedAtMs: 1_700_000_000_000 };

describe('sbatchOptionArgs', () => {
  it('puts account, QOS, constraint, GRES, the run label and extra args into the submitted argv (golden)', () => {
    const extra = sbatchOptionArgs({ account: 'lab', qos: 'debug', constraint: 'avx2', gres: 'gpu:1', extraArgs: ['--mem=2G'] }, label);
    expect(sbatchArgs({ scriptPath: '/s/job.sh', jobName: 'hpcsb-a', stdoutPath: '/s/o', stderrPath: '/s/e', workDir: '/s', partition: 'debug', timeLimit: '10', extraArgs: extra })).toEqual([
      '--parsable',
      '--export=NONE',
      '--job-name=hpcsb-a',
      '--output=/s/o',
      '--error=/s/e',
      '--chdir=/s',
      '--ntasks=1',
      '--partition=debug',
      '--time=10',
      '--account=lab',
      '--qos=debug',
      '--constraint=avx2',
      '--gres=gpu:1',
      '--comment=hpc-sandbox-run:run-1,login1,4242,1700000000000',
      '--mem=2G',
      '/s/job.sh',
    ]);
  });

  it('refuses extra args that would override what the scheduler sets', () => {
    expect(() => sbatchOptionArgs({ extraArgs: ['--export=ALL'] })).toThrow(
      "The sbatch argument --export=ALL in the site profile's slurm.extraArgs would override --export, which hpc-sandbox sets itself; remove it",
    );
  });

  it('classifies the refusals of a cluster that enforces accounting (Slurm 22.05 wording)', () => {
    expect(classifySlurmStderr('sbatch: error: Batch job submission failed: Invalid account or account/partition combination specified')).toBe('policy-violation');
    expect(classifySlurmStderr('sbatch: error: Batch job submission failed: Invalid qos specification')).toBe('policy-violation');
    expect(classifySlurmStderr('sbatch: error: Batch job submission failed: Job violates accounting/QOS policy (job submit limit, user\'s size and/or time limits)')).toBe('policy-violation');
  });
});
