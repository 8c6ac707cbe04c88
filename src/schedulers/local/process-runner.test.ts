import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { processGroupMembers, type RunningProcess, startProcess } from './process-runner.js';

const dirs: string[] = [];
const started: RunningProcess[] = [];
afterEach(async () => {
  await Promise.all(started.splice(0).map((p) => p.stop({ graceMs: 100 })));
  await Promise.all(dirs.splice(0).map((d) => rm(d, { recursive: true, force: true })));
});

async function logs() {
  const dir = await mkdtemp(join(tmpdir(), 'hpcsb-proc-'));
  dirs.push(dir);
  return { stdoutPath: join(dir, 'out'), stderrPath: join(dir, 'err') };
}

describe('startProcess', () => {
  it('runs with exactly the given environment and writes output to the log files', async () => {
    const paths = await logs();
    const proc = await startProcess({ argv: ['/bin/sh', '-c', 'echo "out:$ONLY:${HOME:-unset}"; echo err >&2'], env: { ONLY: 'this' }, ...paths });
    started.push(proc);
    expect(await proc.exited).toEqual({ exitCode: 0, signal: null, reason: 'exited with code 0' });
    expect(await readFile(paths.stdoutPath, 'utf8')).toBe('out:this:unset\n');
    expect(await readFile(paths.stderrPath, 'utf8')).toBe('err\n');
  });

  it('stops the whole process group, children included, escalating to SIGKILL', async () => {
    const paths = await logs();
    // The leader ignores SIGTERM and leaves a background child: only the group kill ends both.
    const proc = await startProcess({
      argv: ['/bin/sh', '-c', 'trap "" TERM; sleep 300 & echo $! ; wait'],
      env: { PATH: '/usr/bin:/bin' },
      ...paths,
    });
    started.push(proc);
    expect(proc.pgid).toBe(proc.pid);
    for (let i = 0; i < 100 && processGroupMembers(proc.pid).length < 2; i++) await new Promise((r) => setTimeout(r, 10));
    expect(processGroupMembers(proc.pid).length).toBe(2);
    const exit = await proc.stop({ graceMs: 200 });
    expect(exit.signal).toBe('SIGKILL');
    expect(processGroupMembers(proc.pid)).toEqual([]);
    expect(proc.isAlive()).toBe(false);
    expect(await proc.stop()).toBe(exit); // idempotent
  });

  it('fails clearly when the program does not exist', async () => {
    const paths = await logs();
    await expect(startProcess({ argv: ['/nonexistent/prog', '--x'], env: {}, ...paths })).rejects.toThrowError(
      'Could not start /nonexistent/prog --x: spawn /nonexistent/prog ENOENT',
    );
  });
});
