import { currentRunLabel } from '../common/run-label.js';
import type { NomadSchedulerOptions } from '../schedulers/nomad/scheduler.js';
import { sbatchOptionArgs } from '../schedulers/slurm/sbatch-options.js';
import type { SlurmSchedulerOptions } from '../schedulers/slurm/slurm-scheduler.js';
import { nomadTlsFor, resolveNomadSettings, resolveSlurmSettings, sbatchOptionsFor, type NomadSettings, type SlurmSettings } from './effective-settings.js';
import { findSiteProfile } from './site-profile.js';

/**
 * The NomadScheduler options of a run's environment: `--profile` (HPC_SANDBOX_PROFILE) or
 * ./hpc-sandbox.site.yaml, under the Nomad CLI variables. `explicitAddress` is false when the
 * address is only the default (the harness may then boot a local agent).
 */
export async function nomadOptionsForRun(env: NodeJS.ProcessEnv): Promise<{ options: NomadSchedulerOptions; settings: NomadSettings; explicitAddress: boolean }> {
  const profile = await findSiteProfile(env);
  const settings = await resolveNomadSettings({ env, profile });
  const tls = nomadTlsFor(settings);
  const binaries = Object.fromEntries(Object.entries(settings.driverOptions.value).flatMap(([driver, o]) => (o?.binary ? [[driver, o.binary]] : [])));
  const options: NomadSchedulerOptions = {
    address: settings.address.value,
    // '' (not undefined): the run's env decides, never NomadClient's process.env fallback.
    token: settings.token.value ?? '',
    ...(settings.namespace.value ? { namespace: settings.namespace.value } : {}),
    ...(settings.region.value ? { region: settings.region.value } : {}),
    ...(tls ? { tls } : {}),
    datacenters: settings.datacenters.value,
    cpuMHz: settings.cpuMHz.value,
    memoryMB: settings.memoryMB.value,
    dockerPrivileged: settings.privileged.value,
    constraints: settings.constraints.value,
    driverBinaries: binaries,
    runLabel: currentRunLabel(env),
  };
  return { options, settings, explicitAddress: settings.address.source.kind !== 'default' };
}

/** The SlurmScheduler options of a run's environment (profile, then HPC_SANDBOX_SLURM_* over it). */
export async function slurmOptionsForRun(env: NodeJS.ProcessEnv): Promise<{ options: SlurmSchedulerOptions; settings: SlurmSettings }> {
  const profile = await findSiteProfile(env);
  const settings = resolveSlurmSettings({ env, profile });
  const sbatch = sbatchOptionsFor(settings);
  const options: SlurmSchedulerOptions = {
    ...(sbatch.partition ? { partition: sbatch.partition } : {}),
    ...(sbatch.timeLimit ? { timeLimit: sbatch.timeLimit } : {}),
    ...(settings.baseDir.value ? { baseDir: settings.baseDir.value } : {}),
    sbatchArgs: sbatchOptionArgs(sbatch, currentRunLabel(env)),
  };
  return { options, settings };
}
