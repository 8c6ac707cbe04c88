import { describe, expect, it } from 'vitest';
import { colorEnabled, formatMs, painter } from './format.js';
import { renderSummaryTable } from './summary-table.js';
import { sampleReport } from './testing/sample-report.js';

describe('renderSummaryTable', () => {
  it('prints plain aligned columns without colour', () => {
    const out = renderSummaryTable(sampleReport());
    expect(out).not.toMatch(/\u001b\[/);
    const lines = out.split('\n');
    const header = lines[0]!;
    const docker = lines.find((l) => l.startsWith('local x docker'))!;
    expect(docker.indexOf('failed')).toBe(header.indexOf('STATE'));
    expect(docker).toContain('files: read_file returned <missing>');
    expect(out).toContain('nomad x singularity (test double)');
    expect(out).toMatch(/FAIL {2}legs: 1 passed, 1 failed, 1 skipped/);
  });

  it('lists startup series with references and the health timeout', () => {
    const out = renderSummaryTable(sampleReport());
    expect(out).toMatch(/local x docker\s+burst\s+5\s+100%\s+1\.10 s.*1\/1 beyond: startup\.median/);
    expect(out).toContain('health timeout = max(2 x P99, P99 + 1 s)');
  });

  it('ends a bench run with series and reference counts instead of (absent) checks', () => {
    const report = sampleReport();
    const judged = report.benchmarks.flatMap((s) => s.verdicts.filter((v) => v.state !== 'no-reference'));
    const beyond = judged.filter((v) => v.state === 'beyond').length;
    expect(beyond).toBeGreaterThan(0);
    const out = renderSummaryTable({ ...report, command: 'bench' });
    expect(out).toContain(`legs: 1 passed, 1 failed, 1 skipped; series: ${report.benchmarks.length}, references: ${judged.length - beyond} within, ${beyond} beyond\n`);
    expect(out).not.toContain('checks:');
  });

  it('colours states when painting is on', () => {
    expect(renderSummaryTable(sampleReport(), painter(true))).toContain('\u001b[31mfailed\u001b[39m');
  });
});

describe('colorEnabled', () => {
  it('honours NO_COLOR, FORCE_COLOR and the terminal', () => {
    expect(colorEnabled({ isTTY: true }, { NO_COLOR: '1' })).toBe(false);
    expect(colorEnabled({ isTTY: true }, {})).toBe(true);
    expect(colorEnabled({ isTTY: false }, {})).toBe(false);
    expect(colorEnabled({ isTTY: false }, { FORCE_COLOR: '1' })).toBe(true);
    expect(colorEnabled({ isTTY: true }, { TERM: 'dumb' })).toBe(false);
  });
});

describe('formatMs', () => {
  it('picks a readable unit', () => {
    expect([formatMs(3.25), formatMs(850), formatMs(1_240), formatMs(125_000), formatMs(NaN)]).toEqual(['3.3 ms', '850 ms', '1.24 s', '2 min 5 s', '–']);
  });
});

describe('renderSummaryTable of an interrupted run', () => {
  it('says INTERRUPTED and marks the interrupted series', () => {
    const report = sampleReport();
    report.aborted = true;
    report.benchmarks[0]!.aborted = true;
    const out = renderSummaryTable(report);
    expect(out).toMatch(/^INTERRUPTED {2}legs:/m);
    expect(out).toMatch(/local x process\s+sequential \(interrupted\)\s+13/);
  });
});
