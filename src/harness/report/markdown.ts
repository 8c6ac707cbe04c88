import type { RunReport } from '../results.js';
import { HEALTH_TIMEOUT_RULE } from '../bench/health-timeout.js';
import { formatMs, formatPercent } from './format.js';
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
    out.push('| leg | mode | n | success | median | P95 | P99 | placed (median) | /health OK (median) | references | health timeout |');
    out.push('|---|---|---|---|---|---|---|---|---|---|---|');
    for (const s of report.benchmarks) {
      const judged = s.verdicts.filter((v) => v.state !== 'no-reference');
      const beyond = judged.filter((v) => v.state === 'beyond');
      const refs = judged.length === 0 ? '–' : beyond.length === 0 ? `✅ ${judged.length} within` : `❌ ${beyond.map((v) => cell(v.message)).join('<br>')}`;
      out.push(
        `| ${cell(s.name)} | ${s.mode}${s.aborted ? ' (interrupted)' : ''} | ${s.stats.n} | ${formatPercent(s.stats.successRate)} | ${formatMs(s.stats.median)} | ${formatMs(s.stats.p95)} | ${formatMs(s.stats.p99)} | ` +
          `${formatMs(s.phases.placed?.median)} | ${formatMs(s.phases.healthy?.median)} | ${refs} | ${s.recommendedHealthTimeoutMs ? formatMs(s.recommendedHealthTimeoutMs.value) : '–'} |`,
      );
    }
    if (report.benchmarks.some((s) => s.recommendedHealthTimeoutMs)) out.push('', `Health timeout: ${HEALTH_TIMEOUT_RULE}.`);
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
