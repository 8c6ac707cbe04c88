import { DRIVER_NAMES, type DriverName } from '../drivers/driver.js';
import { ConfigError } from '../errors.js';
import { SCHEDULER_NAMES } from '../schedulers/scheduler.js';
import type { LegId } from './results.js';
import { legName } from './results.js';

/**
 * What `HPC_SANDBOX_REQUIRE` demands (comma-separated tokens): `scheduler:driver` requires that
 * leg (`local:docker`, `nomad:charliecloud`; `*` matches any side), a bare driver name requires
 * every leg on it, and `bwrap` requires real isolation (a DEGRADED isolation check fails).
 * A required leg whose software is missing fails instead of being skipped. Other bare tokens are
 * capabilities the test gate reads (`squashfs`) and are ignored here.
 */
export interface Requirements {
  /** The tokens as given. */
  readonly tokens: readonly string[];
  /** Is this leg required? */
  requiresLeg(leg: LegId): boolean;
  /** Must isolation be real (no DEGRADED allowed)? */
  readonly requiresBwrap: boolean;
}

/**
 * Parses `HPC_SANDBOX_REQUIRE` from `env` (read when called, so tests can set it). A leg token
 * naming an unknown scheduler or driver throws `ConfigError`: a typo such as `local:dokcer` would
 * otherwise require nothing and let a CI run pass without the leg it meant to demand.
 */
export function parseRequirements(env: NodeJS.ProcessEnv = process.env): Requirements {
  const tokens = (env.HPC_SANDBOX_REQUIRE ?? '')
    .split(',')
    .map((token) => token.trim())
    .filter(Boolean);
  const matchers = tokens.flatMap((token): Array<(leg: LegId) => boolean> => {
    const [scheduler, driver] = token.split(':');
    if (driver !== undefined) {
      checkLegToken(token, scheduler ?? '', driver);
      return [(leg) => (scheduler === '*' || leg.scheduler === scheduler) && (driver === '*' || leg.driver === driver)];
    }
    if ((DRIVER_NAMES as readonly string[]).includes(token)) return [(leg) => leg.driver === (token as DriverName)];
    return [];
  });
  return {
    tokens,
    requiresLeg: (leg) => matchers.some((matches) => matches(leg)),
    requiresBwrap: tokens.includes('bwrap'),
  };
}

function checkLegToken(token: string, scheduler: string, driver: string): void {
  const problems: string[] = [];
  if (token.split(':').length !== 2) problems.push('expected scheduler:driver');
  if (scheduler !== '*' && !(SCHEDULER_NAMES as readonly string[]).includes(scheduler)) {
    problems.push(`unknown scheduler ${JSON.stringify(scheduler)}; expected * or one of ${SCHEDULER_NAMES.join(', ')}`);
  }
  if (driver !== '*' && !(DRIVER_NAMES as readonly string[]).includes(driver)) {
    problems.push(`unknown driver ${JSON.stringify(driver)}; expected * or one of ${DRIVER_NAMES.join(', ')}`);
  }
  if (problems.length > 0) throw new ConfigError(`HPC_SANDBOX_REQUIRE (or --require) token ${JSON.stringify(token)}: ${problems.join('; ')}`);
}

/** The failure text of a required leg that could not run. */
export function requiredButMissing(leg: LegId, reason: string): string {
  return `${legName(leg)} is required by HPC_SANDBOX_REQUIRE but cannot run: ${reason}`;
}
