import { createServer, type Server } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { isSandboxError, WaitTimeoutError } from '../errors.js';
import type { PlacementExit } from './scheduler.js';
import { type HealthWaitTarget, PlacementExitedError, waitForHealthy } from './wait-healthy.js';

// A complete /health answer, as the client validates it.
const HEALTH = { status: 'ok', slots: 1, available: 1, executing: 0, data_dir: '/data', bwrap_available: false };

function target(url: string, exited: Promise<PlacementExit>, stderr = ''): HealthWaitTarget {
  return { id: 'sandbox-1', url, exited, logs: async () => ({ stdout: '', stderr }) };
}

const servers: Server[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => new Promise((r) => s.close(r))));
});

async function serve(status: () => number): Promise<string> {
  const server = createServer((_, res) => res.writeHead(status(), { 'content-type': 'application/json' }).end(JSON.stringify(HEALTH)));
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return `http://127.0.0.1:${(server.address() as { port: number }).port}`;
}

describe('waitForHealthy', () => {
  it('resolves once /health answers 200', async () => {
    let calls = 0;
    const url = await serve(() => (++calls < 3 ? 503 : 200));
    await waitForHealthy(target(url, new Promise(() => {})), { timeoutMs: 5_000 });
    expect(calls).toBe(3);
  });

  it('fails when nothing listens, quoting the last error', async () => {
    await expect(waitForHealthy(target('http://127.0.0.1:9', new Promise(() => {})), { timeoutMs: 200 })).rejects.toThrowError(/ECONNREFUSED/);
  });

  it('fails at once with the stderr tail when the sandbox exits first', async () => {
    const exit = { exitCode: 1, reason: 'exited with code 1' };
    const wait = waitForHealthy(target('http://127.0.0.1:9', Promise.resolve(exit), 'line 1\nError: EADDRINUSE 8080'), { timeoutMs: 60_000 });
    const error = await wait.catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PlacementExitedError);
    expect(isSandboxError(error, 'HPCSB_PLACEMENT_FAILED')).toBe(true);
    expect((error as Error).message).toBe(
      'Sandbox sandbox-1 ended before it became healthy: exited with code 1\nlast lines of stderr:\nline 1\nError: EADDRINUSE 8080',
    );
  });

  it('adds the stderr tail to a timeout', async () => {
    const url = await serve(() => 503);
    const error = await waitForHealthy(target(url, new Promise(() => {}), 'still booting'), { timeoutMs: 300 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(WaitTimeoutError);
    expect((error as Error).message).toMatch(/^Timed out after 300ms waiting for http:\/\/127\.0\.0\.1:\d+\/health \(last: .*attempt \d+; stderr:\nstill booting\)$/s);
  });

  it('uses the given probe and stops it when the caller aborts', async () => {
    const controller = new AbortController();
    let probeSignal: AbortSignal | undefined;
    const wait = waitForHealthy(target('http://x', new Promise(() => {})), {
      signal: controller.signal,
      probe: ({ signal }) => {
        probeSignal = signal;
        return new Promise((_, reject) => signal.addEventListener('abort', () => reject(new Error('probe aborted'))));
      },
    });
    controller.abort();
    await expect(wait).rejects.toThrowError('probe aborted');
    expect(probeSignal?.aborted).toBe(true);
  });
});
