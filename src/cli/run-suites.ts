import { join, resolve } from 'node:path';
import { RunEvents } from '../harness/events.js';
import { parseRequirements } from '../harness/requirements.js';
import { startupBenchmark } from '../harness/bench/startup-benchmark.js';
import { compareRuns, readPreviousReport } from '../harness/bench/compare.js';
import type { BenchFlags } from './commands/bench.js';
import { defaultComponents } from '../harness/components.js';
import { colorEnabled, painter, toJson } from '../harness/report/format.js';
import { ProgressReporter } from '../harness/report/progress.js';
import { renderSummaryTable } from '../harness/report/summary-table.js';
import { writeReportDir } from '../harness/report/write-report-dir.js';
import type { RunReport } from '../harness/results.js';
import { runSuite, selectChecks } from '../harness/runner.js';
import { loadSuite } from '../harness/suite/load.js';
import type { CliIo } from './cli-io.js';
import { handleInterrupts } from './interrupt.js';
import { exitCodeOf } from './run-exit-code.js';
import { applyRunFlags, resolveSuitePath, type RunFlags } from './run-flags.js';

/**
 * Runs `check` or `bench` over the given suites, one after the other: progress on the terminal
 * (stderr when --json owns stdout), the summary table, `--json`, `--report DIR`, and the exit
 * code in `io.exitCode`. Every suite is loaded first, so a broken suite fails before anything
 * starts. Ctrl-C tears the current run down and still writes what was measured.
 */
export async function runSuites(command: 'check' | 'bench', suiteArgs: readonly string[], flags: RunFlags & BenchFlags, io: CliIo): Promise<void> {
  const env = { ...io.env };
  if (flags.profile) env.HPC_SANDBOX_PROFILE = flags.profile;
  if (flags.require?.length) {
    const tokens = [...(env.HPC_SANDBOX_REQUIRE ?? '').split(','), ...flags.require].map((t) => t.trim()).filter(Boolean);
    env.HPC_SANDBOX_REQUIRE = [...new Set(tokens)].join(',');
  }
  parseRequirements(env); // a misspelt leg token is a usage error before anything loads or starts
  const paths = suiteArgs.length > 0 ? suiteArgs : [command === 'check' ? 'readiness' : 'startup'];
  const progressStream = flags.json ? io.stderr : io.stdout;
  const progress = new ProgressReporter({ stream: progressStream, env, verbose: flags.verbose });
  const components = defaultComponents();
  const system = flags.system ?? (env.HPC_SANDBOX_SYSTEM || undefined);
  // Read before anything starts: a wrong path must not cost a whole benchmark run.
  const previous = flags.compare ? await readPreviousReport(resolve(flags.compare)) : undefined;
  const suites = [];
  for (const arg of paths) {
    const { suite, legs } = applyRunFlags(await loadSuite(resolveSuitePath(arg)), flags);
    // Checked now so a suite with nothing to check or benchmark is refused before anything runs.
    if (command === 'check') selectChecks(suite);
    const benchmark =
      command === 'bench' ? startupBenchmark(suite, { components, onEvent: progress.handle, system, burstSize: flags.burst }) : undefined;
    suites.push({ suite, legs, benchmark });
  }

  const controller = new AbortController();
  const removeHandlers = handleInterrupts(controller, io.stderr);
  const reports: RunReport[] = [];
  // runSuite holds the event loop open while it tears down unref'd sandboxes; nothing here has to.
  try {
    for (const { suite, legs, benchmark } of suites) {
      if (controller.signal.aborted) break;
      const events = new RunEvents();
      events.on('event', progress.handle);
      let report = await runSuite(suite, { command, legs, env, components, events, signal: controller.signal, benchmark });
      if (command === 'bench') report = withBenchContext(report, system, previous, flags);
      // A Ctrl-C during the last leg can end the run without the runner noticing; it was interrupted all the same.
      reports.push(controller.signal.aborted && !report.aborted ? { ...report, aborted: true, summary: { ...report.summary, verdict: 'fail' } } : report);
    }
  } finally {
    removeHandlers();
    progress.close();
  }

  const paint = painter(colorEnabled(progressStream, env));
  for (const report of reports) progressStream.write('\n' + renderSummaryTable(report, paint));
  if (flags.json) io.stdout.write(toJson(reports.length === 1 ? reports[0] : reports));
  if (flags.report) {
    for (const report of reports) {
      const dir = reports.length === 1 ? flags.report : join(flags.report, report.suite.name);
      const written = await writeReportDir(report, dir);
      progressStream.write(`report: ${written.join(', ')}\n`);
    }
  }
  io.exitCode = exitCodeOf(reports);
}

/**
 * The bench-only parts of a report: the system its absolute references were chosen for, and the
 * comparison with `--compare`'s earlier run. A regression beyond the threshold fails the run.
 */
function withBenchContext(report: RunReport, system: string | undefined, previous: RunReport | undefined, flags: BenchFlags): RunReport {
  const out: RunReport = { ...report, ...(system ? { system } : {}) };
  if (!previous) return out;
  const comparison = compareRuns(previous, report, { threshold: flags.compareThreshold, source: flags.compare });
  out.comparison = comparison;
  if (comparison.regressions > 0) out.summary = { ...out.summary, verdict: 'fail' };
  return out;
}
