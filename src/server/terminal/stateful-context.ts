import type { ExecuteMetadata, IsolationMode } from '../../protocol/types.js';
import { networkFor, type SlotSandboxContext } from '../sandbox-spawn.js';
import { toolFailure, type ToolResult } from '../tool-result.js';
import type { TerminalSession } from './terminal-session.js';
import type { SessionWish, TerminalSessions } from './terminal-sessions.js';

/** What both stateful tools get from the server for one call. */
export interface StatefulContext {
  sessions: TerminalSessions;
  slotId: string;
  sandbox: SlotSandboxContext;
  mode: IsolationMode;
  maxOutputChars: number;
  /** Aborted by reset, shutdown or a client that went away: the call ends and so does the session. */
  signal: AbortSignal;
}

export const TRUNCATED = '\n... (output truncated)';

/** A boolean argument, or the 400 answer naming it. */
export function booleanArg(args: Record<string, unknown>, name: string): boolean | undefined | ToolResult {
  const value = args[name];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'boolean') return toolFailure(400, `Expected \`args.${name}\` to be a boolean, got ${JSON.stringify(value)}`, { error_code: 'invalid_args' });
  return value;
}

export function isToolResult(value: unknown): value is ToolResult {
  return typeof value === 'object' && value !== null && 'response' in value && 'status' in value;
}

/** The metadata every stateful answer carries: how the session is isolated. */
export function sessionMetadata(context: StatefulContext, allowNetwork: boolean): ExecuteMetadata {
  const sandboxed = context.sandbox.isolation.config !== undefined;
  const network = sandboxed ? networkFor(context.sandbox, allowNetwork) : 'host';
  return { stateful: true, sandboxed, network_isolated: network !== 'host', network };
}

/**
 * The slot's session for a call, or the answer that refuses it: tmux missing, or isolation
 * required (`--isolation require`, `require_stateful_sandbox`, `allow_network: false`) where
 * bubblewrap is unusable, or a session that failed to start.
 */
export async function sessionFor(
  args: Record<string, unknown>,
  context: StatefulContext,
  pane: { paneWidth?: number; paneHeight?: number } = {},
): Promise<{ session: TerminalSession; restarted?: string; allowNetwork: boolean } | ToolResult> {
  const allowNetworkArg = booleanArg(args, 'allow_network');
  if (isToolResult(allowNetworkArg)) return allowNetworkArg;
  const requireArg = booleanArg(args, 'require_stateful_sandbox');
  if (isToolResult(requireArg)) return requireArg;
  const requireSandboxArg = booleanArg(args, 'require_sandbox');
  if (isToolResult(requireSandboxArg)) return requireSandboxArg;
  const allowNetwork = allowNetworkArg ?? true;
  const requireSandbox = requireArg ?? requireSandboxArg ?? false;
  if (!context.sessions.tmuxPath) {
    return toolFailure(200, 'Stateful terminals need tmux, which is not installed on this sandbox server (not on its PATH); install tmux (Debian: apt-get install tmux) or use the `bash` tool', { stateful: true, error_code: 'tool_unavailable', missing: 'tmux' });
  }
  const { config, report } = context.sandbox.isolation;
  if (!config) {
    const why = context.mode === 'require' ? 'the server runs with --isolation require' : requireSandbox ? 'the request sets require_stateful_sandbox' : !allowNetwork ? 'allow_network: false needs a network namespace' : undefined;
    if (why) {
      const error = !allowNetwork && context.mode !== 'require' && !requireSandbox ? 'Network isolation requested but bubblewrap is unavailable in this environment' : 'Stateful sandboxing required but bubblewrap is unavailable in this environment';
      return toolFailure(200, `${error}: ${why}; ${report.reason}`, { stateful: true, sandboxed: false, network_isolated: false, requires_bwrap: true, fallback_reason: report.reason ?? undefined });
    }
  }
  const wish: SessionWish = { allowNetwork, ...pane };
  try {
    return { ...(await context.sessions.ensure(context.slotId, context.sandbox, wish)), allowNetwork };
  } catch (error) {
    return toolFailure(200, `Failed to start the stateful terminal session of ${context.slotId}: ${(error as Error).message}`, { ...sessionMetadata(context, allowNetwork), requires_bwrap: requireSandbox });
  }
}

/** The line put before an answer whose session had to be replaced: the client's state is gone. */
export function restartNotice(restarted: string | undefined): string {
  return restarted ? `[terminal session restarted: ${restarted}; cwd, variables and jobs of the old session are gone]\n` : '';
}

/** Text cut at the output cap, with the note bash uses. */
export function capText(text: string, maxChars: number): { text: string; truncated: boolean } {
  return text.length > maxChars ? { text: text.slice(0, maxChars) + TRUNCATED, truncated: true } : { text, truncated: false };
}
