import type { RunReport } from '../results.js';
import { HEALTH_TIMEOUT_RULE } from '../bench/health-timeout.js';
import { formatChange, formatMs, formatPercent, formatRatio } from './format.js';
import { capitalise, outcomeCounts } from './outcome-counts.js';
import { legNote } from './summary-table.js';

/**
 * A Markdown summary for CI pages (append it to `$GITHUB_STEP_SUMMARY`): the verdict, a table of
 * legs, a table of startup series with the advised health timeout, and the failures in full.
 */
export function renderMarkdown(report: RunReport): string {
  const { summary } = report;
  const out: string[] = [];
  const icon = summary.verdict === 'pass' ? '✅' : '❌';
  out.push(`## ${icon} hpc-sandbox ${report.command}: ${cell(report.suite.name)} — ${summary.verdict.toUpperCase()}${report.aborted ? ' (interrupted)' : ''}`);
  out.push('');
  out.push(
    `${outcomeCounts(report).map(capitalise).join('. ')}. ` +
      `Host \`${cell(report.host.hostname)}\` (${report.host.platform}/${report.host.arch}, Node ${report.host.node}, ${report.host.cpus} CPUs), ` +
      `${report.startedAt} → ${report.finishedAt}.`,
  );
  if (report.legs.length > 0) {
    out.push('', '| leg | state | checks | time | note |', '|---|---|---|---|---|');
    for (const leg of report.legs) {
      const passed = leg.checks.filter((c) => c.state === 'passed' || c.state === 'degraded').length;
      const name = leg.name + (leg.double ? ' *(test double)*' : '');
      out.push(`| ${cell(name)} | ${stateIcon(leg.state)} ${leg.state} | ${leg.checks.length ? `${passed}/${leg.checks.length}` : '–'} | ${formatMs(leg.durationMs)} | ${cell(legNote(leg))} |`);
    }
  }
  if (report.benchmarks.length > 0) {
    out.push('', '### Startup (submit → first successful exec)', '');
    out.push('| leg | mode | n | success | median | P95 | P99 | bare median | overhead [95% CI] | placed (median) | /health OK (median) | references | health timeout |');
    out.push('|---|---|---|---|---|---|---|---|---|---|---|---|---|');
    for (const s of report.benchmarks) {
      const judged = s.verdicts.filter((v) => v.state !== 'no-reference');
      const beyond = judged.filter((v) => v.state === 'beyond');
      const refs = judged.length === 0 ? '–' : beyond.length === 0 ? `✅ ${judged.length} within` : `❌ ${beyond.map((v) => cell(v.message)).join('<br>')}`;
      out.push(
        `| ${cell(s.name)} | ${s.mode}${s.burst ? ` of ${s.burst.size}` : ''}${s.aborted ? ' (interrupted)' : ''} | ${s.stats.n} | ${formatPercent(s.stats.successRate)} | ${formatMs(s.stats.median)} | ${formatMs(s.stats.p95)} | ${formatMs(s.stats.p99)} | ` +
          `${formatMs(s.baseline?.stats.median)} | ${formatRatio(s.overhead)} | ` +
          `${formatMs(s.phases.placed?.median)} | ${formatMs(s.phases.healthy?.median)} | ${refs} | ${s.recommendedHealthTimeoutMs ? formatMs(s.recommendedHealthTimeoutMs.value) : '–'} |`,
      );
    }
    if (report.benchmarks.some((s) => s.recommendedHealthTimeoutMs)) out.push('', `Health timeout: ${HEALTH_TIMEOUT_RULE}.`);
    if (report.benchmarks.some((s) => s.overhead)) out.push('', 'Overhead: our median / the bare runtime\'s median of time to first exec, measured in the same run, with a seeded bootstrap 95% interval.');
    for (const s of report.benchmarks) {
      if (!s.burst) continue;
      const b = s.burst;
      out.push('', `Burst of ${b.size} on ${cell(s.name)}: ${formatPercent(b.successRate)} ready; all ${b.size} ready after ${formatMs(b.allReady.median)} (median of ${b.rounds} rounds); P50 ${formatMs(b.p50)}, P99 ${formatMs(b.p99)}, tail ratio ${Number.isFinite(b.tailRatio) ? b.tailRatio.toFixed(2) : '–'}.`);
    }
  }
  if (report.comparison) {
    const c = report.comparison;
    out.push('', `### Compared with \`${cell(c.source)}\` (${c.oldStartedAt}): ${c.regressions} regression${c.regressions === 1 ? '' : 's'}`, '');
    out.push('| leg | mode | old median | new median | old P95 | new P95 | change | new/old [95% CI] | p | verdict |', '|---|---|---|---|---|---|---|---|---|---|');
    for (const r of c.rows) {
      out.push(
        `| ${cell(r.name)} | ${r.mode} | ${formatMs(r.old?.median)} | ${formatMs(r.new?.median)} | ${formatMs(r.old?.p95)} | ${formatMs(r.new?.p95)} | ${formatChange(r.change)} | ${formatRatio(r.interval)} | ` +
          `${r.pValue === undefined ? '–' : r.pValue < 0.001 ? '<0.001' : r.pValue.toFixed(3)} | ${r.verdict === 'regression' ? '❌ regression' : r.verdict}${r.note ? ` (${cell(r.note)})` : ''} |`,
      );
    }
    out.push('', `Method: ${c.method}.`);
  }
  const failures = report.legs.flatMap((leg) =>
    leg.checks.flatMap((c) => (c.state === 'failed' ? [{ leg: leg.name, check: c.check, message: c.error.message, code: c.error.code }] : [])),
  );
  if (failures.length > 0) {
    out.push('', '### Failures');
    for (const f of failures) {
      out.push('', `**${cell(f.leg)} / ${cell(f.check)}**${f.code ? ` (\`${f.code}\`)` : ''}`, '', fence(f.message));
    }
  }
  return out.join('\n') + '\n';
}

function stateIcon(state: string): string {
  return state === 'passed' ? '✅' : state === 'failed' ? '❌' : '⏭️';
}

/** Text safe inside a table cell: pipes escaped, line breaks folded. */
function cell(value: string): string {
  return value.replaceAll('|', '\\|').replace(/\r?\n/g, ' ').replaceAll('<', '&lt;');
}

/** A fenced block whose fence is longer than any backtick run inside `body`. */
function fence(body: string): string {
  const longest = Math.max(2, ...(body.match(/`+/g) ?? []).map((run) => run.length));
  const ticks = '`'.repeat(longest + 1);
  return `${ticks}text\n${body}\n${ticks}`;
}
