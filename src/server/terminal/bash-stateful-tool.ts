import { toolFailure, type ToolResult } from '../tool-result.js';
import { paneText } from './pane-text.js';
import { capText, restartNotice, sessionFor, sessionMetadata, TRUNCATED, type StatefulContext } from './stateful-context.js';

/**
 * The `bash_stateful` tool: runs `args.command` in the slot's terminal session, where cwd,
 * variables, functions and background jobs persist between calls, and answers what it printed
 * (terminal output as text: stdout and stderr together, as a terminal shows them) with
 * `metadata.exit_code`. Past `timeout` the session is ended (its whole process tree) and the
 * answer is a timeout carrying the pane as it was; the next call starts a new session.
 */
export async function bashStatefulTool(args: Record<string, unknown>, timeoutSeconds: number, context: StatefulContext): Promise<ToolResult> {
  const { command } = args;
  if (typeof command !== 'string' || command.trim() === '') {
    return toolFailure(400, `Expected \`args.command\` to be a non-empty string, got ${command === undefined ? 'nothing' : JSON.stringify(command)}`, { error_code: 'invalid_args' });
  }
  const got = await sessionFor(args, context);
  if ('response' in got) return got;
  const { session, restarted, allowNetwork } = got;
  const notice = restartNotice(restarted);
  const base = { ...sessionMetadata(context, allowNetwork), ...(restarted ? { session_restarted: restarted } : {}) };
  const outcome = await session.run(command, timeoutSeconds * 1000, context.maxOutputChars * 4 + 4, context.signal);
  const printed = capText(paneText(outcome.raw.toString('utf8')), context.maxOutputChars);
  const truncated = outcome.truncated || printed.truncated;
  const output = `${notice}${printed.text.trim()}${outcome.truncated && !printed.truncated ? TRUNCATED : ''}`;
  const metadata = { ...base, exit_code: outcome.exitCode, timeout: outcome.timedOut, truncated, duration_ms: outcome.durationMs };

  if (outcome.timedOut || outcome.aborted) {
    // A hung command (a TUI that never returns to a prompt): show the screen, then end it all.
    const pane = await session.capture(false);
    await context.sessions.stop(context.slotId, outcome.timedOut ? `the previous session was ended when a command ran past its ${timeoutSeconds}s timeout` : 'the previous session was killed');
    const screen = `${notice}${capText(pane.text.trimEnd(), context.maxOutputChars).text}`;
    if (outcome.timedOut) return toolFailure(200, `Command timed out after ${timeoutSeconds}s (the terminal session was ended; the next call starts a new one)`, { ...metadata, exit_code: -1, session_stopped: true }, screen);
    const why = context.signal.reason instanceof Error ? context.signal.reason.message : 'the slot was reset or the server is shutting down';
    return toolFailure(200, `Command killed: ${why}`, { ...metadata, killed: true, session_stopped: true }, screen);
  }
  if (outcome.ended !== undefined) {
    await context.sessions.stop(context.slotId, `the previous session ended: ${outcome.ended}`);
    return toolFailure(200, `The terminal session ended during the command: ${outcome.ended} (the next call starts a new one)`, { ...metadata, session_ended: outcome.ended }, output);
  }
  const success = outcome.exitCode === 0;
  return { status: 200, response: { success, output, error: success ? '' : `Exit code: ${outcome.exitCode}`, execution_id: null, metadata } };
}
