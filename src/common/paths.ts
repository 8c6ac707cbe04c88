import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

let cachedRoot: string | undefined;

/**
 * The package root (the folder holding hpc-sandbox's package.json). Found by walking up from this
 * module, so it works from `src/` under vitest and from the bundled `dist/` alike.
 */
export function projectRoot(): string {
  if (cachedRoot) return cachedRoot;
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const manifest = join(dir, 'package.json');
    if (existsSync(manifest) && JSON.parse(readFileSync(manifest, 'utf8')).name === 'hpc-sandbox') {
      cachedRoot = dir;
      return dir;
    }
    const parent = dirname(dir);
    if (parent === dir) throw new Error('Could not find the hpc-sandbox package root above ' + fileURLToPath(import.meta.url));
    dir = parent;
  }
}

/** The bundled sandbox server (built by `npm run build`, also by `npm ci` and the test setup). */
export function serverBundlePath(): string {
  return join(projectRoot(), 'dist', 'sandbox-server.mjs');
}

/** Per-user cache for built images and other derived artefacts. Override with `HPC_SANDBOX_CACHE_DIR`. */
export function cacheDir(env: NodeJS.ProcessEnv = process.env): string {
  return env.HPC_SANDBOX_CACHE_DIR ?? join(projectRoot(), '.cache');
}
