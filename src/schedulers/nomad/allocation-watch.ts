import type { PlacementExit } from '../scheduler.js';
import type { NomadAllocation, NomadAllocStub, NomadTaskState } from './api-types.js';
import type { NomadClient } from './client.js';
import { NomadApiError } from './errors.js';
import { describeTaskEvent, fatalTaskEvent } from './failures.js';
import { JOB_TASK } from './jobspec.js';

/**
 * Longest one blocking query waits. A query that misses a change (seen once in CI against the
 * double, cause not found; a buffering proxy does the same) delays noticing a dead sandbox by up
 * to this much: kept well under the health timeouts that race it.
 */
const BLOCKING_WAIT_SECONDS = 10;

const TERMINAL_CLIENT_STATUSES = new Set(['complete', 'failed', 'lost']);

/** Whether Nomad's client status of an allocation means it has ended. */
export function isTerminalClientStatus(clientStatus: string): boolean {
  return TERMINAL_CLIENT_STATUSES.has(clientStatus);
}

/**
 * Follows one Nomad allocation with blocking queries (`GET /v1/allocation/:id?index=`) until it is
 * terminal or gone; `exited` then settles with the reason its task events give. Each answer, and
 * each the placement reads itself (`observe`), goes to `onObserve`: the placement's events and
 * timestamps come from there.
 */
export class NomadAllocationWatch {
  /** Settles when the allocation has ended, is gone, or Nomad cannot be reached. Never rejects. */
  readonly exited: Promise<PlacementExit>;
  readonly #client: NomadClient;
  readonly #onObserve: (alloc: NomadAllocation | NomadAllocStub) => void;
  readonly #abort = new AbortController();
  #last: NomadAllocation | NomadAllocStub;

  constructor(client: NomadClient, first: NomadAllocation, onObserve: (alloc: NomadAllocation | NomadAllocStub) => void) {
    this.#client = client;
    this.#onObserve = onObserve;
    this.#last = first;
    onObserve(first);
    this.exited = this.#follow(first.ID, first.ModifyIndex ?? 0);
  }

  /** The allocation at the last observation. */
  get last(): NomadAllocation | NomadAllocStub {
    return this.#last;
  }

  /** Records an answer read outside the follow (status()). */
  observe(alloc: NomadAllocation | NomadAllocStub): void {
    this.#last = alloc;
    this.#onObserve(alloc);
  }

  /** Ends the blocking query: `exited` then settles with `placement stopped` if it has not yet. */
  stop(): void {
    this.#abort.abort();
  }

  async #follow(allocId: string, firstIndex: number): Promise<PlacementExit> {
    const signal = this.#abort.signal;
    let index = firstIndex;
    let failures = 0;
    for (;;) {
      const exit = allocationExit(this.#last);
      if (exit) return exit;
      if (signal.aborted) return { reason: 'placement stopped' };
      try {
        const { value, index: next } = await this.#client.allocation(allocId, { index, waitSeconds: BLOCKING_WAIT_SECONDS, signal });
        this.observe(value);
        index = Math.max(next, index);
        failures = 0;
      } catch (error) {
        if (signal.aborted) return { reason: 'placement stopped' };
        if (error instanceof NomadApiError && error.statusCode === 404) return { reason: 'allocation is gone (job purged or garbage-collected)' };
        // The agent went away (shut down, network): a few retries, then the sandbox counts as lost.
        if (++failures >= 5) return { reason: `lost contact with Nomad: ${(error as Error).message}` };
        await new Promise((resolve) => setTimeout(resolve, 500 * failures));
      }
    }
  }
}

/** How a terminal allocation ended (its fatal or Terminated task event); undefined while it runs. */
function allocationExit(alloc: NomadAllocation | NomadAllocStub): PlacementExit | undefined {
  if (!isTerminalClientStatus(alloc.ClientStatus)) return undefined;
  const state: NomadTaskState | undefined = alloc.TaskStates?.[JOB_TASK];
  const fatal = fatalTaskEvent(state);
  const terminated = [...(state?.Events ?? [])].reverse().find((e) => e.Type === 'Terminated');
  const why = fatal ? describeTaskEvent(fatal) : terminated ? describeTaskEvent(terminated) : alloc.ClientDescription || 'no task event';
  return {
    exitCode: terminated?.ExitCode ?? null,
    reason: `allocation ${alloc.ID.slice(0, 8)} ${alloc.ClientStatus}: ${why}`,
  };
}
