import { execa } from 'execa';
import { join } from 'node:path';
import { projectRoot } from '../../common/paths.js';

/** The built CLI (scripts/build.mjs, run by the integration globalSetup). */
export const CLI_PATH = join(projectRoot(), 'dist', 'cli', 'main.js');

/** Runs the built CLI as a user would and returns exit code and output, never throwing on exit codes. */
export async function runCli(args: string[], options: { env?: NodeJS.ProcessEnv; cwd?: string; timeoutMs?: number } = {}) {
  const result = await execa(process.execPath, [CLI_PATH, ...args], {
    env: { NO_COLOR: '1', ...options.env },
    cwd: options.cwd,
    reject: false,
    timeout: options.timeoutMs ?? 170_000,
    stdin: 'ignore',
  });
  return { exitCode: result.exitCode, stdout: String(result.stdout), stderr: String(result.stderr) };
}
