/**
 * Wire types of the sandbox server. Field names follow the Atropos sandbox server
 * (`sandbox_server.py`) so its Python clients work unchanged; fields it does not have are
 * additive and marked so. Plain types only: this file is bundled into the server.
 */
import type { TOOLS } from './constants.js';

/** A tool `/execute` runs: `bash`, `bash_stateful`, `read_file`, `write_file` or `tmux`. */
export type ToolName = (typeof TOOLS)[number];

/** Arguments of the `bash` tool. */
export interface BashArgs {
  command: string;
  /** `false` unshares the network (needs bubblewrap; refused without it). @default true */
  allow_network?: boolean;
  /** Refuse to run unless bubblewrap isolates the command. @default false */
  require_sandbox?: boolean;
}

/** Arguments of the `bash_stateful` tool: a command typed into the slot's terminal session. */
export interface BashStatefulArgs {
  command: string;
  /** `false` runs the session without network (a change restarts the session). @default true */
  allow_network?: boolean;
  /** Refuse unless bubblewrap isolates the session. @default false */
  require_stateful_sandbox?: boolean;
}

/** One action of the `tmux` tool on the slot's terminal session (no action: `capture`). */
export type TmuxArgs =
  | { action: 'start'; pane_width?: number; pane_height?: number; allow_network?: boolean; require_stateful_sandbox?: boolean }
  | {
      action: 'send_keys';
      /** tmux key names (`Enter`, `C-c`, `Up`) or literal text. */
      keys: string | string[];
      /** Wait until the shell is idle again (types a marker after the keys; assumes a shell prompt). @default false */
      block?: boolean;
      /** Seconds to wait after sending. @default 0 */
      min_wait_s?: number;
      /** Seconds a blocking send may wait (at most the request's timeout). @default the timeout */
      max_wait_s?: number;
    }
  | { action: 'capture'; /** The whole scrollback, not only the visible pane. @default false */ capture_entire?: boolean }
  | {
      action: 'stream';
      /** Additive: read from this byte offset instead of the server's cursor. */
      offset?: number;
      /** @default 50_000, at most 200_000 */
      max_bytes?: number;
      /** Restart the server's cursor at the beginning of the recording. @default false */
      reset?: boolean;
    }
  | { action: 'stop' };

/** Arguments of the `read_file` tool; `path` is relative to the slot workspace (or `/workspace/...`). */
export interface ReadFileArgs {
  path: string;
}

/** Arguments of the `write_file` tool; parent directories are created. */
export interface WriteFileArgs {
  path: string;
  content: string;
}

/** Body of `POST /execute`, and one element of `POST /batch`. */
export interface ExecuteRequest {
  slot_id: string;
  tool: ToolName | (string & {});
  args: BashArgs | BashStatefulArgs | TmuxArgs | ReadFileArgs | WriteFileArgs | Record<string, unknown>;
  execution_id?: string | null;
  /** Seconds before the command (and every process it started) is killed. @default 30 */
  timeout?: number;
}

/**
 * What the server tells about one execution. Atropos fields: `exit_code`, `timeout`, `sandboxed`,
 * `network_isolated`, `requires_bwrap`, `sandbox_fallback`, `path`, `size`. The others are additive.
 */
export interface ExecuteMetadata {
  exit_code?: number | null;
  /** The command was killed because it ran past `timeout`; `output` holds what it printed so far. */
  timeout?: boolean;
  /** The command ran under bubblewrap. */
  sandboxed?: boolean;
  network_isolated?: boolean;
  /** The request needed bubblewrap (require mode, `require_sandbox`, `allow_network: false`) and it is unusable. */
  requires_bwrap?: boolean;
  /** Additive: why the command ran without bubblewrap. */
  fallback_reason?: string;
  /** Additive: stdout or stderr was cut at the output cap. */
  truncated?: boolean;
  /** Additive: signal that ended the command, when one did. */
  signal?: string | null;
  /** Additive: wall time of the tool inside the server. */
  duration_ms?: number;
  /** Additive: stable failure class (`path_escape`, `not_found`, `too_large`, `not_a_file`, `invalid_args`). */
  error_code?: string;
  path?: string;
  size?: number;
  [key: string]: unknown;
}

/** Body of the `/execute` answer and one element of the `/batch` answer. */
export interface ExecuteResponse {
  success: boolean;
  output: string;
  error: string;
  execution_id: string | null;
  metadata: ExecuteMetadata;
}

/** How bash is isolated in this server (additive `/health` field `isolation`). */
export interface IsolationReport {
  /** What the operator asked for: `auto` (bwrap when usable), `require` (refuse without) or `off`. */
  mode: IsolationMode;
  /** bubblewrap runs commands. Same value as `bwrap_available`. */
  active: boolean;
  /** How `/proc` is provided inside the sandbox: `proc` (fresh procfs) or `bind` (the container's). */
  proc_mode: 'proc' | 'bind' | null;
  /** A user namespace is created (false only when running as root without one). */
  user_namespace: boolean | null;
  /** Absolute path of the bwrap binary, when found. */
  bwrap_path: string | null;
  /** Why bubblewrap is not used, with the evidence (bwrap's own stderr). */
  reason: string | null;
  /** Wall time of the start-up probe. */
  probe_ms: number | null;
  /** Shell running commands (`bash`, else `sh`). */
  shell: string;
  /** Host uid commands run as (slot_0's when the server runs as root: one uid per slot from `--uid-base`). */
  uid: number | null;
  /** What refuses a nested user namespace to commands (absent when isolation is not active). */
  nested_userns_blocked_by?: string;
  /** A seccomp filter denies mount, namespaces, modules, kexec, bpf, keyrings, clocks and the like. */
  seccomp: boolean;
  /** What `allow_network` gives: `open` is `stack` (own namespace behind pasta) or `host` (shared, degraded, with `reason`). */
  network: { open: NetworkMode; stack: string | null; reason: string | null };
  /** Every mount a command sees. */
  view: ViewEntry[];
}

/** How a command reaches the network: `none` (loopback only), `stack` (user-mode stack, no way back to the host), `host` (shared host network). */
export type NetworkMode = 'none' | 'stack' | 'host';

/** One path of a command's view, as `/health` lists it. */
export interface ViewEntry {
  path: string;
  /** `ro`/`rw` binds, a `symlink`, or a `fresh` file system made for the sandbox. */
  mode: 'ro' | 'rw' | 'symlink' | 'fresh';
  source: string | null;
  /** Paths covered because an unprivileged user could not read them (under /etc). */
  masked?: string[];
}

export type IsolationMode = 'auto' | 'require' | 'off';

/**
 * How `bash` runs a command: `standing` forks it inside the slot's long-lived sandbox; `spawn`
 * starts a new sandbox (or, without bwrap, a plain process) for each command.
 */
export type ExecMode = 'standing' | 'spawn';

/** One line of a streamed `/execute` answer (NDJSON): output as it comes, then the usual answer. */
export type ExecuteStreamChunk = { type: 'stdout' | 'stderr'; data: string } | ({ type: 'result' } & ExecuteResponse);

/** Body of `GET /health`. The first seven fields are Atropos's; the rest are additive. */
export interface HealthResponse {
  status: 'ok';
  slots: number;
  available: number;
  executing: number;
  data_dir: string;
  bwrap_available: boolean;
  /** Parent of the per-slot terminal runtime directories (tmux sockets); null where tmux is missing. */
  stateful_dir: string | null;
  port: number;
  host: string;
  pid: number;
  version: string;
  /** The tools that work on this server (`bash_stateful` and `tmux` only where tmux is installed). */
  tools: string[];
  auth: boolean;
  isolation: IsolationReport;
  limits: ServerLimits;
  /** Per-slot resource limits and how they are enforced; null without isolation. */
  slot_limits: Record<string, unknown> | null;
  /** How `bash` runs commands (`--exec-mode`, else `standing` where bwrap works). */
  exec_mode?: ExecMode;
  /** Why the server runs `spawn` where `standing` was asked for or is the default. */
  exec_mode_reason?: string;
  uptime_ms: number;
}

/** Caps the server applies (additive `/health` field `limits`). */
export interface ServerLimits {
  max_output_chars: number;
  max_file_size: number;
  max_artifact_bytes: number;
  max_artifact_entries: number;
  max_body_bytes: number;
  max_timeout_seconds: number;
}

/** One slot in `GET /slots`. */
export interface SlotStatus {
  slot_id: string;
  state: 'available' | 'executing';
  workspace_dir: string;
  current_execution_id: string | null;
}

/** Body of `GET /slots`. */
export interface SlotsResponse {
  slots: SlotStatus[];
}

/** Body of `POST /reset`. */
export interface ResetRequest {
  slot_id: string;
}

/** Body of `POST /artifacts/read`. */
export interface ArtifactReadRequest {
  slot_id: string;
  path: string;
  /** @default 'text' */
  encoding?: 'text' | 'base64';
  /** Cap on returned bytes, clamped to 1..5 MB. */
  max_bytes?: number;
  /** @default false */
  include_sha256?: boolean;
}

export interface ArtifactReadResponse {
  success: true;
  content: string;
  encoding: 'text' | 'base64';
  truncated: boolean;
  /** Bytes returned. */
  bytes: number;
  file_size: number;
  path: string;
  mime: string;
  /** SHA-256 of the returned bytes, when `include_sha256`. */
  sha256: string | null;
}

/** Body of `POST /artifacts/list`. */
export interface ArtifactListRequest {
  slot_id: string;
  /** @default '.' */
  path?: string;
  /** @default false */
  recursive?: boolean;
  max_entries?: number;
}

export interface ArtifactEntry {
  path: string;
  is_dir: boolean;
  size: number;
  /** Seconds since the epoch (float, as Python's `st_mtime`). */
  mtime: number;
  /** Additive: the entry is a symbolic link (never followed). */
  is_symlink?: boolean;
}

export interface ArtifactListResponse {
  success: true;
  entries: ArtifactEntry[];
  truncated: boolean;
}

/** Body of `POST /artifacts/archive`. */
export interface ArtifactArchiveRequest {
  slot_id: string;
  /** @default '.' */
  path?: string;
  /** `tar.gz` (or `tgz`). @default 'tar.gz' */
  format?: string;
  max_bytes?: number;
  max_entries?: number;
}

export interface ArtifactArchiveResponse {
  success: true;
  /** The tar.gz, base64. */
  content: string;
  encoding: 'base64';
  format: 'tar.gz';
  bytes: number;
  entry_count: number;
  /** Additive: the walk stopped at `max_entries`. */
  truncated?: boolean;
}

/** Body of every non-2xx answer outside `/execute` (which answers an ExecuteResponse). */
export interface ErrorResponse {
  success: false;
  error: string;
  /** Additive: stable failure class, e.g. `unauthorized`, `unknown_slot`, `path_escape`. */
  error_code?: string;
  [key: string]: unknown;
}

/** Content of `<data-dir>/.hpc-sandbox-ready.json`. */
export interface ReadyFileContent {
  port: number;
  host: string;
  pid: number;
  version: string;
  /** Additive: `http://host:port` with a connectable host. */
  url: string;
  data_dir: string;
  slots: number;
}
