import type { RunReport } from '../results.js';

/**
 * The counts every report ends its headline with: legs, then checks for a check run, or series
 * and reference verdicts for a bench run (which has no checks, so their counts would all be 0).
 *
 * @example outcomeCounts(report) // ['legs: 3 passed, 0 failed, 7 skipped', 'checks: 24 passed, ...']
 */
export function outcomeCounts(report: RunReport): [legs: string, rest: string] {
  const { legs, checks } = report.summary;
  const legCounts = `legs: ${legs.passed} passed, ${legs.failed} failed, ${legs.skipped} skipped`;
  if (report.command !== 'bench') {
    return [legCounts, `checks: ${checks.passed} passed, ${checks.degraded} degraded, ${checks.failed} failed, ${checks.skipped} skipped`];
  }
  const judged = report.benchmarks.flatMap((series) => series.verdicts.filter((v) => v.state !== 'no-reference'));
  const beyond = judged.filter((v) => v.state === 'beyond').length;
  return [legCounts, `series: ${report.benchmarks.length}, references: ${judged.length - beyond} within, ${beyond} beyond`];
}

/** `legs: ...` as a sentence start: `Legs: ...`. */
export function capitalise(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}
