import type { TmuxArgs } from '../protocol/types.js';
import type { ExecuteRequest, ExecuteResponse, SandboxConnection } from './sandbox-connection.js';

/** Options of one call through a slot. */
export interface SlotCallOptions {
  /** Seconds the server lets the command run. @default the server's (30) */
  timeout?: number;
  executionId?: string;
  signal?: AbortSignal;
}

/** One tool call of a `Slot.batch()`. */
export interface SlotBatchItem {
  tool: string;
  args: Record<string, unknown>;
  timeout?: number;
  executionId?: string;
}

/**
 * What a handle needs from the pool. Calls go through `call()`, which checks that the lease is
 * still current and cuts the call when the placement is lost or the pool closes.
 */
export interface SlotLease {
  readonly slotId: string;
  readonly placementId: string;
  readonly url: string;
  readonly trajectoryId: string | undefined;
  call<T>(what: string, fn: (connection: SandboxConnection, signal: AbortSignal) => Promise<T>, signal?: AbortSignal): Promise<T>;
  release(reset: boolean): Promise<void>;
}

/**
 * A slot held by one trajectory, from `SlotPool.acquire()` until `release()`. Use it with
 * `await using slot = await pool.acquire('traj-1')` to release (and reset) it on scope exit.
 */
export class Slot implements AsyncDisposable {
  readonly #lease: SlotLease;
  #released = false;

  constructor(lease: SlotLease) {
    this.#lease = lease;
  }

  /** Wire slot id on its server (`slot_0`...). */
  get slotId(): string {
    return this.#lease.slotId;
  }
  get placementId(): string {
    return this.#lease.placementId;
  }
  /** The server's base URL. */
  get url(): string {
    return this.#lease.url;
  }
  get trajectoryId(): string | undefined {
    return this.#lease.trajectoryId;
  }
  get released(): boolean {
    return this.#released;
  }

  /** POST /execute of `tool` with `args` in this slot. */
  execute(tool: string, args: Record<string, unknown>, options: SlotCallOptions = {}): Promise<ExecuteResponse> {
    const request = this.#request(tool, args, options.timeout, options.executionId);
    return this.#lease.call(`${tool} on ${this.name}`, (c, signal) => c.execute(request, { signal }), options.signal);
  }

  /** Runs `command` with bash in the slot's workspace. */
  bash(command: string, options?: SlotCallOptions): Promise<ExecuteResponse> {
    return this.execute('bash', { command }, options);
  }

  /**
   * Runs `command` in the slot's stateful terminal session (`bash_stateful`): cwd, variables and
   * background jobs persist between calls until the slot is reset.
   */
  bashStateful(command: string, options?: SlotCallOptions): Promise<ExecuteResponse> {
    return this.execute('bash_stateful', { command }, options);
  }

  /** One `tmux` action (`start`, `send_keys`, `capture`, `stream`, `stop`) on the slot's terminal session. */
  tmux(args: TmuxArgs, options?: SlotCallOptions): Promise<ExecuteResponse> {
    return this.execute('tmux', { ...args }, options);
  }

  /** Reads a file (path relative to the workspace). */
  readFile(path: string, options?: SlotCallOptions): Promise<ExecuteResponse> {
    return this.execute('read_file', { path }, options);
  }

  /** Writes a file (path relative to the workspace). */
  writeFile(path: string, content: string, options?: SlotCallOptions): Promise<ExecuteResponse> {
    return this.execute('write_file', { path, content }, options);
  }

  /** POST /batch of several calls in this slot (the server runs them in order, serialised per slot). */
  batch(items: readonly SlotBatchItem[], options: { signal?: AbortSignal } = {}): Promise<ExecuteResponse[]> {
    const requests = items.map((i) => this.#request(i.tool, i.args, i.timeout, i.executionId));
    return this.#lease.call(`batch of ${items.length} on ${this.name}`, (c, signal) => c.batch(requests, { signal }), options.signal);
  }

  /**
   * Gives the slot back to the pool, after POST /reset empties its workspace (unless `reset: false`).
   * Idempotent; the handle is unusable afterwards.
   */
  async release(options: { reset?: boolean } = {}): Promise<void> {
    if (this.#released) return;
    this.#released = true;
    await this.#lease.release(options.reset ?? true);
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.release();
  }

  /** `slot_3 of sandbox-1a2b3c4d`, for messages. */
  get name(): string {
    return `${this.slotId} of ${this.placementId}`;
  }

  #request(tool: string, args: Record<string, unknown>, timeout?: number, executionId?: string): ExecuteRequest {
    const request: ExecuteRequest = { slot_id: this.slotId, tool, args };
    if (timeout !== undefined) request.timeout = timeout;
    if (executionId !== undefined) request.execution_id = executionId;
    return request;
  }
}
