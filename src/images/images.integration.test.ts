import { randomUUID } from 'node:crypto';
import { mkdir, mkdtemp, readdir, readlink, rm, stat, symlink, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { describeWith } from '../../test/gate.js';
import { exec, execOrThrow } from '../common/exec.js';
import { IMAGE_SERVER_PATH } from '../drivers/server-command.js';
import { DEFAULT_DOCKER_IMAGE, ensureImage, type ImageProgress } from './index.js';

const chRunEnv = { PATH: process.env.PATH ?? '/usr/bin:/bin', USER: process.env.USER || 'root' };

describe('image cache', () => {
  it('two concurrent builds of one image build it once, leaving no partial files or lock', async ({ signal }) => {
    const cacheDir = await mkdtemp(join(tmpdir(), 'hpcsb-cache-'));
    try {
      const progress: ImageProgress[] = [];
      const [a, b] = await Promise.all([
        ensureImage('dir', { cacheDir, signal, onProgress: (p) => progress.push(p) }),
        ensureImage('dir', { cacheDir, signal, onProgress: (p) => progress.push(p) }),
      ]);
      expect(a.ref).toBe(b.ref);
      expect([a.cached, b.cached].sort()).toEqual([false, true]);
      expect(await readdir(join(cacheDir, 'images', a.hash))).toEqual(['rootfs']);
      expect((await readdir(join(cacheDir, 'images'))).sort()).toEqual([a.hash, 'hpc-sandbox.dir']);
      expect(await readlink(a.defaultRef)).toBe(`${a.hash}/rootfs`);
      expect((await stat(join(a.ref, 'tmp'))).mode & 0o7777).toBe(0o1777);
      expect(progress.filter((p) => p.step === 'rootfs')).toHaveLength(1);
      expect((await ensureImage('dir', { cacheDir, signal })).cached).toBe(true);
    } finally {
      await rm(cacheDir, { recursive: true, force: true });
    }
  });

  it('after a build, keeps the 3 most recently used builds and what a default link points at', async ({ signal }) => {
    const cacheDir = await mkdtemp(join(tmpdir(), 'hpcsb-cache-'));
    try {
      const images = join(cacheDir, 'images');
      const old = ['0000000000000001', '0000000000000002', '0000000000000003', '0000000000000004'];
      for (const [i, hash] of old.entries()) {
        await mkdir(join(images, hash, 'rootfs'), { recursive: true });
        const hoursAgo = new Date(Date.now() - (old.length - i) * 3_600_000);
        await utimes(join(images, hash), hoursAgo, hoursAgo);
      }
      await symlink('0000000000000001/sandbox.sqfs', join(images, 'hpc-sandbox.sqfs'));
      const built = await ensureImage('dir', { cacheDir, signal });
      const left = (await readdir(images)).filter((name) => /^[0-9a-f]{16}$/.test(name)).sort();
      expect(left).toEqual([...new Set(['0000000000000001', '0000000000000003', '0000000000000004', built.hash])].sort());
    } finally {
      await rm(cacheDir, { recursive: true, force: true });
    }
  });
});

describeWith(['docker'], 'docker image (offline, docker import)', () => {
  it('builds or reuses hpc-sandbox/sandbox:<hash>, tags :local, and a second call is a cache hit', async ({ signal }) => {
    const first = await ensureImage('docker', { signal });
    expect(first.ref).toBe(`hpc-sandbox/sandbox:${first.hash}`);
    expect(first.defaultRef).toBe(DEFAULT_DOCKER_IMAGE);
    const second = await ensureImage('docker', { signal });
    expect(second).toEqual({ ...first, cached: true });
    const ids = await Promise.all([first.ref, DEFAULT_DOCKER_IMAGE].map(async (ref) => (await execOrThrow('docker', ['image', 'inspect', '--format', '{{.Id}}', ref])).stdout.trim()));
    expect(ids[0]).toBe(ids[1]);
  });

  it('runs node, sh, bash and the basic tools from the image, with the bundle in place', async ({ signal }) => {
    const { ref } = await ensureImage('docker', { signal });
    const label = `io.hpc-sandbox.test-run=${randomUUID()}`;
    try {
      const r = await execOrThrow(
        'docker',
        ['run', '--rm', '--label', label, '--network', 'none', ref, 'bash', '-c', `node -e 'console.log(process.version)' && test -r ${IMAGE_SERVER_PATH} && ls -d /data /tmp /workspace && sh -c 'echo sh-ok' && cat /etc/passwd | head -1`],
        { signal, timeoutMs: 60_000 },
      );
      expect(r.stdout.split('\n')).toEqual([process.version, '/data', '/tmp', '/workspace', 'sh-ok', 'root:x:0:0:root:/root:/bin/sh', '']);
    } finally {
      expect((await exec('docker', ['ps', '-aq', '--filter', `label=${label}`])).stdout.trim()).toBe('');
    }
  });
});

describeWith(['charliecloud', 'squashfs'], 'SquashFS image for Charliecloud', () => {
  it('builds or reuses <hash>/sandbox.sqfs, links the default to it, and a second call is a cache hit', async ({ signal }) => {
    const first = await ensureImage('squashfs', { signal });
    expect(first.ref).toMatch(new RegExp(`/images/${first.hash}/sandbox\\.sqfs$`));
    expect(await readlink(first.defaultRef)).toBe(`${first.hash}/sandbox.sqfs`);
    expect(await ensureImage('squashfs', { signal })).toEqual({ ...first, cached: true });
  });

  it('ch-run runs node and bash from it', async ({ signal }) => {
    const { ref } = await ensureImage('squashfs', { signal });
    const r = await execOrThrow('ch-run', ['--unset-env=*', '--set-env=PATH=/usr/bin:/bin', ref, '--', 'bash', '-c', 'node --version && echo bash-ok'], {
      env: chRunEnv,
      cleanEnv: true,
      signal,
    });
    expect(r.stdout).toBe(`${process.version}\nbash-ok\n`);
  });
  it('a build removes the partial files a killed build of the same file left in the entry', async ({ signal }) => {
    const cacheDir = await mkdtemp(join(tmpdir(), 'hpcsb-cache-'));
    try {
      const { hash } = await ensureImage('dir', { cacheDir, signal });
      const entry = join(cacheDir, 'images', hash);
      await writeFile(join(entry, '.sandbox.sqfs-deadbeef'), 'partial');
      await writeFile(join(entry, '.sandbox.sqfs-deadbeef.partition.sqfs'), 'partial');
      await ensureImage('squashfs', { cacheDir, signal });
      expect((await readdir(entry)).sort()).toEqual(['rootfs', 'sandbox.sqfs']);
    } finally {
      await rm(cacheDir, { recursive: true, force: true });
    }
  });

  it('ch-run starts tmux from it: the image has tmux, its terminal descriptions and the C.UTF-8 locale', async ({ signal }) => {
    const { ref } = await ensureImage('squashfs', { signal });
    const script = 'tmux -S /tmp/t new-session -d -x 80 -y 24 "echo tmux-ok; sleep 5" && sleep 0.5 && tmux -S /tmp/t capture-pane -p | head -1; tmux -S /tmp/t kill-server';
    const r = await execOrThrow('ch-run', ['--unset-env=*', '--set-env=PATH=/usr/bin:/bin', '--set-env=TERM=xterm-256color', '--set-env=LANG=C.UTF-8', '-t', ref, '--', 'sh', '-c', script], {
      env: chRunEnv,
      cleanEnv: true,
      signal,
      timeoutMs: 30_000,
    });
    expect(r.stdout).toBe('tmux-ok\n');
  });
});

describeWith(['charliecloud'], 'directory image for Charliecloud', () => {
  it('ch-run runs node from the default directory image (a link into the cache)', async ({ signal }) => {
    const { defaultRef } = await ensureImage('dir', { signal });
    const r = await execOrThrow('ch-run', [defaultRef, '--', '/usr/bin/node', '--version'], { env: chRunEnv, cleanEnv: true, signal });
    expect(r.stdout.trim()).toBe(process.version);
  });
});

// Apptainer cannot be installed on the project's machines: this runs wherever it is on PATH. The
// SIF checks that need no Apptainer are in sif/sif-image.integration.test.ts.
describeWith(['apptainer'], 'SIF image for Apptainer', () => {
  it('apptainer exec runs node from the built SIF, and apptainer test passes', async ({ signal }) => {
    const { ref } = await ensureImage('sif', { signal });
    const apptainer = (await exec('apptainer', ['--version'])).exitCode === 0 ? 'apptainer' : 'singularity';
    const r = await execOrThrow(apptainer, ['exec', '--containall', '--cleanenv', ref, 'node', '--version'], { signal, timeoutMs: 120_000 });
    expect(r.stdout.trim()).toBe(process.version);
    await execOrThrow(apptainer, ['test', ref], { signal, timeoutMs: 120_000 });
  });
});
