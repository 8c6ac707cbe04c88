import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { projectRoot } from '../common/paths.js';
import type { CliIo } from './cli-io.js';
import { createProgram } from './program.js';
import { reportError } from './report-error.js';

/**
 * Entry point of `hpc-sandbox` (bundled to dist/cli/main.js, the package's bin). Runs one
 * command and exits with its code; see exit-codes.ts.
 */
async function main(argv: string[]): Promise<void> {
  const io: CliIo = { stdout: process.stdout, stderr: process.stderr, env: process.env, exitCode: 0 };
  const verbose = argv.includes('--verbose');
  let ran: string | undefined;
  try {
    const version = (JSON.parse(readFileSync(join(projectRoot(), 'package.json'), 'utf8')) as { version: string }).version;
    const program = createProgram(io, version);
    program.hook('preAction', (_program, action) => {
      ran = action.name();
    });
    await program.parseAsync(argv);
    process.exitCode = io.exitCode;
  } catch (error) {
    process.exitCode = reportError(error, io, verbose);
  }
  // Finite commands exit now, so idle keep-alive sockets cannot delay the shell prompt; servers
  // (serve, agent) keep running until their own signal handlers stop them.
  if (!ran || !SERVING_COMMANDS.has(ran)) process.exit();
}

/** Commands that keep running after their action returns. */
const SERVING_COMMANDS = new Set(['serve', 'agent']);

await main(process.argv);
