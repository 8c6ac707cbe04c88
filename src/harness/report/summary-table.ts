import type { CheckResult, LegResult, RunReport, StartupSeries } from '../results.js';
import { HEALTH_TIMEOUT_RULE } from '../bench/health-timeout.js';
import { outcomeCounts } from './outcome-counts.js';
import { firstLine, formatMs, formatPercent, type Painter, painter, renderColumns } from './format.js';

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
    const rows: string[][] = [['LEG', 'MODE', 'N', 'OK', 'MEDIAN', 'P95', 'P99', 'REFERENCES', 'HEALTH TIMEOUT']];
    for (const series of report.benchmarks) {
      rows.push([
        series.name,
        series.mode + (series.aborted ? ' (interrupted)' : ''),
        String(series.stats.n),
        formatPercent(series.stats.successRate),
        formatMs(series.stats.median),
        formatMs(series.stats.p95),
        formatMs(series.stats.p99),
        verdictSummary(series, paint),
        series.recommendedHealthTimeoutMs ? formatMs(series.recommendedHealthTimeoutMs.value) : '–',
      ]);
    }
    out.push(renderColumns(rows));
    if (report.benchmarks.some((s) => s.recommendedHealthTimeoutMs)) out.push(paint.dim(`health timeout = ${HEALTH_TIMEOUT_RULE}`));
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
