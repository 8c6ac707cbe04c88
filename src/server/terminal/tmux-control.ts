import type { ChildProcess } from 'node:child_process';

/** One answer of tmux to a command sent in control mode: the lines between `%begin` and `%end`/`%error`. */
export interface ControlReply {
  ok: boolean;
  lines: string[];
}

/** Quotes one argument for a tmux command line: double quotes, with every control byte, `\`, `"` and `$` escaped. */
export function tmuxQuote(text: string): string {
  let out = '"';
  for (const ch of text) {
    const code = ch.codePointAt(0)!;
    if (ch === '\\' || ch === '"' || ch === '$') out += `\\${ch}`;
    else if (code < 0x20 || code === 0x7f) out += `\\${code.toString(8).padStart(3, '0')}`;
    else out += ch;
  }
  return `${out}"`;
}

/** `%output` data: bytes below 0x20 and `\` arrive as `\ooo` octal escapes, everything else raw. */
export function decodeOutput(escaped: Buffer): Buffer {
  if (!escaped.includes(0x5c)) return escaped;
  const out = Buffer.allocUnsafe(escaped.length);
  let n = 0;
  for (let i = 0; i < escaped.length; i++) {
    const byte = escaped[i]!;
    if (byte === 0x5c && isOctal(escaped[i + 1]) && isOctal(escaped[i + 2]) && isOctal(escaped[i + 3])) {
      out[n++] = ((escaped[i + 1]! - 48) << 6) | ((escaped[i + 2]! - 48) << 3) | (escaped[i + 3]! - 48);
      i += 3;
    } else {
      out[n++] = byte;
    }
  }
  return out.subarray(0, n);
}

function isOctal(byte: number | undefined): boolean {
  return byte !== undefined && byte >= 48 && byte <= 55;
}

const OUTPUT = Buffer.from('%output ');

/**
 * A tmux client in control mode (`tmux -C attach`), kept open for the life of a session: commands
 * travel as lines on its stdin and come back as `%begin`..`%end` blocks, and every byte a pane
 * prints arrives as a `%output` notification. One connection serves every call, so a call costs
 * no process start on the host (each `tmux` client invocation costs a few milliseconds).
 */
export class TmuxControl {
  readonly #child: ChildProcess;
  readonly #pending: Array<(reply: ControlReply) => void> = [];
  #block: { lines: string[]; ours: boolean; guard: string } | undefined;
  #rest: Buffer = Buffer.alloc(0);
  #closed = false;
  readonly #onOutput: (pane: string, data: Buffer) => void;
  readonly #onClose: (why: string) => void;

  /** `child` is a spawned `tmux -C ... attach` with stdin and stdout piped. */
  constructor(child: ChildProcess, onOutput: (pane: string, data: Buffer) => void, onClose: (why: string) => void) {
    this.#child = child;
    this.#onOutput = onOutput;
    this.#onClose = onClose;
    child.stdout!.on('data', (chunk: Buffer) => this.#read(chunk));
    child.stdin!.on('error', () => undefined);
    child.once('exit', (code, signal) => this.#close(`its tmux control client exited (${signal ?? `code ${code}`})`));
    child.once('error', (error) => this.#close(`its tmux control client failed: ${error.message}`));
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Sends one tmux command line (arguments already quoted) and resolves with tmux's answer. */
  command(line: string): Promise<ControlReply> {
    if (this.#closed) return Promise.resolve({ ok: false, lines: ['the tmux session is gone'] });
    return new Promise((resolve) => {
      this.#pending.push(resolve);
      this.#child.stdin!.write(`${line}\n`);
    });
  }

  /** Ends the control client (the tmux server and its session are stopped separately). */
  kill(): void {
    if (this.#child.exitCode === null && this.#child.signalCode === null) this.#child.kill('SIGKILL');
    this.#close('stopped');
  }

  #close(why: string): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const resolve of this.#pending.splice(0)) resolve({ ok: false, lines: [why] });
    this.#onClose(why);
  }

  #read(chunk: Buffer): void {
    let data = this.#rest.length > 0 ? Buffer.concat([this.#rest, chunk]) : chunk;
    let start = 0;
    for (let nl = data.indexOf(10, start); nl !== -1; nl = data.indexOf(10, start)) {
      this.#line(data.subarray(start, nl));
      start = nl + 1;
    }
    data = data.subarray(start);
    // A partial line waits for its end; copied, so the big chunk it came in can be freed.
    this.#rest = data.length > 0 ? Buffer.from(data) : Buffer.alloc(0);
  }

  #line(line: Buffer): void {
    if (this.#block) {
      const text = line.toString('utf8');
      // Only the `%end`/`%error` with the `%begin`'s own time, number and flags ends the block:
      // a captured pane line reading `%end ...` is output.
      if (text === `%end ${this.#block.guard}` || text === `%error ${this.#block.guard}`) {
        const { lines, ours } = this.#block;
        this.#block = undefined;
        if (ours) this.#pending.shift()?.({ ok: text.startsWith('%end '), lines });
        return;
      }
      this.#block.lines.push(text);
      return;
    }
    if (line.subarray(0, OUTPUT.length).equals(OUTPUT)) {
      const space = line.indexOf(32, OUTPUT.length);
      if (space === -1) return;
      this.#onOutput(line.toString('latin1', OUTPUT.length, space), decodeOutput(line.subarray(space + 1)));
      return;
    }
    const text = line.toString('utf8');
    if (text.startsWith('%begin ')) {
      // Flag 1: the command came from this client; 0: tmux's own (the attach itself).
      const flags = Number(text.split(' ')[3] ?? '0');
      this.#block = { lines: [], ours: (flags & 1) === 1, guard: text.slice('%begin '.length) };
    } else if (text.startsWith('%exit')) {
      this.#close(`tmux ended the session${text.length > 6 ? ` (${text.slice(6)})` : ''}`);
    }
  }
}
