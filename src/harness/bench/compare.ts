import { readFile } from 'node:fs/promises';
import { bootstrapRatioOfMedians, computeStatistics, mannWhitneyU } from '../../common/statistics.js';
import { ConfigError } from '../../errors.js';
import type { Comparison, ComparisonRow, RunReport, StartupSeries } from '../results.js';

/** A change of the median smaller than this is never called a regression, however significant. @default 0.10 */
export const DEFAULT_REGRESSION_THRESHOLD = 0.1;
/** Significance level of the rank test. */
export const SIGNIFICANCE = 0.05;

/** How `compareRuns` decides, as reports print it. */
export function comparisonMethod(threshold: number): string {
  return (
    `time to first exec per leg and mode: two-sided Mann-Whitney U test (normal approximation, alpha = ${SIGNIFICANCE}) ` +
    `and a change of the median beyond ${(threshold * 100).toFixed(0)}%; interval = seeded bootstrap 95% of new/old median`
  );
}

export interface CompareOptions {
  /** Relative change of the median (0.10 = 10%) a significant slowdown must exceed to count. */
  threshold?: number;
  /** Where the old report came from, for the report. */
  source?: string;
}

/**
 * Compares the startup series of two runs, leg by leg and mode by mode: old and new median and
 * P95 of time to first exec, the change of the median, the bootstrap interval of new/old and the
 * Mann-Whitney p-value. A row is a `regression` when the new run is significantly slower
 * (p < 0.05) AND its median grew by more than `threshold`; `improvement` symmetrically; `noise`
 * otherwise. Both conditions are needed: with hundreds of samples a 1% change is significant
 * but nobody's problem, and with five samples a 40% jump can be one slow start. Series present in
 * only one run are `only-old` / `only-new`; they never fail the comparison.
 *
 * @example
 * const comparison = compareRuns(JSON.parse(await readFile('old/report.json', 'utf8')), report);
 * if (comparison.regressions > 0) process.exitCode = 1;
 */
export function compareRuns(old: RunReport, current: RunReport, options: CompareOptions = {}): Comparison {
  const threshold = options.threshold ?? DEFAULT_REGRESSION_THRESHOLD;
  const key = (s: StartupSeries) => `${s.name}|${s.mode}`;
  const oldByKey = new Map(old.benchmarks.map((s) => [key(s), s]));
  const newKeys = new Set(current.benchmarks.map(key));
  const rows: ComparisonRow[] = current.benchmarks.map((series) => compareSeries(oldByKey.get(key(series)), series, threshold));
  for (const series of old.benchmarks) if (!newKeys.has(key(series))) rows.push(compareSeries(series, undefined, threshold));
  return {
    source: options.source ?? old.suite.path,
    oldStartedAt: old.startedAt,
    method: comparisonMethod(threshold),
    threshold,
    rows,
    regressions: rows.filter((r) => r.verdict === 'regression').length,
  };
}

function compareSeries(old: StartupSeries | undefined, current: StartupSeries | undefined, threshold: number): ComparisonRow {
  const any = (current ?? old)!;
  const row: ComparisonRow = { name: any.name, mode: any.mode, verdict: 'noise', old: old && figures(old), new: current && figures(current) };
  if (!old || !current) {
    row.verdict = old ? 'only-old' : 'only-new';
    return row;
  }
  const oldMs = okMs(old);
  const newMs = okMs(current);
  if (oldMs.length === 0 || newMs.length === 0) {
    row.verdict = newMs.length === 0 && oldMs.length > 0 ? 'regression' : 'noise';
    row.note = newMs.length === 0 ? 'no successful start in the new run' : 'no successful start in the old run';
    return row;
  }
  const oldStats = computeStatistics(oldMs);
  const newStats = computeStatistics(newMs);
  row.change = newStats.median / oldStats.median - 1;
  row.interval = bootstrapRatioOfMedians(newMs, oldMs);
  row.pValue = mannWhitneyU(newMs, oldMs).pValue;
  const significant = row.pValue < SIGNIFICANCE;
  if (significant && row.change > threshold) row.verdict = 'regression';
  else if (significant && row.change < -threshold) row.verdict = 'improvement';
  return row;
}

function okMs(series: StartupSeries): number[] {
  return series.samples.filter((s) => s.ok && s.firstExecMs !== undefined).map((s) => s.firstExecMs!);
}

function figures(series: StartupSeries): NonNullable<ComparisonRow['new']> {
  return {
    median: series.stats.median,
    p95: series.stats.p95,
    successRate: series.stats.successRate,
    n: series.stats.n,
    ...(series.overhead ? { overhead: series.overhead.value } : {}),
    firstExecMs: okMs(series),
  };
}

/**
 * Reads a previous run's report.json for `--compare`.
 *
 * @throws ConfigError when the file cannot be read, is not JSON, or is not a bench report.
 */
export async function readPreviousReport(path: string): Promise<RunReport> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    throw new ConfigError(`--compare ${path}: cannot read the previous report: ${(error as Error).message}`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new ConfigError(`--compare ${path}: not JSON (${(error as Error).message}); expected the report.json of an earlier \`hpc-sandbox bench --report DIR\``);
  }
  const report = parsed as Partial<RunReport>;
  if (typeof report !== 'object' || report === null || report.schemaVersion !== 1 || !Array.isArray(report.benchmarks)) {
    throw new ConfigError(`--compare ${path}: not a RunReport of schemaVersion 1 with benchmarks; expected the report.json of an earlier \`hpc-sandbox bench --report DIR\``);
  }
  if (report.benchmarks.length === 0) {
    throw new ConfigError(`--compare ${path}: the previous report has no startup series (was it a \`check\` run?)`);
  }
  return report as RunReport;
}
