import type { Writable } from 'node:stream';
import { EXIT } from './exit-codes.js';

/**
 * First SIGINT/SIGTERM: abort `controller` so the running command stops its placements and
 * writes what it has (graceful teardown). Second: exit at once with 130 (the placements' own exit
 * hooks still kill their process groups). Returns the function that removes the handlers.
 */
export function handleInterrupts(controller: AbortController, stderr: Writable, exit: (code: number) => void = process.exit): () => void {
  let count = 0;
  const onSignal = (signal: NodeJS.Signals): void => {
    count++;
    if (count === 1) {
      stderr.write(`\n${signal}: stopping placements and writing what was measured; press Ctrl-C again to exit at once.\n`);
      controller.abort(new Error(`interrupted by ${signal}`));
      return;
    }
    stderr.write(`\n${signal} again: exiting now.\n`);
    exit(EXIT.interrupted);
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  return () => {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  };
}
