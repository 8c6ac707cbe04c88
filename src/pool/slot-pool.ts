import { logger } from '../common/logger.js';
import { AbortedError, ConfigError, SandboxError } from '../errors.js';
import type { Placement, PlacementRequest, Scheduler } from '../schedulers/scheduler.js';
import { AcquireTimeoutError, PlacementLostError, PoolClosedError, type PoolCounts, SlotReleasedError } from './errors.js';
import { FifoQueue, FreeList } from './free-list.js';
import { slotId } from '../protocol/slot-id.js';
import { type Connect, type SandboxConnection, connectSandboxClient } from './sandbox-connection.js';
import { Slot, type SlotLease } from './slot.js';

const log = logger('pool');

export interface SlotPoolOptions {
  scheduler: Scheduler;
  /** What each placement runs (a function to vary it, e.g. a fresh signal). Slots per placement = `spec.slots`. */
  request: PlacementRequest | (() => PlacementRequest);
  /** Opens a client to a placement's server. @default `connectSandboxClient` (a SandboxClient) */
  connect?: Connect;
  /** Placements kept running even when idle. @default 1 */
  minPlacements?: number;
  /** Placements the pool may scale up to when acquires wait. @default 10 */
  maxPlacements?: number;
  /** Default time an acquire waits for a slot. @default 30_000 (Atropos `acquire_timeout`) */
  acquireTimeoutMs?: number;
  /** Interval of GET /health on every placement. @default 30_000 (Atropos) */
  healthIntervalMs?: number;
  /** Time one health check may take. @default 5_000 */
  healthTimeoutMs?: number;
  /** Consecutive failed health checks after which a placement is withdrawn and replaced. @default 2 */
  healthFailureThreshold?: number;
  /** A placement idle this long (all slots free) is stopped, down to `minPlacements`. @default 60_000 (Atropos) */
  scaleDownCooldownMs?: number;
  /** Time a new placement may take to become healthy. @default 120_000 (Atropos) */
  healthyTimeoutMs?: number;
  /** Wait after a failed placement before the next attempt (doubles up to 30 s). @default 1_000 */
  retryBackoffMs?: number;
}

/** A snapshot of the pool, for logs, tests and reports. */
export interface SlotPoolStats extends PoolCounts {
  /** Slots withheld after a failed reset. */
  quarantined: number;
  /** Placements withdrawn because they died or failed health checks. */
  lost: number;
  /** Placements stopped by scale-down. */
  scaledDown: number;
  /** Placements that failed to start. */
  failedStarts: number;
}

type SlotState = 'free' | 'busy' | 'resetting' | 'quarantined' | 'withdrawn';

class SlotRecord {
  state: SlotState = 'free';
  /** Id of the current lease; 0 when none. A handle is valid only while its lease id matches. */
  lease = 0;
  trajectoryId: string | undefined;
  constructor(
    readonly member: Member,
    readonly slotId: string,
  ) {}
}

/** A placement serving the pool, with its connection and slots. */
class Member {
  readonly slots: SlotRecord[] = [];
  readonly abort = new AbortController();
  withdrawn = false;
  busy = 0;
  lastActive = performance.now();
  healthFailures = 0;
  checking = false;
  constructor(
    readonly placement: Placement,
    readonly connection: SandboxConnection,
    slotCount: number,
  ) {
    for (let i = 0; i < slotCount; i++) this.slots.push(new SlotRecord(this, slotId(i)));
  }
}

interface Waiter {
  trajectoryId: string | undefined;
  settled: boolean;
  resolve(slot: Slot): void;
  reject(error: Error): void;
}

/**
 * Slots of sandbox servers, spread over placements a scheduler makes on demand: acquire a slot per
 * trajectory, run tools in it, release it (its workspace is reset). Scales between min and max
 * placements, checks health, and replaces placements that die. The pool knows placements and a
 * client, not drivers.
 *
 * @example
 * await using pool = new SlotPool({ scheduler, request: { driver: getDriver('process'), spec, ports: { mode: 'dynamic' } } });
 * await pool.start();
 * await using slot = await pool.acquire('traj-1');
 * const result = await slot.bash('echo hi');
 */
export class SlotPool implements AsyncDisposable {
  readonly #scheduler: Scheduler;
  readonly #request: () => PlacementRequest;
  readonly #connect: Connect;
  readonly #min: number;
  readonly #max: number;
  readonly #acquireTimeoutMs: number;
  readonly #healthTimeoutMs: number;
  readonly #healthFailureThreshold: number;
  readonly #cooldownMs: number;
  readonly #healthyTimeoutMs: number;
  readonly #retryBackoffMs: number;
  readonly #members = new Set<Member>();
  readonly #free = new FreeList<SlotRecord>((r) => r.state === 'free');
  readonly #waiters = new FifoQueue<Waiter>();
  readonly #closing = new AbortController();
  readonly #stopping = new Set<Promise<unknown>>();
  readonly #timers: NodeJS.Timeout[] = [];
  #freeCount = 0;
  #waiting = 0;
  #starting = 0;
  #leaseCounter = 0;
  #closed = false;
  #lastFailure: string | undefined;
  #consecutiveFailures = 0;
  #retryTimer: NodeJS.Timeout | undefined;
  #stats = { quarantined: 0, lost: 0, scaledDown: 0, failedStarts: 0 };
  #started: Promise<void> | undefined;

  constructor(options: SlotPoolOptions) {
    this.#scheduler = options.scheduler;
    const request = options.request;
    this.#request = typeof request === 'function' ? request : () => request;
    this.#connect = options.connect ?? connectSandboxClient;
    this.#min = options.minPlacements ?? 1;
    this.#max = options.maxPlacements ?? 10;
    if (!(Number.isInteger(this.#min) && this.#min >= 0)) {
      throw new ConfigError(`Expected the \`minPlacements\` option to be a non-negative integer, got \`${this.#min}\``);
    }
    if (!(Number.isInteger(this.#max) && this.#max >= Math.max(1, this.#min))) {
      throw new ConfigError(`Expected the \`maxPlacements\` option to be an integer >= max(1, minPlacements), got \`${this.#max}\``);
    }
    this.#acquireTimeoutMs = options.acquireTimeoutMs ?? 30_000;
    this.#healthTimeoutMs = options.healthTimeoutMs ?? 5_000;
    this.#healthFailureThreshold = options.healthFailureThreshold ?? 2;
    this.#cooldownMs = options.scaleDownCooldownMs ?? 60_000;
    this.#healthyTimeoutMs = options.healthyTimeoutMs ?? 120_000;
    this.#retryBackoffMs = options.retryBackoffMs ?? 1_000;
    const healthIntervalMs = options.healthIntervalMs ?? 30_000;
    const health = setInterval(() => this.#checkAllHealth(), healthIntervalMs);
    const scaleDown = setInterval(() => this.#scaleDown(), Math.max(50, Math.min(this.#cooldownMs / 4, 5_000)));
    for (const t of [health, scaleDown]) {
      t.unref();
      this.#timers.push(t);
    }
  }

  /**
   * Places `minPlacements` and waits until they serve. Optional: acquire() starts the pool too.
   * Rejects when none of them could start.
   */
  start(): Promise<void> {
    this.#started ??= (async () => {
      const wanted = this.#min - this.#members.size - this.#starting;
      const starts = Array.from({ length: Math.max(0, wanted) }, () => this.#addPlacement());
      const results = await Promise.all(starts);
      if (results.length > 0 && results.every((ok) => !ok)) {
        throw new SandboxError('HPCSB_PLACEMENT_FAILED', `SlotPool could not start any of its ${results.length} placements: ${this.#lastFailure}`);
      }
    })();
    return this.#started;
  }

  /** Current counts. */
  stats(): SlotPoolStats {
    let slots = 0;
    let busy = 0;
    for (const m of this.#members) {
      slots += m.slots.length;
      busy += m.busy;
    }
    return {
      placements: this.#members.size,
      starting: this.#starting,
      slots,
      free: this.#freeCount,
      busy,
      waiting: this.#waiting,
      ...this.#stats,
    };
  }

  /** Placements serving the pool. */
  get placements(): Placement[] {
    return [...this.#members].map((m) => m.placement);
  }

  /**
   * A free slot, for one holder only until it is released. Waits (scaling up when it may) up to
   * `timeoutMs`, then fails with `AcquireTimeoutError` saying how many slots exist and are busy.
   */
  acquire(trajectoryId?: string, options: { timeoutMs?: number; signal?: AbortSignal } = {}): Promise<Slot> {
    if (this.#closed) return Promise.reject(new PoolClosedError('acquire'));
    const record = this.#free.pop();
    if (record) {
      this.#freeCount--;
      return Promise.resolve(this.#lease(record, trajectoryId));
    }
    return this.#wait(trajectoryId, options.timeoutMs ?? this.#acquireTimeoutMs, options.signal);
  }

  /** Acquires a slot, runs `fn` with it and releases it (with reset) whatever `fn` does. */
  async withSlot<T>(trajectoryId: string | undefined, fn: (slot: Slot) => Promise<T>, options?: { timeoutMs?: number; signal?: AbortSignal }): Promise<T> {
    const slot = await this.acquire(trajectoryId, options);
    try {
      return await fn(slot);
    } finally {
      await slot.release();
    }
  }

  #wait(trajectoryId: string | undefined, timeoutMs: number, signal: AbortSignal | undefined): Promise<Slot> {
    return new Promise<Slot>((resolve, reject) => {
      if (signal?.aborted) return reject(new AbortedError('Acquiring a slot', { cause: signal.reason }));
      let timer: NodeJS.Timeout | undefined;
      const onAbort = () => cancel(new AbortedError('Acquiring a slot', { cause: signal?.reason }));
      const finish = () => {
        waiter.settled = true;
        this.#waiting--;
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
      };
      const cancel = (error: Error) => {
        if (waiter.settled) return;
        finish();
        reject(error);
      };
      const waiter: Waiter = {
        trajectoryId,
        settled: false,
        resolve: (slot) => {
          finish();
          resolve(slot);
        },
        reject: cancel,
      };
      timer = setTimeout(
        () => cancel(new AcquireTimeoutError(trajectoryId, timeoutMs, this.stats(), this.#lastFailure, this.#max)),
        timeoutMs,
      );
      signal?.addEventListener('abort', onAbort, { once: true });
      this.#waiters.push(waiter);
      this.#waiting++;
      this.#scale();
    });
  }

  #lease(record: SlotRecord, trajectoryId: string | undefined): Slot {
    const leaseId = ++this.#leaseCounter;
    record.state = 'busy';
    record.lease = leaseId;
    record.trajectoryId = trajectoryId;
    const member = record.member;
    member.busy++;
    member.lastActive = performance.now();
    const lease: SlotLease = {
      slotId: record.slotId,
      placementId: member.placement.id,
      url: member.placement.url,
      trajectoryId,
      call: (what, fn, signal) => this.#call(record, leaseId, what, fn, signal),
      release: (reset) => this.#release(record, leaseId, reset),
    };
    return new Slot(lease);
  }

  async #call<T>(
    record: SlotRecord,
    leaseId: number,
    what: string,
    fn: (connection: SandboxConnection, signal: AbortSignal) => Promise<T>,
    signal: AbortSignal | undefined,
  ): Promise<T> {
    const member = record.member;
    if (record.lease !== leaseId) {
      if (member.abort.signal.aborted) throw member.abort.signal.reason;
      throw new SlotReleasedError(what);
    }
    if (member.abort.signal.aborted) throw member.abort.signal.reason;
    const callSignal = signal ? AbortSignal.any([member.abort.signal, signal]) : member.abort.signal;
    try {
      return await fn(member.connection, callSignal);
    } catch (error) {
      if (member.abort.signal.aborted) throw member.abort.signal.reason;
      // A failing call is the earliest hint that the placement died: check it now, not at the next tick.
      if (!signal?.aborted) void this.#checkHealth(member);
      throw error;
    }
  }

  /** Hands `record` to the oldest waiter, else back to the free list. */
  #offer(record: SlotRecord): void {
    record.state = 'free';
    for (;;) {
      const waiter = this.#waiters.shift();
      if (!waiter) break;
      if (waiter.settled) continue;
      waiter.resolve(this.#lease(record, waiter.trajectoryId));
      return;
    }
    this.#free.push(record);
    this.#freeCount++;
  }

  async #release(record: SlotRecord, leaseId: number, reset: boolean): Promise<void> {
    if (record.lease !== leaseId) return; // withdrawn with its placement meanwhile
    const member = record.member;
    record.lease = 0;
    record.trajectoryId = undefined;
    member.busy--;
    member.lastActive = performance.now();
    if (!reset) {
      this.#offer(record);
      return;
    }
    record.state = 'resetting';
    try {
      await member.connection.reset(record.slotId, { signal: member.abort.signal });
    } catch (error) {
      if (member.withdrawn) return;
      // A workspace that could not be emptied must not reach the next trajectory.
      record.state = 'quarantined';
      this.#stats.quarantined++;
      log('[%s] reset of %s failed, slot quarantined: %s', member.placement.id, record.slotId, (error as Error).message);
      void this.#checkHealth(member);
      return;
    }
    if (record.state !== 'resetting') return; // withdrawn during the reset
    this.#offer(record);
  }

  /** Starts placements while fewer than `minPlacements` exist or acquires wait for slots that are not coming. */
  #scale(): void {
    if (this.#closed || this.#retryTimer) return;
    for (;;) {
      const total = this.#members.size + this.#starting;
      if (total >= this.#max) return;
      const incoming = this.#starting * this.#slotsPerPlacement();
      const needed = total < this.#min || this.#waiting > incoming;
      if (!needed) return;
      void this.#addPlacement();
    }
  }

  #slotsPerPlacement(): number {
    return Math.max(1, this.#request().spec.slots);
  }

  /** Places one more sandbox and adds its slots; false when it failed (the reason is kept for errors). */
  async #addPlacement(): Promise<boolean> {
    this.#starting++;
    let placement: Placement | undefined;
    try {
      const request = this.#request();
      const signal = request.signal ? AbortSignal.any([request.signal, this.#closing.signal]) : this.#closing.signal;
      placement = await this.#scheduler.place({ ...request, signal });
      await placement.waitUntilHealthy({ signal, timeoutMs: this.#healthyTimeoutMs });
      if (this.#closed) throw new PoolClosedError('placing a sandbox');
      const member = new Member(placement, this.#connect(placement), request.spec.slots);
      this.#members.add(member);
      this.#consecutiveFailures = 0;
      this.#lastFailure = undefined;
      void placement.exited.then((exit) => this.#withdraw(member, `exited: ${exit.reason}`, 'lost'));
      log('[%s] serving %d slots at %s', placement.id, member.slots.length, placement.url);
      this.#starting--;
      for (const record of member.slots) this.#offer(record);
      this.#scale();
      return true;
    } catch (error) {
      this.#starting--;
      if (placement) this.#track(placement.stop());
      if (this.#closed) return false;
      this.#stats.failedStarts++;
      this.#consecutiveFailures++;
      this.#lastFailure = (error as Error).message;
      log('placement failed (%d in a row): %s', this.#consecutiveFailures, this.#lastFailure);
      const backoff = Math.min(30_000, this.#retryBackoffMs * 2 ** (this.#consecutiveFailures - 1));
      this.#retryTimer ??= setTimeout(() => {
        this.#retryTimer = undefined;
        this.#scale();
      }, backoff);
      this.#retryTimer.unref();
      return false;
    }
  }

  /** Takes a placement out of service: its slots vanish, in-flight calls fail, and it is stopped. */
  #withdraw(member: Member, reason: string, why: 'lost' | 'scaled-down' | 'closed'): void {
    if (member.withdrawn) return;
    member.withdrawn = true;
    this.#members.delete(member);
    for (const record of member.slots) {
      if (record.state === 'free') this.#freeCount--;
      record.state = 'withdrawn';
      record.lease = 0;
    }
    const error = why === 'closed' ? new PoolClosedError(`Call on ${member.placement.id}`) : new PlacementLostError(member.placement.id, reason);
    member.abort.abort(error);
    if (why === 'lost') this.#stats.lost++;
    if (why === 'scaled-down') this.#stats.scaledDown++;
    log('[%s] withdrawn (%s): %s', member.placement.id, why, reason);
    this.#track(member.connection.close().catch(() => undefined));
    this.#track(member.placement.stop());
    if (this.#free.capacity > 4 * (this.#freeCount + 64)) this.#free.compact();
    if (why === 'lost') this.#scale();
  }

  async #checkHealth(member: Member): Promise<void> {
    if (member.withdrawn || member.checking) return;
    member.checking = true;
    try {
      const signal = AbortSignal.any([member.abort.signal, AbortSignal.timeout(this.#healthTimeoutMs)]);
      await member.connection.health({ signal });
      member.healthFailures = 0;
    } catch (error) {
      if (member.withdrawn) return;
      member.healthFailures++;
      const status = await member.placement.status().catch(() => 'unknown');
      log('[%s] health check failed (%d): %s', member.placement.id, member.healthFailures, (error as Error).message);
      if (status === 'exited' || member.healthFailures >= this.#healthFailureThreshold) {
        this.#withdraw(member, `health check failed ${member.healthFailures}x: ${(error as Error).message}`, 'lost');
      }
    } finally {
      member.checking = false;
    }
  }

  #checkAllHealth(): void {
    for (const member of this.#members) void this.#checkHealth(member);
  }

  #scaleDown(): void {
    if (this.#closed || this.#waiting > 0) return;
    const now = performance.now();
    for (const member of this.#members) {
      if (this.#members.size <= this.#min) return;
      if (member.busy === 0 && now - member.lastActive >= this.#cooldownMs) {
        this.#withdraw(member, `idle for ${Math.round(now - member.lastActive)}ms`, 'scaled-down');
      }
    }
  }

  #track(promise: Promise<unknown>): void {
    const tracked = promise.catch((error) => log('stop failed: %s', (error as Error).message));
    this.#stopping.add(tracked);
    void tracked.finally(() => this.#stopping.delete(tracked));
  }

  /** Stops every placement; waiting acquires and in-flight calls fail with `PoolClosedError`. Idempotent. */
  async close(): Promise<void> {
    if (!this.#closed) {
      this.#closed = true;
      for (const t of this.#timers) clearInterval(t);
      clearTimeout(this.#retryTimer);
      this.#closing.abort(new PoolClosedError('Placing a sandbox'));
      for (let w = this.#waiters.shift(); w; w = this.#waiters.shift()) w.reject(new PoolClosedError('acquire'));
      for (const member of [...this.#members]) this.#withdraw(member, 'pool closed', 'closed');
    }
    // Placements still starting stop themselves once they see the pool closed.
    while (this.#stopping.size > 0 || this.#starting > 0) {
      await Promise.all([...this.#stopping]);
      if (this.#starting > 0) await new Promise((resolve) => setTimeout(resolve, 10));
    }
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}
