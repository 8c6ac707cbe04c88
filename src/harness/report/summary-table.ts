import type { CheckResult, LegResult, RunReport, StartupSeries } from '../results.js';
import { HEALTH_TIMEOUT_RULE } from '../bench/health-timeout.js';
import { outcomeCounts } from './outcome-counts.js';
import { firstLine, formatChange, formatMs, formatPercent, formatRatio, type Painter, painter, renderColumns } from './format.js';
import type { Comparison } from '../results.js';

/**
 * The end-of-run summary for a terminal: one row per leg (state, check counts, the first failure
 * or the skip reason), one row per startup series (median, P95, P99, success, references, advised
 * health timeout), and the verdict. Plain text when `paint` is disabled.
 */
export function renderSummaryTable(report: RunReport, paint: Painter = painter(false)): string {
  const out: string[] = [];
  if (report.legs.length > 0) {
    const rows: string[][] = [['LEG', 'STATE', 'CHECKS', 'TIME', 'NOTE']];
    for (const leg of report.legs) {
      rows.push([
        leg.name + (leg.double ? ' (test double)' : ''),
        paintState(leg.state, paint),
        checkCounts(leg.checks),
        formatMs(leg.durationMs),
        truncate(legNote(leg), NOTE_WIDTH),
      ]);
    }
    out.push(renderColumns(rows));
  }
  if (report.benchmarks.length > 0) {
    if (out.length > 0) out.push('');
    const rows: string[][] = [['LEG', 'MODE', 'N', 'OK', 'MEDIAN', 'P95', 'P99', 'BARE MEDIAN', 'OVERHEAD [95% CI]', 'REFERENCES', 'HEALTH TIMEOUT']];
    for (const series of report.benchmarks) {
      rows.push([
        series.name,
        series.mode + (series.burst ? ` of ${series.burst.size}` : '') + (series.aborted ? ' (interrupted)' : ''),
        String(series.stats.n),
        formatPercent(series.stats.successRate),
        formatMs(series.stats.median),
        formatMs(series.stats.p95),
        formatMs(series.stats.p99),
        formatMs(series.baseline?.stats.median),
        formatRatio(series.overhead),
        verdictSummary(series, paint),
        series.recommendedHealthTimeoutMs ? formatMs(series.recommendedHealthTimeoutMs.value) : '–',
      ]);
    }
    out.push(renderColumns(rows));
    if (report.benchmarks.some((s) => s.recommendedHealthTimeoutMs)) out.push(paint.dim(`health timeout = ${HEALTH_TIMEOUT_RULE}`));
    if (report.benchmarks.some((s) => s.overhead)) out.push(paint.dim('overhead = our median / bare runtime median of time to first exec, same run; [seeded bootstrap 95% interval]'));
    for (const series of report.benchmarks) {
      if (!series.burst) continue;
      const b = series.burst;
      out.push(
        paint.dim(
          `${series.name} burst of ${b.size}: ${formatPercent(b.successRate)} ready, all ${b.size} ready after ${formatMs(b.allReady.median)} (median of ${b.rounds} rounds), ` +
            `P50 ${formatMs(b.p50)}, P99 ${formatMs(b.p99)}, tail ratio ${Number.isFinite(b.tailRatio) ? b.tailRatio.toFixed(2) : '–'}`,
        ),
      );
    }
  }
  if (report.comparison) {
    out.push('', renderComparison(report.comparison, paint));
  }
  out.push('');
  const headline = report.aborted ? paint.red(paint.bold('INTERRUPTED')) : report.summary.verdict === 'pass' ? paint.green(paint.bold('PASS')) : paint.red(paint.bold('FAIL'));
  out.push(`${headline}  ${outcomeCounts(report).join('; ')}`);
  return out.join('\n') + '\n';
}

/** Notes are cut in the terminal table; reports keep them whole. */
const NOTE_WIDTH = 120;

function truncate(text: string, width: number): string {
  return text.length <= width ? text : `${text.slice(0, width - 1)}…`;
}

function paintState(state: string, paint: Painter): string {
  if (state === 'passed') return paint.green(state);
  if (state === 'failed') return paint.red(state);
  return paint.yellow(state);
}

function checkCounts(checks: readonly CheckResult[]): string {
  if (checks.length === 0) return '–';
  const count = (state: CheckResult['state']) => checks.filter((c) => c.state === state).length;
  const parts = [`${count('passed')}/${checks.length} passed`];
  if (count('degraded')) parts.push(`${count('degraded')} degraded`);
  if (count('failed')) parts.push(`${count('failed')} failed`);
  if (count('skipped')) parts.push(`${count('skipped')} skipped`);
  return parts.join(', ');
}

/** Skip reason, else the first failed check, else the first degradation. */
export function legNote(leg: LegResult): string {
  if (leg.reason) return leg.reason;
  const failed = leg.checks.find((c) => c.state === 'failed');
  if (failed?.state === 'failed') return `${failed.check}: ${firstLine(failed.error.message)}`;
  const degraded = leg.checks.find((c) => c.state === 'degraded');
  if (degraded?.state === 'degraded') return `${degraded.check}: ${degraded.reason}`;
  return '';
}

function verdictSummary(series: StartupSeries, paint: Painter): string {
  const judged = series.verdicts.filter((v) => v.state !== 'no-reference');
  if (judged.length === 0) return paint.dim('none');
  const beyond = judged.filter((v) => v.state === 'beyond');
  return beyond.length === 0
    ? paint.green(`${judged.length} within`)
    : paint.red(`${beyond.length}/${judged.length} beyond: ${beyond.map((v) => v.metric).join(', ')}`);
}

/** The `--compare` table: old vs new median and P95 per leg and mode, the change and its verdict. */
export function renderComparison(comparison: Comparison, paint: Painter = painter(false)): string {
  const rows: string[][] = [['LEG', 'MODE', 'OLD MEDIAN', 'NEW MEDIAN', 'OLD P95', 'NEW P95', 'CHANGE', 'NEW/OLD [95% CI]', 'P', 'VERDICT']];
  for (const row of comparison.rows) {
    const verdict =
      row.verdict === 'regression' ? paint.red('REGRESSION') : row.verdict === 'improvement' ? paint.green('improvement') : row.verdict === 'noise' ? 'noise' : paint.dim(row.verdict);
    rows.push([
      row.name,
      row.mode,
      formatMs(row.old?.median),
      formatMs(row.new?.median),
      formatMs(row.old?.p95),
      formatMs(row.new?.p95),
      formatChange(row.change),
      formatRatio(row.interval),
      row.pValue === undefined ? '–' : row.pValue < 0.001 ? '<0.001' : row.pValue.toFixed(3),
      verdict + (row.note ? ` (${row.note})` : ''),
    ]);
  }
  return [
    `compared with ${comparison.source} (run of ${comparison.oldStartedAt}): ${comparison.regressions} regression${comparison.regressions === 1 ? '' : 's'}`,
    renderColumns(rows),
    paint.dim(`method: ${comparison.method}`),
  ].join('\n');
}
