import { ConfigError } from '../../errors.js';
import { toSlurmComment, type RunLabel } from '../../common/run-label.js';

/** What a site asks of every job before it accepts it (from a site profile's `slurm` section). */
export interface SbatchOptions {
  partition?: string;
  account?: string;
  qos?: string;
  /** `MM`, `HH:MM:SS`, `D-HH:MM`. */
  timeLimit?: string;
  /** Node features (`--constraint`), e.g. `avx512&ib`. */
  constraint?: string;
  /** Generic resources (`--gres`), e.g. `gpu:1`. */
  gres?: string;
  /** Further sbatch arguments, passed as given (each one argv word). */
  extraArgs?: readonly string[];
}

/** Options that the scheduler itself sets: a profile's extra args must not override them. */
const OWNED_FLAGS = ['--parsable', '--export', '--job-name', '-J', '--output', '-o', '--error', '-e', '--chdir', '-D', '--ntasks', '-n', '--comment'];

/**
 * The sbatch argv words for a site's options and the run label (`--comment`, which `cleanup`
 * reads back with `squeue -o %k`). Partition and time limit are left to SlurmCli's own fields.
 */
export function sbatchOptionArgs(options: SbatchOptions, runLabel?: RunLabel): string[] {
  for (const arg of options.extraArgs ?? []) {
    const flag = arg.split('=')[0]!;
    if (OWNED_FLAGS.includes(flag)) {
      throw new ConfigError(`The sbatch argument ${arg} in the site profile's slurm.extraArgs would override ${flag}, which hpc-sandbox sets itself; remove it`);
    }
  }
  return [
    ...(options.account ? [`--account=${options.account}`] : []),
    ...(options.qos ? [`--qos=${options.qos}`] : []),
    ...(options.constraint ? [`--constraint=${options.constraint}`] : []),
    ...(options.gres ? [`--gres=${options.gres}`] : []),
    ...(runLabel ? [`--comment=${toSlurmComment(runLabel)}`] : []),
    ...(options.extraArgs ?? []),
  ];
}
