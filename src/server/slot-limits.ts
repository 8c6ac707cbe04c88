/**
 * Per-slot resource limits. A command that hits one fails its own call with `metadata.limit`;
 * the server and the other slots carry on. They are rlimits, set by the shell that starts the
 * program inside the sandbox (hard and soft, so the command cannot raise them back), plus the size
 * of the sandbox's /tmp tmpfs. Processes count per host uid, and each slot has its own uid when
 * the server runs as root, so the process cap is per slot there (per server otherwise).
 */

export interface SlotLimits {
  /** Processes (threads included) of the slot's uid: RLIMIT_NPROC. */
  maxProcesses: number;
  /** Address space of each process, bytes: RLIMIT_AS. */
  maxMemoryBytes: number;
  /** Size of any one file a command writes, bytes: RLIMIT_FSIZE. */
  maxFileBytes: number;
  /** Size of the sandbox's /tmp, bytes (a tmpfs counts against RAM). */
  tmpBytes: number;
  /** Open files per process: RLIMIT_NOFILE. */
  maxOpenFiles: number;
}

const MiB = 1024 * 1024;
const GiB = 1024 * MiB;

/** Room for a coding agent's builds and tests, not for taking the machine down. */
export const DEFAULT_SLOT_LIMITS: SlotLimits = {
  maxProcesses: 512,
  maxMemoryBytes: 8 * GiB,
  maxFileBytes: 1 * GiB,
  tmpBytes: 512 * MiB,
  maxOpenFiles: 4096,
};

/**
 * The shell prefix that applies the limits and then execs the program (`"$@"`). One `ulimit` per
 * limit, soft then hard (the hard one cannot go below the soft one, and a command cannot raise
 * either back), in the units and flags of the shell: bash counts -f in KiB and names processes
 * -u; POSIX sh (dash) counts -f in 512-byte blocks and names them -p.
 */
export function limitsPrefix(shell: string, limits: SlotLimits): string[] {
  const bash = /(^|\/)bash$/.test(shell);
  const values: Array<[string, number]> = [
    [bash ? 'u' : 'p', limits.maxProcesses],
    ['v', Math.floor(limits.maxMemoryBytes / 1024)],
    ['f', Math.floor(limits.maxFileBytes / (bash ? 1024 : 512))],
    ['n', limits.maxOpenFiles],
  ];
  const script = `${values.map(([flag, value]) => `ulimit -S -${flag} ${value} && ulimit -H -${flag} ${value}`).join(' && ')} && exec "$@"`;
  return [shell, '-c', script, 'hpc-sandbox-limits'];
}

/** Which limit a finished command ran into, read from how it ended (exit status, signal, stderr). */
export function limitHit(outcome: { exitCode: number; signal: string | null; stderr: string }): SlotLimitName | undefined {
  if (outcome.signal === 'SIGXFSZ' || outcome.exitCode === 128 + 25 || /File size limit exceeded/.test(outcome.stderr)) return 'file_size';
  if (/fork: (retry: )?Resource temporarily unavailable|Cannot fork|fork failed|BlockingIOError: \[Errno 11\]/.test(outcome.stderr)) return 'processes';
  if (/Cannot allocate memory|MemoryError|std::bad_alloc|out of memory|Out of memory/.test(outcome.stderr)) return 'memory';
  if (/No space left on device/.test(outcome.stderr)) return 'disk_space';
  if (/Too many open files/.test(outcome.stderr)) return 'open_files';
  return undefined;
}

export type SlotLimitName = 'file_size' | 'processes' | 'memory' | 'disk_space' | 'open_files';

/** What `/health` says of the limits: values and the mechanism. */
export function describeLimits(limits: SlotLimits, perSlotUid: boolean): Record<string, unknown> {
  return {
    mechanism: 'rlimit',
    processes: { max: limits.maxProcesses, scope: perSlotUid ? 'per slot (its own uid)' : 'per server uid (all slots share it)' },
    memory_bytes_per_process: limits.maxMemoryBytes,
    file_bytes: limits.maxFileBytes,
    open_files: limits.maxOpenFiles,
    tmp_bytes: limits.tmpBytes,
    workspace_bytes: null,
    workspace_note: 'no quota: bounded by the file system holding the data dir',
  };
}
