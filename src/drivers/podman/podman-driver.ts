import { which } from '../../common/which.js';
import { ConfigError } from '../../errors.js';
import type { Detection, Driver, LaunchPlan } from '../driver.js';

/** Why the podman driver is not offered, and what to do instead. */
export const PODMAN_NOT_OFFERED =
  'not offered by this version of hpc-sandbox: run `podman system service --time=0 unix:///path/podman.sock` and use the docker driver with DOCKER_HOST=unix:///path/podman.sock (rootless Podman needs `unmask=ALL` instead of `systempaths=unconfined` for bwrap)';

export interface PodmanDriverOptions {
  /** Where `podman` is looked up. @default process.env */
  env?: NodeJS.ProcessEnv;
}

/**
 * Placeholder for Podman. Container plans are started through the Docker Engine API, which
 * Podman serves on its own socket; until a Podman leg is tested live (Podman is not installed on
 * the project's machines), detect() says so and plan() refuses.
 */
export class PodmanDriver implements Driver {
  readonly name = 'podman' as const;
  readonly #env: NodeJS.ProcessEnv;

  constructor(options: PodmanDriverOptions = {}) {
    this.#env = options.env ?? process.env;
  }

  async detect(): Promise<Detection> {
    const podman = await which('podman', this.#env);
    return podman
      ? { available: false, reason: `podman: ${PODMAN_NOT_OFFERED}`, details: { binary: podman } }
      : { available: false, reason: `podman: not on PATH; and ${PODMAN_NOT_OFFERED}` };
  }

  async plan(): Promise<LaunchPlan> {
    throw new ConfigError(`The podman driver is ${PODMAN_NOT_OFFERED}`);
  }
}
