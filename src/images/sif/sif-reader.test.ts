import { mkdir, mkdtemp, open, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { execOrThrow } from '../../common/exec.js';
import { projectRoot } from '../../common/paths.js';
import { isSandboxError } from '../../errors.js';
import { findSifBuilder } from './find-sif-builder.js';
import { buildSifWithSiftool, SIF_LAUNCH_SCRIPT, sifArchitecture } from './sif-builder.js';
import { parseSiftoolList, siftoolTypeName, summariseSifObjects, type SifObjectSummary } from './sif-layout.js';
import { primaryPartition, readSif } from './sif-reader.js';

// tiny.sif was made by buildSifWithSiftool from a one-file rootfs; tiny.siftool.txt is what
// `siftool header` and `siftool list` printed for it. They let the reader be checked on machines
// without siftool; where siftool exists, the live tests below build and cross-check a fresh one.
const fixtures = join(projectRoot(), 'fixtures/images/sif');
const tiny = join(fixtures, 'tiny.sif');

/** The golden object list, with `{arch}` standing for this host's SIF architecture. */
async function goldenObjects(arch: string): Promise<SifObjectSummary[]> {
  return JSON.parse((await readFile(join(fixtures, 'objects.golden.json'), 'utf8')).replaceAll('{arch}', arch));
}

function siftoolField(text: string, name: string): string {
  const m = new RegExp(`^${name}:\\s+(.*)$`, 'm').exec(text);
  if (!m) throw new Error(`no ${name} in siftool output`);
  return m[1]!.trim();
}

describe('readSif', () => {
  it('reads the global header as siftool header shows it', async () => {
    const { header } = await readSif(tiny);
    const shown = await readFile(join(fixtures, 'tiny.siftool.txt'), 'utf8');
    expect(header).toMatchObject({
      launchScript: SIF_LAUNCH_SCRIPT,
      magic: 'SIF_MAGIC',
      version: siftoolField(shown, 'Version'),
      arch: siftoolField(shown, 'Primary Architecture'),
      id: siftoolField(shown, 'ID'),
      descriptorsFree: Number(siftoolField(shown, 'Descriptors Free')),
      descriptorsTotal: Number(siftoolField(shown, 'Descriptors Total')),
      descriptorsOffset: Number(siftoolField(shown, 'Descriptors Offset')),
      dataOffset: Number(siftoolField(shown, 'Data Offset')),
    });
    expect(new Date(header.createdAt * 1000).toISOString().replace('T', ' ').replace('.000Z', ' +0000 UTC')).toBe(siftoolField(shown, 'Created At'));
  });

  it('reads every descriptor as siftool list shows it: id, group, link, position, type', async () => {
    const image = await readSif(tiny);
    const rows = parseSiftoolList(await readFile(join(fixtures, 'tiny.siftool.txt'), 'utf8'));
    expect(rows).toHaveLength(2);
    expect(
      image.descriptors.map((d) => ({ id: d.id, group: d.group ?? null, link: d.link ? String(d.link.id) : null, start: d.offset, end: d.offset + d.size, type: siftoolTypeName(d) })),
    ).toEqual(rows);
    expect(primaryPartition(image, tiny)).toMatchObject({ id: 2, partition: { fs: 'Squashfs', type: 'PrimSys', arch: 'amd64' } });
  });

  it('pins the object list of a SIF built by siftool (golden): deffile then primary SquashFS partition, both in group 1', async () => {
    expect(summariseSifObjects(await readSif(tiny))).toEqual(await goldenObjects('amd64'));
  });

  describe('refuses what is not a usable SIF, saying where', () => {
    const dir = mkdtemp(join(tmpdir(), 'hpcsb-sif-bad-'));
    afterAll(async () => rm(await dir, { recursive: true, force: true }));

    it('a file without the magic', async () => {
      const path = join(await dir, 'not.sif');
      const bytes = await readFile(tiny);
      bytes.write('NOT_MAGIC', 32, 'latin1');
      await writeFile(path, bytes);
      const error = await readSif(path).catch((e: unknown) => e);
      expect(isSandboxError(error, 'HPCSB_IMAGE_INVALID')).toBe(true);
      expect((error as Error).message).toBe(`${path} is not a usable SIF image: no SIF_MAGIC at byte 32 (found "NOT_MAGIC\\u0000")`);
    });

    it('a truncated file whose partition runs past its end', async () => {
      const path = join(await dir, 'short.sif');
      await writeFile(path, (await readFile(tiny)).subarray(0, 33_000));
      await expect(readSif(path)).rejects.toThrowError(`${path} is not a usable SIF image: object 2 (Partition, 4096 bytes at 32768) runs past the end of the file (33000 bytes)`);
    });

    it('a file shorter than the header', async () => {
      const path = join(await dir, 'empty.sif');
      await writeFile(path, 'SIF');
      await expect(readSif(path)).rejects.toThrowError(`${path} is not a usable SIF image: 3 bytes, shorter than the 128-byte global header`);
    });
  });
});

describe('buildSifWithSiftool (live: siftool and mksquashfs)', async () => {
  const found = await findSifBuilder({ PATH: process.env.PATH ?? '' });
  const siftool = found.available && found.builder.kind === 'siftool' ? found.builder : undefined;
  const why = found.available ? `the SIF builder here is ${found.builder.kind}, not siftool` : found.reason;

  it.skipIf(!siftool)(`builds the golden object list, which siftool list agrees with, with a SquashFS at the partition offset${siftool ? '' : ` [skipped: ${why}]`}`, async ({ signal }) => {
    const dir = await mkdtemp(join(tmpdir(), 'hpcsb-sif-build-'));
    try {
      await mkdir(join(dir, 'root/etc'), { recursive: true });
      await writeFile(join(dir, 'root/etc/hello'), 'hello\n');
      const out = join(dir, 'image.sif');
      const steps: string[] = [];
      await buildSifWithSiftool({ siftool: siftool!.path, mksquashfs: siftool!.mksquashfs, rootfs: join(dir, 'root'), out, definition: 'Bootstrap: scratch\n', signal, onStep: (s) => steps.push(s) });
      const image = await readSif(out);
      expect(summariseSifObjects(image)).toEqual(await goldenObjects(sifArchitecture().name));
      const listed = parseSiftoolList((await execOrThrow(siftool!.path, ['list', out], { signal })).stdout);
      expect(image.descriptors.map((d) => ({ id: d.id, start: d.offset, end: d.offset + d.size, type: siftoolTypeName(d) }))).toEqual(
        listed.map(({ id, start, end, type }) => ({ id, start, end, type })),
      );
      // The partition holds a SquashFS superblock ("hsqs") at its offset; the deffile is the text given.
      const partition = primaryPartition(image, out);
      const handle = await open(out, 'r');
      try {
        const magic = Buffer.alloc(4);
        await handle.read(magic, 0, 4, partition.offset);
        expect(magic.toString('latin1')).toBe('hsqs');
      } finally {
        await handle.close();
      }
      expect((await execOrThrow(siftool!.path, ['dump', '1', out], { signal })).stdout).toBe('Bootstrap: scratch\n');
      expect(image.header.launchScript).toBe(SIF_LAUNCH_SCRIPT);
      // Only the SIF is left: the scratch partition and definition file are gone.
      expect((await readdir(dir)).sort()).toEqual(['image.sif', 'root']);
      expect(steps).toHaveLength(2);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it.skipIf(!siftool)(`leaves no scratch file behind when siftool fails${siftool ? '' : ` [skipped: ${why}]`}`, async ({ signal }) => {
    const dir = await mkdtemp(join(tmpdir(), 'hpcsb-sif-build-'));
    try {
      await mkdir(join(dir, 'root'));
      const out = join(dir, 'image.sif');
      const failing = buildSifWithSiftool({ siftool: '/bin/false', mksquashfs: siftool!.mksquashfs, rootfs: join(dir, 'root'), out, definition: 'Bootstrap: scratch\n', signal });
      await expect(failing).rejects.toThrowError(`Command failed with exit code 1: /bin/false new ${out}`);
      expect(await readdir(dir)).toEqual(['root']);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
