import { chmodSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { slotId } from '../../protocol/slot-id.js';
import { findOnPath } from '../find-on-path.js';
import type { SlotSandboxContext } from '../sandbox-spawn.js';
import { DEFAULT_PANE, TerminalSession, type SessionSettings } from './terminal-session.js';

/** A unix socket path must fit in sun_path (108 bytes with its NUL); keep a margin. */
const MAX_SOCKET_PATH = 100;

/** What the caller asks of a slot's session. */
export interface SessionWish {
  allowNetwork: boolean;
  paneWidth?: number;
  paneHeight?: number;
}

/**
 * The stateful terminal sessions of one server, one per slot, started on first use. Holds where
 * their runtime directories live (`stateful_dir` in /health) and whether tmux exists here at all.
 */
export class TerminalSessions {
  /** Absolute path of tmux, or undefined: the stateful tools answer that it is missing. */
  readonly tmuxPath: string | undefined;
  /** Parent of the per-slot runtime directories; null without tmux. */
  readonly statefulDir: string | null;
  readonly #ownsStatefulDir: boolean;
  readonly #sessions = new Map<string, TerminalSession>();
  /** Why a slot's last session ended when the client did not ask for it (the next start says so). */
  readonly #endedBecause = new Map<string, string>();
  #closed = false;

  /**
   * `<dataDir>/.stateful` when a socket path below it fits in a unix socket address, else a private
   * directory under the temp dir (removed at shutdown). Searchable by the slots' uids, not listable.
   */
  constructor(dataDir: string, slots: number, env: NodeJS.ProcessEnv) {
    this.tmuxPath = findOnPath('tmux', env);
    if (!this.tmuxPath) {
      this.statefulDir = null;
      this.#ownsStatefulDir = false;
      return;
    }
    const underData = join(dataDir, '.stateful');
    const longest = join(underData, slotId(Math.max(0, slots - 1)), 'tmux.sock');
    if (Buffer.byteLength(longest) <= MAX_SOCKET_PATH) {
      mkdirSync(underData, { recursive: true, mode: 0o711 });
      this.statefulDir = underData;
      this.#ownsStatefulDir = false;
    } else {
      this.statefulDir = mkdtempSync(join(tmpdir(), 'hpcsb-stateful-'));
      this.#ownsStatefulDir = true;
    }
    chmodSync(this.statefulDir, 0o711);
  }

  /** The live session of a slot, if any. */
  get(slotId: string): TerminalSession | undefined {
    return this.#sessions.get(slotId);
  }

  /**
   * The slot's session, started when there is none. A session that died (its shell exited, tmux
   * was killed from inside) or runs with another network setting is replaced, and `restarted`
   * says why, so the caller can tell the client its state is gone.
   */
  async ensure(slotId: string, sandbox: SlotSandboxContext, wish: SessionWish): Promise<{ session: TerminalSession; restarted?: string }> {
    let restarted = this.#endedBecause.get(slotId);
    this.#endedBecause.delete(slotId);
    const existing = this.#sessions.get(slotId);
    if (existing) {
      if (!existing.alive) restarted = `the previous session ended: ${existing.endedBecause}`;
      else if (existing.settings.allowNetwork !== wish.allowNetwork) restarted = `allow_network changed to ${wish.allowNetwork}, which needs a new sandbox`;
      if (!restarted) return { session: existing };
      await this.stop(slotId);
    }
    const settings: SessionSettings = {
      allowNetwork: wish.allowNetwork,
      paneWidth: wish.paneWidth ?? existing?.settings.paneWidth ?? DEFAULT_PANE.width,
      paneHeight: wish.paneHeight ?? existing?.settings.paneHeight ?? DEFAULT_PANE.height,
    };
    if (this.#closed) throw new Error('the sandbox server is shutting down');
    const session = await TerminalSession.start({ sandbox, tmuxPath: this.tmuxPath!, runtimeDir: join(this.statefulDir!, slotId), settings });
    if (this.#closed) {
      // Started while the server shut down: stopAll has run already, so nothing else would end it.
      await session.stop();
      throw new Error('the sandbox server is shutting down');
    }
    this.#sessions.set(slotId, session);
    return restarted ? { session, restarted } : { session };
  }

  /**
   * Ends a slot's session and its whole process tree (reset, `tmux stop`, a timeout). `because`,
   * when the client did not ask for it (a timeout, a session that died), is told by the next start.
   */
  async stop(slotId: string, because?: string): Promise<boolean> {
    if (because) this.#endedBecause.set(slotId, because);
    else this.#endedBecause.delete(slotId);
    const session = this.#sessions.get(slotId);
    if (!session) return false;
    this.#sessions.delete(slotId);
    await session.stop();
    return true;
  }

  /** Ends every session (shutdown) and removes a private stateful dir. */
  async stopAll(): Promise<void> {
    this.#closed = true;
    await Promise.all([...this.#sessions.keys()].map((slotId) => this.stop(slotId)));
    if (this.#ownsStatefulDir && this.statefulDir) rmSync(this.statefulDir, { recursive: true, force: true });
  }
}
