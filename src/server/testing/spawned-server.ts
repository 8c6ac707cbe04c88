import { spawn, type ChildProcess } from 'node:child_process';
import { chmod, chown, mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { serverBundlePath } from '../../common/paths.js';
import { READY_FILE } from '../../protocol/constants.js';
import type { ReadyFileContent } from '../../protocol/types.js';

/** A bundled sandbox server running as a child process in a temp data dir (test helper). */
export interface SpawnedServer extends AsyncDisposable {
  url: string;
  port: number;
  root: string;
  dataDir: string;
  child: ChildProcess;
  stderr: () => string;
  /** Sends SIGTERM and resolves with the exit code (or signal name). */
  stop(): Promise<number | string | null>;
}

/**
 * Starts `dist/sandbox-server.mjs --port 0` with `args` and waits for its ready file. Disposing
 * it stops the server (SIGKILL after 5 s) and removes the temp dir. `runAs` (needs root) starts
 * it as that user, owning its data dir.
 */
export async function spawnServer(args: string[] = [], env: NodeJS.ProcessEnv = {}, runAs?: { uid: number; gid: number }): Promise<SpawnedServer> {
  const root = await mkdtemp(join(tmpdir(), 'hpcsb-server-'));
  const dataDir = join(root, 'data');
  // Slots run as unprivileged uids (as root) that must be able to walk to their directories.
  await chmod(root, 0o711);
  if (runAs) {
    await chmod(root, 0o755);
    await mkdir(dataDir);
    await chown(dataDir, runAs.uid, runAs.gid);
  }
  const child = spawn(process.execPath, [serverBundlePath(), '--port', '0', '--data-dir', dataDir, ...args], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'ignore', 'pipe'],
    ...runAs,
  });
  let stderr = '';
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const exited = new Promise<number | string | null>((resolve) => child.once('exit', (code, signal) => resolve(code ?? signal)));
  const stop = async (): Promise<number | string | null> => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
    const result = await exited;
    clearTimeout(timer);
    return result;
  };
  const dispose = async (): Promise<void> => {
    await stop();
    await rm(root, { recursive: true, force: true });
  };
  const deadline = Date.now() + 10_000;
  for (;;) {
    try {
      const ready = JSON.parse(await readFile(join(dataDir, READY_FILE), 'utf8')) as ReadyFileContent;
      return { url: ready.url, port: ready.port, root, dataDir, child, stderr: () => stderr, stop, [Symbol.asyncDispose]: dispose };
    } catch {
      if (child.exitCode !== null || Date.now() > deadline) {
        await dispose();
        throw new Error(`sandbox server did not write its ready file in ${dataDir} (exit ${child.exitCode}): ${stderr}`);
      }
      await new Promise((r) => setTimeout(r, 5));
    }
  }
}
