import { readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { makeSlotReachableTempDir } from '../common/slot-reachable-temp-dir.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunReport } from '../harness/results.js';
import { checkWellFormed } from '../harness/report/testing/xml-well-formed.js';
import { execa } from 'execa';
import { CLI_PATH, runCli } from './testing/run-cli.js';

/** Parses the CLI's --json stdout; on failure the error shows what the CLI said instead. */
function parseReport(result: { exitCode?: number; stdout: string; stderr: string }): RunReport {
  try {
    return JSON.parse(result.stdout) as RunReport;
  } catch {
    throw new Error(`no JSON on stdout (exit ${result.exitCode}); stderr:\n${result.stderr}\nstdout:\n${result.stdout}`);
  }
}

/** Processes whose command line mentions `marker` (a temp dir only this test uses). */
function processesMentioning(marker: string): string[] {
  const found: string[] = [];
  for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    try {
      const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ');
      const environ = readFileSync(`/proc/${pid}/environ`, 'utf8');
      if (cmdline.includes(marker) || environ.includes(marker)) found.push(`${pid}: ${cmdline}`);
    } catch {
      // exited meanwhile, or not ours to read
    }
  }
  return found;
}

describe('hpc-sandbox CLI (built dist/cli/main.js)', () => {
  let dir: string;
  /** TMPDIR of the CLI runs: alloc dirs land here, so leftovers are visible. */
  let tmp: string;

  beforeAll(async () => {
    dir = await makeSlotReachableTempDir('hpcsb-cli-');
    tmp = join(dir, 'tmp');
    await import('node:fs/promises').then((fs) => fs.mkdir(tmp));
  });

  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  const env = () => ({ TMPDIR: tmp, HPC_SANDBOX_REQUIRE: '' });

  it('--help lists the commands, examples and exit codes, and exits 0', async () => {
    const top = await runCli(['--help']);
    expect(top.exitCode).toBe(0);
    for (const command of ['doctor', 'check', 'bench', 'serve', 'image', 'agent']) expect(top.stdout).toMatch(new RegExp(`^  ${command}\\b`, 'm'));
    expect(top.stdout).toContain('Exit codes:');
    const check = await runCli(['check', '--help']);
    expect(check.exitCode).toBe(0);
    expect(check.stdout).toContain('--singularity-image <path>');
    expect(check.stdout).toContain('--env.driver <names>');
    expect(check.stdout).toContain('Examples:');
  });

  it('exits 2 on an unknown flag', async () => {
    const result = await runCli(['check', '--no-such-flag']);
    expect(result.exitCode).toBe(2);
    expect(result.stderr).toContain("unknown option '--no-such-flag'");
  });

  it('doctor --json prints rows for every driver and machine fact', async () => {
    const result = await runCli(['doctor', '--json']);
    expect(result.exitCode).toBe(0);
    const { rows } = JSON.parse(result.stdout) as { rows: Array<{ area: string; name: string; status: string; summary: string }> };
    const names = rows.map((r) => r.name);
    expect(names).toEqual(expect.arrayContaining(['process', 'docker', 'singularity', 'charliecloud', 'podman', 'user namespaces', '/dev/fuse', 'bwrap', 'docker socket', 'nomad', 'slurm']));
    expect(rows.find((r) => r.name === 'process')).toMatchObject({ area: 'driver', status: 'ok' });
    for (const row of rows) expect(['ok', 'warn', 'missing']).toContain(row.status);
  });

  it('a broken suite exits 2 and names file:line, without a stack trace', async () => {
    const suite = join(dir, 'broken.yaml');
    await writeFile(suite, 'name: broken\nmatrix:\n  scheduler: [local]\n  driver: [proces]\n');
    const result = await runCli(['check', suite], { env: env() });
    expect(result.exitCode).toBe(2);
    expect(result.stderr).toContain(`${suite}:4:`);
    expect(result.stderr).toContain('unknown driver "proces"');
    expect(result.stderr).toContain('[HPCSB_CONFIG_INVALID]');
    expect(result.stderr).not.toMatch(/^\s+at /m);
  });

  it('a filter that keeps no leg is a usage error', async () => {
    const suite = join(dir, 'tiny-filter.yaml');
    await writeFile(suite, 'name: tiny\nmatrix: { scheduler: [local], driver: [process] }\nchecks: [bash]\n');
    const result = await runCli(['check', suite, '--driver', 'docker'], { env: env() });
    expect(result.exitCode).toBe(2);
    expect(result.stderr).toContain('--driver docker matches no leg');
  });

  it('check on a suite without checks is a usage error, not a pass', async () => {
    const result = await runCli(['check', 'startup'], { env: env() });
    expect(result.exitCode).toBe(2);
    expect(result.stderr).toMatch(/suite \S+\/suites\/startup\.yaml has no `checks`: nothing to check/);
    expect(result.stdout).not.toContain('passed');
  });

  it('a required leg that cannot run exits 3', async () => {
    const suite = join(dir, 'podman.yaml');
    await writeFile(suite, 'name: podman-only\nmatrix: { scheduler: [local], driver: [podman] }\nchecks: [bash]\n');
    const skipped = await runCli(['check', suite], { env: env() });
    // skipped legs that nobody required do not fail the run
    expect(skipped.exitCode).toBe(0);
    expect(skipped.stdout).toMatch(/local x podman\s+skipped\s+.*podman: not on PATH/);
    const required = await runCli(['check', suite, '--require', 'local:podman'], { env: env() });
    expect(required.exitCode).toBe(3);
    expect(required.stdout).toContain('local x podman is required by HPC_SANDBOX_REQUIRE but cannot run');
    const misspelt = await runCli(['check', suite, '--require', 'local:podmn'], { env: env() });
    expect(misspelt.exitCode).toBe(2);
    expect(misspelt.stderr).toContain('token "local:podmn": unknown driver "podmn"');
    expect(misspelt.stdout).not.toContain('local x podman');
  });

  it('outside tests a Nomad leg without an agent or a nomad binary is skipped with the reason, never run on the double', async (ctx) => {
    // The default agent address must be silent for this to mean anything.
    const answering = await fetch('http://127.0.0.1:4646/v1/agent/self', { signal: AbortSignal.timeout(2_000) }).then(
      () => true,
      () => false,
    );
    if (answering) ctx.skip('something answers at 127.0.0.1:4646, so the CLI would rightly use it');
    const suite = join(dir, 'nomad.yaml');
    await writeFile(suite, 'name: nomad-only\nmatrix: { scheduler: [nomad], driver: [process] }\nchecks: [bash]\n');
    // HPC_SANDBOX_NOMAD_DOUBLE is what vitest sets for the tests themselves; a user's shell has none.
    const result = await runCli(['check', suite, '--json'], { env: { ...env(), HPC_SANDBOX_NOMAD_DOUBLE: '', NOMAD_ADDR: '', PATH: '/usr/bin:/bin' } });
    expect(result.exitCode).toBe(0);
    const report = parseReport(result);
    expect(report.legs).toHaveLength(1);
    expect(report.legs[0]).toMatchObject({ name: 'nomad x process', state: 'skipped' });
    expect(report.legs[0]!.reason).toMatch(/^nomad: not on PATH, and no agent answers: http:\/\/127\.0\.0\.1:4646 did not answer/);
    expect(report.legs[0]!.double).toBeUndefined();
  });

  it('check runs local x process end to end: --json on stdout, --report files, nothing left behind', async () => {
    const suite = join(dir, 'tiny.yaml');
    await writeFile(suite, 'name: tiny\nmatrix: { scheduler: [local], driver: [process] }\nsandbox: { slots: 2 }\nchecks: [port-binding, bash, files, reset]\n');
    const reportDir = join(dir, 'report');
    const result = await runCli(['check', suite, '--json', '--report', reportDir], { env: env() });
    expect(result.stderr).toContain('local x process');
    const report = parseReport(result);
    expect(report.legs).toHaveLength(1);
    expect(report.legs[0]!.checks.map((c) => [c.check, c.state])).toEqual([
      ['port-binding', 'passed'],
      ['bash', 'passed'],
      ['files', 'passed'],
      ['reset', 'passed'],
    ]);
    expect(result.exitCode).toBe(0);
    expect((await readdir(reportDir)).sort()).toEqual(['junit.xml', 'report.html', 'report.json', 'summary.md']);
    expect(checkWellFormed(await readFile(join(reportDir, 'junit.xml'), 'utf8')).problems).toEqual([]);
    expect(JSON.parse(await readFile(join(reportDir, 'report.json'), 'utf8'))).toEqual(report);
    expect(await readdir(tmp)).toEqual([]);
    expect(processesMentioning(tmp)).toEqual([]);
  });

  it('bench measures local x process cold (sequential, burst) and warm, with the advised health timeout', async () => {
    const suite = join(dir, 'tiny-bench.yaml');
    await writeFile(
      suite,
      'name: tiny-bench\nmatrix: { scheduler: [local], driver: [process] }\nsandbox: { slots: 1 }\n' +
        'benchmarks:\n  startup: { modes: [sequential, burst, warm], iterations: 3, burstSize: 3, warmup: 1 }\n' +
        "references:\n  '*':\n    startup.successRate: { value: 1, lower: 0, upper: null, unit: ratio }\n",
    );
    const reportDir = join(dir, 'bench-report');
    const result = await runCli(['bench', suite, '--json', '--report', reportDir], { env: env() });
    const report = parseReport(result);
    expect(report.command).toBe('bench');
    expect(report.benchmarks.map((s) => [s.mode, s.stats.n, s.stats.successRate])).toEqual([
      ['sequential', 3, 1],
      ['burst', 3, 1],
      ['warm', 3, 1],
    ]);
    const warm = report.benchmarks.find((s) => s.mode === 'warm')!;
    // a warm start has no placement phases and no health-timeout advice
    expect(warm.samples.every((s) => s.placedMs === undefined && s.healthyMs === undefined && s.firstExecMs! > 0)).toBe(true);
    expect(warm.recommendedHealthTimeoutMs).toBeUndefined();
    for (const series of report.benchmarks.filter((s) => s.mode !== 'warm')) {
      for (const sample of series.samples) {
        // phases are ordered: placed <= healthy <= first exec
        expect(sample.placedMs!).toBeLessThanOrEqual(sample.healthyMs!);
        expect(sample.healthyMs!).toBeLessThanOrEqual(sample.firstExecMs!);
      }
      expect(series.recommendedHealthTimeoutMs?.basis).toContain('max(2 x P99, P99 + 1 s)');
      expect(series.verdicts.find((v) => v.metric === 'startup.successRate')?.state).toBe('within');
    }
    expect(result.stderr).toMatch(/local x process · burst: median .* health timeout/);
    expect(result.exitCode).toBe(0);
    const html = await readFile(join(reportDir, 'report.html'), 'utf8');
    expect(html.match(/<circle class="sample"/g)).toHaveLength(9);
    expect(await readdir(tmp)).toEqual([]);
    expect(processesMentioning(tmp)).toEqual([]);
  });

  it('the first Ctrl-C stops the run gracefully: exit 130, the measured part reported, nothing left behind', async () => {
    const suite = join(dir, 'long-bench.yaml');
    await writeFile(suite, 'name: long-bench\nmatrix: { scheduler: [local], driver: [process] }\nsandbox: { slots: 1 }\nbenchmarks:\n  startup: { modes: [sequential], iterations: 500, warmup: 0 }\n');
    const child = execa(process.execPath, [CLI_PATH, 'bench', suite, '--json'], { env: { NO_COLOR: '1', ...env() }, reject: false, stdin: 'ignore', timeout: 120_000 });
    // Interrupt once a few starts were measured (progress lines go to stderr with --json).
    // A CLI that dies before measuring also ends the wait, so the assertions below show its output.
    await new Promise<void>((resolve) => {
      let seen = '';
      child.stderr!.on('data', (chunk: Buffer) => {
        seen += chunk.toString();
        if (/sequential: 500 starts/.test(seen)) setTimeout(resolve, 1_500);
      });
      child.once('exit', () => resolve());
    });
    child.kill('SIGINT');
    const result = await child;
    expect(result.exitCode).toBe(130);
    expect(String(result.stderr)).toContain('SIGINT: stopping placements');
    const report = parseReport({ exitCode: result.exitCode, stdout: String(result.stdout), stderr: String(result.stderr) });
    expect(report.aborted).toBe(true);
    expect(report.benchmarks[0]).toMatchObject({ mode: 'sequential', aborted: true });
    expect(report.benchmarks[0]!.stats.n).toBeGreaterThan(0);
    expect(report.benchmarks[0]!.stats.n).toBeLessThan(500);
    expect(await readdir(tmp)).toEqual([]);
    expect(processesMentioning(tmp)).toEqual([]);
  });
});
