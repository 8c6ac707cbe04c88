import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { describeWith } from '../../test/gate.js';
import { SandboxClient } from '../client/sandbox-client.js';
import { spawnServer, type SpawnedServer } from './testing/spawned-server.js';

/**
 * The escape probes of the isolation issue, run from inside a slot as an attacker would: every
 * sentinel outside the grants is unreachable, a granted path is reachable, and a command that
 * exhausts its slot's limits fails its own call while another slot carries on.
 */
for (const execMode of ['standing', 'spawn'] as const)
describeWith(['bwrap'], `escape probes against a sandbox server run as the README shows (exec mode ${execMode})`, () => {
  const isRoot = process.getuid?.() === 0;
  const tag = `hpcsb-probe-${process.pid}`;
  const sentinels = { root: `/root/${tag}`, opt: `/opt/${tag}`, var: `/var/tmp/${tag}`, runDir: `/run/${tag}` };
  let scratch: string;
  let grantRo: string;
  let grantRw: string;
  let server: SpawnedServer;
  let client: SandboxClient;
  let runSocket: Server | undefined;

  beforeAll(async () => {
    scratch = await mkdtemp(join(tmpdir(), 'hpcsb-probes-'));
    await chmod(scratch, 0o755);
    grantRo = join(scratch, 'dataset');
    grantRw = join(scratch, 'scratch');
    await mkdir(grantRo);
    await mkdir(grantRw);
    await chmod(grantRw, 0o777);
    await writeFile(join(grantRo, 'train.txt'), 'granted-dataset\n');
    for (const file of [sentinels.root, sentinels.opt, sentinels.var]) await writeFile(file, 'host-secret\n').catch(() => undefined);
    await mkdir(sentinels.runDir, { recursive: true });
    runSocket = createServer((socket) => socket.end('host-socket-reached\n'));
    await new Promise<void>((resolve) => runSocket!.listen(join(sentinels.runDir, 'api.sock'), resolve));
    server = await spawnServer(
      ['--slots', '2', '--expose', `${grantRo}:/datasets/ro`, '--expose', `${grantRw}:/scratch:rw`, '--pass-env', 'HPCSB_NAMED', '--max-procs', '96', '--max-file-size', '8M', '--tmp-size', '16M', '--exec-mode', execMode],
      { HPCSB_SERVER_SECRET: 'server-env-secret', HPCSB_NAMED: 'named-value', HPC_SANDBOX_TOKEN: 'the-token' },
    );
    client = new SandboxClient(server.url, { token: 'the-token' });
    await client.waitUntilHealthy({ timeoutMs: 10_000 });
  });

  afterAll(async () => {
    await client?.close();
    await server?.[Symbol.asyncDispose]();
    await new Promise((resolve) => (runSocket ? runSocket.close(resolve) : resolve(undefined)));
    for (const file of [sentinels.root, sentinels.opt, sentinels.var]) await rm(file, { force: true });
    await rm(sentinels.runDir, { recursive: true, force: true });
    await rm(scratch, { recursive: true, force: true });
  });

  const bash = (command: string, options: { allowNetwork?: boolean; slot?: string; timeout?: number } = {}) =>
    client.bash(options.slot ?? 'slot_0', command, { ...(options.allowNetwork === undefined ? {} : { allowNetwork: options.allowNetwork }), timeout: options.timeout ?? 30 });

  it('reads no host file outside the grants: /root, /opt, /var, /home, /srv, /mnt, /etc/shadow', async () => {
    const r = await bash(`for f in ${sentinels.root} ${sentinels.opt} ${sentinels.var} /etc/shadow; do cat "$f" 2>&1; done; ls -d /root /opt /var /home /srv /mnt /sys /run 2>&1`);
    expect(r.output).not.toContain('host-secret');
    expect(r.output).toMatch(/\/etc\/shadow: Permission denied/);
    for (const dir of ['/root', '/opt', '/var', '/home', '/srv', '/mnt', '/sys', '/run']) expect(r.output).toContain(`cannot access '${dir}': No such file or directory`);
  });

  it('reaches no host socket: a unix socket under /run, the Docker socket', async () => {
    const r = await bash(`ls ${sentinels.runDir}/api.sock /run/docker.sock /var/run/docker.sock 2>&1; python3 -c 'import socket; s=socket.socket(socket.AF_UNIX); s.connect("${sentinels.runDir}/api.sock"); print(s.recv(64))' 2>&1 | tail -1`);
    expect(r.output).not.toContain('host-socket-reached');
    expect(r.output).toMatch(/No such file or directory/);
  });

  it('sees a clean environment: no server secret, no token, only the named variable', async () => {
    const r = await bash('echo "[${HPCSB_SERVER_SECRET-unset}] [${HPC_SANDBOX_TOKEN-unset}] [${HPCSB_NAMED-unset}]"; cat /proc/1/environ 2>/dev/null | tr "\\0" "\\n" | grep -c SECRET');
    expect(r.output.split('\n')[0]).toBe('[unset] [unset] [named-value]');
    expect(r.output).not.toContain('server-env-secret');
    expect(r.output).not.toContain('the-token');
  });

  it('cannot remount a read-only grant, write a sysctl, mount, unshare or load a module; reads and writes what it was granted', async () => {
    const r = await bash(
      [
        'cat /datasets/ro/train.txt',
        'echo x > /datasets/ro/evil 2>&1 || echo ro-refused',
        'mount -o remount,rw /datasets/ro 2>&1 || echo remount-refused',
        'mount -t tmpfs none /workspace 2>&1 || echo mount-refused',
        'echo 1 > /proc/sys/kernel/sysrq 2>&1 || echo sysctl-refused',
        'unshare -U true 2>&1 || echo userns-refused',
        'unshare -r true 2>&1 || echo userns-root-refused',
        'echo rw > /scratch/from-slot && cat /scratch/from-slot',
        'grep -E "^(CapEff|CapPrm|CapBnd|NoNewPrivs|Seccomp):" /proc/self/status',
      ].join('; '),
    );
    expect(r.output).toContain('granted-dataset');
    for (const refused of ['ro-refused', 'remount-refused', 'mount-refused', 'sysctl-refused', 'userns-refused', 'userns-root-refused']) expect(r.output).toContain(refused);
    expect(r.output).toContain('rw');
    expect(r.output).toMatch(/CapEff:\s+0+\n/);
    expect(r.output).toMatch(/CapPrm:\s+0+\n/);
    expect(r.output).toMatch(/NoNewPrivs:\s+1/);
    expect(r.output).toMatch(/Seccomp:\s+2/);
    expect(existsSync(join(grantRo, 'evil'))).toBe(false);
  });

  it.skipIf(!isRoot)('leaves no setuid-root file a host user could run: what a slot writes belongs to its own unprivileged uid [skipped unless root]', async () => {
    const r = await bash('cp /usr/bin/id ./suid && chmod u+s ./suid && stat -c "%u %a" ./suid');
    const [uid, mode] = r.output.trim().split(' ');
    expect(Number(uid)).toBeGreaterThan(60_000);
    expect(mode).toBe('4755');
    // Run by an unprivileged host user, the copy must not give root (it cannot even be reached).
    const run = spawnSync('setpriv', ['--reuid', '65534', '--regid', '65534', '--clear-groups', join(server.dataDir, 'slot_0', 'suid'), '-u'], { encoding: 'utf8' });
    expect(run.stdout.trim()).not.toBe('0');
  });

  it('a terminal session (bash_stateful) holds the same promises: no host root or capability, no secret, no host file, no way back to the server', async (context) => {
    const health = await client.health();
    if (!health.tools.includes('bash_stateful')) return context.skip(`bash_stateful is not offered here (tmux missing): ${health.tools.join(', ')}`);
    const r = await client.bashStateful('slot_0', `id -u; grep -E '^(CapEff|NoNewPrivs)' /proc/self/status; echo "[\${HPCSB_SERVER_SECRET-unset}] [\${HPC_SANDBOX_TOKEN-unset}]"; cat ${sentinels.root} /etc/shadow 2>&1; (exec 3<>/dev/tcp/127.0.0.1/${server.port}) 2>&1 && echo SERVER-REACHED`, { timeout: 30 });
    const [uid] = r.output.trim().split('\n');
    if (isRoot) expect(Number(uid)).toBeGreaterThan(60_000);
    expect(r.output).toMatch(/CapEff:\s+0000000000000000/);
    expect(r.output).toMatch(/NoNewPrivs:\s+1/);
    expect(r.output).toContain('[unset] [unset]');
    expect(r.output).not.toContain('host-secret');
    expect(r.output).toMatch(/\/etc\/shadow: Permission denied/);
    expect(r.output).not.toContain('SERVER-REACHED');
  });

  it('cannot reach the server port or another slot, with or without network', async () => {
    for (const allowNetwork of [true, false]) {
      const r = await bash(`(exec 3<>/dev/tcp/127.0.0.1/${server.port}) 2>&1 && echo SERVER-REACHED; ls ${join(server.dataDir, 'slot_1')} 2>&1 | head -1`, { allowNetwork });
      expect(r.output).not.toContain('SERVER-REACHED');
      expect(r.output).toMatch(/No such file or directory/);
    }
  });

  it('a fork bomb, a disk filler and a memory hog fail their own call with metadata.limit while another slot answers', async () => {
    const bomb = bash('bomb() { bomb | bomb & }; bomb; sleep 2', { timeout: 10 });
    const other = await bash('echo alive', { slot: 'slot_1' });
    expect(other).toMatchObject({ success: true, output: 'alive' });
    const bombed = await bomb;
    // The bomb's forks fail at the slot's process cap (named in metadata) and die with the call.
    expect(bombed.metadata.limit === 'processes' || bombed.metadata.timeout === true).toBe(true);
    const filled = await bash('head -c 64M /dev/zero > big.bin');
    expect(filled).toMatchObject({ success: false, metadata: { limit: 'file_size' } });
    const tmp = await bash('head -c 6M /dev/zero > /tmp/a && head -c 6M /dev/zero > /tmp/b && head -c 6M /dev/zero > /tmp/c');
    expect(tmp).toMatchObject({ success: false, metadata: { limit: 'disk_space' } });
    const hog = await bash('python3 -c "x = bytearray(12 * 1024 ** 3)"');
    expect(hog).toMatchObject({ success: false, metadata: { limit: 'memory' } });
    const forks = await bash('for i in $(seq 200); do sleep 3 & done; wait', { timeout: 20 });
    expect(forks).toMatchObject({ metadata: { limit: 'processes' } });
    expect(await bash('echo still-works')).toMatchObject({ success: true, output: 'still-works' });
  });
});

describe('grants', () => {
  it('a grant whose source is missing stops the server at start, naming it', async () => {
    await expect(spawnServer(['--expose', '/nonexistent/hpcsb-dataset:/data/x'])).rejects.toThrowError(/--expose \/nonexistent\/hpcsb-dataset:\/data\/x`: the source \/nonexistent\/hpcsb-dataset does not exist/);
  });
});
