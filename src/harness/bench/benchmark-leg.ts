import { logger } from '../../common/logger.js';
import type { Driver, SandboxSpec } from '../../drivers/driver.js';
import type { PortRequest, Scheduler } from '../../schedulers/scheduler.js';
import type { ReferenceTable } from '../references.js';
import type { LegId, StartupMode, StartupSample, StartupSeries } from '../results.js';
import type { StartupBenchmarkConfig } from '../suite/schema.js';
import { bootstrapRatioOfMedians } from '../../common/statistics.js';
import { type BareRuntime, bareRuntimeFor } from './bare-runtime.js';
import { evaluateStartupReferences } from './startup-references.js';
import { describeError, type FirstExec, sampleStartup } from './startup-sample.js';
import { type BenchEvent, judgeSeries, type ModePlan, runSeries, summariseBaseline, summariseBurst, summariseSeries } from './startup-series.js';

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
  /**
   * The leg's bare runtime, measured in the same run for the overhead ratio.
   * @default bareRuntimeFor (local legs; others are reported without a baseline); `false` leaves it out
   */
  bare?: ((target: LegTarget) => Promise<BareRuntime | { unavailable: string }>) | false;
  /**
   * Test seam: a pause before each of our placements, as if our scheduler had become slower.
   * The bare runtime is not delayed, so the overhead ratio grows. @default 0
   */
  placementDelayMs?: number;
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
  const scheduler = options.placementDelayMs ? delayedScheduler(target.scheduler, options.placementDelayMs) : target.scheduler;
  const cold = (_index: number, sampleSignal: AbortSignal | undefined) =>
    sampleStartup({
      scheduler,
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
  const bare = await openBare(target, options);
  if (bare && 'sample' in bare && config.warmup > 0 && !signal?.aborted) await bare.sample(signal); // warms the image cache too
  const series: StartupSeries[] = [];
  for (const [modeIndex, mode] of config.modes.entries()) {
    // Interrupted: keep what was measured, start nothing new.
    if (signal?.aborted) break;
    const plan = modePlan(mode, config);
    const evaluate = evaluateStartupReferences(options.references, target.leg, mode);
    if (mode !== 'warm') {
      series.push(await coldSeries(target, plan, cold, bare, { evaluate, bareFirst: modeIndex % 2 === 1, onEvent: options.onEvent, signal }));
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

/**
 * One cold series of ours and, beside it, the bare runtime's series of the same mode and count,
 * then the overhead ratio and the verdicts. Which side goes first alternates between modes, so
 * neither always runs on a machine just warmed (or loaded) by the other.
 */
async function coldSeries(
  target: LegTarget,
  plan: ModePlan,
  cold: (index: number, signal: AbortSignal | undefined) => Promise<StartupSample>,
  bare: BareRuntime | { unavailable: string } | undefined,
  options: { evaluate: ReturnType<typeof evaluateStartupReferences>; bareFirst: boolean; onEvent?: BenchmarkLegOptions['onEvent']; signal?: AbortSignal },
): Promise<StartupSeries> {
  const { signal } = options;
  // bench:end is published here, once the baseline and the overhead verdict are in.
  const onEvent = (event: BenchEvent) => (event.type === 'bench:end' ? undefined : options.onEvent?.(event));
  const runBare = async () =>
    bare && 'sample' in bare && !signal?.aborted ? runSeries({ leg: target.leg, plan, sample: (_i, s) => bare.sample(s), signal }) : undefined;
  let bareSeries = options.bareFirst ? await runBare() : undefined;
  const ours = await runSeries({ leg: target.leg, plan, sample: cold, onEvent, signal });
  if (!options.bareFirst) bareSeries = await runBare();
  if (bareSeries && bare && 'sample' in bare) {
    ours.baseline = summariseBaseline(bare.label, bareSeries.samples);
    const okMs = (samples: StartupSample[]) => samples.filter((s) => s.ok).map((s) => s.firstExecMs ?? NaN);
    ours.overhead = bootstrapRatioOfMedians(okMs(ours.samples), okMs(bareSeries.samples));
  } else if (bare && 'unavailable' in bare) {
    ours.baselineUnavailable = bare.unavailable;
  }
  if (plan.mode === 'burst') ours.burst = summariseBurst(ours.samples, Math.max(1, plan.burstSize ?? plan.count));
  judgeSeries(ours, options.evaluate);
  options.onEvent?.({ type: 'bench:end', series: ours });
  return ours;
}

async function openBare(target: LegTarget, options: BenchmarkLegOptions): Promise<BareRuntime | { unavailable: string } | undefined> {
  if (options.bare === false) return undefined;
  try {
    return await (options.bare ?? bareRuntimeFor)(target);
  } catch (error) {
    return { unavailable: `no bare baseline: ${describeError(error)}` };
  }
}

/** The leg's scheduler with a pause before every placement (the `placementDelayMs` seam). */
function delayedScheduler(scheduler: Scheduler, delayMs: number): Scheduler {
  return new Proxy(scheduler, {
    get(target, property, receiver) {
      if (property !== 'place') return Reflect.get(target, property, receiver);
      return async (request: Parameters<Scheduler['place']>[0]) => {
        await new Promise((resolve) => setTimeout(resolve, delayMs));
        request.signal?.throwIfAborted();
        return target.place(request);
      };
    },
  });
}

/**
 * The plan of `mode` from a suite's startup benchmark settings. Bursts run whole rounds: the
 * count is `iterations` rounded up to a multiple of `burstSize`, so `--burst 64` makes one round
 * of 64 even with 10 iterations.
 */
function modePlan(mode: StartupMode, config: StartupBenchmarkConfig): ModePlan {
  const count = mode === 'burst' ? Math.ceil(config.iterations / config.burstSize) * config.burstSize : config.iterations;
  return { mode, count, staggerMs: config.staggerMs, burstSize: config.burstSize };
}
