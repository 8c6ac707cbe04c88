import { delimiter } from 'node:path';
import { logger } from '../common/logger.js';
import { nomadOptionsForRun, slurmOptionsForRun } from '../site/scheduler-options.js';
import { which } from '../common/which.js';
import { UnavailableError } from '../errors.js';
import type { Driver, DriverName, SandboxSpec } from '../drivers/driver.js';
import { getDriver } from '../drivers/index.js';
import { ensureImage, imageFormatFor } from '../images/index.js';
import { LocalScheduler } from '../schedulers/local/local-scheduler.js';
import { nomadTaskDriverFor, startLocalAgent, type LocalNomadAgent } from '../schedulers/nomad/agent.js';
import { NOMAD_DOUBLE_ENV, nomadDoubleBinDir } from '../schedulers/nomad/double.js';
import { NOMAD_DOUBLE_VERSION, NomadScheduler } from '../schedulers/nomad/scheduler.js';
import { SlurmScheduler } from '../schedulers/slurm/slurm-scheduler.js';
import type { Placement, Scheduler, SchedulerName } from '../schedulers/scheduler.js';
import { sandboxApiFor } from './client-adapter.js';
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
  /**
   * Opens (and, when allowed, boots) the scheduler for a leg. The run shares it between legs with
   * the same `schedulerKey`.
   */
  openScheduler(name: SchedulerName, options: OpenSchedulerOptions): Promise<OpenedScheduler>;
  /** Legs with the same key share one opened scheduler. @default the scheduler name */
  schedulerKey?(name: SchedulerName, driver: DriverName): string;
  /**
   * Makes the image the leg's spec names (or the driver's default image) exist, building it
   * locally when needed; returns the image to put into the spec. Throws `UnavailableError` when
   * the tools to build it are missing (the leg is skipped) and any other error when a build fails.
   */
  ensureImage(driver: Driver, spec: SandboxSpec, signal: AbortSignal): Promise<string | undefined>;
  /** A client bound to `placement`; the leg closes it (when it has `close`) before stopping the placement. */
  client(placement: Placement): SandboxApi & { close?(): Promise<void> };
}

export interface OpenSchedulerOptions {
  signal: AbortSignal;
  /** The suite allows booting a local agent when none is reachable. */
  bootAgent: boolean;
  env: NodeJS.ProcessEnv;
  /** The driver of the leg that asks (a booted Nomad agent is configured for its task driver). */
  driver: DriverName;
}

/** Where Nomad's own CLI, and so the harness, looks for an agent when `NOMAD_ADDR` is unset or empty. */
export const DEFAULT_NOMAD_ADDRESS = 'http://127.0.0.1:4646';


/** The real components: drivers from src/drivers, local and Nomad schedulers, the wire client. */
export function defaultComponents(): HarnessComponents {
  return {
    driver: getDriver,
    openScheduler,
    // A booted Nomad agent is configured for one task driver (docker or raw_exec).
    schedulerKey: (name, driver) => (name === 'nomad' ? `nomad:${nomadTaskDriverFor(driver)}` : name),
    ensureImage: ensureDriverImage,
    client: (placement) => sandboxApiFor(placement),
  };
}

/**
 * A spec that names its image is used as is (the operator owns it); otherwise the driver's default
 * image is built offline, or reused when its inputs did not change.
 */
async function ensureDriverImage(driver: Driver, spec: SandboxSpec, signal: AbortSignal): Promise<string | undefined> {
  const format = imageFormatFor(driver.name);
  if (spec.image !== undefined || !format) return spec.image;
  const image = await ensureImage(format, { signal, onProgress: (p) => log('image %s: %s', p.format, p.message) });
  log('image %s ready: %s (%s)', format, image.ref, image.cached ? 'cached' : 'built');
  return image.defaultRef;
}

async function openScheduler(
  name: SchedulerName,
  { signal, env, bootAgent, driver }: OpenSchedulerOptions,
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
  if (name === 'nomad') return openNomad({ signal, env, bootAgent, driver });
  if (name === 'slurm') {
    // [site profile] The site profile's slurm section under HPC_SANDBOX_SLURM_PARTITION / _TIME /
    // _BASE_DIR / _ACCOUNT / _QOS (src/site); unset, the default partition and a temp dir. Every
    // job carries the run label (--comment) for `hpc-sandbox cleanup`.
    const scheduler = new SlurmScheduler((await slurmOptionsForRun(env)).options);
    const detection = await scheduler.detect({ signal });
    if (!detection.available) {
      await scheduler.close();
      return { available: false, reason: detection.reason ?? 'slurm: unavailable' };
    }
    return { available: true, scheduler, version: detection.version, double: false, close: () => scheduler.close() };
  }
  return { available: false, reason: `${name}: this build of hpc-sandbox has no ${name} scheduler` };
}

/**
 * A reachable agent (`NOMAD_ADDR`, else the default address) is used as is. Otherwise, when the
 * suite allows booting, a local `nomad agent -dev` is started for the leg's task driver: the real
 * `nomad` on PATH, else (in tests only, `HPC_SANDBOX_NOMAD_DOUBLE=1`) the TEST DOUBLE.
 */
async function openNomad({ signal, env, bootAgent, driver }: OpenSchedulerOptions): Promise<OpenedScheduler> {
  // The run's env decides, not process.env (which NomadClient would read when no address is given).
  // [site profile] address, token, namespace, region, TLS, datacenters... from the site profile
  // under the Nomad CLI variables (src/site/scheduler-options.ts).
  const site = await nomadOptionsForRun(env);
  const reachable = new NomadScheduler(site.options);
  const detection = await reachable.detect({ signal });
  if (detection.available) {
    const double = detection.version?.includes(NOMAD_DOUBLE_VERSION) ?? false;
    return { available: true, scheduler: reachable, version: detection.version, double, close: () => reachable.close() };
  }
  await reachable.close();
  if (site.explicitAddress || !bootAgent) return { available: false, reason: detection.reason ?? 'nomad: no agent reachable' };

  const realNomad = await which('nomad', env);
  // Only the test setup sets NOMAD_DOUBLE_ENV=1: outside tests the double is never booted.
  const useDouble = !realNomad && env[NOMAD_DOUBLE_ENV] === '1';
  // detection.reason already starts with "nomad: <address>"; say the remedy first, then the evidence.
  const unreachable = (detection.reason ?? 'no agent reachable').replace(/^nomad: /, '');
  if (!realNomad && !useDouble) return { available: false, reason: `nomad: not on PATH, and no agent answers: ${unreachable}` };
  const agentEnv = useDouble ? { ...env, PATH: `${nomadDoubleBinDir()}${delimiter}${env.PATH ?? ''}` } : env;
  let agent: LocalNomadAgent;
  try {
    agent = await startLocalAgent({ driver, env: agentEnv, signal });
  } catch (error) {
    if (signal.aborted) throw error;
    const why = error instanceof UnavailableError ? error.reason : (error as Error).message;
    const what = useDouble ? 'booting the test double' : 'booting one';
    return { available: false, reason: `nomad: ${what} failed: ${why}; no agent answers: ${unreachable}` };
  }
  const scheduler = new NomadScheduler({ address: agent.address });
  log('booted %s at %s for %s legs', agent.version, agent.address, nomadTaskDriverFor(driver));
  return {
    available: true,
    scheduler,
    version: agent.version,
    double: agent.isDouble,
    close: async () => {
      try {
        await scheduler.close();
      } finally {
        await agent.stop();
      }
    },
  };
}
