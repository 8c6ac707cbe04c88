import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { chown, mkdir, rm, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { killProcessTree } from '../process-tree.js';
import { spawnInSandbox, type SlotSandboxContext } from '../sandbox-spawn.js';
import { Recording } from './recording.js';
import { TmuxControl, tmuxQuote } from './tmux-control.js';

/** Where a session's runtime directory (tmux socket, command files) appears inside its sandbox. */
export const SESSION_DIR_INSIDE = '/run/hpc-sandbox';

/** tmux's session name (the reference's `metadata.session`). */
export const SESSION_NAME = 's';

/** Pane size when `start` names none (the reference's). */
export const DEFAULT_PANE = { width: 120, height: 40 } as const;

/** Bytes of pane output `stream` can still reach (the newest). */
export const RECORDING_CAP_BYTES = 4 * 1024 * 1024;

/** How one session is set up; changing `allowNetwork` needs a new sandbox. */
export interface SessionSettings {
  allowNetwork: boolean;
  paneWidth: number;
  paneHeight: number;
}

/** What a session needs from the server: the slot's sandbox, tmux, and a private runtime directory. */
export interface SessionSpec {
  sandbox: SlotSandboxContext;
  tmuxPath: string;
  /** Host directory of this slot's session (socket, command files): recreated empty, never in the workspace. */
  runtimeDir: string;
  settings: SessionSettings;
}

/** How one `bash_stateful` command ended. */
export interface StatefulOutcome {
  exitCode: number | null;
  /** What the command printed (raw terminal bytes, up to the cap). */
  raw: Buffer;
  truncated: boolean;
  timedOut: boolean;
  aborted: boolean;
  /** The session died during the command (its shell exited, tmux was killed): why. */
  ended?: string;
  durationMs: number;
}

/** Waits for a marker in the pane output: scans each chunk with a short tail of the previous one. */
interface MarkerWatch {
  onData(data: Buffer): void;
}

/**
 * An unguessable marker id. Web Crypto is reached through the global, so node:crypto is loaded on
 * the first stateful call rather than at every server boot.
 */
export function markerNonce(): string {
  return globalThis.crypto.randomUUID().replaceAll('-', '').slice(0, 16);
}

const MARK = (kind: string, nonce: string): Buffer => Buffer.from(`\x1b]hpcsb;${kind};${nonce}`);

/**
 * One slot's stateful terminal: a tmux server running in the foreground (`tmux -D`) inside its own
 * long-lived sandbox, started through spawnInSandbox like any command of the slot (its uid, view,
 * limits, seccomp filter and network), with one session whose pane runs the slot's shell at
 * /workspace. The server drives it from the host over the socket in the runtime directory (bound
 * into the sandbox at /run/hpc-sandbox), with a tmux client in control mode running as the slot's
 * uid (tmux admits only its own uid). `bash_stateful` types into that pane, so it and `tmux` share
 * one shell, as in the reference. Stopping kills the sandbox's whole process tree.
 */
export class TerminalSession {
  readonly recording = new Recording(RECORDING_CAP_BYTES);
  settings: SessionSettings;
  /** Why the session is gone, once it is. */
  endedBecause: string | undefined;
  readonly #spec: SessionSpec;
  readonly #server: ChildProcess;
  #control: TmuxControl | undefined;
  readonly #watches = new Set<MarkerWatch>();
  #serverStderr = '';

  private constructor(spec: SessionSpec, server: ChildProcess) {
    this.#spec = spec;
    this.settings = { ...spec.settings };
    this.#server = server;
    server.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
      if (this.#serverStderr.length < 4_000) this.#serverStderr += chunk;
    });
    server.once('error', (error) => this.#end(`its sandbox could not be started: ${error.message}`));
    server.once('exit', (code, signal) => this.#end(`its sandbox exited (${signal ?? `code ${code}`})${this.#serverStderr.trim() ? `: ${this.#serverStderr.trim()}` : ''}`));
  }

  /** Isolated: the session's sandbox is bwrap's (else the tmux server runs on the host as the slot's uid). */
  get sandboxed(): boolean {
    return this.#spec.sandbox.isolation.config !== undefined;
  }

  get alive(): boolean {
    return this.endedBecause === undefined;
  }

  /** The host path of the tmux socket. */
  get socketPath(): string {
    return join(this.#spec.runtimeDir, 'tmux.sock');
  }

  /** A runtime-directory file as the session's shell sees it. */
  #inside(name: string): string {
    return this.sandboxed ? `${SESSION_DIR_INSIDE}/${name}` : join(this.#spec.runtimeDir, name);
  }

  /** Starts the sandbox, the tmux server in it, the session and the control client; throws with what failed. */
  static async start(spec: SessionSpec): Promise<TerminalSession> {
    const { sandbox, runtimeDir } = spec;
    await rm(runtimeDir, { recursive: true, force: true });
    await mkdir(runtimeDir, { recursive: true, mode: 0o700 });
    if (sandbox.user) await chown(runtimeDir, sandbox.user.uid, sandbox.user.gid);
    const sandboxed = sandbox.isolation.config !== undefined;
    const socketInside = sandboxed ? `${SESSION_DIR_INSIDE}/tmux.sock` : join(runtimeDir, 'tmux.sock');
    // The runtime directory is one more grant of this sandbox only (read-write, outside /workspace).
    const context: SlotSandboxContext = { ...sandbox, layout: { ...sandbox.layout, grants: [...sandbox.layout.grants, { source: runtimeDir, dest: SESSION_DIR_INSIDE, mode: 'rw' }] } };
    const server = spawnInSandbox(context, [spec.tmuxPath, '-D', '-f', '/dev/null', '-S', socketInside], { allowNetwork: spec.settings.allowNetwork, stdio: ['ignore', 'ignore', 'pipe'] });
    const session = new TerminalSession(spec, server);
    try {
      await session.#waitForSocket(10_000);
      await session.#createSession();
      await session.#attach();
      await session.#waitForPrompt(5_000);
      return session;
    } catch (error) {
      await session.stop();
      throw error;
    }
  }

  async #waitForSocket(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (this.endedBecause) throw new Error(`the tmux server did not start: ${this.endedBecause}`);
      if (statSync(this.socketPath, { throwIfNoEntry: false })?.isSocket()) return;
      if (Date.now() > deadline) throw new Error(`the tmux server did not create its socket within ${timeoutMs} ms${this.#serverStderr ? `: ${this.#serverStderr.trim()}` : ''}`);
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
  }

  /** A host tmux client on the session's socket, as the slot's uid, with the slot's clean environment. */
  #client(args: string[], stdio: 'pipe' | 'ignore' = 'ignore'): ChildProcess {
    const { sandbox } = this.#spec;
    const identity = sandbox.user ? { uid: sandbox.user.uid, gid: sandbox.user.gid } : {};
    return spawn(this.#spec.tmuxPath, ['-S', this.socketPath, ...args], { env: sandbox.env, cwd: '/', stdio: [stdio, stdio === 'pipe' ? 'pipe' : 'ignore', 'pipe'], ...identity });
  }

  async #createSession(): Promise<void> {
    const { shell } = this.#spec.sandbox.layout;
    const { paneWidth, paneHeight } = this.settings;
    const shellArgv = /(^|\/)bash$/.test(shell) ? [shell, '--noprofile', '--norc'] : [shell];
    const cwd = this.sandboxed ? '/workspace' : this.#spec.sandbox.slotDir;
    // History survives only in memory (no file in the workspace); a leading space keeps our own lines out of it.
    const env = ['PS1=$ ', 'HISTFILE=/dev/null', 'HISTCONTROL=ignorespace'].flatMap((entry) => ['-e', entry]);
    const args = [
      ...['set-option', '-g', 'history-limit', '10000', ';'],
      ...['new-session', '-d', '-s', SESSION_NAME, '-x', String(paneWidth), '-y', String(paneHeight), '-c', cwd, ...env, '--', ...shellArgv, ';'],
      // No `window-size manual`: tmux 3.3a crashes with it (seen here); the control client, which
      // never sets a size, does not resize the window anyway, and resize-window fixes a size.
      ...['set-option', '-g', 'status', 'off', ';', 'set-option', '-s', 'escape-time', '0'],
    ];
    const child = this.#client(args);
    let stderr = '';
    child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    const code = await new Promise<number | string | null>((resolve) => {
      child.once('error', (error) => resolve(error.message));
      child.once('close', (exit, signal) => resolve(exit ?? signal));
    });
    if (code !== 0) throw new Error(`tmux new-session failed (${code}): ${stderr.trim()}`);
  }

  async #attach(): Promise<void> {
    const child = this.#client(['-C', 'attach-session', '-t', SESSION_NAME], 'pipe');
    child.stderr!.resume();
    this.#control = new TmuxControl(
      child,
      (_pane, data) => {
        this.recording.append(data);
        for (const watch of this.#watches) watch.onData(data);
      },
      (why) => this.#end(why),
    );
    const reply = await this.#control.command(`display-message -p -t ${SESSION_NAME} ok`);
    if (!reply.ok) throw new Error(`the tmux control client could not attach: ${reply.lines.join(' ')}`);
  }

  /** The shell is ready once its prompt moved the cursor; commands typed earlier would be echoed twice. */
  async #waitForPrompt(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline && this.alive) {
      const reply = await this.command(`display-message -p -t ${SESSION_NAME} '#{cursor_x}'`);
      if (reply.ok && reply.lines[0] !== '0') return;
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
  }

  /** Sends one tmux command (arguments quoted by the caller) over the control connection. */
  command(line: string): Promise<{ ok: boolean; lines: string[] }> {
    if (!this.#control) return Promise.resolve({ ok: false, lines: ['not attached'] });
    return this.#control.command(line);
  }

  #end(why: string): void {
    this.endedBecause ??= why;
    for (const watch of this.#watches) watch.onData(Buffer.alloc(0));
  }

  /** Types `keys` (tmux key names or literal text, as `send-keys`) into the session's active pane. */
  async sendKeys(keys: readonly string[], literal = false): Promise<{ ok: boolean; error: string }> {
    if (keys.length === 0) return { ok: true, error: '' };
    // `--`: a key such as "-R" is text to type, not a send-keys flag.
    const reply = await this.command(`send-keys -t ${SESSION_NAME}${literal ? ' -l' : ''} -- ${keys.map(tmuxQuote).join(' ')}`);
    return { ok: reply.ok, error: reply.lines.join('\n') };
  }

  /** The visible pane, or its whole scrollback (`entire`), as text. */
  async capture(entire: boolean): Promise<{ ok: boolean; text: string }> {
    const reply = await this.command(`capture-pane -p -t ${SESSION_NAME}${entire ? ' -S -' : ''}`);
    return { ok: reply.ok, text: reply.ok ? `${reply.lines.join('\n')}\n` : reply.lines.join('\n') };
  }

  async resize(width: number, height: number): Promise<boolean> {
    const reply = await this.command(`resize-window -t ${SESSION_NAME} -x ${width} -y ${height}`);
    if (reply.ok) this.settings = { ...this.settings, paneWidth: width, paneHeight: height };
    return reply.ok;
  }

  /**
   * Resolves when the pane prints `\e]hpcsb;<kind>;<nonce>...\a`, with the text between the marker
   * name and BEL; undefined when the session ends first. `between` receives everything printed
   * after `startKind` (when given) was seen and before the marker.
   */
  waitForMarker(kind: string, nonce: string, options: { startKind?: string; collect?: (data: Buffer) => void } = {}): { done: Promise<string | undefined>; cancel: () => void } {
    const end = MARK(kind, nonce);
    const start = options.startKind ? MARK(options.startKind, nonce) : undefined;
    let started = start === undefined;
    let tail = Buffer.alloc(0);
    let resolveDone!: (value: string | undefined) => void;
    const done = new Promise<string | undefined>((resolve) => (resolveDone = resolve));
    const watch: MarkerWatch = {
      onData: (data) => {
        if (data.length === 0 && !this.alive) return finish(undefined);
        // The tail holds only bytes not yet handed to `collect`.
        let buffer = tail.length > 0 ? Buffer.concat([tail, data]) : data;
        if (!started) {
          const at = buffer.indexOf(start!);
          if (at === -1) {
            tail = Buffer.from(buffer.subarray(Math.max(0, buffer.length - start!.length - 1)));
            return;
          }
          const bel = buffer.indexOf(7, at);
          if (bel === -1) {
            tail = Buffer.from(buffer.subarray(at));
            return;
          }
          started = true;
          buffer = buffer.subarray(bel + 1);
        }
        const at = buffer.indexOf(end);
        if (at !== -1) {
          const bel = buffer.indexOf(7, at);
          if (bel === -1) {
            if (at > 0) options.collect?.(buffer.subarray(0, at));
            tail = Buffer.from(buffer.subarray(at));
            return;
          }
          if (at > 0) options.collect?.(buffer.subarray(0, at));
          return finish(buffer.toString('latin1', at + end.length, bel));
        }
        // Hold back what could be the start of the end marker.
        const keep = Math.min(buffer.length, end.length + 24);
        const safe = buffer.length - keep;
        if (safe > 0) options.collect?.(buffer.subarray(0, safe));
        tail = Buffer.from(buffer.subarray(safe));
      },
    };
    const finish = (value: string | undefined): void => {
      this.#watches.delete(watch);
      resolveDone(value);
    };
    this.#watches.add(watch);
    if (!this.alive) finish(undefined);
    return { done, cancel: () => finish(undefined) };
  }

  /**
   * Runs `command` in the pane's shell as if typed there (cwd, variables, functions and jobs stay),
   * and waits for it up to `timeoutMs`. The command travels in a file the shell sources, so any
   * text (several lines, quotes, a trailing comment) runs unchanged; a wrapper file around it prints
   * begin and end markers (OSC sequences: invisible on the screen), the end one with `$?`.
   */
  async run(command: string, timeoutMs: number, maxBytes: number, signal: AbortSignal): Promise<StatefulOutcome> {
    const started = performance.now();
    const nonce = markerNonce();
    const userFile = join(this.#spec.runtimeDir, `u.${nonce}`);
    const wrapperFile = join(this.#spec.runtimeDir, `c.${nonce}`);
    // `wx`: never through a name the slot's processes made (the directory is theirs too); the nonce is unguessable.
    try {
      await writeFile(userFile, command, { mode: 0o644, flag: 'wx' });
      await writeFile(wrapperFile, `printf '\\033]hpcsb;b;${nonce}\\007'\n. ${this.#inside(`u.${nonce}`)}\nprintf '\\033]hpcsb;e;${nonce};%d\\007' "$?"\n`, { mode: 0o644, flag: 'wx' });
    } catch (error) {
      await unlink(userFile).catch(() => undefined);
      return { exitCode: null, raw: Buffer.alloc(0), truncated: false, timedOut: false, aborted: false, ended: `the command file could not be written to the session's runtime directory: ${(error as Error).message}`, durationMs: 0 };
    }
    const chunks: Buffer[] = [];
    let kept = 0;
    let truncated = false;
    const watch = this.waitForMarker('e', nonce, {
      startKind: 'b',
      collect: (data) => {
        if (kept >= maxBytes) {
          truncated = true;
          return;
        }
        const part = data.length > maxBytes - kept ? data.subarray(0, maxBytes - kept) : data;
        if (part.length < data.length) truncated = true;
        chunks.push(Buffer.from(part));
        kept += part.length;
      },
    });
    let timedOut = false;
    let aborted = false;
    const timer = setTimeout(() => {
      timedOut = true;
      watch.cancel();
    }, timeoutMs);
    const onAbort = (): void => {
      aborted = true;
      watch.cancel();
    };
    signal.addEventListener('abort', onAbort, { once: true });
    if (signal.aborted) onAbort();
    try {
      const typed = await this.sendKeys([` . ${this.#inside(`c.${nonce}`)}`, 'Enter']);
      if (!typed.ok) watch.cancel();
      const status = await watch.done;
      const exitCode = status === undefined ? null : Number(status.replace(/^;/, ''));
      const outcome: StatefulOutcome = { exitCode: Number.isInteger(exitCode) ? exitCode : null, raw: Buffer.concat(chunks), truncated, timedOut, aborted, durationMs: Math.round((performance.now() - started) * 100) / 100 };
      if (status === undefined && !timedOut && !aborted) outcome.ended = this.endedBecause ?? (typed.ok ? 'the session ended' : `tmux send-keys failed: ${typed.error}`);
      return outcome;
    } finally {
      clearTimeout(timer);
      signal.removeEventListener('abort', onAbort);
      await Promise.all([unlink(userFile).catch(() => undefined), unlink(wrapperFile).catch(() => undefined)]);
    }
  }

  /** Ends the session: the control client, then the sandbox's whole process tree, then the runtime directory. */
  async stop(): Promise<void> {
    this.#end('stopped');
    this.#control?.kill();
    const pid = this.#server.pid;
    if (pid !== undefined && this.#server.exitCode === null && this.#server.signalCode === null) {
      const exited = new Promise<void>((resolve) => this.#server.once('exit', () => resolve()));
      killProcessTree(pid);
      await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 2_000))]);
    } else if (pid !== undefined) {
      // The sandbox is gone; what it started outside a pid namespace (no bwrap) may not be.
      killProcessTree(pid);
    }
    if (existsSync(this.#spec.runtimeDir)) await rm(this.#spec.runtimeDir, { recursive: true, force: true }).catch(() => undefined);
  }
}
