import { chmod, lstat, mkdir, unlink } from 'node:fs/promises';
import type { SlotStatus } from '../protocol/types.js';
import { chownPath, type SlotUser } from './slot-user.js';
import { removeTreeContents } from './remove-tree.js';

/**
 * One workspace of the server. Work in a slot is serialised (one execution at a time, in arrival
 * order); different slots run in parallel. Every running execution holds an AbortController so a
 * reset or a shutdown can kill what runs in the slot.
 */
export class ServerSlot {
  state: SlotStatus['state'] = 'available';
  currentExecutionId: string | null = null;
  #tail: Promise<unknown> = Promise.resolve();
  readonly #running = new Set<AbortController>();
  #closedBecause: string | undefined;

  constructor(
    readonly id: string,
    /** Real path of the workspace directory. */
    readonly dir: string,
    /** Host identity of the slot's commands (root servers); the workspace belongs to it. */
    readonly user?: SlotUser,
  ) {}

  /**
   * Runs `work` after everything queued before it in this slot; `signal` fires on reset or
   * shutdown. Once the slot is closed, queued work starts with `signal` already aborted.
   */
  run<T>(executionId: string | null, work: (signal: AbortSignal) => Promise<T>): Promise<T> {
    const controller = new AbortController();
    const turn = this.#tail.then(async () => {
      if (this.#closedBecause !== undefined) controller.abort(new Error(this.#closedBecause));
      this.state = 'executing';
      this.currentExecutionId = executionId;
      this.#running.add(controller);
      try {
        return await work(controller.signal);
      } finally {
        this.#running.delete(controller);
        this.state = 'available';
        this.currentExecutionId = null;
      }
    });
    this.#tail = turn.catch(() => undefined);
    return turn;
  }

  /** Kills what runs in the slot now (queued work still runs afterwards). */
  abortRunning(reason: string): void {
    for (const controller of this.#running) controller.abort(new Error(reason));
  }

  /**
   * Kills what runs in the slot now and what is queued as it comes up: at shutdown a command
   * still waiting its turn must not start (outside bwrap nothing would kill it with the server).
   */
  close(reason: string): void {
    this.#closedBecause = reason;
    this.abortRunning(reason);
  }

  /**
   * Empties the workspace, keeping the directory itself, or recreates it: outside bwrap a
   * command can remove its own slot directory (or put a symlink in its place, which is removed,
   * never followed), and a reset must bring the slot back. Trees deeper than PATH_MAX, names that
   * are not UTF-8 and directories made unreadable are removed too (removeTreeContents). Call
   * inside `run`.
   */
  async empty(): Promise<void> {
    const info = await lstat(this.dir).catch(() => undefined);
    if (info && !info.isDirectory()) await unlink(this.dir);
    if ((await mkdir(this.dir, { recursive: true })) !== undefined) {
      // Recreated: it belongs to the slot's uid again, private to it.
      chownPath(this.dir, this.user);
      if (this.user) await chmod(this.dir, 0o700);
    }
    await removeTreeContents(this.dir);
  }

  status(): SlotStatus {
    return { slot_id: this.id, state: this.state, workspace_dir: this.dir, current_execution_id: this.currentExecutionId };
  }
}

