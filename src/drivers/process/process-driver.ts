import { access, constants } from 'node:fs/promises';
import { exec } from '../../common/exec.js';
import { serverBundlePath } from '../../common/paths.js';
import { PLACEHOLDERS, type Detection, type Driver, type ExecLaunchPlan, type PlanOptions, type SandboxSpec } from '../driver.js';
import { DEFAULT_LANG, DEFAULT_PATH, sandboxEnv } from '../sandbox-env.js';
import { serverArgs } from '../server-command.js';

export interface ProcessDriverOptions {
  /** The Node.js binary that runs the server. @default process.execPath */
  nodePath?: string;
  /** The bundled sandbox server. @default serverBundlePath() */
  bundlePath?: string;
}

/**
 * No container: the sandbox server runs as a plain child process of the host, with a clean
 * environment (a fixed PATH, HOME = the data dir, LANG, the allowlist and `spec.env`). Isolation
 * then rests on bwrap inside the server.
 */
export class ProcessDriver implements Driver {
  readonly name = 'process' as const;
  readonly #nodePath: string;
  readonly #bundlePath: string;

  constructor(options: ProcessDriverOptions = {}) {
    this.#nodePath = options.nodePath ?? process.execPath;
    this.#bundlePath = options.bundlePath ?? serverBundlePath();
  }

  async detect(options: { signal?: AbortSignal } = {}): Promise<Detection> {
    const details = { node: this.#nodePath, bundle: this.#bundlePath };
    if (!(await isReadable(this.#bundlePath))) {
      return { available: false, reason: `process: server bundle missing at ${this.#bundlePath} (run npm run build)`, details };
    }
    if (this.#nodePath === process.execPath) return { available: true, version: `node ${process.version}`, details };
    const r = await exec(this.#nodePath, ['--version'], { signal: options.signal, timeoutMs: 10_000 });
    if (r.exitCode !== 0) {
      return { available: false, reason: `process: ${this.#nodePath} --version failed: ${(r.stderr || r.stdout).trim()}`, details };
    }
    return { available: true, version: `node ${r.stdout.trim()}`, details };
  }

  async plan(spec: SandboxSpec, options: PlanOptions = {}): Promise<ExecLaunchPlan> {
    const hostEnv = options.hostEnv ?? process.env;
    return {
      kind: 'exec',
      driver: this.name,
      argv: [
        this.#nodePath,
        this.#bundlePath,
        ...serverArgs(spec, { host: PLACEHOLDERS.bindHost, port: PLACEHOLDERS.port, dataDir: PLACEHOLDERS.dataDir }, 'host-paths'),
      ],
      env: sandboxEnv(spec, hostEnv, { PATH: DEFAULT_PATH, HOME: PLACEHOLDERS.dataDir, LANG: DEFAULT_LANG }),
      // The server's shells and bwrap children go down with it when the group is signalled.
      processGroup: true,
    };
  }
}

async function isReadable(path: string): Promise<boolean> {
  try {
    await access(path, constants.R_OK);
    return true;
  } catch {
    return false;
  }
}
