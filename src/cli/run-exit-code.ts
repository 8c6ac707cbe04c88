import { requiredButMissing } from '../harness/requirements.js';
import type { RunReport } from '../harness/results.js';
import { EXIT, type ExitCode } from './exit-codes.js';

/**
 * The exit code of a finished run: 130 when it was interrupted, 3 when a required leg could not
 * run here, 1 when anything failed, else 0. Over several suites the most severe code wins.
 */
export function exitCodeOf(reports: readonly RunReport[]): ExitCode {
  let code: ExitCode = EXIT.pass;
  for (const report of reports) {
    if (report.aborted) return EXIT.interrupted;
    const requiredMissing = report.legs.some((leg) => leg.state === 'failed' && leg.reason?.startsWith(requiredButMissing(leg.leg, '')));
    if (requiredMissing) code = EXIT.requiredUnavailable;
    else if (report.summary.verdict === 'fail' && code === EXIT.pass) code = EXIT.failed;
  }
  return code;
}
