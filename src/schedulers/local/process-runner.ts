import { type ChildProcess, spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { logger } from '../../common/logger.js';
import { quoteForDisplay } from '../../common/exec.js';

const log = logger('scheduler:local:process');

/** How a started process ended. */
export interface ProcessExit {
  exitCode: number | null;
  signal: NodeJS.Signals | null;
  /** `exited with code 1`, `killed by SIGKILL`, `could not start: spawn ENOENT ...` */
  reason: string;
}

export interface StartProcessOptions {
  /** argv[0] is the program (looked up on `env.PATH` when it has no slash). */
  argv: readonly string[];
  /** The complete environment of the process: nothing of the parent's environment is added. */
  env: Record<string, string>;
  cwd?: string;
  /** Files that receive stdout and stderr (created or appended to). */
  stdoutPath: string;
  stderrPath: string;
  /**
   * Start the process as the leader of a new process group and signal the whole group, so children
   * (ch-run's FUSE parent and its server child, a shell's children) never outlive a stop.
   * @default true
   */
  processGroup?: boolean;
}

/** A process started by `startProcess`; stop it to leave nothing of its group behind. */
export interface RunningProcess {
  readonly pid: number;
  /** The process group id that `stop()` signals, when started with `processGroup`. */
  readonly pgid: number | undefined;
  /**
   * Settles when the leader has exited. Never rejects. On its own it does not keep Node running
   * (a watcher, like the pool's, must not pin a forgotten process); `stop()` does until it is done.
   */
  readonly exited: Promise<ProcessExit>;
  /** The exit, once known. */
  readonly exit: ProcessExit | undefined;
  /** Whether any process of the group (or the process itself) is still alive. */
  isAlive(): boolean;
  /**
   * SIGTERM to the group, SIGKILL after `graceMs` when anything of it is still alive; resolves once
   * the leader has exited and no member of the group is left. Idempotent.
   */
  stop(options?: { graceMs?: number }): Promise<ProcessExit>;
  /** Sends `signal` to the group (or the process). No-op when it is gone. */
  kill(signal: NodeJS.Signals): void;
}

/**
 * Starts a long-running program with its output going to files (never to pipes the parent must
 * drain), optionally as a process group. The scheduler's exec plans, and test doubles of other
 * schedulers that really start tasks, share this.
 *
 * @example
 * const proc = await startProcess({ argv: ['node', 'server.mjs'], env: { PATH: '/usr/bin' },
 *   stdoutPath: 'alloc/logs/task.stdout.0', stderrPath: 'alloc/logs/task.stderr.0' });
 * await proc.stop();
 */
export async function startProcess(options: StartProcessOptions): Promise<RunningProcess> {
  const [file, ...args] = options.argv;
  if (!file) throw new TypeError('startProcess: `argv` must name a program, got an empty array');
  const processGroup = options.processGroup ?? true;
  const handles: FileHandle[] = [];
  try {
    const stdout = await open(options.stdoutPath, 'a');
    handles.push(stdout);
    const stderr = await open(options.stderrPath, 'a');
    handles.push(stderr);
    const child = spawn(file, args, {
      env: options.env,
      cwd: options.cwd,
      detached: processGroup,
      stdio: ['ignore', stdout.fd, stderr.fd],
    });
    const spawned = await new Promise<{ pid: number } | { error: Error }>((resolve) => {
      child.once('spawn', () => resolve({ pid: child.pid! }));
      child.once('error', (error) => resolve({ error }));
    });
    if ('error' in spawned) {
      throw new Error(`Could not start ${options.argv.map(quoteForDisplay).join(' ')}: ${spawned.error.message}`, {
        cause: spawned.error,
      });
    }
    log('started pid %d%s: %s', spawned.pid, processGroup ? ' (own group)' : '', options.argv.map(quoteForDisplay).join(' '));
    // A placement nobody stops must not keep this process alive (the exit hook kills it at exit);
    // stop() takes the reference back while it waits.
    child.unref();
    return new SpawnedProcess(child, spawned.pid, processGroup);
  } finally {
    // The child holds its own copies of the descriptors.
    await Promise.all(handles.map((h) => h.close()));
  }
}

class SpawnedProcess implements RunningProcess {
  readonly pid: number;
  readonly pgid: number | undefined;
  readonly exited: Promise<ProcessExit>;
  exit: ProcessExit | undefined;
  #stopping: Promise<ProcessExit> | undefined;
  readonly #child: ChildProcess;

  constructor(child: ChildProcess, pid: number, processGroup: boolean) {
    this.#child = child;
    this.pid = pid;
    this.pgid = processGroup ? pid : undefined;
    this.exited = new Promise((resolve) => {
      child.once('exit', (exitCode, signal) => {
        this.exit = {
          exitCode,
          signal,
          reason: signal ? `killed by ${signal}` : `exited with code ${exitCode}`,
        };
        log('pid %d %s', pid, this.exit.reason);
        resolve(this.exit);
      });
    });
  }

  isAlive(): boolean {
    if (this.pgid !== undefined) return processGroupMembers(this.pgid).length > 0;
    return this.exit === undefined && signalTarget(this.pid, false, 0);
  }

  kill(signal: NodeJS.Signals): void {
    signalTarget(this.pgid ?? this.pid, this.pgid !== undefined, signal);
  }

  stop(options: { graceMs?: number } = {}): Promise<ProcessExit> {
    this.#stopping ??= this.#stop(options.graceMs ?? 5_000);
    return this.#stopping;
  }

  async #stop(graceMs: number): Promise<ProcessExit> {
    // The child is unref'd: without this, awaiting its exit below is no reason for Node to stay,
    // and a script whose last act is `await placement.stop()` would end (code 13) mid-stop.
    this.#child.ref();
    try {
      return await this.#stopGroup(graceMs);
    } finally {
      this.#child.unref();
    }
  }

  async #stopGroup(graceMs: number): Promise<ProcessExit> {
    this.kill('SIGTERM');
    const deadline = Date.now() + graceMs;
    while (this.isAlive() && Date.now() < deadline) await sleep(20);
    if (this.isAlive()) {
      log('pid %d still alive %dms after SIGTERM: SIGKILL', this.pid, graceMs);
      this.kill('SIGKILL');
    }
    const exit = await this.exited;
    // Group members other than the leader may take a moment to be reaped after SIGKILL.
    const killDeadline = Date.now() + 5_000;
    while (this.isAlive() && Date.now() < killDeadline) await sleep(10);
    return exit;
  }
}

/**
 * Live (non-zombie) members of process group `pgid`, read from /proc. Zombies are skipped: they
 * are dead, and an init that does not reap (some container PID 1s) would otherwise keep them
 * "alive" forever.
 */
export function processGroupMembers(pgid: number): number[] {
  const members: number[] = [];
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    // No /proc (not Linux): fall back to the kernel's answer for the whole group.
    return signalTarget(pgid, true, 0) ? [pgid] : [];
  }
  for (const entry of entries) {
    if (!/^\d+$/.test(entry)) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
    } catch {
      continue;
    }
    // pid (comm) state ppid pgrp ...; comm may contain spaces and parentheses.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (fields[0] !== 'Z' && Number(fields[2]) === pgid) members.push(Number(entry));
  }
  return members;
}

/** Signals a process group (negative pid) or a process; false when nothing is there. */
function signalTarget(id: number, group: boolean, signal: NodeJS.Signals | 0): boolean {
  try {
    process.kill(group ? -id : id, signal);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ESRCH') return false;
    // EPERM: something exists that we may not signal (a setuid helper); treat it as alive.
    return true;
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
