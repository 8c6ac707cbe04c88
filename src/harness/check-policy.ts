import type { SandboxSpec } from '../drivers/driver.js';
import { isSandboxError } from '../errors.js';
import type { PortRequest } from '../schedulers/scheduler.js';
import type { Check, CheckContext, CheckOutcome, PlacedSandbox } from './checks/check.js';
import type { Requirements } from './requirements.js';
import type { CheckResult } from './results.js';
import type { SuiteCheck } from './suite/load.js';

/** Longest a single check may run: a hung sandbox fails its check instead of hanging the run. */
export const CHECK_TIMEOUT_MS = 180_000;

/**
 * Where a check runs: the leg's sandbox and how to place more of them. `signal` is the run's (and
 * the test's); the policy adds the check's time limit and hands the joined signal to the check and
 * to `placeSandbox`.
 */
export interface CheckSite extends Omit<CheckContext, 'placeSandbox'> {
  placeSandbox(overrides: { ports?: PortRequest; spec?: Partial<SandboxSpec> }, signal: AbortSignal): Promise<PlacedSandbox>;
}

export interface CheckUnderPolicy {
  /** The suite's entry: the check's name and its `options:` block. */
  entry: SuiteCheck;
  /** The registered check of that name; undefined fails the result as an unknown check. */
  check: Check | undefined;
  site: CheckSite;
  /** What `HPC_SANDBOX_REQUIRE` demands: a check's `failDegraded` may turn DEGRADED into a failure. */
  requirements: Requirements;
  /** @default CHECK_TIMEOUT_MS */
  timeoutMs?: number;
}

/**
 * Runs one check and judges it: its options are parsed, it runs under a time limit joined with the
 * site's signal (and is abandoned, not awaited, when either fires), and its outcome or error
 * becomes a `CheckResult`. Never throws: a thrown `CheckFailure` keeps its message; a timeout says
 * so; an abort says `aborted: <why>`. A DEGRADED outcome fails when the check's `failDegraded`
 * says the requirements forbid it.
 */
export async function runCheckUnderPolicy({ entry, check, site, requirements, timeoutMs = CHECK_TIMEOUT_MS }: CheckUnderPolicy): Promise<CheckResult> {
  const started = performance.now();
  const elapsed = () => Math.round((performance.now() - started) * 10) / 10;
  if (!check) return { check: entry.name, state: 'failed', durationMs: 0, error: { message: `unknown check ${JSON.stringify(entry.name)}` } };
  const { signal } = site;
  const limit = AbortSignal.timeout(timeoutMs);
  const checkSignal = AbortSignal.any([signal, limit]);
  const context: CheckContext = { ...site, signal: checkSignal, placeSandbox: (overrides = {}) => site.placeSandbox(overrides, checkSignal) };
  try {
    const options = check.options.parse(entry.options ?? {});
    // A check that ignores its signal must not hang the run: stop waiting when the signal fires.
    const outcome = await raceAbort(check.run(context, options), checkSignal);
    return judgeOutcome(check, outcome, requirements, elapsed());
  } catch (error) {
    const why = (error as Error).message;
    const message = isSandboxError(error, 'HPCSB_CHECK_FAILED')
      ? why
      : limit.aborted && !signal.aborted
        ? `${check.name} did not finish within ${timeoutMs} ms: ${why}`
        : signal.aborted
          ? `aborted: ${why}`
          : why;
    return {
      check: check.name,
      state: 'failed',
      durationMs: elapsed(),
      error: { message, code: isSandboxError(error) ? error.code : undefined },
    };
  }
}

/** The result of a check that returned `outcome` after `durationMs`, under `requirements`. */
function judgeOutcome(check: Check, outcome: CheckOutcome, requirements: Requirements, durationMs: number): CheckResult {
  if (outcome.state === 'skipped') return { check: check.name, state: 'skipped', reason: outcome.reason };
  if (outcome.state === 'passed') return { check: check.name, state: 'passed', durationMs, details: outcome.details };
  const failure = check.failDegraded?.(outcome, requirements);
  if (failure !== undefined) return { check: check.name, state: 'failed', durationMs, error: { message: failure, code: 'HPCSB_CHECK_FAILED' } };
  return { check: check.name, state: 'degraded', durationMs, reason: outcome.reason, details: outcome.details };
}

function raceAbort<T>(work: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason);
  let onAbort: () => void = () => undefined;
  const aborted = new Promise<never>((_, reject) => {
    onAbort = () => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
  });
  return Promise.race([work, aborted]).finally(() => signal.removeEventListener('abort', onAbort));
}
