import { spawn } from 'node:child_process';
import { mkdtemp, open, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { exec, execOrThrow } from '../../common/exec.js';
import { renderPlaceholders, type ContainerLaunchPlan, type ExecLaunchPlan } from '../driver.js';

/** The sandbox server's answer to GET /health (the fields the smoke tests look at). */
export interface Health {
  status: string;
  slots: number;
  bwrap_available: boolean;
  isolation?: { active?: boolean; reason?: string | null };
}

/** A server started straight from a launch plan, for driver and image smoke tests (not a scheduler). */
export interface StartedPlan {
  url: string;
  dataDir: string;
  health(signal?: AbortSignal): Promise<Health>;
  /** Stops it and removes what it left; returns what a check for leftovers found (empty: nothing). */
  stop(): Promise<string[]>;
  logs(): Promise<string>;
}

const READY_FILE = '.hpc-sandbox-ready.json';

/**
 * Runs an exec plan on loopback with port 0 (the server picks one and writes it to its ready file),
 * as the process group the plan asks for.
 */
export async function startExecPlan(plan: ExecLaunchPlan, signal?: AbortSignal): Promise<StartedPlan> {
  const dataDir = await mkdtemp(join(tmpdir(), 'hpcsb-plan-'));
  const values = { port: '0', dataDir, bindHost: '127.0.0.1' };
  const argv = plan.argv.map((a) => renderPlaceholders(a, values));
  const env = Object.fromEntries(Object.entries(plan.env).map(([k, v]) => [k, renderPlaceholders(v, values)]));
  const logPath = `${dataDir}.log`;
  const log = await open(logPath, 'w');
  const child = spawn(argv[0]!, argv.slice(1), { env, detached: plan.processGroup, stdio: ['ignore', log.fd, log.fd] });
  await log.close();
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const pgid = child.pid!;
  const groupAlive = () => {
    try {
      process.kill(plan.processGroup ? -pgid : pgid, 0);
      return true;
    } catch {
      return false;
    }
  };
  const stop = async (): Promise<string[]> => {
    if (groupAlive()) process.kill(plan.processGroup ? -pgid : pgid, 'SIGTERM');
    for (let i = 0; i < 50 && groupAlive(); i++) await sleep(100);
    if (groupAlive()) process.kill(plan.processGroup ? -pgid : pgid, 'SIGKILL');
    await Promise.race([exited, sleep(5_000)]);
    const left = groupAlive() ? [`process group ${pgid}`] : [];
    await rm(dataDir, { recursive: true, force: true });
    await rm(logPath, { force: true });
    return left;
  };
  try {
    const ready = await waitForReadyFile(dataDir, () => readFile(logPath, 'utf8'), signal, () =>
      child.exitCode !== null || child.signalCode !== null ? `exited (${child.exitCode ?? child.signalCode})` : undefined,
    );
    const url = `http://127.0.0.1:${ready.port}`;
    return { url, dataDir, health: (s) => getHealth(url, s), stop, logs: () => readFile(logPath, 'utf8') };
  } catch (error) {
    await stop();
    throw error;
  }
}

/**
 * Runs a container plan with the docker CLI (as `docker run` would be written by hand from the
 * plan), the container port published on 127.0.0.1. `testLabel` marks it for the leftover check.
 */
export async function startContainerPlan(plan: ContainerLaunchPlan, testLabel: string, signal?: AbortSignal): Promise<StartedPlan> {
  const dataDir = await mkdtemp(join(tmpdir(), 'hpcsb-plan-'));
  const values = { port: String(plan.containerPort), dataDir, bindHost: '0.0.0.0' };
  const args = ['run', '-d', '--label', testLabel, '-p', `127.0.0.1::${plan.containerPort}`, '--entrypoint', plan.command[0]!];
  for (const opt of plan.securityOpts) args.push('--security-opt', opt);
  for (const [k, v] of Object.entries(plan.labels)) args.push('--label', `${k}=${v}`);
  for (const [k, v] of Object.entries(plan.env)) args.push('-e', `${k}=${renderPlaceholders(v, values)}`);
  for (const b of plan.binds) args.push('-v', `${renderPlaceholders(b.source, values)}:${b.target}${b.readOnly ? ':ro' : ''}`);
  args.push(plan.image, ...plan.command.slice(1));
  const id = (await execOrThrow('docker', args, { signal, timeoutMs: 60_000 })).stdout.trim();
  const stop = async (): Promise<string[]> => {
    await exec('docker', ['rm', '-f', '-v', id], { timeoutMs: 60_000 });
    const left = (await exec('docker', ['ps', '-aq', '--filter', `label=${testLabel}`])).stdout.trim();
    await rm(dataDir, { recursive: true, force: true });
    return left ? left.split('\n') : [];
  };
  try {
    const mapped = (await execOrThrow('docker', ['port', id, `${plan.containerPort}/tcp`], { signal })).stdout.trim().split('\n')[0]!;
    const url = `http://127.0.0.1:${mapped.split(':').pop()}`;
    const logs = async () => {
      const r = await exec('docker', ['logs', id]);
      return r.stdout + r.stderr;
    };
    await waitForReadyFile(dataDir, logs, signal);
    return { url, dataDir, health: (s) => getHealth(url, s), stop, logs };
  } catch (error) {
    await stop();
    throw error;
  }
}

async function waitForReadyFile(
  dataDir: string,
  logs: () => Promise<string>,
  signal?: AbortSignal,
  gone: () => string | undefined = () => undefined,
): Promise<{ port: number }> {
  for (let attempt = 0; attempt < 300; attempt++) {
    signal?.throwIfAborted();
    const ended = gone();
    if (ended) throw new Error(`The server ${ended} before writing ${READY_FILE}; output:\n${await logs().catch(() => '(none)')}`);
    const text = await readFile(join(dataDir, READY_FILE), 'utf8').catch(() => undefined);
    if (text) return JSON.parse(text) as { port: number };
    await sleep(100);
  }
  throw new Error(`No ${READY_FILE} in ${dataDir} after 30 s; server output:\n${await logs().catch(() => '(none)')}`);
}

async function getHealth(url: string, signal?: AbortSignal): Promise<Health> {
  const response = await fetch(`${url}/health`, { signal: signal ?? AbortSignal.timeout(10_000) });
  if (!response.ok) throw new Error(`GET ${url}/health answered ${response.status}: ${await response.text()}`);
  return (await response.json()) as Health;
}
