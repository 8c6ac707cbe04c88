// Startup latency of the local scheduler, side by side with the bare runtime in the same run:
// time from place() to the first successful exec (`echo benchmark` in slot_0), sequential and in
// bursts of 8, per available driver. "Bare" runs the same launch plan with no scheduler (no alloc
// dir, no shell wrapper, no ready file, a port picked beforehand): `node <bundle>`, `ch-run ...`,
// `docker run -d ...`, each followed by the same health poll and exec. Target: our median <= 1.15x bare.
// Prints a table and writes results/startup-local-<time>.json. Run: npm run bench:startup
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { chmod, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { freePort } from '../../src/common/free-port.js';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { bench, describe, inject } from 'vitest';
import { SandboxClient } from '../../src/client/sandbox-client.js';
import { exec, execOrThrow } from '../../src/common/exec.js';
import { projectRoot } from '../../src/common/paths.js';
import { getDriver } from '../../src/drivers/index.js';
import { type DriverName, type LaunchPlan, renderPlaceholders, type SandboxSpec } from '../../src/drivers/driver.js';
import { computeStatistics } from '../../src/common/statistics.js';
import type { Statistics } from '../../src/common/statistics.js';
import { SESSION_ID_LABEL } from '../../src/drivers/labels.js';
import { sweepContainers } from '../../src/schedulers/local/container-runner.js';
import { LocalScheduler } from '../../src/schedulers/local/local-scheduler.js';

const SPEC: SandboxSpec = { slots: 1, envAllowlist: [], env: {}, isolation: 'auto' };
const BURST = 8;
const TARGET_RATIO = 1.15;
const caps = inject('capabilities');

interface Leg {
  driver: DriverName;
  image?: 'docker' | 'squashfs';
  available: boolean;
  reason?: string;
  sequential: number;
  burstRounds: number;
}
const LEGS: Leg[] = [
  { driver: 'process', available: true, sequential: 15, burstRounds: 3 },
  { driver: 'charliecloud', image: 'squashfs', available: caps.charliecloud.available && caps.squashfs.available, reason: [caps.charliecloud, caps.squashfs].map((c) => (c.available ? '' : c.reason)).join(' ').trim(), sequential: 12, burstRounds: 4 },
  { driver: 'docker', image: 'docker', available: caps.docker.available, reason: caps.docker.available ? undefined : caps.docker.reason, sequential: 10, burstRounds: 4 },
];

interface Row {
  driver: DriverName;
  mode: 'sequential' | `burst of ${number}`;
  ours: Statistics;
  bare: Statistics;
  ratio: number;
  errors: string[];
}
const rows: Row[] = [];
const sessionId = `bench-${randomUUID()}`;
const now = () => performance.timeOrigin + performance.now();

/** One startup: returns ms from launch to the first successful exec; `cleanup` is not timed. */
type Startup = () => Promise<{ ms: number; cleanup: () => Promise<void> }>;

/** `echo benchmark` in slot_0, after the health poll unless the placement already did it. */
async function firstExec(url: string, options: { poll: boolean }): Promise<void> {
  const client = new SandboxClient(url);
  try {
    if (options.poll) await client.waitUntilHealthy({ timeoutMs: 120_000 });
    const r = await client.bash('slot_0', 'echo benchmark');
    if (!r.success || !r.output.includes('benchmark')) throw new Error(`first exec on ${url} failed: ${r.error || r.output}`);
  } finally {
    await client.close();
  }
}

function oursStartup(scheduler: LocalScheduler, driver: DriverName): Startup {
  return async () => {
    const t0 = now();
    const placement = await scheduler.place({ driver: getDriver(driver), spec: SPEC, ports: { mode: 'dynamic' } });
    try {
      // The placement's own health poll (SandboxClient.waitUntilHealthy, raced with its exit).
      await placement.waitUntilHealthy({ timeoutMs: 120_000 });
      await firstExec(placement.url, { poll: false });
    } catch (error) {
      await placement.stop();
      throw error;
    }
    return { ms: now() - t0, cleanup: () => placement.stop() };
  };
}

/** The same plan with no scheduler: spawned directly (exec) or `docker run -d` (container). */
function bareStartup(plan: LaunchPlan): Startup {
  return async () => {
    const port = await freePort();
    const dataDir = await mkdtemp(join(tmpdir(), 'hpcsb-bare-'));
    const values = { port: String(port), dataDir, bindHost: '127.0.0.1' };
    const t0 = now();
    if (plan.kind === 'exec') {
      const env = Object.fromEntries(Object.entries(plan.env).map(([k, v]) => [k, renderPlaceholders(v, values)]));
      const [file, ...args] = plan.argv.map((a) => renderPlaceholders(a, values));
      const child = spawn(file!, args, { env, detached: true, stdio: 'ignore' });
      const cleanup = async () => {
        const gone = new Promise((r) => child.once('exit', r));
        try {
          process.kill(-child.pid!, 'SIGKILL');
        } catch {
          // already gone
        }
        if (child.exitCode === null && child.signalCode === null) await gone;
        await rm(dataDir, { recursive: true, force: true });
      };
      return untilFirstExec(t0, port, cleanup);
    }
    await chmod(dataDir, 0o1777);
    const render = (s: string) => renderPlaceholders(s, { ...values, port: String(plan.containerPort), bindHost: '0.0.0.0' });
    const run = await execOrThrow('docker', [
      'run', '-d', '--rm', '--entrypoint', '', '-p', `127.0.0.1:${port}:${plan.containerPort}`,
      '--label', `${SESSION_ID_LABEL}=${sessionId}`,
      ...plan.binds.flatMap((b) => ['-v', `${render(b.source)}:${b.target}${b.readOnly ? ':ro' : ''}`]),
      ...plan.securityOpts.flatMap((o) => ['--security-opt', o]),
      ...Object.entries(plan.env).flatMap(([k, v]) => ['-e', `${k}=${render(v)}`]),
      plan.image, ...plan.command.map(render),
    ]);
    const id = run.stdout.trim();
    const cleanup = async () => {
      await exec('docker', ['rm', '-f', id]);
      await rm(dataDir, { recursive: true, force: true });
    };
    return untilFirstExec(t0, port, cleanup);
  };
}

/** Waits for the bare server's first exec; its time since `t0`, or the clean-up done and the error thrown. */
async function untilFirstExec(t0: number, port: number, cleanup: () => Promise<void>): Promise<{ ms: number; cleanup: () => Promise<void> }> {
  try {
    await firstExec(`http://127.0.0.1:${port}`, { poll: true });
  } catch (error) {
    await cleanup();
    throw error;
  }
  return { ms: now() - t0, cleanup };
}

/** Who goes first alternates, so neither side always runs right after the other's clean-up. */
function order(i: number, ours: Startup, bare: Startup): Array<readonly ['ours' | 'bare', Startup]> {
  return i % 2 === 0 ? [['ours', ours], ['bare', bare]] : [['bare', bare], ['ours', ours]];
}

/** Sequential samples, ours and bare interleaved so drift on a shared machine hits both alike. */
async function sequential(ours: Startup, bare: Startup, n: number) {
  const out = { ours: [] as number[], bare: [] as number[], errors: [] as string[] };
  for (let i = 0; i < n; i++) {
    for (const [name, startup] of order(i, ours, bare)) {
      try {
        const { ms, cleanup } = await startup();
        out[name].push(ms);
        await cleanup();
      } catch (error) {
        out.errors.push(`${name}: ${(error as Error).message.split('\n')[0]}`);
      }
    }
  }
  return out;
}

/** `rounds` bursts of BURST simultaneous startups each; every startup of a burst is one sample. */
async function burst(ours: Startup, bare: Startup, rounds: number) {
  const out = { ours: [] as number[], bare: [] as number[], errors: [] as string[] };
  for (let r = 0; r < rounds; r++) {
    for (const [name, startup] of order(r, ours, bare)) {
      const results = await Promise.allSettled(Array.from({ length: BURST }, () => startup()));
      for (const result of results) {
        if (result.status === 'fulfilled') out[name].push(result.value.ms);
        else out.errors.push(`${name}: ${(result.reason as Error).message.split('\n')[0]}`);
      }
      await Promise.all(results.map((x) => (x.status === 'fulfilled' ? x.value.cleanup() : undefined)));
    }
  }
  return out;
}

function record(driver: DriverName, mode: Row['mode'], samples: { ours: number[]; bare: number[]; errors: string[] }, attempts: number): void {
  const ours = computeStatistics(samples.ours, attempts);
  const bare = computeStatistics(samples.bare, attempts);
  rows.push({ driver, mode, ours, bare, ratio: ours.median / bare.median, errors: samples.errors });
}

async function report(): Promise<void> {
  const f = (v: number) => (Number.isFinite(v) ? v.toFixed(1) : 'n/a');
  console.table(
    rows.map((r) => ({
      leg: `local x ${r.driver}`,
      mode: r.mode,
      'ours median ms': f(r.ours.median),
      'ours p95': f(r.ours.p95),
      'ours p99': f(r.ours.p99),
      'ours ok': `${(r.ours.successRate * 100).toFixed(0)}%`,
      'bare median ms': f(r.bare.median),
      'bare p95': f(r.bare.p95),
      'bare p99': f(r.bare.p99),
      'bare ok': `${(r.bare.successRate * 100).toFixed(0)}%`,
      'ours/bare': Number.isFinite(r.ratio) ? r.ratio.toFixed(2) : 'n/a',
      [`<= ${TARGET_RATIO}x`]: r.ratio <= TARGET_RATIO ? 'yes' : 'NO',
    })),
  );
  for (const r of rows) for (const e of r.errors.slice(0, 3)) console.log(`  ${r.driver} ${r.mode} error: ${e}`);
  for (const leg of LEGS.filter((l) => !l.available)) console.log(`  local x ${leg.driver} skipped: ${leg.reason}`);
  const dir = join(projectRoot(), 'results');
  await mkdir(dir, { recursive: true });
  const file = join(dir, `startup-local-${new Date().toISOString().replaceAll(':', '-')}.json`);
  const content = {
    benchmark: 'local scheduler startup (place -> first exec) vs bare runtime',
    when: new Date().toISOString(),
    node: process.version,
    cpus: cpus().length,
    targetRatio: TARGET_RATIO,
    burst: BURST,
    rows,
    skipped: LEGS.filter((l) => !l.available).map((l) => ({ driver: l.driver, reason: l.reason })),
  };
  await writeFile(file, JSON.stringify(content, null, 2));
  console.log(`saved ${file}`);
}

describe('local scheduler startup: place() -> first successful exec, vs bare runtime', () => {
  // One bench runs every leg: the figures are our own (per startup), not tinybench's per-call time.
  bench(
    `local x ${LEGS.filter((l) => l.available).map((l) => l.driver).join(' | ')}: sequential + bursts of ${BURST}, with bare`,
    async () => {
      const scheduler = new LocalScheduler({ sessionId, stopGraceMs: 2_000 });
      try {
        for (const leg of LEGS.filter((l) => l.available)) {
          if (leg.image) {
            const { ensureImage } = await import('../../src/images/index.js');
            await ensureImage(leg.image);
          }
          const plan = await getDriver(leg.driver).plan(SPEC);
          const ours = oursStartup(scheduler, leg.driver);
          const bare = bareStartup(plan);
          // Warm-up (page cache, image layers, JIT), not recorded.
          await sequential(ours, bare, 1);
          record(leg.driver, 'sequential', await sequential(ours, bare, leg.sequential), leg.sequential);
          record(leg.driver, `burst of ${BURST}`, await burst(ours, bare, leg.burstRounds), leg.burstRounds * BURST);
        }
      } finally {
        await scheduler.close();
        await sweepContainers(sessionId, { remove: true }).catch(() => undefined);
      }
      await report();
    },
    { iterations: 1, warmupIterations: 0, time: 0, warmupTime: 0 },
  );
});
