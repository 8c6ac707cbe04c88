import { existsSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeWith } from '../../test/gate.js';
import { makeSlotReachableTempDir } from '../common/slot-reachable-temp-dir.js';
import { beginBoot, type SandboxBoot } from './boot.js';
import { commandEnv } from './command-env.js';
import type { IsolationProbe } from './isolation.js';
import { descendantPids } from './process-tree.js';
import { StandingSandbox, type StandingRunOptions } from './standing-sandbox.js';
import { eventually, pidsWithMarker, uniqueSleepSeconds } from './testing/processes.js';

/**
 * The standing sandbox against hostile commands, with real bwrap: whatever a command does (kill
 * the agent or the init, write to the agent's control pipe, leave daemons, exec another program,
 * fork until the slot's process cap, stay in another directory), its call ends with an answer, no
 * process it started survives, and the next command on the slot works from /workspace.
 */
describeWith(['bwrap'], 'standing sandbox (real bwrap) against hostile commands', () => {
  let root: string;
  let boot: SandboxBoot;
  let probe: IsolationProbe;
  let standing: StandingSandbox;
  const run = (command: string, options: Partial<StandingRunOptions> = {}) => standing.run(command, { timeoutMs: 10_000, maxOutputChars: 10_000, ...options });

  beforeAll(async () => {
    root = await makeSlotReachableTempDir('hpcsb-standing-');
    boot = beginBoot({ slots: 1, dataDir: join(root, 'data'), isolation: 'require', uidBase: 2_400_000, slotLimits: { maxProcesses: 64 } });
    probe = await boot.isolation;
    if (!probe.config) throw new Error(`bwrap unusable: ${probe.report.reason}`);
    const user = boot.slotUsers[0];
    standing = new StandingSandbox({ isolation: probe, layout: boot.layout, slotDir: boot.slotDirs[0]!, env: commandEnv({ serverEnv: process.env, passEnv: [], home: '/workspace', denied: [] }), ...(user ? { user } : {}) });
  });

  afterAll(async () => {
    await standing?.stop();
    await rm(root, { recursive: true, force: true });
  });

  it('runs commands in /workspace with stdout, stderr and the exit status apart, keeping one sandbox', async () => {
    const first = await run('pwd; echo out; echo err >&2; exit 3');
    expect(first).toMatchObject({ exitCode: 3, stdout: '/workspace\nout\n', stderr: 'err\n', timedOut: false, aborted: false });
    const pid = standing.pid;
    expect(await run('printf "a\\036b\\036"; printf "\\036" >&2')).toMatchObject({ exitCode: 0, stdout: 'a\x1eb\x1e', stderr: '\x1e' });
    expect(standing.pid).toBe(pid);
  });

  it('starts every command in /workspace, whatever the last one did with its directory', async () => {
    expect((await run('cd / && pwd')).stdout).toBe('/\n');
    expect((await run('pwd')).stdout).toBe('/workspace\n');
  });

  it('kills what a command leaves behind (background job, setsid, double fork, nohup) when it exits', async () => {
    const n = uniqueSleepSeconds();
    const pid = standing.pid;
    const r = await run(`sleep ${n} & setsid sleep ${n + 1} & (sleep ${n + 2} &); nohup sleep ${n + 3} >/dev/null 2>&1 & setsid sh -c "sleep ${n + 4} &" ; echo left`);
    expect(r).toMatchObject({ exitCode: 0, stdout: 'left\n' });
    await eventually(() => [0, 1, 2, 3, 4].every((d) => pidsWithMarker(`sleep ${n + d}`).length === 0), 2_000, 'every left-behind sleep to die');
    expect(standing.pid).toBe(pid);
    expect((await run('ls /proc | grep -c "^[0-9]"')).stdout.trim()).toMatch(/^[1-5]$/);
  });

  it('survives a command that execs another program', async () => {
    expect(await run('exec /bin/echo replaced')).toMatchObject({ exitCode: 0, stdout: 'replaced\n' });
    expect(await run('echo next')).toMatchObject({ exitCode: 0, stdout: 'next\n' });
  });

  it('ignores a kill of its init (the kernel shields a namespace init from its own processes)', async () => {
    const r = await run('kill -KILL 1; echo still-here');
    expect(r.stdout).toBe('still-here\n');
    expect(await run('echo next')).toMatchObject({ exitCode: 0, stdout: 'next\n' });
  });

  it('reports a killed agent as a dead sandbox and starts a new one for the next command', async () => {
    const before = standing.pid;
    const r = await run('echo before-kill; kill -KILL $PPID; sleep 5');
    expect(r.sandboxDied).toMatch(/exited|control pipe closed/);
    expect(r.exitCode).toBe(-1);
    expect(r.stdout).toBe('before-kill\n');
    expect(await run('echo next')).toMatchObject({ exitCode: 0, stdout: 'next\n' });
    expect(standing.pid).not.toBe(before);
  });

  it('cannot forge the end of a command through the control fd, and closing its own fds changes nothing', async () => {
    // Node's stdio pipes are socket pairs, which cannot be opened through /proc; were one written
    // to, the line would not carry the nonce and the sandbox would be treated as broken.
    const forged = await run('echo forged 0 > /proc/$PPID/fd/4 && echo written; sleep 0.2; echo after');
    expect(forged.sandboxDied !== undefined || (forged.stdout === 'after\n' && /No such device or address|Permission denied/.test(forged.stderr))).toBe(true);
    expect(await run('exec 0<&- 1>&- 2>&- 3>&- 4>&-; true')).toMatchObject({ exitCode: 0 });
    expect(await run('echo next')).toMatchObject({ exitCode: 0, stdout: 'next\n' });
  });

  it('kills the whole sandbox on timeout and on abort, and the next command works', async () => {
    const n = uniqueSleepSeconds();
    const r = await run(`echo begun; setsid sleep ${n} & sleep ${n + 1}`, { timeoutMs: 500 });
    expect(r).toMatchObject({ timedOut: true, exitCode: -1, stdout: 'begun\n' });
    expect(r.sandboxDied).toBeUndefined();
    await eventually(() => pidsWithMarker(`sleep ${n}`).length + pidsWithMarker(`sleep ${n + 1}`).length === 0, 3_000, 'the sleeps to die');
    const controller = new AbortController();
    const aborted = run(`sleep ${n + 2}`, { signal: controller.signal });
    await eventually(() => pidsWithMarker(`sleep ${n + 2}`).length > 0, 5_000, 'the sleep to start');
    controller.abort();
    expect(await aborted).toMatchObject({ aborted: true });
    await eventually(() => pidsWithMarker(`sleep ${n + 2}`).length === 0, 3_000, 'the aborted sleep to die');
    expect(await run('echo next')).toMatchObject({ exitCode: 0, stdout: 'next\n' });
  });

  it('frees the process cap after a command forked until it ran out', async () => {
    const n = uniqueSleepSeconds();
    // Python reports a refused fork at once (bash would retry for seconds); it exits leaving the sleeps.
    const spawner = `import subprocess\nfor i in range(200):\n  try: subprocess.Popen(['sleep', '${n}'])\n  except OSError as e: print(e); break`;
    const r = await run(`python3 -c "${spawner}"`, { timeoutMs: 20_000 });
    expect(r.stdout).toMatch(/Resource temporarily unavailable/);
    await eventually(() => pidsWithMarker(`sleep ${n}`).length === 0, 3_000, 'the forked sleeps to die');
    expect(await run('for i in 1 2 3; do sleep 0.01 & done; wait; echo forks-again')).toMatchObject({ exitCode: 0, stdout: 'forks-again\n' });
  });

  it('caps a flood of output and still ends the command at its marker', async () => {
    const r = await run('head -c 5000000 /dev/zero | tr "\\0" a; echo tail >&2', { maxOutputChars: 1_000 });
    expect(r).toMatchObject({ exitCode: 0, truncated: true, stderr: 'tail\n' });
    expect(r.stdout).toBe('a'.repeat(1_000));
  });

  it('leaves no process of the sandbox behind once stopped', async () => {
    const n = uniqueSleepSeconds();
    const running = run(`sleep ${n}`);
    await eventually(() => pidsWithMarker(`sleep ${n}`).length > 0, 5_000, 'the sleep to start');
    const pid = standing.pid!;
    const inside = [pid, ...descendantPids(pid)];
    expect(inside.length).toBeGreaterThanOrEqual(3);
    await standing.stop();
    expect((await running).exitCode).toBe(-1);
    await eventually(() => inside.every((p) => !existsSync(`/proc/${p}`)), 3_000, 'every process of the sandbox to be gone');
  });
});
