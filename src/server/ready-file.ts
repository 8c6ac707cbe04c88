import { renameSync, writeFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { READY_FILE } from '../protocol/constants.js';
import type { ReadyFileContent } from '../protocol/types.js';

/**
 * Writes `<dataDir>/.hpc-sandbox-ready.json` atomically: a reader sees the whole file or none.
 * Synchronous: two syscalls on a small file, written while the boot's bwrap probe runs, where
 * starting the thread pool for them would cost more CPU than it spares.
 */
export function writeReadyFile(dataDir: string, content: ReadyFileContent): string {
  const path = join(dataDir, READY_FILE);
  const temp = `${path}.${process.pid}.tmp`;
  writeFileSync(temp, JSON.stringify(content) + '\n', { mode: 0o644 });
  renameSync(temp, path);
  return path;
}

/** Removes the ready file (shutdown). Missing is fine. */
export async function removeReadyFile(dataDir: string): Promise<void> {
  await rm(join(dataDir, READY_FILE), { force: true });
}
