import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { isEnvName } from './command-env.js';
import { DEFAULT_SLOT_LIMITS, type SlotLimits } from './slot-limits.js';
import { DEFAULT_UID_BASE } from './slot-user.js';
import { ENV } from '../protocol/constants.js';
import type { ExecMode, IsolationMode } from '../protocol/types.js';
import type { SandboxServerOptions } from './sandbox-server.js';

/** A command-line flag or environment value was wrong; the message names it and echoes the value. */
export class ServeOptionsError extends Error {
  override name = 'ServeOptionsError';
}

/** The flags of `serve`, as strings (what argv or commander hands over). */
export interface ServeFlags {
  port?: string;
  host?: string;
  slots?: string;
  dataDir?: string;
  tokenFile?: string;
  isolation?: string;
  /** Repeatable. */
  expose?: string[];
  /** Repeatable. */
  passEnv?: string[];
  uidBase?: string;
  maxProcs?: string;
  maxMemory?: string;
  maxFileSize?: string;
  tmpSize?: string;
  /** Repeatable. */
  allowHost?: string[];
  maxConnections?: string;
  headersTimeoutMs?: string;
  requestTimeoutMs?: string;
  execMode?: string;
}

export const SERVE_USAGE = `Usage: sandbox-server [options]

Runs the hpc-sandbox sandbox server (Atropos-compatible HTTP API).

Options:
  --port <n>           port to listen on; 0 picks a free one (default 8080)
  --host <addr>        address to bind (default 127.0.0.1; 0.0.0.0 inside containers)
  --slots <n>          number of slot workspaces (default 4)
  --data-dir <dir>     slot root (default $NOMAD_ALLOC_DIR/data, else /data)
  --token-file <file>  require "Authorization: Bearer <token>" (also env ${ENV.token})
  --isolation <mode>   auto | require | off (default auto; also env ${ENV.isolation})
  --exec-mode <mode>   standing | spawn: fork each command in the slot's long-lived sandbox, or
                       start a sandbox per command (default standing where bwrap works)
  --expose <grant>     SRC[:DEST][:ro|rw]: bind a host path into every slot (repeatable;
                       read-only by default; a missing SRC stops the start)
  --pass-env <name>    a server variable commands may see (repeatable; by default they get
                       only PATH, HOME, LANG, TERM, TZ and USER; the token never crosses)
  --uid-base <n>       as root, slot i runs as host uid n+i (default ${DEFAULT_UID_BASE})
  --max-procs <n>      processes per slot (default ${DEFAULT_SLOT_LIMITS.maxProcesses})
  --max-memory <size>  address space per process, e.g. 8G (default ${DEFAULT_SLOT_LIMITS.maxMemoryBytes / 1024 ** 3}G)
  --max-file-size <size>  largest file a command may write (default ${DEFAULT_SLOT_LIMITS.maxFileBytes / 1024 ** 3}G)
  --tmp-size <size>    size of each sandbox's /tmp (default ${DEFAULT_SLOT_LIMITS.tmpBytes / 1024 ** 2}M)
  --allow-host <name>  a DNS name clients may use in Host (repeatable; IP literals, localhost and
                       this machine's hostname are always accepted)
  --max-connections <n>       open connections before 503 (default 256)
  --headers-timeout-ms <ms>   time to receive request headers (default 20000)
  --request-timeout-ms <ms>   time to receive a whole request (default 120000)
  -h, --help           show this help
`;

function integer(flag: string, value: string, min: number, max: number): number {
  const n = Number(value);
  if (!/^\d+$/.test(value.trim()) || !Number.isInteger(n) || n < min || n > max) {
    throw new ServeOptionsError(`Expected \`--${flag}\` to be an integer from ${min} to ${max}, got \`${value}\``);
  }
  return n;
}

const UNITS: Record<string, number> = { '': 1, K: 1024, M: 1024 ** 2, G: 1024 ** 3, T: 1024 ** 4 };

/** `512M`, `2G`, `1048576`: bytes, at least 1 MiB. */
function bytes(flag: string, value: string): number {
  const match = /^(\d+)([KMGT]?)i?B?$/i.exec(value.trim());
  const n = match ? Number(match[1]) * UNITS[match[2]!.toUpperCase()]! : NaN;
  if (!Number.isSafeInteger(n) || n < 1024 * 1024) {
    throw new ServeOptionsError(`Expected \`--${flag}\` to be a size of at least 1M (e.g. 512M, 2G), got \`${value}\``);
  }
  return n;
}

/**
 * Turns flags and environment into server options. Defaults: port 8080, host 127.0.0.1, 4 slots,
 * data dir `$NOMAD_ALLOC_DIR/data` else `/data` (as Atropos), isolation `auto`. The token comes
 * from `--token-file` (trimmed), else `HPC_SANDBOX_TOKEN`.
 */
export function resolveServeOptions(flags: ServeFlags, env: NodeJS.ProcessEnv = process.env): SandboxServerOptions {
  const isolation = (flags.isolation ?? env[ENV.isolation] ?? 'auto') as IsolationMode;
  if (!['auto', 'require', 'off'].includes(isolation)) {
    throw new ServeOptionsError(`Expected \`--isolation\` (or ${ENV.isolation}) to be auto, require or off, got \`${isolation}\``);
  }
  const options: SandboxServerOptions = {
    port: integer('port', flags.port ?? '8080', 0, 65_535),
    host: flags.host ?? '127.0.0.1',
    slots: integer('slots', flags.slots ?? '4', 1, 1_024),
    dataDir: flags.dataDir ?? (env.NOMAD_ALLOC_DIR ? join(env.NOMAD_ALLOC_DIR, 'data') : '/data'),
    isolation,
  };
  if (flags.execMode !== undefined) {
    if (flags.execMode !== 'standing' && flags.execMode !== 'spawn') throw new ServeOptionsError(`Expected \`--exec-mode\` to be standing or spawn, got \`${flags.execMode}\``);
    options.execMode = flags.execMode as ExecMode;
  }
  if (flags.expose?.length) options.expose = flags.expose;
  if (flags.passEnv?.length) {
    const bad = flags.passEnv.find((name) => !isEnvName(name));
    if (bad !== undefined) throw new ServeOptionsError(`Expected \`--pass-env\` to be a variable name, got \`${bad}\``);
    options.passEnv = flags.passEnv;
  }
  if (flags.uidBase !== undefined) options.uidBase = integer('uid-base', flags.uidBase, 1_000, 4_000_000_000);
  const slotLimits: Partial<SlotLimits> = {};
  if (flags.maxProcs !== undefined) slotLimits.maxProcesses = integer('max-procs', flags.maxProcs, 8, 1_000_000);
  if (flags.maxMemory !== undefined) slotLimits.maxMemoryBytes = bytes('max-memory', flags.maxMemory);
  if (flags.maxFileSize !== undefined) slotLimits.maxFileBytes = bytes('max-file-size', flags.maxFileSize);
  if (flags.tmpSize !== undefined) slotLimits.tmpBytes = bytes('tmp-size', flags.tmpSize);
  if (Object.keys(slotLimits).length > 0) options.slotLimits = slotLimits;
  if (flags.allowHost?.length) options.allowedHosts = flags.allowHost;
  const http: NonNullable<SandboxServerOptions['http']> = {};
  if (flags.maxConnections !== undefined) http.maxConnections = integer('max-connections', flags.maxConnections, 1, 100_000);
  if (flags.headersTimeoutMs !== undefined) http.headersTimeoutMs = integer('headers-timeout-ms', flags.headersTimeoutMs, 100, 3_600_000);
  if (flags.requestTimeoutMs !== undefined) http.requestTimeoutMs = integer('request-timeout-ms', flags.requestTimeoutMs, 100, 3_600_000);
  if (Object.keys(http).length > 0) options.http = http;
  if (flags.tokenFile !== undefined) {
    let token: string;
    try {
      token = readFileSync(flags.tokenFile, 'utf8').trim();
    } catch (error) {
      throw new ServeOptionsError(`Cannot read \`--token-file\` ${flags.tokenFile}: ${(error as Error).message}`);
    }
    if (!token) throw new ServeOptionsError(`\`--token-file\` ${flags.tokenFile} is empty`);
    options.token = token;
    // Absolute, so the sandbox masks the right file whatever the cwd (a relative path was missed).
    options.tokenFile = resolve(flags.tokenFile);
  } else if (env[ENV.token]) {
    options.token = env[ENV.token];
  }
  return options;
}

const FLAG_NAMES: Record<string, keyof ServeFlags> = {
  '--port': 'port',
  '--host': 'host',
  '--slots': 'slots',
  '--data-dir': 'dataDir',
  '--token-file': 'tokenFile',
  '--isolation': 'isolation',
  '--expose': 'expose',
  '--pass-env': 'passEnv',
  '--uid-base': 'uidBase',
  '--max-procs': 'maxProcs',
  '--max-memory': 'maxMemory',
  '--max-file-size': 'maxFileSize',
  '--tmp-size': 'tmpSize',
  '--allow-host': 'allowHost',
  '--max-connections': 'maxConnections',
  '--headers-timeout-ms': 'headersTimeoutMs',
  '--request-timeout-ms': 'requestTimeoutMs',
  '--exec-mode': 'execMode',
};

const REPEATABLE = new Set<keyof ServeFlags>(['expose', 'passEnv', 'allowHost']);

/**
 * Parses `serve` arguments (`--flag value` or `--flag=value`) without any dependency, for the
 * bundled server. Returns `'help'` for `-h`/`--help`.
 */
export function parseServeArgs(argv: readonly string[], env: NodeJS.ProcessEnv = process.env): SandboxServerOptions | 'help' {
  const flags: ServeFlags = {};
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '-h' || arg === '--help') return 'help';
    const eq = arg.indexOf('=');
    const name = eq === -1 ? arg : arg.slice(0, eq);
    const key = FLAG_NAMES[name];
    if (!key) throw new ServeOptionsError(`Unknown option \`${arg}\` (options: ${Object.keys(FLAG_NAMES).join(', ')})`);
    const value = eq === -1 ? argv[++i] : arg.slice(eq + 1);
    if (value === undefined) throw new ServeOptionsError(`Option \`${name}\` needs a value`);
    if (REPEATABLE.has(key)) ((flags[key] as string[] | undefined) ??= []).push(value);
    else (flags as Record<string, string>)[key] = value;
  }
  return resolveServeOptions(flags, env);
}
