import { toolFailure, toolSuccess, type ToolResult } from '../tool-result.js';
import { markerNonce, SESSION_NAME } from './terminal-session.js';
import { booleanArg, capText, isToolResult, restartNotice, sessionFor, sessionMetadata, type StatefulContext } from './stateful-context.js';

export const TMUX_ACTIONS = ['start', 'send_keys', 'capture', 'stream', 'stop'] as const;

/** Pane size bounds (the reference's). */
const PANE_WIDTH = { min: 20, max: 500 };
const PANE_HEIGHT = { min: 10, max: 200 };

/** Keys that end a typed line; a blocking send puts its marker before them. */
const ENTER_KEYS = new Set(['Enter', 'C-m', 'KPEnter']);

/** Server-side `stream` cursor per slot (the reference keeps it with the session). */
const streamCursors = new WeakMap<object, number>();

function invalid(message: string): ToolResult {
  return toolFailure(400, message, { error_code: 'invalid_args' });
}

function numberArg(args: Record<string, unknown>, name: string, check: (n: number) => boolean, expected: string): number | undefined | ToolResult {
  const value = args[name];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'number' || !Number.isFinite(value) || !check(value)) return invalid(`Expected \`args.${name}\` to be ${expected}, got ${JSON.stringify(value)}`);
  return value;
}

const clamp = (n: number, { min, max }: { min: number; max: number }): number => Math.max(min, Math.min(max, Math.round(n)));

/**
 * The `tmux` tool on the slot's terminal session (the one `bash_stateful` types into):
 * `start {pane_width?, pane_height?}`, `send_keys {keys, block?, min_wait_s?, max_wait_s?}`,
 * `capture {capture_entire?}`, `stream {offset?, max_bytes?, reset?}` and `stop`; no action means
 * `capture`, as in the reference.
 */
export async function tmuxTool(args: Record<string, unknown>, timeoutSeconds: number, context: StatefulContext): Promise<ToolResult> {
  const action = args.action === undefined || args.action === null ? 'capture' : args.action;
  if (typeof action !== 'string') return invalid(`Expected \`args.action\` to be one of ${TMUX_ACTIONS.join(', ')}, got ${JSON.stringify(action)}`);
  const name = action.trim().toLowerCase();
  if (!(TMUX_ACTIONS as readonly string[]).includes(name)) {
    return toolFailure(400, `Unknown tmux action: ${action} (actions: ${TMUX_ACTIONS.join(', ')})`, { error_code: 'unknown_action', actions: [...TMUX_ACTIONS] });
  }
  if (name === 'stop') {
    const stopped = await context.sessions.stop(context.slotId);
    return toolSuccess('stopped', { stateful: true, was_running: stopped });
  }

  const pane: { paneWidth?: number; paneHeight?: number } = {};
  if (name === 'start') {
    for (const [arg, key, bounds] of [['pane_width', 'paneWidth', PANE_WIDTH], ['pane_height', 'paneHeight', PANE_HEIGHT]] as const) {
      const value = numberArg(args, arg, (n) => n > 0, 'a positive number of cells');
      if (isToolResult(value)) return value;
      if (value !== undefined) pane[key] = clamp(value, bounds);
    }
  }
  const got = await sessionFor(args, context, pane);
  if ('response' in got) return got;
  const { session, restarted, allowNetwork } = got;
  const notice = restartNotice(restarted);
  const base = { ...sessionMetadata(context, allowNetwork), ...(restarted ? { session_restarted: restarted } : {}) };

  switch (name) {
    case 'start': {
      const width = pane.paneWidth ?? session.settings.paneWidth;
      const height = pane.paneHeight ?? session.settings.paneHeight;
      if ((width !== session.settings.paneWidth || height !== session.settings.paneHeight) && !(await session.resize(width, height))) {
        return toolFailure(200, `tmux could not resize the pane to ${width}x${height}`, base);
      }
      streamCursors.set(session, 0);
      return toolSuccess(`${notice}started`, { ...base, pane_width: session.settings.paneWidth, pane_height: session.settings.paneHeight, socket: 'tmux.sock', session: SESSION_NAME, recording: 'pane' });
    }
    case 'send_keys':
      return sendKeys(args, timeoutSeconds, context, session, { notice, base });
    case 'capture': {
      const entire = booleanArg(args, 'capture_entire');
      if (isToolResult(entire)) return entire;
      const captured = await session.capture(entire ?? false);
      if (!captured.ok) return toolFailure(200, `tmux capture-pane failed: ${captured.text}`, base);
      const { text, truncated } = capText(captured.text, context.maxOutputChars);
      return toolSuccess(`${notice}${text}`, { ...base, capture_entire: entire ?? false, truncated });
    }
    default:
      return stream(args, context, session, { notice, base });
  }
}

type Session = Awaited<ReturnType<StatefulContext['sessions']['ensure']>>['session'];
interface Framing {
  notice: string;
  base: Record<string, unknown>;
}

async function sendKeys(args: Record<string, unknown>, timeoutSeconds: number, context: StatefulContext, session: Session, { notice, base }: Framing): Promise<ToolResult> {
  const { keys } = args;
  let list: string[];
  if (typeof keys === 'string') list = [keys];
  else if (Array.isArray(keys) && keys.every((key) => typeof key === 'string')) list = [...(keys as string[])];
  else return invalid(`tmux send_keys requires \`args.keys\` as a string or a list of strings, got ${JSON.stringify(keys)}`);
  const block = booleanArg(args, 'block');
  if (isToolResult(block)) return block;
  const minWait = numberArg(args, 'min_wait_s', (n) => n >= 0, 'a number of seconds >= 0');
  if (isToolResult(minWait)) return minWait;
  const maxWait = numberArg(args, 'max_wait_s', (n) => n > 0, 'a positive number of seconds');
  if (isToolResult(maxWait)) return maxWait;
  const maxWaitSeconds = Math.min(maxWait ?? timeoutSeconds, timeoutSeconds);
  const minWaitMs = Math.min(minWait ?? 0, timeoutSeconds) * 1000;
  const started = performance.now();

  if (!block) {
    const sent = await session.sendKeys(list);
    if (!sent.ok) return toolFailure(200, `tmux send-keys failed: ${sent.error}`, base);
    if (minWaitMs > 0) await sleep(minWaitMs, context.signal);
    return toolSuccess(`${notice}ok`, { ...base, blocked: false });
  }
  // Blocking assumes a shell prompt (not a full-screen program): the typed line gets a marker
  // command after it (Enter is added), and the call waits until the shell prints it, i.e. is idle again.
  while (list.length > 0 && ENTER_KEYS.has(list.at(-1)!)) list.pop();
  const nonce = markerNonce();
  const watch = session.waitForMarker('k', nonce);
  const timer = setTimeout(() => watch.cancel(), maxWaitSeconds * 1000);
  const onAbort = (): void => watch.cancel();
  context.signal.addEventListener('abort', onAbort, { once: true });
  try {
    const marker = `printf '\\033]hpcsb;k;${nonce}\\007'`;
    let sent = await session.sendKeys(list);
    if (list.length === 0) {
      // Only Enter: the line already typed runs, then the marker as a line of its own.
      if (sent.ok) sent = await session.sendKeys(['Enter']);
      if (sent.ok) sent = await session.sendKeys([` ${marker}`], true);
    } else {
      // On the same line, so a program started there (a REPL) does not read the marker as input.
      const joiner = /[;&|]\s*$/.test(list.at(-1)!) ? ' ' : '; ';
      if (sent.ok) sent = await session.sendKeys([`${joiner}${marker}`], true);
    }
    if (sent.ok) sent = await session.sendKeys(['Enter']);
    if (!sent.ok) {
      watch.cancel();
      return toolFailure(200, `tmux send-keys failed: ${sent.error}`, base);
    }
    const seen = await watch.done;
    if (seen === undefined) {
      const pane = await session.capture(false);
      const ended = session.endedBecause;
      await context.sessions.stop(context.slotId, ended && ended !== 'stopped' ? `the previous session ended: ${ended}` : 'the previous session was ended when blocked keys ran past their wait');
      const screen = `${notice}${capText(pane.text.trimEnd(), context.maxOutputChars).text}`;
      if (context.signal.aborted) {
        const why = context.signal.reason instanceof Error ? context.signal.reason.message : 'the slot was reset or the server is shutting down';
        return toolFailure(200, `tmux blocked keys killed: ${why}`, { ...base, blocked: true, killed: true, session_stopped: true }, screen);
      }
      if (ended && ended !== 'stopped') return toolFailure(200, `The terminal session ended while keys were blocking: ${ended}`, { ...base, blocked: true, session_ended: ended }, screen);
      return toolFailure(200, `tmux blocked keys timed out after ${maxWaitSeconds}s (the terminal session was ended; the next call starts a new one)`, { ...base, blocked: true, timeout: true, session_stopped: true }, screen);
    }
  } finally {
    clearTimeout(timer);
    context.signal.removeEventListener('abort', onAbort);
  }
  const left = minWaitMs - (performance.now() - started);
  if (left > 0) await sleep(left, context.signal);
  return toolSuccess(`${notice}ok`, { ...base, blocked: true });
}

function stream(args: Record<string, unknown>, context: StatefulContext, session: Session, { base }: Framing): ToolResult {
  const reset = booleanArg(args, 'reset');
  if (isToolResult(reset)) return reset;
  const offset = numberArg(args, 'offset', (n) => Number.isInteger(n) && n >= 0, 'a byte offset (an integer >= 0)');
  if (isToolResult(offset)) return offset;
  const maxBytesArg = numberArg(args, 'max_bytes', (n) => n > 0, 'a positive number of bytes');
  if (isToolResult(maxBytesArg)) return maxBytesArg;
  const maxBytes = clamp(maxBytesArg ?? context.maxOutputChars, { min: 1, max: context.maxOutputChars * 4 });
  if (reset) streamCursors.set(session, 0);
  const from = offset ?? streamCursors.get(session) ?? 0;
  const { recording } = session;
  const read = recording.read(from, maxBytes);
  streamCursors.set(session, read.next);
  // The output is exactly the recorded bytes from `start_offset`: a restart shows only in metadata.
  return toolSuccess(read.data.toString('utf8'), {
    ...base,
    stream: true,
    offset: read.next,
    start_offset: read.from,
    end_offset: recording.end,
    dropped_bytes: read.skipped,
    recording: 'pane',
  });
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done(): void {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}
