import { spawn } from 'node:child_process';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { freePort } from '../../common/free-port.js';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SandboxClient } from '../../client/sandbox-client.js';
import { exec, execOrThrow } from '../../common/exec.js';
import { logger } from '../../common/logger.js';
import { type ContainerLaunchPlan, type ExecLaunchPlan, type LaunchPlan, renderPlaceholders } from '../../drivers/driver.js';
import { LABEL_PREFIX, SESSION_ID_LABEL, sessionId } from '../../drivers/labels.js';
import { slotId } from '../../protocol/slot-id.js';
import type { StartupSample } from '../results.js';
import type { LegTarget } from './benchmark-leg.js';
import { FIRST_EXEC_COMMAND } from './first-exec.js';
import { describeError, preciseNow } from './startup-sample.js';

const log = logger('bench:bare');

/** Label on every container a bare start creates, so a leftover is recognisable as ours. */
export const BARE_LABEL = `${LABEL_PREFIX}.bench-bare`;

/**
 * The bare runtime of a leg: the same server started by the runtime itself, with nothing of ours
 * in between (no scheduler, no alloc dir, no shell wrapper, no ready file, a port chosen
 * beforehand), timed the same way: launch -> started -> /health OK -> first `echo benchmark`.
 */
export interface BareRuntime {
  /** What was started, for reports: `node dist/sandbox-server.mjs`, `docker run`, `ch-run`. */
  label: string;
  /** One bare start; never throws but on abort of `signal`. */
  sample(signal: AbortSignal | undefined): Promise<StartupSample>;
}

/**
 * The bare runtime for `target`, or the reason there is none. Local legs start the driver's own
 * launch plan directly: an exec plan (process, charliecloud, singularity) is spawned as is, a
 * container plan (docker, podman) is `docker run -d` / `podman run -d` of the same image,
 * command, binds and security options. Slurm and Nomad legs have no baseline yet: their series
 * are reported without an overhead figure, and the reason is recorded.
 */
export async function bareRuntimeFor(target: LegTarget): Promise<BareRuntime | { unavailable: string }> {
  if (target.leg.scheduler !== 'local') {
    return { unavailable: `no bare baseline for ${target.leg.scheduler} legs yet (only local legs have one)` };
  }
  const plan = await target.driver.plan(target.spec);
  const timeoutMs = target.healthTimeoutMs;
  const token = target.spec.token;
  if (plan.kind === 'exec') {
    return { label: describeExec(plan), sample: (signal) => timeBare((port, dataDir) => spawnExec(plan, port, dataDir), { timeoutMs, token, signal }) };
  }
  return {
    label: `${plan.driver === 'podman' ? 'podman' : 'docker'} run ${plan.image}`,
    sample: (signal) => timeBare((port, dataDir) => runContainer(plan, port, dataDir, signal), { timeoutMs, token, signal }),
  };
}

/** A started bare server: stop() kills it and removes what it made. */
interface BareServer {
  stop(): Promise<void>;
}

/**
 * Times one bare start: a free port and data dir are picked before the clock starts (our
 * scheduler's port reservation is inside the clock, which is part of what it costs), then
 * launch -> started (`placedMs`) -> /health OK -> first successful exec. Always stopped after.
 */
async function timeBare(
  launch: (port: number, dataDir: string) => Promise<BareServer>,
  options: { timeoutMs: number; token?: string; signal: AbortSignal | undefined },
): Promise<StartupSample> {
  const deadline = AbortSignal.timeout(options.timeoutMs);
  const signal = options.signal ? AbortSignal.any([options.signal, deadline]) : deadline;
  const port = await freePort();
  const dataDir = await mkdtemp(join(tmpdir(), 'hpcsb-bare-'));
  const sample: StartupSample = { ok: false };
  let server: BareServer | undefined;
  const client = new SandboxClient(`http://127.0.0.1:${port}`, { token: options.token });
  const origin = preciseNow();
  try {
    server = await launch(port, dataDir);
    sample.placedMs = preciseNow() - origin;
    await client.waitUntilHealthy({ timeoutMs: options.timeoutMs, signal });
    sample.healthyMs = preciseNow() - origin;
    for (;;) {
      const answer = await client.bash(slotId(0), FIRST_EXEC_COMMAND, { signal }).catch((error: unknown) => {
        if (signal.aborted) throw error;
        return undefined;
      });
      if (answer?.success && answer.output.includes('benchmark')) break;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    sample.firstExecMs = preciseNow() - origin;
    sample.ok = true;
  } catch (error) {
    if (options.signal?.aborted) throw error;
    sample.error = deadline.aborted ? `bare: no successful exec within ${options.timeoutMs} ms (${describeError(error)})` : `bare: ${describeError(error)}`;
    log('bare start failed: %s', sample.error);
  } finally {
    await client.close().catch(() => undefined);
    await server?.stop().catch((error: unknown) => log('bare stop failed: %s', describeError(error)));
    await rm(dataDir, { recursive: true, force: true }).catch(() => undefined);
  }
  return sample;
}

async function spawnExec(plan: ExecLaunchPlan, port: number, dataDir: string): Promise<BareServer> {
  const values = { port: String(port), dataDir, bindHost: '127.0.0.1' };
  const env = Object.fromEntries(Object.entries(plan.env).map(([k, v]) => [k, renderPlaceholders(v, values)]));
  const [file, ...args] = plan.argv.map((a) => renderPlaceholders(a, values));
  const child = spawn(file!, args, { env, detached: true, stdio: 'ignore' });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  await new Promise<void>((resolve, reject) => {
    child.once('spawn', resolve);
    child.once('error', reject);
  });
  return {
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      try {
        process.kill(-child.pid!, 'SIGKILL'); // the whole group: ch-run on SquashFS forks
      } catch {
        child.kill('SIGKILL');
      }
      await exited;
    },
  };
}

async function runContainer(plan: ContainerLaunchPlan, port: number, dataDir: string, signal: AbortSignal | undefined): Promise<BareServer> {
  const engine = plan.driver === 'podman' ? 'podman' : 'docker';
  await chmod(dataDir, 0o1777); // the server may run as another uid inside the image
  const values = { port: String(plan.containerPort), dataDir, bindHost: '0.0.0.0' };
  const render = (s: string) => renderPlaceholders(s, values);
  const result = await execOrThrow(
    engine,
    [
      'run', '-d', '--rm', '--entrypoint', '', '-p', `127.0.0.1:${port}:${plan.containerPort}`,
      '--label', `${SESSION_ID_LABEL}=${sessionId()}`, '--label', `${BARE_LABEL}=1`,
      ...Object.entries(plan.labels).flatMap(([k, v]) => ['--label', `${k}=${v}`]),
      ...plan.binds.flatMap((b) => ['-v', `${render(b.source)}:${b.target}${b.readOnly ? ':ro' : ''}`]),
      ...plan.securityOpts.flatMap((o) => ['--security-opt', o]),
      ...Object.entries(plan.env).flatMap(([k, v]) => ['-e', `${k}=${render(v)}`]),
      plan.image,
      ...plan.command.map(render),
    ],
    { signal },
  );
  const id = result.stdout.trim();
  return {
    async stop() {
      await exec(engine, ['rm', '-f', id]);
    },
  };
}

function describeExec(plan: LaunchPlan & { kind: 'exec' }): string {
  const program = plan.argv[0]?.split('/').pop() ?? '?';
  const bundle = plan.argv.find((a) => a.endsWith('.mjs'))?.split('/').slice(-2).join('/');
  return bundle ? `${program} ${bundle}` : program;
}

