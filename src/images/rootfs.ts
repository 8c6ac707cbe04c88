import { chmod, copyFile, mkdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { IMAGE_SERVER_PATH } from '../drivers/server-command.js';
import { copyHostPath } from './host-files.js';
import { writeSingularityLayout } from './singularity-layout.js';
import { GENERATED_FILES, IMAGE_DIRECTORIES, IMAGE_NODE_PATH, type ImageInputs } from './image-inputs.js';

/** Where the image describes itself (content hash, programs), for `cat` from inside and for humans. */
export const IMAGE_MANIFEST_PATH = '/opt/hpc-sandbox/image.json';

/**
 * Assembles the minimal root filesystem in `root` (an empty directory): node at /usr/bin/node, the
 * programs and their libraries at their host paths (symlinks recreated), the server bundle, the
 * generated /etc files, the empty directories runtimes mount over, and Apptainer's `/.singularity.d`
 * layout (so the SquashFS and SIF forms run under `apptainer exec|run` as they are).
 */
export async function assembleRootfs(root: string, inputs: ImageInputs): Promise<void> {
  const seen = new Set<string>();
  for (const path of [...inputs.wellKnownPaths, ...Object.values(inputs.programs), ...inputs.libraries, ...inputs.dataFiles]) await copyHostPath(path, root, seen);
  await mkdir(join(root, dirname(IMAGE_NODE_PATH)), { recursive: true });
  await copyFile(inputs.nodePath, join(root, IMAGE_NODE_PATH));
  await chmod(join(root, IMAGE_NODE_PATH), 0o755);
  await mkdir(join(root, dirname(IMAGE_SERVER_PATH)), { recursive: true });
  await copyFile(inputs.bundlePath, join(root, IMAGE_SERVER_PATH));
  await chmod(join(root, IMAGE_SERVER_PATH), 0o644);
  for (const [path, content] of Object.entries(GENERATED_FILES)) {
    await mkdir(join(root, dirname(path)), { recursive: true });
    await writeFile(join(root, path), content, { mode: 0o644 });
  }
  for (const [path, mode] of Object.entries(IMAGE_DIRECTORIES)) {
    await mkdir(join(root, path), { recursive: true });
    // chmod after mkdir: the umask would strip the sticky and write bits of /tmp.
    await chmod(join(root, path), mode);
  }
  await writeSingularityLayout(root, inputs.hash);
  const manifest = { hash: inputs.hash, node: inputs.nodePath, programs: inputs.programs, missing: inputs.missing };
  await writeFile(join(root, IMAGE_MANIFEST_PATH), JSON.stringify(manifest, null, 2) + '\n', { mode: 0o644 });
}
