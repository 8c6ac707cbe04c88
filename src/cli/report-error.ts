import { CommanderError } from 'commander';
import { isSandboxError } from '../errors.js';
import type { CliIo } from './cli-io.js';
import { EXIT } from './exit-codes.js';
import { commanderExitCode } from './program.js';

/**
 * Prints an error that escaped a command and returns the exit code: the message and its code
 * (`[HPCSB_CONFIG_INVALID]`), the stack only with --verbose. Configuration errors exit 2, an
 * unavailable required component 3, an abort 130, anything else 1.
 */
export function reportError(error: unknown, io: Pick<CliIo, 'stderr'>, verbose: boolean): number {
  if (error instanceof CommanderError) return commanderExitCode(error); // commander already printed it
  const message = error instanceof Error ? error.message : String(error);
  const code = isSandboxError(error) ? error.code : undefined;
  io.stderr.write(`hpc-sandbox: ${message}${code ? ` [${code}]` : ''}\n`);
  if (verbose && error instanceof Error && error.stack) io.stderr.write(`${error.stack}\n`);
  else if (!isSandboxError(error)) io.stderr.write('(run with --verbose for the stack trace)\n');
  if (isSandboxError(error, 'HPCSB_CONFIG_INVALID')) return EXIT.usage;
  if (isSandboxError(error, 'HPCSB_DRIVER_UNAVAILABLE') || isSandboxError(error, 'HPCSB_SCHEDULER_UNAVAILABLE')) return EXIT.requiredUnavailable;
  if (isSandboxError(error, 'HPCSB_ABORTED')) return EXIT.interrupted;
  return EXIT.failed;
}
