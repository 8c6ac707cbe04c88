import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import type { CliIo } from '../cli-io.js';
import { imageCommand } from './image.js';

function memoryIo(env: NodeJS.ProcessEnv): CliIo & { out: () => string; err: () => string } {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let out = '';
  let err = '';
  stdout.on('data', (c: Buffer) => (out += c.toString()));
  stderr.on('data', (c: Buffer) => (err += c.toString()));
  return { stdout, stderr, env, exitCode: 0, out: () => out, err: () => err };
}

describe('hpc-sandbox image build', () => {
  it('exits 3 and says why when the format asked for cannot be built here', async () => {
    const empty = await mkdtemp(join(tmpdir(), 'hpcsb-empty-'));
    try {
      const io = memoryIo({ PATH: empty, HPC_SANDBOX_CACHE_DIR: empty });
      await imageCommand(io).parseAsync(['build', '--format', 'sif', '--json'], { from: 'user' });
      expect(JSON.parse(io.out())).toEqual({ images: [{ state: 'skipped', format: 'sif', reason: 'apptainer: not on PATH (nor singularity); siftool: not on PATH (apt-get install siftool)' }] });
      expect(io.exitCode).toBe(3);
    } finally {
      await rm(empty, { recursive: true, force: true });
    }
  });

  it('rejects an unknown format with the choices', async () => {
    const io = memoryIo({});
    const command = imageCommand(io).exitOverride();
    command.commands.forEach((c) => c.exitOverride().configureOutput({ writeErr: () => undefined }));
    await expect(command.parseAsync(['build', '--format', 'oci'], { from: 'user' })).rejects.toThrowError(
      /argument 'oci' is invalid\. Allowed choices are docker, squashfs, dir, sif, all/,
    );
  });
});
