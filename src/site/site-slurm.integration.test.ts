import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeWith } from '../../test/gate.js';
import { projectRoot } from '../common/paths.js';
import { slurmOptionsForRun } from './scheduler-options.js';
import { PROFILE_ENV } from './site-profile.js';

// The one-node cluster has no slurmdbd (AccountingStorageType = accounting_storage/none): sbatch
// takes --account and --qos without checking them. The legs run with both, and the submitted argv
// carries them (the refusal of an enforcing cluster is classified in slurm-errors.ts, see
// sbatch-options.test.ts).
describeWith(['slurm'], 'Slurm legs with an account and a QOS from a site profile (one-node cluster)', () => {
  let dir: string;
  let profile: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'hpcsb-site-slurm-'));
    profile = join(dir, 'site.yaml');
    await writeFile(profile, 'slurm:\n  account: lab-ai\n  qos: normal\n  timeLimit: "10"\n');
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('submits with --account, --qos and the run label', async () => {
    const { options } = await slurmOptionsForRun({ [PROFILE_ENV]: profile });
    expect(options.timeLimit).toBe('10');
    expect(options.sbatchArgs?.slice(0, 2)).toEqual(['--account=lab-ai', '--qos=normal']);
    expect(options.sbatchArgs?.[2]).toMatch(new RegExp(`^--comment=hpc-sandbox-run:[^,]+,[^,]+,${process.pid},\\d+$`));
  });

  it('runs the readiness suite green on slurm x process with them (built CLI)', async () => {
    const result = await new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
      execFile(
        process.execPath,
        [join(projectRoot(), 'dist/cli/main.js'), 'check', '--profile', profile, '--scheduler', 'slurm', '--driver', 'process', '--require', 'slurm:process', '--json'],
        { env: { ...process.env, HPC_SANDBOX_REQUIRE: '' }, maxBuffer: 64 * 1024 * 1024, timeout: 280_000 },
        (error, stdout, stderr) => resolve({ code: error ? ((error as { code?: number }).code ?? 1) : 0, stdout, stderr }),
      );
    });
    expect(result.code, result.stderr.slice(-2000)).toBe(0);
    const report = JSON.parse(result.stdout) as { legs: Array<{ name: string; state: string }> };
    expect(report.legs.map((leg) => [leg.name, leg.state])).toEqual([['slurm x process', 'passed']]);
  }, 300_000);
});
