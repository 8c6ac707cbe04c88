import { chmod, lstat, mkdir, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { SlotStatus } from '../protocol/types.js';
import { chownPath, type SlotUser } from './slot-user.js';

/**
 * One workspace of the server. Work in a slot is serialised (one execution at a time, in arrival
 * order); different slots run in parallel. Every running execution holds an AbortController so a
 * reset or a shutdown can kill what runs in the slot.
 */
export class Slot {
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
   * command can remove its own slot directory, and a reset must bring the slot back. Call
   * inside `run`.
   */
  async empty(): Promise<void> {
    if ((await mkdir(this.dir, { recursive: true })) !== undefined) {
      chownPath(this.dir, this.user);
      if (this.user) await chmod(this.dir, 0o700);
    }
    const removeContents = async (): Promise<void> => {
      const names = await readdir(this.dir);
      await Promise.all(names.map((name) => rm(join(this.dir, name), { recursive: true, force: true })));
    };
    try {
      await removeContents();
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code !== 'EACCES' && code !== 'EPERM') throw error;
      // A command of an unprivileged server can take away its own access (chmod 000 dir), which
      // root would not notice. The server owns those directories: it gives the access back.
      await grantOwnerAccess(this.dir);
      await removeContents();
    }
  }

  status(): SlotStatus {
    return { slot_id: this.id, state: this.state, workspace_dir: this.dir, current_execution_id: this.currentExecutionId };
  }
}

/** Adds rwx for the owner to `dir` and every directory below it, never following symlinks. */
async function grantOwnerAccess(dir: string): Promise<void> {
  const info = await lstat(dir);
  if (!info.isDirectory()) return;
  await chmod(dir, (info.mode & 0o7777) | 0o700);
  for (const name of await readdir(dir)) await grantOwnerAccess(join(dir, name));
}
