import { execa, type Result } from 'execa';
import { SandboxError } from '../errors.js';
import { logger } from './logger.js';

const log = logger('exec');

export interface ExecOptions {
  signal?: AbortSignal;
  /** Kill the command after this many ms. @default 60_000 */
  timeoutMs?: number;
  env?: NodeJS.ProcessEnv;
  /** Do not merge `process.env` into `env`. @default false */
  cleanEnv?: boolean;
  cwd?: string;
  input?: string;
}

export interface ExecResult {
  command: string;
  exitCode: number | undefined;
  signal: string | undefined;
  stdout: string;
  stderr: string;
  durationMs: number;
  timedOut: boolean;
}

/** A command exited non-zero, was killed, or could not start. Carries everything needed to explain why. */
export class CommandError extends SandboxError {
  readonly command: string;
  readonly exitCode: number | undefined;
  readonly signal: string | undefined;
  readonly stdout: string;
  readonly stderr: string;
  readonly durationMs: number;
  constructor(result: ExecResult, options?: { cause?: unknown }) {
    const why = result.timedOut
      ? `Command timed out after ${result.durationMs}ms`
      : result.signal
        ? `Command was killed with ${result.signal}`
        : result.exitCode === undefined
          ? 'Command could not be started'
          : `Command failed with exit code ${result.exitCode}`;
    const evidence = tail(result.stderr || result.stdout, 20);
    super('HPCSB_COMMAND_FAILED', `${why}: ${result.command}` + (evidence ? `\n${evidence}` : ''), options);
    this.command = result.command;
    this.exitCode = result.exitCode;
    this.signal = result.signal;
    this.stdout = result.stdout;
    this.stderr = result.stderr;
    this.durationMs = result.durationMs;
  }
}

/** The last `lines` lines of `text`, trimmed. */
export function tail(text: string, lines: number): string {
  return text.trimEnd().split('\n').slice(-lines).join('\n');
}

/**
 * Runs a command (argv array, never a shell string) and returns its result without throwing on a
 * non-zero exit; `execOrThrow` throws a `CommandError` instead. Every CLI this project drives
 * (apptainer, ch-run, mksquashfs, sbatch...) goes through here, so cancellation, time limits and
 * the debug log (`DEBUG=hpc-sandbox:exec`) behave the same everywhere.
 */
export async function exec(file: string, args: readonly string[], options: ExecOptions = {}): Promise<ExecResult> {
  const command = [file, ...args].map(quoteForDisplay).join(' ');
  log('%s', command);
  const result: Result = await execa(file, args, {
    cancelSignal: options.signal,
    timeout: options.timeoutMs ?? 60_000,
    forceKillAfterDelay: 5_000,
    cleanup: true,
    reject: false,
    env: options.env,
    extendEnv: !options.cleanEnv,
    cwd: options.cwd,
    input: options.input,
    stdin: options.input === undefined ? 'ignore' : 'pipe',
    stripFinalNewline: false,
  });
  const spawned = result.exitCode !== undefined || result.signal !== undefined;
  return {
    command,
    exitCode: result.exitCode,
    signal: result.signal,
    stdout: String(result.stdout ?? ''),
    stderr: String(result.stderr ?? '') || (spawned ? '' : String(result.originalMessage ?? result.message ?? '')),
    durationMs: result.durationMs,
    timedOut: result.timedOut,
  };
}

export async function execOrThrow(file: string, args: readonly string[], options: ExecOptions = {}): Promise<ExecResult> {
  const result = await exec(file, args, options);
  if (result.exitCode !== 0) throw new CommandError(result);
  return result;
}

/** Quotes one argv element for messages and logs (POSIX shell style). */
export function quoteForDisplay(arg: string): string {
  return /^[\w@%+=:,./-]+$/.test(arg) ? arg : `'${arg.replaceAll("'", `'\\''`)}'`;
}
