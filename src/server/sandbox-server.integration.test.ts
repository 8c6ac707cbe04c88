import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { describeWith } from '../../test/gate.js';
import { projectRoot } from '../common/paths.js';
import { SandboxClient } from '../client/sandbox-client.js';
import { READY_FILE } from '../protocol/constants.js';
import { buildSandboxLayout } from './boot.js';
import { bwrapArgv, findOnPath, SECCOMP_FD, writeSeccompFilter } from './isolation.js';
import { chownTree } from './slot-user.js';
import { eventually, pidsWithMarker, uniqueSleepSeconds } from './testing/processes.js';
import { spawnServer, type SpawnedServer } from './testing/spawned-server.js';

describe('bundled sandbox server process', () => {
  it('binds a free port, writes the ready file, and on SIGTERM kills commands, removes the file and exits 0', async () => {
    await using server = await spawnServer(['--slots', '2', '--isolation', 'off']);
    const ready = JSON.parse(await readFile(join(server.dataDir, READY_FILE), 'utf8'));
    expect(ready).toMatchObject({ port: server.port, host: '127.0.0.1', pid: server.child.pid, version: expect.any(String) });
    await using client = new SandboxClient(server.url);
    const health = await client.waitUntilHealthy({ timeoutMs: 5_000 });
    expect(health).toMatchObject({ status: 'ok', slots: 2, bwrap_available: false, isolation: { mode: 'off' } });
    const fallback = await client.bash('slot_0', 'pwd');
    expect(fallback).toMatchObject({ success: true, output: join(server.dataDir, 'slot_0'), metadata: { sandboxed: false, sandbox_fallback: true } });

    const n = uniqueSleepSeconds();
    const running = client.bash('slot_1', `sleep ${n} & sleep ${n + 1}`, { timeout: 120 });
    await eventually(() => pidsWithMarker(`sleep ${n + 1}`).length > 0, 5_000, 'the command to start');
    expect(await server.stop()).toBe(0);
    expect((await running).metadata).toMatchObject({ killed: true });
    expect(existsSync(join(server.dataDir, READY_FILE))).toBe(false);
    expect(pidsWithMarker(`sleep ${n}`)).toEqual([]);
    expect(pidsWithMarker(`sleep ${n + 1}`)).toEqual([]);
  });

  it('also stops on SIGINT with exit code 0', async () => {
    await using server = await spawnServer(['--slots', '1', '--isolation', 'off']);
    const exited = new Promise((resolve) => server.child.once('exit', (code, signal) => resolve(code ?? signal)));
    server.child.kill('SIGINT');
    expect(await exited).toBe(0);
    expect(existsSync(join(server.dataDir, READY_FILE))).toBe(false);
  });

  it('resets a slot whose command took its own access away, as an unprivileged user', async () => {
    // Root ignores permission bits; as root the server is started as nobody to see them.
    const runAs = process.getuid?.() === 0 ? { uid: 65534, gid: 65534 } : undefined;
    await using server = await spawnServer(['--slots', '1', '--isolation', 'off'], {}, runAs);
    await using client = new SandboxClient(server.url);
    const locked = await client.bash('slot_0', 'mkdir -p a/b && touch a/b/f && chmod 000 a/b a && id -u');
    expect(locked).toMatchObject({ success: true, output: String(runAs?.uid ?? process.getuid?.()) });
    expect(await client.reset('slot_0')).toMatchObject({ success: true });
    expect((await client.listArtifacts('slot_0')).entries).toEqual([]);
  });

  it('gets its 413 to undici request and Node fetch still sending a body over 16 MiB (server in its own process)', async () => {
    // In another process the server's close really races the client's upload: before the fix
    // about one call in three failed with EPIPE instead of reading the 413.
    await using server = await spawnServer(['--slots', '1', '--isolation', 'off']);
    const outcomes: string[] = [];
    const expected: string[] = [];
    for (const size of [17_000_000, 24_000_000, 64_000_000]) {
      const body = JSON.stringify({ slot_id: 'slot_0', tool: 'write_file', args: { path: 'x', content: 'z'.repeat(size) } });
      for (let i = 0; i < 3; i++) {
        outcomes.push(
          await request(`${server.url}/execute`, { method: 'POST', body, headers: { 'content-type': 'application/json' } }).then(
            async (r) => `${size} undici ${r.statusCode} ${((await r.body.json()) as { error_code: string }).error_code}`,
            (e: Error & { code?: string }) => `${size} undici failed: ${e.code} ${e.message}`,
          ),
          await fetch(`${server.url}/execute`, { method: 'POST', body, headers: { 'content-type': 'application/json' } }).then(
            async (r) => `${size} fetch ${r.status} ${((await r.json()) as { error_code: string }).error_code}`,
            (e: Error & { cause?: { code?: string } }) => `${size} fetch failed: ${e.cause?.code} ${e.message}`,
          ),
        );
        expected.push(`${size} undici 413 body_too_large`, `${size} fetch 413 body_too_large`);
      }
    }
    expect(outcomes).toEqual(expected);
  });

  it('exits 2 with the usage on a bad flag', async () => {
    await expect(spawnServer(['--slots', 'many'])).rejects.toThrowError(/Expected `--slots` to be an integer/);
  });
});

// Both exec modes pass the same tests: a standing sandbox per slot, and a sandbox per command.
for (const execMode of ['standing', 'spawn'] as const)
describeWith(['bwrap'], `sandbox server under bubblewrap (exec mode ${execMode})`, () => {
  let server: SpawnedServer;
  let client: SandboxClient;
  let tokenFile: string;
  const TOKEN = 'integration-token';

  beforeAll(async () => {
    // Outside the data dir and outside /tmp, so the sandbox must mask it explicitly.
    tokenFile = join(projectRoot(), '.cache', `hpcsb-token-${process.pid}`);
    await mkdir(dirname(tokenFile), { recursive: true });
    await writeFile(tokenFile, TOKEN);
    server = await spawnServer(['--slots', '3', '--token-file', tokenFile, '--exec-mode', execMode], { HPC_SANDBOX_TOKEN: 'not-this-one' });
    client = new SandboxClient(server.url, { token: TOKEN });
    await client.waitUntilHealthy({ timeoutMs: 10_000 });
  });

  afterAll(async () => {
    await client?.close();
    await server?.[Symbol.asyncDispose]();
    await rm(tokenFile, { force: true });
  });

  it('reports bubblewrap as available and how it runs', async () => {
    const health = await client.health();
    expect(health.bwrap_available).toBe(true);
    expect(health.isolation).toMatchObject({ mode: 'auto', active: true, reason: null, bwrap_path: expect.stringMatching(/bwrap$/) });
    expect(['proc', 'bind']).toContain(health.isolation.proc_mode);
    expect(health.exec_mode).toBe(execMode);
  });

  it('runs in /workspace with only the own slot writable and visible', async () => {
    await client.writeFile('slot_1', 'secret-of-slot-1.txt', 'slot 1 data');
    const r = await client.bash(
      'slot_0',
      [
        'pwd',
        'echo mine > mine.txt && cat /workspace/mine.txt',
        `ls ${server.dataDir} 2>&1 | head -1`,
        `ls ${join(server.dataDir, 'slot_1')} 2>&1 | head -1`,
        // Everything but the big read-only system trees, which hold no slot.
        `find / \\( -path /proc -o -path /sys -o -path /usr -o -path /work \\) -prune -o -name secret-of-slot-1.txt -print 2>/dev/null | wc -l`,
        'touch /usr/evil 2>&1 | head -1',
        'ls -A /tmp | wc -l',
      ].join('; '),
    );
    const lines = r.output.split('\n');
    expect(r.metadata).toMatchObject({ sandboxed: true, exit_code: 0 });
    expect(lines[0]).toBe('/workspace');
    expect(lines[1]).toBe('mine');
    expect(lines[2]).toMatch(/No such file or directory/);
    expect(lines[3]).toMatch(/No such file or directory/);
    expect(lines[4]).toBe('0');
    expect(lines[5]).toMatch(/Read-only file system/);
    expect(lines[6]).toBe('0');
    expect(await client.readFile('slot_0', 'mine.txt')).toBe('mine\n');
  });

  it('hides the server token from commands: neither the variable nor the file', async () => {
    const r = await client.bash('slot_0', `echo "[\${HPC_SANDBOX_TOKEN:-unset}]"; cat ${tokenFile}`);
    expect(r.output.split('\n')[0]).toBe('[unset]');
    // The checkout is outside the view (only the system trees and /etc are shown); a token file
    // under /etc would be masked with /dev/null.
    expect(r.output).toMatch(/No such file or directory|Permission denied/);
    expect(r.output).not.toContain(TOKEN);
  });

  it('isolates processes: a pid namespace of the slot\'s own, where the command sees only its sandbox', async () => {
    const r = await client.bash('slot_0', 'echo $$; ls /proc | grep -c "^[0-9]"');
    const [pid, count] = r.output.split('\n').map(Number);
    // A sandbox per command starts its pids anew; a standing one counts on across commands.
    if (execMode === 'spawn') expect(pid).toBeLessThan(10);
    expect(r.metadata).toMatchObject({ exec_mode: execMode });
    expect(count).toBeLessThan(10);
  });

  describe('network', () => {
    let listener: Server;
    let port: number;
    beforeAll(async () => {
      listener = createServer((socket) => socket.end('hello\n'));
      await new Promise<void>((resolve) => listener.listen(0, '127.0.0.1', resolve));
      port = (listener.address() as { port: number }).port;
    });
    afterAll(async () => {
      await new Promise((resolve) => listener.close(resolve));
    });

    it('never reaches the host loopback (a local service, the server itself), with or without allow_network', async () => {
      for (const allowNetwork of [true, false]) {
        const r = await client.bash('slot_2', `(exec 3<>/dev/tcp/127.0.0.1/${port} && head -1 <&3) 2>&1; (exec 3<>/dev/tcp/127.0.0.1/${server.port}) 2>&1 || echo server-unreachable`, { allowNetwork });
        expect(r.output).not.toContain('hello');
        expect(r.output).toContain('server-unreachable');
        expect(r.metadata).toMatchObject({ sandboxed: true, network_isolated: true });
      }
    });

    it('gives allow_network its own interface and default route behind pasta, and only loopback without it', async ({ skip }) => {
      const health = await client.health();
      skip(health.isolation.network?.open !== 'stack', `no user-mode network stack here: ${health.isolation.network?.reason}`);
      const open = await client.bash('slot_2', 'ip -o -4 route show default | wc -l; ls /sys/class/net 2>/dev/null || cat /proc/net/dev | tail -n +3 | cut -d: -f1');
      expect(open.metadata).toMatchObject({ network: 'stack' });
      expect(open.output.split('\n')[0]).toBe('1');
      const closed = await client.bash('slot_2', 'ip -o -4 route show default | wc -l; cat /proc/net/dev | tail -n +3 | cut -d: -f1 | tr -d " "', { allowNetwork: false });
      expect(closed.output.split('\n')).toEqual(['0', 'lo']);
      expect(closed.metadata).toMatchObject({ network: 'none' });
    });

    it('keeps a host abstract unix socket out of reach', async () => {
      const name = `hpcsb-abstract-${process.pid}`;
      const abstract = createServer((socket) => socket.end('abstract-reached\n'));
      await new Promise<void>((resolve) => abstract.listen(`\0${name}`, resolve));
      try {
        for (const allowNetwork of [true, false]) {
          const r = await client.bash('slot_2', `python3 -c 'import socket; s=socket.socket(socket.AF_UNIX); s.connect("\\0${name}"); print(s.recv(100))' 2>&1 | tail -1`, { allowNetwork });
          expect(r.output).not.toContain('abstract-reached');
        }
      } finally {
        await new Promise((resolve) => abstract.close(resolve));
      }
    });
  });

  it('kills the whole sandbox on timeout, including setsid grandchildren', async () => {
    const n = uniqueSleepSeconds();
    const r = await client.bash('slot_2', `echo begun; sleep ${n} & setsid sleep ${n + 1} & (sleep ${n + 2} &); sleep ${n + 3}`, { timeout: 1 });
    expect(r).toMatchObject({ success: false, error: 'Command timed out after 1s', metadata: { timeout: true, sandboxed: true } });
    expect(r.output.split('\n')[0]).toBe('begun');
    await eventually(() => [0, 1, 2, 3].every((d) => pidsWithMarker(`sleep ${n + d}`).length === 0), 3_000, 'every sleep to die');
  });

  it('refuses require_sandbox only when bwrap is unusable (here it runs)', async () => {
    expect(await client.bash('slot_0', 'true', { requireSandbox: true })).toMatchObject({ success: true, metadata: { sandboxed: true } });
  });

  it('on SIGTERM kills sandboxed commands and exits 0', async () => {
    await using other = await spawnServer(['--slots', '1', '--isolation', 'require', '--exec-mode', execMode]);
    await using c = new SandboxClient(other.url);
    expect((await c.health()).isolation.mode).toBe('require');
    const n = uniqueSleepSeconds();
    const running = c.bash('slot_0', `setsid sleep ${n} & sleep ${n + 1}`, { timeout: 120 });
    await eventually(() => pidsWithMarker(`sleep ${n + 1}`).length > 0, 5_000, 'the command to start');
    expect(await other.stop()).toBe(0);
    expect((await running).metadata).toMatchObject({ killed: true, sandboxed: true });
    await eventually(() => pidsWithMarker(`sleep ${n}`).length + pidsWithMarker(`sleep ${n + 1}`).length === 0, 3_000, 'the sleeps to die');
  });
});

describeWith(['bwrap'], 'commands as seen from the host', () => {
  it.skipIf(process.getuid?.() !== 0)('run as the slot unprivileged uid with no capability and seccomp on, never host root [skipped unless root]', async () => {
    await using server = await spawnServer(['--slots', '2', '--uid-base', '2200000']);
    await using client = new SandboxClient(server.url);
    await client.waitUntilHealthy({ timeoutMs: 10_000 });
    const n = uniqueSleepSeconds();
    const running = client.bash('slot_1', `sleep ${n}`, { timeout: 30 });
    const sleeperPid = () => pidsWithMarker(`sleep ${n}`).find((pid) => readFileSyncSafe(`/proc/${pid}/comm`) === 'sleep\n');
    await eventually(() => sleeperPid() !== undefined, 5_000, 'the command to start');
    const sleeper = sleeperPid();
    const status = readFileSyncSafe(`/proc/${sleeper}/status`);
    expect(status).toMatch(/^Uid:\s+2200001\s+2200001\s+2200001\s+2200001$/m);
    expect(status).toMatch(/^CapEff:\s+0+$/m);
    expect(status).toMatch(/^CapPrm:\s+0+$/m);
    expect(status).toMatch(/^Seccomp:\s+2$/m);
    expect(status).toMatch(/^NoNewPrivs:\s+1$/m);
    await client.reset('slot_1');
    await running;
  });
});

describeWith(['bwrap'], 'bubblewrap with the container /proc bound (the Docker configuration)', () => {
  it('keeps a command out of a sibling slot command and out of the server', async () => {
    const root = await mkdtemp(join(tmpdir(), 'hpcsb-procbind-'));
    const n = uniqueSleepSeconds();
    let sibling: ReturnType<typeof spawn> | undefined;
    try {
      const [slot0, slot1] = [join(root, 'data', 'slot_0'), join(root, 'data', 'slot_1')];
      await mkdir(slot0, { recursive: true });
      await mkdir(slot1, { recursive: true });
      await writeFile(join(slot1, 'secret.txt'), 'slot-1-secret');
      await chmod(root, 0o711);
      const users = process.getuid?.() === 0 ? [{ uid: 2_300_000, gid: 2_300_000 }, { uid: 2_300_001, gid: 2_300_001 }] : [undefined, undefined];
      [slot0, slot1].forEach((slot, i) => users[i] && chownTree(slot, users[i]!));
      const layout = buildSandboxLayout({ dataRoot: join(root, 'data') });
      const config = { bwrapPath: findOnPath('bwrap')!, procMode: 'bind' as const, disableUserns: true };
      const start = (slotDir: string, i: number, command: string, env: NodeJS.ProcessEnv) => {
        const target = { slotDir, network: 'none' as const, seccompFd: SECCOMP_FD, ...(users[i] ? { user: users[i]! } : {}) };
        const [bwrap, ...args] = bwrapArgv(config, layout, target, ['/bin/sh', '-c', command]);
        const child = spawn(bwrap!, args, { stdio: ['ignore', 'pipe', 'pipe', 'pipe'], env, ...(users[i] ?? {}) });
        writeSeccompFilter(child, layout.seccompFilter!);
        return child;
      };
      sibling = start(slot1, 1, `exec sleep ${n}`, { ...process.env, HPCSB_SIBLING_ENV: 'sibling-env-secret' });
      await eventually(() => pidsWithMarker(`sleep ${n}`).length >= 2, 5_000, 'the sibling sandbox to start');
      const targets = [process.pid, ...pidsWithMarker(`sleep ${n}`)];
      const probe = targets.map((pid) => `cat /proc/${pid}/root/workspace/secret.txt /proc/${pid}/root${slot1}/secret.txt /proc/${pid}/environ 2>&1`).join('; ');
      const prober = start(slot0, 0, probe, process.env);
      let stdout = '';
      prober.stdout!.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
      await new Promise((resolve) => prober.once('close', resolve));
      const run = { stdout };
      expect(run.stdout).toMatch(/Permission denied|No such file or directory/);
      expect(run.stdout).not.toContain('slot-1-secret');
      expect(run.stdout).not.toContain('sibling-env-secret');
      expect(run.stdout).not.toContain('HPC_SANDBOX');
    } finally {
      sibling?.kill('SIGKILL');
      await eventually(() => pidsWithMarker(`sleep ${n}`).length === 0, 3_000, 'the sibling sandbox to end');
      await rm(root, { recursive: true, force: true });
    }
  });
});

function readFileSyncSafe(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return '';
  }
}
