import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { seededRandom } from '../../common/statistics.js';
import type { RunReport, StartupSample, StartupSeries } from '../results.js';
import { compareRuns, readPreviousReport } from './compare.js';
import { summariseSeries } from './startup-series.js';

const leg = { scheduler: 'local', driver: 'process' } as const;

/** `n` starts around `centreMs` with +-15% spread and an occasional slow one, from a seeded generator. */
function startups(centreMs: number, n: number, seed: number): StartupSample[] {
  const random = seededRandom(seed);
  return Array.from({ length: n }, () => {
    const ms = centreMs * (0.85 + 0.3 * random()) * (random() < 0.1 ? 1.6 : 1);
    return { ok: true, placedMs: ms * 0.2, healthyMs: ms * 0.8, firstExecMs: ms };
  });
}

function report(series: StartupSeries[]): RunReport {
  return {
    schemaVersion: 1,
    tool: { name: 'hpc-sandbox', version: '0.1.0' },
    command: 'bench',
    suite: { name: 'startup', path: 'suites/startup.yaml' },
    startedAt: '2026-12-01T10:00:00.000Z',
    finishedAt: '2026-12-01T10:05:00.000Z',
    host: { hostname: 'h', platform: 'linux', arch: 'x64', node: 'v20', cpus: 2 },
    legs: [],
    benchmarks: series,
    summary: { legs: { passed: 1, failed: 0, skipped: 0 }, checks: { passed: 0, failed: 0, skipped: 0, degraded: 0 }, verdict: 'pass' },
  };
}

describe('compareRuns', () => {
  it('calls an unchanged rerun noise', () => {
    const old = report([summariseSeries(leg, 'sequential', startups(300, 12, 1))]);
    const rerun = report([summariseSeries(leg, 'sequential', startups(300, 12, 2))]);
    const comparison = compareRuns(old, rerun);
    expect(comparison.rows.map((r) => r.verdict)).toEqual(['noise']);
    expect(comparison.regressions).toBe(0);
    expect(comparison.rows[0]!.pValue).toBeGreaterThan(0.05);
    expect(comparison.method).toContain('Mann-Whitney U');
  });

  it('flags a slower placement as a regression, with the change and an interval above 1', () => {
    const old = report([summariseSeries(leg, 'sequential', startups(300, 12, 1))]);
    const slower = report([summariseSeries(leg, 'sequential', startups(420, 12, 2))]);
    const [row] = compareRuns(old, slower).rows;
    expect(row!.verdict).toBe('regression');
    expect(row!.change).toBeGreaterThan(0.25);
    expect(row!.interval!.low).toBeGreaterThan(1);
    expect(row!.pValue).toBeLessThan(0.01);
    expect(row!.old!.median).toBeLessThan(row!.new!.median);
  });

  it('does not call a significant change below the threshold a regression', () => {
    const old = report([summariseSeries(leg, 'sequential', startups(300, 200, 1))]);
    const slightly = report([summariseSeries(leg, 'sequential', startups(320, 200, 2))]);
    const [row] = compareRuns(old, slightly, { threshold: 0.1 }).rows;
    expect(row!.pValue).toBeLessThan(0.05);
    expect(row!.verdict).toBe('noise');
  });

  it('calls a faster run an improvement, and a series that stopped starting a regression', () => {
    const old = report([summariseSeries(leg, 'sequential', startups(300, 12, 1)), summariseSeries(leg, 'burst', startups(500, 8, 3))]);
    const current = report([summariseSeries(leg, 'sequential', startups(150, 12, 2)), summariseSeries(leg, 'burst', [{ ok: false, error: 'boom' }])]);
    const rows = compareRuns(old, current).rows;
    expect(rows.map((r) => [r.mode, r.verdict])).toEqual([
      ['sequential', 'improvement'],
      ['burst', 'regression'],
    ]);
    expect(rows[1]!.note).toBe('no successful start in the new run');
  });

  it('lists series present in only one run without failing', () => {
    const old = report([summariseSeries(leg, 'staggered', startups(300, 5, 1))]);
    const current = report([summariseSeries(leg, 'warm', startups(5, 5, 2))]);
    const comparison = compareRuns(old, current);
    expect(comparison.rows.map((r) => [r.mode, r.verdict])).toEqual([
      ['warm', 'only-new'],
      ['staggered', 'only-old'],
    ]);
    expect(comparison.regressions).toBe(0);
  });
});

describe('readPreviousReport', () => {
  let dir: string | undefined;
  afterEach(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('reads a bench report and refuses anything else with the path and what was expected', async () => {
    dir = await mkdtemp(join(tmpdir(), 'hpcsb-compare-'));
    const good = join(dir, 'report.json');
    await writeFile(good, JSON.stringify(report([summariseSeries(leg, 'sequential', startups(300, 3, 1))])));
    expect((await readPreviousReport(good)).benchmarks).toHaveLength(1);
    const notJson = join(dir, 'bad.json');
    await writeFile(notJson, 'nope');
    await expect(readPreviousReport(notJson)).rejects.toThrow(`--compare ${notJson}: not JSON (`);
    const check = join(dir, 'check.json');
    await writeFile(check, JSON.stringify(report([])));
    await expect(readPreviousReport(check)).rejects.toThrow(`--compare ${check}: the previous report has no startup series (was it a \`check\` run?)`);
    await expect(readPreviousReport(join(dir, 'missing.json'))).rejects.toThrow(`--compare ${join(dir, 'missing.json')}: cannot read the previous report: ENOENT`);
  });
});
