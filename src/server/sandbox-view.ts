import { accessSync, constants, existsSync, lstatSync, readdirSync, readFileSync, readlinkSync, realpathSync, statSync } from 'node:fs';
import { isAbsolute, join, posix } from 'node:path';

/**
 * What a command sees of the host: deny by default. The system trees (`/usr`, `/bin`, `/sbin`,
 * `/lib*`) and `/etc` read-only, a fresh `/dev`, `/proc` and `/tmp`, the slot at `/workspace`, and
 * the operator's grants. Nothing else: no `/run` (and so no host socket), `/var`, `/home`,
 * `/root`, `/opt`, `/srv`, `/mnt`, `/sys`. Inside a container image the same rule holds for the
 * image's root. Everything here is read once at start: a root file system does not change under a
 * running server, and it spares every command a readdir and a walk of /etc.
 */

/** One entry of `/` the sandbox recreates: a read-only bind, or the same symlink (`/bin -> usr/bin`). */
export type RootEntry = { name: string; kind: 'bind' } | { name: string; kind: 'symlink'; target: string };

/** Top-level names a command may see: the system trees. `/etc` is bound separately, with its masks. */
const SYSTEM_ENTRY = /^(usr|bin|sbin|lib|lib32|lib64|libx32)$/;

/** A path under `/etc` an unprivileged user could not read, covered in the sandbox. */
export interface EtcMask {
  path: string;
  /** A file is covered with /dev/null, a directory with an empty read-only tmpfs. */
  kind: 'file' | 'dir';
}

/** An explicit grant: a host path bound into every slot's sandbox (`--expose SRC[:DEST][:ro|rw]`). */
export interface Grant {
  source: string;
  dest: string;
  mode: 'ro' | 'rw';
}

/** A grant that cannot be honoured; the server refuses to start with it. */
export class GrantError extends Error {
  override name = 'GrantError';
}

/** The system entries of `root` that exist, symlinks kept as symlinks. */
export function systemRootEntries(root = '/'): RootEntry[] {
  const out: RootEntry[] = [];
  for (const entry of readdirSync(root, { withFileTypes: true })) {
    if (!SYSTEM_ENTRY.test(entry.name)) continue;
    const path = join(root, entry.name);
    try {
      const isLink = entry.isSymbolicLink() || (!entry.isDirectory() && lstatSync(path).isSymbolicLink());
      out.push(isLink ? { name: entry.name, kind: 'symlink', target: readlinkSync(path) } : { name: entry.name, kind: 'bind' });
    } catch {
      // vanished while listing
    }
  }
  return out.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

/**
 * Every file or directory under `etc` that "other" may not read (a directory also needs search),
 * decided by mode, not by a list of names: /etc/shadow, /etc/gshadow, /etc/ssl/private,
 * /etc/sudoers, a munge key, whatever the site added. A masked directory is not descended into.
 * Symlinks are left alone: their target is masked (or not) where it lies.
 */
export function unreadableEtcEntries(etc = '/etc', limit = 20_000, mountPoints = readMountPoints()): EtcMask[] {
  const masks: EtcMask[] = [];
  let visited = 0;
  const walk = (dir: string): void => {
    let entries;
    try {
      entries = readdirSync(dir, { withFileTypes: true });
    } catch {
      return;
    }
    for (const entry of entries) {
      if (++visited > limit) return;
      if (entry.isSymbolicLink()) continue;
      const path = join(dir, entry.name);
      let mode: number;
      try {
        mode = lstatSync(path).mode;
      } catch {
        continue;
      }
      // A file the container runtime bound in itself (ch-run's /etc/passwd and /etc/group) cannot
      // be covered by bwrap (the mount fails); it is the runtime's, made for this user.
      if (mountPoints.has(path)) continue;
      if (entry.isDirectory()) {
        if ((mode & 0o005) !== 0o005) masks.push({ path, kind: 'dir' });
        else walk(path);
      } else if ((mode & 0o004) === 0) {
        masks.push({ path, kind: 'file' });
      }
    }
  };
  if (existsSync(etc)) walk(etc);
  return masks;
}

/**
 * Parses one `--expose SRC[:DEST][:ro|rw]`: read-only by default, DEST defaults to SRC. The
 * source must exist (resolved to its real path) and the destination must not shadow the view
 * itself (`/`, `/workspace`, `/proc`, `/dev`, `/tmp`, the system trees, `/etc`).
 */
export function parseGrant(spec: string): Grant {
  const parts = spec.split(':');
  let mode: Grant['mode'] = 'ro';
  if (parts.length > 1 && (parts.at(-1) === 'ro' || parts.at(-1) === 'rw')) mode = parts.pop() as Grant['mode'];
  if (parts.length > 2 || !parts[0]) throw new GrantError(`Expected \`--expose\` as SRC[:DEST][:ro|rw], got \`${spec}\``);
  const [rawSource, rawDest] = parts as [string, string | undefined];
  if (!isAbsolute(rawSource)) throw new GrantError(`\`--expose ${spec}\`: the source must be an absolute path, got \`${rawSource}\``);
  let source: string;
  try {
    source = realpathSync.native(rawSource);
    statSync(source);
  } catch (error) {
    throw new GrantError(`\`--expose ${spec}\`: the source ${rawSource} does not exist or cannot be reached (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`);
  }
  const dest = posix.normalize(rawDest ?? rawSource);
  if (!isAbsolute(dest)) throw new GrantError(`\`--expose ${spec}\`: the destination must be an absolute path, got \`${dest}\``);
  const top = dest.split('/')[1] ?? '';
  if (dest === '/' || /^(workspace|proc|dev|tmp|etc)$/.test(top) || SYSTEM_ENTRY.test(top)) {
    throw new GrantError(`\`--expose ${spec}\`: the destination ${dest} would cover the sandbox's own view (/, /workspace, /proc, /dev, /tmp, /etc, /usr, /bin, /sbin, /lib*); pick another, e.g. /data or /scratch`);
  }
  return { source, dest, mode };
}

/**
 * Directories between `/` and `path` that a user other than the owner cannot search. bwrap runs as
 * the slot's unprivileged uid, so it must be able to walk to every path it binds.
 */
export function unsearchableAncestors(path: string): string[] {
  const out: string[] = [];
  let current = '/';
  for (const part of path.split('/').filter(Boolean)) {
    try {
      if ((statSync(current).mode & 0o001) === 0) out.push(current);
    } catch {
      break;
    }
    current = join(current, part);
  }
  return out;
}

/** True when `file` exists and is executable (an unreadable shell would fail every command). */
export function isExecutable(file: string): boolean {
  try {
    accessSync(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** Mount points of this process's mount namespace (from /proc/self/mountinfo; octal escapes decoded). */
export function readMountPoints(): Set<string> {
  try {
    const lines = readFileSync('/proc/self/mountinfo', 'utf8').split('\n');
    return new Set(lines.map((line) => line.split(' ')[4]).filter((p): p is string => !!p).map((p) => p.replace(/\\([0-7]{3})/g, (_, octal: string) => String.fromCharCode(parseInt(octal, 8)))));
  } catch {
    return new Set();
  }
}
