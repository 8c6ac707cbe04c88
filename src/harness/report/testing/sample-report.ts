import type { RunReport, StartupSample, StartupSeries } from '../../results.js';
import { REPORT_SCHEMA_VERSION } from '../../results.js';
import { summariseSeries } from '../../bench/startup-series.js';
import { evaluateStartupReferences } from '../../bench/startup-references.js';

/**
 * A realistic RunReport for reporter tests: a passing leg with a degraded check, a failing leg
 * whose error text holds XML/HTML/Markdown metacharacters and a control character, a skipped
 * leg, and startup series (cold with a failed start, and warm) with references.
 */
export function sampleReport(): RunReport {
  const cold: StartupSample[] = Array.from({ length: 12 }, (_, i) => ({
    ok: true,
    placedMs: 20 + i,
    healthyMs: 180 + 7 * i,
    firstExecMs: 210 + 9 * i,
  }));
  cold.push({ ok: false, error: 'Timed out after 120000ms waiting for http://127.0.0.1:4100/health (last: ECONNREFUSED)' });
  const references = { '*': { 'startup.median': { value: 250, lower: null, upper: 0.5, unit: 'ms' } } };
  const legProcess = { scheduler: 'local', driver: 'process' } as const;
  const legDocker = { scheduler: 'local', driver: 'docker' } as const;
  const benchmarks: StartupSeries[] = [
    summariseSeries(legProcess, 'sequential', cold, evaluateStartupReferences(references, legProcess, 'sequential')),
    summariseSeries(legProcess, 'warm', Array.from({ length: 20 }, (_, i) => ({ ok: true, firstExecMs: 3 + (i % 5) }))),
    summariseSeries(
      legDocker,
      'burst',
      Array.from({ length: 5 }, (_, i) => ({ ok: true, placedMs: 300 + i * 40, healthyMs: 900 + i * 60, firstExecMs: 960 + i * 70 })),
      evaluateStartupReferences(references, legDocker, 'burst'),
    ),
  ];
  return {
    schemaVersion: REPORT_SCHEMA_VERSION,
    tool: { name: 'hpc-sandbox', version: '0.1.0' },
    command: 'check',
    suite: { name: 'readiness', path: 'suites/readiness.yaml' },
    startedAt: '2026-11-29T19:00:00.000Z',
    finishedAt: '2026-11-29T19:01:30.000Z',
    host: { hostname: 'node01', platform: 'linux', arch: 'x64', node: 'v20.20.2', cpus: 2 },
    legs: [
      {
        leg: legProcess,
        name: 'local x process',
        state: 'passed',
        versions: { driver: 'node v20.20.2' },
        placement: { id: 'p1', host: '127.0.0.1', port: 4100, phasesMs: { placed: 20, healthy: 180, firstExec: 210 } },
        checks: [
          { check: 'port-binding', state: 'passed', durationMs: 12 },
          { check: 'isolation', state: 'degraded', durationMs: 40, reason: 'bwrap unusable: Can\'t mount proc on /newroot/proc' },
        ],
        durationMs: 1_450,
      },
      {
        leg: legDocker,
        name: 'local x docker',
        state: 'failed',
        versions: { driver: 'Docker 20.10.24' },
        checks: [
          { check: 'bash', state: 'passed', durationMs: 30 },
          {
            check: 'files',
            state: 'failed',
            durationMs: 55,
            error: { message: 'read_file returned <missing> & "quoted" | piped\u0007\nsecond line with ``` fence', code: 'HPCSB_SANDBOX_HTTP' },
          },
          { check: 'env-expansion', state: 'skipped', reason: 'needs files' },
        ],
        durationMs: 8_200,
      },
      {
        leg: { scheduler: 'nomad', driver: 'singularity' },
        name: 'nomad x singularity',
        state: 'skipped',
        reason: 'apptainer: not on PATH (nor singularity)',
        double: true,
        checks: [],
        durationMs: 0,
      },
    ],
    benchmarks,
    summary: {
      legs: { passed: 1, failed: 1, skipped: 1 },
      checks: { passed: 2, degraded: 1, failed: 1, skipped: 1 },
      verdict: 'fail',
    },
  };
}
