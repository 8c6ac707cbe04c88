import { Command, CommanderError } from 'commander';
import type { CliIo } from './cli-io.js';
import { agentCommand } from './commands/agent.js';
import { benchCommand } from './commands/bench.js';
import { checkCommand } from './commands/check.js';
import { cleanupCommand } from './commands/cleanup.js';
import { doctorCommand } from './commands/doctor.js';
import { imageCommand } from './commands/image.js';
import { serveCommand } from './commands/serve.js';
import { EXIT, EXIT_CODES_HELP } from './exit-codes.js';

/**
 * The `hpc-sandbox` command tree: doctor, check, bench, and serve, image and agent (each in
 * commands/). Commander never exits the process itself: usage errors surface as
 * CommanderError for main() to turn into exit code 2.
 */
export function createProgram(io: CliIo, version: string): Command {
  const program = new Command('hpc-sandbox')
    .description('Sandbox servers for coding agents on HPC clusters: readiness checks, startup benchmarks, the server itself')
    .version(version, '-V, --version')
    .showSuggestionAfterError(true)
    .addHelpText(
      'after',
      `
Examples:
  npx hpc-sandbox check                      # readiness of this machine (local x process + drivers found)
  hpc-sandbox doctor                         # what this machine offers
  hpc-sandbox bench --report results/bench   # startup latency, with report.html
  hpc-sandbox <command> --help

Environment: HPC_SANDBOX_REQUIRE (legs that must run), NOMAD_ADDR, NO_COLOR, DEBUG=hpc-sandbox*.

${EXIT_CODES_HELP}`,
    );
  program.addCommand(doctorCommand(io));
  program.addCommand(checkCommand(io));
  program.addCommand(benchCommand(io));
  program.addCommand(serveCommand());
  program.addCommand(imageCommand(io));
  program.addCommand(agentCommand(io));
  program.addCommand(cleanupCommand(io));
  const configure = (command: Command): void => {
    command.exitOverride();
    command.configureOutput({
      writeOut: (text) => io.stdout.write(text),
      writeErr: (text) => io.stderr.write(text),
    });
    command.commands.forEach(configure);
  };
  configure(program);
  return program;
}

/** Exit code for an error commander raised: help and version are not errors, the rest is usage. */
export function commanderExitCode(error: CommanderError): number {
  if (error.code === 'commander.helpDisplayed' || error.code === 'commander.version') return EXIT.pass;
  return EXIT.usage;
}
