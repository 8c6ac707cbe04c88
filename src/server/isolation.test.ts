import { chmod, mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SandboxClient } from '../client/sandbox-client.js';
import { bwrapArgv, candidateConfigs, probeIsolation, type SandboxLayout } from './isolation.js';
import { startSandboxServer } from './sandbox-server.js';

// Fake bwrap binaries on PATH: the probe's strategy chain is tested without namespaces.
let dir: string;
const layout = (dataRoot: string): SandboxLayout => ({
  dataRoot,
  hiddenFiles: ['/etc/token'],
  shell: '/bin/sh',
  rootEntries: [
    { name: 'usr', kind: 'bind' },
    { name: 'bin', kind: 'symlink', target: 'usr/bin' },
    { name: 'data', kind: 'bind' },
    { name: 'srv', kind: 'bind' },
  ],
});

async function fakeBwrap(name: string, script: string): Promise<string> {
  const bin = join(dir, name);
  await mkdir(bin, { recursive: true });
  await writeFile(join(bin, 'bwrap'), `#!/bin/sh\n${script}\n`);
  await chmod(join(bin, 'bwrap'), 0o755);
  return bin;
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'hpcsb-iso-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('probeIsolation', () => {
  it('falls back to --bind /proc when a fresh procfs is refused (Docker)', async () => {
    const bin = await fakeBwrap('docker-like', `case " $* " in *" --proc /proc "*) echo "bwrap: Can't mount proc on /newroot/proc: Operation not permitted" >&2; exit 1;; esac; exit 0`);
    const probe = await probeIsolation('auto', layout('/data'), '/data/slot_0', { PATH: bin });
    expect(probe.report).toMatchObject({ active: true, proc_mode: 'bind', user_namespace: true, bwrap_path: join(bin, 'bwrap'), reason: null });
    expect(probe.config).toMatchObject({ procMode: 'bind', userNamespace: true });
  });

  it('reports every attempt with bwrap own words when nothing works', async () => {
    const bin = await fakeBwrap('no-userns', `echo "bwrap: No permissions to create new namespace, likely because the kernel does not allow non-privileged user namespaces." >&2; exit 1`);
    const probe = await probeIsolation('auto', layout('/data'), '/data/slot_0', { PATH: bin });
    expect(probe.config).toBeUndefined();
    expect(probe.report.active).toBe(false);
    expect(probe.report.reason).toMatch(/^bwrap cannot create the sandbox here \(userns\+--proc: bwrap: No permissions to create new namespace.*; userns\+--bind \/proc: bwrap: No permissions/);
  });

  it('says why when bwrap is missing or isolation is off', async () => {
    expect((await probeIsolation('auto', layout('/data'), '/data/slot_0', { PATH: join(dir, 'empty') })).report).toMatchObject({ active: false, reason: 'bwrap not found on PATH' });
    expect((await probeIsolation('off', layout('/data'), '/data/slot_0', { PATH: '/usr/bin' })).report).toMatchObject({ active: false, mode: 'off', reason: 'isolation disabled (--isolation off)' });
  });
});

describe('bwrapArgv', () => {
  const config = { bwrapPath: '/usr/bin/bwrap', procMode: 'proc' as const, userNamespace: true };

  it('leaves a top-level data root out, masks the token file, binds only the slot at /workspace', () => {
    const argv = bwrapArgv(config, layout('/data'), '/data/slot_0', 'echo hi', true);
    expect(argv.join(' ')).toBe(
      '/usr/bin/bwrap --die-with-parent --new-session --unshare-user --unshare-pid --unshare-ipc --unshare-uts --tmpfs / ' +
        '--ro-bind /usr /usr --symlink usr/bin /bin --ro-bind /srv /srv --dev /dev --proc /proc --tmpfs /tmp ' +
        '--ro-bind /dev/null /etc/token --bind /data/slot_0 /workspace --remount-ro / --chdir /workspace ' +
        '--setenv PWD /workspace --setenv HOME /workspace -- /bin/sh -c echo hi',
    );
  });

  it('drops every capability when there is no user namespace (root)', () => {
    const argv = bwrapArgv({ ...config, userNamespace: false }, layout('/data'), '/data/slot_0', 'true', true);
    expect(argv.slice(0, 5)).toEqual(['/usr/bin/bwrap', '--die-with-parent', '--new-session', '--cap-drop', 'ALL']);
    expect(argv).not.toContain('--unshare-user');
  });

  it('binds the container /proc only inside a user namespace', () => {
    const tried = candidateConfigs('/usr/bin/bwrap', true).map((c) => `${c.userNamespace ? 'userns' : 'no-userns'}+${c.procMode}`);
    expect(tried).toEqual(['userns+proc', 'userns+bind', 'no-userns+proc']);
    expect(candidateConfigs('/usr/bin/bwrap', false).every((c) => c.userNamespace)).toBe(true);
  });

  it('covers a nested data root with a tmpfs and unshares the network on request', () => {
    const argv = bwrapArgv({ ...config, procMode: 'bind' }, layout('/srv/alloc/data'), '/srv/alloc/data/slot_1', 'true', false);
    const text = argv.join(' ');
    expect(text).toContain('--unshare-net');
    expect(text).toContain('--bind /proc /proc');
    expect(text).toContain('--ro-bind /data /data');
    expect(text).toMatch(/--tmpfs \/srv\/alloc\/data .*--bind \/srv\/alloc\/data\/slot_1 \/workspace/);
  });
});

describe('a server whose bwrap cannot create namespaces', () => {
  const denied = `echo "bwrap: No permissions to create new namespace, likely because the kernel does not allow non-privileged user namespaces." >&2; exit 1`;

  it('auto: runs commands without bwrap and says so, with bwrap own words', async () => {
    const bin = await fakeBwrap('denied-auto', denied);
    const server = await startSandboxServer({ port: 0, host: '127.0.0.1', slots: 1, dataDir: join(dir, 'auto-data'), isolation: 'auto', env: { ...process.env, PATH: `${bin}:${process.env.PATH}` } });
    await using client = new SandboxClient(server.url);
    try {
      const health = await client.health();
      expect(health).toMatchObject({ bwrap_available: false, isolation: { mode: 'auto', active: false, bwrap_path: join(bin, 'bwrap') } });
      expect(health.isolation?.reason).toContain('No permissions to create new namespace');
      const r = await client.bash('slot_0', 'echo ran');
      expect(r).toMatchObject({ success: true, output: 'ran', metadata: { sandboxed: false, sandbox_fallback: true } });
      expect(r.metadata.fallback_reason).toContain('No permissions to create new namespace');
      // The probe's stderr went through an unlinked file in the data root: nothing is left of it.
      expect((await readdir(join(dir, 'auto-data'))).sort()).toEqual(['.hpc-sandbox-ready.json', 'slot_0']);
    } finally {
      await server.close();
    }
  });

  it('require: refuses to run commands', async () => {
    const bin = await fakeBwrap('denied-require', denied);
    const server = await startSandboxServer({ port: 0, host: '127.0.0.1', slots: 1, dataDir: join(dir, 'require-data'), isolation: 'require', env: { ...process.env, PATH: `${bin}:${process.env.PATH}` } });
    await using client = new SandboxClient(server.url);
    try {
      const r = await client.bash('slot_0', 'echo must-not-run > ran.txt');
      expect(r).toMatchObject({ success: false, metadata: { requires_bwrap: true, sandboxed: false } });
      expect(r.error).toMatch(/^Sandboxing required but bubblewrap is unavailable in this environment: the server runs with --isolation require; bwrap cannot create the sandbox here/);
      expect((await client.listArtifacts('slot_0')).entries).toEqual([]);
    } finally {
      await server.close();
    }
  });
});
