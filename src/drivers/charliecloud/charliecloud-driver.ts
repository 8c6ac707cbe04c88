import { access, constants, stat } from 'node:fs/promises';
import { userInfo } from 'node:os';
import { join } from 'node:path';
import { exec } from '../../common/exec.js';
import { which } from '../../common/which.js';
import { ConfigError } from '../../errors.js';
import { defaultImageRef } from '../../images/image-format.js';
import { PLACEHOLDERS, type Detection, type Driver, type ExecLaunchPlan, type PlanOptions, type SandboxSpec } from '../driver.js';
import { DEFAULT_LANG, DEFAULT_PATH, sandboxEnv } from '../sandbox-env.js';
import { exposeBinds, HOST_NETWORK_IN_IMAGE, IMAGE_DATA_DIR, IMAGE_SERVER_PATH, serverArgs } from '../server-command.js';

export interface CharliecloudDriverOptions {
  /** Where `ch-run` is looked up and USER is read. @default process.env */
  env?: NodeJS.ProcessEnv;
}

/**
 * The sandbox server under Charliecloud's `ch-run`, on a SquashFS file (the default image) or a
 * directory image, in the host network. What the flags are for:
 * - `--env-no-expand --unset-env=*` then one `--set-env=K=V` per variable: ch-run passes the whole
 *   host environment otherwise, and expands `$X` in values unless told not to;
 * - `-t`: a private /tmp instead of the host's; `-b {{dataDir}}:/data`: ch-run takes no bind
 *   options and needs /data to exist in the image (ours has it); `-c /data`: the default is `/`.
 * ch-run refuses to start without USER, so the launcher environment always has it. On SquashFS
 * ch-run forks (FUSE parent + server child): the plan asks for a process group.
 */
export class CharliecloudDriver implements Driver {
  readonly name = 'charliecloud' as const;
  readonly #env: NodeJS.ProcessEnv;

  constructor(options: CharliecloudDriverOptions = {}) {
    this.#env = options.env ?? process.env;
  }

  async detect(options: { signal?: AbortSignal } = {}): Promise<Detection> {
    const chRun = await which('ch-run', this.#env);
    if (!chRun) return { available: false, reason: 'ch-run: not on PATH (apt-get install charliecloud-runtime)' };
    const details: Record<string, string> = { binary: chRun };
    const env = { PATH: this.#env.PATH ?? DEFAULT_PATH, USER: launcherUser(this.#env) };
    const version = await exec(chRun, ['--version'], { signal: options.signal, timeoutMs: 10_000, env, cleanEnv: true });
    if (version.exitCode !== 0) {
      return { available: false, reason: `ch-run: ${chRun} --version failed: ${(version.stderr || version.stdout).trim()}`, details };
    }
    const checkns = await which('ch-checkns', this.#env);
    if (checkns) {
      const r = await exec(checkns, [], { signal: options.signal, timeoutMs: 10_000, env, cleanEnv: true });
      if (r.exitCode !== 0) {
        return { available: false, reason: `ch-run: unprivileged user namespaces unusable (ch-checkns: ${(r.stderr || r.stdout).trim()})`, details };
      }
    }
    details.squashfs = await squashfsSupport(chRun, options.signal);
    return { available: true, version: `ch-run ${(version.stdout + version.stderr).trim()}`, details };
  }

  async plan(spec: SandboxSpec, options: PlanOptions = {}): Promise<ExecLaunchPlan> {
    const hostEnv = options.hostEnv ?? process.env;
    const image = spec.image ?? defaultImageRef('squashfs');
    await assertDataDirInDirectoryImage(image);
    const inside = sandboxEnv(spec, hostEnv, { PATH: DEFAULT_PATH, HOME: '/tmp', LANG: DEFAULT_LANG });
    return {
      kind: 'exec',
      driver: this.name,
      argv: [
        'ch-run',
        '--env-no-expand',
        '--unset-env=*',
        ...Object.entries(inside).map(([name, value]) => `--set-env=${name}=${protectQuotes(value)}`),
        '-t',
        '-b',
        `${PLACEHOLDERS.dataDir}:${IMAGE_DATA_DIR}`,
        ...exposeBinds(spec).flatMap((bind) => ['-b', `${bind.source}:${bind.target}`]),
        '-c',
        IMAGE_DATA_DIR,
        image,
        '--',
        'node',
        IMAGE_SERVER_PATH,
        ...serverArgs(spec, HOST_NETWORK_IN_IMAGE),
      ],
      env: { PATH: hostEnv.PATH ?? DEFAULT_PATH, USER: launcherUser(hostEnv), LANG: DEFAULT_LANG },
      processGroup: true,
    };
  }
}

function launcherUser(env: NodeJS.ProcessEnv): string {
  return env.USER || userInfo().username;
}

/** ch-run strips one pair of single quotes around a --set-env value; add a pair so it strips ours. */
function protectQuotes(value: string): string {
  return value.length >= 2 && value.startsWith("'") && value.endsWith("'") ? `'${value}'` : value;
}

/** A local directory image without /data would fail at launch with `can't bind: destination not found`. */
async function assertDataDirInDirectoryImage(image: string): Promise<void> {
  const info = await stat(image).catch(() => undefined);
  if (!info?.isDirectory()) return;
  try {
    await access(join(image, IMAGE_DATA_DIR), constants.F_OK);
  } catch {
    throw new ConfigError(
      `charliecloud: directory image ${image} has no ${IMAGE_DATA_DIR} (ch-run binds the data dir there and cannot create it in a read-only image); add the directory or build one with \`hpc-sandbox image build --format dir\``,
    );
  }
}

/** ch-run mounts SquashFS itself only when linked with libsquashfuse (Debian's is). */
async function squashfsSupport(chRun: string, signal?: AbortSignal): Promise<string> {
  const r = await exec('ldd', [chRun], { signal, timeoutMs: 10_000 });
  if (!/libsquashfuse/.test(r.stdout)) return 'no: ch-run is not linked with libsquashfuse; use a directory image';
  try {
    await access('/dev/fuse', constants.R_OK | constants.W_OK);
    return 'yes';
  } catch {
    return 'no: /dev/fuse is not readable and writable by this user; use a directory image';
  }
}
