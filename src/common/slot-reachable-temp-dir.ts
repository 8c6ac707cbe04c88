import { chmod, mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * A fresh temp dir (mkdtemp under os.tmpdir()) that sandbox slots can walk through.
 *
 * A sandbox server started as root runs each slot as its own unprivileged uid, which must be able
 * to search every ancestor of its slot directory; mkdtemp creates 0700, so the dir is opened to
 * search (0711) but not to listing by others.
 */
export async function makeSlotReachableTempDir(prefix: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  await chmod(dir, 0o711);
  return dir;
}
