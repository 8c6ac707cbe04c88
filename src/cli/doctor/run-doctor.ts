import { which } from '../../common/which.js';
import { DEFAULT_NOMAD_ADDRESS } from '../../harness/components.js';
import type { Detection, Driver } from '../../drivers/driver.js';
import { allDrivers } from '../../drivers/index.js';
import { NomadScheduler } from '../../schedulers/nomad/scheduler.js';
import { SlurmScheduler } from '../../schedulers/slurm/slurm-scheduler.js';
import type { DoctorRow } from './doctor-row.js';
import { probeBwrap, probeDevFuse, probeDockerSocket, probeKernel, probeUserNamespaces } from './machine-probes.js';
import { probeSifBuilder } from './sif-builder-row.js';

const DETECT_TIMEOUT_MS = 15_000;

export interface DoctorOptions {
  env?: NodeJS.ProcessEnv;
  signal?: AbortSignal;
  /** Seam for tests. @default allDrivers() */
  drivers?: Driver[];
}

/**
 * Everything `hpc-sandbox doctor` reports, probed in parallel: each driver (version or why not),
 * the kernel facts container runtimes need (hpc-runtimes 5.1), bubblewrap, the Docker socket,
 * Nomad and Slurm. Read-only: nothing is started that outlives a probe.
 */
export async function runDoctor(options: DoctorOptions = {}): Promise<DoctorRow[]> {
  const env = options.env ?? process.env;
  const signal = options.signal ? AbortSignal.any([options.signal, AbortSignal.timeout(DETECT_TIMEOUT_MS)]) : AbortSignal.timeout(DETECT_TIMEOUT_MS);
  const drivers = options.drivers ?? allDrivers();
  const rows = await Promise.all([
    ...drivers.map((driver) => detectDriver(driver, signal)),
    probeKernel(),
    probeUserNamespaces(),
    probeDevFuse(),
    probeBwrap(env),
    probeDockerSocket(env),
    probeNomad(env, signal),
    probeSlurm(signal),
    probeSifBuilder(env, signal),
  ]);
  return rows;
}

async function detectDriver(driver: Driver, signal: AbortSignal): Promise<DoctorRow> {
  let detection: Detection;
  try {
    detection = await driver.detect({ signal });
  } catch (error) {
    // detect() promises not to throw; a bug there must not hide the other rows.
    detection = { available: false, reason: `${driver.name}: detect() threw: ${(error as Error).message}` };
  }
  return detectionRow('driver', driver.name, detection);
}

/** A Detection as a doctor row. */
export function detectionRow(area: string, name: string, detection: Detection): DoctorRow {
  return detection.available
    ? { area, name, status: 'ok', summary: detection.version ?? 'available', details: detection.details }
    : { area, name, status: 'missing', summary: detection.reason ?? 'not available', details: detection.details };
}

/**
 * Nomad, as the check and bench runners will find it: the agent at `NOMAD_ADDR` (else the default
 * address) must answer with a leader and a ready node. When none answers and `nomad` is not on
 * PATH either, nothing can be booted, so Nomad legs are skipped; the row says so.
 */
export async function probeNomad(env: NodeJS.ProcessEnv, signal: AbortSignal, defaultAddress = DEFAULT_NOMAD_ADDRESS): Promise<DoctorRow> {
  const binary = await which('nomad', env);
  const nomad = new NomadScheduler({ address: env.NOMAD_ADDR || defaultAddress });
  try {
    const detection = await nomad.detect({ signal });
    const row = detectionRow('scheduler', 'nomad', detection);
    if (binary) row.details = { ...row.details, binary };
    else if (!detection.available && !env.NOMAD_ADDR) {
      row.summary = `no agent reachable and nomad not on PATH, so nomad legs are skipped (${detection.reason ?? 'no answer'})`;
    }
    return row;
  } finally {
    await nomad.close();
  }
}

/**
 * Slurm, by the same `detect()` the Slurm legs use (sbatch, squeue, scancel and sinfo on PATH, a
 * usable node), so doctor and the runners always agree on whether Slurm legs can run.
 */
export async function probeSlurm(signal: AbortSignal): Promise<DoctorRow> {
  const slurm = new SlurmScheduler({ exitHook: false });
  try {
    return detectionRow('scheduler', 'slurm', await slurm.detect({ signal }));
  } finally {
    await slurm.close();
  }
}
