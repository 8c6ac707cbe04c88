import { chownSync, lchownSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

/** The host identity a slot's commands run as. */
export interface SlotUser {
  uid: number;
  gid: number;
}

/**
 * Default first uid of the per-slot users: far above the range distributions hand out to people
 * (1000..60000) and to subordinate ranges of rootless containers (100000 + 65536 per user, for a
 * few users), so a slot uid owns nothing else on the host.
 */
export const DEFAULT_UID_BASE = 2_000_000;

/**
 * The uid (and same-numbered gid) of slot `index` when the server runs as root: one unprivileged
 * identity per slot, so a command is never host root, one slot cannot touch another's files or
 * signal its processes, and per-user rlimits (processes) count per slot. Without root the server
 * cannot switch users: commands run as the server's own uid inside their user namespace.
 */
export function slotUser(index: number, uidBase: number, isRoot = process.getuid?.() === 0, uidMap = readUidMap()): SlotUser | undefined {
  if (!isRoot) return undefined;
  const uid = uidBase + index;
  // Inside a user namespace with a single mapping (ch-run, a rootless engine) the slot uid does not
  // exist: switching to it would fail. Commands then run as the server, inside their own namespace.
  if (!uidMap.some(([inside, , count]) => uid >= inside && uid < inside + count)) return undefined;
  return { uid, gid: uid };
}

/** /proc/self/uid_map as [inside, outside, count] triples; the initial namespace maps everything. */
export function readUidMap(): Array<[number, number, number]> {
  try {
    return readFileSync('/proc/self/uid_map', 'utf8')
      .trim()
      .split('\n')
      .map((line) => line.trim().split(/\s+/).map(Number) as [number, number, number]);
  } catch {
    return [[0, 0, 4_294_967_295]];
  }
}

/** Gives `path` and everything below it to `user`, never following symlinks. */
export function chownTree(path: string, user: SlotUser): void {
  lchownSync(path, user.uid, user.gid);
  let entries;
  try {
    entries = readdirSync(path, { withFileTypes: true });
  } catch {
    return;
  }
  for (const entry of entries) {
    const child = join(path, entry.name);
    if (entry.isDirectory()) chownTree(child, user);
    else lchownSync(child, user.uid, user.gid);
  }
}

/** Gives one path to `user` (a file the server wrote for the slot); quiet when it vanished. */
export function chownPath(path: string, user: SlotUser | undefined): void {
  if (!user) return;
  try {
    chownSync(path, user.uid, user.gid);
  } catch {
    // removed meanwhile
  }
}
