import { Command } from 'commander';
import type { CliIo } from '../cli-io.js';
import { EXIT_CODES_HELP } from '../exit-codes.js';
import { addRunFlags, type RunFlags } from '../run-flags.js';
import { runSuites } from '../run-suites.js';

/** `hpc-sandbox bench [suite...]`: the startup benchmark of each suite on every leg found here. */
export function benchCommand(io: CliIo): Command {
  return addRunFlags(
    new Command('bench')
      .description('Measure startup (submit -> placed -> /health OK -> first exec): median, P95, P99, success, advised health timeout')
      .argument('[suite...]', 'suite files or names (default: startup, i.e. suites/startup.yaml)'),
  )
    .addHelpText(
      'after',
      `
Modes (from the suite's benchmarks.startup): sequential, staggered (staggerMs apart), burst
(burstSize at once), warm (acquire a slot of a running pool). Figures are compared with the
suite's references (ReFrame semantics). The advised health timeout is max(2 x P99, P99 + 1 s)
of submit -> /health OK, rounded up to a whole second.

Examples:
  hpc-sandbox bench
  hpc-sandbox bench --driver process --report results/bench
  hpc-sandbox bench suites/startup.yaml --scheduler local --json | jq '.benchmarks[] | {name, mode, stats}'

${EXIT_CODES_HELP}`,
    )
    .action((suites: string[], flags: RunFlags) => runSuites('bench', suites, flags, io));
}
