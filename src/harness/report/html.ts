import type { CheckResult, Comparison, RunReport, StartupSeries } from '../results.js';
import { HEALTH_TIMEOUT_RULE } from '../bench/health-timeout.js';
import { formatChange, formatMs, formatPercent, formatRatio } from './format.js';
import { capitalise, outcomeCounts } from './outcome-counts.js';
import { escapeHtml } from './html-escape.js';
import { legNote } from './summary-table.js';
import { renderCdfLegend, renderCdfPanels, renderPhaseBars, renderStripPlot } from './svg-plots.js';

const STYLE = `
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;margin:24px;color:#1d232b;background:#fff;max-width:1100px}
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 8px;border-bottom:1px solid #dde2e8;padding-bottom:4px}
.meta{color:#5b6672}.verdict{display:inline-block;padding:2px 10px;border-radius:4px;font-weight:600;color:#fff}
.pass{background:#1f883d}.fail{background:#cf222e}
table{border-collapse:collapse;width:100%;margin:6px 0}th,td{text-align:left;padding:4px 8px;border-bottom:1px solid #eceff2;vertical-align:top}
th{background:#f6f8fa;font-weight:600}td.num{text-align:right;font-variant-numeric:tabular-nums}
.state-passed{color:#1f883d}.state-failed{color:#cf222e;font-weight:600}.state-skipped{color:#9a6700}.state-degraded{color:#9a6700}
.state-within{color:#1f883d}.state-beyond{color:#cf222e;font-weight:600}.state-no-reference{color:#5b6672}
pre{background:#f6f8fa;padding:8px;overflow:auto;white-space:pre-wrap;margin:4px 0}details{margin:4px 0}
svg{display:block;max-width:100%;height:auto;margin:8px 0}
svg .label,svg .tick,svg .value{font:12px system-ui,sans-serif;fill:#1d232b}svg .tick{fill:#5b6672}
svg .guide{stroke:#eceff2}svg .axis{stroke:#8c959f}
svg .sample{fill:#0969da;fill-opacity:.55}svg .median{stroke:#1d232b;stroke-width:3}
svg .p95{stroke:#bf8700;stroke-width:2}svg .p99{stroke:#cf222e;stroke-width:2}svg .failed{stroke:#cf222e;stroke-width:2}
svg .failed-text{fill:#cf222e}
svg .phase-placed{fill:#8250df}svg .phase-healthy{fill:#0969da}svg .phase-first-exec{fill:#1f883d}
.legend span{margin-right:14px}.double{color:#9a6700;font-weight:600}
.cdf-panels{display:flex;flex-wrap:wrap;gap:8px}.cdf-panels svg{margin:0}
.verdict-regression{color:#cf222e;font-weight:600}.verdict-improvement{color:#1f883d}.verdict-noise{color:#5b6672}
`;

/**
 * A self-contained HTML report (inline CSS and SVG, no script, no external asset, so it opens
 * from a CI artefact or an e-mail): verdict, legs with every check, startup tables with
 * references and the advised health timeout, a strip plot of time to first exec per leg and mode
 * and a stacked bar chart of the startup phases.
 */
export function renderHtml(report: RunReport): string {
  const { summary } = report;
  const body: string[] = [];
  body.push(`<h1>hpc-sandbox ${escapeHtml(report.command)}: ${escapeHtml(report.suite.name)} <span class="verdict ${summary.verdict}">${summary.verdict.toUpperCase()}${report.aborted ? ' (interrupted)' : ''}</span></h1>`);
  body.push(
    `<p class="meta">${escapeHtml(report.suite.path)} · host ${escapeHtml(report.host.hostname)} (${escapeHtml(report.host.platform)}/${escapeHtml(report.host.arch)}, Node ${escapeHtml(report.host.node)}, ${report.host.cpus} CPUs) · ${escapeHtml(report.startedAt)} → ${escapeHtml(report.finishedAt)} · ${escapeHtml(report.tool.name)} ${escapeHtml(report.tool.version)}</p>`,
  );
  body.push(
    `<p>${escapeHtml(outcomeCounts(report).map(capitalise).join('. '))}.</p>`,
  );
  if (report.legs.length > 0) body.push(legsSection(report));
  if (report.benchmarks.length > 0) body.push(benchmarkSection(report));
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>hpc-sandbox ${escapeHtml(report.command)}: ${escapeHtml(report.suite.name)} (${summary.verdict})</title>
<style>${STYLE}</style>
</head>
<body>
${body.join('\n')}
</body>
</html>
`;
}

function legsSection(report: RunReport): string {
  const rows = report.legs.map((leg) => {
    const double = leg.double ? ' <span class="double">test double</span>' : '';
    const versions = [leg.versions?.driver && `driver: ${leg.versions.driver}`, leg.versions?.scheduler && `scheduler: ${leg.versions.scheduler}`].filter(Boolean).map((v) => escapeHtml(v!)).join('<br>');
    const checks = leg.checks.length
      ? `<details><summary>${leg.checks.length} checks</summary><table>${leg.checks.map(checkRow).join('')}</table></details>`
      : '–';
    return `<tr><td>${escapeHtml(leg.name)}${double}</td><td class="state-${leg.state}">${leg.state}</td><td>${versions || '–'}</td><td class="num">${formatMs(leg.durationMs)}</td><td>${checks}</td><td>${escapeHtml(legNote(leg))}</td></tr>`;
  });
  return `<h2>Legs</h2><table><thead><tr><th>leg</th><th>state</th><th>versions</th><th>time</th><th>checks</th><th>note</th></tr></thead><tbody>${rows.join('')}</tbody></table>`;
}

function checkRow(check: CheckResult): string {
  const time = check.state === 'skipped' ? '–' : formatMs(check.durationMs);
  const detail =
    check.state === 'failed'
      ? `<pre>${escapeHtml(check.error.message)}${check.error.code ? `\n[${escapeHtml(check.error.code)}]` : ''}</pre>`
      : check.state === 'skipped' || check.state === 'degraded'
        ? escapeHtml(check.reason)
        : '';
  return `<tr><td>${escapeHtml(check.check)}</td><td class="state-${check.state}">${check.state}</td><td class="num">${time}</td><td>${detail}</td></tr>`;
}

function benchmarkSection(report: RunReport): string {
  const series = report.benchmarks;
  const rows = series.map(
    (s) =>
      `<tr><td>${escapeHtml(s.name)}</td><td>${s.mode}${s.aborted ? ' (interrupted)' : ''}</td><td class="num">${s.stats.n}</td><td class="num">${formatPercent(s.stats.successRate)}</td>` +
      `<td class="num">${formatMs(s.phases.placed?.median)}</td><td class="num">${formatMs(s.phases.healthy?.median)}</td>` +
      `<td class="num">${formatMs(s.stats.median)}</td><td class="num">${formatMs(s.stats.p95)}</td><td class="num">${formatMs(s.stats.p99)}</td>` +
      `<td class="num">${formatMs(s.baseline?.stats.median)}</td><td class="num">${escapeHtml(formatRatio(s.overhead))}</td>` +
      `<td class="num">${s.recommendedHealthTimeoutMs ? formatMs(s.recommendedHealthTimeoutMs.value) : '–'}</td></tr>`,
  );
  const verdicts = series.flatMap((s) =>
    s.verdicts.map((v) => `<tr><td>${escapeHtml(s.name)}</td><td>${s.mode}</td><td>${escapeHtml(v.metric)}</td><td class="state-${v.state}">${v.state}</td><td>${escapeHtml(v.message)}</td></tr>`),
  );
  const failures = series.flatMap((s) =>
    s.samples.flatMap((x, i) => (x.ok ? [] : [`<tr><td>${escapeHtml(s.name)}</td><td>${s.mode}</td><td class="num">#${i + 1}</td><td><pre>${escapeHtml(x.error ?? 'unknown error')}</pre></td></tr>`])),
  );
  return [
    '<h2>Startup: submit → placed → /health OK → first successful exec</h2>',
    `<table><thead><tr><th>leg</th><th>mode</th><th>n</th><th>success</th><th>placed (median)</th><th>/health OK (median)</th><th>first exec median</th><th>P95</th><th>P99</th><th>bare median</th><th>overhead [95% CI]</th><th>health timeout</th></tr></thead><tbody>${rows.join('')}</tbody></table>`,
    `<p class="meta">${series.some((s) => s.recommendedHealthTimeoutMs) ? `Health timeout: ${escapeHtml(HEALTH_TIMEOUT_RULE)}. ` : ''}Warm = acquire a slot from a running pool → first exec. ` +
      `Bare = the same server started by the runtime itself in the same run (${escapeHtml([...new Set(series.flatMap((s) => (s.baseline ? [s.baseline.runtime] : [])))].join('; ') || 'none')}); overhead = our median / bare median with a seeded bootstrap 95% interval.` +
      `${series.some((s) => s.baselineUnavailable) ? ` No baseline: ${escapeHtml([...new Set(series.flatMap((s) => (s.baselineUnavailable ? [`${s.name}: ${s.baselineUnavailable}`] : [])))].join('; '))}.` : ''}</p>`,
    burstSection(series),
    report.comparison ? comparisonSection(report.comparison) : '',
    '<h3>Time to first exec: cumulative distribution per leg</h3>',
    renderCdfLegend([...new Set(series.map((s) => s.mode))], Boolean(report.comparison)),
    renderCdfPanels(series, previousSamples(report)),
    '<h3>Time to first exec: every start</h3>',
    '<p class="legend meta"><span>● sample</span><span>▮ median</span><span style="color:#bf8700">| P95</span><span style="color:#cf222e">| P99</span><span style="color:#cf222e">✕ failed start</span></p>',
    renderStripPlot(series),
    '<h3>Phases (medians): ours, and the bare runtime below</h3>',
    renderPhaseBars(series),
    verdicts.length ? `<h3>References</h3><table><thead><tr><th>leg</th><th>mode</th><th>metric</th><th>verdict</th><th>detail</th></tr></thead><tbody>${verdicts.join('')}</tbody></table>` : '',
    failures.length ? `<h3>Failed starts</h3><table><tbody>${failures.join('')}</tbody></table>` : '',
  ].join('\n');
}

function burstSection(series: readonly StartupSeries[]): string {
  const rows = series.flatMap((s) =>
    s.burst
      ? [
          `<tr><td>${escapeHtml(s.name)}</td><td class="num">${s.burst.size}</td><td class="num">${s.burst.rounds}</td><td class="num">${formatPercent(s.burst.successRate)}</td>` +
            `<td class="num">${formatMs(s.burst.allReady.median)}</td><td class="num">${formatMs(s.burst.allReady.max)}</td><td class="num">${formatMs(s.burst.p50)}</td><td class="num">${formatMs(s.burst.p99)}</td>` +
            `<td class="num">${Number.isFinite(s.burst.tailRatio) ? s.burst.tailRatio.toFixed(2) : '–'}</td><td class="num">${s.recommendedHealthTimeoutMs ? formatMs(s.recommendedHealthTimeoutMs.value) : '–'}</td></tr>`,
        ]
      : [],
  );
  if (rows.length === 0) return '';
  return (
    '<h3>Bursts: what a trainer waiting for a batch sees</h3>' +
    '<table><thead><tr><th>leg</th><th>burst size</th><th>rounds</th><th>success</th><th>all ready (median)</th><th>all ready (worst)</th><th>P50</th><th>P99</th><th>tail ratio P99/P50</th><th>health timeout (from the burst tail)</th></tr></thead>' +
    `<tbody>${rows.join('')}</tbody></table>`
  );
}

function comparisonSection(comparison: Comparison): string {
  const rows = comparison.rows.map(
    (r) =>
      `<tr><td>${escapeHtml(r.name)}</td><td>${r.mode}</td><td class="num">${formatMs(r.old?.median)}</td><td class="num">${formatMs(r.new?.median)}</td>` +
      `<td class="num">${formatMs(r.old?.p95)}</td><td class="num">${formatMs(r.new?.p95)}</td><td class="num">${formatChange(r.change)}</td>` +
      `<td class="num">${escapeHtml(formatRatio(r.interval))}</td><td class="num">${r.pValue === undefined ? '–' : r.pValue < 0.001 ? '&lt;0.001' : r.pValue.toFixed(3)}</td>` +
      `<td class="verdict-${r.verdict}">${r.verdict}${r.note ? ` (${escapeHtml(r.note)})` : ''}</td></tr>`,
  );
  return (
    `<h3>Compared with ${escapeHtml(comparison.source)} (run of ${escapeHtml(comparison.oldStartedAt)}): ${comparison.regressions} regression${comparison.regressions === 1 ? '' : 's'}</h3>` +
    '<table><thead><tr><th>leg</th><th>mode</th><th>old median</th><th>new median</th><th>old P95</th><th>new P95</th><th>change</th><th>new/old [95% CI]</th><th>p</th><th>verdict</th></tr></thead>' +
    `<tbody>${rows.join('')}</tbody></table><p class="meta">Method: ${escapeHtml(comparison.method)}. The previous run is drawn dotted in the CDFs below.</p>`
  );
}

function previousSamples(report: RunReport): Map<string, number[]> | undefined {
  if (!report.comparison) return undefined;
  return new Map(report.comparison.rows.flatMap((r) => (r.old ? [[`${r.name}|${r.mode}`, r.old.firstExecMs] as [string, number[]]] : [])));
}
