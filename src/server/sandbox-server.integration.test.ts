import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { describeWith } from '../../test/gate.js';
import { projectRoot } from '../common/paths.js';
import { SandboxClient } from '../client/sandbox-client.js';
import { READY_FILE } from '../protocol/constants.js';
import { bwrapArgv, findOnPath, findShell, hostRootEntries } from './isolation.js';
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

describeWith(['bwrap'], 'sandbox server under bubblewrap', () => {
  let server: SpawnedServer;
  let client: SandboxClient;
  let tokenFile: string;
  const TOKEN = 'integration-token';

  beforeAll(async () => {
    // Outside the data dir and outside /tmp, so the sandbox must mask it explicitly.
    tokenFile = join(projectRoot(), '.cache', `hpcsb-token-${process.pid}`);
    await mkdir(dirname(tokenFile), { recursive: true });
    await writeFile(tokenFile, TOKEN);
    server = await spawnServer(['--slots', '3', '--token-file', tokenFile], { HPC_SANDBOX_TOKEN: 'not-this-one' });
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
    // Masked with a nodev /dev/null, reading it fails instead of printing the token; when the file
    // lies under /tmp (a checkout in /tmp), the fresh /tmp of each command hides it altogether.
    expect(r.output).toMatch(tokenFile.startsWith('/tmp/') ? /No such file or directory/ : /Permission denied/);
    expect(r.output).not.toContain(TOKEN);
  });

  it('isolates processes: a pid namespace per command', async () => {
    const r = await client.bash('slot_0', 'echo $$; ls /proc | grep -c "^[0-9]"');
    const [pid, count] = r.output.split('\n').map(Number);
    expect(pid).toBeLessThan(10);
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

    it('reaches 127.0.0.1 by default and nothing with allow_network: false', async () => {
      const command = `exec 3<>/dev/tcp/127.0.0.1/${port} && head -1 <&3`;
      const open = await client.bash('slot_2', command);
      expect(open).toMatchObject({ success: true, output: 'hello', metadata: { network_isolated: false } });
      const closed = await client.bash('slot_2', command, { allowNetwork: false });
      expect(closed).toMatchObject({ success: false, metadata: { network_isolated: true, sandboxed: true } });
      expect(closed.output).toMatch(/Connection refused|Network is unreachable|Cannot assign/);
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
    await using other = await spawnServer(['--slots', '1', '--isolation', 'require']);
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

describeWith(['bwrap'], 'bubblewrap without a user namespace (the root fallback)', () => {
  it.skipIf(process.getuid?.() !== 0)('leaves the command no capability and no view of the server [skipped unless root]', async () => {
    const root = await mkdtemp(join(tmpdir(), 'hpcsb-nouserns-'));
    try {
      const slotDir = join(root, 'data', 'slot_0');
      await mkdir(slotDir, { recursive: true });
      const layout = { dataRoot: join(root, 'data'), hiddenFiles: [], shell: findShell(), rootEntries: hostRootEntries() };
      const config = { bwrapPath: findOnPath('bwrap')!, procMode: 'proc' as const, userNamespace: false };
      const command = `grep CapEff /proc/self/status; ls /proc/${process.pid}/root 2>&1 | head -1`;
      const [bwrap, ...args] = bwrapArgv(config, layout, slotDir, command, true);
      const run = spawnSync(bwrap!, args, { encoding: 'utf8' });
      expect(run.stderr).toBe('');
      const [caps, serverRoot] = run.stdout.trim().split('\n');
      expect(caps).toMatch(/^CapEff:\s+0+$/);
      expect(serverRoot).toMatch(/No such file or directory/);
    } finally {
      await rm(root, { recursive: true, force: true });
    }
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
      const layout = { dataRoot: join(root, 'data'), hiddenFiles: [], shell: findShell(), rootEntries: hostRootEntries() };
      const config = { bwrapPath: findOnPath('bwrap')!, procMode: 'bind' as const, userNamespace: true };
      const [bwrap, ...siblingArgs] = bwrapArgv(config, layout, slot1, `exec sleep ${n}`, true);
      sibling = spawn(bwrap!, siblingArgs, { stdio: 'ignore', env: { ...process.env, HPCSB_SIBLING_ENV: 'sibling-env-secret' } });
      await eventually(() => pidsWithMarker(`sleep ${n}`).length >= 2, 5_000, 'the sibling sandbox to start');
      const targets = [process.pid, ...pidsWithMarker(`sleep ${n}`)];
      const probe = targets.map((pid) => `cat /proc/${pid}/root/workspace/secret.txt /proc/${pid}/root${slot1}/secret.txt /proc/${pid}/environ 2>&1`).join('; ');
      const [, ...args] = bwrapArgv(config, layout, slot0, probe, true);
      const run = spawnSync(bwrap!, args, { encoding: 'utf8' });
      expect(run.stdout).toMatch(/Permission denied/);
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
