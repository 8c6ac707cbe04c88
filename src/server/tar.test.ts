import { execFileSync } from 'node:child_process';
import { mkdtemp, readFile, readlink, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { which } from '../common/which.js';
import { tarArchive } from './tar.js';

describe('tarArchive', () => {
  it('pads to 512-byte blocks and ends with two zero blocks', () => {
    const tar = tarArchive([{ name: 'a.txt', type: 'file', mode: 0o644, mtime: 1_700_000_000, data: Buffer.from('hello') }]);
    expect(tar.length).toBe(512 + 512 + 1024);
    expect(tar.subarray(0, 5).toString()).toBe('a.txt');
    expect(tar.subarray(257, 262).toString()).toBe('ustar');
    expect(tar.subarray(512, 517).toString()).toBe('hello');
    // The checksum is the byte sum with the checksum field read as spaces.
    const header = Buffer.from(tar.subarray(0, 512));
    const stored = parseInt(header.subarray(148, 154).toString(), 8);
    header.fill(' ', 148, 156);
    expect(stored).toBe(header.reduce((sum, b) => sum + b, 0));
  });

  it('is read back by GNU tar: files, directories, symlinks, long names (prefix and PAX)', async (ctx) => {
    if (!(await which('tar'))) ctx.skip('tar: not on PATH');
    const dir = await mkdtemp(join(tmpdir(), 'hpcsb-tar-'));
    try {
      const prefixed = `${'d'.repeat(120)}/file.txt`;
      const pax = `${'p'.repeat(150)}/${'q'.repeat(120)}.txt`;
      const tar = tarArchive([
        { name: 'sub', type: 'directory', mode: 0o755, mtime: 1 },
        { name: 'sub/x.txt', type: 'file', mode: 0o600, mtime: 1, data: Buffer.from('x'.repeat(1000)) },
        { name: 'sub/link', type: 'symlink', mode: 0o777, mtime: 1, linkname: 'x.txt' },
        { name: prefixed, type: 'file', mode: 0o644, mtime: 1, data: Buffer.from('prefixed') },
        { name: pax, type: 'file', mode: 0o644, mtime: 1, data: Buffer.from('pax') },
      ]);
      await writeFile(join(dir, 'a.tar.gz'), gzipSync(tar));
      execFileSync('tar', ['-xzf', 'a.tar.gz'], { cwd: dir });
      expect(await readFile(join(dir, 'sub/x.txt'), 'utf8')).toBe('x'.repeat(1000));
      expect(await readlink(join(dir, 'sub/link'))).toBe('x.txt');
      expect(await readFile(join(dir, prefixed), 'utf8')).toBe('prefixed');
      expect(await readFile(join(dir, pax), 'utf8')).toBe('pax');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
