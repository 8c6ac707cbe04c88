import { describe, expect, it } from 'vitest';
import { toBashOutcome } from './client-adapter.js';

const response = (output: string, metadata: Record<string, unknown>, success = true) => ({ success, output, error: '', execution_id: null, metadata });

describe('toBashOutcome', () => {
  it('splits the Atropos output at the [stderr] marker', () => {
    const outcome = toBashOutcome(response('out line\n\n[stderr]\nerr line', { exit_code: 3 }, false));
    expect(outcome).toMatchObject({ success: false, stdout: 'out line', stderr: 'err line', exitCode: 3, timedOut: false });
  });

  it('keeps output without a marker as stdout', () => {
    expect(toBashOutcome(response('42', { exit_code: 0 }))).toMatchObject({ stdout: '42', stderr: '', exitCode: 0 });
  });

  it('reports a timeout and a missing exit code', () => {
    expect(toBashOutcome(response('partial', { exit_code: null, timeout: true }, false))).toMatchObject({ exitCode: null, timedOut: true });
  });
});
