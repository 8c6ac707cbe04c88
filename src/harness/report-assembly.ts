import { readFileSync } from 'node:fs';
import { cpus, hostname } from 'node:os';
import { join } from 'node:path';
import { projectRoot } from '../common/paths.js';
import { REPORT_SCHEMA_VERSION, type CheckState, type LegResult, type LegState, type RunReport, type StartupSeries } from './results.js';
import type { ResolvedSuite } from './suite/load.js';

/** Assembles the RunReport (summary counts and verdict) from leg results. */
export function buildReport(
  suite: ResolvedSuite,
  command: 'check' | 'bench',
  startedAt: Date,
  legs: LegResult[],
  benchmarks: StartupSeries[],
  aborted = false,
): RunReport {
  const legCounts: Record<LegState, number> = { passed: 0, failed: 0, skipped: 0 };
  const checkCounts: Record<CheckState, number> = { passed: 0, failed: 0, skipped: 0, degraded: 0 };
  for (const leg of legs) {
    legCounts[leg.state]++;
    for (const check of leg.checks) checkCounts[check.state]++;
  }
  const beyond = benchmarks.some((series) => series.verdicts.some((v) => v.state === 'beyond'));
  const verdict = aborted || legCounts.failed > 0 || checkCounts.failed > 0 || beyond ? 'fail' : 'pass';
  return {
    schemaVersion: REPORT_SCHEMA_VERSION,
    tool: { name: 'hpc-sandbox', version: toolVersion() },
    command,
    suite: { name: suite.name, path: suite.path },
    startedAt: startedAt.toISOString(),
    finishedAt: new Date().toISOString(),
    host: { hostname: hostname(), platform: process.platform, arch: process.arch, node: process.version, cpus: cpus().length },
    legs,
    benchmarks,
    summary: { legs: legCounts, checks: checkCounts, verdict },
    ...(aborted ? { aborted: true } : {}),
  };
}

let version: string | undefined;
function toolVersion(): string {
  version ??= (JSON.parse(readFileSync(join(projectRoot(), 'package.json'), 'utf8')) as { version: string }).version;
  return version;
}
