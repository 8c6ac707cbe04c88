/**
 * One error base for the whole project. Every error carries a stable `code` (so callers and tests
 * can tell errors apart without parsing prose) and keeps its `cause`. Subclasses carry data, not
 * only words: the command that failed, the HTTP status, the last observation of a wait.
 */
export type SandboxErrorCode =
  | 'HPCSB_CONFIG_INVALID'
  | 'HPCSB_DRIVER_UNAVAILABLE'
  | 'HPCSB_SCHEDULER_UNAVAILABLE'
  | 'HPCSB_COMMAND_FAILED'
  | 'HPCSB_WAIT_TIMEOUT'
  | 'HPCSB_PLACEMENT_FAILED'
  | 'HPCSB_PLACEMENT_LOST'
  | 'HPCSB_SANDBOX_HTTP'
  | 'HPCSB_ACQUIRE_TIMEOUT'
  | 'HPCSB_POOL_CLOSED'
  | 'HPCSB_NOMAD_API'
  | 'HPCSB_IMAGE_BUILD'
  | 'HPCSB_IMAGE_INVALID'
  | 'HPCSB_ABORTED'
  | 'HPCSB_CHECK_FAILED'
  | 'HPCSB_SLOT_RELEASED';

export class SandboxError extends Error {
  readonly code: SandboxErrorCode;
  constructor(code: SandboxErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
  }
}

/** A suite, option or flag was wrong. The message says where and what was expected. */
export class ConfigError extends SandboxError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('HPCSB_CONFIG_INVALID', message, options);
  }
}

/** A driver or scheduler cannot run here; `reason` is the one-line why (`apptainer: not on PATH`). */
export class UnavailableError extends SandboxError {
  constructor(
    readonly component: string,
    readonly reason: string,
    code: 'HPCSB_DRIVER_UNAVAILABLE' | 'HPCSB_SCHEDULER_UNAVAILABLE' = 'HPCSB_DRIVER_UNAVAILABLE',
  ) {
    super(code, `${component} is not available: ${reason}`);
  }
}

/** A wait ran out of time; `lastObservation` is the evidence (last status, last error). */
export class WaitTimeoutError extends SandboxError {
  constructor(
    readonly target: string,
    readonly timeoutMs: number,
    readonly lastObservation: string | undefined,
    options?: { cause?: unknown },
  ) {
    super(
      'HPCSB_WAIT_TIMEOUT',
      `Timed out after ${timeoutMs}ms waiting for ${target}` + (lastObservation ? ` (last: ${lastObservation})` : ''),
      options,
    );
  }
}

/** The operation was cancelled through its AbortSignal (Ctrl-C, test timeout, caller). */
export class AbortedError extends SandboxError {
  constructor(what: string, options?: { cause?: unknown }) {
    super('HPCSB_ABORTED', `${what} was aborted`, options);
  }
}

export function isSandboxError(error: unknown, code?: SandboxErrorCode): error is SandboxError {
  return error instanceof SandboxError && (code === undefined || error.code === code);
}
