import type { ExecMode } from '../protocol/types.js';
import type { IsolationProbe, SandboxLayout } from './isolation.js';
import type { SlotSandboxContext } from './sandbox-spawn.js';
import { StandingSandbox } from './standing-sandbox.js';

/** The exec mode the server runs in and, when it is not the one asked for, why. */
export interface ResolvedExecMode {
  mode: ExecMode;
  reason: string | null;
}

/**
 * `standing` needs a working bwrap (the agent's `kill -1` is safe only inside the slot's own pid
 * namespace) and bash (the agent reads its frames with bash's `read -d ''`). Unset, the mode is
 * `standing` where both are there, `spawn` elsewhere; asked for `standing` where it cannot be,
 * the server runs `spawn` and says why.
 */
export function resolveExecMode(requested: ExecMode | undefined, probe: IsolationProbe, layout: SandboxLayout): ResolvedExecMode {
  if (requested === 'spawn') return { mode: 'spawn', reason: null };
  const why = !probe.config ? `bubblewrap is unusable (${probe.report.reason})` : !/(^|\/)bash$/.test(layout.shell) ? `the slot agent needs bash, and the shell is ${layout.shell}` : undefined;
  if (why === undefined) return { mode: 'standing', reason: null };
  return { mode: 'spawn', reason: `standing sandboxes need bwrap and bash: ${why}` };
}

/** The standing sandbox of each slot, made on first use and stopped on reset and shutdown. */
export class StandingSandboxes {
  readonly #bySlot = new Map<string, StandingSandbox>();

  /** The slot's standing sandbox (created, not started, on first call). */
  of(slotId: string, context: () => SlotSandboxContext): StandingSandbox {
    let standing = this.#bySlot.get(slotId);
    if (!standing) {
      standing = new StandingSandbox(context());
      this.#bySlot.set(slotId, standing);
    }
    return standing;
  }

  /** Kills the slot's sandbox and waits until it is gone (before its workspace is emptied). */
  async stop(slotId: string, why: string): Promise<void> {
    await this.#bySlot.get(slotId)?.stop(why);
  }

  async stopAll(why: string): Promise<void> {
    await Promise.all([...this.#bySlot.values()].map((standing) => standing.stop(why)));
  }
}
