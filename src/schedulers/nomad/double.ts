import { join } from 'node:path';
import { projectRoot } from '../../common/paths.js';

/**
 * The folder holding the `nomad` TEST DOUBLE (fixtures/nomad-double/bin). Put it first on PATH of
 * `startLocalAgent({ env })` to boot the double exactly like `nomad agent -dev`. Tests only: it is
 * not Nomad, reports `Nomad v0.0.0-hpc-sandbox-double`, and the product never uses it on its own.
 */
export function nomadDoubleBinDir(): string {
  return join(projectRoot(), 'fixtures', 'nomad-double', 'bin');
}
