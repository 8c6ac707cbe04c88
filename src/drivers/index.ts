import { ConfigError } from '../errors.js';
import { CharliecloudDriver } from './charliecloud/charliecloud-driver.js';
import { DockerDriver } from './docker/docker-driver.js';
import { DRIVER_NAMES, type Driver, type DriverName } from './driver.js';
import { PodmanDriver } from './podman/podman-driver.js';
import { ProcessDriver } from './process/process-driver.js';
import { SingularityDriver } from './singularity/singularity-driver.js';

/**
 * The driver called `name`, with its defaults (process.env, the built server bundle, the default
 * images).
 *
 * @throws ConfigError for a name that is not a driver.
 * @example
 * const plan = await getDriver('charliecloud').plan({ slots: 2, envAllowlist: [], env: {}, isolation: 'auto' });
 */
export function getDriver(name: DriverName): Driver {
  switch (name) {
    case 'process':
      return new ProcessDriver();
    case 'docker':
      return new DockerDriver();
    case 'singularity':
      return new SingularityDriver();
    case 'charliecloud':
      return new CharliecloudDriver();
    case 'podman':
      return new PodmanDriver();
    default:
      throw new ConfigError(`Unknown driver \`${String(name)}\`: expected one of ${DRIVER_NAMES.join(', ')}`);
  }
}

/** One instance of every driver, in `DRIVER_NAMES` order. */
export function allDrivers(): Driver[] {
  return DRIVER_NAMES.map(getDriver);
}

export { CharliecloudDriver, type CharliecloudDriverOptions } from './charliecloud/charliecloud-driver.js';
export { DockerDriver, UNCONFINED_SECURITY_OPTS, type DockerDriverOptions } from './docker/docker-driver.js';
export { DockerEngine, DockerEngineError, dockerEndpoint, type DockerEndpoint, type EngineVersion } from './docker/docker-engine.js';
export { PodmanDriver, PODMAN_NOT_OFFERED, type PodmanDriverOptions } from './podman/podman-driver.js';
export { ProcessDriver, type ProcessDriverOptions } from './process/process-driver.js';
export { SingularityDriver, type SingularityBinary, type SingularityDriverOptions } from './singularity/singularity-driver.js';
export { LABEL_PREFIX, SESSION_ID_LABEL, sessionId } from './labels.js';
export { DEFAULT_LANG, DEFAULT_PATH, TOKEN_ENV, sandboxEnv } from './sandbox-env.js';
export { CONTAINER_PORT, IMAGE_DATA_DIR, IMAGE_SERVER_PATH, serverArgs } from './server-command.js';
