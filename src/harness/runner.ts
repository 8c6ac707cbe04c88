import { CleanupStack } from '../common/cleanup-stack.js';
import { logger } from '../common/logger.js';
import type { Driver, SandboxSpec } from '../drivers/driver.js';
import { AbortedError, isSandboxError, UnavailableError } from '../errors.js';
import type { Placement, PortRequest, Scheduler, SchedulerName } from '../schedulers/scheduler.js';
import type { CheckContext, PlacedSandbox, SpecNeeds } from './checks/check.js';
import { findCheck } from './checks/registry.js';
import { defaultComponents, type HarnessComponents, type OpenedScheduler } from './components.js';
import { RunEvents, type RunEvent } from './events.js';
import { parseRequirements, requiredButMissing, type Requirements } from './requirements.js';
import {
  type CheckResult,
  type LegId,
  type LegResult,
  type LegState,
  type RunReport,
  type StartupSeries,
} from './results.js';
import { sandboxSpecFor, type ResolvedSuite, type SuiteCheck, type SuiteLeg } from './suite/load.js';
import { selectChecks, selectLegs } from './leg-selection.js';
import { buildReport } from './report-assembly.js';

// Part of the runner's public API since before the split.
export { buildReport, selectChecks, selectLegs };

const log = logger('harness:runner');

/** Longest a single check may run: a hung sandbox fails its check instead of hanging the run. */
export const CHECK_TIMEOUT_MS = 180_000;

export interface RunOptions {
  /** Cancels the run (Ctrl-C, test timeout): everything started is torn down, the report says aborted. */
  signal?: AbortSignal;
  /** Where progress events go. */
  events?: RunEvents;
  /** Host environment: `HPC_SANDBOX_REQUIRE`, `NOMAD_ADDR` and allowlisted variables are read here. @default process.env */
  env?: NodeJS.ProcessEnv;
  /** Runtime seams (drivers, schedulers, images, client). @default defaultComponents() */
  components?: HarnessComponents;
  /** Only these legs (`local x docker` or `local:docker`). @default every leg of the suite */
  legs?: readonly string[];
  /** Only these checks. @default every check of the suite */
  checks?: readonly string[];
  /** `bench` runs `benchmark` on each leg; `check` runs the checks. @default 'check' */
  command?: 'check' | 'bench';
  /** The startup benchmark of one prepared leg (the bench engineer's `benchmarkLeg`). */
  benchmark?: (leg: PreparedLeg, signal: AbortSignal) => Promise<StartupSeries[]>;
}

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

/**
 * One run of a suite: opens each scheduler once (booting what it needs), prepares and places legs,
 * runs checks, and tears everything down in `close()`. `runSuite` drives it for the CLI;
 * suites/readiness.test.ts drives the same methods from vitest, so both give the same verdicts.
 *
 * @example
 * await using run = new SuiteRun(suite, { signal });
 * const session = await run.openLeg(suite.legs[0]);
 * const result = await session.runCheck(suite.checks[0]);
 * await session.finish();
 */
export class SuiteRun implements AsyncDisposable {
  readonly suite: ResolvedSuite;
  readonly requirements: Requirements;
  readonly events: RunEvents;
  readonly env: NodeJS.ProcessEnv;
  readonly components: HarnessComponents;
  readonly signal: AbortSignal;
  readonly #controller = new AbortController();
  readonly #schedulers = new Map<string, Promise<OpenedScheduler>>();
  readonly #sessions = new Set<LegSession>();
  #closed = false;

  constructor(suite: ResolvedSuite, options: Omit<RunOptions, 'legs' | 'checks' | 'command' | 'benchmark'> = {}) {
    this.suite = suite;
    this.env = options.env ?? process.env;
    this.requirements = parseRequirements(this.env);
    this.events = options.events ?? new RunEvents();
    this.components = options.components ?? defaultComponents();
    this.signal = options.signal ? AbortSignal.any([options.signal, this.#controller.signal]) : this.#controller.signal;
  }

  publish(event: RunEvent): void {
    this.events.publish(event);
  }

  /**
   * Prepares `leg` (driver and scheduler detected, image ensured) and, when `place` is true,
   * places its sandbox and waits until it is healthy. Never throws for a leg that cannot run: the
   * session is `skipped` (software missing, not required) or `failed` (required but missing, or
   * the placement failed), with the reason. Throws only `AbortedError`.
   */
  async openLeg(leg: SuiteLeg, options: { place?: boolean; checks?: readonly SuiteCheck[]; signal?: AbortSignal } = {}): Promise<LegSession> {
    if (this.#closed) throw new AbortedError(`suite run ${this.suite.name} (already closed)`);
    const signal = options.signal ? AbortSignal.any([options.signal, this.signal]) : this.signal;
    const checks = options.checks ?? this.suite.checks;
    const session = new LegSession(this, leg, checks);
    this.#sessions.add(session);
    this.publish({ type: 'leg:start', leg });
    try {
      await session.open(signal, options.place ?? checks.length > 0);
    } catch (error) {
      if (signal.aborted) {
        await session.finish().catch(() => undefined);
        throw new AbortedError(`leg ${leg.name}`, { cause: error });
      }
      session.fail(`setting up ${leg.name} failed: ${(error as Error).message}`);
    }
    if (session.state === 'skipped') this.publish({ type: 'leg:skip', leg, reason: session.reason ?? '' });
    return session;
  }

  /** The scheduler of a leg, opened once per run and shared by legs with the same scheduler key. */
  scheduler(leg: LegId): Promise<OpenedScheduler> {
    const key = this.components.schedulerKey?.(leg.scheduler, leg.driver) ?? leg.scheduler;
    let opened = this.#schedulers.get(key);
    if (!opened) {
      // Opened under the run's signal, not the leg's: it outlives the leg that asked first.
      opened = this.components
        .openScheduler(leg.scheduler, { signal: this.signal, bootAgent: this.suite.nomad.bootAgent, env: this.env, driver: leg.driver })
        .catch((error: unknown): OpenedScheduler => {
          if (this.signal.aborted) throw error;
          return { available: false, reason: `${leg.scheduler}: ${(error as Error).message}` };
        });
      this.#schedulers.set(key, opened);
    }
    return opened;
  }

  /** Stops every leg still open, then every scheduler (and what was booted for it). Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#controller.abort(new AbortedError(`suite run ${this.suite.name}`));
    const stack = new CleanupStack();
    for (const opened of this.#schedulers.values()) {
      stack.defer(async () => {
        const scheduler = await opened.catch(() => undefined);
        if (scheduler?.available) await scheduler.close();
      });
    }
    for (const session of this.#sessions) stack.defer(() => session.finish());
    await stack.dispose();
  }

  /** Forgets a finished session (LegSession calls it). */
  release(session: LegSession): void {
    this.#sessions.delete(session);
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

/** One leg of a run: its prepared runtime, its placed sandbox, its check results. */
export class LegSession {
  readonly leg: SuiteLeg;
  state: 'opening' | 'ready' | 'skipped' | 'failed' = 'opening';
  /** Why the leg is skipped or failed. */
  reason: string | undefined;
  prepared: PreparedLeg | undefined;
  /** The leg's main sandbox, when placed. */
  sandbox: PlacedSandbox | undefined;
  readonly results: CheckResult[] = [];
  benchmarks: StartupSeries[] = [];
  readonly #run: SuiteRun;
  readonly #checks: readonly SuiteCheck[];
  readonly #stack = new CleanupStack();
  readonly #started = performance.now();
  #phasesMs: { placed?: number; healthy?: number; firstExec?: number } = {};
  #result: LegResult | undefined;
  #extra = 0;

  constructor(run: SuiteRun, leg: SuiteLeg, checks: readonly SuiteCheck[]) {
    this.#run = run;
    this.leg = leg;
    this.#checks = checks;
  }

  /** @internal Prepares and (optionally) places; see `SuiteRun.openLeg`. */
  async open(signal: AbortSignal, place: boolean): Promise<void> {
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
    this.prepared = {
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
      this.sandbox = await this.place({}, signal);
      const { timestamps } = this.sandbox.placement;
      const since = (t: number | undefined) => (t === undefined ? undefined : t - timestamps.submitted);
      const first = await this.sandbox.client.bash(0, 'true', { signal });
      if (first.exitCode !== 0) throw new Error(`the first command (true) in slot 0 failed: ${first.output || JSON.stringify(first.raw)}`);
      this.#phasesMs = {
        placed: since(timestamps.placed),
        healthy: since(timestamps.healthy),
        firstExec: since(performance.timeOrigin + performance.now()),
      };
    }
    this.state = 'ready';
  }

  /**
   * Places a sandbox on this leg (healthy when returned); it is stopped when the leg finishes,
   * also on failure. `overrides` change the port request or parts of the spec.
   */
  async place(overrides: { ports?: PortRequest; spec?: Partial<SandboxSpec> }, signal: AbortSignal): Promise<PlacedSandbox> {
    const prepared = this.prepared;
    if (!prepared) throw new Error(`leg ${this.leg.name} is not prepared`);
    const spec = { ...prepared.spec, ...overrides.spec };
    const ports = overrides.ports ?? prepared.ports;
    const name = `hpcsb-${this.#run.suite.name}-${this.leg.scheduler}-${this.leg.driver}${this.#extra++ ? `-${this.#extra}` : ''}`;
    log('[%s] placing %s (%s port)', this.leg.name, name, ports.mode);
    const placement: Placement = await prepared.scheduler.place({ driver: prepared.driver, spec, ports, name, signal });
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
    if (this.state === 'skipped') {
      result = { check: entry.name, state: 'skipped', reason: this.reason ?? 'leg skipped' };
    } else if (this.state !== 'ready' || !this.sandbox || !this.prepared) {
      result = { check: entry.name, state: 'failed', durationMs: 0, error: { message: this.reason ?? `leg ${this.leg.name} is not ready` } };
    } else {
      run.publish({ type: 'check:start', leg: this.leg, check: entry.name });
      result = await this.#execute(entry, joined);
    }
    this.results.push(result);
    run.publish({ type: 'check:end', leg: this.leg, result });
    return result;
  }

  async #execute(entry: SuiteCheck, signal: AbortSignal): Promise<CheckResult> {
    const check = findCheck(entry.name);
    const started = performance.now();
    const elapsed = () => Math.round((performance.now() - started) * 10) / 10;
    if (!check) return { check: entry.name, state: 'failed', durationMs: 0, error: { message: `unknown check ${JSON.stringify(entry.name)}` } };
    const sandbox = this.sandbox as PlacedSandbox;
    const limit = AbortSignal.timeout(CHECK_TIMEOUT_MS);
    const checkSignal = AbortSignal.any([signal, limit]);
    const context: CheckContext = {
      ...sandbox,
      leg: { scheduler: this.leg.scheduler, driver: this.leg.driver },
      signal: checkSignal,
      hostEnv: (this.prepared as PreparedLeg).hostEnv,
      placeSandbox: (overrides = {}) => this.place(overrides, checkSignal),
    };
    try {
      const options = check.options.parse(entry.options ?? {});
      // A check that ignores its signal must not hang the run: stop waiting when the signal fires.
      const outcome = await raceAbort(check.run(context, options), checkSignal);
      if (outcome.state === 'skipped') return { check: check.name, state: 'skipped', reason: outcome.reason };
      if (outcome.state === 'degraded') {
        // Requiring bwrap fails a leg whose slots run without it; a sandbox that only shares the
        // host network (no user-mode network stack there) stays DEGRADED, with why, in the report.
        if (check.name === 'isolation' && this.#run.requirements.requiresBwrap && outcome.details?.degradedBy !== 'network') {
          return {
            check: check.name,
            state: 'failed',
            durationMs: elapsed(),
            error: { message: `HPC_SANDBOX_REQUIRE demands bwrap, but isolation is DEGRADED: ${outcome.reason}`, code: 'HPCSB_CHECK_FAILED' },
          };
        }
        return { check: check.name, state: 'degraded', durationMs: elapsed(), reason: outcome.reason, details: outcome.details };
      }
      return { check: check.name, state: 'passed', durationMs: elapsed(), details: outcome.details };
    } catch (error) {
      const why = (error as Error).message;
      const message = isSandboxError(error, 'HPCSB_CHECK_FAILED')
        ? why
        : limit.aborted && !signal.aborted
          ? `${check.name} did not finish within ${CHECK_TIMEOUT_MS} ms: ${why}`
          : signal.aborted
            ? `aborted: ${why}`
            : why;
      return {
        check: check.name,
        state: 'failed',
        durationMs: elapsed(),
        error: { message, code: isSandboxError(error) ? error.code : undefined },
      };
    }
  }

  /** The leg cannot run here: skipped, or failed when HPC_SANDBOX_REQUIRE names it. */
  #skip(reason: string): void {
    if (this.#run.requirements.requiresLeg(this.leg)) {
      this.fail(requiredButMissing(this.leg, reason));
      return;
    }
    this.state = 'skipped';
    this.reason = reason;
  }

  /** Marks the leg failed with `reason` (setting up or benchmarking it went wrong). */
  fail(reason: string): void {
    this.state = 'failed';
    this.reason = reason;
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
    this.#run.release(this);
    const failedCheck = this.results.some((r) => r.state === 'failed');
    let state: LegState = this.state === 'skipped' ? 'skipped' : this.state === 'failed' || failedCheck ? 'failed' : 'passed';
    let reason = this.reason;
    if (cleanupError && state !== 'skipped') {
      state = 'failed';
      reason = `${reason ? `${reason}; ` : ''}clean-up failed: ${(cleanupError as Error).message}`;
    }
    const placement = this.sandbox?.placement;
    this.#result = {
      leg: { scheduler: this.leg.scheduler, driver: this.leg.driver },
      name: this.leg.name,
      state,
      ...(reason ? { reason } : {}),
      ...(this.prepared?.double ? { double: true } : {}),
      ...(this.prepared ? { versions: this.prepared.versions } : {}),
      ...(placement ? { placement: { id: placement.id, host: placement.host, port: placement.port, phasesMs: this.#phasesMs } } : {}),
      checks: [...this.results],
      durationMs: Math.round(performance.now() - this.#started),
    };
    this.#run.publish({ type: 'leg:end', leg: this.leg, result: this.#result });
    return this.#result;
  }
}

function raceAbort<T>(work: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason);
  let onAbort: () => void = () => undefined;
  const aborted = new Promise<never>((_, reject) => {
    onAbort = () => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
  });
  return Promise.race([work, aborted]).finally(() => signal.removeEventListener('abort', onAbort));
}

function withNeeds(spec: SandboxSpec, needs: SpecNeeds[]): SandboxSpec {
  for (const need of needs) {
    Object.assign(spec.env, need.env ?? {});
    for (const name of need.envAllowlist ?? []) if (!spec.envAllowlist.includes(name)) spec.envAllowlist.push(name);
  }
  return spec;
}

/**
 * Runs a suite: every selected leg in turn (prepare, place, checks or benchmark, tear down),
 * publishing progress events, and returns the report. Legs whose software is missing are
 * skipped with the reason, unless HPC_SANDBOX_REQUIRE names them. On abort (the signal, Ctrl-C),
 * everything started is torn down and the report so far comes back with `aborted: true`.
 *
 * @example
 * const report = await runSuite(await loadSuite('suites/readiness.yaml'), { signal });
 * process.exitCode = report.summary.verdict === 'pass' ? 0 : 1;
 */
export async function runSuite(suite: ResolvedSuite, options: RunOptions = {}): Promise<RunReport> {
  const command = options.command ?? 'check';
  const legs = selectLegs(suite, options.legs);
  const checks = command === 'check' ? selectChecks(suite, options.checks) : [];
  const startedAt = new Date();
  const run = new SuiteRun(suite, options);
  const results: LegResult[] = [];
  const benchmarks: StartupSeries[] = [];
  let aborted = false;
  // Teardown awaits process exits and container removals whose handles may be unref'd: hold the
  // event loop open until the run is over, or Node would quit mid-teardown with pending promises.
  const keepAlive = setInterval(() => undefined, 60_000);
  run.publish({ type: 'run:start', suite: { name: suite.name, path: suite.path }, legs });
  try {
    for (const leg of legs) {
      if (run.signal.aborted) {
        aborted = true;
        break;
      }
      let session: LegSession | undefined;
      try {
        session = await run.openLeg(leg, { place: command === 'check' && checks.length > 0, checks });
        if (command === 'check') {
          for (const check of checks) await session.runCheck(check);
        } else if (session.state === 'ready' && options.benchmark && session.prepared) {
          try {
            session.benchmarks = await options.benchmark(session.prepared, run.signal);
            benchmarks.push(...session.benchmarks);
          } catch (error) {
            if (run.signal.aborted) throw error;
            session.fail(`startup benchmark failed: ${(error as Error).message}`);
          }
        }
      } catch (error) {
        if (!run.signal.aborted) throw error;
        aborted = true;
      } finally {
        if (session) results.push(await session.finish());
      }
      if (aborted) break;
    }
  } finally {
    try {
      await run.close();
    } finally {
      clearInterval(keepAlive);
    }
  }
  const report = buildReport(suite, command, startedAt, results, benchmarks, aborted);
  run.publish({ type: 'run:end', report });
  return report;
}
