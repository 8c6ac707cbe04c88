import type { StartupSample, StartupSeries } from '../results.js';
import { formatMs } from './format.js';
import { escapeHtml } from './html-escape.js';

const WIDTH = 900;
const LABEL_W = 230;
const ROW_H = 34;
const TOP = 16;
const AXIS_H = 34;
const PLOT_W = WIDTH - LABEL_W - 20;

/**
 * Strip plot of time to first exec, one row per (leg, mode): every successful sample is a dot
 * (`data-ms` holds its value), the median a tall bar, P95 and P99 short ticks, failed starts a
 * red cross at the right edge. A strip shows what a box plot hides at n = 10..100: gaps,
 * clusters, single outliers.
 */
export function renderStripPlot(series: readonly StartupSeries[]): string {
  const values = series.flatMap((s) => s.samples.filter((x) => x.ok && x.firstExecMs !== undefined).map((x) => x.firstExecMs!));
  const max = niceMax(Math.max(1, ...values));
  const x = (ms: number) => LABEL_W + (Math.min(ms, max) / max) * PLOT_W;
  const height = TOP + series.length * ROW_H + AXIS_H;
  const parts: string[] = [];
  parts.push(svgOpen('strip-plot', height, 'Time to first successful exec per leg and mode'));
  parts.push(axis(max, x, TOP + series.length * ROW_H, 'ms from submit to first successful exec'));
  series.forEach((s, row) => {
    const cy = TOP + row * ROW_H + ROW_H / 2;
    parts.push(`<g class="series" data-leg="${escapeHtml(s.name)}" data-mode="${s.mode}">`);
    parts.push(`<text x="${LABEL_W - 8}" y="${cy + 4}" text-anchor="end" class="label">${escapeHtml(s.name)} · ${s.mode}</text>`);
    parts.push(`<line x1="${LABEL_W}" x2="${LABEL_W + PLOT_W}" y1="${cy}" y2="${cy}" class="guide"/>`);
    s.samples.forEach((sample, i) => {
      if (sample.ok && sample.firstExecMs !== undefined) {
        // Deterministic jitter spreads overlapping dots vertically without randomness in the file.
        const jitter = ((i * 7) % 11) - 5;
        parts.push(
          `<circle class="sample" cx="${x(sample.firstExecMs).toFixed(1)}" cy="${(cy + jitter).toFixed(1)}" r="3" data-ms="${sample.firstExecMs.toFixed(1)}"><title>#${i + 1}: ${formatMs(sample.firstExecMs)}</title></circle>`,
        );
      } else {
        const fx = LABEL_W + PLOT_W + 8;
        parts.push(
          `<path class="failed" d="M${fx - 4},${cy - 4}L${fx + 4},${cy + 4}M${fx - 4},${cy + 4}L${fx + 4},${cy - 4}"><title>#${i + 1} failed: ${escapeHtml(sample.error ?? 'unknown error')}</title></path>`,
        );
      }
    });
    if (Number.isFinite(s.stats.median)) {
      parts.push(mark('median', x(s.stats.median), cy, 11, `median ${formatMs(s.stats.median)}`));
      parts.push(mark('p95', x(s.stats.p95), cy, 7, `P95 ${formatMs(s.stats.p95)}`));
      parts.push(mark('p99', x(s.stats.p99), cy, 7, `P99 ${formatMs(s.stats.p99)}`));
    }
    parts.push('</g>');
  });
  parts.push('</svg>');
  return parts.join('\n');
}

/**
 * Phase breakdown per (leg, mode): stacked bars of the median time to placed, then to `/health`
 * OK, then to the first exec; the bare runtime's bar (paler) below ours when measured. Medians of phases do not add up exactly to the median total, so
 * each segment is the difference of consecutive phase medians, floored at zero.
 */
export function renderPhaseBars(series: readonly StartupSeries[]): string {
  // Ours, then the bare runtime's bar right below it, so the extra time shows phase by phase.
  const entries = series.flatMap((s) => [
    { s, label: `${s.name} · ${s.mode}`, phases: s.phases, total: s.stats.median, kind: 'ours' },
    ...(s.baseline ? [{ s, label: `bare ${s.mode}`, phases: s.baseline.phases, total: s.baseline.stats.median, kind: 'bare' }] : []),
  ]);
  const rows = entries.map((entry) => {
    const placed = entry.phases.placed?.median;
    const healthy = entry.phases.healthy?.median;
    const first = entry.phases.firstExec?.median ?? entry.total;
    const segments: Array<{ phase: string; ms: number }> = [];
    let previous = 0;
    for (const [phase, at] of [['placed', placed], ['healthy', healthy], ['first-exec', first]] as const) {
      if (at === undefined || !Number.isFinite(at)) continue;
      segments.push({ phase, ms: Math.max(0, at - previous) });
      previous = Math.max(previous, at);
    }
    return { ...entry, segments, total: previous };
  });
  const max = niceMax(Math.max(1, ...rows.map((r) => r.total)));
  const x = (ms: number) => LABEL_W + (ms / max) * PLOT_W;
  const height = TOP + rows.length * ROW_H + AXIS_H + 24;
  const parts: string[] = [svgOpen('phase-bars', height, 'Median startup phases per leg and mode, ours and the bare runtime')];
  parts.push(axis(max, x, TOP + rows.length * ROW_H, 'median ms from submit'));
  rows.forEach(({ s, label, kind, segments, total }, row) => {
    const y = TOP + row * ROW_H + 7;
    parts.push(`<g class="series ${kind}" data-leg="${escapeHtml(s.name)}" data-mode="${s.mode}" data-kind="${kind}">`);
    parts.push(`<text x="${LABEL_W - 8}" y="${y + 14}" text-anchor="end" class="${kind === 'bare' ? 'tick' : 'label'}">${escapeHtml(label)}</text>`);
    let start = 0;
    for (const seg of segments) {
      const w = (seg.ms / max) * PLOT_W;
      parts.push(
        `<rect class="phase phase-${seg.phase}" x="${x(start).toFixed(1)}" y="${y}" width="${Math.max(w, 0.5).toFixed(1)}" height="20"${kind === 'bare' ? ' fill-opacity="0.45"' : ''} data-ms="${seg.ms.toFixed(1)}"><title>${kind} ${seg.phase}: +${formatMs(seg.ms)}</title></rect>`,
      );
      start += seg.ms;
    }
    if (segments.length === 0) parts.push(`<text x="${LABEL_W + 4}" y="${y + 14}" class="label failed-text">no successful start</text>`);
    else parts.push(`<text x="${(x(total) + 6).toFixed(1)}" y="${y + 14}" class="value">${formatMs(total)}</text>`);
    parts.push('</g>');
  });
  const legendY = TOP + rows.length * ROW_H + AXIS_H + 8;
  [['placed', 'submit → placed (bare: started)'], ['healthy', 'placed → /health OK'], ['first-exec', '/health OK → first exec']].forEach(([phase, label], i) => {
    const lx = LABEL_W + i * 210;
    parts.push(`<rect class="phase phase-${phase}" x="${lx}" y="${legendY}" width="12" height="12"/><text x="${lx + 18}" y="${legendY + 10}" class="label">${label}</text>`);
  });
  parts.push('</svg>');
  return parts.join('\n');
}

function svgOpen(kind: string, height: number, title: string): string {
  return `<svg xmlns="http://www.w3.org/2000/svg" class="${kind}" role="img" viewBox="0 0 ${WIDTH} ${height}" width="${WIDTH}" height="${height}"><title>${escapeHtml(title)}</title>`;
}

function mark(kind: string, x: number, cy: number, half: number, title: string): string {
  return `<line class="${kind}" x1="${x.toFixed(1)}" x2="${x.toFixed(1)}" y1="${cy - half}" y2="${cy + half}"><title>${escapeHtml(title)}</title></line>`;
}

function axis(max: number, x: (ms: number) => number, y: number, label: string): string {
  const parts = [`<line class="axis" x1="${LABEL_W}" x2="${LABEL_W + PLOT_W}" y1="${y}" y2="${y}"/>`];
  for (let i = 0; i <= 5; i++) {
    const ms = (max * i) / 5;
    parts.push(`<line class="axis" x1="${x(ms).toFixed(1)}" x2="${x(ms).toFixed(1)}" y1="${y}" y2="${y + 4}"/>`);
    parts.push(`<text class="tick" x="${x(ms).toFixed(1)}" y="${y + 16}" text-anchor="middle">${formatMs(ms)}</text>`);
  }
  parts.push(`<text class="tick" x="${LABEL_W + PLOT_W}" y="${y + 30}" text-anchor="end">${escapeHtml(label)}</text>`);
  return parts.join('');
}

/** The next 1, 2 or 5 x 10^k at or above `value`, so axis ticks are round numbers. */
export function niceMax(value: number): number {
  const exponent = 10 ** Math.floor(Math.log10(value));
  for (const step of [1, 2, 5, 10]) if (step * exponent >= value) return step * exponent;
  return 10 * exponent;
}

/** Colours per mode, shared by the CDF lines and their legend. */
const MODE_COLOURS: Record<string, string> = { sequential: '#0969da', staggered: '#8250df', burst: '#cf222e', warm: '#1f883d' };

const CDF_W = 440;
const CDF_H = 250;
const CDF_LEFT = 52;
const CDF_BOTTOM = 40;
const CDF_TOP = 26;

/** One line of a CDF panel: the successful samples of one series, and how to draw it. */
interface CdfLine {
  mode: string;
  kind: 'ours' | 'bare' | 'previous';
  ms: number[];
}

/**
 * Empirical CDFs of time to first exec, one panel per leg: a line per mode, ours solid, the bare
 * runtime dashed, and with `--compare` the previous run's ours dotted. Reading across at 0.5
 * gives the medians, at 0.95 the P95s; the horizontal gap between solid and dashed lines is our
 * overhead at every percentile, not only at the median.
 */
export function renderCdfPanels(series: readonly StartupSeries[], previous?: ReadonlyMap<string, number[]>): string {
  const byLeg = new Map<string, CdfLine[]>();
  for (const s of series) {
    const lines = byLeg.get(s.name) ?? [];
    lines.push({ mode: s.mode, kind: 'ours', ms: okMs(s.samples) });
    if (s.baseline) lines.push({ mode: s.mode, kind: 'bare', ms: okMs(s.baseline.samples) });
    const old = previous?.get(`${s.name}|${s.mode}`);
    if (old && old.length > 0) lines.push({ mode: s.mode, kind: 'previous', ms: old });
    byLeg.set(s.name, lines);
  }
  const panels = [...byLeg.entries()].map(([leg, lines]) => cdfPanel(leg, lines));
  return `<div class="cdf-panels">${panels.join('\n')}</div>`;
}

function cdfPanel(leg: string, lines: CdfLine[]): string {
  const all = lines.flatMap((l) => l.ms);
  const max = niceMax(Math.max(1, ...all));
  const plotW = CDF_W - CDF_LEFT - 12;
  const plotH = CDF_H - CDF_TOP - CDF_BOTTOM;
  const x = (ms: number) => CDF_LEFT + (Math.min(ms, max) / max) * plotW;
  const y = (p: number) => CDF_TOP + (1 - p) * plotH;
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" class="cdf" role="img" viewBox="0 0 ${CDF_W} ${CDF_H}" width="${CDF_W}" height="${CDF_H}" data-leg="${escapeHtml(leg)}"><title>${escapeHtml(`CDF of time to first exec: ${leg}`)}</title>`,
    `<text x="${CDF_LEFT}" y="16" class="label" font-weight="600">${escapeHtml(leg)}</text>`,
  ];
  for (const p of [0, 0.25, 0.5, 0.75, 1]) {
    parts.push(`<line class="guide" x1="${CDF_LEFT}" x2="${CDF_LEFT + plotW}" y1="${y(p).toFixed(1)}" y2="${y(p).toFixed(1)}"/>`);
    parts.push(`<text class="tick" x="${CDF_LEFT - 6}" y="${(y(p) + 4).toFixed(1)}" text-anchor="end">${p.toFixed(2)}</text>`);
  }
  // P95 as a dashed guide labelled on the right, clear of the 1.00 tick.
  parts.push(`<line class="guide" stroke-dasharray="3 3" x1="${CDF_LEFT}" x2="${CDF_LEFT + plotW}" y1="${y(0.95).toFixed(1)}" y2="${y(0.95).toFixed(1)}" stroke="#8c959f"/>`);
  parts.push(`<text class="tick" x="${CDF_LEFT + plotW - 2}" y="${(y(0.95) + 12).toFixed(1)}" text-anchor="end">P95</text>`);
  const axisY = CDF_TOP + plotH;
  parts.push(`<line class="axis" x1="${CDF_LEFT}" x2="${CDF_LEFT + plotW}" y1="${axisY}" y2="${axisY}"/>`);
  for (let i = 0; i <= 4; i++) {
    const ms = (max * i) / 4;
    parts.push(`<text class="tick" x="${x(ms).toFixed(1)}" y="${axisY + 15}" text-anchor="middle">${formatMs(ms)}</text>`);
  }
  parts.push(`<text class="tick" x="${CDF_LEFT + plotW}" y="${axisY + 32}" text-anchor="end">ms from submit to first exec</text>`);
  for (const line of lines) {
    if (line.ms.length === 0) continue;
    const sorted = [...line.ms].sort((a, b) => a - b);
    // A step function: up by 1/n at each sample.
    let d = `M${x(sorted[0]!).toFixed(1)},${y(0).toFixed(1)}`;
    sorted.forEach((ms, i) => {
      d += `L${x(ms).toFixed(1)},${y(i / sorted.length).toFixed(1)}L${x(ms).toFixed(1)},${y((i + 1) / sorted.length).toFixed(1)}`;
    });
    const dash = line.kind === 'bare' ? ' stroke-dasharray="6 4"' : line.kind === 'previous' ? ' stroke-dasharray="2 3"' : '';
    const colour = MODE_COLOURS[line.mode] ?? '#1d232b';
    const opacity = line.kind === 'ours' ? 1 : 0.8;
    parts.push(
      `<path class="cdf-line cdf-${line.kind}" data-mode="${line.mode}" d="${d}" fill="none" stroke="${colour}" stroke-opacity="${opacity}" stroke-width="${line.kind === 'ours' ? 2.2 : 1.8}"${dash}><title>${escapeHtml(`${line.mode} (${line.kind}): ${sorted.length} starts, median ${formatMs(sorted[Math.floor((sorted.length - 1) / 2)])}`)}</title></path>`,
    );
  }
  parts.push('</svg>');
  return parts.join('');
}

/** The legend of the CDF panels: a colour per mode, a dash per kind of line. */
export function renderCdfLegend(modes: readonly string[], withPrevious: boolean): string {
  const swatches = modes.map((m) => `<span><svg width="22" height="10" style="display:inline;margin:0"><line x1="0" x2="22" y1="5" y2="5" stroke="${MODE_COLOURS[m] ?? '#1d232b'}" stroke-width="3"/></svg> ${m}</span>`);
  const kinds = [
    '<span><svg width="26" height="10" style="display:inline;margin:0"><line x1="0" x2="26" y1="5" y2="5" stroke="#1d232b" stroke-width="2.2"/></svg> ours</span>',
    '<span><svg width="26" height="10" style="display:inline;margin:0"><line x1="0" x2="26" y1="5" y2="5" stroke="#1d232b" stroke-width="1.8" stroke-dasharray="6 4"/></svg> bare runtime</span>',
    withPrevious ? '<span><svg width="26" height="10" style="display:inline;margin:0"><line x1="0" x2="26" y1="5" y2="5" stroke="#1d232b" stroke-width="1.8" stroke-dasharray="2 3"/></svg> previous run (ours)</span>' : '',
  ];
  return `<p class="legend meta">${[...swatches, ...kinds].join('')}</p>`;
}

function okMs(samples: readonly StartupSample[]): number[] {
  return samples.filter((s) => s.ok && s.firstExecMs !== undefined).map((s) => s.firstExecMs!);
}
