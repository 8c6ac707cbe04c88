import { type FSWatcher, watch } from 'node:fs';
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
  let wake: (() => void) | undefined;
  void options.until.then(() => {
    ended = true;
    wake?.();
  });
  // inotify wakes the loop as soon as the rename lands; the poll interval is only a fallback (on a
  // loaded machine timers fire late, a watch event does not wait for them).
  let watcher: FSWatcher | undefined;
  try {
    watcher = watch(dataDir, { persistent: false }, (_event, name) => {
      if (name === READY_FILE) wake?.();
    });
    watcher.on('error', () => undefined);
  } catch {
    watcher = undefined;
  }
  const pause = () =>
    new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer);
        wake = undefined;
        resolve();
      };
      const timer = setTimeout(done, options.intervalMs ?? 25);
      wake = done;
    });
  try {
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
      await pause();
    }
  } finally {
    watcher?.close();
  }
}
