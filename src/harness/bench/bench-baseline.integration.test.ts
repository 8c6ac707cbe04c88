import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../../cli/testing/run-cli.js';
import { makeSlotReachableTempDir } from '../../common/slot-reachable-temp-dir.js';
import type { RunReport } from '../results.js';
import { runSuite } from '../runner.js';
import { parseSuite } from '../suite/load.js';
import { compareRuns } from './compare.js';
import { startupBenchmark } from './startup-benchmark.js';

// local x process needs only node and the built bundle: no capability gate.
const SUITE = `name: tiny-overhead
matrix: { scheduler: [local], driver: [process] }
sandbox: { slots: 1 }
benchmarks:
  startup: { modes: [sequential], iterations: 8, warmup: 1 }
references:
  '*':
    startup.overhead: { value: 1.15, lower: null, upper: 0, unit: ratio }
    startup.median: { value: 10000, lower: null, upper: 0, unit: ms }
systemReferences:
  elsewhere:
    'local x process':
      startup.median: { value: 1, lower: null, upper: 0, unit: ms }
`;

/** Added before each of our placements: far above the bare start of node (tens to hundreds of ms). */
const INJECTED_DELAY_MS = 600;

describe('bench with the bare runtime beside it (local x process)', () => {
  let dir: string;
  let tmp: string;
  let suitePath: string;
  let first: RunReport;

  beforeAll(async () => {
    dir = await makeSlotReachableTempDir('hpcsb-bench-');
    tmp = join(dir, 'tmp');
    await mkdir(tmp);
    suitePath = join(dir, 'tiny-overhead.yaml');
    await writeFile(suitePath, SUITE);
  });

  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  const env = () => ({ TMPDIR: tmp, HPC_SANDBOX_REQUIRE: '' });

  it('measures ours and bare in the same run and passes on the ratio; the absolute figures of another system do not apply', async () => {
    const result = await runCli(['bench', suitePath, '--json', '--report', join(dir, 'first')], { env: env() });
    expect(result.exitCode, result.stderr).toBe(0);
    first = JSON.parse(result.stdout) as RunReport;
    const [series] = first.benchmarks;
    expect(series!.baseline?.runtime).toMatch(/^node .*sandbox-server\.mjs$/);
    expect(series!.baseline!.stats.successRate).toBe(1);
    expect(series!.overhead!.low).toBeLessThanOrEqual(series!.overhead!.value);
    expect(series!.verdicts.find((v) => v.metric === 'startup.overhead')?.state).toBe('within');
    expect(series!.verdicts.find((v) => v.metric === 'startup.median')?.reference?.value).toBe(10_000);
    expect(result.stdout.includes('"system"')).toBe(false);
    expect(result.stderr).toMatch(/OVERHEAD \[95% CI\]/);
    expect(await readdir(tmp)).toEqual([]);
  });

  it('applies a system\'s absolute references only with --system', async () => {
    const result = await runCli(['bench', suitePath, '--json', '--system', 'elsewhere'], { env: env() });
    const report = JSON.parse(result.stdout) as RunReport;
    expect(report.system).toBe('elsewhere');
    const verdict = report.benchmarks[0]!.verdicts.find((v) => v.metric === 'startup.median');
    expect(verdict).toMatchObject({ state: 'beyond', reference: { value: 1 } });
    expect(result.exitCode).toBe(1);
  });

  it('--compare reports an unchanged rerun as noise and exits 0', async () => {
    const result = await runCli(['bench', suitePath, '--json', '--compare', join(dir, 'first', 'report.json')], { env: env() });
    const report = JSON.parse(result.stdout) as RunReport;
    expect(report.comparison?.rows.map((r) => [r.name, r.mode, r.verdict])).toEqual([['local x process', 'sequential', expect.stringMatching(/^(noise|improvement)$/)]]);
    expect(report.comparison?.method).toContain('Mann-Whitney U');
    expect(result.stderr).toContain(`compared with ${join(dir, 'first', 'report.json')}`);
    expect(result.exitCode).toBe(0);
  });

  it('fails on the overhead when placement is made slower on purpose, and compare calls it a regression', async () => {
    const suite = parseSuite(SUITE, suitePath);
    const delayed = await runSuite(suite, {
      command: 'bench',
      env: { ...process.env, ...env() },
      benchmark: startupBenchmark(suite, { placementDelayMs: INJECTED_DELAY_MS }),
    });
    const [series] = delayed.benchmarks;
    const overhead = series!.verdicts.find((v) => v.metric === 'startup.overhead');
    expect(overhead?.state).toBe('beyond');
    expect(overhead?.message).toContain('entirely beyond');
    expect(delayed.summary.verdict).toBe('fail');
    const comparison = compareRuns(first, delayed, { source: 'first/report.json' });
    expect(comparison.rows[0]).toMatchObject({ verdict: 'regression' });
    expect(comparison.regressions).toBe(1);
    const written = JSON.parse(await readFile(join(dir, 'first', 'report.json'), 'utf8')) as RunReport;
    expect(written.benchmarks[0]!.baseline).toBeDefined();
  });

  it('refuses a bad --burst or a missing --compare report before anything starts (exit 2)', async () => {
    const burst = await runCli(['bench', suitePath, '--burst', '0'], { env: env() });
    expect(burst.exitCode).toBe(2);
    expect(burst.stderr).toContain(`--burst expects a whole number of at least 1, got "0"`);
    const missing = join(dir, 'nope', 'report.json');
    const compare = await runCli(['bench', suitePath, '--compare', missing], { env: env() });
    expect(compare.exitCode).toBe(2);
    expect(compare.stderr).toContain(`--compare ${missing}: cannot read the previous report: ENOENT`);
    expect(compare.stderr).not.toContain('local x process · sequential');
  });
});
