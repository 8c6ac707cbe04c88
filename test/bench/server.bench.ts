/**
 * Sandbox server benchmarks, each side by side with its baseline in one run:
 * - exec round trip of `bash true` through the server in both exec modes (standing sandbox per
 *   slot, sandbox per command) vs a bare bwrap spawn with the reference server's argv and vs
 *   `sh -c true` without a sandbox (target, standing: median <= max(0.5x bare bwrap, 3x sh -c
 *   true), P95 <= 2x its median), and vs the server's own bwrap argv spawned directly from Node;
 * - 8 slots busy in both modes (target: standing throughput >= 2x spawn);
 * - RSS of the server plus its sandboxes with 8 and 64 idle slots (standing mode);
 * - boot to the first healthy /health vs `node -e 0` (target: <= 1.3x);
 * - 8 slots busy at once vs 8 direct sandboxes at once;
 * - a 90 KB write_file + read_file round trip vs fs in process;
 * - `bash_stateful true` (the slot's terminal session) vs `bash true` (target: median <= 2x).
 * Ratios against the targets come from paired samples (server and baseline back to back,
 * alternating), which a shared, loaded machine skews far less than separate task phases.
 * vitest prints its own table; this file also prints median/P95 and the ratios, and writes them
 * to results/server-bench.json. Run: npm run bench:server
 */
import { spawn } from 'node:child_process';
import { readFileSync, watch, type FSWatcher } from 'node:fs';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, bench, describe } from 'vitest';
import { SandboxClient } from '../../src/client/sandbox-client.js';
import { projectRoot, serverBundlePath } from '../../src/common/paths.js';
import { READY_FILE } from '../../src/protocol/constants.js';
import { slotId } from '../../src/protocol/slot-id.js';
import { buildSandboxLayout } from '../../src/server/boot.js';
import { bwrapArgv, type BwrapConfig, type SandboxLayout } from '../../src/server/isolation.js';
import type { NetworkMode } from '../../src/protocol/types.js';
import { descendantPids } from '../../src/server/process-tree.js';
import { chownTree, DEFAULT_UID_BASE, slotUser, type SlotUser } from '../../src/server/slot-user.js';
import { spawnServer, type SpawnedServer } from '../../src/server/testing/spawned-server.js';
import { freePort } from '../../src/common/free-port.js';
import { makeSlotReachableTempDir } from '../../src/common/slot-reachable-temp-dir.js';

/** The bundle the boot benchmark starts; HPC_SANDBOX_BENCH_BUNDLE compares another build (e.g. an older one) on the same run. */
const BENCH_BUNDLE = process.env.HPC_SANDBOX_BENCH_BUNDLE ?? serverBundlePath();
const samples = new Map<string, number[]>();
function timed<T>(name: string, fn: () => Promise<T>): () => Promise<T> {
  return async () => {
    const t0 = performance.now();
    const result = await fn();
    const list = samples.get(name) ?? [];
    list.push(performance.now() - t0);
    samples.set(name, list);
    return result;
  };
}

/**
 * Runs `a` and `b` back to back, alternating which goes first, and records both durations and
 * their ratio. Paired samples cancel the load drift of a shared machine that separate task
 * phases (all of `a`, then all of `b`) suffer from.
 */
let flip = false;
function paired(name: string, a: () => Promise<unknown>, b: () => Promise<unknown>): () => Promise<void> {
  return async () => {
    flip = !flip;
    const measure = async (fn: () => Promise<unknown>) => {
      const t0 = performance.now();
      await fn();
      return performance.now() - t0;
    };
    let ta: number;
    let tb: number;
    if (flip) {
      ta = await measure(a);
      tb = await measure(b);
    } else {
      tb = await measure(b);
      ta = await measure(a);
    }
    for (const [key, value] of [[`${name}: server`, ta], [`${name}: baseline`, tb], [`${name}: ratio`, ta / tb]] as const) {
      const list = samples.get(key) ?? [];
      list.push(value);
      samples.set(key, list);
    }
  };
}

function quantile(sorted: number[], q: number): number {
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[i]!;
}

function runToClose(argv: string[], user?: SlotUser): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(argv[0]!, argv.slice(1), { stdio: ['ignore', 'pipe', 'pipe'], detached: true, ...(user ? { uid: user.uid, gid: user.gid } : {}) });
    child.stdout.resume();
    child.stderr.resume();
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`${argv[0]} exited ${code}`))));
  });
}

let server: SpawnedServer;
let client: SandboxClient;
/** The same server in spawn mode (a sandbox per command), for the side-by-side rows. */
let spawnModeServer: SpawnedServer;
let spawnModeClient: SandboxClient;
/** RSS (KiB) of a server and every process below it, once its slots are idle. */
const idleRss: Record<string, number> = {};
let direct: { config: BwrapConfig; layout: SandboxLayout; slotDirs: string[]; network: NetworkMode; user: SlotUser | undefined };
let scratch: string;
let bootDir: string;
/** HPC_SANDBOX_BENCH_ONLY=exec,parallel runs only those sections (a short run on a shared machine). */
const ONLY = process.env.HPC_SANDBOX_BENCH_ONLY?.split(',');
const section = (name: string) => (ONLY && !ONLY.includes(name) ? describe.skip : describe);
const BOOT_OPTIONS = { time: 3_000, iterations: 20, warmupIterations: 3 };
const RUN_OPTIONS = { time: Number(process.env.HPC_SANDBOX_BENCH_TIME_MS ?? 3_000), warmupIterations: 20 };
const content90k = 'x'.repeat(89_999) + '\n';

/** Sum of VmRSS (KiB) of `pid` and its descendants. */
function treeRssKiB(pid: number): number {
  return [pid, ...descendantPids(pid)].reduce((sum, p) => {
    try {
      return sum + Number(/^VmRSS:\s+(\d+)/m.exec(readFileSync(`/proc/${p}/status`, 'utf8'))?.[1] ?? 0);
    } catch {
      return sum;
    }
  }, 0);
}

/** Boots a standing-mode server with `slots` slots, runs one command per slot, and reads its idle RSS. */
async function measureIdleRss(slots: number): Promise<number> {
  await using s = await spawnServer(['--slots', String(slots), '--exec-mode', 'standing']);
  await using c = new SandboxClient(s.url);
  await c.waitUntilHealthy({ timeoutMs: 20_000 });
  for (let i = 0; i < slots; i += 8) await Promise.all(Array.from({ length: Math.min(8, slots - i) }, (_, j) => c.bash(slotId(i + j), 'true')));
  await new Promise((resolve) => setTimeout(resolve, 200));
  return treeRssKiB(s.child.pid!);
}

beforeAll(async () => {
  server = await spawnServer(['--slots', '8', '--exec-mode', 'standing']);
  client = new SandboxClient(server.url);
  const health = await client.waitUntilHealthy({ timeoutMs: 10_000 });
  if (!health.bwrap_available) throw new Error(`bwrap is not usable here: ${health.isolation?.reason}`);
  if (health.exec_mode !== 'standing') throw new Error(`the server runs exec mode ${health.exec_mode}: ${health.exec_mode_reason}`);
  spawnModeServer = await spawnServer(['--slots', '8', '--exec-mode', 'spawn']);
  spawnModeClient = new SandboxClient(spawnModeServer.url);
  await spawnModeClient.waitUntilHealthy({ timeoutMs: 10_000 });
  // Booting 64 sandboxes takes a while on a small machine: HPC_SANDBOX_BENCH_IDLE_RSS=0 skips it.
  if (process.env.HPC_SANDBOX_BENCH_IDLE_RSS !== '0') {
    idleRss.slots_8_kib = await measureIdleRss(8);
    idleRss.slots_64_kib = await measureIdleRss(64);
  }
  scratch = await makeSlotReachableTempDir('hpcsb-bench-');
  // File-level on purpose: vitest bench does not run describe-level hooks before the tasks.
  bootDir = join(scratch, 'boot');
  // The data dir exists before each boot so the ready-file wait can watch it.
  await mkdir(join(bootDir, 'data'), { recursive: true });
  await writeFile(join(bootDir, 'empty.mjs'), '');
  const dataRoot = join(scratch, 'data');
  const slotDirs = Array.from({ length: 8 }, (_, i) => join(dataRoot, slotId(i)));
  await Promise.all(slotDirs.map((d) => mkdir(d, { recursive: true })));
  // As root the server runs slot 0 as this uid, and so does the direct side: pasta started as root
  // drops to nobody, cannot map its user namespace and spins instead of running the command.
  const user = slotUser(0, DEFAULT_UID_BASE);
  if (user) chownTree(dataRoot, user);
  direct = {
    // The same configuration the server's probe chose, so both sides run the identical sandbox
    // (the seccomp filter, fed through a pipe, is left out of the direct side).
    config: { bwrapPath: health.isolation!.bwrap_path!, procMode: health.isolation!.proc_mode!, disableUserns: health.isolation!.nested_userns_blocked_by !== 'seccomp' },
    layout: { ...buildSandboxLayout({ dataRoot }), seccompFilter: undefined },
    slotDirs,
    network: health.isolation!.network?.open ?? 'host',
    user,
  };
});

afterAll(async () => {
  await client?.close();
  await server?.[Symbol.asyncDispose]();
  await spawnModeClient?.close();
  await spawnModeServer?.[Symbol.asyncDispose]();
  await rm(scratch, { recursive: true, force: true });
  const rows = [...samples].map(([name, list]) => {
    const sorted = [...list].sort((a, b) => a - b);
    return { name, n: sorted.length, median_ms: +quantile(sorted, 0.5).toFixed(3), p95_ms: +quantile(sorted, 0.95).toFixed(3) };
  });
  const median = (name: string) => rows.find((r) => r.name === name)?.median_ms ?? NaN;
  const ratios = {
    exec_vs_direct_bwrap_paired: median('exec pair: ratio'),
    boot_vs_node_e_0_paired: median('boot pair: ratio'),
    exec_vs_direct_bwrap: +(median('server exec bash true (bwrap)') / median('direct bwrap spawn from node')).toFixed(3),
    boot_vs_node_e_0: +(median('server boot to healthy /health') / median('node -e 0')).toFixed(3),
    boot_polling_client_vs_node_e_0: +(median('server boot to healthy /health (polling client)') / median('node -e 0')).toFixed(3),
    boot_vs_node_empty_mjs: +(median('server boot to healthy /health') / median('node empty.mjs')).toFixed(3),
    parallel8_vs_direct8: +(median('server 8 slots busy (8 concurrent bash true)') / median('direct 8 concurrent bwrap spawns')).toFixed(3),
    write_read_90k_vs_fs: +(median('server write_file+read_file 90 KB') / median('fs writeFile+readFile 90 KB')).toFixed(3),
    stateful_vs_bash_paired: median('stateful pair: ratio'),
    stateful_vs_bash: +(median('server bash_stateful true') / median('server exec bash true (standing, beside stateful)')).toFixed(3),
  };
  const standingMedian = median('server exec bash true (standing)');
  const p95 = (name: string) => rows.find((r) => r.name === name)?.p95_ms ?? NaN;
  Object.assign(ratios, {
    standing_vs_bare_bwrap: +(standingMedian / median('bare bwrap spawn, reference argv')).toFixed(3),
    standing_vs_sh_c_true: +(standingMedian / median('sh -c true, no sandbox')).toFixed(3),
    standing_vs_spawn_mode: +(standingMedian / median('server exec bash true (spawn mode)')).toFixed(3),
    spawn_mode_vs_bare_bwrap: +(median('server exec bash true (spawn mode)') / median('bare bwrap spawn, reference argv')).toFixed(3),
    standing_p95_vs_median: +(p95('server exec bash true (standing)') / standingMedian).toFixed(3),
    standing_target_ms: +Math.max(0.5 * median('bare bwrap spawn, reference argv'), 3 * median('sh -c true, no sandbox')).toFixed(3),
  });
  const throughput = {
    parallel8_ops_per_s: +(8_000 / median('server 8 slots busy (8 concurrent bash true)')).toFixed(1),
    parallel8_spawn_mode_ops_per_s: +(8_000 / median('spawn mode 8 slots busy (8 concurrent bash true)')).toFixed(1),
    parallel8_standing_vs_spawn: +(median('spawn mode 8 slots busy (8 concurrent bash true)') / median('server 8 slots busy (8 concurrent bash true)')).toFixed(3),
  };
  const targets = { exec_vs_direct_bwrap: 1.25, boot_vs_node_e_0: 1.3, standing_p95_vs_median: 2, parallel8_standing_vs_spawn: 2, stateful_vs_bash: 2 };
  process.stdout.write('\nserver benchmark (own samples)\n');
  console.table(rows);
  console.table({ ...ratios, ...throughput, ...idleRss });
  await mkdir(join(projectRoot(), 'results'), { recursive: true });
  await writeFile(
    join(projectRoot(), 'results', 'server-bench.json'),
    JSON.stringify({ date: new Date().toISOString(), node: process.version, bundle: BENCH_BUNDLE, rows, ratios, throughput, idle_rss: idleRss, targets }, null, 2) + '\n',
  );
});

const execOn = (c: () => SandboxClient, mode: string) => async (): Promise<void> => {
  const r = await c().bash(slotId(0), 'true');
  if (!r.success || r.metadata.sandboxed !== true || r.metadata.exec_mode !== mode) throw new Error(`exec failed: ${JSON.stringify(r)}`);
};
const serverExec = execOn(() => client, 'standing');
const spawnModeExec = execOn(() => spawnModeClient, 'spawn');
/** The reference server's sandbox: light, but a new one per command (merged /usr: /bin, /lib, /lib64 are symlinks, bound as such). */
const REFERENCE_BWRAP_ARGV = ['bwrap', '--unshare-user', '--unshare-pid', '--unshare-uts', '--unshare-ipc', '--ro-bind', '/usr', '/usr', '--ro-bind', '/bin', '/bin', '--ro-bind', '/lib', '/lib', '--ro-bind', '/lib64', '/lib64', '--proc', '/proc', '--dev', '/dev', '/bin/sh', '-c', 'true'];
const statefulExec = async (): Promise<void> => {
  const r = await client.bashStateful(slotId(2), 'true');
  if (!r.success || r.metadata.sandboxed !== true) throw new Error(`bash_stateful failed: ${JSON.stringify(r)}`);
};
const directArgv = (slotDir: string): string[] => bwrapArgv(direct.config, direct.layout, { slotDir, network: direct.network }, [direct.layout.shell, '-c', 'true']);
const directExec = (): Promise<void> => runToClose(directArgv(direct.slotDirs[0]!), direct.user);

/**
 * Spawns the bundle and times spawn -> the first healthy `GET /health` answer. `ready-file`: the
 * data dir is watched (inotify) and, as soon as the ready file appears, one `GET /health` is sent,
 * which the server holds until its bwrap probe is done: precise to the answer, and the parent
 * burns no CPU meanwhile (on two cores, a poller's connection attempts slow the boot it times).
 * `polling`: the client's waitUntilHealthy, as a scheduler without the ready file would wait.
 * Either way the clock stops only on a 200 whose `status` is `ok`.
 */
async function bootServer(wait: 'ready-file' | 'polling'): Promise<number> {
  const port = await freePort();
  const dataDir = join(bootDir, 'data');
  const probe = new SandboxClient(`http://127.0.0.1:${port}`);
  let watcher: FSWatcher | undefined;
  const ready = new Promise<void>((resolve) => {
    if (wait === 'ready-file') watcher = watch(dataDir, (_event, name) => name === READY_FILE && resolve());
  });
  const t0 = performance.now();
  const child = spawn(process.execPath, [BENCH_BUNDLE, '--port', String(port), '--data-dir', dataDir, '--slots', '4'], { stdio: 'ignore' });
  const exited = new Promise((resolve) => child.once('exit', resolve));
  try {
    if (wait === 'ready-file') {
      if ((await Promise.race([ready, exited.then(() => 'exited' as const)])) === 'exited') throw new Error('the server exited before writing its ready file');
      const health = await probe.health();
      if (health.status !== 'ok') throw new Error(`/health answered status ${health.status}`);
    } else {
      await probe.waitUntilHealthy({ timeoutMs: 10_000 });
    }
    return performance.now() - t0;
  } finally {
    watcher?.close();
    await probe.close();
    child.kill('SIGTERM');
    await exited;
  }
}

section('exec')('exec round trip', () => {
  bench('server exec bash true (standing)', timed('server exec bash true (standing)', serverExec), RUN_OPTIONS);
  bench('server exec bash true (spawn mode)', timed('server exec bash true (spawn mode)', spawnModeExec), RUN_OPTIONS);
  bench('bare bwrap spawn, reference argv', timed('bare bwrap spawn, reference argv', () => runToClose(REFERENCE_BWRAP_ARGV)), RUN_OPTIONS);
  bench('sh -c true, no sandbox', timed('sh -c true, no sandbox', () => runToClose(['/bin/sh', '-c', 'true'])), RUN_OPTIONS);
  bench('paired: server exec vs direct bwrap (alternating)', paired('exec pair', spawnModeExec, directExec), RUN_OPTIONS);
  bench('server exec bash true (bwrap)', timed('server exec bash true (bwrap)', spawnModeExec), RUN_OPTIONS);
  bench('direct bwrap spawn from node', timed('direct bwrap spawn from node', directExec), RUN_OPTIONS);
});

section('stateful')('stateful round trip', () => {
  bench('paired: bash_stateful true vs bash true (alternating)', paired('stateful pair', statefulExec, serverExec), RUN_OPTIONS);
  bench('server bash_stateful true', timed('server bash_stateful true', statefulExec), RUN_OPTIONS);
  bench('server exec bash true (standing, beside stateful)', timed('server exec bash true (standing, beside stateful)', serverExec), RUN_OPTIONS);
});

const recordBoot = (name: string, wait: 'ready-file' | 'polling') => async (): Promise<void> => {
  const list = samples.get(name) ?? [];
  list.push(await bootServer(wait));
  samples.set(name, list);
};

section('boot')('boot', () => {
  bench('server boot to healthy /health', recordBoot('server boot to healthy /health', 'ready-file'), BOOT_OPTIONS);
  bench('server boot to healthy /health (polling client)', recordBoot('server boot to healthy /health (polling client)', 'polling'), BOOT_OPTIONS);
  bench('paired: server boot vs node -e 0 (alternating)', paired('boot pair', () => bootServer('ready-file'), () => runToClose([process.execPath, '-e', '0'])), BOOT_OPTIONS);
  bench('node -e 0', timed('node -e 0', () => runToClose([process.execPath, '-e', '0'])), BOOT_OPTIONS);
  // The floor for any server file: Node loading a module from disk (not part of the target).
  bench('node empty.mjs', timed('node empty.mjs', () => runToClose([process.execPath, join(bootDir, 'empty.mjs')])), BOOT_OPTIONS);
});

section('parallel')('parallel: 8 slots busy', () => {
  bench('server 8 slots busy (8 concurrent bash true)', timed('server 8 slots busy (8 concurrent bash true)', async () => {
    const answers = await Promise.all(Array.from({ length: 8 }, (_, i) => client.bash(slotId(i), 'true')));
    if (!answers.every((a) => a.success)) throw new Error('a parallel exec failed');
  }), RUN_OPTIONS);
  bench('spawn mode 8 slots busy (8 concurrent bash true)', timed('spawn mode 8 slots busy (8 concurrent bash true)', async () => {
    const answers = await Promise.all(Array.from({ length: 8 }, (_, i) => spawnModeClient.bash(slotId(i), 'true')));
    if (!answers.every((a) => a.success && a.metadata.exec_mode === 'spawn')) throw new Error('a parallel exec failed');
  }), RUN_OPTIONS);
  bench('direct 8 concurrent bwrap spawns', timed('direct 8 concurrent bwrap spawns', async () => {
    await Promise.all(direct.slotDirs.map((d) => runToClose(directArgv(d), direct.user)));
  }), RUN_OPTIONS);
});

section('files')('90 KB file round trip', () => {
  bench('server write_file+read_file 90 KB', timed('server write_file+read_file 90 KB', async () => {
    await client.writeFile(slotId(1), 'big.txt', content90k);
    if ((await client.readFile(slotId(1), 'big.txt')).length !== content90k.length) throw new Error('read back a different size');
  }), RUN_OPTIONS);
  bench('fs writeFile+readFile 90 KB', timed('fs writeFile+readFile 90 KB', async () => {
    await writeFile(join(direct.slotDirs[1]!, 'big.txt'), content90k);
    if ((await readFile(join(direct.slotDirs[1]!, 'big.txt'), 'utf8')).length !== content90k.length) throw new Error('read back a different size');
  }), RUN_OPTIONS);
});
