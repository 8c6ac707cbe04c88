import type { Placement } from '../schedulers/scheduler.js';

/** One `/execute` request, with the wire (Atropos) field names. */
export interface ExecuteRequest {
  slot_id: string;
  tool: string;
  args: Record<string, unknown>;
  execution_id?: string;
  /** Seconds. */
  timeout?: number;
}

/** One `/execute` answer, with the wire (Atropos) field names. */
export interface ExecuteResult {
  success: boolean;
  output: string;
  error: string;
  execution_id: string;
  metadata: Record<string, unknown>;
}

/**
 * What the pool needs of a sandbox server client. The pool calls these with a signal that aborts
 * when the placement is lost or the pool closes, so an in-flight call errors instead of hanging.
 */
export interface SandboxConnection {
  health(options: { signal: AbortSignal }): Promise<unknown>;
  execute(request: ExecuteRequest, options: { signal: AbortSignal }): Promise<ExecuteResult>;
  batch(requests: ExecuteRequest[], options: { signal: AbortSignal }): Promise<ExecuteResult[]>;
  /** POST /reset: empties the slot's workspace. */
  reset(slotId: string, options: { signal: AbortSignal }): Promise<void>;
  close(): Promise<void>;
}

/** Opens a connection to a placement's server. */
export type Connect = (placement: Placement) => SandboxConnection;

/** The wire name of slot `index` (`slot_0`..`slot_{N-1}`). */
export function slotName(index: number): string {
  return `slot_${index}`;
}
