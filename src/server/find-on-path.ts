import { accessSync, constants, statSync } from 'node:fs';
import { delimiter, join } from 'node:path';

/**
 * Finds `name` on PATH with synchronous stats: a handful of syscalls, cheaper than a promise chain
 * at boot. Missing candidates are skipped without an exception (each thrown error costs a stack
 * trace, and the boot looks up three names through every PATH entry before the probe starts).
 */
export function findOnPath(name: string, env: NodeJS.ProcessEnv = process.env): string | undefined {
  for (const dir of (env.PATH ?? '/usr/local/bin:/usr/bin:/bin').split(delimiter)) {
    if (!dir) continue;
    const candidate = join(dir, name);
    try {
      if (!statSync(candidate, { throwIfNoEntry: false })?.isFile()) continue;
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not executable, or a PATH entry that is not a directory
    }
  }
  return undefined;
}
