import { readFile } from 'node:fs/promises';
import { tail } from '../../common/exec.js';

/** Where a placement's server writes its output (alloc dir logs, sbatch --output/--error). */
export interface LogFiles {
  stdoutPath: string;
  stderrPath: string;
}

/** Both log files (empty when missing), each cut to its last `tailLines` lines when given. */
export async function readLogFiles(files: LogFiles, tailLines?: number): Promise<{ stdout: string; stderr: string }> {
  const read = async (path: string) => {
    const text = await readFile(path, 'utf8').catch(() => '');
    return tailLines === undefined ? text : tail(text, tailLines);
  };
  const [stdout, stderr] = await Promise.all([read(files.stdoutPath), read(files.stderrPath)]);
  return { stdout, stderr };
}
