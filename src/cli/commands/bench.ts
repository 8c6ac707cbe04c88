import { Command, InvalidArgumentError } from 'commander';
import type { CliIo } from '../cli-io.js';
import { EXIT_CODES_HELP } from '../exit-codes.js';
import { addRunFlags, type RunFlags } from '../run-flags.js';

/** Flags only `bench` has. */
export interface BenchFlags {
  compare?: string;
  compareThreshold?: number;
  burst?: number;
  system?: string;
}

function positiveInt(flag: string) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError(`${flag} expects a whole number of at least 1, got ${JSON.stringify(value)}`);
    return n;
  };
}

function fraction(value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0) throw new InvalidArgumentError(`--compare-threshold expects a fraction above 0 such as 0.1 (10%), got ${JSON.stringify(value)}`);
  return n;
}

/** `hpc-sandbox bench [suite...]`: the startup benchmark of each suite on every leg found here. */
export function benchCommand(io: CliIo): Command {
  return addRunFlags(
    new Command('bench')
      .description('Measure startup (submit -> placed -> /health OK -> first exec): median, P95, P99, success, advised health timeout')
      .argument('[suite...]', 'suite files or names (default: startup, i.e. suites/startup.yaml)'),
  )
    .option('--compare <report.json>', 'compare with an earlier run (its report.json): old vs new median and P95 per leg and mode; exit 1 on a regression')
    .option('--compare-threshold <fraction>', 'smallest change of the median that counts as a regression (default 0.1 = 10%)', fraction)
    .option('--burst <n>', 'burst size (e.g. 32 or 64): adds the burst mode and runs whole rounds of N', positiveInt('--burst'))
    .option('--system <name>', 'system name for absolute references (systemReferences in the suite); default $HPC_SANDBOX_SYSTEM')
    .addHelpText(
      'after',
      `
Modes (from the suite's benchmarks.startup): sequential, staggered (staggerMs apart), burst
(burstSize at once), warm (acquire a slot of a running pool). Every cold series of a local leg
is measured beside the bare runtime doing the same start in the same run (node, docker run,
ch-run of the same image and command): OVERHEAD is ours / bare of the median, with a bootstrap
95% interval, and \`startup.overhead\` references hold on any machine. Absolute references in
\`systemReferences\` apply only on the system named by --system. The advised health timeout is
max(2 x P99, P99 + 1 s) of submit -> /health OK, rounded up to a whole second.

Examples:
  hpc-sandbox bench
  hpc-sandbox bench --driver process --report results/bench
  hpc-sandbox bench --driver process --compare results/bench-last-week/report.json
  hpc-sandbox bench --driver docker --burst 32 --system ci-2core
  hpc-sandbox bench suites/startup.yaml --scheduler local --json | jq '.benchmarks[] | {name, mode, stats}'

${EXIT_CODES_HELP}`,
    )
    .action(async (suites: string[], flags: RunFlags & BenchFlags) => (await import('../run-suites.js')).runSuites('bench', suites, flags, io));
}
