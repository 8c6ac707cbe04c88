import type { StartupSeries } from '../results.js';
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
 * OK, then to the first exec. Medians of phases do not add up exactly to the median total, so
 * each segment is the difference of consecutive phase medians, floored at zero.
 */
export function renderPhaseBars(series: readonly StartupSeries[]): string {
  const rows = series.map((s) => {
    const placed = s.phases.placed?.median;
    const healthy = s.phases.healthy?.median;
    const first = s.phases.firstExec?.median ?? s.stats.median;
    const segments: Array<{ phase: string; ms: number }> = [];
    let previous = 0;
    for (const [phase, at] of [['placed', placed], ['healthy', healthy], ['first-exec', first]] as const) {
      if (at === undefined || !Number.isFinite(at)) continue;
      segments.push({ phase, ms: Math.max(0, at - previous) });
      previous = Math.max(previous, at);
    }
    return { s, segments, total: previous };
  });
  const max = niceMax(Math.max(1, ...rows.map((r) => r.total)));
  const x = (ms: number) => LABEL_W + (ms / max) * PLOT_W;
  const height = TOP + rows.length * ROW_H + AXIS_H + 24;
  const parts: string[] = [svgOpen('phase-bars', height, 'Median startup phases per leg and mode')];
  parts.push(axis(max, x, TOP + rows.length * ROW_H, 'median ms from submit'));
  rows.forEach(({ s, segments, total }, row) => {
    const y = TOP + row * ROW_H + 7;
    parts.push(`<g class="series" data-leg="${escapeHtml(s.name)}" data-mode="${s.mode}">`);
    parts.push(`<text x="${LABEL_W - 8}" y="${y + 14}" text-anchor="end" class="label">${escapeHtml(s.name)} · ${s.mode}</text>`);
    let start = 0;
    for (const seg of segments) {
      const w = (seg.ms / max) * PLOT_W;
      parts.push(
        `<rect class="phase phase-${seg.phase}" x="${x(start).toFixed(1)}" y="${y}" width="${Math.max(w, 0.5).toFixed(1)}" height="20" data-ms="${seg.ms.toFixed(1)}"><title>${seg.phase}: +${formatMs(seg.ms)}</title></rect>`,
      );
      start += seg.ms;
    }
    if (segments.length === 0) parts.push(`<text x="${LABEL_W + 4}" y="${y + 14}" class="label failed-text">no successful start</text>`);
    else parts.push(`<text x="${(x(total) + 6).toFixed(1)}" y="${y + 14}" class="value">${formatMs(total)}</text>`);
    parts.push('</g>');
  });
  const legendY = TOP + rows.length * ROW_H + AXIS_H + 8;
  [['placed', 'submit → placed'], ['healthy', 'placed → /health OK'], ['first-exec', '/health OK → first exec']].forEach(([phase, label], i) => {
    const lx = LABEL_W + i * 200;
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
