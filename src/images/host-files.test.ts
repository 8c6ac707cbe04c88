import { lstat, mkdir, mkdtemp, readFile, readlink, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { isSandboxError } from '../errors.js';
import { copyHostPath, parseLdd } from './host-files.js';

describe('parseLdd', () => {
  it('keeps libraries and the loader, drops the vDSO', () => {
    const output = [
      '\tlinux-vdso.so.1 (0x00007ffd5a1f2000)',
      '\tlibdl.so.2 => /lib/x86_64-linux-gnu/libdl.so.2 (0x00007f6da7055000)',
      '\tlibc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x00007f6da6b3e000)',
      '\t/lib64/ld-linux-x86-64.so.2 (0x00007f6da706d000)',
    ].join('\n');
    expect(parseLdd('/usr/bin/node', output)).toEqual([
      '/lib/x86_64-linux-gnu/libdl.so.2',
      '/lib/x86_64-linux-gnu/libc.so.6',
      '/lib64/ld-linux-x86-64.so.2',
    ]);
  });

  it('has nothing to copy for a static binary', () => {
    expect(parseLdd('/bin/busybox', '\tstatically linked\n')).toEqual([]);
  });

  it('fails naming the binary and the library ldd cannot find', () => {
    const parse = () => parseLdd('/usr/bin/tool', '\tlibmissing.so.1 => not found\n');
    expect(parse).toThrowError('Cannot build the sandbox image: /usr/bin/tool needs libmissing.so.1, which ldd does not find on this host');
    try {
      parse();
    } catch (error) {
      expect(isSandboxError(error, 'HPCSB_IMAGE_BUILD')).toBe(true);
    }
  });
});

describe('copyHostPath', () => {
  const dirs: string[] = [];
  afterEach(async () => {
    await Promise.all(dirs.splice(0).map((d) => rm(d, { recursive: true, force: true })));
  });

  it('recreates every symbolic link on the way and copies the file at its real path', async () => {
    const host = await mkdtemp(join(tmpdir(), 'hpcsb-host-'));
    const root = await mkdtemp(join(tmpdir(), 'hpcsb-root-'));
    dirs.push(host, root);
    // A merged-/usr host in miniature: bin -> usr/bin, usr/bin/sh -> dash.
    await mkdir(join(host, 'usr/bin'), { recursive: true });
    await writeFile(join(host, 'usr/bin/dash'), '#!dash\n', { mode: 0o755 });
    await symlink('usr/bin', join(host, 'bin'));
    await symlink('dash', join(host, 'usr/bin/sh'));

    const seen = new Set<string>();
    await copyHostPath(join(host, 'bin/sh'), root, seen);
    await copyHostPath(join(host, 'bin/sh'), root, seen);

    const inRoot = (p: string) => join(root, host, p);
    expect(await readlink(inRoot('bin'))).toBe('usr/bin');
    expect(await readlink(inRoot('usr/bin/sh'))).toBe('dash');
    expect(await readFile(inRoot('usr/bin/dash'), 'utf8')).toBe('#!dash\n');
    expect((await lstat(inRoot('usr/bin/dash'))).mode & 0o777).toBe(0o755);
    expect([...seen].sort()).toEqual([join(host, 'bin'), join(host, 'usr/bin/dash'), join(host, 'usr/bin/sh')]);
  });
});
