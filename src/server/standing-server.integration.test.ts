import { existsSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeWith } from '../../test/gate.js';
import { SandboxClient } from '../client/sandbox-client.js';
import { makeSlotReachableTempDir } from '../common/slot-reachable-temp-dir.js';
import { slotId } from '../protocol/slot-id.js';
import { descendantPids } from './process-tree.js';
import { startSandboxServer } from './sandbox-server.js';
import { eventually, pidsWithMarker, uniqueSleepSeconds } from './testing/processes.js';
import { spawnServer, type SpawnedServer } from './testing/spawned-server.js';

/** VmRSS (KiB) of `pid` and, with `tree`, of every process below it. */
function rssKiB(pid: number, tree: boolean): number {
  return [pid, ...(tree ? descendantPids(pid) : [])].reduce((sum, p) => {
    try {
      return sum + Number(/^VmRSS:\s+(\d+)/m.exec(readFileSync(`/proc/${p}/status`, 'utf8'))?.[1] ?? 0);
    } catch {
      return sum;
    }
  }, 0);
}

/** Open fds of `pid`, sockets apart: HTTP keep-alive connections come and go with the load. */
const openFds = (pid: number): { sockets: number; other: number } => {
  const targets = readdirSync(`/proc/${pid}/fd`).map((fd) => {
    try {
      return readlinkSync(`/proc/${pid}/fd/${fd}`);
    } catch {
      return ''; // closed meanwhile
    }
  });
  const sockets = targets.filter((target) => target.startsWith('socket:')).length;
  return { sockets, other: targets.length - sockets };
};

/**
 * The server in standing mode, seen from its HTTP side: a call under which the slot's sandbox dies
 * says so and the next one works; reset leaves no process; a call asking for the other network
 * runs in a sandbox of its own; and many calls leave the server's memory and fds where they were.
 */
describeWith(['bwrap'], 'sandbox server in standing mode', () => {
  let server: SpawnedServer;
  let client: SandboxClient;

  beforeAll(async () => {
    server = await spawnServer(['--slots', '8', '--exec-mode', 'standing']);
    client = new SandboxClient(server.url);
    const health = await client.waitUntilHealthy({ timeoutMs: 10_000 });
    expect(health.exec_mode).toBe('standing');
  });

  afterAll(async () => {
    await client?.close();
    await server?.[Symbol.asyncDispose]();
  });

  it('answers a call whose command killed the slot agent with what happened, and the next call works', async () => {
    const r = await client.bash('slot_0', 'echo going; kill -KILL $PPID; sleep 5');
    expect(r).toMatchObject({ success: false, output: 'going', metadata: { sandbox_restarted: true, exec_mode: 'standing', exit_code: -1 } });
    expect(r.error).toMatch(/^The slot's standing sandbox died during the command/);
    expect(await client.bash('slot_0', 'pwd')).toMatchObject({ success: true, output: '/workspace' });
    // `kill -1` from a command reaches the agent too: the same answer, the same recovery.
    expect((await client.bash('slot_0', 'kill -KILL -1; sleep 5')).metadata).toMatchObject({ sandbox_restarted: true });
    expect(await client.bash('slot_0', 'echo back')).toMatchObject({ success: true, output: 'back' });
  });

  it('leaves no process after a reset, and restarts the slot on an empty workspace', async () => {
    const n = uniqueSleepSeconds();
    const running = client.bash('slot_1', `touch left.txt; setsid sleep ${n} & (nohup sleep ${n + 1} >/dev/null 2>&1 &); sleep ${n + 2}`, { timeout: 60 });
    await eventually(() => pidsWithMarker(`sleep ${n + 2}`).length > 0, 5_000, 'the command to start');
    await client.reset('slot_1');
    expect((await running).metadata).toMatchObject({ killed: true });
    await eventually(() => [0, 1, 2].every((d) => pidsWithMarker(`sleep ${n + d}`).length === 0), 3_000, 'every sleep to die');
    expect(await client.bash('slot_1', 'ls -A | wc -l; pwd')).toMatchObject({ success: true, output: '0\n/workspace' });
  });

  it('answers a reset once the slot has its new sandbox up, so the next holder does not wait for it', async () => {
    // The slot agent is the bash inside the sandbox; pasta and bwrap carry its name in their argv too.
    const agents = () => descendantPids(server.child.pid!).filter((pid) => commandName(pid) === 'bash' && pidsWithMarker('hpc-sandbox-agent').includes(pid));
    await eventually(() => agents().length === 8, 10_000, 'all 8 slot agents to run');
    for (const slot of [slotId(3), slotId(4), slotId(5)]) {
      await client.reset(slot);
      expect(agents(), `agents right after the reset of ${slot}`).toHaveLength(8);
    }
  });

  it('runs a call asking for the other network in a sandbox of its own, and says so', async () => {
    const r = await client.bash('slot_2', 'cat /proc/net/dev | tail -n +3 | cut -d: -f1 | tr -d " "', { allowNetwork: false });
    expect(r).toMatchObject({ success: true, output: 'lo', metadata: { exec_mode: 'spawn', network: 'none' } });
    expect(r.metadata.exec_mode_reason).toMatch(/standing sandbox has network/);
  });

  it('streams output of a standing-sandbox command before its result', async () => {
    const seen: Array<{ type: string; at: number }> = [];
    const t0 = performance.now();
    let result: object | undefined;
    let text = '';
    for await (const chunk of client.executeStream({ slot_id: 'slot_3', tool: 'bash', args: { command: 'echo first; sleep 0.5; echo second >&2' } })) {
      seen.push({ type: chunk.type, at: performance.now() - t0 });
      if (chunk.type === 'result') result = chunk;
      else text += `${chunk.type}:${chunk.data}`;
    }
    expect(text).toBe('stdout:first\nstderr:second\n');
    expect(result).toMatchObject({ success: true, output: 'first\n\n[stderr]\nsecond', metadata: { exec_mode: 'standing' } });
    expect(seen.at(-1)!.type).toBe('result');
    expect(seen.at(-1)!.at - seen[0]!.at).toBeGreaterThan(300);
  });

  it('keeps the memory and open fds of the server and its sandboxes flat over many execs (soak)', async () => {
    // In process, so the heap can be measured after a full GC (RSS alone follows V8's own pace).
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    const root = await makeSlotReachableTempDir('hpcsb-soak-');
    const soaked = await startSandboxServer({ port: 0, host: '127.0.0.1', slots: 8, dataDir: join(root, 'data'), isolation: 'require', execMode: 'standing', uidBase: 2_500_000 });
    await using soakClient = new SandboxClient(soaked.url);
    try {
      const total = Number(process.env.HPC_SANDBOX_SOAK_EXECS ?? 2_000);
      const round = async (count: number) => {
        for (let done = 0; done < count; done += 8) {
          const answers = await Promise.all(Array.from({ length: 8 }, (_, i) => soakClient.bash(`slot_${i}`, 'echo x; echo y >&2')));
          if (!answers.every((a) => a.success && a.metadata.exec_mode === 'standing')) throw new Error(`an exec failed: ${JSON.stringify(answers.find((a) => !a.success))}`);
        }
      };
      const sample = () => {
        gc();
        const sandboxes = descendantPids(process.pid).reduce((sum, p) => sum + rssKiB(p, false), 0);
        return { heapKiB: Math.round(process.memoryUsage().heapUsed / 1024), sandboxesKiB: sandboxes, fds: openFds(process.pid) };
      };
      await round(Math.max(200, total / 10));
      const before = sample();
      await round(total);
      const after = sample();
      process.stderr.write(`soak: ${total} execs across 8 slots after warm-up: before ${JSON.stringify(before)}, after ${JSON.stringify(after)}\n`);
      expect(after.fds.other).toBeLessThanOrEqual(Math.floor(before.fds.other * 1.1));
      // The client's and the server's keep-alive connections (up to 8 each) vary from sample to
      // sample; a socket leaked per exec would show here by the thousand.
      expect(after.fds.sockets).toBeLessThanOrEqual(before.fds.sockets + 16);
      expect(after.heapKiB).toBeLessThan(before.heapKiB * 1.1);
      expect(after.sandboxesKiB).toBeLessThan(before.sandboxesKiB * 1.1);
    } finally {
      await soaked.close();
      await rm(root, { recursive: true, force: true });
    }
  });
});

/**
 * A server that is SIGKILLed runs no clean-up: what it started must go down on its own. bwrap has
 * --die-with-parent, but pasta (the slot network in front of it) has no such option and would live
 * on with the sandbox under it; the server starts it with a parent-death signal (setpriv).
 */
describeWith(['bwrap'], 'a sandbox server killed with SIGKILL', () => {
  it('takes every slot sandbox (pasta, bwrap, the agent, a running command) down with it', async (ctx) => {
    await using server = await spawnServer(['--slots', '2', '--exec-mode', 'standing']);
    const client = new SandboxClient(server.url);
    try {
      const health = await client.waitUntilHealthy({ timeoutMs: 10_000 });
      if (health.isolation.network.stack === null) ctx.skip(`slots get no network stack here: ${health.isolation.network.reason}`);
      const running = client.bash(slotId(1), `sleep ${uniqueSleepSeconds()}`, { timeout: 600 }).catch(() => undefined);
      expect((await client.bash(slotId(0), 'true')).success).toBe(true);
      await eventually(() => descendantPids(server.child.pid!).some((pid) => commandName(pid) === 'sleep'), 5_000, 'the long command to start');
      const started = descendantPids(server.child.pid!);
      expect(started.map(commandName)).toEqual(expect.arrayContaining([expect.stringMatching(/^passt/), 'bwrap', 'sleep']));

      server.child.kill('SIGKILL');
      await running;
      await eventually(() => started.every((pid) => !existsSync(`/proc/${pid}`)), 5_000, `pids ${started.join(' ')} (${started.map(commandName).join(' ')}) to end`);
    } finally {
      await client.close();
    }
  });
});

/** The command name of `pid` (`passt.avx2` for pasta), or '' once it has ended. */
function commandName(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
  } catch {
    return '';
  }
}
