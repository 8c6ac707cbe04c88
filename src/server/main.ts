/**
 * Entry of the bundled sandbox server (dist/sandbox-server.mjs): `node sandbox-server.mjs --port 0
 * --slots 4 --data-dir /data`. Imports nothing but node:* and src/protocol, so an image needs only
 * node, sh, bwrap and this one file. The CLI (`hpc-sandbox serve`) reuses `runSandboxServer`.
 *
 * Boot order: `/health` waits for the bwrap probe, so the probe is spawned first (beginBoot, whose
 * imports are small) and the HTTP side (sandbox-server.ts and node:http) is loaded while it runs.
 * The bundle keeps that module lazy: nothing here imports it statically.
 */
import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { beginBoot } from './boot.js';
import { parseServeArgs, SERVE_USAGE, ServeOptionsError } from './options.js';
import type { RunningSandboxServer, SandboxServerOptions } from './sandbox-server.js';

export { parseServeArgs, resolveServeOptions, SERVE_USAGE, ServeOptionsError, type ServeFlags } from './options.js';
export type { RunningSandboxServer, SandboxServerOptions } from './sandbox-server.js';

/**
 * Starts the server and ties it to the process: SIGTERM or SIGINT stop accepting, kill running
 * commands, remove the ready file and exit 0. Prints one line to stderr once listening.
 */
export async function runSandboxServer(options: SandboxServerOptions): Promise<RunningSandboxServer> {
  // Handlers go in before the server starts: a scheduler may signal as soon as the ready file
  // appears, and the default SIGTERM action would skip the clean-up.
  const starting = (async () => {
    const boot = beginBoot(options);
    const { startSandboxServer } = await import('./sandbox-server.js');
    return startSandboxServer(options, boot);
  })();
  const stop = (): void => {
    starting
      .then((server) => server.close())
      .then(
        () => process.exit(0),
        (error: unknown) => {
          process.stderr.write(`sandbox server: shutdown failed: ${(error as Error).message}\n`);
          process.exit(1);
        },
      );
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
  let server: RunningSandboxServer;
  try {
    server = await starting;
  } catch (error) {
    process.off('SIGTERM', stop);
    process.off('SIGINT', stop);
    throw error;
  }
  process.stderr.write(`hpc-sandbox sandbox server listening on ${server.url} (${options.slots} slots in ${server.dataDir})\n`);
  return server;
}

/** Parses `argv` and runs the server; exits 2 on bad arguments, 1 when it cannot start. */
export async function main(argv: readonly string[] = process.argv.slice(2)): Promise<void> {
  let options;
  try {
    options = parseServeArgs(argv);
  } catch (error) {
    if (!(error instanceof ServeOptionsError)) throw error;
    process.stderr.write(`sandbox server: ${error.message}\n\n${SERVE_USAGE}`);
    process.exit(2);
  }
  if (options === 'help') {
    process.stdout.write(SERVE_USAGE);
    return;
  }
  try {
    await runSandboxServer(options);
  } catch (error) {
    process.stderr.write(`sandbox server: cannot start on ${options.host}:${options.port} with data dir ${options.dataDir}: ${(error as Error).message}\n`);
    process.exit(1);
  }
}

/**
 * True when this module is the program node was started with, as the bundle or as this source
 * file. The CLI bundle inlines this module too, so the name is checked, not only the identity.
 */
function startedDirectly(): boolean {
  const entry = process.argv[1];
  if (!entry) return false;
  const self = fileURLToPath(import.meta.url);
  if (!/(sandbox-server\.mjs|[\\/]server[\\/]main\.[cm]?[jt]s)$/.test(self)) return false;
  try {
    return realpathSync.native(entry) === realpathSync.native(self);
  } catch {
    return false;
  }
}

if (startedDirectly()) void main();
