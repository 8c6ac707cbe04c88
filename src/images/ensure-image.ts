import { randomBytes } from 'node:crypto';
import { access, mkdir, readdir, readlink, rename, rm, stat, symlink, utimes } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { execOrThrow } from '../common/exec.js';
import { logger } from '../common/logger.js';
import { cacheDir as defaultCacheDir, projectRoot, serverBundlePath } from '../common/paths.js';
import { which } from '../common/which.js';
import { AbortedError, SandboxError, UnavailableError } from '../errors.js';
import { DockerEngine, dockerEndpoint } from '../drivers/docker/docker-engine.js';
import { LABEL_PREFIX } from '../drivers/labels.js';
import { DEFAULT_LANG, DEFAULT_PATH } from '../drivers/sandbox-env.js';
import { CONTAINER_PORT, IMAGE_DATA_DIR, IMAGE_SERVER_PATH } from '../drivers/server-command.js';
import { withLock } from './cache-lock.js';
import { collectImageInputs, type ImageInputs } from './image-inputs.js';
import { DEFAULT_DOCKER_TAG, DOCKER_IMAGE_REPOSITORY, defaultImageRef, imagesDir, type ImageFormat } from './image-format.js';
import { assembleRootfs } from './rootfs.js';
import { findSifBuilder, type SifBuilder } from './sif/find-sif-builder.js';
import { buildSifWithSiftool } from './sif/sif-builder.js';
import { sifDefinition } from './singularity-layout.js';

const log = logger('images');

/** One step of an image build, for progress lines (`docker: importing rootfs tar (142 MB)`). */
export interface ImageProgress {
  format: ImageFormat;
  step: 'inputs' | 'cached' | 'bundle' | 'rootfs' | 'squashfs' | 'tar' | 'import' | 'sif' | 'done';
  message: string;
}

export interface EnsureImageOptions {
  signal?: AbortSignal;
  onProgress?: (progress: ImageProgress) => void;
  /** Cache root. @default cacheDir() (`HPC_SANDBOX_CACHE_DIR` or `<package>/.cache`) */
  cacheDir?: string;
  /** Where DOCKER_HOST and programs (PATH) are read. @default process.env */
  env?: NodeJS.ProcessEnv;
  /** The server bundle to put in the image; built with `node scripts/build.mjs` when missing. @default serverBundlePath() */
  bundlePath?: string;
}

export interface EnsuredImage {
  format: ImageFormat;
  /**
   * The content-addressed reference: Docker tag `hpc-sandbox/sandbox:<hash>`, or the file or
   * directory `<cache>/images/<hash>/sandbox.{sqfs,sif}|rootfs`. It never changes content.
   */
  ref: string;
  /** The stable reference drivers use by default (`defaultImageRef(format)`), now pointing at `ref`. */
  defaultRef: string;
  hash: string;
  /** True when the image already existed: nothing was built. */
  cached: boolean;
}

/**
 * Makes sure the sandbox image exists in `format`, built offline from this host (node, sh, bash,
 * bwrap, a few tools, the server bundle): reuses the cached build when the inputs' content hash
 * matches, otherwise builds it. Concurrent calls (several processes too) build once: a lock file
 * per hash serialises them, and every artefact is written under a temporary name then renamed.
 *
 * @throws UnavailableError when the format's tool is missing (Docker Engine, mksquashfs, apptainer and siftool).
 * @throws SandboxError `HPCSB_IMAGE_BUILD` when a build step fails.
 * @example
 * const { ref } = await ensureImage('squashfs', { onProgress: (p) => log(p.message) });
 */
export async function ensureImage(format: ImageFormat, options: EnsureImageOptions = {}): Promise<EnsuredImage> {
  const env = options.env ?? process.env;
  const root = imagesDir(options.cacheDir ?? defaultCacheDir(env));
  const progress = (step: ImageProgress['step'], message: string) => {
    log('%s: %s', format, message);
    options.onProgress?.({ format, step, message });
  };
  const tool = await requireTool(format, env, options.signal);
  const bundlePath = options.bundlePath ?? (await ensureBundle(progress, options.signal));
  progress('inputs', 'collecting host files and hashing inputs');
  const inputs = await collectImageInputs({ bundlePath, env, signal: options.signal });
  await mkdir(root, { recursive: true });
  const entry = join(root, inputs.hash);
  const defaultRef = defaultImageRef(format, join(root, '..'));

  return withLock(join(root, `${inputs.hash}.lock`), async () => {
    const builder = new ImageBuilder(entry, inputs, progress, options.signal, env);
    const { ref, cached } = await builder.build(format, tool);
    if (format === 'docker') {
      await new DockerEngine(dockerEndpoint(env)).tagImage(ref, DOCKER_IMAGE_REPOSITORY, DEFAULT_DOCKER_TAG, options);
    } else {
      await pointLink(defaultRef, ref);
    }
    const now = new Date();
    await utimes(entry, now, now).catch(() => undefined);
    if (!cached) {
      // Best effort: a failed clean-up (another process pruning too) must not fail a good build.
      await pruneCache(root, inputs.hash, format === 'docker' ? new DockerEngine(dockerEndpoint(env)) : undefined, options.signal).catch((error: unknown) =>
        log('pruning the image cache failed: %O', error),
      );
    }
    progress('done', `${cached ? 'cached' : 'built'} ${ref} (default ${defaultRef})`);
    return { format, ref, defaultRef, hash: inputs.hash, cached };
  }, { signal: options.signal });
}

/** Builds kept in the cache (the most recently used content hashes); older ones go after each build. */
export const KEEP_BUILDS = 3;

/**
 * Removes cache entries (and Docker tags) of all but the `KEEP_BUILDS` most recently used hashes.
 * Recent ones stay because running sandboxes may still use them; an entry being built (locked)
 * and a Docker image a container uses are never removed.
 */
async function pruneCache(root: string, current: string, engine: DockerEngine | undefined, signal?: AbortSignal): Promise<void> {
  const entries = await readdir(root, { withFileTypes: true });
  const hashes = entries.filter((d) => d.isDirectory() && /^[0-9a-f]{16}$/.test(d.name)).map((d) => d.name);
  const used = await Promise.all(hashes.map(async (hash) => ({ hash, time: (await stat(join(root, hash)).catch(() => undefined))?.mtimeMs ?? 0 })));
  used.sort((a, b) => b.time - a.time);
  const keep = new Set([current, ...used.slice(0, KEEP_BUILDS).map((u) => u.hash)]);
  // What a default link points at stays: drivers run it when the spec names no image.
  for (const format of ['squashfs', 'dir', 'sif'] as const) {
    const target = await readlink(defaultImageRef(format, join(root, '..'))).catch(() => '');
    keep.add(target.split('/')[0]!);
  }
  for (const { hash } of used) {
    if (keep.has(hash) || (await exists(join(root, `${hash}.lock`)))) continue;
    log('pruning cache entry %s', hash);
    await rm(join(root, hash), { recursive: true, force: true });
  }
  if (!engine) return;
  for (const tag of await engine.listImageTags(DOCKER_IMAGE_REPOSITORY, { signal })) {
    const hash = tag.slice(DOCKER_IMAGE_REPOSITORY.length + 1);
    if (/^[0-9a-f]{16}$/.test(hash) && !keep.has(hash)) {
      log('pruning docker image %s', tag);
      await engine.removeImage(tag, { signal });
    }
  }
}

/** What builds a format: the Docker Engine endpoint or a program's path, plus the SIF builder for sif. */
interface BuildTool {
  path: string;
  sif?: SifBuilder;
}

/** The tool a format needs: the Docker Engine, mksquashfs, apptainer/singularity else siftool; none for dir. */
async function requireTool(format: ImageFormat, env: NodeJS.ProcessEnv, signal?: AbortSignal): Promise<BuildTool> {
  const component = `${format} image`;
  switch (format) {
    case 'docker': {
      const endpoint = dockerEndpoint(env);
      try {
        await new DockerEngine(endpoint).version({ signal, timeoutMs: 5_000 });
      } catch (error) {
        throw new UnavailableError(component, `docker: cannot connect to ${endpoint.display} (${error instanceof SandboxError && 'body' in error ? String(error.body) : String(error)})`);
      }
      return { path: endpoint.display };
    }
    case 'squashfs': {
      const mksquashfs = await which('mksquashfs', { PATH: [env.PATH, DEFAULT_PATH].filter(Boolean).join(':') });
      if (!mksquashfs) throw new UnavailableError(component, 'mksquashfs: not on PATH (apt-get install squashfs-tools)');
      return { path: mksquashfs };
    }
    case 'sif': {
      const found = await findSifBuilder(env);
      if (!found.available) throw new UnavailableError(component, found.reason);
      return { path: found.builder.path, sif: found.builder };
    }
    case 'dir':
      return { path: '' };
  }
}

async function ensureBundle(progress: (step: ImageProgress['step'], message: string) => void, signal?: AbortSignal): Promise<string> {
  const bundle = serverBundlePath();
  if (!(await exists(bundle))) {
    progress('bundle', `building the server bundle ${bundle} (node scripts/build.mjs)`);
    await execOrThrow(process.execPath, ['scripts/build.mjs'], { cwd: projectRoot(), signal, timeoutMs: 120_000 });
  }
  return bundle;
}

/** The build steps of one cache entry (`<cache>/images/<hash>/`), each skipped when its artefact exists. */
class ImageBuilder {
  constructor(
    readonly entry: string,
    readonly inputs: ImageInputs,
    readonly progress: (step: ImageProgress['step'], message: string) => void,
    readonly signal: AbortSignal | undefined,
    readonly env: NodeJS.ProcessEnv,
  ) {}

  get rootfs(): string {
    return join(this.entry, 'rootfs');
  }

  async build(format: ImageFormat, tool: BuildTool): Promise<{ ref: string; cached: boolean }> {
    switch (format) {
      case 'dir':
        return { ref: this.rootfs, cached: !(await this.#ensureRootfs()) };
      case 'squashfs':
        return this.#ensureFile('sandbox.sqfs', async (out) => {
          this.progress('squashfs', `mksquashfs ${this.rootfs} -> ${out}`);
          await execOrThrow(tool.path, [this.rootfs, out, '-noappend', '-all-root', '-comp', 'zstd', '-Xcompression-level', '3', '-quiet', '-no-progress'], {
            signal: this.signal,
            timeoutMs: 600_000,
          });
        });
      case 'sif':
        return this.#ensureFile('sandbox.sif', (out) => this.#buildSif(out, tool.sif!));
      case 'docker':
        return this.#ensureDockerImage();
    }
  }

  /** Builds the rootfs unless present; true when it was built now. */
  async #ensureRootfs(): Promise<boolean> {
    if (await exists(this.rootfs)) return false;
    this.#checkAborted();
    const staging = join(this.entry, `.rootfs-${randomBytes(4).toString('hex')}`);
    this.progress('rootfs', `assembling the root filesystem from this host (${Object.keys(this.inputs.programs).length} programs, ${this.inputs.libraries.length} libraries)`);
    try {
      await mkdir(staging, { recursive: true });
      await assembleRootfs(staging, this.inputs);
      await rename(staging, this.rootfs);
    } catch (error) {
      await rm(staging, { recursive: true, force: true });
      throw asBuildError('dir', this.rootfs, error);
    }
    return true;
  }

  async #ensureFile(name: string, make: (out: string) => Promise<void>): Promise<{ ref: string; cached: boolean }> {
    const ref = join(this.entry, name);
    if (await exists(ref)) return { ref, cached: true };
    await this.#ensureRootfs();
    // Under the lock, a partial file of this name is what a killed build left: drop it (a SIF's is ~40 MB).
    for (const left of await readdir(this.entry).catch(() => [])) if (left.startsWith(`.${name}-`)) await rm(join(this.entry, left), { force: true });
    const partial = join(this.entry, `.${name}-${randomBytes(4).toString('hex')}`);
    try {
      await make(partial);
      await rename(partial, ref);
    } catch (error) {
      await rm(partial, { force: true });
      throw asBuildError(name, ref, error);
    }
    return { ref, cached: false };
  }

  /** Apptainer's own build where it exists (it reads the rootfs's /.singularity.d), else siftool. */
  async #buildSif(out: string, builder: SifBuilder): Promise<void> {
    if (builder.kind !== 'siftool') {
      this.progress('sif', `${builder.path} build ${out} ${this.rootfs}`);
      await execOrThrow(builder.path, ['build', '--force', out, this.rootfs], { signal: this.signal, timeoutMs: 600_000 });
      return;
    }
    await buildSifWithSiftool({
      siftool: builder.path,
      mksquashfs: builder.mksquashfs,
      rootfs: this.rootfs,
      out,
      definition: sifDefinition(this.inputs.hash),
      signal: this.signal,
      onStep: (message) => this.progress('sif', message),
    });
  }

  async #ensureDockerImage(): Promise<{ ref: string; cached: boolean }> {
    const engine = new DockerEngine(dockerEndpoint(this.env));
    const ref = `${DOCKER_IMAGE_REPOSITORY}:${this.inputs.hash}`;
    if (await engine.inspectImage(ref, { signal: this.signal })) return { ref, cached: true };
    await this.#ensureRootfs();
    const tar = join(this.entry, `.rootfs-${randomBytes(4).toString('hex')}.tar`);
    try {
      this.progress('tar', `packing ${this.rootfs}`);
      await execOrThrow('tar', ['--numeric-owner', '--owner=0', '--group=0', '-C', this.rootfs, '-cf', tar, '.'], { signal: this.signal, timeoutMs: 600_000 });
      this.progress('import', `importing into the Docker Engine as ${ref} (no registry)`);
      await engine.importImage(tar, { repo: DOCKER_IMAGE_REPOSITORY, tag: this.inputs.hash, changes: dockerChanges(this.inputs.hash) }, { signal: this.signal });
    } catch (error) {
      throw asBuildError('docker', ref, error);
    } finally {
      await rm(tar, { force: true });
    }
    return { ref, cached: false };
  }

  #checkAborted(): void {
    if (this.signal?.aborted) throw new AbortedError('Building the sandbox image', { cause: this.signal.reason });
  }
}

/** Dockerfile instructions applied by `docker import`: what a FROM-scratch Dockerfile would say. */
export function dockerChanges(hash: string): string[] {
  return [
    `ENV PATH=${DEFAULT_PATH}`,
    `ENV LANG=${DEFAULT_LANG}`,
    `WORKDIR ${IMAGE_DATA_DIR}`,
    `EXPOSE ${CONTAINER_PORT}/tcp`,
    `LABEL ${LABEL_PREFIX}.image=sandbox ${LABEL_PREFIX}.content-hash=${hash}`,
    `CMD ${JSON.stringify(['node', IMAGE_SERVER_PATH, '--host', '0.0.0.0', '--port', String(CONTAINER_PORT), '--data-dir', IMAGE_DATA_DIR])}`,
  ];
}

/** Atomically points the symbolic link `link` at `target` (relative, so the cache can move). */
async function pointLink(link: string, target: string): Promise<void> {
  const temporary = `${link}.${randomBytes(4).toString('hex')}`;
  await symlink(relative(join(link, '..'), target), temporary);
  await rename(temporary, link);
}

/** A build step's failure as `HPCSB_IMAGE_BUILD`, naming the image being made (`target`: path or tag). */
function asBuildError(what: string, target: string, error: unknown): SandboxError {
  if (error instanceof AbortedError || error instanceof UnavailableError) return error;
  const why = error instanceof Error ? error.message : String(error);
  return new SandboxError('HPCSB_IMAGE_BUILD', `Building the ${what} sandbox image ${target} failed: ${why}`, { cause: error });
}

async function exists(path: string): Promise<boolean> {
  try {
    await access(path);
    return true;
  } catch {
    return false;
  }
}

