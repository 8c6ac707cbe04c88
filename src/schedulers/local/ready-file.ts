import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { READY_FILE } from '../../protocol/constants.js';
import { AbortedError, WaitTimeoutError } from '../../errors.js';

/** What the sandbox server writes to `<data-dir>/.hpc-sandbox-ready.json` once it listens. */
export interface ReadyInfo {
  port: number;
  host: string;
  pid: number;
}

/** Path of the ready file in `dataDir`. */
export function readyFilePath(dataDir: string): string {
  return join(dataDir, READY_FILE);
}

/**
 * Waits for the server's ready file. The server writes it atomically (temp file, then rename), so
 * a file that parses is complete; each placement has its own data dir, so parallel placements never
 * read each other's port. Resolves `undefined` when `until` settles first (the process exited).
 */
export async function waitForReadyFile(
  dataDir: string,
  options: { until: Promise<unknown>; timeoutMs: number; signal?: AbortSignal; intervalMs?: number },
): Promise<ReadyInfo | undefined> {
  const path = readyFilePath(dataDir);
  const deadline = Date.now() + options.timeoutMs;
  let ended = false;
  options.until.then(() => (ended = true));
  let last = 'not written yet';
  for (;;) {
    if (options.signal?.aborted) throw new AbortedError(`Waiting for ${path}`, { cause: options.signal.reason });
    try {
      const info = JSON.parse(await readFile(path, 'utf8')) as Partial<ReadyInfo>;
      if (typeof info.port === 'number' && info.port > 0) {
        return { port: info.port, host: String(info.host ?? '127.0.0.1'), pid: Number(info.pid) };
      }
      last = `no valid port in ${JSON.stringify(info)}`;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') last = (error as Error).message;
    }
    if (ended) return undefined;
    if (Date.now() >= deadline) throw new WaitTimeoutError(path, options.timeoutMs, last);
    await new Promise((resolve) => setTimeout(resolve, options.intervalMs ?? 10));
  }
}
