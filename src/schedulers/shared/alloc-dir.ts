import { chmod, mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';

/** Host paths of one placement, laid out as a Nomad client lays out an allocation. */
export interface AllocDir {
  /** `<base>/<allocId>` (NOMAD_ALLOC_DIR's parent: Nomad's alloc dir root). */
  root: string;
  /** `<root>/alloc`: shared by the tasks of the allocation (NOMAD_ALLOC_DIR). */
  shared: string;
  /** `<root>/alloc/data`: the sandbox server's data dir. */
  data: string;
  /** `<root>/alloc/logs`: `<task>.stdout.0`, `<task>.stderr.0`. */
  logs: string;
  /** `<root>/<task>`: the task's working directory. */
  task: string;
  /** `<root>/<task>/local` (NOMAD_TASK_DIR). */
  local: string;
  /** `<root>/<task>/secrets` (NOMAD_SECRETS_DIR), mode 0700. */
  secrets: string;
  stdoutPath: string;
  stderrPath: string;
}

/** Creates the alloc dir of one placement under `baseDir`. */
export async function createAllocDir(baseDir: string, allocId: string, taskName: string): Promise<AllocDir> {
  const root = join(baseDir, allocId);
  const shared = join(root, 'alloc');
  const dir: AllocDir = {
    root,
    shared,
    data: join(shared, 'data'),
    logs: join(shared, 'logs'),
    task: join(root, taskName),
    local: join(root, taskName, 'local'),
    secrets: join(root, taskName, 'secrets'),
    stdoutPath: join(shared, 'logs', `${taskName}.stdout.0`),
    stderrPath: join(shared, 'logs', `${taskName}.stderr.0`),
  };
  for (const path of [dir.data, dir.logs, dir.local]) await mkdir(path, { recursive: true });
  await mkdir(dir.secrets, { recursive: true, mode: 0o700 });
  return dir;
}

/**
 * Lets whatever user a container runs as write the data dir (Docker binds keep host ownership),
 * and lets it reach it: the base dir may be a 0700 temp dir.
 */
export async function openToContainerUsers(dir: AllocDir): Promise<void> {
  for (const path of [dir.root, dir.shared]) await chmod(path, 0o755);
  await chmod(dir.data, 0o1777);
}

/** Removes the alloc dir; returns the error when something (another user's files) resisted. */
export async function removeAllocDir(dir: AllocDir): Promise<Error | undefined> {
  try {
    await rm(dir.root, { recursive: true, force: true, maxRetries: 3 });
    return undefined;
  } catch (error) {
    return error as Error;
  }
}
