import { AbortedError } from '../../errors.js';
import type { BaselineSeries, BurstSummary, LegId, ReferenceVerdict, StartupMode, StartupSample, StartupSeries, Statistics } from '../results.js';
import { legName } from '../results.js';
import { recommendHealthTimeout } from './health-timeout.js';
import { computeStatistics } from '../../common/statistics.js';

/** How many starts a mode makes; `staggerMs` is the gap between launches in `staggered` mode. */
export interface ModePlan {
  mode: StartupMode;
  count: number;
  /** @default 200 (ComputeSDK's staggered mode) */
  staggerMs?: number;
  /** Starts launched together in `burst` mode; `count` is reached in rounds of this size. @default count */
  burstSize?: number;
}

/** Progress of a benchmark, for reporters. */
export type BenchEvent =
  | { type: 'bench:start'; leg: LegId; mode: StartupMode; count: number }
  | { type: 'bench:sample'; leg: LegId; mode: StartupMode; index: number; count: number; sample: StartupSample }
  | { type: 'bench:end'; series: StartupSeries };

export interface SeriesOptions {
  leg: LegId;
  plan: ModePlan;
  /** Takes one sample (a cold start, or a warm acquire). Must not throw but on abort. */
  sample: (index: number, signal: AbortSignal | undefined) => Promise<StartupSample>;
  /** Compares the series' figures with the suite's references for this leg. */
  evaluate?: (figures: SeriesFigures) => ReferenceVerdict[];
  onEvent?: (event: BenchEvent) => void;
  signal?: AbortSignal;
}

/** The figures a reference can name, e.g. `firstExec.p95` or `healthy.median` (ms). */
export type SeriesFigures = Record<string, number>;

/**
 * Takes `plan.count` samples in the plan's mode and summarises them: `sequential` one after the
 * other, `staggered` launching one every `staggerMs` without waiting for the previous, `burst`
 * `burstSize` at once (round after round until `count`), `warm` one after the other (each is an
 * acquire from a running pool). When `signal` aborts, the series returns early, summarising the
 * samples already taken and marked `aborted`.
 */
export async function runSeries(options: SeriesOptions): Promise<StartupSeries> {
  const { leg, plan, signal } = options;
  const count = plan.count;
  options.onEvent?.({ type: 'bench:start', leg, mode: plan.mode, count });
  const samples: StartupSample[] = new Array(count);
  const take = async (index: number): Promise<void> => {
    if (signal?.aborted) throw new AbortedError(`${plan.mode} startup benchmark of ${legName(leg)}`, { cause: signal.reason });
    const sample = await options.sample(index, signal);
    samples[index] = sample;
    options.onEvent?.({ type: 'bench:sample', leg, mode: plan.mode, index, count, sample });
  };
  try {
    await launchAll(plan, take, signal);
  } catch (error) {
    if (!signal?.aborted) throw error;
    // Interrupted: what was measured so far still counts (the sample in flight does not).
    const taken = samples.filter((s): s is StartupSample => s !== undefined);
    const partial: StartupSeries = { ...summariseSeries(leg, plan.mode, taken, options.evaluate), aborted: true };
    options.onEvent?.({ type: 'bench:end', series: partial });
    return partial;
  }
  const series = summariseSeries(leg, plan.mode, samples, options.evaluate);
  options.onEvent?.({ type: 'bench:end', series });
  return series;
}

/** Calls `take(0..count-1)` in the plan's mode: in turn, staggered, or in burst rounds. */
async function launchAll(plan: ModePlan, take: (index: number) => Promise<void>, signal: AbortSignal | undefined): Promise<void> {
  const count = plan.count;
  if (plan.mode === 'sequential' || plan.mode === 'warm') {
    for (let i = 0; i < count; i++) await take(i);
  } else if (plan.mode === 'staggered') {
    const gapMs = plan.staggerMs ?? 200;
    await settleAll(
      Array.from({ length: count }, async (_, i) => {
        await sleep(i * gapMs, signal);
        await take(i);
      }),
    );
  } else {
    const size = Math.max(1, plan.burstSize ?? count);
    for (let first = 0; first < count; first += size) {
      const round = Array.from({ length: Math.min(size, count - first) }, (_, k) => first + k);
      await settleAll(round.map((i) => take(i)));
    }
  }
}

/** Statistics, per-phase statistics, reference verdicts and the recommended health timeout of a series. */
export function summariseSeries(
  leg: LegId,
  mode: StartupMode,
  samples: StartupSample[],
  evaluate?: (figures: SeriesFigures) => ReferenceVerdict[],
): StartupSeries {
  const attempts = samples.length;
  const ok = samples.filter((s) => s.ok);
  const phaseStats = (pick: (s: StartupSample) => number | undefined): Statistics | undefined => {
    const values = ok.map(pick).filter((v): v is number => v !== undefined);
    return values.length > 0 ? computeStatistics(values, attempts) : undefined;
  };
  const stats = computeStatistics(ok.map((s) => s.firstExecMs ?? NaN), attempts);
  const phases = {
    placed: phaseStats((s) => s.placedMs),
    healthy: phaseStats((s) => s.healthyMs),
    firstExec: phaseStats((s) => s.firstExecMs),
  };
  const series: StartupSeries = {
    leg,
    name: legName(leg),
    mode,
    samples,
    stats,
    phases: dropUndefined(phases),
    verdicts: [],
  };
  // A warm acquire has no /health phase: its timeout advice would be meaningless.
  const recommendation = mode === 'warm' ? undefined : recommendHealthTimeout(phases.healthy);
  if (recommendation) series.recommendedHealthTimeoutMs = recommendation;
  judgeSeries(series, evaluate);
  return series;
}

/**
 * (Re)computes a series' verdicts from its figures: after a baseline is attached, the overhead
 * figure exists and its reference can be judged. A series where nothing started always fails.
 */
export function judgeSeries(series: StartupSeries, evaluate?: (figures: SeriesFigures) => ReferenceVerdict[]): void {
  series.verdicts = evaluate ? evaluate(seriesFigures(series)) : [];
  if (series.samples.length > 0 && !series.samples.some((s) => s.ok)) series.verdicts.push(noStartSucceeded(series.mode, series.samples));
}

/** The bare runtime's samples summarised like ours (statistics and phases, no verdicts). */
export function summariseBaseline(runtime: string, samples: StartupSample[]): BaselineSeries {
  const summary = summariseSeries({ scheduler: 'local', driver: 'process' }, 'sequential', samples);
  return { runtime, samples, stats: summary.stats, phases: summary.phases };
}

/**
 * A burst series as batches of `size` (samples in launch order, round after round): success
 * rate, time until all of a round were ready (rounds where one failed have no such time: the
 * trainer would still be waiting), P50/P99 of time to first exec and their ratio.
 */
export function summariseBurst(samples: readonly StartupSample[], size: number): BurstSummary {
  const rounds: StartupSample[][] = [];
  for (let first = 0; first < samples.length; first += size) rounds.push(samples.slice(first, first + size));
  const complete = rounds.filter((round) => round.every((s) => s.ok && s.firstExecMs !== undefined));
  const allReady = computeStatistics(complete.map((round) => Math.max(...round.map((s) => s.firstExecMs!))), rounds.length);
  const stats = computeStatistics(samples.filter((s) => s.ok).map((s) => s.firstExecMs ?? NaN), samples.length);
  return {
    size,
    rounds: rounds.length,
    successRate: stats.successRate,
    allReady,
    p50: stats.median,
    p99: stats.p99,
    tailRatio: stats.p99 / stats.median,
  };
}

/**
 * A series where nothing started fails whatever the references say: its latency figures are
 * empty, so no reference could catch it.
 */
function noStartSucceeded(mode: StartupMode, samples: StartupSample[]): ReferenceVerdict {
  const metric = `${mode === 'warm' ? 'warm' : 'startup'}.${mode}.successRate`;
  const first = samples.find((s) => s.error)?.error ?? 'unknown error';
  return { metric, value: 0, state: 'beyond', message: `0 of ${samples.length} ${mode} starts succeeded (first error: ${first})` };
}

/** `firstExec.median`, `healthy.p99`, `successRate`... of a series, for reference evaluation. */
export function seriesFigures(series: StartupSeries): SeriesFigures {
  const figures: SeriesFigures = { successRate: series.stats.successRate };
  if (series.overhead && Number.isFinite(series.overhead.value)) {
    figures.overhead = series.overhead.value;
    if (Number.isFinite(series.overhead.low)) figures['overhead.low'] = series.overhead.low;
    if (Number.isFinite(series.overhead.high)) figures['overhead.high'] = series.overhead.high;
  }
  if (series.burst) {
    if (Number.isFinite(series.burst.allReady.median)) figures['allReady.median'] = series.burst.allReady.median;
    if (Number.isFinite(series.burst.tailRatio)) figures.tailRatio = series.burst.tailRatio;
  }
  for (const [phase, stats] of Object.entries(series.phases) as Array<[string, Statistics | undefined]>) {
    if (!stats) continue;
    for (const key of ['median', 'p95', 'p99', 'min', 'max', 'mean'] as const) {
      if (Number.isFinite(stats[key])) figures[`${phase}.${key}`] = stats[key];
    }
  }
  return figures;
}

/** Waits for every launch (so each started sandbox is stopped) before rethrowing the first error. */
async function settleAll(launches: Array<Promise<void>>): Promise<void> {
  const outcomes = await Promise.allSettled(launches);
  const failure = outcomes.find((o): o is PromiseRejectedResult => o.status === 'rejected');
  if (failure) throw failure.reason;
}

function dropUndefined<T extends object>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T;
}

function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(new AbortedError('startup benchmark', { cause: signal.reason }));
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(new AbortedError('startup benchmark', { cause: signal?.reason }));
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
