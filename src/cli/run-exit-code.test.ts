import { describe, expect, it } from 'vitest';
import { requiredButMissing } from '../harness/requirements.js';
import type { LegResult, RunReport } from '../harness/results.js';
import { EXIT } from './exit-codes.js';
import { exitCodeOf } from './run-exit-code.js';

function report(legs: Array<Partial<LegResult> & Pick<LegResult, 'state'>>, extra: Partial<RunReport> = {}): RunReport {
  const full = legs.map((l, i) => ({ leg: { scheduler: 'local', driver: 'process' }, name: `leg ${i}`, checks: [], durationMs: 0, ...l }) as LegResult);
  const failed = full.some((l) => l.state === 'failed');
  return { legs: full, benchmarks: [], summary: { verdict: failed ? 'fail' : 'pass' }, ...extra } as unknown as RunReport;
}

describe('exitCodeOf', () => {
  it('is 0 for a pass, skipped legs included', () => {
    expect(exitCodeOf([report([{ state: 'passed' }, { state: 'skipped', reason: 'docker: not running' }])])).toBe(EXIT.pass);
  });

  it('is 1 when something failed', () => {
    expect(exitCodeOf([report([{ state: 'failed', reason: 'bash: exit 1' }])])).toBe(EXIT.failed);
  });

  it('is 3 when a required leg could not run, even beside other failures', () => {
    const leg = { scheduler: 'local', driver: 'docker' } as const;
    const required = report([{ leg, state: 'failed', reason: requiredButMissing(leg, 'docker: cannot connect') }]);
    expect(exitCodeOf([report([{ state: 'failed' }]), required])).toBe(EXIT.requiredUnavailable);
  });

  it('is 130 for an interrupted run', () => {
    expect(exitCodeOf([report([{ state: 'passed' }], { aborted: true })])).toBe(EXIT.interrupted);
  });
});
