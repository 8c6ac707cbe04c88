import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { summariseSeries } from '../bench/startup-series.js';
import { ProgressReporter } from './progress.js';

function capture(isTTY: boolean) {
  const stream = Object.assign(new PassThrough(), { isTTY, columns: 100 });
  let out = '';
  stream.on('data', (chunk) => (out += chunk));
  return { stream, text: () => out };
}

const leg = { scheduler: 'local', driver: 'process', name: 'local x process' } as const;

describe('ProgressReporter', () => {
  it('writes plain timestamped lines without escapes when not on a terminal', () => {
    const { stream, text } = capture(false);
    let t = 0;
    const progress = new ProgressReporter({ stream, env: {}, now: () => t });
    progress.handle({ type: 'run:start', suite: { name: 'readiness', path: 'suites/readiness.yaml' }, legs: [leg] });
    progress.handle({ type: 'leg:start', leg });
    t = 1_500;
    progress.handle({ type: 'check:start', leg, check: 'bash' });
    progress.handle({ type: 'check:end', leg, result: { check: 'bash', state: 'failed', durationMs: 20, error: { message: 'exit 1\nmore' } } });
    const nomad = { scheduler: 'nomad', driver: 'docker', name: 'nomad x docker' } as const;
    progress.handle({ type: 'leg:skip', leg: nomad, reason: 'nomad: not on PATH' });
    // a skipped leg's skipped checks would only repeat the reason
    progress.handle({ type: 'check:end', leg: nomad, result: { check: 'bash', state: 'skipped', reason: 'nomad: not on PATH' } });
    progress.handle({
      type: 'leg:end',
      leg: nomad,
      result: { leg: nomad, name: nomad.name, state: 'skipped', reason: 'nomad: not on PATH', checks: [], durationMs: 1 },
    });
    progress.close();
    expect(text()).not.toMatch(/\u001b/);
    expect(text().split('\n')).toEqual([
      '[0.0s] readiness: 1 legs',
      '[0.0s] local x process: start',
      '[1.5s]   ✗ local x process · bash: exit 1',
      '[1.5s] - skipped nomad x docker (1.0 ms): nomad: not on PATH',
      '',
    ]);
  });

  it('redraws one status line on a terminal and clears it before printing', () => {
    const { stream, text } = capture(true);
    const progress = new ProgressReporter({ stream, env: { NO_COLOR: '1' } });
    progress.handle({ type: 'bench:start', leg, mode: 'burst', count: 2 });
    progress.handle({ type: 'bench:sample', leg, mode: 'burst', index: 0, count: 2, sample: { ok: true, firstExecMs: 5 } });
    const series = summariseSeries(leg, 'burst', [{ ok: true, healthyMs: 100, firstExecMs: 120 }]);
    progress.handle({ type: 'bench:end', series });
    progress.close();
    const out = text();
    expect(out).toContain('… local x process · burst 1/2');
    expect(out).toContain('\r\u001b[2K');
    expect(out).toContain('local x process · burst: median 120 ms, P95 120 ms, P99 120 ms, success 100%, health timeout 2.00 s\n');
    // NO_COLOR: the only escapes are the line clears
    expect(out.replaceAll('\r\u001b[2K', '')).not.toMatch(/\u001b/);
  });

  it('does not redraw in CI even on a pseudo-terminal', () => {
    const { stream, text } = capture(true);
    const progress = new ProgressReporter({ stream, env: { CI: 'true', NO_COLOR: '1' } });
    progress.handle({ type: 'leg:start', leg });
    progress.close();
    expect(text()).toMatch(/^\[\d+\.\ds\] local x process: start\n$/);
  });
});
