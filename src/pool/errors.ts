import { SandboxError } from '../errors.js';

/** Counts quoted by pool errors so the reader sees why no slot was free. */
export interface PoolCounts {
  placements: number;
  starting: number;
  slots: number;
  free: number;
  busy: number;
  waiting: number;
}

/** No slot became free within `timeoutMs`. */
export class AcquireTimeoutError extends SandboxError {
  constructor(
    readonly trajectoryId: string | undefined,
    readonly timeoutMs: number,
    /** `quarantined`: slots withheld after a failed reset, a reason none is free. */
    readonly counts: PoolCounts & { quarantined?: number },
    readonly lastPlacementError: string | undefined,
    readonly maxPlacements: number,
  ) {
    const who = trajectoryId === undefined ? '' : ` for trajectory ${trajectoryId}`;
    const capacity = counts.placements + counts.starting >= maxPlacements ? ` (at maxPlacements ${maxPlacements})` : '';
    super(
      'HPCSB_ACQUIRE_TIMEOUT',
      `Timed out after ${timeoutMs}ms acquiring a slot${who}: ${counts.slots} slots in ${counts.placements} placements` +
        `${capacity}, ${counts.busy} busy, ${counts.free} free` +
        (counts.quarantined ? `, ${counts.quarantined} quarantined (their reset failed)` : '') +
        `; ${counts.starting} placements starting, ` +
        `${counts.waiting} acquires waiting` +
        (lastPlacementError ? `; last placement failure: ${lastPlacementError}` : ''),
    );
  }
}

/** The pool was closed: no more acquires, and in-flight calls are cut. */
export class PoolClosedError extends SandboxError {
  constructor(what: string) {
    super('HPCSB_POOL_CLOSED', `${what}: the slot pool is closed`);
  }
}

/** The placement behind a slot died or failed its health checks; the slot is withdrawn. */
export class PlacementLostError extends SandboxError {
  constructor(
    readonly placementId: string,
    readonly reason: string,
    options?: { cause?: unknown },
  ) {
    super('HPCSB_PLACEMENT_LOST', `Placement ${placementId} was lost (${reason}); its slots were withdrawn`, options);
  }
}

/** A slot handle was used after release() (its slot may already serve another holder). */
export class SlotReleasedError extends SandboxError {
  /** @param what the refused call, naming the slot: `bash on slot_0 of sandbox-1a2b3c4d` */
  constructor(readonly what: string) {
    super('HPCSB_SLOT_RELEASED', `Cannot ${what}: this handle was released`);
  }
}
