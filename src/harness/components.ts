import { logger } from '../common/logger.js';
import type { Driver, DriverName, SandboxSpec } from '../drivers/driver.js';
import { getDriver } from '../drivers/index.js';
import { LocalScheduler } from '../schedulers/local/local-scheduler.js';
import { NOMAD_DOUBLE_VERSION, NomadScheduler } from '../schedulers/nomad/scheduler.js';
import type { Placement, Scheduler, SchedulerName } from '../schedulers/scheduler.js';
import { httpSandboxApi } from './http-sandbox-api.js';
import type { SandboxApi } from './sandbox-api.js';

const log = logger('harness:components');

/** A scheduler opened for a run, or why it cannot be. */
export type OpenedScheduler =
  | {
      available: true;
      scheduler: Scheduler;
      version?: string;
      /** The scheduler is a test double (the Nomad double): every report must say so. */
      double: boolean;
      /** Stops the scheduler and whatever was booted for it (a local Nomad agent). */
      close(): Promise<void>;
    }
  | { available: false; reason: string };

/**
 * The seams between the harness and the runtime: which driver and scheduler a leg uses, how
 * images are made available, how checks talk to a placement. `defaultComponents()` wires the
 * real ones; unit tests pass stand-ins.
 */
export interface HarnessComponents {
  driver(name: DriverName): Driver;
  /** Opens (and, when allowed, boots) the scheduler for the run; it is shared by every leg on it. */
  openScheduler(name: SchedulerName, options: { signal: AbortSignal; bootAgent: boolean; env: NodeJS.ProcessEnv }): Promise<OpenedScheduler>;
  /**
   * Makes the image the leg's spec names (or the driver's default image) exist, building it
   * locally when needed; returns the image to put into the spec. Throws `UnavailableError` when
   * the tools to build it are missing (the leg is skipped) and any other error when a build fails.
   */
  ensureImage(driver: Driver, spec: SandboxSpec, signal: AbortSignal): Promise<string | undefined>;
  client(placement: Placement): SandboxApi;
}

/** The real components: drivers from src/drivers, local and Nomad schedulers, the wire client. */
export function defaultComponents(): HarnessComponents {
  return {
    driver: getDriver,
    openScheduler,
    ensureImage: async (_driver, spec) => spec.image,
    client: (placement) => httpSandboxApi(placement),
  };
}

async function openScheduler(
  name: SchedulerName,
  { signal, env }: { signal: AbortSignal; bootAgent: boolean; env: NodeJS.ProcessEnv },
): Promise<OpenedScheduler> {
  if (name === 'local') {
    const scheduler: Scheduler = new LocalScheduler();
    const detection = await scheduler.detect({ signal });
    if (!detection.available) {
      await scheduler.close();
      return { available: false, reason: detection.reason ?? 'local scheduler unavailable' };
    }
    return { available: true, scheduler, version: detection.version, double: false, close: () => scheduler.close() };
  }
  if (name === 'nomad') {
    const scheduler = new NomadScheduler(env.NOMAD_ADDR ? { address: env.NOMAD_ADDR } : {});
    const detection = await scheduler.detect({ signal });
    if (detection.available) {
      const double = detection.version?.includes(NOMAD_DOUBLE_VERSION) ?? false;
      return { available: true, scheduler, version: detection.version, double, close: () => scheduler.close() };
    }
    await scheduler.close();
    log('nomad unavailable: %s', detection.reason);
    return { available: false, reason: detection.reason ?? 'nomad: no agent reachable' };
  }
  return { available: false, reason: `${name}: this build has no ${name} scheduler` };
}
