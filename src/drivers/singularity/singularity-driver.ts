import { readlink, stat } from 'node:fs/promises';
import { exec } from '../../common/exec.js';
import { cacheDir } from '../../common/paths.js';
import { which } from '../../common/which.js';
import { ConfigError } from '../../errors.js';
import { defaultImageRef } from '../../images/image-format.js';
import { PLACEHOLDERS, type Detection, type Driver, type ExecLaunchPlan, type PlanOptions, type SandboxSpec } from '../driver.js';
import { DEFAULT_LANG, DEFAULT_PATH, sandboxEnv } from '../sandbox-env.js';
import { exposeBinds, HOST_NETWORK_IN_IMAGE, IMAGE_DATA_DIR, IMAGE_SERVER_PATH, serverArgs } from '../server-command.js';

/** The two names the runtime goes by; Apptainer is preferred (it also honours `SINGULARITYENV_`). */
export type SingularityBinary = 'apptainer' | 'singularity';

export interface SingularityDriverOptions {
  /** Where `apptainer`/`singularity` are looked up (its PATH) and the cache dir is read. @default process.env */
  env?: NodeJS.ProcessEnv;
  /**
   * The SIF run when the spec names none: on a cluster, the copy on the shared file system a site
   * profile points at. @default `<cache>/images/hpc-sandbox.sif` (what `image build --format sif` links)
   */
  image?: string;
}

/**
 * The sandbox server in an Apptainer (or SingularityCE) container, run in the foreground with
 * `exec` so the scheduler owns the process:
 * - `--containall` gives private /tmp, /dev, HOME, PID and IPC namespaces, and implies `--cleanenv`
 *   (spelled out anyway: Apptainer forwards the whole host environment without it);
 * - no `--net`: the host network, so the server binds the scheduler's port directly;
 * - variables cross only as `APPTAINERENV_<NAME>` (`SINGULARITYENV_` for `singularity`) in the
 *   launcher's environment.
 */
export class SingularityDriver implements Driver {
  readonly name = 'singularity' as const;
  readonly #env: NodeJS.ProcessEnv;
  readonly #image: string | undefined;

  constructor(options: SingularityDriverOptions = {}) {
    this.#env = options.env ?? process.env;
    this.#image = options.image;
  }

  /** The SIF a leg runs when its spec names none. */
  get defaultImage(): string {
    return this.#image ?? defaultImageRef('sif', cacheDir(this.#env));
  }

  /** `apptainer` if on PATH, else `singularity`, else undefined. */
  async findBinary(env: NodeJS.ProcessEnv = this.#env): Promise<{ name: SingularityBinary; path: string } | undefined> {
    for (const name of ['apptainer', 'singularity'] as const) {
      const path = await which(name, env);
      if (path) return { name, path };
    }
    return undefined;
  }

  /**
   * Names the SIF this driver would run, also when it cannot run here, so a skipped singularity
   * leg says which file an operator should copy to the cluster (`details.image`, `details.imageState`).
   */
  async detect(options: { signal?: AbortSignal } = {}): Promise<Detection> {
    const image = { image: this.defaultImage, imageState: await describeSif(this.defaultImage) };
    const binary = await this.findBinary();
    if (!binary) return { available: false, reason: `apptainer: not on PATH (nor singularity); it would run the SIF ${image.image} (${image.imageState})`, details: image };
    const details = { binary: binary.path, ...image };
    const r = await exec(binary.path, ['--version'], { signal: options.signal, timeoutMs: 10_000 });
    if (r.exitCode !== 0) {
      return { available: false, reason: `${binary.name}: ${binary.path} --version failed: ${(r.stderr || r.stdout).trim()}`, details };
    }
    return { available: true, version: r.stdout.trim(), details };
  }

  async plan(spec: SandboxSpec, options: PlanOptions = {}): Promise<ExecLaunchPlan> {
    const hostEnv = options.hostEnv ?? process.env;
    // Launch with the name, not this machine's path: a Nomad or Slurm node finds its own on PATH.
    const binary = (await this.findBinary(hostEnv))?.name ?? 'apptainer';
    const prefix = binary === 'apptainer' ? 'APPTAINERENV_' : 'SINGULARITYENV_';
    // --cleanenv resets LANG to C. HOME is Apptainer's to set: it refuses APPTAINERENV_HOME.
    const inside = sandboxEnv(spec, hostEnv, { LANG: DEFAULT_LANG });
    if ('HOME' in inside) {
      throw new ConfigError(
        `singularity: cannot set HOME inside the container (Apptainer refuses ${prefix}HOME); remove HOME from the sandbox \`env\` and \`envAllowlist\``,
      );
    }
    const launcherEnv: Record<string, string> = { PATH: hostEnv.PATH ?? DEFAULT_PATH, LANG: DEFAULT_LANG };
    // Apptainer reads its user configuration (~/.apptainer) through these; they do not enter the container.
    if (hostEnv.HOME) launcherEnv.HOME = hostEnv.HOME;
    if (hostEnv.USER) launcherEnv.USER = hostEnv.USER;
    for (const [name, value] of Object.entries(inside)) launcherEnv[prefix + name] = value;
    return {
      kind: 'exec',
      driver: this.name,
      argv: [
        binary,
        'exec',
        '--containall',
        '--cleanenv',
        '--bind',
        `${PLACEHOLDERS.dataDir}:${IMAGE_DATA_DIR}`,
        ...exposeBinds(spec).flatMap((bind) => ['--bind', `${bind.source}:${bind.target}:${bind.readOnly ? 'ro' : 'rw'}`]),
        '--pwd',
        IMAGE_DATA_DIR,
        spec.image ?? this.#image ?? defaultImageRef('sif'),
        'node',
        IMAGE_SERVER_PATH,
        ...serverArgs(spec, HOST_NETWORK_IN_IMAGE),
      ],
      env: launcherEnv,
      // The starter and the payload are separate processes: stop them together.
      processGroup: true,
    };
  }
}

/** `built: <target>` (a link is followed one step, as the cache's stable link is), or how to build it. */
async function describeSif(path: string): Promise<string> {
  const info = await stat(path).catch(() => undefined);
  if (!info?.isFile()) return 'not built here: hpc-sandbox image build --format sif';
  const target = await readlink(path).catch(() => undefined);
  const size = `${Math.round(info.size / 1_048_576)} MB`;
  return target ? `built: ${target}, ${size}` : `present, ${size}`;
}
