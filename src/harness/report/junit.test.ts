import { describe, expect, it } from 'vitest';
import { attr, renderJUnit, text } from './junit.js';
import { sampleReport } from './testing/sample-report.js';
import { checkWellFormed } from './testing/xml-well-formed.js';

describe('renderJUnit', () => {
  const xml = renderJUnit(sampleReport());

  it('is well-formed XML even with metacharacters and control characters in error text', () => {
    expect(checkWellFormed(xml).problems).toEqual([]);
    expect(xml).toContain('read_file returned &lt;missing&gt; &amp; &quot;quoted&quot;');
    expect(xml).not.toContain('\u0007');
  });

  it('has one testcase per leg x check, with failures, skips and degraded output', () => {
    const cases = xml.match(/<testcase classname="local x (process|docker)"[^>]*>/g) ?? [];
    expect(cases).toHaveLength(5);
    expect(xml).toMatch(/<testcase classname="local x docker" name="files" time="0.055"><failure message="read_file returned [^"]*" type="HPCSB_SANDBOX_HTTP">/);
    expect(xml).toContain('<skipped message="needs files"/>');
    expect(xml).toContain("<system-out>degraded: bwrap unusable: Can't mount proc on /newroot/proc</system-out>");
  });

  it('keeps a skipped leg visible as one skipped testcase with its reason, and flags the double', () => {
    expect(xml).toContain('<testcase classname="nomad x singularity" name="leg" time="0.000"><skipped message="apptainer: not on PATH (nor singularity)"/></testcase>');
    expect(xml).toContain('name="scheduler.double"');
  });

  it('adds a testcase per startup series and counts everything in the totals', () => {
    expect(xml).toMatch(/<testcase classname="startup: local x process" name="sequential"/);
    expect(xml).toMatch(/<testcase classname="startup: local x docker" name="burst" time="0"><failure message="startup.median: /);
    // 5 checks + 1 skipped leg + 3 series; failures: files + docker burst beyond its reference
    expect(xml).toMatch(/^<testsuites name="hpc-sandbox check readiness" tests="9" failures="2" errors="0" skipped="2"/m);
  });
});

describe('XML escaping', () => {
  it('escapes text and attributes', () => {
    expect(text('a<b & c>d')).toBe('a&lt;b &amp; c&gt;d');
    expect(attr(`"x"\n'y'`)).toBe('&quot;x&quot;&#10;&apos;y&apos;');
    expect(text('bell\u0007 lone\uD800 ok')).toBe('bell\uFFFD lone\uFFFD ok');
  });
});

describe('checkWellFormed', () => {
  it('catches what renderJUnit must never produce', () => {
    expect(checkWellFormed('<a><b></a>').problems).not.toEqual([]);
    expect(checkWellFormed('<a x="1 < 2"/>').problems).not.toEqual([]);
    expect(checkWellFormed('<a>R&D</a>').problems).not.toEqual([]);
    expect(checkWellFormed('<a>ok &amp; fine</a>').problems).toEqual([]);
  });
});
