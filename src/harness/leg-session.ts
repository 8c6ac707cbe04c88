import { CleanupStack } from '../common/cleanup-stack.js';
import { logger } from '../common/logger.js';
import type { Driver, SandboxSpec } from '../drivers/driver.js';
import { AbortedError, UnavailableError } from '../errors.js';
import type { PortRequest, Scheduler } from '../schedulers/scheduler.js';
import { runCheckUnderPolicy } from './check-policy.js';
import type { PlacedSandbox, SpecNeeds } from './checks/check.js';
import { findCheck } from './checks/registry.js';
import type { HarnessComponents, OpenedScheduler } from './components.js';
import type { RunEvents } from './events.js';
import { requiredButMissing, type Requirements } from './requirements.js';
import type { CheckResult, LegId, LegResult, LegState } from './results.js';
import { sandboxSpecFor, type ResolvedSuite, type SuiteCheck, type SuiteLeg } from './suite/load.js';

const log = logger('harness:runner');

/** A leg whose driver, scheduler and image are ready: what a check run or a benchmark places on. */
export interface PreparedLeg {
  leg: SuiteLeg;
  scheduler: Scheduler;
  /** The leg's driver, planning with `hostEnv` so allowlisted variables come from the run's environment. */
  driver: Driver;
  spec: SandboxSpec;
  ports: PortRequest;
  healthTimeoutMs: number;
  hostEnv: NodeJS.ProcessEnv;
  double: boolean;
  versions: { driver?: string; scheduler?: string };
}

/** What a leg takes from the run it belongs to (`SuiteRun` hands it to each leg it opens). */
export interface LegRun {
  readonly suite: ResolvedSuite;
  /** Host environment: allowlisted variables are read here. */
  readonly env: NodeJS.ProcessEnv;
  readonly requirements: Requirements;
  readonly components: HarnessComponents;
  readonly events: RunEvents;
  /** The run's signal: every check is cancelled with it. */
  readonly signal: AbortSignal;
  /** The scheduler of a leg, opened once per run. */
  scheduler(leg: LegId): Promise<OpenedScheduler>;
}

export interface OpenLegOptions {
  /** The checks the leg will run: their needs go into the leg's spec. */
  checks: readonly SuiteCheck[];
  /** Place the leg's main sandbox (and time its first exec); a benchmark places its own. */
  place: boolean;
  /** Cancels opening: the run's signal, joined with the caller's. */
  signal: AbortSignal;
  /** Called with the new session before it prepares, so the run can finish it when closed meanwhile. */
  onStart(session: LegSession): void;
  /** Called once the session has finished: the run forgets it. */
  onFinish(session: LegSession): void;
}

/** One leg of a run: its prepared runtime, its placed sandbox, its check results. */
export class LegSession {
  readonly leg: SuiteLeg;
  readonly #run: LegRun;
  readonly #checks: readonly SuiteCheck[];
  readonly #onFinish: (session: LegSession) => void;
  readonly #stack = new CleanupStack();
  readonly #started = performance.now();
  readonly #results: CheckResult[] = [];
  #state: 'opening' | 'ready' | 'skipped' | 'failed' = 'opening';
  #reason: string | undefined;
  #prepared: PreparedLeg | undefined;
  #sandbox: PlacedSandbox | undefined;
  #phasesMs: { placed?: number; healthy?: number; firstExec?: number } = {};
  #result: LegResult | undefined;
  #extra = 0;

  /**
   * Opens `leg` on `run`: prepares it (driver and scheduler detected, image ensured) and, when
   * `place` is true, places its sandbox, waits until it is healthy and times its first exec.
   * Publishes `leg:start` (and `leg:skip`). Never throws for a leg that cannot run: the session is
   * `skipped` (software missing, not required) or `failed` (required but missing, or the placement
   * failed), with the reason. Throws only `AbortedError`, after finishing the session.
   */
  static async open(run: LegRun, leg: SuiteLeg, options: OpenLegOptions): Promise<LegSession> {
    const session = new LegSession(run, leg, options.checks, options.onFinish);
    options.onStart(session);
    run.events.publish({ type: 'leg:start', leg });
    try {
      await session.#prepare(options.signal, options.place);
    } catch (error) {
      if (options.signal.aborted) {
        await session.finish().catch(() => undefined);
        throw new AbortedError(`leg ${leg.name}`, { cause: error });
      }
      session.fail(`setting up ${leg.name} failed: ${(error as Error).message}`);
    }
    if (session.state === 'skipped') run.events.publish({ type: 'leg:skip', leg, reason: session.reason ?? '' });
    return session;
  }

  private constructor(run: LegRun, leg: SuiteLeg, checks: readonly SuiteCheck[], onFinish: (session: LegSession) => void) {
    this.#run = run;
    this.leg = leg;
    this.#checks = checks;
    this.#onFinish = onFinish;
  }

  get state(): 'opening' | 'ready' | 'skipped' | 'failed' {
    return this.#state;
  }

  /** Why the leg is skipped or failed. */
  get reason(): string | undefined {
    return this.#reason;
  }

  /** The leg's driver, scheduler, spec and image, once ready. */
  get prepared(): PreparedLeg | undefined {
    return this.#prepared;
  }

  /** The leg's main sandbox, when placed. */
  get sandbox(): PlacedSandbox | undefined {
    return this.#sandbox;
  }

  /** The results of the checks run so far, in order. */
  get results(): readonly CheckResult[] {
    return this.#results;
  }

  async #prepare(signal: AbortSignal, place: boolean): Promise<void> {
    const run = this.#run;
    const { leg } = this;
    const driver = run.components.driver(leg.driver);
    const detection = await driver.detect({ signal });
    if (!detection.available) return this.#skip(detection.reason ?? `${leg.driver}: not available`);
    signal.throwIfAborted();
    const opened = await run.scheduler(leg);
    if (!opened.available) return this.#skip(opened.reason);
    signal.throwIfAborted();

    const needs = this.#checks.map((c) => findCheck(c.name)?.prepare?.(c.options as never) ?? {});
    const hostEnv = { ...run.env, ...Object.assign({}, ...needs.map((n: SpecNeeds) => n.hostEnv ?? {})) };
    const spec = withNeeds(sandboxSpecFor(run.suite, leg.driver), needs);
    try {
      spec.image = await run.components.ensureImage(driver, spec, signal);
    } catch (error) {
      if (error instanceof UnavailableError) return this.#skip(error.message);
      throw error;
    }
    const planning: Driver = {
      name: driver.name,
      detect: (options) => driver.detect(options),
      plan: (planSpec, options) => driver.plan(planSpec, { ...options, hostEnv }),
    };
    this.#prepared = {
      leg,
      scheduler: opened.scheduler,
      driver: planning,
      spec,
      ports: run.suite.ports,
      healthTimeoutMs: run.suite.sandbox.healthTimeoutMs,
      hostEnv,
      double: opened.double,
      versions: { driver: detection.version, scheduler: opened.version },
    };
    if (place) {
      this.#sandbox = await this.place({}, signal);
      const { timestamps } = this.#sandbox.placement;
      const since = (t: number | undefined) => (t === undefined ? undefined : t - timestamps.submitted);
      const first = await this.#sandbox.client.bash(0, 'true', { signal });
      if (first.exitCode !== 0) throw new Error(`the first command (true) in slot 0 failed: ${first.output || JSON.stringify(first.raw)}`);
      this.#phasesMs = {
        placed: since(timestamps.placed),
        healthy: since(timestamps.healthy),
        firstExec: since(performance.timeOrigin + performance.now()),
      };
    }
    this.#state = 'ready';
  }

  /**
   * Places a sandbox on this leg (healthy when returned); it is stopped when the leg finishes,
   * also on failure. `overrides` change the port request or parts of the spec.
   */
  async place(overrides: { ports?: PortRequest; spec?: Partial<SandboxSpec> }, signal: AbortSignal): Promise<PlacedSandbox> {
    const prepared = this.#prepared;
    if (!prepared) throw new Error(`leg ${this.leg.name} is not prepared`);
    const spec = { ...prepared.spec, ...overrides.spec };
    const ports = overrides.ports ?? prepared.ports;
    const name = `hpcsb-${this.#run.suite.name}-${this.leg.scheduler}-${this.leg.driver}${this.#extra++ ? `-${this.#extra}` : ''}`;
    log('[%s] placing %s (%s port)', this.leg.name, name, ports.mode);
    const placement = await prepared.scheduler.place({ driver: prepared.driver, spec, ports, name, signal });
    await this.#own(() => placement.stop(), name);
    await placement.waitUntilHealthy({ signal, timeoutMs: prepared.healthTimeoutMs });
    const client = this.#run.components.client(placement);
    await this.#own(() => client.close?.(), name);
    return { placement, client, spec, ports };
  }

  /**
   * Hands `cleanup` to the leg's stack. A check abandoned by its timeout or an abort may still be
   * placing after the leg finished: its placement is then stopped at once instead of leaking.
   */
  async #own(cleanup: () => unknown, name: string): Promise<void> {
    if (!this.#stack.disposed) {
      this.#stack.defer(cleanup);
      return;
    }
    await cleanup();
    throw new AbortedError(`placing ${name} on leg ${this.leg.name} (the leg had already finished)`);
  }

  /**
   * Runs one check against the leg's sandbox and records its result. A skipped leg gives a skipped
   * result, a leg that failed to set up a failed one. `signal` (e.g. the vitest test's) is joined
   * with the run's.
   */
  async runCheck(entry: SuiteCheck, signal?: AbortSignal): Promise<CheckResult> {
    const run = this.#run;
    const joined = signal ? AbortSignal.any([signal, run.signal]) : run.signal;
    let result: CheckResult;
    if (this.#state === 'skipped') {
      result = { check: entry.name, state: 'skipped', reason: this.#reason ?? 'leg skipped' };
    } else if (this.#state !== 'ready' || !this.#sandbox || !this.#prepared) {
      result = { check: entry.name, state: 'failed', durationMs: 0, error: { message: this.#reason ?? `leg ${this.leg.name} is not ready` } };
    } else {
      run.events.publish({ type: 'check:start', leg: this.leg, check: entry.name });
      result = await runCheckUnderPolicy({
        entry,
        check: findCheck(entry.name),
        site: {
          ...this.#sandbox,
          leg: { scheduler: this.leg.scheduler, driver: this.leg.driver },
          signal: joined,
          hostEnv: this.#prepared.hostEnv,
          placeSandbox: (overrides, checkSignal) => this.place(overrides, checkSignal),
        },
        requirements: run.requirements,
      });
    }
    this.#results.push(result);
    run.events.publish({ type: 'check:end', leg: this.leg, result });
    return result;
  }

  /** The leg cannot run here: skipped, or failed when HPC_SANDBOX_REQUIRE names it. */
  #skip(reason: string): void {
    if (this.#run.requirements.requiresLeg(this.leg)) {
      this.fail(requiredButMissing(this.leg, reason));
      return;
    }
    this.#state = 'skipped';
    this.#reason = reason;
  }

  /** Marks the leg failed with `reason` (setting up or benchmarking it went wrong). */
  fail(reason: string): void {
    this.#state = 'failed';
    this.#reason = reason;
  }

  /**
   * Stops everything the leg placed and returns its result (once; later calls return the same).
   * Publishes `leg:end`.
   */
  async finish(): Promise<LegResult> {
    if (this.#result) return this.#result;
    let cleanupError: unknown;
    try {
      await this.#stack.dispose();
    } catch (error) {
      cleanupError = error;
      log('[%s] clean-up failed: %s', this.leg.name, error);
    }
    this.#onFinish(this);
    const failedCheck = this.#results.some((r) => r.state === 'failed');
    let state: LegState = this.#state === 'skipped' ? 'skipped' : this.#state === 'failed' || failedCheck ? 'failed' : 'passed';
    let reason = this.#reason;
    if (cleanupError && state !== 'skipped') {
      state = 'failed';
      reason = `${reason ? `${reason}; ` : ''}clean-up failed: ${(cleanupError as Error).message}`;
    }
    const placement = this.#sandbox?.placement;
    this.#result = {
      leg: { scheduler: this.leg.scheduler, driver: this.leg.driver },
      name: this.leg.name,
      state,
      ...(reason ? { reason } : {}),
      ...(this.#prepared?.double ? { double: true } : {}),
      ...(this.#prepared ? { versions: this.#prepared.versions } : {}),
      ...(placement ? { placement: { id: placement.id, host: placement.host, port: placement.port, phasesMs: this.#phasesMs } } : {}),
      checks: [...this.#results],
      durationMs: Math.round(performance.now() - this.#started),
    };
    this.#run.events.publish({ type: 'leg:end', leg: this.leg, result: this.#result });
    return this.#result;
  }
}

/** Adds every selected check's variables and allowlist entries to the leg's spec. */
function withNeeds(spec: SandboxSpec, needs: SpecNeeds[]): SandboxSpec {
  for (const need of needs) {
    Object.assign(spec.env, need.env ?? {});
    for (const name of need.envAllowlist ?? []) if (!spec.envAllowlist.includes(name)) spec.envAllowlist.push(name);
  }
  return spec;
}
