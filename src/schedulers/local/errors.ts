import { SandboxError } from '../../errors.js';

/** A static port is taken: nothing was started. */
export class PortInUseError extends SandboxError {
  constructor(
    readonly host: string,
    readonly port: number,
    readonly evidence: string,
    options?: { cause?: unknown },
  ) {
    super(
      'HPCSB_PLACEMENT_FAILED',
      `Static port ${port} on ${host} is already in use, so the sandbox cannot listen there (${evidence}); ` +
        'free the port, pick another, or use `ports: { mode: "dynamic" }`',
      options,
    );
  }
}

/** Placing a sandbox on this machine failed; the cause says why. */
export class LocalPlacementError extends SandboxError {
  constructor(
    readonly placementId: string,
    readonly driver: string,
    reason: string,
    options?: { cause?: unknown },
  ) {
    super('HPCSB_PLACEMENT_FAILED', `Local placement ${placementId} (driver ${driver}) failed: ${reason}`, options);
  }
}
