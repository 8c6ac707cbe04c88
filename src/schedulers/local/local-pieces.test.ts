import { mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createAllocDir } from '../shared/alloc-dir.js';
import { securityHostConfig } from './container-runner.js';
import { PortInUseError } from './errors.js';
import { assertPortFree, dialAddress } from './local-scheduler.js';
import { readyFilePath, waitForReadyFile } from '../shared/ready-file.js';

const dirs: string[] = [];
afterEach(async () => {
  await Promise.all(dirs.splice(0).map((d) => rm(d, { recursive: true, force: true })));
});
async function tempDir() {
  const dir = await mkdtemp(join(tmpdir(), 'hpcsb-local-'));
  dirs.push(dir);
  return dir;
}

describe('createAllocDir', () => {
  it('lays the alloc dir out like a Nomad client', async () => {
    const base = await tempDir();
    const alloc = await createAllocDir(base, 'a1', 'server');
    expect(alloc).toEqual({
      root: join(base, 'a1'),
      shared: join(base, 'a1/alloc'),
      data: join(base, 'a1/alloc/data'),
      logs: join(base, 'a1/alloc/logs'),
      task: join(base, 'a1/server'),
      local: join(base, 'a1/server/local'),
      secrets: join(base, 'a1/server/secrets'),
      stdoutPath: join(base, 'a1/alloc/logs/server.stdout.0'),
      stderrPath: join(base, 'a1/alloc/logs/server.stderr.0'),
    });
    expect((await stat(alloc.secrets)).mode & 0o777).toBe(0o700);
    expect((await stat(alloc.data)).isDirectory()).toBe(true);
  });
});

describe('waitForReadyFile', () => {
  it('returns the port once the file holds one', async () => {
    const dir = await tempDir();
    setTimeout(() => void writeFile(readyFilePath(dir), JSON.stringify({ port: 41234, host: '127.0.0.1', pid: 7 })), 30);
    await expect(waitForReadyFile(dir, { until: new Promise(() => {}), timeoutMs: 5_000 })).resolves.toEqual({ port: 41234, host: '127.0.0.1', pid: 7 });
  });

  it('returns undefined when the process ends first, and times out with the evidence', async () => {
    const dir = await tempDir();
    await expect(waitForReadyFile(dir, { until: Promise.resolve(), timeoutMs: 5_000 })).resolves.toBeUndefined();
    await writeFile(readyFilePath(dir), '{"port":0}');
    await expect(waitForReadyFile(dir, { until: new Promise(() => {}), timeoutMs: 50 })).rejects.toThrowError(
      `Timed out after 50ms waiting for ${readyFilePath(dir)} (last: no valid port in {"port":0})`,
    );
  });
});

describe('assertPortFree', () => {
  it('names the port when it is taken', async () => {
    const server = createServer();
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as { port: number }).port;
    try {
      const error = await assertPortFree('127.0.0.1', port).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(PortInUseError);
      expect((error as Error).message).toContain(`Static port ${port} on 127.0.0.1 is already in use`);
    } finally {
      await new Promise((r) => server.close(r));
    }
    await expect(assertPortFree('127.0.0.1', port)).resolves.toBeUndefined();
  });
});

describe('small translations', () => {
  it('turns systempaths=unconfined into empty masked and read-only paths, as the docker CLI does', () => {
    expect(securityHostConfig(['seccomp=unconfined', 'systempaths=unconfined'])).toEqual({
      SecurityOpt: ['seccomp=unconfined'],
      MaskedPaths: [],
      ReadonlyPaths: [],
    });
    expect(securityHostConfig([])).toEqual({});
  });

  it('dials loopback for wildcard binds', () => {
    expect([dialAddress('0.0.0.0'), dialAddress('::'), dialAddress('127.0.0.2')]).toEqual(['127.0.0.1', '::1', '127.0.0.2']);
  });
});
