import type { ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { constants } from 'node:os';
import { CappedBuffer, capturedOutput } from './capped-buffer.js';
import { killProcessGroup, killProcessTree } from './process-tree.js';

export interface RunCommandOptions {
  /** Starts the command in its own process group with stdout and stderr piped (see spawnInSandbox). */
  start: () => ChildProcess;
  /** For error messages: the working directory the command was given. */
  cwd: string;
  timeoutMs: number;
  /** Characters kept of stdout and, separately, of stderr. */
  maxOutputChars: number;
  /** Aborting kills the command tree (slot reset, server shutdown). */
  signal?: AbortSignal;
  /** Receives each piece of output as it is kept (within the cap), for streaming answers. */
  onOutput?: OutputListener;
}

/** Where streamed output goes: which stream, and the bytes (within the output cap). */
export type OutputListener = (stream: 'stdout' | 'stderr', chunk: Buffer) => void;

export interface CommandOutcome {
  exitCode: number;
  signal: string | null;
  stdout: string;
  stderr: string;
  timedOut: boolean;
  /** Killed through `signal` (reset or shutdown), not by the timeout. */
  aborted: boolean;
  truncated: boolean;
  durationMs: number;
  spawnError?: string;
}

/**
 * Runs one command in its own process group and returns what it printed. The command's tree dies
 * with it: when the command exits, on timeout and on abort, the whole group and every descendant
 * are SIGKILLed, so no background process outlives the call (under bwrap the pid namespace does
 * the same). Output captured before a kill is returned.
 */
export function runCommand(options: RunCommandOptions): Promise<CommandOutcome> {
  const started = performance.now();
  const maxBytes = options.maxOutputChars * 4 + 4;
  if (options.signal?.aborted) {
    // Killed before its turn came (shutdown): nothing is started, so nothing can be left behind.
    return Promise.resolve({ exitCode: -1, signal: null, stdout: '', stderr: '', timedOut: false, aborted: true, truncated: false, durationMs: 0 });
  }
  return new Promise((resolve) => {
    const stdout = new CappedBuffer(maxBytes);
    const stderr = new CappedBuffer(maxBytes);
    let timedOut = false;
    let aborted = false;
    let settled = false;
    const child = options.start();
    const kill = (): void => {
      if (child.pid !== undefined) killProcessTree(child.pid);
    };
    const timer = setTimeout(() => {
      timedOut = true;
      kill();
    }, options.timeoutMs);
    const onAbort = (): void => {
      aborted = true;
      kill();
    };
    options.signal?.addEventListener('abort', onAbort, { once: true });
    const { onOutput } = options;
    child.stdout!.on('data', (chunk: Buffer) => {
      const kept = stdout.push(chunk);
      if (onOutput && kept.length > 0) onOutput('stdout', kept);
    });
    child.stderr!.on('data', (chunk: Buffer) => {
      const kept = stderr.push(chunk);
      if (onOutput && kept.length > 0) onOutput('stderr', kept);
    });

    const finish = (code: number | null, signal: NodeJS.Signals | null, spawnError?: string): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      clearTimeout(closeGuard);
      options.signal?.removeEventListener('abort', onAbort);
      const outcome: CommandOutcome = {
        exitCode: timedOut ? -1 : code ?? (signal ? 128 + (constants.signals[signal] ?? 0) : -1),
        signal,
        timedOut,
        aborted,
        ...capturedOutput(stdout, stderr, options.maxOutputChars, started),
      };
      if (spawnError !== undefined) outcome.spawnError = spawnError;
      resolve(outcome);
    };

    let closeGuard: NodeJS.Timeout | undefined;
    let exitCode: number | null = null;
    let exitSignal: NodeJS.Signals | null = null;
    child.on('exit', (code, signal) => {
      exitCode = code;
      exitSignal = signal;
      // Background jobs would hold the pipes open: the call ends with its command, as in a pid
      // namespace. The command is reaped already, so its children cannot be found by parent link
      // any more: its process group is what is left to kill (cheap, no /proc scan on the hot path).
      if (child.pid !== undefined) killProcessGroup(child.pid);
      // A descendant that escaped the tree may still hold a pipe: do not wait for it forever.
      closeGuard = setTimeout(() => {
        child.stdout!.destroy();
        child.stderr!.destroy();
        finish(exitCode, exitSignal);
      }, 500);
    });
    child.on('close', (code, signal) => finish(code ?? exitCode, signal ?? exitSignal));
    child.on('error', (error) => {
      // spawn reports a missing cwd as ENOENT of the program, which would point at the wrong file.
      const cwdMissing = (error as NodeJS.ErrnoException).code === 'ENOENT' && !existsSync(options.cwd);
      finish(null, null, cwdMissing ? `its working directory ${options.cwd} does not exist` : error.message);
    });
  });
}
