import { spawn, type ChildProcess, type IOType } from 'node:child_process';
import type { Stream } from 'node:stream';
import type { NetworkMode } from '../protocol/types.js';
import { bwrapArgv, SECCOMP_FD, writeSeccompFilter, type IsolationProbe, type SandboxLayout } from './isolation.js';
import { limitsPrefix } from './slot-limits.js';
import type { SlotUser } from './slot-user.js';

/** What a slot's sandbox is made of: the probe's result, the layout, the slot and the command environment. */
export interface SlotSandboxContext {
  isolation: IsolationProbe;
  layout: SandboxLayout;
  slotDir: string;
  /** Host identity of the slot's commands (root servers); undefined: the server's own uid. */
  user?: SlotUser;
  /** Environment the program starts with (already clean: see commandEnv). */
  env: NodeJS.ProcessEnv;
}

/** One stdio entry of spawn. */
export type StdioEntry = IOType | 'ipc' | Stream | number | null | undefined;

export interface SpawnInSandboxOptions {
  /** Outbound network for the program (its own network namespace either way where isolation allows). */
  allowNetwork: boolean;
  /**
   * stdin, stdout, stderr and, past the seccomp fd (3, set here when there is a filter), any
   * further fds the program needs. @default ['ignore', 'pipe', 'pipe']
   */
  stdio?: readonly StdioEntry[];
  /** Own process group, so the caller can kill the tree. @default true */
  detached?: boolean;
}

/** The network a sandboxed program gets for `allowNetwork` under this probe. */
export function networkFor(context: SlotSandboxContext, allowNetwork: boolean): NetworkMode {
  return allowNetwork ? context.isolation.openNetwork : 'none';
}

/**
 * The one place a program is started inside a slot's sandbox: per-command `bash` (spawn mode),
 * the standing sandbox of a slot and its stateful session all go through here, so every one gets
 * the same isolation: bwrap started as the slot's uid, the seccomp filter fed through a pipe at
 * fd 3, the network the probe found. Without a usable bwrap (auto mode fallback) the program runs
 * directly with the slot as cwd, still as the slot's uid and with the clean environment. Callers
 * check `context.isolation.config` to know which happened.
 */
export function spawnInSandbox(context: SlotSandboxContext, program: readonly string[], options: SpawnInSandboxOptions): ChildProcess {
  const { config } = context.isolation;
  const stdio: StdioEntry[] = [...(options.stdio ?? ['ignore', 'pipe', 'pipe'])];
  const detached = options.detached ?? true;
  const identity = context.user ? { uid: context.user.uid, gid: context.user.gid } : {};
  const limited = context.layout.limits ? [...limitsPrefix(context.layout.shell, context.layout.limits), ...program] : program;
  if (config) {
    const filter = context.layout.seccompFilter;
    if (filter) stdio[SECCOMP_FD] = 'pipe';
    const target = { slotDir: context.slotDir, network: networkFor(context, options.allowNetwork), ...(context.user ? { user: context.user } : {}), ...(filter ? { seccompFd: SECCOMP_FD } : {}) };
    const argv = bwrapArgv(config, context.layout, target, limited);
    const child = spawn(argv[0]!, argv.slice(1), { cwd: '/', env: context.env, detached, stdio, ...identity });
    if (filter) writeSeccompFilter(child, filter);
    return child;
  }
  return spawn(limited[0]!, limited.slice(1), { cwd: context.slotDir, env: { ...context.env, PWD: context.slotDir, HOME: context.slotDir }, detached, stdio, ...identity });
}
