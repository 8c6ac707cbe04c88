import { mkdirSync, realpathSync } from 'node:fs';
import { join } from 'node:path';
import type { IsolationMode } from '../protocol/types.js';
import { findShell, hostRootEntries, probeIsolation, type IsolationProbe, type SandboxLayout } from './isolation.js';

/** What beginBoot needs from the server options. */
export interface BootOptions {
  slots: number;
  dataDir: string;
  tokenFile?: string;
  isolation: IsolationMode;
  env?: NodeJS.ProcessEnv;
}

/**
 * The first steps of a server start, taken before its HTTP side is even loaded: the data dir
 * exists, the sandbox layout is known and the bubblewrap probe runs. `/health` waits for that
 * probe, so it is the longest path of a boot; everything else overlaps it.
 */
export interface SandboxBoot {
  /** `performance.now()` when the boot began (`uptime_ms` counts from here). */
  readonly started: number;
  /** Real path of the data dir. */
  readonly dataDir: string;
  /** `slot_0` .. `slot_{N-1}` under `dataDir`. */
  readonly slotDirs: readonly string[];
  readonly layout: SandboxLayout;
  /** Resolves once the probe finished (it never rejects: failures are in the report). */
  readonly isolation: Promise<IsolationProbe>;
}

/**
 * Creates the data dir and `slot_0`, reads the host root and spawns the bwrap probe (a handful of
 * syscalls, then one spawn), then creates the other slot directories while the probe runs.
 * Throws when a directory cannot be created; the probe then still runs to its end.
 */
export function beginBoot(options: BootOptions): SandboxBoot {
  const started = performance.now();
  mkdirSync(options.dataDir, { recursive: true });
  const dataDir = realpathSync.native(options.dataDir);
  const slotDirs = Array.from({ length: options.slots }, (_, i) => join(dataDir, `slot_${i}`));
  // The probe binds slot_0 (the real sandbox layout), so only that one must exist before it.
  const probeDir = slotDirs[0] ?? dataDir;
  mkdirSync(probeDir, { recursive: true });
  const env = options.env ?? process.env;
  const layout: SandboxLayout = { dataRoot: dataDir, hiddenFiles: options.tokenFile ? [options.tokenFile] : [], shell: findShell(env), rootEntries: hostRootEntries() };
  const isolation = probeIsolation(options.isolation, layout, probeDir, env);
  // The other slots while the probe runs: synchronous, as a thread-pool round trip costs more
  // than a few mkdir calls, and the HTTP side is loaded right after on this same thread.
  for (const dir of slotDirs.slice(1)) mkdirSync(dir, { recursive: true });
  return { started, dataDir, slotDirs, layout, isolation };
}
