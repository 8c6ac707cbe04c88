import { chmod, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { probeSifBuilder } from './sif-builder-row.js';

describe('doctor: sif builder row', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'hpcsb-doctor-sif-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  async function bin(sub: string, name: string, script: string): Promise<string> {
    const folder = join(dir, sub);
    await mkdir(folder, { recursive: true });
    await writeFile(join(folder, name), `#!/bin/sh\n${script}\n`);
    await chmod(join(folder, name), 0o755);
    return folder;
  }

  it('prefers apptainer build where apptainer is on PATH', async () => {
    const apptainer = await bin('a', 'apptainer', 'exit 0');
    const siftool = await bin('a', 'siftool', 'exit 0');
    expect(await probeSifBuilder({ PATH: `${apptainer}:${siftool}` })).toEqual({
      area: 'image', name: 'sif builder', status: 'ok', summary: `apptainer build (${join(apptainer, 'apptainer')})`, details: { builder: join(apptainer, 'apptainer') },
    });
  });

  it('says siftool assembles the SIF when apptainer is absent, with what siftool reports', async () => {
    const tools = await bin('s', 'siftool', 'printf "Version:  unknown\\nRuntime:  go1.19.8 (linux/amd64)\\nSpec:     01\\n"');
    await bin('s', 'mksquashfs', 'exit 0');
    const row = await probeSifBuilder({ PATH: tools });
    expect(row).toEqual({
      area: 'image', name: 'sif builder', status: 'ok',
      summary: 'siftool + mksquashfs (apptainer: not on PATH (nor singularity), so siftool assembles the SIF)',
      details: { builder: join(tools, 'siftool'), mksquashfs: expect.stringMatching(/\/mksquashfs$/), 'siftool version': 'unknown', 'siftool runtime': 'go1.19.8 (linux/amd64)', 'siftool spec': '01' },
    });
  });

  it('says none, and why, when neither apptainer nor siftool is on PATH', async () => {
    const empty = await bin('e', 'unrelated', 'exit 0');
    expect(await probeSifBuilder({ PATH: empty })).toEqual({
      area: 'image', name: 'sif builder', status: 'missing',
      summary: 'none: apptainer: not on PATH (nor singularity); siftool: not on PATH (apt-get install siftool); image build --format sif is skipped',
    });
  });
});
