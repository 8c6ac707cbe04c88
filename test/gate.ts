import { describe, inject, it } from 'vitest';
import type { CapabilityName } from './capabilities.js';

/**
 * Tokens in `HPC_SANDBOX_REQUIRE` (comma-separated): capability names (`bwrap`, `docker`) or legs
 * (`local:docker`). A required capability that is missing fails the tests that need it instead of
 * skipping them. A leg token requires its driver's capability too.
 */
export function requiredCapabilities(env: NodeJS.ProcessEnv = process.env): Set<string> {
  const tokens = (env.HPC_SANDBOX_REQUIRE ?? '').split(',').map((t) => t.trim()).filter(Boolean);
  const out = new Set<string>();
  for (const token of tokens) {
    out.add(token);
    const [, driver] = token.split(':');
    if (driver) out.add(driver === 'singularity' ? 'apptainer' : driver);
  }
  return out;
}

/** undefined when `capability` is usable; otherwise the reason it is not. */
export function missing(capability: CapabilityName): string | undefined {
  const cap = inject('capabilities')[capability];
  return cap.available ? undefined : cap.reason;
}

/**
 * `describe` that runs only where `capabilities` are all present. Otherwise the block is skipped
 * with the reason in its name, or, when HPC_SANDBOX_REQUIRE names one of them, one failing test
 * says which required capability is missing.
 */
export function describeWith(capabilities: CapabilityName[], name: string, fn: () => void): void {
  const reasons = capabilities.map(missing).filter((r): r is string => r !== undefined);
  if (reasons.length === 0) {
    describe(name, fn);
    return;
  }
  const required = requiredCapabilities();
  const requiredMissing = capabilities.filter((c) => missing(c) && required.has(c));
  if (requiredMissing.length > 0) {
    describe(name, () => {
      it(`requires ${requiredMissing.join(', ')}`, () => {
        throw new Error(`HPC_SANDBOX_REQUIRE demands ${requiredMissing.join(', ')}, which is unavailable: ${reasons.join('; ')}`);
      });
    });
    return;
  }
  describe.skip(`${name} [skipped: ${reasons.join('; ')}]`, fn);
}
