import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeWith } from '../../../test/gate.js';
import { sampleReport } from './testing/sample-report.js';
import { writeReportDir } from './write-report-dir.js';

const CHROMIUM = '/usr/bin/chromium';

/** Headless Chromium, isolated: its own profile dir, no network services, no GPU, no sandbox (root in CI). */
function chromium(profile: string, args: string[]) {
  return execa(
    CHROMIUM,
    [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
      `--user-data-dir=${profile}`,
      ...args,
    ],
    { timeout: 90_000, reject: false, stdin: 'ignore', cleanup: true, forceKillAfterDelay: 5_000 },
  );
}

describeWith(['chromium'], 'report.html in headless Chromium', () => {
  let dir: string;
  let html: string;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'hpcsb-html-'));
    await writeReportDir(sampleReport(), join(dir, 'report'));
    html = join(dir, 'report', 'report.html');
  });

  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('renders the SVG plots with their data points (DOM after layout)', async () => {
    const result = await chromium(join(dir, 'profile-dom'), ['--dump-dom', `file://${html}`]);
    expect(result.exitCode, String(result.stderr)).toBe(0);
    const dom = String(result.stdout);
    const report = sampleReport();
    const okSamples = report.benchmarks.flatMap((s) => s.samples).filter((s) => s.ok).length;
    expect(dom.match(/<svg\b[^>]*class="strip-plot"/g)).toHaveLength(1);
    expect(dom.match(/<svg\b[^>]*class="phase-bars"/g)).toHaveLength(1);
    expect(dom.match(/<circle class="sample"[^>]*data-ms="[\d.]+"/g)).toHaveLength(okSamples);
    expect(dom.match(/<rect class="phase phase-healthy"[^>]*data-ms/g)?.length).toBeGreaterThanOrEqual(2);
    expect(dom).toContain('nomad x singularity');
  });

  it('renders to a non-trivial PNG screenshot', async () => {
    const png = join(dir, 'report.png');
    const result = await chromium(join(dir, 'profile-shot'), [`--screenshot=${png}`, '--window-size=1200,1600', `file://${html}`]);
    expect(result.exitCode, String(result.stderr)).toBe(0);
    const bytes = await readFile(png);
    expect(bytes.subarray(0, 8).toString('hex')).toBe('89504e470d0a1a0a'); // PNG signature
    // width and height from the IHDR chunk
    expect([bytes.readUInt32BE(16), bytes.readUInt32BE(20)]).toEqual([1200, 1600]);
    // a blank page compresses to a few kB; plots and tables do not
    expect((await stat(png)).size).toBeGreaterThan(30_000);
    if (process.env.HPC_SANDBOX_KEEP_SCREENSHOT) await import('node:fs/promises').then((fs) => fs.copyFile(png, process.env.HPC_SANDBOX_KEEP_SCREENSHOT!));
  });
});
