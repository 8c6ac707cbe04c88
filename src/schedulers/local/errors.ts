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

/**
 * The server of a dynamic-port placement reports a port other than the one the scheduler chose and
 * put into `{{port}}`: the environment would name the wrong port, so the placement is refused.
 */
export class ReadyPortMismatchError extends SandboxError {
  constructor(
    readonly placementId: string,
    readonly chosenPort: number,
    readonly reportedPort: number,
    readonly readyFile: string,
  ) {
    super(
      'HPCSB_PLACEMENT_FAILED',
      `Sandbox ${placementId} listens on port ${reportedPort} (${readyFile}), but the scheduler chose port ${chosenPort} ` +
        'for it and passed that wherever the plan has {{port}}: the launch plan must make the server listen on {{port}}',
    );
  }
}
