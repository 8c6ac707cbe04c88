import { CleanupStack } from '../common/cleanup-stack.js';
import { AbortedError } from '../errors.js';
import { defaultComponents, type HarnessComponents, type OpenedScheduler } from './components.js';
import { RunEvents } from './events.js';
import { LegSession, type LegRun } from './leg-session.js';
import { parseRequirements } from './requirements.js';
import type { LegId } from './results.js';
import type { ResolvedSuite, SuiteCheck, SuiteLeg } from './suite/load.js';

export interface SuiteRunOptions {
  /** Cancels the run (Ctrl-C, test timeout): everything started is torn down, the report says aborted. */
  signal?: AbortSignal;
  /** Where progress events go. */
  events?: RunEvents;
  /** Host environment: `HPC_SANDBOX_REQUIRE`, `NOMAD_ADDR` and allowlisted variables are read here. @default process.env */
  env?: NodeJS.ProcessEnv;
  /** Runtime seams (drivers, schedulers, images, client). @default defaultComponents() */
  components?: HarnessComponents;
}

/**
 * One run of a suite: opens each scheduler once (booting what it needs), opens legs on them, and
 * tears everything down in `close()`. `runSuite` drives it for the CLI; suites/readiness.test.ts
 * drives the same methods from vitest, so both give the same verdicts.
 *
 * @example
 * await using run = new SuiteRun(suite, { signal });
 * const session = await run.openLeg(suite.legs[0]);
 * const result = await session.runCheck(suite.checks[0]);
 * await session.finish();
 */
export class SuiteRun implements AsyncDisposable {
  readonly suite: ResolvedSuite;
  readonly events: RunEvents;
  /** Aborted by the caller's signal or by `close()`. */
  readonly signal: AbortSignal;
  readonly #controller = new AbortController();
  readonly #schedulers = new Map<string, Promise<OpenedScheduler>>();
  readonly #sessions = new Set<LegSession>();
  /** What each leg takes from this run. */
  readonly #legRun: LegRun;
  #closed = false;

  constructor(suite: ResolvedSuite, options: SuiteRunOptions = {}) {
    this.suite = suite;
    this.events = options.events ?? new RunEvents();
    this.signal = options.signal ? AbortSignal.any([options.signal, this.#controller.signal]) : this.#controller.signal;
    const env = options.env ?? process.env;
    this.#legRun = {
      suite,
      env,
      requirements: parseRequirements(env),
      components: options.components ?? defaultComponents(),
      events: this.events,
      signal: this.signal,
      scheduler: (leg) => this.#scheduler(leg),
    };
  }

  /**
   * Opens `leg` (see `LegSession.open`): prepared, and placed when `place` is true (the default
   * when the leg has checks to run). Never throws for a leg that cannot run; throws only
   * `AbortedError`, also once the run is closed.
   */
  async openLeg(leg: SuiteLeg, options: { place?: boolean; checks?: readonly SuiteCheck[]; signal?: AbortSignal } = {}): Promise<LegSession> {
    if (this.#closed) throw new AbortedError(`suite run ${this.suite.name} (already closed)`);
    const signal = options.signal ? AbortSignal.any([options.signal, this.signal]) : this.signal;
    const checks = options.checks ?? this.suite.checks;
    return LegSession.open(this.#legRun, leg, {
      checks,
      place: options.place ?? checks.length > 0,
      signal,
      onStart: (session) => this.#sessions.add(session),
      onFinish: (session) => this.#sessions.delete(session),
    });
  }

  /** The scheduler of a leg, opened once per run and shared by legs with the same scheduler key. */
  #scheduler(leg: LegId): Promise<OpenedScheduler> {
    const { components, env } = this.#legRun;
    const key = components.schedulerKey?.(leg.scheduler, leg.driver) ?? leg.scheduler;
    let opened = this.#schedulers.get(key);
    if (!opened) {
      // Opened under the run's signal, not the leg's: it outlives the leg that asked first.
      opened = components
        .openScheduler(leg.scheduler, { signal: this.signal, bootAgent: this.suite.nomad.bootAgent, env, driver: leg.driver })
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

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}
