import type { CheckResult, LegResult, RunReport, StartupSeries } from '../results.js';
import { formatMs, formatPercent } from './format.js';

/**
 * JUnit XML for CI test tabs: one `<testsuite>` per leg with one `<testcase>` per check
 * (`<skipped message>` for a skipped check or leg, `<failure>` with the error text), and one
 * `<testsuite>` per benchmarked leg with a testcase per startup mode, failed when a figure is
 * beyond its reference or no start succeeded. A degraded check passes and says why in
 * `<system-out>` (JUnit has no "degraded").
 */
export function renderJUnit(report: RunReport): string {
  const suites = [...report.legs.map(legSuite), ...benchmarkSuites(report.benchmarks)];
  const totals = suites.reduce(
    (t, s) => ({ tests: t.tests + s.tests, failures: t.failures + s.failures, skipped: t.skipped + s.skipped, time: t.time + s.time }),
    { tests: 0, failures: 0, skipped: 0, time: 0 },
  );
  const lines = [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<testsuites name="${attr(`hpc-sandbox ${report.command} ${report.suite.name}`)}" tests="${totals.tests}" failures="${totals.failures}" errors="0" skipped="${totals.skipped}" time="${seconds(totals.time)}">`,
  ];
  for (const suite of suites) {
    lines.push(
      `  <testsuite name="${attr(suite.name)}" tests="${suite.tests}" failures="${suite.failures}" errors="0" skipped="${suite.skipped}" time="${seconds(suite.time)}" timestamp="${attr(report.startedAt)}" hostname="${attr(report.host.hostname)}">`,
    );
    if (suite.properties.length > 0) {
      lines.push('    <properties>');
      for (const [name, value] of suite.properties) lines.push(`      <property name="${attr(name)}" value="${attr(value)}"/>`);
      lines.push('    </properties>');
    }
    lines.push(...suite.cases.map((c) => '    ' + c));
    lines.push('  </testsuite>');
  }
  lines.push('</testsuites>');
  return lines.join('\n') + '\n';
}

interface Suite {
  name: string;
  tests: number;
  failures: number;
  skipped: number;
  time: number;
  properties: Array<[string, string]>;
  cases: string[];
}

function legSuite(leg: LegResult): Suite {
  const properties: Array<[string, string]> = [
    ['scheduler', leg.leg.scheduler],
    ['driver', leg.leg.driver],
  ];
  if (leg.versions?.driver) properties.push(['driver.version', leg.versions.driver]);
  if (leg.versions?.scheduler) properties.push(['scheduler.version', leg.versions.scheduler]);
  if (leg.double) properties.push(['scheduler.double', 'true: the scheduler was a test double, not a real agent']);
  const suite: Suite = { name: leg.name, tests: 0, failures: 0, skipped: 0, time: leg.durationMs, properties, cases: [] };
  const add = (name: string, ms: number, body?: string, outcome?: 'failure' | 'skipped') => {
    suite.tests++;
    if (outcome === 'failure') suite.failures++;
    if (outcome === 'skipped') suite.skipped++;
    const open = `<testcase classname="${attr(leg.name)}" name="${attr(name)}" time="${seconds(ms)}"`;
    suite.cases.push(body ? `${open}>${body}</testcase>` : `${open}/>`);
  };
  if (leg.checks.length === 0) {
    if (leg.state === 'skipped') add('leg', 0, `<skipped message="${attr(leg.reason ?? 'skipped')}"/>`, 'skipped');
    else if (leg.state === 'failed') add('leg', leg.durationMs, failure(leg.reason ?? 'leg failed', undefined), 'failure');
    return suite;
  }
  for (const check of leg.checks) add(check.check, checkMs(check), ...checkBody(check, leg));
  return suite;
}

function checkBody(check: CheckResult, leg: LegResult): [string | undefined, ('failure' | 'skipped')?] {
  switch (check.state) {
    case 'passed':
      return [undefined];
    case 'degraded':
      return [`<system-out>${text(`degraded: ${check.reason}`)}</system-out>`];
    case 'failed':
      return [failure(check.error.message, check.error.code), 'failure'];
    case 'skipped':
      return [`<skipped message="${attr(check.reason || leg.reason || 'skipped')}"/>`, 'skipped'];
  }
}

function checkMs(check: CheckResult): number {
  return check.state === 'skipped' ? 0 : check.durationMs;
}

function benchmarkSuites(series: readonly StartupSeries[]): Suite[] {
  const byLeg = new Map<string, StartupSeries[]>();
  for (const s of series) byLeg.set(s.name, [...(byLeg.get(s.name) ?? []), s]);
  return [...byLeg].map(([name, list]) => {
    const suite: Suite = { name: `startup: ${name}`, tests: 0, failures: 0, skipped: 0, time: 0, properties: [], cases: [] };
    for (const s of list) {
      suite.tests++;
      const summary =
        `n=${s.stats.n} success=${formatPercent(s.stats.successRate)} median=${formatMs(s.stats.median)} ` +
        `p95=${formatMs(s.stats.p95)} p99=${formatMs(s.stats.p99)}` +
        (s.recommendedHealthTimeoutMs ? ` recommended health timeout=${s.recommendedHealthTimeoutMs.value} ms (${s.recommendedHealthTimeoutMs.basis})` : '');
      const problems = [
        ...s.verdicts.filter((v) => v.state === 'beyond').map((v) => `${v.metric}: ${v.message}`),
        ...(s.stats.successRate === 0 ? [`no start succeeded: ${s.samples.find((x) => x.error)?.error ?? 'unknown error'}`] : []),
      ];
      const out = `<system-out>${text([summary, ...s.verdicts.map((v) => v.message)].join('\n'))}</system-out>`;
      const open = `<testcase classname="${attr(`startup: ${name}`)}" name="${attr(s.mode)}" time="0">`;
      if (problems.length > 0) {
        suite.failures++;
        suite.cases.push(`${open}${failure(problems.join('\n'), undefined)}${out}</testcase>`);
      } else {
        suite.cases.push(`${open}${out}</testcase>`);
      }
    }
    return suite;
  });
}

function failure(message: string, code: string | undefined): string {
  const first = message.split('\n', 1)[0] ?? '';
  return `<failure message="${attr(first)}"${code ? ` type="${attr(code)}"` : ''}>${text(message)}</failure>`;
}

function seconds(ms: number): string {
  return Number.isFinite(ms) ? (ms / 1_000).toFixed(3) : '0';
}

/** Characters XML 1.0 forbids anywhere (most C0 controls, lone surrogates, U+FFFE/U+FFFF). */
// eslint-disable-next-line no-control-regex
const INVALID_XML = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;

/** Escapes element text; invalid characters become U+FFFD so a binary stderr cannot break the file. */
export function text(value: string): string {
  return value.replace(INVALID_XML, '\uFFFD').replaceAll('&', '&amp;').replaceAll('<', '&lt;').replaceAll('>', '&gt;');
}

/** Escapes an attribute value (quotes and line breaks too, which attribute normalisation would eat). */
export function attr(value: string): string {
  return text(value).replaceAll('"', '&quot;').replaceAll("'", '&apos;').replaceAll('\n', '&#10;').replaceAll('\r', '&#13;').replaceAll('\t', '&#9;');
}
