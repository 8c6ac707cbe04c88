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
  hiddenFiles: ['/etc/token', '/srv/token'],
  shell: '/bin/sh',
  rootEntries: [
    { name: 'usr', kind: 'bind' },
    { name: 'bin', kind: 'symlink', target: 'usr/bin' },
  ],
  etcMasks: [
    { path: '/etc/shadow', kind: 'file' },
    { path: '/etc/ssl/private', kind: 'dir' },
  ],
  grants: [{ source: '/srv/datasets', dest: '/datasets', mode: 'ro' }],
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
  // As root, slots run as unprivileged uids that must be able to walk to their directories.
  await chmod(dir, 0o711);
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('probeIsolation', () => {
  it('falls back to --bind /proc when a fresh procfs is refused (Docker)', async () => {
    const bin = await fakeBwrap('docker-like', `case " $* " in *" --proc /proc "*) echo "bwrap: Can't mount proc on /newroot/proc: Operation not permitted" >&2; exit 1;; esac; exit 0`);
    const probe = await probeIsolation('auto', layout('/data'), '/data/slot_0', { PATH: bin });
    expect(probe.report).toMatchObject({ active: true, proc_mode: 'bind', user_namespace: true, bwrap_path: join(bin, 'bwrap'), reason: null });
    expect(probe.config).toMatchObject({ procMode: 'bind' });
  });

  it('reports every attempt with bwrap own words when nothing works', async () => {
    const bin = await fakeBwrap('no-userns', `echo "bwrap: No permissions to create new namespace, likely because the kernel does not allow non-privileged user namespaces." >&2; exit 1`);
    const probe = await probeIsolation('auto', layout('/data'), '/data/slot_0', { PATH: bin });
    expect(probe.config).toBeUndefined();
    expect(probe.report.active).toBe(false);
    expect(probe.report.reason).toMatch(/^bwrap cannot create the sandbox here \(userns\+--proc: bwrap: No permissions to create new namespace.*; userns\+--bind \/proc: bwrap: No permissions/);
    expect(probe.openNetwork).toBe('host');
  });

  it('says why when bwrap is missing or isolation is off', async () => {
    expect((await probeIsolation('auto', layout('/data'), '/data/slot_0', { PATH: join(dir, 'empty') })).report).toMatchObject({ active: false, reason: 'bwrap not found on PATH' });
    expect((await probeIsolation('off', layout('/data'), '/data/slot_0', { PATH: '/usr/bin' })).report).toMatchObject({ active: false, mode: 'off', reason: 'isolation disabled (--isolation off)' });
  });
});

describe('bwrapArgv', () => {
  const config = { bwrapPath: '/usr/bin/bwrap', procMode: 'proc' as const, disableUserns: true };
  const user = { uid: 2_000_003, gid: 2_000_003 };

  it('shows only the system trees, /etc with its masks and the grants; binds the slot at /workspace; runs as the slot uid', () => {
    const argv = bwrapArgv(config, { ...layout('/data'), seccompFilter: Buffer.alloc(8) }, { slotDir: '/data/slot_3', user, network: 'none', seccompFd: 3 }, ['/bin/sh', '-c', 'echo hi']);
    expect(argv.join(' ')).toBe(
      '/usr/bin/bwrap --die-with-parent --new-session --unshare-user --cap-drop ALL --disable-userns --uid 2000003 --gid 2000003 ' +
        '--unshare-pid --unshare-ipc --unshare-uts --hostname sandbox --unshare-net --seccomp 3 --tmpfs / ' +
        '--ro-bind /usr /usr --symlink usr/bin /bin --ro-bind /etc /etc --ro-bind /dev/null /etc/shadow ' +
        '--perms 0000 --tmpfs /etc/ssl/private --remount-ro /etc/ssl/private --dev /dev --proc /proc --ro-bind /proc/sys /proc/sys --tmpfs /tmp ' +
        '--ro-bind /dev/null /etc/token --ro-bind /srv/datasets /datasets --bind /data/slot_3 /workspace --remount-ro / --chdir /workspace ' +
        '--setenv PWD /workspace --setenv HOME /workspace -- /bin/sh -c echo hi',
    );
  });

  it('masks a hidden file only where the view could show it', () => {
    const text = bwrapArgv(config, layout('/data'), { slotDir: '/data/slot_0', network: 'none' }, ['true']).join(' ');
    expect(text).toContain('--ro-bind /dev/null /etc/token');
    expect(text).not.toContain('/srv/token');
    expect(text).not.toContain('--seccomp');
  });

  it('puts pasta in front for the network stack, and shares the host network only when degraded', () => {
    const stacked = bwrapArgv(config, { ...layout('/data'), networkStack: { kind: 'pasta', path: '/usr/bin/pasta' } }, { slotDir: '/data/slot_0', network: 'stack' }, ['true']);
    expect(stacked.slice(0, 15)).toEqual(['/usr/bin/pasta', '--config-net', '--quiet', '-l', '/dev/null', '--no-map-gw', '-t', 'none', '-u', 'none', '-T', 'none', '-U', 'none', '--']);
    expect(stacked[15]).toBe('/usr/bin/bwrap');
    expect(stacked).not.toContain('--unshare-net');
    const shared = bwrapArgv(config, layout('/data'), { slotDir: '/data/slot_0', network: 'host' }, ['true']);
    expect(shared[0]).toBe('/usr/bin/bwrap');
    expect(shared).not.toContain('--unshare-net');
  });

  it('starts pasta with a parent-death signal where setpriv is found, so a killed server leaves no network stack behind', () => {
    const stack = { kind: 'pasta' as const, path: '/usr/bin/pasta', setprivPath: '/usr/bin/setpriv' };
    const stacked = bwrapArgv(config, { ...layout('/data'), networkStack: stack }, { slotDir: '/data/slot_0', network: 'stack' }, ['true']);
    expect(stacked.slice(0, 5)).toEqual(['/usr/bin/setpriv', '--pdeathsig', 'KILL', '--', '/usr/bin/pasta']);
    expect(stacked[19]).toBe('/usr/bin/bwrap');
  });

  it('always creates a user namespace; binds the container /proc as the second choice; leaves nested userns to seccomp alone only with a filter', () => {
    const label = (c: { procMode: string; disableUserns: boolean }) => `${c.procMode}${c.disableUserns ? '+disable-userns' : ''}`;
    expect(candidateConfigs('/usr/bin/bwrap').map(label)).toEqual(['proc+disable-userns', 'bind+disable-userns', 'proc', 'bind']);
    expect(candidateConfigs('/usr/bin/bwrap', false).map(label)).toEqual(['proc+disable-userns', 'bind+disable-userns']);
    expect(bwrapArgv({ ...config, disableUserns: false }, layout('/data'), { slotDir: '/data/slot_0', network: 'none' }, ['true'])).not.toContain('--disable-userns');
    const text = bwrapArgv({ ...config, procMode: 'bind' }, layout('/srv/alloc/data'), { slotDir: '/srv/alloc/data/slot_1', network: 'none' }, ['true']).join(' ');
    expect(text).toContain('--bind /proc /proc --ro-bind /proc/sys /proc/sys');
    expect(text).toContain('--unshare-user --cap-drop ALL --disable-userns');
    expect(text).not.toContain('/srv/alloc/data /srv');
  });
});

describe('a server whose bwrap cannot create namespaces', () => {
  const denied = `echo "bwrap: No permissions to create new namespace, likely because the kernel does not allow non-privileged user namespaces." >&2; exit 1`;

  it('auto: runs commands without bwrap and says so, with bwrap own words', async () => {
    const bin = await fakeBwrap('denied-auto', denied);
    const server = await startSandboxServer({ port: 0, host: '127.0.0.1', slots: 1, dataDir: join(dir, 'auto-data'), isolation: 'auto', uidBase: 2_100_000, env: { ...process.env, PATH: `${bin}:${process.env.PATH}` } });
    await using client = new SandboxClient(server.url);
    try {
      const health = await client.health();
      expect(health).toMatchObject({ bwrap_available: false, isolation: { mode: 'auto', active: false, bwrap_path: join(bin, 'bwrap') } });
      expect(health.isolation?.reason).toContain('No permissions to create new namespace');
      const r = await client.bash('slot_0', 'echo ran');
      expect(r).toMatchObject({ success: true, output: 'ran', metadata: { sandboxed: false, sandbox_fallback: true } });
      expect(r.metadata.fallback_reason).toContain('No permissions to create new namespace');
      // The probe's stderr went through an unlinked file in the data root: nothing is left of it
      // (.stateful is the terminal sessions' socket dir, /health stateful_dir, where tmux exists).
      expect((await readdir(join(dir, 'auto-data'))).filter((name) => name !== '.stateful').sort()).toEqual(['.hpc-sandbox-ready.json', 'slot_0']);
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
