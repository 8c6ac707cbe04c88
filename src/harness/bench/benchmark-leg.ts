import { logger } from '../../common/logger.js';
import type { Driver, SandboxSpec } from '../../drivers/driver.js';
import type { PortRequest, Scheduler } from '../../schedulers/scheduler.js';
import type { ReferenceTable } from '../references.js';
import type { LegId, StartupMode, StartupSample, StartupSeries } from '../results.js';
import type { StartupBenchmarkConfig } from '../suite/schema.js';
import { evaluateStartupReferences } from './startup-references.js';
import { describeError, type FirstExec, sampleStartup } from './startup-sample.js';
import { type BenchEvent, type ModePlan, runSeries, summariseSeries } from './startup-series.js';

const log = logger('bench');

/** What a leg's benchmark places: the leg's scheduler (booted by the caller) and driver. */
export interface LegTarget {
  leg: LegId;
  scheduler: Scheduler;
  driver: Driver;
  spec: SandboxSpec;
  ports: PortRequest;
  /** Budget for one cold start, submit to first exec. */
  healthTimeoutMs: number;
}

/** Slots of a running pool, for warm starts: each sample is acquire -> first exec -> release. */
export interface WarmSlots {
  sample(signal: AbortSignal | undefined): Promise<StartupSample>;
  close(): Promise<void>;
}

export interface BenchmarkLegOptions {
  config: StartupBenchmarkConfig;
  references: ReferenceTable;
  firstExec: FirstExec;
  /** Starts a pool on the leg for the `warm` mode; without it the warm mode is left out. */
  openWarmSlots?: (target: LegTarget, signal: AbortSignal | undefined) => Promise<WarmSlots>;
  onEvent?: (event: BenchEvent | WarmupEvent) => void;
  signal?: AbortSignal;
}

/** A discarded warm-up start (image and page caches fill up). */
export interface WarmupEvent {
  type: 'bench:warmup';
  leg: LegId;
  index: number;
  count: number;
  sample: StartupSample;
}

/**
 * The startup benchmark of one leg: `config.warmup` discarded starts, then `config.iterations`
 * cold starts per mode (sequential, staggered, burst) timed submit -> placed -> /health OK ->
 * first exec, and warm starts (acquire a slot of a running pool -> first exec) when `warm` is
 * among the modes. Each series carries reference verdicts and the advised health timeout. On
 * abort it returns the series measured so far (the interrupted one marked `aborted`).
 *
 * tinybench is not used here: it times a function in a loop until a time budget is spent, while
 * a start is a place/stop cycle of seconds whose phases come from the placement's own
 * timestamps, and staggered and burst modes overlap starts on purpose. Plain sampling with the
 * same statistics (computeStatistics) fits; tinybench stays for in-process micro-benchmarks.
 */
export async function benchmarkLeg(target: LegTarget, options: BenchmarkLegOptions): Promise<StartupSeries[]> {
  const { config, signal } = options;
  const cold = (_index: number, sampleSignal: AbortSignal | undefined) =>
    sampleStartup({
      scheduler: target.scheduler,
      driver: target.driver,
      spec: target.spec,
      ports: target.ports,
      firstExec: options.firstExec,
      timeoutMs: target.healthTimeoutMs,
      signal: sampleSignal,
    });
  for (let i = 0; i < config.warmup && !signal?.aborted; i++) {
    const sample = await cold(i, signal).catch((error: unknown) => {
      if (signal?.aborted) return undefined;
      throw error;
    });
    if (!sample) break;
    options.onEvent?.({ type: 'bench:warmup', leg: target.leg, index: i, count: config.warmup, sample });
  }
  const series: StartupSeries[] = [];
  for (const mode of config.modes) {
    // Interrupted: keep what was measured, start nothing new.
    if (signal?.aborted) break;
    const plan = modePlan(mode, config);
    const evaluate = evaluateStartupReferences(options.references, target.leg, mode);
    if (mode !== 'warm') {
      series.push(await runSeries({ leg: target.leg, plan, sample: cold, evaluate, onEvent: options.onEvent, signal }));
      continue;
    }
    if (!options.openWarmSlots) {
      log('warm mode of %s left out: no pool available', target.leg);
      continue;
    }
    let warm: WarmSlots;
    try {
      warm = await options.openWarmSlots(target, signal);
    } catch (error) {
      if (signal?.aborted) break;
      // The cold series stay; the warm one records why there was no pool to acquire from.
      const failed: StartupSample = { ok: false, error: `no warm pool: ${describeError(error)}` };
      options.onEvent?.({ type: 'bench:start', leg: target.leg, mode, count: 1 });
      const summary = summariseSeries(target.leg, mode, [failed], evaluate);
      options.onEvent?.({ type: 'bench:end', series: summary });
      series.push(summary);
      continue;
    }
    try {
      series.push(await runSeries({ leg: target.leg, plan, sample: (_i, s) => warm.sample(s), evaluate, onEvent: options.onEvent, signal }));
    } finally {
      await warm.close();
    }
  }
  return series;
}

/** The plan of `mode` from a suite's startup benchmark settings. */
function modePlan(mode: StartupMode, config: StartupBenchmarkConfig): ModePlan {
  return { mode, count: config.iterations, staggerMs: config.staggerMs, burstSize: config.burstSize };
}
