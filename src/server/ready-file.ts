import { rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { READY_FILE } from '../protocol/constants.js';
import type { ReadyFileContent } from '../protocol/types.js';

/** Writes `<dataDir>/.hpc-sandbox-ready.json` atomically: a reader sees the whole file or none. */
export async function writeReadyFile(dataDir: string, content: ReadyFileContent): Promise<string> {
  const path = join(dataDir, READY_FILE);
  const temp = `${path}.${process.pid}.tmp`;
  await writeFile(temp, JSON.stringify(content) + '\n', { mode: 0o644 });
  await rename(temp, path);
  return path;
}

/** Removes the ready file (shutdown). Missing is fine. */
export async function removeReadyFile(dataDir: string): Promise<void> {
  await rm(join(dataDir, READY_FILE), { force: true });
}
