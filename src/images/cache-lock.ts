import { open, readFile, stat, unlink } from 'node:fs/promises';
import { hostname } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { AbortedError } from '../errors.js';
import { logger } from '../common/logger.js';

const log = logger('images:lock');

export interface LockOptions {
  signal?: AbortSignal;
  /** A lock older than this is taken over even when its owner cannot be checked (another host). @default 1_800_000 */
  staleMs?: number;
  /** @default 250 */
  pollMs?: number;
}

/**
 * Runs `fn` while holding the lock file `lockPath` (created with O_EXCL, holding `pid host`), so
 * concurrent builds of one image, from several processes, do the work once. A lock whose owner
 * died on this host, or that is older than `staleMs`, is taken over.
 */
export async function withLock<T>(lockPath: string, fn: () => Promise<T>, options: LockOptions = {}): Promise<T> {
  await acquire(lockPath, options);
  try {
    return await fn();
  } finally {
    await unlink(lockPath).catch(() => undefined);
  }
}

async function acquire(lockPath: string, options: LockOptions): Promise<void> {
  const staleMs = options.staleMs ?? 1_800_000;
  for (;;) {
    if (options.signal?.aborted) throw new AbortedError(`Waiting for the image build lock ${lockPath}`, { cause: options.signal.reason });
    try {
      const handle = await open(lockPath, 'wx');
      await handle.writeFile(`${process.pid} ${hostname()}\n`);
      await handle.close();
      return;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    if (await isStale(lockPath, staleMs)) {
      log('taking over stale lock %s', lockPath);
      await unlink(lockPath).catch(() => undefined);
      continue;
    }
    log('waiting for %s', lockPath);
    await sleep(options.pollMs ?? 250, undefined, { signal: options.signal }).catch(() => undefined);
  }
}

async function isStale(lockPath: string, staleMs: number): Promise<boolean> {
  try {
    const [owner, info] = await Promise.all([readFile(lockPath, 'utf8'), stat(lockPath)]);
    const [pid, host] = owner.trim().split(' ');
    if (host === hostname() && pid && !isAlive(Number(pid))) return true;
    return Date.now() - info.mtimeMs > staleMs;
  } catch {
    // Gone already (released), or not yet written by its creator: look again on the next turn.
    return false;
  }
}

function isAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
