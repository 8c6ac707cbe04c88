import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { isSandboxError } from '../errors.js';
import { withLock } from './cache-lock.js';

describe('withLock', () => {
  const dirs: string[] = [];
  afterEach(async () => {
    await Promise.all(dirs.splice(0).map((d) => rm(d, { recursive: true, force: true })));
  });

  async function lockPath(): Promise<string> {
    const dir = await mkdtemp(join(tmpdir(), 'hpcsb-lock-'));
    dirs.push(dir);
    return join(dir, 'entry.lock');
  }

  it('runs holders one at a time and removes the lock file after', async () => {
    const lock = await lockPath();
    let inside = 0;
    let most = 0;
    const holder = (id: number) =>
      withLock(lock, async () => {
        inside++;
        most = Math.max(most, inside);
        await sleep(20);
        inside--;
        return id;
      }, { pollMs: 5 });
    expect(await Promise.all([holder(1), holder(2), holder(3)])).toEqual([1, 2, 3]);
    expect(most).toBe(1);
    expect(await readdir(join(lock, '..'))).toEqual([]);
  });

  it('takes over a lock whose owner process is gone', async () => {
    const lock = await lockPath();
    // PIDs are below 2^22 on Linux: this one cannot be alive.
    await writeFile(lock, `99999999 ${hostname()}\n`);
    await expect(withLock(lock, async () => 'ran', { pollMs: 5 })).resolves.toBe('ran');
  });

  it('stops waiting when aborted, leaving the live owner its lock', async () => {
    const lock = await lockPath();
    await writeFile(lock, `${process.pid} ${hostname()}\n`);
    const controller = new AbortController();
    const waiting = withLock(lock, async () => 'ran', { pollMs: 5, signal: controller.signal });
    setTimeout(() => controller.abort(new Error('test over')), 30);
    await expect(waiting).rejects.toSatisfy((e) => isSandboxError(e, 'HPCSB_ABORTED'));
    expect(await readdir(join(lock, '..'))).toEqual(['entry.lock']);
  });
});
