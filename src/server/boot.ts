import { chmodSync, mkdirSync, realpathSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { slotId } from '../protocol/slot-id.js';
import type { IsolationMode } from '../protocol/types.js';
import { findShell, probeIsolation, type IsolationProbe, type SandboxLayout } from './isolation.js';
import { hostSeccompArch, seccompFilterBytes } from './seccomp-filter.js';
import { GrantError, parseGrant, systemRootEntries, unreadableEtcEntries, unsearchableAncestors, type Grant } from './sandbox-view.js';
import { DEFAULT_SLOT_LIMITS, type SlotLimits } from './slot-limits.js';
import { chownTree, DEFAULT_UID_BASE, slotUser, type SlotUser } from './slot-user.js';
import { findNetworkStack } from './user-net.js';

/** What beginBoot needs from the server options. */
export interface BootOptions {
  slots: number;
  dataDir: string;
  tokenFile?: string;
  isolation: IsolationMode;
  env?: NodeJS.ProcessEnv;
  /** `SRC[:DEST][:ro|rw]` grants bound into every slot. */
  expose?: readonly string[];
  /** First host uid of the per-slot users when the server runs as root. @default DEFAULT_UID_BASE */
  uidBase?: number;
  /** Per-slot resource limits. @default DEFAULT_SLOT_LIMITS */
  slotLimits?: Partial<SlotLimits>;
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
  /** The host identity of each slot's commands (root servers only; else all undefined). */
  readonly slotUsers: readonly (SlotUser | undefined)[];
  readonly layout: SandboxLayout;
  /** Resolves once the probe finished (it never rejects: failures are in the report). */
  readonly isolation: Promise<IsolationProbe>;
}

/**
 * The sandbox layout of this host: its system trees, the /etc masks, the shell, the seccomp filter
 * for this architecture (where the table knows it) and pasta where installed.
 */
export function buildSandboxLayout(options: { dataRoot: string; env?: NodeJS.ProcessEnv; grants?: Grant[]; hiddenFiles?: string[]; isolating?: boolean; limits?: SlotLimits }): SandboxLayout {
  const env = options.env ?? process.env;
  const arch = hostSeccompArch();
  const networkStack = findNetworkStack(env);
  return {
    dataRoot: options.dataRoot,
    hiddenFiles: options.hiddenFiles ?? [],
    shell: findShell(env),
    rootEntries: systemRootEntries(),
    etcMasks: unreadableEtcEntries(),
    grants: options.grants ?? [],
    ...((options.isolating ?? true) && arch ? { seccompFilter: seccompFilterBytes(arch) } : {}),
    ...(networkStack ? { networkStack } : {}),
    limits: options.limits ?? DEFAULT_SLOT_LIMITS,
  };
}

/** Parses every grant; the first that cannot be honoured stops the start. */
function grantsOf(specs: readonly string[] | undefined): Grant[] {
  return (specs ?? []).map((spec) => parseGrant(spec));
}

/**
 * Creates the data dir and `slot_0`, reads the sandbox view and spawns the bwrap probe (as slot
 * 0's uid, with the seccomp filter), then creates the other slot directories while the probe runs.
 * Throws when a directory cannot be created or a grant's source is missing.
 */
export function beginBoot(options: BootOptions): SandboxBoot {
  const started = performance.now();
  const grants = grantsOf(options.expose);
  mkdirSync(options.dataDir, { recursive: true });
  const dataDir = realpathSync.native(options.dataDir);
  const slotDirs = Array.from({ length: options.slots }, (_, i) => join(dataDir, slotId(i)));
  const isolating = options.isolation !== 'off';
  const slotUsers = slotDirs.map((_, i) => (isolating ? slotUser(i, options.uidBase ?? DEFAULT_UID_BASE) : undefined));
  // The data dir is the server's own: other users may pass through it (they cannot list it) to
  // reach their slot. Its ancestors are the operator's: an unsearchable one is reported.
  if (slotUsers[0] && (statSync(dataDir).mode & 0o001) === 0) chmodSync(dataDir, (statSync(dataDir).mode & 0o7777) | 0o711);
  const blocked = slotUsers[0] ? unsearchableAncestors(dataDir) : [];
  if (blocked.length > 0) {
    throw new DataDirUnreachableError(
      `the slots' unprivileged uids (${slotUsers[0]!.uid}..${slotUsers.at(-1)!.uid}) cannot reach the data dir ${dataDir}: ${blocked.join(', ')} ${blocked.length === 1 ? 'is' : 'are'} not searchable by other users (chmod o+x ${blocked.join(' ')}, or choose a --data-dir elsewhere)`,
    );
  }
  const prepareSlot = (i: number): void => {
    mkdirSync(slotDirs[i]!, { recursive: true });
    const user = slotUsers[i];
    if (user) {
      chownTree(slotDirs[i]!, user);
      // Only the slot's own uid (and the server) may enter: other slots' uids and host users stay out.
      chmodSync(slotDirs[i]!, 0o700);
    }
  };
  // The probe binds slot_0 (the real sandbox layout), so only that one must exist before it.
  const probeDir = slotDirs[0] ?? dataDir;
  prepareSlot(0);
  const env = options.env ?? process.env;
  const layout = buildSandboxLayout({ dataRoot: dataDir, env, grants, isolating, hiddenFiles: options.tokenFile ? [resolve(options.tokenFile)] : [], limits: { ...DEFAULT_SLOT_LIMITS, ...options.slotLimits } });
  const isolation = probeIsolation(options.isolation, layout, probeDir, env, slotUsers[0]);
  // The other slots while the probe runs: synchronous, as a thread-pool round trip costs more
  // than a few mkdir calls, and the HTTP side is loaded right after on this same thread.
  for (let i = 1; i < slotDirs.length; i++) prepareSlot(i);
  return { started, dataDir, slotDirs, slotUsers, layout, isolation };
}

export { GrantError };

/** The data dir lies below a directory the slot uids cannot search: no sandbox could bind a slot. */
export class DataDirUnreachableError extends Error {
  override name = 'DataDirUnreachableError';
}
