import type { TmuxArgs } from '../protocol/types.js';

/**
 * The part of a sandbox server's API the checks use, in the harness's own terms. The runner binds
 * it to a placement with the project's SandboxClient (see `client-adapter.ts`); unit tests give
 * checks a stand-in. Keeping this seam small lets a check read as the behaviour it verifies.
 */
export interface SandboxApi {
  /** GET /health, as the server sent it. */
  health(options?: CallOptions): Promise<SandboxHealth>;
  /** One `bash` tool call in `slot` (0-based). Never throws for a non-zero exit: look at `exitCode`. */
  bash(slot: number, command: string, options?: BashOptions): Promise<BashOutcome>;
  /** POST /batch of `bash` calls; outcomes in request order. */
  batch(calls: Array<{ slot: number; command: string; timeoutSec?: number }>, options?: CallOptions): Promise<BashOutcome[]>;
  readFile(slot: number, path: string, options?: CallOptions): Promise<FileOutcome>;
  writeFile(slot: number, path: string, content: string, options?: CallOptions): Promise<FileOutcome>;
  /** POST /reset: empties the slot's workspace (and ends its terminal session). */
  reset(slot: number, options?: CallOptions): Promise<void>;
  /**
   * One `bash_stateful` call in `slot`: the slot's terminal session keeps cwd and variables.
   * Optional: a stand-in without terminals leaves it out (the `stateful` check then skips).
   */
  bashStateful?(slot: number, command: string, options?: BashOptions): Promise<BashOutcome>;
  /** One `tmux` action on the slot's terminal session; a refused action comes back with its HTTP status. */
  tmux?(slot: number, args: TmuxArgs, options?: BashOptions): Promise<TmuxOutcome>;
}

/** The answer to a `tmux` action; `status` is the HTTP status (400 for an unknown action). */
export interface TmuxOutcome {
  success: boolean;
  output: string;
  error: string;
  status: number;
  metadata: Record<string, unknown>;
  raw: unknown;
}

export interface CallOptions {
  signal?: AbortSignal;
}

export interface BashOptions extends CallOptions {
  /** Server-side time limit of the command, in seconds (the wire's `timeout`). */
  timeoutSec?: number;
}

/** The /health body; only the Atropos fields are relied upon, the rest is kept for evidence. */
export interface SandboxHealth {
  status: string;
  slots: number;
  available?: number;
  executing?: number;
  data_dir?: string;
  bwrap_available?: boolean;
  [field: string]: unknown;
}

export interface BashOutcome {
  /** The server's `success`. */
  success: boolean;
  /** The server's `output` as sent: stdout, then `\n[stderr]\n` and stderr, trimmed (Atropos format). */
  output: string;
  /** stdout, taken from `output`. When only stderr was printed the wire cannot tell them apart: it lands here. */
  stdout: string;
  /** stderr, taken from `output` after the `[stderr]` marker. */
  stderr: string;
  /** null when the command was killed (timeout) or the server did not say. */
  exitCode: number | null;
  /** The server reports the command hit its time limit. */
  timedOut: boolean;
  /** The response as received, for failure messages. */
  raw: unknown;
}

/** `ok: false` carries the HTTP status (403 for a path outside the workspace) and the server's error text. */
export type FileOutcome = { ok: true; content: string; raw: unknown } | { ok: false; status: number; error: string; raw: unknown };
