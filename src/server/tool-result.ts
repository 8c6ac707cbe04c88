import type { ExecuteMetadata, ExecuteResponse } from '../protocol/types.js';

/** An execute answer and the HTTP status it travels with (a `/batch` keeps only the body). */
export interface ToolResult {
  status: number;
  response: ExecuteResponse;
}

/** A successful tool result (HTTP 200). */
export function toolSuccess(output: string, metadata: ExecuteMetadata = {}): ToolResult {
  return { status: 200, response: { success: true, output, error: '', execution_id: null, metadata } };
}

/**
 * A failed tool result. `status` says how the request failed: 200 when the tool ran and failed
 * (non-zero exit, timeout), 400/403/404/413 when the server refused it.
 */
export function toolFailure(status: number, error: string, metadata: ExecuteMetadata = {}, output = ''): ToolResult {
  return { status, response: { success: false, output, error, execution_id: null, metadata } };
}
