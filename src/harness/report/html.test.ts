import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { renderHtml } from './html.js';
import { niceMax } from './svg-plots.js';
import { sampleReport } from './testing/sample-report.js';
import { REPORT_FILES, writeReportDir } from './write-report-dir.js';

describe('renderHtml', () => {
  const html = renderHtml(sampleReport());

  it('is self-contained: no external script, stylesheet, image or font', () => {
    expect(html).not.toMatch(/<script\b/i);
    expect(html).not.toMatch(/<link\b/i);
    expect(html).not.toMatch(/\b(src|href)\s*=\s*["']?(https?:|\/\/)/i);
    expect(html).not.toMatch(/url\(/i);
    expect(html).not.toMatch(/@import/i);
  });

  it('draws one strip-plot dot per successful sample and a cross per failed start', () => {
    const report = sampleReport();
    const ok = report.benchmarks.flatMap((s) => s.samples).filter((s) => s.ok).length;
    expect(html.match(/<circle class="sample"/g)).toHaveLength(ok);
    expect(html.match(/<path class="failed"/g)).toHaveLength(1);
    expect(html).toContain('data-ms="210.0"');
  });

  it('draws a phase bar per series with placed, healthy and first-exec segments', () => {
    const bars = html.slice(html.indexOf('<svg xmlns="http://www.w3.org/2000/svg" class="phase-bars"'));
    expect(bars.match(/<rect class="phase phase-placed" x="[\d.]+" y="\d+" width="[\d.]+" height="20" data-ms/g)).toHaveLength(2);
    expect(bars).toContain('class="phase phase-first-exec"');
  });

  it('escapes every user-supplied string', () => {
    expect(html).toContain('read_file returned &lt;missing&gt; &amp; &quot;quoted&quot;');
    expect(html).not.toContain('<missing>');
  });
});

describe('niceMax', () => {
  it('rounds up to 1, 2 or 5 times a power of ten', () => {
    expect([niceMax(0.7), niceMax(1), niceMax(130), niceMax(4_100), niceMax(9_999)]).toEqual([1, 1, 200, 5_000, 10_000]);
  });
});

describe('writeReportDir', () => {
  it('writes the four report files and nothing else', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'hpcsb-report-'));
    try {
      const written = await writeReportDir(sampleReport(), join(dir, 'nested'));
      expect(written.map((p) => p.slice(p.lastIndexOf('/') + 1))).toEqual([...REPORT_FILES]);
      expect((await readdir(join(dir, 'nested'))).sort()).toEqual([...REPORT_FILES].sort());
      const json = JSON.parse(await readFile(join(dir, 'nested', 'report.json'), 'utf8'));
      expect(json).toMatchObject({ schemaVersion: 1, command: 'check', summary: { verdict: 'fail' } });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('renderHtml with baselines and a comparison', () => {
  it('draws a CDF panel per leg with ours solid, bare dashed and the previous run dotted, and bare phase bars', () => {
    const report = sampleReport();
    const series = report.benchmarks[0]!;
    series.baseline = { runtime: 'node sandbox-server.mjs', samples: series.samples, stats: series.stats, phases: series.phases };
    series.overhead = { value: 1.07, low: 0.98, high: 1.2, level: 0.95, resamples: 2000 };
    report.comparison = {
      source: 'old/report.json',
      oldStartedAt: '2026-11-30T10:00:00.000Z',
      method: 'Mann-Whitney U',
      threshold: 0.1,
      regressions: 1,
      rows: [{ name: series.name, mode: series.mode, verdict: 'regression', change: 0.4, pValue: 0.001, old: { median: 100, p95: 120, successRate: 1, n: 3, firstExecMs: [90, 100, 120] }, new: { median: 140, p95: 160, successRate: 1, n: 3, firstExecMs: [130, 140, 160] } }],
    };
    const html = renderHtml(report);
    expect(html).toContain(`<svg xmlns="http://www.w3.org/2000/svg" class="cdf" role="img"`);
    expect(html).toMatch(new RegExp(`class="cdf-line cdf-ours" data-mode="${series.mode}"`));
    expect(html).toMatch(/class="cdf-line cdf-bare"[^>]*stroke-dasharray="6 4"/);
    expect(html).toMatch(/class="cdf-line cdf-previous"[^>]*stroke-dasharray="2 3"/);
    expect(html).toContain('data-kind="bare"');
    expect(html).toContain('1.07x [0.98-1.20]');
    expect(html).toContain('<td class="verdict-regression">regression</td>');
    expect(html).toContain('Compared with old/report.json (run of 2026-11-30T10:00:00.000Z): 1 regression</h3>');
  });
});
