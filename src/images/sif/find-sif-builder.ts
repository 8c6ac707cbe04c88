import { which } from '../../common/which.js';
import { DEFAULT_PATH } from '../../drivers/sandbox-env.js';

/**
 * What builds the SIF on this machine: Apptainer's (or SingularityCE's) own `build` where it is
 * installed, otherwise Debian's `siftool` (the reference SIF implementation's CLI) with
 * `mksquashfs` for the partition, which needs neither root nor Apptainer.
 */
export type SifBuilder =
  | { kind: 'apptainer' | 'singularity'; path: string }
  | { kind: 'siftool'; path: string; mksquashfs: string };

export type SifBuilderFinding =
  | { available: true; builder: SifBuilder; /** Why this one: what was preferred and missing. */ why: string }
  | { available: false; reason: string };

/**
 * Finds the SIF builder, Apptainer first (its `build` is what sites trust), then siftool. One
 * answer for `image build`, `doctor` and the singularity driver's skip reason.
 *
 * @example
 * const found = await findSifBuilder();
 * if (found.available) log('building with %s', found.builder.kind);
 */
export async function findSifBuilder(env: NodeJS.ProcessEnv = process.env): Promise<SifBuilderFinding> {
  for (const kind of ['apptainer', 'singularity'] as const) {
    const path = await which(kind, env);
    if (path) return { available: true, builder: { kind, path }, why: `${kind} build` };
  }
  const noApptainer = 'apptainer: not on PATH (nor singularity)';
  const siftool = await which('siftool', env);
  // mksquashfs lives in /usr/sbin, which a user's PATH often lacks.
  const mksquashfs = await which('mksquashfs', { PATH: [env.PATH, DEFAULT_PATH].filter(Boolean).join(':') });
  if (siftool && mksquashfs) return { available: true, builder: { kind: 'siftool', path: siftool, mksquashfs }, why: `${noApptainer}, so siftool assembles the SIF` };
  if (siftool) return { available: false, reason: `${noApptainer}; siftool is on PATH but mksquashfs is not (apt-get install squashfs-tools)` };
  return { available: false, reason: `${noApptainer}; siftool: not on PATH (apt-get install siftool)` };
}
