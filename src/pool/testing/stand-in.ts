import type { Detection, DriverName } from '../../drivers/driver.js';
import type { Placement, PlacementExit, PlacementRequest, PlacementStatus, Scheduler } from '../../schedulers/scheduler.js';
import type { ExecuteRequest, ExecuteResponse, SandboxConnection } from '../sandbox-connection.js';

/**
 * In-memory stand-ins for a scheduler, its placements and their connections, so pool logic is
 * tested (and benchmarked) without processes: placements can be killed, made unhealthy, slowed down.
 * Not a mock of any library: a small fake that behaves like the real thing in what the pool uses.
 */
export class StandInPlacement implements Placement {
  readonly scheduler = 'local' as const;
  readonly driver: DriverName = 'process';
  readonly host = '127.0.0.1';
  readonly url: string;
  readonly timestamps = { submitted: Date.now() };
  readonly events = [];
  readonly exited: Promise<PlacementExit>;
  healthy = true;
  stopped = false;
  #exit: PlacementExit | undefined;
  #resolveExit!: (exit: PlacementExit) => void;

  constructor(
    readonly id: string,
    readonly port: number,
  ) {
    this.url = `http://127.0.0.1:${port}`;
    this.exited = new Promise((resolve) => (this.#resolveExit = resolve));
  }

  /** Simulates the sandbox dying. */
  kill(reason = 'killed by SIGKILL'): void {
    if (this.#exit) return;
    this.#exit = { exitCode: null, signal: 'SIGKILL', reason };
    this.healthy = false;
    this.#resolveExit(this.#exit);
  }

  get dead(): boolean {
    return this.#exit !== undefined;
  }

  async status(): Promise<PlacementStatus> {
    return this.#exit ? 'exited' : 'running';
  }
  async logs() {
    return { stdout: '', stderr: this.#exit ? `died: ${this.#exit.reason}` : '' };
  }
  async waitUntilHealthy(): Promise<void> {
    if (!this.healthy) throw new Error(`${this.id} is not healthy`);
  }
  async stop(): Promise<void> {
    this.stopped = true;
    this.kill('stopped');
  }
  [Symbol.asyncDispose](): Promise<void> {
    return this.stop();
  }
}

export interface StandInSchedulerOptions {
  /** Delay of place() (ms). @default 0 */
  placeDelayMs?: number;
}

export class StandInScheduler implements Scheduler {
  readonly name = 'local' as const;
  readonly placed: StandInPlacement[] = [];
  /** Number of next place() calls that fail. */
  failNext = 0;
  #port = 20_000;
  constructor(readonly options: StandInSchedulerOptions = {}) {}

  async detect(): Promise<Detection> {
    return { available: true, version: 'stand-in' };
  }
  async place(_request: PlacementRequest): Promise<Placement> {
    if (this.options.placeDelayMs) await new Promise((r) => setTimeout(r, this.options.placeDelayMs));
    if (this.failNext > 0) {
      this.failNext--;
      throw new Error('stand-in placement failed on purpose');
    }
    const placement = new StandInPlacement(`stand-in-${this.placed.length}`, this.#port++);
    this.placed.push(placement);
    return placement;
  }
  /** Placements not stopped nor dead. */
  get running(): StandInPlacement[] {
    return this.placed.filter((p) => !p.dead);
  }
  async close(): Promise<void> {
    await Promise.all(this.placed.map((p) => p.stop()));
  }
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

/** A connection to a `StandInPlacement`: answers from memory; `hang` keeps bash calls pending until aborted. */
export class StandInConnection implements SandboxConnection {
  readonly resets: string[] = [];
  failResets = false;
  closed = false;
  constructor(readonly placement: StandInPlacement) {}

  async health(): Promise<unknown> {
    if (!this.placement.healthy) throw new Error(`connect ECONNREFUSED ${this.placement.url}`);
    return { status: 'ok' };
  }

  async execute(request: ExecuteRequest, options: { signal: AbortSignal }): Promise<ExecuteResponse> {
    if (this.placement.dead) throw new Error(`connect ECONNREFUSED ${this.placement.url}`);
    const command = String((request.args as Record<string, unknown>).command ?? '');
    if (command === 'hang') {
      await new Promise((_, reject) => {
        options.signal.addEventListener('abort', () => reject(options.signal.reason), { once: true });
      });
    }
    return { success: true, output: `${this.placement.id}/${request.slot_id}: ${command}`, error: '', execution_id: request.execution_id ?? '', metadata: {} };
  }

  async batch(requests: ExecuteRequest[], options: { signal: AbortSignal }): Promise<ExecuteResponse[]> {
    return Promise.all(requests.map((r) => this.execute(r, options)));
  }

  async reset(slotId: string): Promise<void> {
    if (this.failResets || this.placement.dead) throw new Error(`reset of ${slotId} failed`);
    this.resets.push(slotId);
  }

  async close(): Promise<void> {
    this.closed = true;
  }
}
