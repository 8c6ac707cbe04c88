/**
 * Small formatting helpers shared by the terminal, Markdown and HTML reporters, so a figure reads
 * the same everywhere.
 */

/** `850 ms`, `1.24 s`, `2 min 5 s`; `–` for a missing or non-finite value. */
export function formatMs(ms: number | undefined | null): string {
  if (ms === undefined || ms === null || !Number.isFinite(ms)) return '–';
  if (ms < 1_000) return `${ms < 10 ? ms.toFixed(1) : Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1_000).toFixed(2)} s`;
  const minutes = Math.floor(ms / 60_000);
  return `${minutes} min ${Math.round((ms % 60_000) / 1_000)} s`;
}

/** `97.5%`; `–` when undefined. */
export function formatPercent(ratio: number | undefined): string {
  if (ratio === undefined || !Number.isFinite(ratio)) return '–';
  const pct = ratio * 100;
  return `${Number.isInteger(pct) ? pct : pct.toFixed(1)}%`;
}

/** ANSI styling that turns itself off (NO_COLOR, not a terminal). */
export interface Painter {
  readonly enabled: boolean;
  green(text: string): string;
  red(text: string): string;
  yellow(text: string): string;
  dim(text: string): string;
  bold(text: string): string;
}

/**
 * Colours only for a terminal, and never when `NO_COLOR` is set to anything non-empty
 * (no-color.org). `FORCE_COLOR` (non-empty, not `0`) turns them on for piped output.
 */
export function colorEnabled(stream: { isTTY?: boolean }, env: NodeJS.ProcessEnv = process.env): boolean {
  if (env.NO_COLOR) return false;
  if (env.FORCE_COLOR && env.FORCE_COLOR !== '0') return true;
  return stream.isTTY === true && env.TERM !== 'dumb';
}

export function painter(enabled: boolean): Painter {
  const wrap = (open: number, close: number) => (text: string) => (enabled ? `\u001b[${open}m${text}\u001b[${close}m` : text);
  return { enabled, green: wrap(32, 39), red: wrap(31, 39), yellow: wrap(33, 39), dim: wrap(2, 22), bold: wrap(1, 22) };
}

/** Visible width of a string, ignoring ANSI escapes. */
function visibleLength(text: string): number {
  // eslint-disable-next-line no-control-regex
  return text.replace(/\u001b\[[0-9;]*m/g, '').length;
}

/** Left-aligned text columns separated by two spaces, widths taken from the widest cell. */
export function renderColumns(rows: readonly (readonly string[])[]): string {
  const widths: number[] = [];
  for (const row of rows) row.forEach((cell, i) => (widths[i] = Math.max(widths[i] ?? 0, visibleLength(cell))));
  return rows
    .map((row) => row.map((cell, i) => (i === row.length - 1 ? cell : cell + ' '.repeat(widths[i]! - visibleLength(cell)))).join('  '))
    .join('\n');
}

/** The first line of a (multi-line) message. */
export function firstLine(text: string): string {
  return text.split('\n', 1)[0] ?? '';
}

/** JSON of a report: NaN and Infinity become null (as JSON.stringify does) with 2-space indent. */
export function toJson(value: unknown): string {
  return JSON.stringify(value, null, 2) + '\n';
}

/** `1.08x [1.02-1.15]`: a ratio with its interval; `–` when there is none. */
export function formatRatio(estimate: { value: number; low: number; high: number } | undefined): string {
  if (!estimate || !Number.isFinite(estimate.value)) return '–';
  const interval = Number.isFinite(estimate.low) && Number.isFinite(estimate.high) ? ` [${estimate.low.toFixed(2)}-${estimate.high.toFixed(2)}]` : '';
  return `${estimate.value.toFixed(2)}x${interval}`;
}

/** `+12.3%` / `-4.0%`; `–` when undefined. */
export function formatChange(change: number | undefined): string {
  if (change === undefined || !Number.isFinite(change)) return '–';
  return `${change >= 0 ? '+' : ''}${(change * 100).toFixed(1)}%`;
}
