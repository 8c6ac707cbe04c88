import { realpath } from 'node:fs/promises';
import { join } from 'node:path';
import { projectRoot } from '../../common/paths.js';

/** Version string the test double reports; every report that sees it names the double. */
export const NOMAD_DOUBLE_VERSION = '0.0.0-hpc-sandbox-double';

/**
 * The environment variable (`1`) that allows booting the TEST DOUBLE. Only the test setup sets it
 * (vitest.config.ts, integration project); without it `startLocalAgent` refuses the double.
 */
export const NOMAD_DOUBLE_ENV = 'HPC_SANDBOX_NOMAD_DOUBLE';

/**
 * The folder holding the `nomad` TEST DOUBLE (fixtures/nomad-double/bin). Put it first on PATH of
 * `startLocalAgent({ env })` to boot the double exactly like `nomad agent -dev`. Tests only: it is
 * not Nomad, reports `Nomad v0.0.0-hpc-sandbox-double`, and the product never uses it on its own.
 */
export function nomadDoubleBinDir(): string {
  return join(projectRoot(), 'fixtures', 'nomad-double', 'bin');
}

/** True when `binary` is (a link to) the test double's `nomad`. */
export async function isNomadDoubleBinary(binary: string): Promise<boolean> {
  const [target, double] = await Promise.all([realpath(binary).catch(() => binary), realpath(join(nomadDoubleBinDir(), 'nomad')).catch(() => undefined)]);
  return target === double;
}

/** `Nomad v1.9.7`, or for the double `Nomad v0.0.0-hpc-sandbox-double (hpc-sandbox test double, not Nomad)`. */
export function describeNomadVersion(version: string): string {
  return version === NOMAD_DOUBLE_VERSION ? `Nomad v${version} (hpc-sandbox test double, not Nomad)` : `Nomad v${version}`;
}
