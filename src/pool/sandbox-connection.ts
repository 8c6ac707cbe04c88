import { SandboxClient } from '../client/sandbox-client.js';
import type { ExecuteRequest, ExecuteResponse } from '../protocol/types.js';
import type { Placement } from '../schedulers/scheduler.js';

export type { ExecuteRequest, ExecuteResponse };

/**
 * The part of `SandboxClient` the pool uses (the pool speaks to servers only through the client;
 * this narrow view lets its unit tests pass an in-memory stand-in, `testing/stand-in.ts`). The pool calls these
 * with a signal that aborts when the placement is lost or the pool closes, so an in-flight call
 * errors instead of hanging.
 */
export interface SandboxConnection {
  health(options: { signal: AbortSignal }): Promise<unknown>;
  execute(request: ExecuteRequest, options: { signal: AbortSignal }): Promise<ExecuteResponse>;
  batch(requests: ExecuteRequest[], options: { signal: AbortSignal }): Promise<ExecuteResponse[]>;
  /** POST /reset: kills what runs in the slot and empties its workspace. */
  reset(slotId: string, options: { signal: AbortSignal }): Promise<unknown>;
  close(): Promise<void>;
}

/** Opens a connection to a placement's server. */
export type Connect = (placement: Placement) => SandboxConnection;

/** The default `connect`: a `SandboxClient` on the placement's URL and token. */
export function connectSandboxClient(placement: Placement): SandboxConnection {
  return new SandboxClient(placement.url, placement.token === undefined ? {} : { token: placement.token });
}
