import { Command } from 'commander';
import type { CliIo } from '../cli-io.js';
import { EXIT_CODES_HELP } from '../exit-codes.js';
import { addRunFlags, type RunFlags } from '../run-flags.js';

/** `hpc-sandbox check [suite...]`: the readiness checks of each suite on every leg found here. */
export function checkCommand(io: CliIo): Command {
  return addRunFlags(
    new Command('check')
      .description('Run readiness checks (port binding, env, bash, files, isolation, reset, batch, concurrency, stateful terminals) on every leg of a suite')
      .argument('[suite...]', 'suite files or names (default: readiness, i.e. suites/readiness.yaml)'),
  )
    .addHelpText(
      'after',
      `
Legs whose software is missing here are skipped with the reason; --require (or
HPC_SANDBOX_REQUIRE) turns such a skip into exit code 3.

Examples:
  hpc-sandbox check                                  # local x process plus every driver found
  hpc-sandbox check --driver process,docker --report results/
  hpc-sandbox check suites/readiness.yaml --require local:docker --json > report.json
  hpc-sandbox check --scheduler nomad --singularity-image /images/sandbox.sif

${EXIT_CODES_HELP}`,
    )
    .action(async (suites: string[], flags: RunFlags) => (await import('../run-suites.js')).runSuites('check', suites, flags, io));
}
