import { spawn, type ChildProcess, type StdioOptions } from 'node:child_process';
import { bwrapArgv, type IsolationProbe, type SandboxLayout } from './isolation.js';

/** What a slot's sandbox is made of: the probe's result, the layout, the slot and the command environment. */
export interface SlotSandboxContext {
  isolation: IsolationProbe;
  layout: SandboxLayout;
  slotDir: string;
  /** Environment the program starts with (already cleaned by the server). */
  env: NodeJS.ProcessEnv;
}

export interface SpawnInSandboxOptions {
  /** Outbound network for the program (its own network namespace either way where isolation allows). */
  allowNetwork: boolean;
  /** @default ['ignore', 'pipe', 'pipe'] */
  stdio?: StdioOptions;
  /** Own process group, so the caller can kill the tree. @default true */
  detached?: boolean;
}

/**
 * The one place a program is started inside a slot's sandbox: per-command `bash` (spawn mode),
 * the standing sandbox of a slot and its stateful session all go through here, so every one gets
 * the same isolation. Without a usable bwrap (auto mode fallback) the program runs directly with
 * the slot as cwd. Callers check `context.isolation.config` to know which happened.
 */
export function spawnInSandbox(context: SlotSandboxContext, program: readonly string[], options: SpawnInSandboxOptions): ChildProcess {
  const { config } = context.isolation;
  const stdio = options.stdio ?? ['ignore', 'pipe', 'pipe'];
  const detached = options.detached ?? true;
  if (config) {
    const argv = bwrapArgv(config, context.layout, context.slotDir, '', options.allowNetwork);
    // bwrapArgv ends with `-- <shell> -c <command>`: replace the program.
    argv.splice(argv.length - 3, 3, ...program);
    return spawn(argv[0]!, argv.slice(1), { cwd: context.slotDir, env: context.env, detached, stdio });
  }
  return spawn(program[0]!, program.slice(1), { cwd: context.slotDir, env: { ...context.env, PWD: context.slotDir, HOME: context.slotDir }, detached, stdio });
}
