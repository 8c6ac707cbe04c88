import { realpath } from 'node:fs/promises';
import { basename, dirname, isAbsolute, relative, resolve, sep } from 'node:path';

/** Where a requested path lands inside a slot, or why it may not be used. */
export type WorkspacePath =
  | { ok: true; absolute: string; relative: string }
  | { ok: false; code: 'path_escape' | 'invalid_path'; error: string };

/** Under bwrap the agent sees its slot at /workspace: accept those paths too. */
const SANDBOX_ROOT = '/workspace';

function inside(path: string, root: string): boolean {
  return path === root || path.startsWith(root + sep);
}

async function realpathOfLongestExisting(path: string): Promise<{ real: string; rest: string }> {
  let current = path;
  let rest = '';
  for (;;) {
    try {
      const real = await realpath(current);
      return { real, rest };
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code !== 'ENOENT' && code !== 'ENOTDIR') throw error;
      const parent = dirname(current);
      if (parent === current) throw error;
      rest = rest ? `${basename(current)}${sep}${rest}` : basename(current);
      current = parent;
    }
  }
}

/**
 * Resolves `requested` (relative to the slot, or `/workspace/...`) inside `slotRoot` (a real
 * path), following symlinks: the longest existing prefix is resolved with realpath, so a symlink
 * anywhere on the way that points outside the slot is refused. A dangling final symlink is not
 * resolvable here; writers open with O_NOFOLLOW to refuse it.
 */
export async function resolveWorkspacePath(slotRoot: string, requested: string): Promise<WorkspacePath> {
  const escape = (why: string): WorkspacePath => ({ ok: false, code: 'path_escape', error: `Access denied: path outside workspace: ${requested} (${why})` });
  let path = requested;
  if (isAbsolute(path)) {
    if (!inside(path, SANDBOX_ROOT)) return escape(`absolute paths must start with ${SANDBOX_ROOT}/`);
    path = path.slice(SANDBOX_ROOT.length + 1) || '.';
  }
  if (path.includes('\0')) return escape('NUL byte in path');
  const lexical = resolve(slotRoot, path);
  if (!inside(lexical, slotRoot)) return escape(`resolves to ${lexical}`);
  let found: { real: string; rest: string };
  try {
    found = await realpathOfLongestExisting(lexical);
  } catch (error) {
    // A symlink loop (ELOOP), an over-long name (ENAMETOOLONG): the path is unusable, not dangerous.
    const code = (error as NodeJS.ErrnoException).code ?? 'error';
    return { ok: false, code: 'invalid_path', error: `Invalid path: ${requested} (${code}: ${(error as Error).message})` };
  }
  const { real, rest } = found;
  if (!inside(real, slotRoot)) return escape(`a symlink leads to ${real}`);
  const absolute = rest ? resolve(real, rest) : real;
  return { ok: true, absolute, relative: relative(slotRoot, absolute) || '.' };
}
