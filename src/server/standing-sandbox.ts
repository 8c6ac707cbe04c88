import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import type { Readable, Writable } from 'node:stream';
import type { NetworkMode } from '../protocol/types.js';
import { CappedBuffer, capturedOutput } from './capped-buffer.js';
import { killProcessTree } from './process-tree.js';
import type { CommandOutcome, OutputListener } from './run-command.js';
import { networkFor, spawnInSandbox, type SlotSandboxContext } from './sandbox-spawn.js';

/** The fd the agent reports each command's end on (3 carries the seccomp filter to bwrap). */
const CONTROL_FD = 4;

/**
 * The slot agent: the one program a standing sandbox runs (bash, started with `-c`, so no file
 * has to exist in the view). It reads frames `<nonce>\n<command>\0` from stdin (a command holds no
 * NUL: the protocol refuses one), runs each command in a fresh bash with /workspace as cwd, stdin
 * from /dev/null and none of the agent's own fds but stdout and stderr, waits for it, then
 * SIGKILLs every other process of the sandbox: inside the pid namespace `kill -1` reaches every
 * process the command left (background jobs, setsid, double forks, daemons) but neither the agent
 * itself nor bwrap's init (pid 1). The kill is repeated so a process forked while the first pass
 * ran is caught too. Then it writes the end marker (`\x1e<nonce>\x1e`) on stdout and stderr, so
 * the server knows it has read both streams to the end of this command (the order between pipes
 * is not kept), and `<nonce> <status>` on the control fd. The agent forks once per command.
 * Before the first command it writes `ready` on the control fd: the sandbox is up.
 */
export const AGENT_SCRIPT = `printf 'ready\\n' >&${CONTROL_FD}
while IFS= read -r nonce && IFS= read -r -d '' cmd; do
(cd /workspace && exec "$BASH" -c "$cmd") </dev/null 3<&- ${CONTROL_FD}>&-
status=$?
for pass in 1 2 3 4; do kill -KILL -1 2>/dev/null || break; done
printf '\\036%s\\036' "$nonce"
printf '\\036%s\\036' "$nonce" >&2
printf '%s %s\\n' "$nonce" "$status" >&${CONTROL_FD}
done`;

export interface StandingRunOptions {
  timeoutMs: number;
  /** Characters kept of stdout and, separately, of stderr. */
  maxOutputChars: number;
  /** Aborting kills the command (slot reset, server shutdown, client gone). */
  signal?: AbortSignal;
  onOutput?: OutputListener;
}

export interface StandingOutcome extends CommandOutcome {
  /** Set when the standing sandbox died under the command (killed from inside, pipes closed, failed to start): why. */
  sandboxDied?: string;
}

/**
 * One output stream of the agent for one command: keeps what fits the cap and finds the end
 * marker, holding back a tail that could be the start of it so no marker byte reaches the answer.
 */
class MarkedStream {
  readonly buffer: CappedBuffer;
  #held = Buffer.alloc(0);
  ended = false;
  constructor(
    private readonly name: 'stdout' | 'stderr',
    private readonly marker: Buffer,
    maxBytes: number,
    private readonly onOutput: OutputListener | undefined,
  ) {
    this.buffer = new CappedBuffer(maxBytes);
  }
  push(chunk: Buffer): void {
    if (this.ended) return;
    const data = this.#held.length > 0 ? Buffer.concat([this.#held, chunk]) : chunk;
    let keep = data.length;
    if (data.length >= this.marker.length && data.subarray(data.length - this.marker.length).equals(this.marker)) {
      keep = data.length - this.marker.length;
      this.ended = true;
    } else {
      // The longest tail of `data` that starts the marker waits for the next chunk.
      for (let k = Math.min(this.marker.length - 1, data.length); k > 0; k--) {
        if (data.subarray(data.length - k).equals(this.marker.subarray(0, k))) {
          keep = data.length - k;
          break;
        }
      }
    }
    this.#held = this.ended ? Buffer.alloc(0) : Buffer.from(data.subarray(keep));
    this.emit(data.subarray(0, keep));
  }
  /** What was held back, once no marker can come (the sandbox died). */
  flush(): void {
    this.emit(this.#held);
    this.#held = Buffer.alloc(0);
  }
  private emit(bytes: Buffer): void {
    if (bytes.length === 0) return;
    const kept = this.buffer.push(bytes);
    if (this.onOutput && kept.length > 0) this.onOutput(this.name, kept);
  }
}

/** The command in flight in an agent. */
interface PendingCommand {
  nonce: string;
  stdout: MarkedStream;
  stderr: MarkedStream;
  status?: number;
  /** Settles the command from what the agent said (end) or from the sandbox's death. */
  settle: (how: { died?: string }) => void;
}

/** One running agent: the spawned sandbox (pasta or bwrap) and its pipes. */
class Agent {
  readonly child: ChildProcess;
  pending: PendingCommand | undefined;
  /** Why this agent can take no more commands; undefined while it can. */
  deadBecause: string | undefined;
  /** Resolves once the sandbox exited and its pipes closed. */
  readonly closed: Promise<void>;
  /** Resolves once the agent runs inside the sandbox (or the sandbox died first). */
  readonly ready: Promise<void>;
  #markReady!: () => void;
  #isReady = false;
  /** What the sandbox printed while no command ran (bwrap or pasta refusing to start). */
  #idleStderr = '';
  #control = '';

  constructor(context: SlotSandboxContext, allowNetwork: boolean) {
    const program = [context.layout.shell, '-c', AGENT_SCRIPT, 'hpc-sandbox-agent'];
    this.child = spawnInSandbox(context, program, { allowNetwork, stdio: ['pipe', 'pipe', 'pipe', undefined, 'pipe'] });
    this.closed = new Promise((resolve) => this.child.once('close', () => resolve()));
    this.ready = new Promise((resolve) => (this.#markReady = resolve));
    const control = this.child.stdio[CONTROL_FD] as Readable;
    this.child.stdout!.on('data', (chunk: Buffer) => this.#onOutput('stdout', chunk));
    this.child.stderr!.on('data', (chunk: Buffer) => this.#onOutput('stderr', chunk));
    control.setEncoding('latin1').on('data', (text: string) => this.#onControl(text));
    control.on('end', () => this.#die('its control pipe closed'));
    (this.child.stdin as Writable).on('error', () => undefined);
    this.child.on('error', (error) => this.#die(`it could not be started: ${error.message}`));
    this.child.on('exit', (code, signal) => this.#die(`it exited (${signal ? `signal ${signal}` : `exit code ${code}`})`));
  }

  #onOutput(stream: 'stdout' | 'stderr', chunk: Buffer): void {
    const pending = this.pending;
    if (pending) {
      pending[stream].push(chunk);
      this.#settleIfDone();
    } else if (this.#idleStderr.length < 2_000) {
      this.#idleStderr += chunk.toString('utf8');
    }
  }

  #onControl(text: string): void {
    this.#control += text;
    let newline: number;
    while ((newline = this.#control.indexOf('\n')) !== -1) {
      const line = this.#control.slice(0, newline);
      this.#control = this.#control.slice(newline + 1);
      if (line === 'ready' && !this.#isReady) {
        this.#isReady = true;
        this.#markReady();
        continue;
      }
      const [nonce, status] = line.split(' ');
      const pending = this.pending;
      if (!pending || nonce !== pending.nonce || !/^\d+$/.test(status ?? '')) {
        this.kill(`it sent an unexpected control line (${JSON.stringify(line.slice(0, 80))})`);
        return;
      }
      pending.status = Number(status);
      this.#settleIfDone();
    }
  }

  /** A command is over once its status came and both streams reached its marker. */
  #settleIfDone(): void {
    const pending = this.pending;
    if (pending && pending.status !== undefined && pending.stdout.ended && pending.stderr.ended) pending.settle({});
  }

  #die(why: string): void {
    if (this.deadBecause !== undefined) return;
    this.deadBecause = why + (this.#idleStderr.trim() ? `: ${this.#idleStderr.trim()}` : '');
    this.#markReady();
    if (this.child.pid !== undefined) killProcessTree(this.child.pid);
    const pending = this.pending;
    if (pending) {
      // The streams may still hold the command's last output: read it before answering.
      void Promise.race([this.closed, new Promise((resolve) => setTimeout(resolve, 500))]).then(() => pending.settle({ died: this.deadBecause }));
    }
  }

  /** Kills the whole sandbox: the agent, bwrap, pasta and whatever ran inside. */
  kill(why: string): void {
    this.#die(why);
  }

  send(pending: PendingCommand, command: string): void {
    this.pending = pending;
    (this.child.stdin as Writable).write(`${pending.nonce}\n${command}\0`);
  }
}

/**
 * A slot's standing sandbox: one long-lived bwrap (behind pasta where it gives the network) with
 * exactly the identity, view, grants, limits and network a per-command spawn gets, in which the
 * slot agent forks each command. A command ends as it does in a sandbox of its own: every process
 * it started is killed when it exits. Timeout, abort (reset, shutdown, client gone) and the
 * agent's death kill the whole sandbox; the next command starts a new one.
 */
export class StandingSandbox {
  #agent: Agent | undefined;

  constructor(
    private readonly context: SlotSandboxContext,
    /** The network the sandbox is made with (as the per-command spawn would choose for it). */
    readonly allowNetwork = true,
  ) {}

  get network(): NetworkMode {
    return networkFor(this.context, this.allowNetwork);
  }

  /**
   * Starts the sandbox now unless one is running (so the next command finds it ready). Resolves
   * once its agent is up, or the sandbox died trying (the next command then says why).
   */
  start(): Promise<void> {
    if (this.#agent === undefined || this.#agent.deadBecause !== undefined) this.#agent = new Agent(this.context, this.allowNetwork);
    return this.#agent.ready;
  }

  /** Pid of the spawned sandbox (pasta or bwrap), for tests; undefined when none runs. */
  get pid(): number | undefined {
    return this.#agent?.deadBecause === undefined ? this.#agent?.child.pid : undefined;
  }

  /** Runs one command; the slot runs one call at a time, so one command is in flight at most. */
  run(command: string, options: StandingRunOptions): Promise<StandingOutcome> {
    const started = performance.now();
    if (options.signal?.aborted) {
      return Promise.resolve({ exitCode: -1, signal: null, stdout: '', stderr: '', timedOut: false, aborted: true, truncated: false, durationMs: 0 });
    }
    void this.start();
    const agent = this.#agent!;
    const nonce = randomBytes(12).toString('hex');
    const marker = Buffer.from(`\x1e${nonce}\x1e`, 'latin1');
    const maxBytes = options.maxOutputChars * 4 + 4;
    return new Promise((resolve) => {
      let timedOut = false;
      let aborted = false;
      let settled = false;
      const stdout = new MarkedStream('stdout', marker, maxBytes, options.onOutput);
      const stderr = new MarkedStream('stderr', marker, maxBytes, options.onOutput);
      const timer = setTimeout(() => {
        timedOut = true;
        agent.kill(`the command ran past its timeout of ${options.timeoutMs} ms`);
      }, options.timeoutMs);
      const onAbort = (): void => {
        aborted = true;
        agent.kill('the command was killed');
      };
      options.signal?.addEventListener('abort', onAbort, { once: true });
      const pending: PendingCommand = {
        nonce,
        stdout,
        stderr,
        settle: ({ died }) => {
          if (settled) return;
          settled = true;
          clearTimeout(timer);
          options.signal?.removeEventListener('abort', onAbort);
          agent.pending = undefined;
          if (died !== undefined) {
            stdout.flush();
            stderr.flush();
          }
          const outcome: StandingOutcome = {
            exitCode: died !== undefined ? -1 : pending.status!,
            signal: null,
            timedOut,
            aborted,
            ...capturedOutput(stdout.buffer, stderr.buffer, options.maxOutputChars, started),
          };
          if (died !== undefined && !timedOut && !aborted) outcome.sandboxDied = died;
          resolve(outcome);
        },
      };
      if (agent.deadBecause !== undefined) {
        pending.settle({ died: agent.deadBecause });
        return;
      }
      agent.send(pending, command);
    });
  }

  /** Kills the sandbox and everything in it, and waits until it is gone (reset, shutdown). */
  async stop(why = 'the standing sandbox was stopped'): Promise<void> {
    const agent = this.#agent;
    this.#agent = undefined;
    if (!agent) return;
    agent.kill(why);
    await Promise.race([agent.closed, new Promise((resolve) => setTimeout(resolve, 2_000))]);
  }
}
