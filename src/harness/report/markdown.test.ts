import { describe, expect, it } from 'vitest';
import { renderMarkdown } from './markdown.js';
import { sampleReport } from './testing/sample-report.js';

describe('renderMarkdown', () => {
  const md = renderMarkdown(sampleReport());

  it('leads with the verdict and the counts', () => {
    expect(md.split('\n')[0]).toBe('## ❌ hpc-sandbox check: readiness — FAIL');
    expect(md).toContain('Legs: 1 passed, 1 failed, 1 skipped. Checks: ');
    const bench = renderMarkdown({ ...sampleReport(), command: 'bench' });
    expect(bench).toMatch(/Legs: 1 passed, 1 failed, 1 skipped\. Series: \d+, references: \d+ within, [1-9]\d* beyond\. Host/);
    expect(bench).not.toContain('Checks:');
  });

  it('keeps table rows intact when cells hold pipes and line breaks', () => {
    const docker = md.split('\n').find((l) => l.startsWith('| local x docker | ❌'));
    expect(docker).toBeDefined();
    // 5 columns -> 6 unescaped pipes
    expect(docker!.split(/(?<!\\)\|/).length - 1).toBe(6);
    expect(docker).toContain('\\| piped');
  });

  it('marks test doubles and shows skip reasons', () => {
    expect(md).toContain('| nomad x singularity *(test double)* | ⏭️ skipped |');
    expect(md).toContain('apptainer: not on PATH (nor singularity)');
  });

  it('tabulates startup series with the advised health timeout and its basis', () => {
    expect(md).toMatch(/\| local x process \| sequential \| 13 \| 92\.3% \| /);
    expect(md).toContain('Health timeout: max(2 x P99, P99 + 1 s) of submit -> /health OK');
  });

  it('quotes a failure in a fence longer than any backtick run inside it', () => {
    expect(md).toContain('````text\nread_file returned');
  });
});
