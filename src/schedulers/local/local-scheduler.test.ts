import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Driver, ExecLaunchPlan } from '../../drivers/driver.js';
import { isSandboxError } from '../../errors.js';
import { PlacementExitedError } from '../wait-healthy.js';
import { ReadyPortMismatchError } from './errors.js';
import type { LocalPlacement } from './local-placement.js';
import { LocalScheduler, type LocalSchedulerOptions } from './local-scheduler.js';
import { isPortReserved } from '../shared/port-reservations.js';
import { processGroupMembers } from './process-runner.js';

/**
 * A stand-in server: counts its attempts in the data dir, records its environment and process
 * group, fails with Node's EADDRINUSE message for the first `$3` attempts, then writes the ready
 * file (with the port it was given, or one more in `wrong-port` mode) and waits. It is a file, not
 * an argument: an argument with `$NAME` in it would be expanded by the launch wrapper.
 */
const STAND_IN = `
n=$(( $(cat "$2/attempts" 2>/dev/null || echo 0) + 1 )); echo $n > "$2/attempts"
env > "$2/env.$n"; echo $$ > "$2/pgid.$n"
if [ "$4" = crash ]; then echo "boom: out of luck" >&2; exit 3; fi
if [ "$4" = hang ]; then exec sleep 300; fi
if [ $n -le $3 ]; then echo "Error: listen EADDRINUSE: address already in use 127.0.0.1:$1" >&2; exit 1; fi
p=$1; if [ "$4" = wrong-port ]; then p=$(( $1 + 1 )); fi
printf '{"port":%s,"host":"127.0.0.1","pid":%s}' "$p" $$ > "$2/ready.tmp" && mv "$2/ready.tmp" "$2/.hpc-sandbox-ready.json"
exec sleep 300
`;

let standInDir: string;
let standInScript: string;
beforeAll(async () => {
  standInDir = await mkdtemp(join(tmpdir(), 'hpcsb-stand-in-'));
  standInScript = join(standInDir, 'stand-in.sh');
  await writeFile(standInScript, STAND_IN);
});
afterAll(async () => {
  await rm(standInDir, { recursive: true, force: true });
});

interface StandInOptions {
  portTakenTimes?: number;
  /** `hang`: starts but never writes its ready file. */
  mode?: 'serve' | 'wrong-port' | 'crash' | 'hang';
  /** Name the data dir as `${NOMAD_ALLOC_DIR}/data`, so the launch goes through the shell wrapper. */
  viaShell?: boolean;
}

function standIn(options: StandInOptions = {}): Driver {
  const dataDir = options.viaShell ? '${NOMAD_ALLOC_DIR}/data' : '{{dataDir}}';
  const plan: ExecLaunchPlan = {
    kind: 'exec',
    driver: 'process',
    argv: ['/bin/sh', standInScript, '{{port}}', dataDir, String(options.portTakenTimes ?? 0), options.mode ?? 'serve'],
    env: { PATH: '/usr/bin:/bin', X: '{{port}}', SELF: 'http://{{bindHost}}:{{port}}' },
    processGroup: true,
  };
  return { name: 'process', detect: async () => ({ available: true }), plan: async () => plan };
}

const SPEC = { slots: 1, envAllowlist: [], env: {}, isolation: 'off' as const };

const dirs: string[] = [];
const schedulers: LocalScheduler[] = [];
afterEach(async () => {
  await Promise.all(schedulers.splice(0).map((s) => s.close()));
  await Promise.all(dirs.splice(0).map((d) => rm(d, { recursive: true, force: true })));
});

async function newScheduler(options: LocalSchedulerOptions = {}): Promise<{ scheduler: LocalScheduler; baseDir: string }> {
  const baseDir = await mkdtemp(join(tmpdir(), 'hpcsb-local-sched-'));
  dirs.push(baseDir);
  const scheduler = new LocalScheduler({ baseDir, exitHook: false, stopGraceMs: 500, readyTimeoutMs: 10_000, ...options });
  schedulers.push(scheduler);
  return { scheduler, baseDir };
}

function parseEnv(text: string): Record<string, string> {
  return Object.fromEntries(text.trimEnd().split('\n').map((line) => [line.slice(0, line.indexOf('=')), line.slice(line.indexOf('=') + 1)]));
}

/** What each attempt of the stand-in recorded in the one alloc dir kept under `baseDir`. */
async function attemptsIn(baseDir: string): Promise<Array<{ env: Record<string, string>; pgid: number }>> {
  const [alloc] = await readdir(baseDir);
  const data = join(baseDir, alloc!, 'alloc', 'data');
  const count = Number(await readFile(join(data, 'attempts'), 'utf8'));
  const attempts = [];
  for (let n = 1; n <= count; n++) {
    attempts.push({ env: parseEnv(await readFile(join(data, `env.${n}`), 'utf8')), pgid: Number(await readFile(join(data, `pgid.${n}`), 'utf8')) });
  }
  return attempts;
}

describe('LocalScheduler, exec plan with a dynamic port', () => {
  it.each([
    { launch: 'directly', viaShell: false },
    { launch: 'through the shell wrapper', viaShell: true },
  ])('picks the port itself and passes that number wherever {{port}} appears ($launch); releases it on stop', async ({ viaShell }) => {
    const { scheduler, baseDir } = await newScheduler();
    // The stand-in writes the port it got as an argument to its ready file, which must match.
    const placement = (await scheduler.place({ driver: standIn({ viaShell }), spec: SPEC, ports: { mode: 'dynamic' } })) as LocalPlacement;
    const port = placement.port;
    const [attempt] = await attemptsIn(baseDir);
    expect(port).toBeGreaterThan(0);
    expect(attempt!.env).toMatchObject({
      X: String(port),
      SELF: `http://127.0.0.1:${port}`,
      HPC_SANDBOX_PORT: String(port),
      NOMAD_PORT_http: String(port),
      NOMAD_HOST_PORT_http: String(port),
      NOMAD_ADDR_http: `127.0.0.1:${port}`,
    });
    expect(isPortReserved(port)).toBe(true);
    await placement.stop();
    expect(isPortReserved(port)).toBe(false);
    expect(processGroupMembers(attempt!.pgid)).toEqual([]);
  });

  it('starts the server again on a new port when another process took the port first, and says so in events', async () => {
    const { scheduler, baseDir } = await newScheduler();
    const placement = (await scheduler.place({ driver: standIn({ portTakenTimes: 2 }), spec: SPEC, ports: { mode: 'dynamic' } })) as LocalPlacement;
    const attempts = await attemptsIn(baseDir);
    const ports = attempts.map((a) => Number(a.env.X));
    expect(attempts).toHaveLength(3);
    expect(new Set(ports).size).toBe(3);
    expect(placement.port).toBe(ports[2]);
    expect(placement.events.filter((e) => e.type === 'port-taken').map((e) => e.message)).toEqual([
      expect.stringMatching(new RegExp(`^port ${ports[0]} was taken by another process before the server listened \\(exited with code 1, EADDRINUSE\\); attempt 2 of 3 with a new port$`)),
      expect.stringMatching(new RegExp(`^port ${ports[1]} was taken .*; attempt 3 of 3 with a new port$`)),
    ]);
    // Only the port in use stays reserved; the failed attempts left no process behind.
    expect(ports.map(isPortReserved)).toEqual([false, false, true]);
    expect(attempts.slice(0, 2).map((a) => processGroupMembers(a.pgid))).toEqual([[], []]);
    // The log keeps every attempt's output.
    expect((await placement.logs()).stderr.match(/EADDRINUSE/g)).toHaveLength(2);
    await placement.stop();
    expect(isPortReserved(placement.port)).toBe(false);
  });

  it('gives up after 3 attempts whose ports were all taken, naming them, and leaves nothing behind', async () => {
    const { scheduler, baseDir } = await newScheduler({ keepAllocDir: true });
    const error = await scheduler.place({ driver: standIn({ portTakenTimes: 3 }), spec: SPEC, ports: { mode: 'dynamic' } }).catch((e: unknown) => e);
    const attempts = await attemptsIn(baseDir);
    const ports = attempts.map((a) => Number(a.env.X));
    expect(error).toBeInstanceOf(PlacementExitedError);
    expect((error as Error).message).toContain(
      `ended before it listened: ports ${ports.join(', ')} were each taken by another process first (EADDRINUSE, 3 attempts): exited with code 1`,
    );
    expect(ports.map(isPortReserved)).toEqual([false, false, false]);
    expect(attempts.map((a) => processGroupMembers(a.pgid))).toEqual([[], [], []]);
  });

  it('does not retry a server that fails for another reason', async () => {
    const { scheduler, baseDir } = await newScheduler({ keepAllocDir: true });
    const error = await scheduler.place({ driver: standIn({ mode: 'crash' }), spec: SPEC, ports: { mode: 'dynamic' } }).catch((e: unknown) => e);
    const attempts = await attemptsIn(baseDir);
    expect(attempts).toHaveLength(1);
    expect(error).toBeInstanceOf(PlacementExitedError);
    expect((error as Error).message).toMatch(
      new RegExp(`ended before it wrote its ready file \\(port ${attempts[0]!.env.X}\\): exited with code 3\\nlast lines of stderr:\\nboom: out of luck`),
    );
    expect(isPortReserved(Number(attempts[0]!.env.X))).toBe(false);
  });

  it('refuses a server that listens on another port than the chosen one, and stops it', async () => {
    const { scheduler, baseDir } = await newScheduler({ keepAllocDir: true });
    const error = await scheduler.place({ driver: standIn({ mode: 'wrong-port' }), spec: SPEC, ports: { mode: 'dynamic' } }).catch((e: unknown) => e);
    const [attempt] = await attemptsIn(baseDir);
    const chosen = Number(attempt!.env.X);
    expect(error).toBeInstanceOf(ReadyPortMismatchError);
    expect((error as Error).message).toMatch(
      new RegExp(`^Sandbox \\S+ listens on port ${chosen + 1} \\(\\S+/\\.hpc-sandbox-ready\\.json\\), but the scheduler chose port ${chosen} for it and passed that wherever the plan has \\{\\{port\\}\\}`),
    );
    expect(processGroupMembers(attempt!.pgid)).toEqual([]);
    expect(isPortReserved(chosen)).toBe(false);
  });

  it('close() during a placement stops the server still starting and removes its alloc dir', async () => {
    const { scheduler, baseDir } = await newScheduler();
    const placing = scheduler.place({ driver: standIn({ mode: 'hang' }), spec: SPEC, ports: { mode: 'dynamic' } });
    const outcome = placing.then(
      () => 'placed',
      (e: unknown) => e,
    );
    // The stand-in has started once it has recorded its process group (attemptsIn throws before).
    let attempt: { env: Record<string, string>; pgid: number } | undefined;
    for (let i = 0; i < 400 && !(attempt && attempt.pgid > 0); i++) {
      await new Promise((r) => setTimeout(r, 25));
      [attempt] = await attemptsIn(baseDir).catch(() => []);
    }
    expect(attempt, 'the stand-in never started').toBeDefined();
    expect(processGroupMembers(attempt!.pgid)).not.toEqual([]);
    await scheduler.close();
    const error = await outcome;
    expect(error).toBeInstanceOf(Error);
    expect((error as Error).message).toMatch(/abort|closed/i);
    expect(processGroupMembers(attempt!.pgid)).toEqual([]);
    expect(isPortReserved(Number(attempt!.env.X))).toBe(false);
    expect(await readdir(baseDir)).toEqual([]);
  });

  it('gives no placement to a caller whose signal aborted while a static-port server started, and leaves nothing behind', async () => {
    const { scheduler, baseDir } = await newScheduler();
    const controller = new AbortController();
    controller.abort(new Error('caller gave up'));
    const free = createServer();
    await new Promise<void>((r) => free.listen(0, '127.0.0.1', r));
    const port = (free.address() as { port: number }).port;
    await new Promise((r) => free.close(r));
    const error = await scheduler
      .place({ driver: standIn(), spec: SPEC, ports: { mode: 'static', port }, signal: controller.signal })
      .catch((e: unknown) => e);
    expect(error).toSatisfy((e) => isSandboxError(e, 'HPCSB_ABORTED'));
    expect((error as Error).message).toMatch(/^Placing \S+ \(driver process\) was aborted$/);
    expect(scheduler.placements).toEqual([]);
    expect(await readdir(baseDir)).toEqual([]);
  });
});
