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
