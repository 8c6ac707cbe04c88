import { ConfigError } from '../errors.js';
import type { ResolvedSuite, SuiteCheck, SuiteLeg } from './suite/load.js';

/**
 * The legs a run of `suite` covers: all of them, or those named in `wanted` (`process x local`
 * or `process:local`).
 *
 * @throws ConfigError when `wanted` names a leg the suite does not have.
 */
export function selectLegs(suite: ResolvedSuite, wanted: readonly string[] | undefined): SuiteLeg[] {
  if (!wanted || wanted.length === 0) return [...suite.legs];
  const names = wanted.map((w) => w.replace(/^\s*([a-z]+)\s*:\s*([a-z]+)\s*$/, '$1 x $2'));
  const unknown = names.filter((n) => !suite.legs.some((leg) => leg.name === n));
  if (unknown.length > 0) {
    throw new ConfigError(`suite ${suite.path} has no leg ${unknown.map((u) => JSON.stringify(u)).join(', ')}; legs: ${suite.legs.map((l) => l.name).join(', ')}`);
  }
  return suite.legs.filter((leg) => names.includes(leg.name));
}

/**
 * The checks a `check` run of `suite` performs: all of them, or those named in `wanted`. A suite
 * without checks (a benchmark suite) is refused: every leg would pass without anything verified.
 *
 * @throws ConfigError when the suite has no checks or `wanted` names one it does not have.
 */
export function selectChecks(suite: ResolvedSuite, wanted?: readonly string[]): SuiteCheck[] {
  if (suite.checks.length === 0) {
    throw new ConfigError(`suite ${suite.path} has no \`checks\`: nothing to check on its legs (run its benchmarks with \`hpc-sandbox bench\`)`);
  }
  if (!wanted || wanted.length === 0) return [...suite.checks];
  const unknown = wanted.filter((n) => !suite.checks.some((c) => c.name === n));
  if (unknown.length > 0) {
    throw new ConfigError(`suite ${suite.path} has no check ${unknown.map((u) => JSON.stringify(u)).join(', ')}; checks: ${suite.checks.map((c) => c.name).join(', ')}`);
  }
  return suite.checks.filter((c) => wanted.includes(c.name));
}
