import { SandboxError } from '../../errors.js';
import type { BashOutcome } from '../sandbox-api.js';

/**
 * A check found the sandbox misbehaving. The message says what was verified, what was expected
 * and what came back, so a report line alone explains the failure.
 */
export class CheckFailure extends SandboxError {
  constructor(
    readonly check: string,
    message: string,
    readonly evidence?: unknown,
  ) {
    super('HPCSB_CHECK_FAILED', message);
  }
}

/** Throws a CheckFailure unless `condition` holds. */
export function ensure(condition: unknown, check: string, message: string, evidence?: unknown): asserts condition {
  if (!condition) throw new CheckFailure(check, message, evidence);
}

/** Runs `command` and fails the check unless it exits 0; returns stdout. */
export function requireSuccess(check: string, what: string, outcome: BashOutcome): string {
  ensure(
    outcome.exitCode === 0,
    check,
    `${what} exited with ${outcome.exitCode ?? 'no exit code'}${outcome.timedOut ? ' (timed out)' : ''}: stderr ${quote(outcome.stderr)}`,
    outcome.raw,
  );
  return outcome.stdout;
}

/** A short JSON rendering for messages (long text is cut with its length noted). */
export function quote(value: unknown, max = 200): string {
  const text = typeof value === 'string' ? value : JSON.stringify(value);
  const rendered = JSON.stringify(text.length > max ? text.slice(0, max) : text);
  return text.length > max ? `${rendered}... (${text.length} chars)` : rendered;
}
