import type { Statistics } from '../results.js';

/** How the advised timeout is derived, as reports print it. */
export const HEALTH_TIMEOUT_RULE = 'max(2 x P99, P99 + 1 s) of submit -> /health OK, rounded up to a whole second';

/** Added to P99 so a fast leg still gets a timeout that tolerates a slow node. */
const MIN_HEADROOM_MS = 1_000;

/**
 * The `/health` wait an operator should configure for a leg: `max(2 x P99, P99 + 1 s)` of the
 * time from submit to the first OK `/health`, rounded up to a whole second. Twice P99 covers a
 * cluster that is busier than during the benchmark; the 1 s floor covers legs whose P99 is so
 * small that doubling it adds nothing. Undefined when no sample became healthy.
 *
 * @example recommendHealthTimeout(healthyStats) // { value: 3000, basis: 'max(2 x P99, P99 + 1 s) ...' }
 */
export function recommendHealthTimeout(
  healthy: Statistics | undefined,
): { value: number; basis: string } | undefined {
  if (!healthy || !Number.isFinite(healthy.p99)) return undefined;
  const p99 = healthy.p99;
  const raw = Math.max(2 * p99, p99 + MIN_HEADROOM_MS);
  const value = Math.ceil(raw / 1_000) * 1_000;
  const successful = Math.round(healthy.n * healthy.successRate);
  return {
    value,
    basis: `${HEALTH_TIMEOUT_RULE} (P99 ${p99.toFixed(0)} ms over ${successful} of ${healthy.n} starts)`,
  };
}
