/**
 * Constants shared by the sandbox server, its client and the schedulers that start it. This file
 * is bundled into the server: it must import nothing.
 */

/** Version of the server and of the wire protocol it speaks (reported by `/health`). */
export const SERVER_VERSION = '0.1.0';

/**
 * Name of the file the server writes into its data dir once it listens (atomically: temp file
 * then rename) and removes on shutdown. Schedulers read it to learn a dynamic port.
 */
export const READY_FILE = '.hpc-sandbox-ready.json';

/** The tools `/execute` knows, in the reference's order. */
export const TOOLS = ['bash', 'bash_stateful', 'read_file', 'write_file', 'tmux'] as const;

/** The tools that need tmux on the server (`/health` lists them only where it is installed). */
export const STATEFUL_TOOLS = ['bash_stateful', 'tmux'] as const;

/** Limits of the reference (Atropos) server, kept as defaults so its clients see the same caps. */
export const DEFAULT_LIMITS = {
  /** Characters of stdout (and, separately, of stderr) returned by `bash`. */
  maxOutputChars: 50_000,
  /** Characters `write_file` accepts and bytes `read_file` returns. */
  maxFileSize: 100_000,
  /** Bytes `/artifacts/read` returns and `/artifacts/archive` may produce. */
  maxArtifactBytes: 5_000_000,
  /** Entries `/artifacts/list` and `/artifacts/archive` walk. */
  maxArtifactEntries: 5_000,
  /** Bytes of one HTTP request body (a `/batch` of writes included). */
  maxBodyBytes: 16 * 1024 * 1024,
  /** Seconds a `bash` call may run, whatever `timeout` asks. */
  maxTimeoutSeconds: 3_600,
} as const;

/** Default `timeout` (seconds) of an execute request, as in Atropos. */
export const DEFAULT_TIMEOUT_SECONDS = 30;

/** Environment variables the server reads. */
export const ENV = {
  token: 'HPC_SANDBOX_TOKEN',
  isolation: 'HPC_SANDBOX_ISOLATION',
} as const;
