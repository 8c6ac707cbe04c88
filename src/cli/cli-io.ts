import type { Writable } from 'node:stream';

/** Where a command writes and what it reads of its environment; tests pass their own. */
export interface CliIo {
  stdout: Writable & { isTTY?: boolean; columns?: number };
  stderr: Writable & { isTTY?: boolean; columns?: number };
  env: NodeJS.ProcessEnv;
  /** The exit code the command chose (see exit-codes.ts); main() exits with it. */
  exitCode: number;
}

/** Writes `text` plus a final newline when it lacks one. */
export function writeLine(stream: Writable, text: string): void {
  stream.write(text.endsWith('\n') ? text : text + '\n');
}
