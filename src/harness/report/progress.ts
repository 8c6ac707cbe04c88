import type { Writable } from 'node:stream';
import type { BenchEvent } from '../bench/startup-series.js';
import type { WarmupEvent } from '../bench/benchmark-leg.js';
import type { RunEvent } from '../events.js';
import { legName } from '../results.js';
import { colorEnabled, firstLine, formatMs, formatPercent, type Painter, painter } from './format.js';

/** What progress shows: the matrix runner's events and the startup benchmark's. */
export type ProgressEvent = RunEvent | BenchEvent | WarmupEvent;

export interface ProgressOptions {
  /** Where progress goes: stdout normally, stderr when stdout carries `--json`. */
  stream: Writable & { isTTY?: boolean; columns?: number };
  env?: NodeJS.ProcessEnv;
  /** Also print check starts, warm-ups and every sample, not only results. @default false */
  verbose?: boolean;
  /** Seam for tests. */
  now?: () => number;
}

/**
 * Live progress of a check or bench run. On a terminal, finished steps print as lines and one
 * status line (what runs now, elapsed) is redrawn in place every second; elsewhere (CI logs,
 * pipes) every step is one plain, timestamped line and nothing is redrawn. Colours follow the
 * terminal and NO_COLOR.
 */
export class ProgressReporter {
  readonly #stream: ProgressOptions['stream'];
  readonly #paint: Painter;
  readonly #live: boolean;
  readonly #verbose: boolean;
  readonly #now: () => number;
  readonly #startedAt: number;
  #status = '';
  #statusSince = 0;
  #timer: NodeJS.Timeout | undefined;
  /** Legs announced as skipped: their per-check "skipped" lines would only repeat the reason. */
  readonly #skippedLegs = new Set<string>();

  constructor(options: ProgressOptions) {
    const env = options.env ?? process.env;
    this.#stream = options.stream;
    this.#paint = painter(colorEnabled(options.stream, env));
    this.#live = options.stream.isTTY === true && env.TERM !== 'dumb' && !env.CI;
    this.#verbose = options.verbose ?? false;
    this.#now = options.now ?? Date.now;
    this.#startedAt = this.#now();
  }

  /** Feeds one event; safe to pass as an event listener. */
  readonly handle = (event: ProgressEvent): void => {
    const p = this.#paint;
    switch (event.type) {
      case 'run:start':
        this.#line(`${p.bold(event.suite.name)}${event.legs ? `: ${event.legs.length} legs` : ''}`);
        break;
      case 'leg:start':
        this.#setStatus(legName(event.leg));
        if (!this.#live) this.#line(`${legName(event.leg)}: start`);
        break;
      case 'leg:skip':
        // Said once, by leg:end, which follows with the same reason.
        this.#skippedLegs.add(legName(event.leg));
        break;
      case 'check:start':
        this.#setStatus(`${legName(event.leg)} · ${event.check}`);
        if (!this.#live && this.#verbose) this.#line(`${legName(event.leg)} · ${event.check}: start`);
        break;
      case 'check:end': {
        const r = event.result;
        if (r.state === 'failed') this.#line(`  ${p.red('✗')} ${legName(event.leg)} · ${r.check}: ${firstLine(r.error.message)}`);
        else if (r.state === 'degraded') this.#line(`  ${p.yellow('!')} ${legName(event.leg)} · ${r.check}: degraded: ${r.reason}`);
        else if (r.state === 'skipped' && this.#skippedLegs.has(legName(event.leg)) && !this.#verbose) break;
        else {
          const time = r.state === 'skipped' ? `skipped: ${r.reason}` : formatMs(r.durationMs);
          this.#line(`  ${r.state === 'passed' ? p.green('✓') : p.yellow('-')} ${legName(event.leg)} · ${r.check} (${time})`);
        }
        break;
      }
      case 'leg:end': {
        const r = event.result;
        const mark = r.state === 'passed' ? p.green('✓ passed') : r.state === 'failed' ? p.red('✗ failed') : p.yellow('- skipped');
        this.#setStatus('');
        this.#line(`${mark} ${r.name}${r.double ? ' (test double)' : ''} (${formatMs(r.durationMs)})${r.reason ? `: ${r.reason}` : ''}`);
        break;
      }
      case 'bench:warmup':
        this.#setStatus(`${legName(event.leg)} · warm-up ${event.index + 1}/${event.count}`);
        if (!this.#live && this.#verbose) this.#line(`${legName(event.leg)} · warm-up ${event.index + 1}/${event.count}: ${sampleText(event.sample)}`);
        break;
      case 'bench:start':
        this.#setStatus(`${legName(event.leg)} · ${event.mode} 0/${event.count}`);
        if (!this.#live) this.#line(`${legName(event.leg)} · ${event.mode}: ${event.count} starts`);
        break;
      case 'bench:sample':
        this.#setStatus(`${legName(event.leg)} · ${event.mode} ${event.index + 1}/${event.count}`);
        if (!event.sample.ok) this.#line(`  ${p.red('✗')} ${legName(event.leg)} · ${event.mode} #${event.index + 1}: ${event.sample.error ?? 'failed'}`);
        else if (this.#verbose) this.#line(`  ${legName(event.leg)} · ${event.mode} #${event.index + 1}: ${sampleText(event.sample)}`);
        break;
      case 'bench:end': {
        const s = event.series;
        this.#setStatus('');
        this.#line(
          `${p.bold(s.name)} · ${s.mode}: median ${formatMs(s.stats.median)}, P95 ${formatMs(s.stats.p95)}, ` +
            `P99 ${formatMs(s.stats.p99)}, success ${formatPercent(s.stats.successRate)}` +
            (s.recommendedHealthTimeoutMs ? `, health timeout ${formatMs(s.recommendedHealthTimeoutMs.value)}` : ''),
        );
        break;
      }
      case 'run:end':
        this.close();
        break;
    }
  };

  /** Prints a line above the status line (warnings, the final summary). */
  print(text: string): void {
    this.#clearStatus();
    this.#stream.write(text.endsWith('\n') ? text : text + '\n');
    this.#drawStatus();
  }

  /** Stops redrawing and clears the status line. Idempotent. */
  close(): void {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = undefined;
    this.#clearStatus();
    this.#status = '';
  }

  #line(text: string): void {
    if (this.#live) this.print(text);
    else this.#stream.write(`[${formatElapsed(this.#now() - this.#startedAt)}] ${text}\n`);
  }

  #setStatus(status: string): void {
    if (!this.#live) return;
    this.#clearStatus();
    this.#status = status;
    this.#statusSince = this.#now();
    if (status && !this.#timer) {
      this.#timer = setInterval(() => {
        this.#clearStatus();
        this.#drawStatus();
      }, 1_000);
      this.#timer.unref();
    }
    this.#drawStatus();
  }

  #drawStatus(): void {
    if (!this.#live || !this.#status) return;
    const elapsed = formatElapsed(this.#now() - this.#statusSince);
    const total = formatElapsed(this.#now() - this.#startedAt);
    let text = `… ${this.#status} ${elapsed} (total ${total})`;
    // A pseudo-terminal without a size reports 0 columns.
    const width = this.#stream.columns || 80;
    if (text.length > width - 1) text = text.slice(0, width - 2) + '…';
    this.#stream.write(this.#paint.dim(text));
  }

  #clearStatus(): void {
    if (this.#live && this.#status) this.#stream.write('\r\u001b[2K');
  }
}

function sampleText(sample: { ok: boolean; error?: string; placedMs?: number; healthyMs?: number; firstExecMs?: number }): string {
  if (!sample.ok) return `failed: ${sample.error ?? 'unknown error'}`;
  return `placed ${formatMs(sample.placedMs)}, healthy ${formatMs(sample.healthyMs)}, first exec ${formatMs(sample.firstExecMs)}`;
}

/** `12.3s`, `2m05s`. */
export function formatElapsed(ms: number): string {
  const seconds = Math.max(0, ms) / 1_000;
  if (seconds < 60) return `${seconds.toFixed(1)}s`;
  const m = Math.floor(seconds / 60);
  return `${m}m${String(Math.floor(seconds % 60)).padStart(2, '0')}s`;
}

