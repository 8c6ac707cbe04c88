import { chmod, open, rm, writeFile } from 'node:fs/promises';
import { execOrThrow } from '../../common/exec.js';
import { SandboxError } from '../../errors.js';

/** `siftool add --datatype` values (siftool add --help). */
export const SIFTOOL_DATATYPE = { deffile: 1, partition: 4 } as const;
/** `--parttype 2`: the primary system partition, the one Apptainer runs. */
export const SIFTOOL_PARTTYPE_PRIMARY_SYSTEM = 2;
/** `--partfs 1`: SquashFS. */
export const SIFTOOL_PARTFS_SQUASHFS = 1;
/** Apptainer puts every object of a build in object group 1; so does this builder. */
export const SIF_OBJECT_GROUP = 1;

/** Node's `process.arch` -> `siftool add --partarch` code and the SIF/Go architecture name. */
const ARCHITECTURES: Record<string, { code: number; name: string }> = {
  ia32: { code: 1, name: '386' },
  x64: { code: 2, name: 'amd64' },
  arm: { code: 3, name: 'arm' },
  arm64: { code: 4, name: 'arm64' },
  ppc64: { code: 6, name: 'ppc64le' },
  s390x: { code: 11, name: 's390x' },
  riscv64: { code: 12, name: 'riscv64' },
};

/** The SIF architecture of a Node architecture (`x64` -> amd64, code 2). */
export function sifArchitecture(arch: string = process.arch): { code: number; name: string } {
  const found = ARCHITECTURES[arch];
  if (!found) throw new SandboxError('HPCSB_IMAGE_BUILD', `Cannot build a SIF for the Node architecture \`${arch}\`: SIF knows ${Object.keys(ARCHITECTURES).join(', ')}`);
  return found;
}

/** What Apptainer writes at the start of a SIF, so `./image.sif` runs it (with `run-singularity` on PATH). */
export const SIF_LAUNCH_SCRIPT = '#!/usr/bin/env run-singularity\n';

export interface SiftoolBuildOptions {
  siftool: string;
  mksquashfs: string;
  /** The root filesystem directory (with `/.singularity.d`). */
  rootfs: string;
  /** The SIF to create; must not exist. Scratch files are written next to it and removed. */
  out: string;
  /** The definition file recorded as the SIF's deffile object. */
  definition: string;
  /** @default sifArchitecture() */
  arch?: { code: number; name: string };
  signal?: AbortSignal;
  onStep?: (message: string) => void;
}

/**
 * Builds a SIF without Apptainer, with the layout `apptainer build` gives: the definition file as
 * object 1, then the root filesystem as a SquashFS primary system partition (object 2), both in
 * group 1; the header's architecture follows the partition; the launch script is Apptainer's.
 * The partition is gzip-compressed, the compression every kernel and squashfuse an HPC node may
 * mount it with reads (Apptainer's own default too).
 *
 * @throws CommandError when mksquashfs or siftool fails (scratch files are removed either way).
 */
export async function buildSifWithSiftool(options: SiftoolBuildOptions): Promise<void> {
  const arch = options.arch ?? sifArchitecture();
  const partition = `${options.out}.partition.sqfs`;
  const definition = `${options.out}.def`;
  const run = (file: string, args: string[]) => execOrThrow(file, args, { signal: options.signal, timeoutMs: 600_000 });
  try {
    options.onStep?.(`mksquashfs ${options.rootfs} -> ${partition} (gzip)`);
    await run(options.mksquashfs, [options.rootfs, partition, '-noappend', '-all-root', '-comp', 'gzip', '-quiet', '-no-progress']);
    await writeFile(definition, options.definition);
    options.onStep?.(`siftool new ${options.out}; add the definition file and the primary system partition (${arch.name})`);
    await run(options.siftool, ['new', options.out]);
    await run(options.siftool, ['add', options.out, definition, '--datatype', String(SIFTOOL_DATATYPE.deffile), '--groupid', String(SIF_OBJECT_GROUP)]);
    await run(options.siftool, [
      'add', options.out, partition,
      '--datatype', String(SIFTOOL_DATATYPE.partition),
      '--parttype', String(SIFTOOL_PARTTYPE_PRIMARY_SYSTEM),
      '--partfs', String(SIFTOOL_PARTFS_SQUASHFS),
      '--partarch', String(arch.code),
      '--groupid', String(SIF_OBJECT_GROUP),
    ]);
    await writeLaunchScript(options.out);
    await chmod(options.out, 0o755);
  } finally {
    await Promise.all([rm(partition, { force: true }), rm(definition, { force: true })]);
  }
}

/**
 * `siftool new` leaves the 32-byte launch field empty; Apptainer fills it. The field is outside
 * the descriptors and data, so writing it in place changes nothing else.
 */
async function writeLaunchScript(sif: string): Promise<void> {
  const handle = await open(sif, 'r+');
  try {
    const field = Buffer.alloc(32);
    field.write(SIF_LAUNCH_SCRIPT, 'latin1');
    await handle.write(field, 0, field.length, 0);
  } finally {
    await handle.close();
  }
}
