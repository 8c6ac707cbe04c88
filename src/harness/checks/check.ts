import type { z } from 'zod';
import type { SandboxSpec } from '../../drivers/driver.js';
import type { Placement, PortRequest } from '../../schedulers/scheduler.js';
import type { Requirements } from '../requirements.js';
import type { LegId } from '../results.js';
import type { SandboxApi } from '../sandbox-api.js';

/** A sandbox placed for a check, with a client bound to it. Stopped by the leg, not by the check. */
export interface PlacedSandbox {
  placement: Placement;
  client: SandboxApi;
  spec: SandboxSpec;
  ports: PortRequest;
}

/** What a check gets: the leg's sandbox, its client, and a way to place more of them. */
export interface CheckContext extends PlacedSandbox {
  leg: LegId;
  /** Aborted on Ctrl-C, test timeout or run cancellation: forward it to every wait and request. */
  signal: AbortSignal;
  /** Host environment the allowlist was read from (the one given to `driver.plan`). */
  hostEnv: NodeJS.ProcessEnv;
  /**
   * Places another sandbox on the same leg (port-binding needs a second and a static one). It is
   * healthy when returned and stopped with the leg, also on failure.
   */
  placeSandbox(overrides?: { ports?: PortRequest; spec?: Partial<SandboxSpec> }): Promise<PlacedSandbox>;
}

/** What a check reports; a failure is thrown (`CheckFailure` or any error) and timed by the runner. */
export type CheckOutcome =
  | { state: 'passed'; details?: Record<string, unknown> }
  | { state: 'degraded'; reason: string; details?: Record<string, unknown> }
  | { state: 'skipped'; reason: string };

/** A check's DEGRADED outcome: it worked, with a weakness the report names. */
export type DegradedOutcome = Extract<CheckOutcome, { state: 'degraded' }>;

/**
 * One verification run against a placement. `options` validates the `options:` block a suite
 * gives the check, so a typo is reported with the suite's file and line before anything starts.
 */
export interface Check<Options extends Record<string, unknown> = Record<string, unknown>> {
  readonly name: string;
  readonly description: string;
  /** Schema of the `options:` block (parsed from `{}` when the suite gives none). */
  readonly options: z.ZodType<Options>;
  /**
   * What the check needs in the leg's sandbox before it is placed (variables, allowlist entries,
   * host variables to offer). The runner merges every selected check's needs into the leg's spec.
   */
  prepare?(options: Options): SpecNeeds;
  run(context: CheckContext, options: Options): Promise<CheckOutcome>;
  /**
   * How a DEGRADED outcome is judged under the run's requirements (`HPC_SANDBOX_REQUIRE`): the
   * failure message when the requirements forbid it, or undefined to keep it DEGRADED.
   * @default a DEGRADED outcome stays DEGRADED
   */
  failDegraded?(outcome: DegradedOutcome, requirements: Requirements): string | undefined;
}

/** Additions a check makes to the leg's spec and to the host environment the allowlist reads. */
export interface SpecNeeds {
  env?: Record<string, string>;
  envAllowlist?: string[];
  hostEnv?: Record<string, string>;
}

/** Declares a check with its option types inferred from the schema. */
export function defineCheck<Options extends Record<string, unknown>>(check: Check<Options>): Check<Options> {
  return check;
}
