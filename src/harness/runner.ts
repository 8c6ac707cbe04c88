import type { LegResult, RunReport, StartupSeries } from './results.js';
import { LegSession, type PreparedLeg } from './leg-session.js';
import { selectChecks, selectLegs } from './leg-selection.js';
import { buildReport } from './report-assembly.js';
import { SuiteRun, type SuiteRunOptions } from './suite-run.js';
import type { ResolvedSuite } from './suite/load.js';

// The runner's public API: `runSuite` drives the pieces below for the CLI; the vitest entry
// drives `SuiteRun` and `LegSession` itself. Re-exported so imports from before the split hold.
export { CHECK_TIMEOUT_MS } from './check-policy.js';
export { buildReport, LegSession, selectChecks, selectLegs, SuiteRun };
export type { PreparedLeg, SuiteRunOptions };

export interface RunOptions extends SuiteRunOptions {
  /** Only these legs (`local x docker` or `local:docker`). @default every leg of the suite */
  legs?: readonly string[];
  /** Only these checks. @default every check of the suite */
  checks?: readonly string[];
  /** `bench` runs `benchmark` on each leg; `check` runs the checks. @default 'check' */
  command?: 'check' | 'bench';
  /** The startup benchmark of one prepared leg (the bench engineer's `benchmarkLeg`). */
  benchmark?: (leg: PreparedLeg, signal: AbortSignal) => Promise<StartupSeries[]>;
}

/**
 * Runs a suite: every selected leg in turn (prepare, place, checks or benchmark, tear down),
 * publishing progress events, and returns the report. Legs whose software is missing are
 * skipped with the reason, unless HPC_SANDBOX_REQUIRE names them. On abort (the signal, Ctrl-C),
 * everything started is torn down and the report so far comes back with `aborted: true`.
 *
 * @example
 * const report = await runSuite(await loadSuite('suites/readiness.yaml'), { signal });
 * process.exitCode = report.summary.verdict === 'pass' ? 0 : 1;
 */
export async function runSuite(suite: ResolvedSuite, options: RunOptions = {}): Promise<RunReport> {
  const command = options.command ?? 'check';
  const legs = selectLegs(suite, options.legs);
  const checks = command === 'check' ? selectChecks(suite, options.checks) : [];
  const startedAt = new Date();
  const run = new SuiteRun(suite, options);
  const results: LegResult[] = [];
  const benchmarks: StartupSeries[] = [];
  let aborted = false;
  // Teardown awaits process exits and container removals whose handles may be unref'd: hold the
  // event loop open until the run is over, or Node would quit mid-teardown with pending promises.
  const keepAlive = setInterval(() => undefined, 60_000);
  run.events.publish({ type: 'run:start', suite: { name: suite.name, path: suite.path }, legs });
  try {
    for (const leg of legs) {
      if (run.signal.aborted) {
        aborted = true;
        break;
      }
      let session: LegSession | undefined;
      try {
        session = await run.openLeg(leg, { place: command === 'check' && checks.length > 0, checks });
        if (command === 'check') {
          for (const check of checks) await session.runCheck(check);
        } else if (session.state === 'ready' && options.benchmark && session.prepared) {
          try {
            benchmarks.push(...(await options.benchmark(session.prepared, run.signal)));
          } catch (error) {
            if (run.signal.aborted) throw error;
            session.fail(`startup benchmark failed: ${(error as Error).message}`);
          }
        }
      } catch (error) {
        if (!run.signal.aborted) throw error;
        aborted = true;
      } finally {
        if (session) results.push(await session.finish());
      }
      if (aborted) break;
    }
  } finally {
    try {
      await run.close();
    } finally {
      clearInterval(keepAlive);
    }
  }
  const report = buildReport(suite, command, startedAt, results, benchmarks, aborted);
  run.events.publish({ type: 'run:end', report });
  return report;
}
