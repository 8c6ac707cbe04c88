import { join } from 'node:path';
import { cacheDir } from '../common/paths.js';
import type { DriverName } from '../drivers/driver.js';

/** The forms a sandbox image is built in: one per driver family. */
export type ImageFormat = 'docker' | 'squashfs' | 'dir' | 'sif';
export const IMAGE_FORMATS: readonly ImageFormat[] = ['docker', 'squashfs', 'dir', 'sif'];

/** Repository of the offline Docker image; tags are `<content-hash>` and `local`. */
export const DOCKER_IMAGE_REPOSITORY = 'hpc-sandbox/sandbox';

/** The tag `ensureImage('docker')` moves to the newest build. */
export const DEFAULT_DOCKER_TAG = 'local';

/** The Docker image the docker driver runs by default: `hpc-sandbox/sandbox:local`. */
export const DEFAULT_DOCKER_IMAGE = `${DOCKER_IMAGE_REPOSITORY}:${DEFAULT_DOCKER_TAG}`;

/** Folder of built images inside the cache: one sub-folder per content hash, plus stable links. */
export function imagesDir(root: string = cacheDir()): string {
  return join(root, 'images');
}

const STABLE_NAMES: Record<Exclude<ImageFormat, 'docker'>, string> = {
  squashfs: 'hpc-sandbox.sqfs',
  dir: 'hpc-sandbox.dir',
  sif: 'hpc-sandbox.sif',
};

/**
 * The image a driver runs when the spec names none: the Docker tag `hpc-sandbox/sandbox:local`,
 * or a stable symbolic link in the cache (`<cache>/images/hpc-sandbox.{sqfs,dir,sif}`) that
 * `ensureImage` re-points at the newest build of that format.
 */
export function defaultImageRef(format: ImageFormat, root: string = cacheDir()): string {
  return format === 'docker' ? DEFAULT_DOCKER_IMAGE : join(imagesDir(root), STABLE_NAMES[format]);
}

/**
 * The image format each driver runs by default; undefined for drivers without an image (process)
 * or not offered (podman). The harness builds it before placing a leg:
 *
 * @example
 * const format = imageFormatFor(driver.name);
 * if (format) await ensureImage(format, { signal });
 */
export function imageFormatFor(driver: DriverName): ImageFormat | undefined {
  const formats: Partial<Record<DriverName, ImageFormat>> = { docker: 'docker', charliecloud: 'squashfs', singularity: 'sif' };
  return formats[driver];
}
