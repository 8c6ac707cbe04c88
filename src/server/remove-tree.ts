import { chmod, lstat, readdir, rename, rmdir, unlink } from 'node:fs/promises';

/**
 * Paths this server builds stay below this many bytes: far under PATH_MAX (4096), so no call
 * ever fails with ENAMETOOLONG however deep the tree a command made (`mkdir a; cd a` in a loop).
 */
const SHALLOW_BYTES = 1_024;

const join = (dir: Buffer, name: Buffer): Buffer => Buffer.concat([dir, Buffer.from('/'), name]);

/**
 * Removes everything inside `root` (kept itself), however deep: a directory whose path grows past
 * SHALLOW_BYTES is first moved up to `root` under a temporary name (a rename within one file
 * system), and removed from there. Names are Buffers, so names that are not UTF-8 are removed
 * too. Symlinks are removed, never followed. Directories a command made unreadable or
 * unwritable (`chmod 000`) are given back to their owner first.
 */
export async function removeTreeContents(root: string): Promise<void> {
  const rootBuffer = Buffer.from(root);
  const pending: Buffer[] = [rootBuffer];
  let hoisted = 0;
  while (pending.length > 0) {
    const top = pending.pop()!;
    await emptyDirectory(top, async (deep) => {
      const moved = join(rootBuffer, Buffer.from(`.hpcsb-reset-${process.pid}-${hoisted++}`));
      await withOwnerAccess(deep, () => rename(deep, moved));
      pending.push(moved);
    });
    if (top !== rootBuffer) await rmdir(top);
  }
}

/** Empties `dir` recursively; subdirectories too deep to reach by path are handed to `hoist`. */
async function emptyDirectory(dir: Buffer, hoist: (deep: Buffer) => Promise<void>): Promise<void> {
  const entries = await withOwnerAccess(dir, () => readdir(dir, { encoding: 'buffer', withFileTypes: true }));
  for (const entry of entries) {
    const path = join(dir, entry.name as unknown as Buffer);
    const isDirectory = entry.isDirectory() || (!entry.isSymbolicLink() && !entry.isFile() && (await lstat(path)).isDirectory());
    if (!isDirectory) {
      await withOwnerAccess(dir, () => unlink(path));
    } else if (path.length > SHALLOW_BYTES) {
      await hoist(path);
    } else {
      await emptyDirectory(path, hoist);
      await withOwnerAccess(dir, () => rmdir(path));
    }
  }
}

/** Runs `work`; on EACCES/EPERM gives the owner rwx on `dir` (the server owns the slot) and retries once. */
async function withOwnerAccess<T>(dir: Buffer, work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code !== 'EACCES' && code !== 'EPERM') throw error;
    const info = await lstat(dir);
    if (!info.isDirectory()) throw error;
    await chmod(dir, (info.mode & 0o7777) | 0o700);
    return work();
  }
}
