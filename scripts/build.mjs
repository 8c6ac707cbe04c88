// Builds the two artefacts the product runs:
// - dist/sandbox-server.mjs: the sandbox server as ONE file with no dependency but Node itself,
//   so an image needs only `node`, `sh`, `bwrap` and this file;
// - dist/cli/main.js and dist/index.js: the CLI and the library, with npm packages left external.
// Runs from `npm ci` (prepare) and from the test setup, so it must stay fast (esbuild: ~100 ms).
import { build } from 'esbuild';
import { chmod } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const common = { absWorkingDir: root, platform: 'node', target: 'node20', format: 'esm', bundle: true, logLevel: 'warning', sourcemap: false };

await Promise.all([
  build({
    ...common,
    entryPoints: ['src/server/main.ts'],
    outfile: 'dist/sandbox-server.mjs',
    // The server must be self-contained: any npm import here would break the images.
    packages: 'bundle',
    external: [],
    banner: { js: '// hpc-sandbox sandbox server (bundled; no dependencies but Node.js)' },
  }),
  build({
    ...common,
    entryPoints: { 'cli/main': 'src/cli/main.ts', index: 'src/index.ts' },
    outdir: 'dist',
    // Commands load their modules on use (dynamic import), so `serve` starts as fast as the
    // bundled server: each lazily loaded part becomes a chunk instead of being evaluated at start.
    splitting: true,
    chunkNames: 'chunks/[name]-[hash]',
    packages: 'external',
    banner: { js: '#!/usr/bin/env node' },
  }),
]);
await chmod(new URL('../dist/cli/main.js', import.meta.url), 0o755);
