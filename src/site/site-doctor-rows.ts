import type { DoctorRow } from '../cli/doctor/doctor-row.js';
import { resolveNomadSettings, resolveSlurmSettings, settingRows } from './effective-settings.js';
import { findSiteProfile } from './site-profile.js';

/**
 * `hpc-sandbox doctor`'s site section: every effective Nomad and Slurm setting and where it came
 * from (flag, environment variable, profile file, default). The token shows as set/unset only.
 * A profile that does not load is one `missing` row with the reason.
 */
export async function siteSettingRows(env: NodeJS.ProcessEnv): Promise<DoctorRow[]> {
  try {
    const profile = await findSiteProfile(env);
    const nomad = await resolveNomadSettings({ env, profile });
    const slurm = resolveSlurmSettings({ env, profile });
    const header: DoctorRow = { area: 'site', name: 'profile', status: 'ok', summary: profile ? profile.path : '(none: defaults and environment only)' };
    const rows = [...settingRows('nomad', nomad), ...settingRows('slurm', slurm)].map(
      (row): DoctorRow => ({ area: 'site', name: row.name, status: 'ok', summary: `${row.value}  [${row.source}]`, details: { source: row.source } }),
    );
    return [header, ...rows];
  } catch (error) {
    return [{ area: 'site', name: 'profile', status: 'missing', summary: (error as Error).message }];
  }
}
