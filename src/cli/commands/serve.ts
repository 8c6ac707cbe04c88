import { Command, Option } from 'commander';
import { ConfigError } from '../../errors.js';
import { ENV } from '../../protocol/constants.js';
import { resolveServeOptions, runSandboxServer, ServeOptionsError, type ServeFlags } from '../../server/main.js';

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

/**
 * `hpc-sandbox serve`: runs the sandbox server in this process, with the same flags and defaults
 * as the bundled `dist/sandbox-server.mjs` (both go through resolveServeOptions).
 */
export function serveCommand(): Command {
  return new Command('serve')
    .description('Run a sandbox server (Atropos-compatible HTTP API) with N slot workspaces')
    .option('--port <n>', 'port to listen on; 0 picks a free one (written to <data-dir>/.hpc-sandbox-ready.json)', '8080')
    .option('--host <addr>', 'address to bind (0.0.0.0 inside containers)', '127.0.0.1')
    .option('--slots <n>', 'number of slot workspaces', '4')
    .option('--data-dir <dir>', 'slot root (default $NOMAD_ALLOC_DIR/data, else /data)')
    .option('--token-file <file>', `require "Authorization: Bearer <token>" on every endpoint but /health (also env ${ENV.token})`)
    // No commander default: it would override the environment variable.
    .addOption(
      new Option('--isolation <mode>', `bubblewrap isolation of bash: auto falls back to plain execution when bwrap is unusable, require refuses (default auto; also env ${ENV.isolation})`).choices(['auto', 'require', 'off']),
    )
    .addOption(new Option('--exec-mode <mode>', "standing forks each command in the slot's long-lived sandbox, spawn starts a sandbox per command (default standing where bwrap works)").choices(['standing', 'spawn']))
    .option('--expose <grant>', 'SRC[:DEST][:ro|rw]: bind a host path into every slot, read-only by default (repeatable; a missing SRC stops the start)', collect, [])
    .option('--pass-env <name>', 'a server variable commands may see (repeatable; by default only PATH, HOME, LANG, TERM, TZ, USER; the token never)', collect, [])
    .option('--uid-base <n>', 'as root, slot i runs its commands as host uid n+i (default 2000000)')
    .option('--max-procs <n>', 'processes per slot (default 512)')
    .option('--max-memory <size>', 'address space per process of a command, e.g. 8G (default 8G)')
    .option('--max-file-size <size>', 'largest file a command may write (default 1G)')
    .option('--tmp-size <size>', "size of each sandbox's /tmp tmpfs (default 512M)")
    .option('--allow-host <name>', 'a DNS name clients may use in Host (repeatable; IP literals, localhost and this hostname always pass)', collect, [])
    .option('--max-connections <n>', 'open connections before new requests get 503 (default 256)')
    .option('--headers-timeout-ms <ms>', 'time to receive request headers (default 20000)')
    .option('--request-timeout-ms <ms>', 'time to receive a whole request (default 120000)')
    .action(async (flags: ServeFlags) => {
      let options;
      try {
        options = resolveServeOptions(flags);
      } catch (error) {
        if (error instanceof ServeOptionsError) throw new ConfigError(error.message, { cause: error });
        throw error;
      }
      await runSandboxServer(options);
    });
}
